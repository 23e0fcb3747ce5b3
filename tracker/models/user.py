"""Users, their roles and centre memberships."""

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.clock import utcnow
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


def _new_session_token() -> str:
    return secrets.token_hex(8)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of the login cookie: changing it (password change, deactivation)
    # ends every session of the user.
    session_token: Mapped[str] = mapped_column(String(32), default=_new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        return f"{self.id}.{self.session_token}"

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def end_sessions(self) -> None:
        """Invalidate every login cookie of this user."""
        self.session_token = _new_session_token()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, role: Role, centre_id: int | None = None) -> bool:
        """Return whether the user holds ``role`` (for ``centre_id`` when given)."""
        return any(
            r.role == role and (centre_id is None or r.centre_id == centre_id) for r in self.roles
        )

    def has_any_role(self, *roles: Role) -> bool:
        return any(r.role in roles for r in self.roles)

    def centre_ids(self, *roles: Role) -> set[int]:
        """Return the centres where the user holds any of ``roles`` (all centre roles if none)."""
        wanted = set(roles) or CENTRE_ROLES
        return {r.centre_id for r in self.roles if r.role in wanted and r.centre_id is not None}

    @property
    def role_set(self) -> set[Role]:
        return {r.role for r in self.roles}

    def __repr__(self):
        return f"<User {self.username}>"


class UserRole(db.Model):
    """One role of a user; technician, dispatcher and centre head name a centre."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", "centre_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 16))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"), index=True)

    user: Mapped[User] = relationship(back_populates="roles")
    centre = relationship("Centre")


class LoginFailure(db.Model):
    """A failed login attempt: what the login throttle counts (tracker.services.admin.logins).

    Kept in the database so that every web process counts the same attempts,
    also on the embedded default; rows older than a day are deleted.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username", "username", "at"),
        Index("ix_login_failures_address", "address", "at"),
        Index("ix_login_failures_device", "device", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # As typed, lower-cased: a name that is no user's is counted too.
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    # The known-device cookie's id when the attempt carried one for this user
    # name (its failures count against that device only); else None.
    device: Mapped[str | None] = mapped_column(String(32))
