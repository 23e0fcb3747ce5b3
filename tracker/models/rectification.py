"""Rectification items, their append-only history, their linked requests and their deadline alerts."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.domain.rectification import ItemStatus, Source
from tracker.domain.workflow import Priority
from tracker.extensions import db
from tracker.models.ticket import Ticket
from tracker.models.types import StrEnumType, UTCDateTime


class RectificationEventKind(StrEnum):
    CREATED = "created"
    STARTED = "started"
    PROGRESS_UPDATED = "progress_updated"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REASSIGNED = "reassigned"
    DEADLINE_CHANGED = "deadline_changed"
    COMMENTED = "commented"
    TICKETS_LINKED = "tickets_linked"
    EVIDENCE_ADDED = "evidence_added"
    AT_RISK = "rectification_at_risk"
    OVERDUE = "rectification_overdue"
    SUPERVISION_ISSUED = "supervision_issued"
    SUPERVISION_ANSWERED = "supervision_answered"
    SUPERVISION_CLOSED = "supervision_closed"
    SUPERVISION_OVERDUE = "supervision_overdue"


class RectificationItem(db.Model):
    """A problem raised by staff and students that a centre must fix by a deadline, and leadership verify."""

    __tablename__ = "rectification_items"
    __table_args__ = (
        Index("ix_rectification_items_centre_status", "centre_id", "status"),
        Index("ix_rectification_items_responsible_status", "responsible_id", "status"),
        Index("ix_rectification_items_created_at", "created_at"),
        Index("ix_rectification_items_verified_at", "verified_at"),
        Index("ix_rectification_items_due_at", "due_at"),
        # The sweep reads only the items whose state changes with time next.
        Index(
            "ix_rectification_items_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
            sqlite_where=text("next_check_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RC-2026-0012: the local year and a number counted per year.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[Source] = mapped_column(StrEnumType(Source, 32))
    # Free text: which survey, visit, inspection or meeting raised it.
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    # What it is about, when it grew out of repeated faults at one place.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    responsible_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    priority: Mapped[Priority] = mapped_column(StrEnumType(Priority, 16), default=Priority.NORMAL)
    status: Mapped[ItemStatus] = mapped_column(StrEnumType(ItemStatus, 32), default=ItemStatus.OPEN)

    # The deadline as people set it (a local date) and the instant it ends.
    due_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at_risk_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the sweep must look at the item next (at risk, overdue); None: never.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    progress_percent: Mapped[int | None] = mapped_column(Integer)
    # The fix as submitted for verification (the last submission; history has all).
    fix_summary: Mapped[str] = mapped_column(Text, default="")
    rejection_count: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Bumped on every change; a stale form (someone else acted first) is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)

    centre = relationship("Centre")
    location = relationship("Location")
    category = relationship("Category")
    responsible = relationship("User", foreign_keys=[responsible_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    verified_by = relationship("User", foreign_keys=[verified_by_id])
    events: Mapped[list["RectificationEvent"]] = relationship(
        back_populates="item", order_by="RectificationEvent.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self):
        return f"<RectificationItem {self.reference} {self.status}>"


class RectificationEvent(db.Model):
    """One entry of an item's history; rows are only ever inserted."""

    __tablename__ = "rectification_events"
    __table_args__ = (
        Index("ix_rectification_events_item_id_id", "item_id", "id"),
        # The weekly report counts rejections per week.
        Index("ix_rectification_events_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("rectification_items.id", ondelete="CASCADE"))
    kind: Mapped[RectificationEventKind] = mapped_column(StrEnumType(RectificationEventKind, 32))
    # None for the application itself (the deadline sweep).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Server time when the row was written; nobody can back-date it.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_status: Mapped[ItemStatus | None] = mapped_column(StrEnumType(ItemStatus, 32))
    to_status: Mapped[ItemStatus | None] = mapped_column(StrEnumType(ItemStatus, 32))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    item: Mapped[RectificationItem] = relationship(back_populates="events")
    actor = relationship("User")


class RectificationItemTicket(db.Model):
    """A request linked to an item (a complaint cluster, a repeated fault): both pages show the link."""

    __tablename__ = "rectification_item_tickets"
    __table_args__ = (Index("ix_rectification_item_tickets_ticket_id", "ticket_id"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("rectification_items.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    ticket = relationship("Ticket")


class RectificationAlert(db.Model):
    """An at-risk or overdue alert raised by the sweep, once per item, kind and deadline.

    Unique per (item, kind, deadline) and inserted with ON CONFLICT DO
    NOTHING: two sweeps at once write one alert, one event and one set of
    notices. A new deadline can be warned about again.
    """

    __tablename__ = "rectification_alerts"
    __table_args__ = (UniqueConstraint("item_id", "kind", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("rectification_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # at_risk | overdue
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Repeat faults (hotspots): several requests of one category at one place in
# a window. Declared here, with the feature that reads it.
Index("ix_tickets_location_category_created", Ticket.location_id, Ticket.category_id, Ticket.created_at)
