"""Requesters' ratings of resolved requests, and the follow-ups they and the weekly sample cause."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class FeedbackChannel(StrEnum):
    WEB = "web"  # on the request's page, logged in
    LINK = "link"  # through the signed link in the "resolved" e-mail, no login


class Feedback(db.Model):
    """The requester's one rating (1 to 5) of a request, with a comment.

    Given once the request is resolved or closed; changeable for
    FEEDBACK_EDIT_MINUTES after it was first given. ``given_at`` stays the
    first instant: satisfaction counts on that local day.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_feedback_given_at", "given_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One rating per request: the unique key refuses a second one, whoever races.
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The requester, or None when given through the signed link (no login).
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[FeedbackChannel] = mapped_column(StrEnumType(FeedbackChannel, 16))

    ticket = relationship("Ticket")
    given_by = relationship("User")


class FollowUpKind(StrEnum):
    LOW_RATING = "low_rating"  # a rating of 2 or less: the head visits
    SAMPLE_CALL = "sample_call"  # drawn in the weekly sample: the head calls


class FollowUpStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class FollowUpResult(StrEnum):
    REACHED = "reached"  # talked to the requester; nothing more to do
    NOT_REACHED = "not_reached"  # could not reach the requester
    RESOLVED = "resolved"  # the requester's complaint was settled
    ESCALATED = "escalated"  # passed on: a rectification item, leadership, a new request


class FollowUp(db.Model):
    """A follow-up visit or call of a request, for the heads of its centre.

    At most one of each kind per request; the weekly sample never draws a
    request that has one already.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind"),
        Index("ix_follow_ups_centre_status_due", "centre_id", "status", "due_at"),
        # The overview's "low ratings not followed up", campus-wide.
        Index(
            "ix_follow_ups_open_low_rating",
            "created_at",
            postgresql_where=text("status = 'open' AND kind = 'low_rating'"),
            sqlite_where=text("status = 'open' AND kind = 'low_rating'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    # The ticket's centre when opened: whose heads it is assigned to.
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    kind: Mapped[FollowUpKind] = mapped_column(StrEnumType(FollowUpKind, 16))
    status: Mapped[FollowUpStatus] = mapped_column(StrEnumType(FollowUpStatus, 16), default=FollowUpStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The Monday of the week whose closed requests the sample was drawn from.
    sample_week: Mapped[date | None] = mapped_column(Date)
    # What the head recorded: when the requester was contacted, the result, notes.
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[FollowUpResult | None] = mapped_column(StrEnumType(FollowUpResult, 16))
    outcome: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    ticket = relationship("Ticket")
    centre = relationship("Centre")
    done_by = relationship("User")


class FollowUpSample(db.Model):
    """That a centre's weekly sample was drawn: the unique key makes each draw happen once."""

    __tablename__ = "follow_up_samples"
    __table_args__ = (UniqueConstraint("week_start", "centre_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    size: Mapped[int] = mapped_column(Integer)  # asked for (FOLLOW_UP_SAMPLE_PER_CENTRE)
    drawn: Mapped[int] = mapped_column(Integer, default=0)  # found: fewer when the week closed fewer
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
