"""The known-device cookie: which users have logged in on this browser before.

OWASP's "device cookies": after a successful login the browser gets a signed
cookie naming the user and a random device id. A later attempt for that user
that carries it is counted against the device alone, never against the user
name or the address (tracker.services.admin.logins): a stranger's failures cannot
lock the user out of a browser they already use. The cookie proves nothing
else and logs nobody in; it is sent to the login form only (path /login).
"""

import secrets

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "desk_device"
LIFETIME_SECONDS = 365 * 24 * 3600
# A shared PC keeps the most recent users only.
USERS_MAX = 5


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def known_devices() -> list[tuple[int, str]]:
    """Return the (user id, device id) pairs of the request's device cookie; none if missing, altered or old."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        entries = _serializer().loads(raw, max_age=LIFETIME_SECONDS)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [
        (entry[0], entry[1])
        for entry in entries[:USERS_MAX]
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int) and isinstance(entry[1], str)
    ]


def remember_device(response, devices: list[tuple[int, str]], user_id: int) -> None:
    """Set the device cookie on ``response``: ``user_id`` first (keeping its device id), then the others."""
    device = next((d for uid, d in devices if uid == user_id), None) or secrets.token_urlsafe(16)
    entries = [[user_id, device]] + [[uid, d] for uid, d in devices if uid != user_id]
    config = current_app.config
    response.set_cookie(
        COOKIE,
        _serializer().dumps(entries[:USERS_MAX]),
        max_age=LIFETIME_SECONDS,
        path=url_for("auth.login"),
        secure=bool(config.get("REMEMBER_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
