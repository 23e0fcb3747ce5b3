"""View decorators that check the login and the roles."""

from functools import wraps

from flask import abort
from flask_login import current_user

from tracker.extensions import login


def require_role(*roles):
    """Let a view run for a logged-in user holding any of ``roles`` (any user if none).

    Anonymous users go to the login page; others without the role get 403.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login.unauthorized()
            if roles and not current_user.has_any_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorate


def public(view):
    """Mark a view as open to anonymous users (the route test checks for a mark)."""
    view.is_public = True
    return view
