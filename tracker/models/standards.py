"""Saved replays: a draft replayed over a period, its progress and its result (services/sla/standards)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class ReplayStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SlaReplay(db.Model):
    """A named replay: the draft and period it replays, its progress, and the result the worker wrote.

    ``params``: {"first", "last" (local dates, ISO), "centre_id", "as_of"
    (ISO instant)}. ``draft``: the checked draft document ({} for the
    published versions). ``policy_version_id``: the draft version it
    replayed, when it was one (kept with the version as the reason for a
    change). ``share_token``: the secret part of its shared link.
    """

    __tablename__ = "sla_replays"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"), index=True)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy_versions.id"), index=True)
    params: Mapped[dict] = mapped_column(JSON)
    draft: Mapped[dict] = mapped_column(JSON)
    status: Mapped[ReplayStatus] = mapped_column(StrEnumType(ReplayStatus, 16), default=ReplayStatus.QUEUED)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    share_token: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written with every chunk's progress: a running replay whose heartbeat
    # stopped lost its worker (saved.reclaim_stalled).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # workers that took it

    created_by = relationship("User")
    centre = relationship("Centre")

    @property
    def percent(self) -> int:
        if self.status is ReplayStatus.DONE:
            return 100
        return 100 * self.progress_done // self.progress_total if self.progress_total else 0
