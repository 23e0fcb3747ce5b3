"""Operations for administrators: the notification outbox and the webhooks.

A blueprint of its own beside ``admin``: its pages watch the machinery
(deliveries, failures, endpoints) rather than configure the campus.
"""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.forms import options
from tracker.forms.ops import WebhookForm
from tracker.services.notify import outbox, webhooks
from tracker.services.requests import catalog
from tracker.web.once import repeat_of

bp = Blueprint("admin_ops", __name__, url_prefix="/admin/ops")

FAILED_SHOWN = 100


@bp.route("/")
@require_role(Role.ADMIN)
def index():
    return render_template(
        "admin_ops/index.html",
        overview=outbox.overview(utcnow(), failed_limit=FAILED_SHOWN),
        grace_minutes=int(outbox.STUCK_GRACE.total_seconds() // 60),
        failed_shown=FAILED_SHOWN,
    )


@bp.route("/notifications/<int:notification_id>/retry", methods=["POST"])
@require_role(Role.ADMIN)
def retry(notification_id):
    if outbox.retry_now(notification_id, now=utcnow()):
        flash(_("Notice %(id)d is queued again.", id=notification_id), "success")
    else:
        flash(_("Notice %(id)d has not failed: nothing to retry.", id=notification_id), "info")
    return redirect(url_for("admin_ops.index"))


# ---------------------------------------------------------------- webhooks


def _form(hook=None) -> WebhookForm:
    form = WebhookForm(obj=hook)
    locale = str(get_locale())
    form.centre_id.choices = options(
        [(None, _("Every centre"))]
        + [(c.id, c.name_for(locale)) for c in catalog.active_centres()]
        + (
            [(hook.centre.id, hook.centre.name_for(locale))]
            if hook and hook.centre and not hook.centre.is_active
            else []
        )
    )
    return form


def _invalid() -> None:
    flash(_("Please correct the marked fields; nothing was saved."), "error")


@bp.route("/webhooks")
@require_role(Role.ADMIN)
def webhooks_list():
    return render_template("admin_ops/webhooks.html", webhooks=webhooks.all_webhooks())


@bp.route("/webhooks/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def webhook_new():
    form = _form()
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "webhook", landing=lambda row_id: url_for(
                "admin_ops.webhook_edit", webhook_id=row_id))) is not None:
            return earlier
        try:
            hook = webhooks.create_webhook(
                name=form.name.data,
                url=form.url.data,
                format=form.format.data,
                secret=form.secret.data or "",
                centre_id=form.centre_id.data,
                kinds=form.kinds.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Webhook “%(name)s” created.", name=hook.name), "success")
            return redirect(url_for("admin_ops.webhooks_list"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin_ops/webhook_form.html", form=form, hook=None)


@bp.route("/webhooks/<int:webhook_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def webhook_edit(webhook_id):
    hook = webhooks.get_webhook(webhook_id)
    form = _form(hook)
    if form.validate_on_submit():
        try:
            webhooks.update_webhook(
                hook.id,
                name=form.name.data,
                url=form.url.data,
                format=form.format.data,
                # Empty keeps the stored secret: it is never shown again.
                secret="" if form.clear_secret.data else (form.secret.data or None),
                centre_id=form.centre_id.data,
                kinds=form.kinds.data,
                is_active=form.is_active.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Webhook “%(name)s” saved.", name=hook.name), "success")
            return redirect(url_for("admin_ops.webhooks_list"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin_ops/webhook_form.html", form=form, hook=hook)


@bp.route("/webhooks/<int:webhook_id>/deactivate", methods=["POST"])
@require_role(Role.ADMIN)
def webhook_deactivate(webhook_id):
    hook = webhooks.deactivate_webhook(webhook_id, actor=current_user, now=utcnow())
    flash(_("Webhook “%(name)s” switched off.", name=hook.name), "success")
    return redirect(url_for("admin_ops.webhooks_list"))


@bp.route("/webhooks/<int:webhook_id>/test", methods=["POST"])
@require_role(Role.ADMIN)
def webhook_test(webhook_id):
    try:
        notice = outbox.queue_test(webhook_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        if error.http_status == 404:
            raise
        flash(error.translated(), "error")
    else:
        flash(
            _(
                "A test message is queued (notice %(id)d); its delivery shows on the outbox page.",
                id=notice.id,
            ),
            "success",
        )
    return redirect(url_for("admin_ops.webhooks_list"))
