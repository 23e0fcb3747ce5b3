"""Sign-on pages: off to the campus CAS or OpenID provider and back, signed in.

The buttons on the login page lead here; the provider sends the browser
back to ``…/done``. Refusals (see docs/logins.md) are flashed on the login
page in the user's language; nothing is created.
"""

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user

from tracker import LOCALES
from tracker.auth.decorators import public
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.extensions import csrf
from tracker.services.signon import ProviderUnavailable, accounts, cas, oidc, settings
from tracker.web.helpers import safe_next

bp = Blueprint("signon", __name__, url_prefix="/login")

NEXT_KEY = "signon_next"
# What the logout needs to end the provider's session too: {"provider": ..., "id_token": ...}.
SESSION_KEY = "signon"


def _start(provider: str):
    if provider not in settings().enabled:
        abort(404)
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    return None


def _refused(error: TrackerError):
    if isinstance(error, ProviderUnavailable):
        current_app.logger.warning("sign-on provider unavailable: %s", error.detail)
    flash(error.translated(), "error")
    return redirect(url_for("auth.login"))


def _signed_in(user, provider: str, id_token: str | None = None):
    login_user(user)
    if user.locale in LOCALES:
        session["locale"] = user.locale
    session[SESSION_KEY] = {"provider": provider, "id_token": id_token}
    return redirect(session.pop(NEXT_KEY, None) or url_for("home.index"))


@bp.route("/cas")
@public
def cas_start():
    early = _start("cas")
    if early is not None:
        return early
    return redirect(cas.login_url(settings(), url_for("signon.cas_done", _external=True)))


@bp.route("/cas/done", methods=["GET", "POST"])
@public
@csrf.exempt  # the POST is CAS's single logout request, from the CAS server, not a browser form
def cas_done():
    if "cas" not in settings().enabled:
        abort(404)
    if request.method == "POST":
        # The user logged out of CAS elsewhere: end their sessions here too.
        ticket = cas.logout_ticket(request.form.get("logoutRequest", ""))
        if ticket:
            accounts.single_logout(provider="cas", ticket=ticket, now=utcnow())
        return "", 204
    ticket = request.args.get("ticket", "")
    try:
        profile = cas.validate(settings(), ticket, url_for("signon.cas_done", _external=True))
        user = accounts.sign_in(profile, provider="cas", settings=settings(), now=utcnow(), ticket=ticket)
    except TrackerError as error:
        return _refused(error)
    return _signed_in(user, "cas")


@bp.route("/oidc")
@public
def oidc_start():
    early = _start("oidc")
    if early is not None:
        return early
    try:
        return oidc.begin(current_app, url_for("signon.oidc_done", _external=True))
    except TrackerError as error:
        return _refused(error)


@bp.route("/oidc/done")
@public
def oidc_done():
    if "oidc" not in settings().enabled:
        abort(404)
    try:
        profile, subject, id_token = oidc.finish(current_app, request.args.get("error"))
        user = accounts.sign_in(profile, provider="oidc", subject=subject, settings=settings(), now=utcnow())
    except TrackerError as error:
        return _refused(error)
    return _signed_in(user, "oidc", id_token)


def logout_redirect(signed_in_with: dict | None) -> str | None:
    """Return where the browser goes to end the provider's session too (single logout); None: stay here."""
    provider = (signed_in_with or {}).get("provider")
    if provider not in settings().enabled:
        return None
    return_to = url_for("auth.login", _external=True)
    if provider == "cas":
        return cas.logout_url(settings(), return_to)
    if provider == "oidc":
        return oidc.logout_url(current_app, signed_in_with.get("id_token"), return_to)
    return None  # LDAP has no session of its own
