"""Display links: a read-only address a wall screen opens without a login."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import UTCDateTime


class DisplayLink(db.Model):
    """A secret address of the wall display (``/display/<secret>``), made and revoked by administrators.

    Only the SHA-256 of the secret is stored: the address is shown once,
    when the link is made. ``centre_id`` None shows every centre; otherwise
    the link shows that centre only. A revoked link answers 410 Gone.
    """

    __tablename__ = "display_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    # The secret's first characters, shown in the list so administrators can tell links apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    centre = relationship("Centre")
    created_by = relationship("User", foreign_keys=[created_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self):
        return f"<DisplayLink {self.prefix} centre {self.centre_id}>"
