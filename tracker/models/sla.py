"""Business calendars and SLA policies (versioned), and each ticket's SLA targets.

A version row is never changed once written: editing a calendar or a policy
adds a version, and tickets keep the versions they started under, so past
results never change (DESIGN.md, "History is frozen").
"""

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Priority
from tracker.extensions import db
from tracker.models.centre import Bilingual
from tracker.models.types import StrEnumType, UTCDateTime


class Calendar(Bilingual, db.Model):
    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Follow China's statutory holidays and moved working days (imported).
    follows_china_holidays: Mapped[bool] = mapped_column(Boolean, default=False)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_versions.id", use_alter=True, name="fk_calendars_current_version_id")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    current_version: Mapped["CalendarVersion | None"] = relationship(foreign_keys=[current_version_id])


class CalendarVersion(db.Model):
    __tablename__ = "calendar_versions"
    __table_args__ = (UniqueConstraint("calendar_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # BusinessCalendar.from_dict's format.
    definition: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    calendar: Mapped[Calendar] = relationship(foreign_keys=[calendar_id])


class CalendarEnteredDay(db.Model):
    """A day of a published schedule that an administrator entered (by hand or from a file), with its name.

    The day itself goes into the calendar's definition as a new version,
    like an imported one; the row keeps its name, who entered it and when,
    and shows which years have a schedule although the installed data lacks
    them. Rows are only ever inserted; a later entry for a day supersedes it.
    """

    __tablename__ = "calendar_entered_days"
    __table_args__ = (Index("ix_calendar_entered_days_calendar_id_day", "calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    # The version the entry made (or found already current when nothing changed).
    version_id: Mapped[int] = mapped_column(ForeignKey("calendar_versions.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(100))
    # "form" or "file"
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SlaPolicy(Bilingual, db.Model):
    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policy_versions.id", use_alter=True, name="fk_sla_policies_current_version_id")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    current_version: Mapped["SlaPolicyVersion | None"] = relationship(foreign_keys=[current_version_id])


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class SlaPolicyVersion(db.Model):
    """One frozen version of a policy.

    ``definition``::

        {"targets": {"response": {"calendar": "always", "minutes": {"urgent": 30, ...},
                                  "at_risk": 0.75, "share": 0.95}, ...},
         "pauses": {"waiting_parts": {"targets": ["resolution"], "cap_minutes": 4320}, ...},
         "escalation": {"ack_minutes": 15, "leadership_after_minutes": 120,
                        "defer_non_urgent_to": null}}

    Targets name a calendar by code; a ticket pins the calendar version
    current when its clock started (``TicketSla.calendar_version_id``).
    ``share`` (optional, 0 < share <= 1) is the share of requests the
    standard promises within the limit: met % is read against it.

    A version is a draft until published; a draft's definition may still be
    edited, a published one never. A request filed at ``t`` runs under the
    most recently published version whose ``effective_from`` <= ``t``
    (``services/sla/clocks.py``, ``POLICY_IN_FORCE``).
    """

    __tablename__ = "sla_policy_versions"
    __table_args__ = (
        UniqueConstraint("policy_id", "number"),
        Index("ix_sla_policy_versions_in_force", "policy_id", "status", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[VersionStatus] = mapped_column(
        StrEnumType(VersionStatus, 16), default=VersionStatus.PUBLISHED, server_default=VersionStatus.PUBLISHED.value
    )
    # An instant (UTC): the local midnight of the chosen day, or the publishing
    # instant when that day is today. None while a draft.
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    policy: Mapped[SlaPolicy] = relationship(foreign_keys=[policy_id])

    @property
    def is_draft(self) -> bool:
        return self.status is VersionStatus.DRAFT


class TicketSla(db.Model):
    """Where one target of one ticket stands, as last computed from its history.

    Rewritten by the services after every change and by the sweep when
    ``next_check_at`` passes; reports read it.
    """

    __tablename__ = "ticket_slas"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target"),
        # Finished targets have no next check: leave them out of the index.
        Index(
            "ix_ticket_slas_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
            sqlite_where=text("next_check_at IS NOT NULL"),
        ),
        Index("ix_ticket_slas_target_state_due", "target", "state", "due_at"),
        Index("ix_ticket_slas_milestone_at", "milestone_at"),
        # "At risk now" (reports.at_risk_now): the running targets past their
        # at-risk instant, a few, instead of every open ticket's targets.
        Index(
            "ix_ticket_slas_running_at_risk",
            "at_risk_at",
            postgresql_include=["due_at", "ticket_id"],  # read from the index alone
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
        # "Breached now" (reports.late_now), two parts. The running targets by
        # deadline: those past it wait for the sweep to flag them.
        Index(
            "ix_ticket_slas_running_due",
            "due_at",
            "ticket_id",
            postgresql_where=text("milestone_at IS NULL AND state = 'running'"),
            sqlite_where=text("milestone_at IS NULL AND state = 'running'"),
        ),
        # And the breaches not yet made good, probed per open ticket flagged
        # breached (ix_tickets_open_breached): cancelled and closed requests'
        # breaches stay in here but are never read for "now".
        Index(
            "ix_ticket_slas_breached_unmet",
            "ticket_id",
            postgresql_where=text("milestone_at IS NULL AND state = 'breached'"),
            sqlite_where=text("milestone_at IS NULL AND state = 'breached'"),
        ),
        # "At risk now" (reports.at_risk_now): each at-risk request probed for
        # a late target of its own, from the index alone.
        Index(
            "ix_ticket_slas_unmet_state",
            "ticket_id",
            postgresql_include=["state", "due_at"],
            postgresql_where=text("milestone_at IS NULL"),
            sqlite_where=text("milestone_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    target: Mapped[Target] = mapped_column(StrEnumType(Target, 16))
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("sla_policy_versions.id"))
    calendar_version_id: Mapped[int] = mapped_column(ForeignKey("calendar_versions.id"))
    priority: Mapped[Priority] = mapped_column(StrEnumType(Priority, 16))
    target_minutes: Mapped[float] = mapped_column(Float)
    state: Mapped[TargetState] = mapped_column(StrEnumType(TargetState, 16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    milestone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    elapsed_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    paused_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    is_pause_capped: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the state changes with no new event (at risk, due, pause cap).
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket = relationship("Ticket", back_populates="slas")


class Escalation(db.Model):
    """One level of escalation of one target of one ticket.

    Level 1 goes to the assignee (at risk), level 2 to the centre head
    (breached, or level 1 not acknowledged in time), level 3 to leadership
    (still breached after a while, or level 2 not acknowledged). The unique
    key makes each level happen once, whoever sweeps and however often.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "level"),
        Index("ix_escalations_next_action_at", "next_action_at"),
        # The overview's "escalations not acknowledged": only those of open requests, never every
        # escalation ever made, nor those left unacknowledged when their request closed (history).
        Index(
            "ix_escalations_unacknowledged",
            "ticket_id",
            postgresql_where=text("acknowledged_at IS NULL AND request_open"),
            sqlite_where=text("acknowledged_at IS NULL AND request_open"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique key starts with it.
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    target: Mapped[Target] = mapped_column(StrEnumType(Target, 16))
    level: Mapped[int] = mapped_column(Integer)
    # Why: at_risk, breached, unacknowledged (the level below was not
    # acknowledged in time) or still_breached.
    reason: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the sweep must look at it again (acknowledgement deadline, or
    # when "still breached" escalates further); None once nothing is left.
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A copy of its request's ``tickets.is_open``, kept by ``clocks._recompute`` whenever that changes
    # (a reopened request's escalations count again): it keeps the unacknowledged escalations of closed
    # requests out of ``ix_escalations_unacknowledged``. Not an acknowledgement: nobody acknowledged them.
    request_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    ticket = relationship("Ticket")
    acknowledged_by = relationship("User")
