"""The administration history: every change to accounts and the catalogue."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.types import UTCDateTime


class AdminEvent(db.Model):
    """One change to a user, their roles, a centre, a category or a place, by whom and when.

    Written in the same transaction as the change (``services/audit.py``), so
    a change is never without its entry. ``changes`` maps a field to
    ``[before, after]`` (JSON values); a new password shows as
    ``["", "changed"]``, never its hash; roles as ``{"added": [...],
    "removed": [...]}``.
    """

    __tablename__ = "admin_events"
    __table_args__ = (Index("ix_admin_events_entity", "entity", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    actor = relationship("User", foreign_keys=[actor_id])
