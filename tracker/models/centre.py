"""Service centres, their request categories, and campus locations."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.domain.i18n import TEXT_LANGUAGES, pick
from tracker.domain.workflow import Priority
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class Bilingual:
    """Rows whose staff-written texts are stored per language: ``<field>_zh`` and ``<field>_en``.

    The one way to read them (pages, exports, notices, the API): the
    reader's language, the other one when it is empty (docs/i18n.md).
    """

    name_en: Mapped[str]
    name_zh: Mapped[str]

    def text_for(self, field: str, locale: str | None) -> str:
        """Return ``field`` in ``locale`` (zh* gives Chinese), falling back to the other language."""
        return pick(getattr(self, f"{field}_zh", ""), getattr(self, f"{field}_en", ""), locale)

    def texts(self, field: str) -> dict[str, str]:
        """Return ``field`` in every language as stored, e.g. ``{"zh_CN": "…", "en": ""}`` (the API's form)."""
        return {locale: getattr(self, f"{field}_{suffix}", "") or "" for locale, suffix in TEXT_LANGUAGES}

    def name_for(self, locale: str | None) -> str:
        """Return the name in ``locale`` (zh* gives Chinese), falling back to the other."""
        return self.text_for("name", locale)


class Centre(Bilingual, db.Model):
    __tablename__ = "centres"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    # First part of ticket references, e.g. "RP" in RP-2026-000123.
    ref_prefix: Mapped[str] = mapped_column(String(4), unique=True)
    # Shown under the name on the centre chooser, in the reader's language.
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    categories: Mapped[list["Category"]] = relationship(
        back_populates="centre", order_by="Category.sort_order, Category.id"
    )

    def __repr__(self):
        return f"<Centre {self.code}>"


class Category(Bilingual, db.Model):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("centre_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    code: Mapped[str] = mapped_column(String(48))
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    default_priority: Mapped[Priority] = mapped_column(StrEnumType(Priority, 16), default=Priority.NORMAL)
    # The SLA policy its tickets run under; None: no SLA is measured.
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Paid repair (有偿维修): work needs the requester's accepted quote (docs/materials.md).
    is_chargeable: Mapped[bool] = mapped_column(Boolean, default=False)

    centre: Mapped[Centre] = relationship(back_populates="categories")
    sla_policy = relationship("SlaPolicy")

    def __repr__(self):
        return f"<Category {self.code}>"


class LocationKind:
    CAMPUS = "campus"
    BUILDING = "building"
    FLOOR = "floor"
    ROOM = "room"
    AREA = "area"
    MACHINE = "machine"
    ALL = (CAMPUS, BUILDING, FLOOR, ROOM, AREA, MACHINE)


class Location(Bilingual, db.Model):
    """A place on campus (campus › building › floor › room) or a machine."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(160))
    name_zh: Mapped[str] = mapped_column(String(160))
    # A machine or room may pre-fill the request form (QR codes).
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Repairs here are paid (private residences, research rooms): docs/materials.md.
    is_chargeable: Mapped[bool] = mapped_column(Boolean, default=False)

    parent: Mapped["Location | None"] = relationship(remote_side=[id])

    def path(self, locale: str | None) -> str:
        """Return the names from the campus down, joined by ›."""
        names, node, seen = [], self, set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            names.append(node.name_for(locale))
            node = node.parent
        return " › ".join(reversed(names))

    def __repr__(self):
        return f"<Location {self.code}>"
