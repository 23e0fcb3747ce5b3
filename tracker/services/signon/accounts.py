"""The account behind a sign-on: created at the first sign-in, brought up to date at each later one."""

import hashlib
import logging
from datetime import datetime

from sqlalchemy import func, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.signon import Profile, roles_for
from tracker.extensions import db
from tracker.models import Centre, SignonIdentity, User, UserRole
from tracker.services import audit
from tracker.services.signon import Settings, SignonRefused

log = logging.getLogger(__name__)

# Not a hash any password matches (werkzeug answers False for it): a sign-on
# account has no local password until an administrator sets one.
NO_PASSWORD = "!signon"
USERNAME_MAX = 64


def sign_in(
    profile: Profile,
    *,
    provider: str,
    subject: str | None = None,
    settings: Settings,
    now: datetime,
    ticket: str | None = None,
) -> User:
    """Return the user for this directory account, creating or updating it and its roles; commit.

    Raises SignonRefused, changing nothing, when the directory sent no user
    name or no name, when the user is in no mapped group and such users are
    refused, when the account is switched off, or when the user name is a
    local administrator's (sign-on never takes one over).
    """
    username = profile.username.strip()[:USERNAME_MAX]
    subject = (subject or username).strip()
    if not username or not subject:
        raise SignonRefused(
            N_(
                "The campus sign-on sent no user name. Nothing was created; ask the IT office "
                "to check the directory entry."
            )
        )
    if not profile.display_name:
        raise SignonRefused(
            N_(
                "The campus directory has no name for the account %(username)s. Nothing was "
                "created; ask the IT office to fill in the name, then sign in again."
            ),
            username=username,
        )
    wanted = roles_for(profile.attributes, settings.rules)
    if not wanted:
        if settings.unmapped == "refuse":
            raise SignonRefused(
                N_(
                    "The campus account %(username)s is in no group that may use the service "
                    "desk. Nothing was created; ask the IT office if you need access."
                ),
                username=username,
            )
        wanted = {(Role.REQUESTER, None)}
    identity = db.session.execute(
        select(SignonIdentity).where(SignonIdentity.provider == provider, SignonIdentity.subject == subject)
    ).scalar_one_or_none()
    user = (
        identity.user
        if identity is not None
        else db.session.execute(
            select(User).where(func.lower(User.username) == username.lower())
        ).scalar_one_or_none()
    )
    if identity is None and user is not None and user.has_role(Role.ADMIN):
        raise SignonRefused(
            N_(
                "The user name %(username)s belongs to a local administrator account, which sign-on "
                "never takes over. Log in with its password."
            ),
            username=username,
        )
    if user is not None and not user.is_active:
        raise SignonRefused(
            N_("The account %(username)s is switched off. Ask an administrator."), username=user.username
        )
    audit.act_as(user)
    if user is None:
        user = User(username=username, display_name=profile.display_name, password_hash=NO_PASSWORD)
        db.session.add(user)
    if identity is None:
        identity = SignonIdentity(user=user, provider=provider, subject=subject, granted_roles=[])
        db.session.add(identity)
    # The directory is the reference for what it sends; what it leaves out stays as it was.
    user.display_name = profile.display_name
    if profile.email:
        user.email = profile.email
    if profile.phone:
        user.phone = profile.phone
    if profile.number:
        identity.number = profile.number
    _sync_roles(user, identity, wanted)
    user.last_login_at = now
    identity.last_sign_in_at = now
    identity.sign_in_count = (identity.sign_in_count or 0) + 1
    if ticket:
        identity.session_ticket = _ticket_hash(ticket)
    db.session.commit()
    log.info("signed in", extra={"provider": provider, "user_id": user.id})
    return user


def single_logout(*, provider: str, ticket: str, now: datetime) -> bool:
    """End every session of the user whose last sign-in used ``ticket`` (CAS single logout); commit.

    Returns whether a user was found. A ticket is a secret only CAS and the
    user's browser saw, so knowing one is the proof.
    """
    identity = db.session.execute(
        select(SignonIdentity).where(
            SignonIdentity.provider == provider, SignonIdentity.session_ticket == _ticket_hash(ticket)
        )
    ).scalar_one_or_none()
    if identity is None:
        db.session.rollback()
        return False
    identity.user.end_sessions()
    identity.session_ticket = None
    db.session.commit()
    log.info("single logout", extra={"provider": provider, "user_id": identity.user_id})
    return True


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def identities_of(user: User) -> list[SignonIdentity]:
    """Return the user's directory accounts, the most recently used first."""
    return list(
        db.session.execute(
            select(SignonIdentity)
            .where(SignonIdentity.user_id == user.id)
            .order_by(SignonIdentity.last_sign_in_at.desc(), SignonIdentity.id)
        ).scalars()
    )


def has_local_password(user: User) -> bool:
    return user.password_hash != NO_PASSWORD


def _sync_roles(user: User, identity: SignonIdentity, wanted: set[tuple[Role, str | None]]) -> None:
    """Give the mapped roles; take back those the mapping gave before and gives no more.

    Roles an administrator granted by hand are left alone. A centre code the
    database does not know is skipped (and shown on /readyz).
    """
    codes = {code for _, code in wanted if code}
    centres = (
        {
            c.code.lower(): c
            for c in db.session.execute(
                select(Centre).where(func.lower(Centre.code).in_([c.lower() for c in codes]))
            ).scalars()
        }
        if codes
        else {}
    )
    granted: dict[str, tuple[Role, int | None]] = {}
    for role, code in sorted(wanted, key=lambda pair: (pair[0].value, pair[1] or "")):
        if code is None:
            granted[role.value] = (role, None)
        elif code.lower() in centres:
            centre = centres[code.lower()]
            granted[f"{role.value}@{centre.code}"] = (role, centre.id)
        else:
            log.warning("sign-on role mapping names an unknown centre", extra={"centre": code})
    held = {(r.role, r.centre_id): r for r in user.roles}
    for text in set(identity.granted_roles or ()) - set(granted):
        role_text, _, code = text.partition("@")
        centre_id = next((c.id for c in centres.values() if c.code == code), None) if code else None
        if code and centre_id is None:
            centre_id = db.session.execute(select(Centre.id).where(Centre.code == code)).scalar_one_or_none()
        row = held.get((Role(role_text), centre_id))
        if row is not None:
            user.roles.remove(row)
    for role, centre_id in granted.values():
        if (role, centre_id) not in held:
            user.roles.append(UserRole(role=role, centre_id=centre_id))
    identity.granted_roles = sorted(granted)
