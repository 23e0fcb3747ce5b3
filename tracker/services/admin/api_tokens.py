"""Personal access tokens: making, listing, revoking, and authenticating with them.

A token is ``desk_`` followed by 43 random URL-safe characters (256 bits);
only its SHA-256 is stored, so a leaked database does not leak tokens, and a
token is looked up by its hash (no slow password hash is needed for a
secret of that entropy). Its scopes are role names: a request made with it
acts as a ``ScopedUser``, the owner seen with only those roles, so the same
services decide what it may see and do as for the owner on the web.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import ApiToken, User

TOKEN_PREFIX = "desk_"
# Shown in lists: "desk_" and the secret's first 8 characters.
DISPLAY_LENGTH = len(TOKEN_PREFIX) + 8
NAME_MAX = 80
# Longest lifetime a token may be given; None (no expiry) is allowed too.
MAX_LIFETIME = timedelta(days=3 * 366)


def hash_secret(secret: str) -> str:
    """Return the stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class ScopedUser:
    """A user seen through a token: only the roles that are also in the token's scopes.

    It answers the questions the services ask of a user (``has_role``,
    ``has_any_role``, ``centre_ids``, ``role_set``, ``roles``) from the
    restricted roles and passes everything else (id, names, locale, is_active)
    to the user, so a token scoped to ``requester`` cannot act as the
    technician its owner also is.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User, scopes, token: ApiToken | None = None):
        self._user = user
        self.scopes = frozenset(Role(s) for s in scopes if s in Role._value2member_map_)
        self.token = token

    @property
    def user(self) -> User:
        return self._user

    @property
    def roles(self):
        return [r for r in self._user.roles if r.role in self.scopes]

    # The user's own checks, run over the restricted roles above.
    has_role = User.has_role
    has_any_role = User.has_any_role
    centre_ids = User.centre_ids
    role_set = User.role_set

    def __getattr__(self, name):
        return getattr(self._user, name)

    def __repr__(self):
        return f"<ScopedUser {self._user.username} {sorted(self.scopes)}>"


def create_token(
    user: User,
    *,
    name: str,
    scopes,
    expires_at: datetime | None = None,
    now: datetime,
) -> tuple[ApiToken, str]:
    """Make a token for ``user`` and commit; return it and its secret (shown once, never stored).

    Raises PermissionDenied for an inactive user; ValidationFailed for an
    empty or long name, no scopes, a scope the user does not hold, or an
    expiry in the past or too far ahead.
    """
    if not user.is_active:
        raise PermissionDenied()
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(N_("Give the token a name, e.g. the program that will use it."))
    if len(name) > NAME_MAX:
        raise ValidationFailed(N_("A name has at most %(max)d characters."), max=NAME_MAX)
    held = {r.role for r in user.roles}
    chosen = []
    for scope in scopes or ():
        try:
            role = Role(scope)
        except ValueError:
            raise ValidationFailed(N_("Choose roles that you hold.")) from None
        if role not in held:
            raise ValidationFailed(N_("Choose roles that you hold."))
        if role not in chosen:
            chosen.append(role)
    if not chosen:
        raise ValidationFailed(N_("Choose at least one role the token may use."))
    if expires_at is not None and not now < expires_at <= now + MAX_LIFETIME:
        raise ValidationFailed(N_("Choose an expiry date in the future, at most three years ahead."))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:DISPLAY_LENGTH],
        token_hash=hash_secret(secret),
        scopes=[role.value for role in sorted(chosen, key=list(Role).index)],
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def tokens_of(user: User) -> list[ApiToken]:
    """Return the user's tokens, newest first (revoked and expired ones too)."""
    return list(
        db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        ).scalars()
    )


def revoke_token(token_id: int, *, actor: User, now: datetime) -> ApiToken:
    """Revoke a token of the actor's own, or any token when the actor is an administrator; commit.

    Revoking a revoked token changes nothing. Raises NotFound for a token
    that does not exist or that the actor may not revoke.
    """
    token = db.session.get(ApiToken, token_id)
    is_admin = actor.is_active and actor.has_role(Role.ADMIN)
    if token is None or not actor.is_active or (token.user_id != actor.id and not is_admin):
        raise NotFound(N_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now
        token.revoked_by_id = actor.id
        db.session.commit()
    return token


def revoke_all_tokens(user: User, *, actor: User | None, now: datetime) -> int:
    """Revoke every usable token of ``user`` in the current transaction (no commit); return how many.

    A password change calls it: a token made by someone who had the old
    password must not outlive it (docs/api.md). ``actor`` None is a command.
    """
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    for token in tokens:
        token.revoked_at = now
        token.revoked_by_id = actor.id if actor is not None else None
    return len(tokens)


# Every API call runs this: built once, and the owner with their roles come
# in the same statement.
_BY_HASH = (
    select(ApiToken)
    .where(ApiToken.token_hash == bindparam("token_hash"))
    .options(joinedload(ApiToken.user).joinedload(User.roles))
)


def authenticate(secret: str, *, now: datetime) -> ScopedUser | None:
    """Return the user a token acts for, limited to its scopes; None for an unknown,
    revoked or expired token or an inactive user.

    Records the use (``last_used_at``) at most once a minute (API_TOKEN_TOUCH_SECONDS),
    committing only then.
    """
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.execute(_BY_HASH, {"token_hash": hash_secret(secret)}).unique().scalar_one_or_none()
    if token is None or not token.is_usable(now):
        return None
    user = token.user
    if user is None or not user.is_active:
        return None
    scoped = ScopedUser(user, token.scopes, token)
    every = timedelta(seconds=current_app.config.get("API_TOKEN_TOUCH_SECONDS", 60))
    if token.last_used_at is None or now - token.last_used_at >= every:
        token.last_used_at = now
        db.session.commit()
    elif db.session.get_bind().dialect.name == "sqlite":
        # On SQLite even a read transaction holds the write lock (BEGIN
        # IMMEDIATE) and must not stay open through the request. Elsewhere
        # the request's own transaction goes on: a commit here would only
        # make the owner and their roles load again.
        db.session.commit()
    return scoped
