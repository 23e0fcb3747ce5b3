"""Tickets and their append-only history."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.domain.workflow import HoldReason, Priority, Status
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class EventKind(StrEnum):
    FILED = "filed"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    COMMENTED = "commented"
    PRIORITY_CHANGED = "priority_changed"
    CATEGORY_CHANGED = "category_changed"
    PAUSE_EXTENDED = "pause_extended"
    SLA_AT_RISK = "sla_at_risk"
    SLA_BREACHED = "sla_breached"
    SLA_ESCALATED = "sla_escalated"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"
    ATTACHMENT_ADDED = "attachment_added"
    FEEDBACK_GIVEN = "feedback_given"
    FEEDBACK_EDITED = "feedback_edited"
    FOLLOW_UP_OPENED = "follow_up_opened"
    FOLLOW_UP_RECORDED = "follow_up_recorded"
    # Materials and paid repairs (services/materials).
    MATERIALS_USED = "materials_used"
    QUOTE_SENT = "quote_sent"
    QUOTE_ACCEPTED = "quote_accepted"
    QUOTE_DECLINED = "quote_declined"
    QUOTE_WITHDRAWN = "quote_withdrawn"
    CHARGE_RECORDED = "charge_recorded"
    SUPERVISION_ISSUED = "supervision_issued"
    SUPERVISION_ANSWERED = "supervision_answered"
    SUPERVISION_CLOSED = "supervision_closed"
    SUPERVISION_OVERDUE = "supervision_overdue"


class Source(StrEnum):
    WEB = "web"
    QR = "qr"
    API = "api"
    PHONE = "phone"
    IMPORT = "import"
    DEMO = "demo"


class Ticket(db.Model):
    __tablename__ = "tickets"
    # Not stored: whether the category dispatches automatically, read with
    # the catalogue when the ticket is filed (services.tickets.new_ticket).
    is_auto_dispatch = None
    # Not stored: the first and last resolution at the same place and category
    # within the rework window before filing, read with the catalogue
    # (services.scorecards.summary.repeat_days).
    repeated_resolutions = None
    # Not stored: the people to tell of the filing and the centre's webhooks,
    # read with the catalogue on PostgreSQL (services.tickets._filing_catalogue).
    filing_people = None
    __table_args__ = (
        Index("ix_tickets_centre_status", "centre_id", "status"),
        Index("ix_tickets_requester_created", "requester_id", "created_at"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        # Filing reads the requests resolved shortly before at its place and
        # category (rework on the scorecards): a few index entries, however
        # many requests were resolved campus-wide that week.
        Index("ix_tickets_place_category_resolved", "location_id", "category_id", "resolved_at"),
        Index("ix_tickets_closed_at", "closed_at"),
        Index("ix_tickets_cancelled_at", "cancelled_at"),
        # Resolved requests waiting for their requester: automatic closure
        # probes it by resolution time (services/requests/closure.py).
        Index(
            "ix_tickets_awaiting_confirmation",
            "resolved_at",
            postgresql_where=text("status = 'resolved'"),
            sqlite_where=text("status = 'resolved'"),
        ),
        # The dashboards' "awaiting confirmation" per centre, category and
        # priority, read from the index alone (reports._live).
        Index(
            "ix_tickets_awaiting_by_centre",
            "centre_id",
            "category_id",
            "priority",
            postgresql_where=text("status = 'resolved'"),
            sqlite_where=text("status = 'resolved'"),
        ),
        # Each technician's open load on the centre dashboard, from the index alone.
        Index(
            "ix_tickets_open_by_assignee",
            "centre_id",
            "assignee_id",
            "status",
            "category_id",
            "priority",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # "Breached now" (reports.late_now): the open requests with a breached
        # target, as few as the late backlog, however long the history.
        Index(
            "ix_tickets_open_breached",
            "id",
            postgresql_where=text("is_open AND is_sla_breached"),
            sqlite_where=text("is_open AND is_sla_breached"),
        ),
        # "Breached now" and "at risk now" counted (reports.now_counted): each
        # late or at-risk id joined to its open ticket without reading the table.
        Index(
            "ix_tickets_open_now",
            "id",
            postgresql_include=["centre_id", "category_id", "assignee_id"],
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # The overview's longest-late walk (overview/actions.py): open requests in
        # their next deadline's order, ties in the walk's own order, so it stops
        # after the rows it shows however many share the earliest deadline.
        Index(
            "ix_tickets_open_next_due",
            "next_due_at",
            "created_at",
            "id",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        Index(
            "ix_tickets_open",
            "centre_id",
            "category_id",
            "priority",
            "created_at",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    location_note: Mapped[str] = mapped_column(String(200), default="")
    priority: Mapped[Priority] = mapped_column(StrEnumType(Priority, 16))
    status: Mapped[Status] = mapped_column(StrEnumType(Status, 16), default=Status.NEW)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(16), default="web")
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # Where RESUME returns to, and why the ticket is on hold.
    status_before_hold: Mapped[Status | None] = mapped_column(StrEnumType(Status, 16))
    hold_reason: Mapped[HoldReason | None] = mapped_column(StrEnumType(HoldReason, 32))
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    materials_used: Mapped[str] = mapped_column(Text, default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Milestones: first time each happened (kept on reopen; history has all).
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The SLA policy version the ticket runs under (None: its category has no policy).
    sla_policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy_versions.id"))
    # The earliest deadline of a running target, for ordering queues by urgency.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    is_sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # A running target has used its at-risk share (set by recompute and sweep).
    is_sla_at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    # Work is still owed (status in OPEN_STATUSES): the backlog, read
    # through a partial index that holds the open tickets only.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # "<source system>:<row id>" of an imported ticket (None otherwise):
    # importing the same source row again never makes a second ticket.
    source_key: Mapped[str | None] = mapped_column(String(120), unique=True, index=True)

    # Bumped on every change; a stale form (someone else acted first) is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)

    centre = relationship("Centre")
    category = relationship("Category")
    location = relationship("Location")
    requester = relationship("User", foreign_keys=[requester_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    slas = relationship("TicketSla", back_populates="ticket", cascade="all, delete-orphan", order_by="TicketSla.id")
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self):
        return f"<Ticket {self.reference} {self.status}>"


class TicketEvent(db.Model):
    """One entry of a ticket's history; rows are only ever inserted."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(StrEnumType(EventKind, 32))
    # None for the application itself (sweeps, auto-confirmation).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Server time when the row was written; nobody can back-date it.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    from_status: Mapped[Status | None] = mapped_column(StrEnumType(Status, 16))
    to_status: Mapped[Status | None] = mapped_column(StrEnumType(Status, 16))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor = relationship("User")


class ReferenceCounter(db.Model):
    """Last reference number used per prefix and year."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
