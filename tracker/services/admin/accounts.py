"""Users, passwords and roles."""

from datetime import datetime

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from tracker.domain.i18n import N_, Label
from tracker.domain.roles import CENTRE_ROLES, ROLE_LABELS, Role
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, User, UserRole
from tracker.services.admin.api_tokens import revoke_all_tokens
from tracker.services.audit import act_as
from tracker.services.audit import require_admin as _require_admin

PASSWORD_MIN = 8
DISPLAY_NAME_MAX = 120
EMAIL_MAX = 254
PHONE_MAX = 40


def log_out(user: User, *, now: datetime) -> None:
    """End every session and remember-me cookie of ``user``, on every device; commit.

    The login cookies carry the user's session token (User.get_id): a new
    token refuses them all, also a copy of a cookie kept from before.
    """
    user.end_sessions()
    db.session.commit()


def search_users(
    *,
    q: str = "",
    role: Role | None = None,
    centre_id: int | None = None,
    is_active: bool | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[User], int]:
    """Return one page of users in user-name order, and how many match in all.

    ``q`` matches part of the user name, display name or e-mail; ``role``
    and ``centre_id`` keep users holding that role / any role in that centre.
    """
    query = select(User)
    term = (q or "").strip().lower()
    if term:
        # Typed % and _ are letters, not wildcards.
        escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        like = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(User.username).like(like, escape="!"),
                func.lower(User.display_name).like(like, escape="!"),
                func.lower(User.email).like(like, escape="!"),
            )
        )
    if role is not None or centre_id is not None:
        holders = select(UserRole.user_id)
        if role is not None:
            holders = holders.where(UserRole.role == role)
        if centre_id is not None:
            holders = holders.where(UserRole.centre_id == centre_id)
        query = query.where(User.id.in_(holders))
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = max(int(page or 1), 1)
    rows = db.session.execute(
        query.order_by(User.username, User.id).limit(size).offset((page - 1) * size)
    ).scalars()
    return list(rows), total


