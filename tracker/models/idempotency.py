"""One-time keys of creating forms and API calls: what each one created."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.models.types import UTCDateTime


class IdempotencyKey(db.Model):
    """A key a user sent with a creation, and what that creation made.

    Written in the creation's own transaction (services.idempotency), so a
    key is recorded if and only if its object exists. Unique per user: a
    second submission with the same key, even at the same instant, finds
    this row instead of creating again.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    # What was created: services.idempotency.KINDS names the model.
    kind: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column()
    # sha256 of the API call's method, path and body; "" for a web form.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self):
        return f"<IdempotencyKey {self.kind} {self.object_id} of user {self.user_id}>"
