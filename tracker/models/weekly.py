"""The weekly report for the weekly work meeting: one row per local week.

The row is the week's report: regenerating replaces its content and
counts up ``generation``, so there is one report per week to read, mail
and link to. The content is stored as JSON, as it was computed: later
changes to the tickets do not change a stored report until it is
generated again.
"""

from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class ReportStatus(StrEnum):
    GENERATING = "generating"  # asked for or being computed; an older content may still be shown
    READY = "ready"
    FAILED = "failed"  # the last generation failed; ``error`` says why, an older content may remain


class WeeklyReport(db.Model):
    __tablename__ = "weekly_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Monday of the local (campus time zone) week, Monday to Sunday.
    week_start: Mapped[date] = mapped_column(Date, unique=True)
    # 1 for the first generation, one more for each regeneration; a worker
    # writes its result only while the row still has its generation.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[ReportStatus] = mapped_column(StrEnumType(ReportStatus, 16), default=ReportStatus.GENERATING)
    # Of the current generation: who asked (None: the schedule) and when.
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None while the asked-for generation waits for a worker.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A generation not finished by then is taken over (its worker died or
    # its task was lost); each step of progress moves it on.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # When the content was computed (its "now" figures are as of then).
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    content: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    # When leadership's notices were queued; they are sent once per week.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    generated_by = relationship("User")

    @property
    def week_end(self) -> date:
        """Return the Sunday that ends the week."""
        return self.week_start + timedelta(days=6)

    @property
    def is_generating(self) -> bool:
        return self.status is ReportStatus.GENERATING

    def __repr__(self):
        return f"<WeeklyReport {self.week_start} #{self.generation} {self.status}>"