def get_user(user_id: int) -> User:
    """Return the user; raises NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such user."))
    return user


def _check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise ValidationFailed(N_("Use a password of at least %(min)d characters."), min=PASSWORD_MIN)


def create_user(
    *,
    username: str,
    display_name: str,
    password: str,
    password_hash: str | None = None,
    roles: list[tuple[Role, int | None]] = (),
    email: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
    actor: User | None = None,
    now: datetime,
) -> User:
    """Create a user with ``roles`` (role, centre id or None) and commit.

    ``actor`` None is the command line. Raises ValidationFailed for a taken
    user name, a short password, or a centre role without a centre.
    """
    _require_admin(actor)
    username = (username or "").strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise ValidationFailed(N_("A user name has letters, digits, dots, dashes or underscores."))
    if db.session.execute(select(User.id).where(func.lower(User.username) == username)).first():
        raise ValidationFailed(N_("The user name %(username)s is taken."), username=username)
    _check_password(password)
    display_name, email, phone = _details(display_name, email, phone)
    user = User(
        username=username,
        display_name=display_name or username,
        email=email,
        phone=phone,
        locale=locale,
        created_at=now,
    )
    if password_hash is not None:
        # Demo users share one password: hashing it once spares a second per 10 users.
        user.password_hash = password_hash
    else:
        user.set_password(password, _hash_method())
    user.roles = [_role(role, centre_id) for role, centre_id in _dedupe(roles)]
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Another admin created the same name between the check and the insert.
        db.session.rollback()
        raise ValidationFailed(N_("The user name %(username)s is taken."), username=username) from None
    return user


def update_user(
    user_id: int,
    *,
    display_name: str,
    email: str | None,
    phone: str | None,
    is_active: bool,
    roles: list[tuple[Role, int | None]],
    new_password: str | None = None,
    actor: User | None,
    now: datetime,
) -> User:
    """Change a user's details, roles and (optionally) password; commit.

    Deactivating or a new password ends every session of the user; a new
    password also revokes their API tokens (docs/api.md says why). Raises
    NotFound; ValidationFailed for bad details or roles, and when the actor
    would deactivate themselves or drop their own administrator role.
    """
    _require_admin(actor)
    user = get_user(user_id)
    wanted = _dedupe(roles)
    if actor is not None and user.id == actor.id:
        if not is_active:
            raise ValidationFailed(N_("You cannot deactivate your own account."))
        if (Role.ADMIN, None) not in wanted:
            raise ValidationFailed(N_("You cannot remove your own administrator role."))
    # Check everything before changing anything: a refusal leaves the row as it was.
    for role, centre_id in wanted:
        _role(role, centre_id)
    if new_password:
        _check_password(new_password)
    display_name, email, phone = _details(display_name, email, phone)
    user.display_name = display_name or user.username
    user.email = email
    user.phone = phone
    if user.is_active and not is_active:
        # A fresh random token, not a fixed marker: a cookie from before the
        # deactivation must not come back to life when the account is reactivated.
        user.end_sessions()
    user.is_active = bool(is_active)
    existing = {(r.role, r.centre_id): r for r in user.roles}
    user.roles = [existing.get(key) or _role(*key) for key in wanted]
    if new_password:
        user.set_password(new_password, _hash_method())
        revoke_all_tokens(user, actor=actor, now=now)
    db.session.commit()
    return user


def change_password(user: User, *, current: str, new: str, now: datetime) -> None:
    """Change the user's own password after checking the current one; commit.

    Ends every session of the user and revokes their API tokens (docs/api.md
    says why). Raises ValidationFailed for a wrong current or a short new one.
    """
    if not user.check_password(current or ""):
        raise ValidationFailed(N_("The current password is wrong."))
    _check_password(new)
    # The history: changed by themselves. Named first: the tokens' query
    # below flushes the new password, and the flush writes the history.
    act_as(user)
    user.set_password(new, _hash_method())
    revoke_all_tokens(user, actor=user, now=now)
    db.session.commit()


def set_locale(user: User, locale: str) -> None:
    """Remember the user's interface language."""
    user.locale = locale
    db.session.commit()


def _hash_method() -> str:
    return current_app.config["PASSWORD_HASH_METHOD"]


def _details(display_name: str | None, email: str | None, phone: str | None) -> tuple[str, str | None, str | None]:
    display_name = (display_name or "").strip()
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if len(display_name) > DISPLAY_NAME_MAX:
        raise ValidationFailed(N_("A name has at most %(max)d characters."), max=DISPLAY_NAME_MAX)
    if email is not None and (len(email) > EMAIL_MAX or "@" not in email or any(c.isspace() for c in email)):
        raise ValidationFailed(N_("The e-mail address is not valid."))
    if phone is not None and len(phone) > PHONE_MAX:
        raise ValidationFailed(N_("A phone number has at most %(max)d characters."), max=PHONE_MAX)
    return display_name, email, phone


def _dedupe(roles) -> list[tuple[Role, int | None]]:
    seen, result = set(), []
    for role, centre_id in roles:
        try:
            key = (Role(role), int(centre_id) if centre_id not in (None, "") else None)
        except (TypeError, ValueError):
            raise ValidationFailed(N_("Choose roles and centres from the list.")) from None
        if key[0] not in CENTRE_ROLES:
            key = (key[0], None)
        if key not in seen:
            seen.add(key)
            result.append(key)
    return result


def _role(role: Role, centre_id: int | None) -> UserRole:
    if role in CENTRE_ROLES:
        if centre_id is None or db.session.get(Centre, centre_id) is None:
            raise ValidationFailed(
                N_("The role %(role)s needs a service centre."), role=Label(ROLE_LABELS[role])
            )
    return UserRole(role=role, centre_id=centre_id if role in CENTRE_ROLES else None)
