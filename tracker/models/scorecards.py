"""Contractors, the technicians' daily scorecard summary, and the follow-up sample rules.

``daily_technician_stats`` holds, per local day, centre and technician, the
figures a scorecard sums (docs/scorecards.md); ``daily_technician_holds``
the hours on hold by reason. Both are rebuilt by ``stats.refresh`` for the
same marked (day, centre) pairs as ``daily_stats``.
"""

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.types import UTCDateTime

# The targets a technician answers for, in column order: <target>_met, <target>_breached.
SCORED_TARGETS = ("response", "arrival", "resolution")
# Follow-up results, in column order: fu_<result>.
FOLLOW_UP_COLUMNS = ("reached", "not_reached", "resolved", "escalated")


class Contractor(db.Model):
    """An outside company whose technicians work for the campus (外包单位)."""

    __tablename__ = "contractors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContractorMember(db.Model):
    """A technician of a contractor: each technician belongs to one contractor at most."""

    __tablename__ = "contractor_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="CASCADE"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())

    contractor = relationship("Contractor")
    user = relationship("User")


class DailyTechnicianStat(db.Model):
    """One technician's figures of one local day in one centre (the scorecard's summary)."""

    __tablename__ = "daily_technician_stats"
    __table_args__ = (Index("ix_daily_technician_stats_technician_day", "technician_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    response_met: Mapped[int] = mapped_column(Integer, default=0)
    response_breached: Mapped[int] = mapped_column(Integer, default=0)
    arrival_met: Mapped[int] = mapped_column(Integer, default=0)
    arrival_breached: Mapped[int] = mapped_column(Integer, default=0)
    resolution_met: Mapped[int] = mapped_column(Integer, default=0)
    resolution_breached: Mapped[int] = mapped_column(Integer, default=0)
    reworked: Mapped[int] = mapped_column(Integer, default=0)
    auto_closed: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    fu_reached: Mapped[int] = mapped_column(Integer, default=0)
    fu_not_reached: Mapped[int] = mapped_column(Integer, default=0)
    fu_resolved: Mapped[int] = mapped_column(Integer, default=0)
    fu_escalated: Mapped[int] = mapped_column(Integer, default=0)


class DailyTechnicianHold(db.Model):
    """Seconds on hold, by reason, of the requests a technician handled on a local day."""

    __tablename__ = "daily_technician_holds"
    __table_args__ = (Index("ix_daily_technician_holds_technician_day", "technician_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, default=0)


class FollowUpRule(db.Model):
    """The share of a centre's closed requests (of one category, or all) the follow-up sample covers.

    A category marked as complaints is always followed up in full (100 %).
    The rule without a category is the centre's default.
    """

    __tablename__ = "follow_up_rules"
    __table_args__ = (
        UniqueConstraint("centre_id", "category_id"),
        CheckConstraint("share_percent BETWEEN 0 AND 100", name="share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    share_percent: Mapped[int] = mapped_column(Integer)
    is_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
