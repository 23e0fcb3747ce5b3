"""Who calls the API: a personal access token, never the session cookie.

Every operation but the OpenAPI description needs ``Authorization: Bearer
<token>``; a missing, unknown, revoked or expired token answers 401 with a
``WWW-Authenticate`` header. Session cookies are ignored altogether (for
reads too): a page's cookie cannot be replayed against the API from
another site, so the API needs no CSRF token. The caller acts as a
``ScopedUser``: the token owner with only the roles in the token's scopes,
which the services check as they check a user on the web.
"""

from functools import wraps

from babel import Locale
from flask import current_app, g, request
from flask_babel import refresh

from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.i18n import parsed_locale
from tracker.services.admin import api_tokens
from tracker.services.admin.api_tokens import ScopedUser

LOCALES = ("zh_CN", "en")


def _header_locale() -> str | None:
    if not request.headers.get("Accept-Language"):
        return None
    match = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return "zh_CN" if match == "zh" else match


def api_locale() -> Locale:
    """Return the language of this API answer: Accept-Language, else the token owner's, else the default."""
    chosen = g.get("api_locale")
    if chosen:
        return parsed_locale(chosen)
    return parsed_locale(_header_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))


def choose_locale(user) -> None:
    """Fix the answer's language once the caller is known (or known to be nobody)."""
    owner = getattr(user, "locale", None)
    g.api_locale = _header_locale() or (owner if owner in LOCALES else None) or current_app.config.get(
        "BABEL_DEFAULT_LOCALE", "zh_CN"
    )
    refresh()  # flask-babel caches the locale per request


def _unauthorized(message: str, *, invalid: bool):
    from tracker.api.errors import ApiError

    challenge = 'Bearer realm="api"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def authenticate() -> None:
    """Run before every API view: limit the body, identify the caller, choose the language.

    Raises ApiError (401) when the token is missing or not valid.
    """
    request.max_content_length = current_app.config.get("API_MAX_BODY_BYTES")
    # The answer to a change is the state the service committed: keep the
    # rows it loaded and wrote instead of loading them all again (the session
    # ends with the request). Filing answers in about half the statements.
    db.session().expire_on_commit = False
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "is_public", False):
        choose_locale(None)
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        choose_locale(None)
        raise _unauthorized(N_("Send a personal access token: Authorization: Bearer <token>."), invalid=False)
    user = api_tokens.authenticate(secret, now=utcnow())
    if user is None:
        choose_locale(None)
        raise _unauthorized(N_("The token is not valid: it is unknown, revoked or expired."), invalid=True)
    g.api_user = user
    choose_locale(user)


def caller() -> ScopedUser:
    """Return the user the current API request acts for."""
    return g.api_user


def require_role(*roles):
    """Let an API view run only when the token may act in one of ``roles`` (403 otherwise)."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not caller().has_any_role(*roles):
                raise PermissionDenied(N_("Your token may not do that: it needs one of the roles %(roles)s."),
                                       roles=", ".join(str(r) for r in roles))
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorate


def restore_session(_error=None) -> None:
    """Give the session back its usual expiry on commit (it may outlive the request in tests)."""
    db.session().expire_on_commit = True
