"""Log in, log out, language and password."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from tracker import LOCALES
from tracker.auth.decorators import public, require_role
from tracker.auth.devices import known_devices, remember_device
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.forms.auth import LoginForm, PasswordForm
from tracker.services import signon
from tracker.services.admin import accounts, logins
from tracker.web.helpers import safe_next
from tracker.web.signon import SESSION_KEY, logout_redirect

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        devices = known_devices()
        try:
            # Failed attempts are throttled per user name, client address and known device (tracker.services.admin.logins).
            user = logins.log_in(form.username.data, form.password.data, address=request.remote_addr,
                                 devices=devices, now=utcnow(), directory=_directory())
        except logins.LoginThrottled as refused:
            page = render_template("errors/rate_limited.html", message=refused.translated())
            return page, 429, {"Retry-After": str(refused.retry_after)}
        except TrackerError as refused:  # sign-on refused the account, or LDAP does not answer
            flash(refused.translated(), "error")
            return render_template("auth/login.html", form=form, next_url=next_url, signon=signon.settings())
        if user is None:
            flash(_("Wrong user name or password."), "error")
        else:
            login_user(user, remember=form.remember.data)
            if user.locale in LOCALES:
                # A language chosen with the switch on any device follows the user to this one
                # (and replaces the one the previous user of a shared PC left in the session).
                session["locale"] = user.locale
            response = redirect(next_url or url_for("home.index"))
            remember_device(response, devices, user.id)
            return response
    return render_template("auth/login.html", form=form, next_url=next_url, signon=signon.settings())


def _directory():
    """Return the LDAP check of a user name and password when LDAP sign-on is on, else None."""
    settings = signon.settings()
    if not settings.ldap_url:
        return None
    from tracker.services.signon import ldap

    return lambda username, password: ldap.authenticate(settings, username, password)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        # Ends the session on the server too: a copy of the cookies is refused.
        accounts.log_out(current_user._get_current_object(), now=utcnow())
    logout_user()
    # Signed in through CAS or OpenID Connect: end that session too (single logout).
    provider_logout = logout_redirect(session.pop(SESSION_KEY, None))
    flash(_("You are logged out."), "info")
    return redirect(provider_logout or url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@public
def language():
    locale = request.form.get("locale")
    if locale in LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            accounts.set_locale(current_user, locale)
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"))


@bp.route("/account", methods=["GET", "POST"])
@require_role()
def account():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, current=form.current.data, new=form.new.data, now=utcnow())
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            # The session token changed with the password: log in again here.
            # The user, not the current_user proxy: Flask-Login would keep the
            # proxy as the user, and reading it would recurse until the process died.
            login_user(current_user._get_current_object())
            flash(_("Your password is changed."), "success")
            return redirect(url_for("auth.account"))
    from tracker.services.signon import accounts as signon_accounts

    user = current_user._get_current_object()
    return render_template("auth/account.html", form=form, identities=signon_accounts.identities_of(user),
                           has_password=signon_accounts.has_local_password(user))
