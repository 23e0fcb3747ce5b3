"""Duty rosters, technicians' skills and each centre's dispatch settings (docs/dispatch.md)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class ShiftKind(StrEnum):
    ON_DUTY = "on_duty"  # at the centre (or on its rounds), takes work now
    ON_CALL = "on_call"  # reachable by phone, comes in when called


class Shift(db.Model):
    """One person's stretch of duty or on-call cover in a centre, in UTC instants."""

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_shifts_centre_id_starts_at", "centre_id", "starts_at"),
        Index("ix_shifts_user_id_starts_at", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ShiftKind] = mapped_column(StrEnumType(ShiftKind, 16), default=ShiftKind.ON_DUTY)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User", foreign_keys=[user_id])


class TechnicianSkill(db.Model):
    """A category a technician may take; a technician with none takes any of their centre's."""

    __tablename__ = "technician_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )


class CategoryDispatch(db.Model):
    """A category's dispatch settings; no row: dispatched by hand, not an emergency."""

    __tablename__ = "category_dispatch"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    is_auto_dispatch: Mapped[bool] = mapped_column(Boolean, default=False)
    # Requesters of an emergency category see who is on duty now.
    is_emergency: Mapped[bool] = mapped_column(Boolean, default=False)


class CentreDispatch(db.Model):
    """A centre's dispatch settings, and the row automatic dispatch locks (one at a time per centre)."""

    __tablename__ = "centre_dispatch"

    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True)
    # Whether requesters see the phone number of the technician on duty.
    shows_duty_phone: Mapped[bool] = mapped_column(Boolean, default=False)


class DispatchTurn(db.Model):
    """When a technician last got a request by automatic dispatch: the round robin's order."""

    __tablename__ = "dispatch_turns"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
