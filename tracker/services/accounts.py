"""Users, passwords and roles."""

from datetime import datetime

from sqlalchemy import func, select

from tracker.domain.i18n import N_, Label
from tracker.domain.roles import CENTRE_ROLES, ROLE_LABELS, Role
from tracker.errors import PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, User, UserRole

PASSWORD_MIN = 8


def authenticate(username: str, password: str, *, now: datetime) -> User | None:
    """Return the active user with these credentials, recording the login; else None."""
    user = db.session.execute(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.is_active or not user.check_password(password or ""):
        return None
    user.last_login_at = now
    db.session.commit()
    return user


def _check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise ValidationFailed(N_("Use a password of at least %(min)d characters."), min=PASSWORD_MIN)


def create_user(
    *,
    username: str,
    display_name: str,
    password: str,
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
    user = User(
        username=username,
        display_name=(display_name or "").strip() or username,
        email=(email or "").strip() or None,
        phone=(phone or "").strip() or None,
        locale=locale,
        created_at=now,
    )
    user.set_password(password)
    user.roles = [_role(role, centre_id) for role, centre_id in _dedupe(roles)]
    db.session.add(user)
    db.session.commit()
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
    """Change a user's details, roles and (optionally) password; commit."""
    _require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise ValidationFailed(N_("No such user."))
    if actor is not None and user.id == actor.id:
        if not is_active:
            raise ValidationFailed(N_("You cannot deactivate your own account."))
        if Role.ADMIN not in {r for r, _ in roles}:
            raise ValidationFailed(N_("You cannot remove your own administrator role."))
    wanted = _dedupe(roles)
    for role, centre_id in wanted:
        _role(role, centre_id)  # validates
    user.display_name = (display_name or "").strip() or user.username
    user.email = (email or "").strip() or None
    user.phone = (phone or "").strip() or None
    if user.is_active and not is_active:
        user.session_token = "deactivated"  # ends every session at once
    user.is_active = is_active
    existing = {(r.role, r.centre_id): r for r in user.roles}
    user.roles = [existing.get(key) or _role(*key) for key in wanted]
    if new_password:
        _check_password(new_password)
        user.set_password(new_password)
    db.session.commit()
    return user


def change_password(user: User, *, current: str, new: str, now: datetime) -> None:
    """Change the user's own password after checking the current one."""
    if not user.check_password(current or ""):
        raise ValidationFailed(N_("The current password is wrong."))
    _check_password(new)
    user.set_password(new)
    db.session.commit()


def set_locale(user: User, locale: str) -> None:
    """Remember the user's interface language."""
    user.locale = locale
    db.session.commit()


def _require_admin(actor: User | None) -> None:
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise PermissionDenied()


def _dedupe(roles) -> list[tuple[Role, int | None]]:
    seen, result = set(), []
    for role, centre_id in roles:
        key = (Role(role), int(centre_id) if centre_id not in (None, "") else None)
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
