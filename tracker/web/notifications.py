"""A user's in-app notices and their choice of what to receive where."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.clock import utcnow
from tracker.forms.notifications import PreferencesForm
from tracker.services.notify import channels, outbox
from tracker.web.helpers import safe_next

bp = Blueprint("notifications", __name__)

INBOX_SIZE = 100


@bp.route("/notifications")
@require_role()
def index():
    notices = outbox.inbox(current_user, limit=INBOX_SIZE)
    locale = str(get_locale())
    # Rendered in the viewer's language now, not the one stored when queued.
    messages = {n.id: channels.render(n, locale=locale) for n in notices}
    return render_template(
        "notifications/index.html",
        notices=notices,
        messages=messages,
        unread=sum(1 for n in notices if n.read_at is None),
        limit=INBOX_SIZE,
    )


@bp.route("/notifications/read", methods=["POST"])
@require_role()
def read_all():
    count = outbox.mark_read(current_user, now=utcnow())
    if count:
        flash(_("All notices are marked read."), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/<int:notification_id>/open", endpoint="open")
@require_role()
def open_notice(notification_id):
    # A GET that marks read: it only ever touches the viewer's own notice
    # (another user's id is 404) and goes to a path on this site.
    notice = outbox.open_notice(current_user, notification_id, now=utcnow())
    return redirect(safe_next(notice.link) or url_for("notifications.index"))


@bp.route("/account/notifications", methods=["GET", "POST"])
@require_role()
def preferences():
    form = PreferencesForm()
    if form.validate_on_submit():
        outbox.set_preferences(current_user, form.chosen())
        flash(_("Your notification choices are saved."), "success")
        return redirect(url_for("notifications.preferences"))
    if not form.is_submitted():
        form.load(outbox.choices_for(current_user))
    return render_template("notifications/preferences.html", form=form, channels=outbox.USER_CHANNELS)
