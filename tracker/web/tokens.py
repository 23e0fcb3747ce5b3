"""Personal access tokens for the JSON API: make, list and revoke one's own."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.clock import utcnow
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.errors import TrackerError
from tracker.forms.tokens import TokenForm
from tracker.services.admin import api_tokens
from tracker.services.insight import reports
from tracker.web.once import repeat_of

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _form() -> TokenForm:
    form = TokenForm()
    held = [role for role in Role if current_user.has_role(role)]
    form.scopes.choices = [(role.value, _(ROLE_LABELS[role])) for role in held]
    if not form.is_submitted():
        form.scopes.data = [role.value for role in held]
    return form


def _page(form: TokenForm, *, secret: str | None = None, status: int = 200):
    return render_template(
        "tokens/index.html", form=form, tokens=api_tokens.tokens_of(current_user), secret=secret, now=utcnow(),
    ), status


@bp.route("/", methods=["GET", "POST"])
@require_role()
def index():
    form = _form()
    if form.validate_on_submit():
        # Sent again (Back): the token exists, listed below; its secret is never shown twice.
        if (earlier := repeat_of(form, "api_token", landing=lambda _id: url_for("tokens.index"))) is not None:
            return earlier
        now = utcnow()
        expires_at = reports.day_bounds(form.expires_on.data, form.expires_on.data)[1] if form.expires_on.data else None
        try:
            _token, secret = api_tokens.create_token(
                current_user, name=form.name.data, scopes=form.scopes.data, expires_at=expires_at, now=now
            )
        except TrackerError as error:
            flash(error.translated(), "error")
            return _page(form, status=400)
        # The secret is shown on this answer only: never in a redirect, the session or a log.
        return _page(_form(), secret=secret)
    return _page(form, status=400 if form.is_submitted() else 200)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@require_role()
def revoke(token_id: int):
    try:
        token = api_tokens.revoke_token(token_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(_("The token %(name)s is revoked: programs using it are refused from now on.", name=token.name),
              "success")
    return redirect(url_for("tokens.index"))
