"""Files attached to tickets and other records (photos and PDFs)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import UTCDateTime


class Attachment(db.Model):
    """One stored file; the bytes live under ATTACHMENTS_DIR, never in the database.

    ``owner_type`` names a kind registered with ``services.attachments``
    ("ticket", later "rectification_item"); ``owner_id`` is that row's id,
    so there is no foreign key. ``stored_name`` is generated (uuid4 hex and
    the extension of the detected type): the user's file name never reaches
    the file system.
    """

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_owner", "owner_type", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(Integer)
    # Sanitised: shown on pages and offered as the download's name.
    original_name: Mapped[str] = mapped_column(String(255))
    # As detected from the bytes, never as the browser said.
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    uploaded_by = relationship("User")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self):
        return f"<Attachment {self.id} {self.owner_type}:{self.owner_id} {self.content_type}>"
