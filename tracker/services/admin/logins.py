"""Logging in: the password check behind a throttle that a stranger cannot turn against the user.

Three counts of failed logins, kept in the database (``login_failures``) so
that every web process sees the same ones, on the embedded default (SQLite,
several gunicorn workers) as in production:

- per **user name**, an exponential back-off: after LOGIN_USER_FREE_FAILURES
  failures within a day the next attempt waits LOGIN_USER_BACKOFF_SECONDS,
  doubled for each further failure up to LOGIN_USER_BACKOFF_MAX_SECONDS;
- per **client address**, across all user names (LOGIN_ADDRESS_LIMIT): one
  address trying many names (password spraying) is stopped;
- per **known device** (LOGIN_DEVICE_LIMIT): a browser where the user has
  logged in before carries a signed device cookie (tracker.auth.devices,
  OWASP's "device cookies"). Its attempts skip the two counts above and
  count only against that device, so a stranger's failures never lock the
  user out of their own phone or PC; past its limit the device counts as
  unknown.

Refused attempts are not recorded (a stranger hammering cannot stretch the
wait without end), and the password is not checked while one is refused.
"""

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import current_app
from limits import parse_many
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.domain.i18n import N_
from tracker.domain.signon import Profile
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.models import LoginFailure, User

# Failures older than this are forgotten (and deleted).
MEMORY = timedelta(days=1)
USERNAME_MAX = 64
ADDRESS_MAX = 64


class LoginThrottled(TrackerError):
    """Too many failed logins: wait ``retry_after`` seconds, or use a known device."""

    http_status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int):
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            N_("Too many failed attempts. Try again in %(minutes)d min, or on a device where you have logged in "
               "before."),
            minutes=minutes,
        )
        self.retry_after = retry_after


def log_in(
    username: str,
    password: str,
    *,
    address: str,
    devices: Sequence[tuple[int, str]] = (),
    now: datetime,
    directory: Callable[[str, str], Profile | None] | None = None,
) -> User | None:
    """Return the active user with these credentials, recording the login; else record the failure and return None.

    ``devices`` are the (user id, device id) pairs of the browser's valid
    device cookie. Commits. Raises LoginThrottled, checking no password,
    while the user name or the address must wait.

    ``directory`` (LDAP sign-on) is asked first: when it accepts the
    password the account is created or updated from it
    (tracker.services.signon.accounts, which may raise SignonRefused). When
    it refuses, the local password is checked (administrators, accounts
    without sign-on); when it does not answer and the local password fails
    too, ProviderUnavailable is raised after the failure is recorded.
    """
    name = (username or "").strip().lower()[:USERNAME_MAX]
    address = (address or "unknown")[:ADDRESS_MAX]
    user = db.session.execute(select(User).where(func.lower(User.username) == name)).scalar_one_or_none()
    device = _trusted_device(user, devices, now)
    if device is None:
        wait = max(_address_wait(address, now), _user_wait(name, now))
        if wait > 0:
            db.session.rollback()  # ends the read (on SQLite it holds the write lock)
            raise LoginThrottled(wait)
    unavailable = None
    if directory is not None:
        from tracker.services.signon import ProviderUnavailable, accounts, settings

        try:
            profile = directory(username or "", password or "")
        except ProviderUnavailable as error:
            profile, unavailable = None, error
        if profile is not None:
            return accounts.sign_in(profile, provider="ldap", subject=profile.username.lower(),
                                    settings=settings(), now=now)
    if user is None:
        _check_nobodys_password(password or "")
    if user is None or not user.is_active or not user.check_password(password or ""):
        db.session.add(LoginFailure(at=now, username=name, address=address, device=device))
        db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - MEMORY))
        db.session.commit()
        if unavailable is not None:
            raise unavailable
        return None
    user.last_login_at = now
    db.session.commit()
    return user


_NOBODY: dict[str, str] = {}


def _check_nobodys_password(password: str) -> None:
    """Hash ``password`` as a known user's would be: an unknown name answers as slowly (no names learnt by timing)."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _NOBODY:
        _NOBODY[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    check_password_hash(_NOBODY[method], password)


def _trusted_device(user: User | None, devices, now: datetime) -> str | None:
    """Return the device id the browser holds for ``user``, unless that device failed too often."""
    if user is None:
        return None
    device = next((d for uid, d in devices if uid == user.id), None)
    if device is None:
        return None
    limit = current_app.config["LOGIN_DEVICE_LIMIT"]
    return None if _window_wait(LoginFailure.device == device, limit, now) > 0 else device


def _address_wait(address: str, now: datetime) -> int:
    limit = current_app.config["LOGIN_ADDRESS_LIMIT"]
    if str(limit).strip().lower() in ("off", "none", ""):
        return 0
    return _window_wait((LoginFailure.address == address) & LoginFailure.device.is_(None), limit, now)


def _window_wait(condition, limit: str, now: datetime) -> int:
    """Return the seconds until fewer failures than each limit of ``limit`` lie in its window; 0 if they do now."""
    wait = 0
    for item in parse_many(limit):
        window = timedelta(seconds=item.get_expiry())
        # The amount-th newest failure in the window: once it leaves, there is room again.
        edge = db.session.execute(
            select(LoginFailure.at)
            .where(condition, LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc())
            .offset(item.amount - 1)
            .limit(1)
        ).scalar_one_or_none()
        if edge is not None:
            wait = max(wait, _seconds(edge + window - now))
    return wait


def _user_wait(name: str, now: datetime) -> int:
    config = current_app.config
    free, first = config["LOGIN_USER_FREE_FAILURES"], config["LOGIN_USER_BACKOFF_SECONDS"]
    if first <= 0:
        return 0
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.username == name, LoginFailure.device.is_(None), LoginFailure.at > now - MEMORY
        )
    ).one()
    if count < max(free, 1):
        return 0
    # min(): 2 ** a day of failures would be a very large number for nothing.
    delay = min(first * 2 ** min(count - max(free, 1), 32), config["LOGIN_USER_BACKOFF_MAX_SECONDS"])
    return _seconds(last + timedelta(seconds=delay) - now)


def _seconds(delta: timedelta) -> int:
    """Return a wait in whole seconds, rounded up; 0 for none."""
    seconds = delta.total_seconds()
    return max(0, int(-(-seconds // 1)))
