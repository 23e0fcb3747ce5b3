"""Supervision orders (督办): leadership's instruction on a request or a rectification item.

An order names one responsible person and a deadline. It is open until
that person answers it, and leadership closes it once satisfied. Its
outcome is read from its instants: answered on time (at or before the
deadline), late (answered after it), or open. The sweep flags an open
order whose deadline passed once (``overdue_at``), as it flags a breached
target (docs/supervision.md).
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class OrderStatus(StrEnum):
    OPEN = "open"  # waiting for the responsible person's answer
    ANSWERED = "answered"  # answered; leadership may close it
    CLOSED = "closed"  # leadership closed it


class SupervisionOrder(db.Model):
    __tablename__ = "supervision_orders"
    __table_args__ = (
        Index("ix_supervision_orders_responsible_status", "responsible_id", "status"),
        Index("ix_supervision_orders_deadline_at", "deadline_at"),
        # The sweep's probe: open orders not yet flagged overdue, by deadline.
        Index(
            "ix_supervision_orders_unflagged",
            "deadline_at",
            postgresql_where=text("status = 'open' AND overdue_at IS NULL"),
            sqlite_where=text("status = 'open' AND overdue_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Exactly one of the two: the request or the rectification item supervised.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("rectification_items.id", ondelete="CASCADE"), index=True
    )
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    instruction: Mapped[str] = mapped_column(Text)
    responsible_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[OrderStatus] = mapped_column(StrEnumType(OrderStatus, 16), default=OrderStatus.OPEN)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set once by the sweep when the deadline passed unanswered.
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    reference: Mapped[str] = mapped_column(String(40), default="")  # the supervised item's, for lists
