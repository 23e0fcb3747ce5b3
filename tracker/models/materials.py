"""Materials (耗材): a centre's catalogue, its stock ledger, and paid repairs' quotes and charges.

Money is integer fen (0.01 yuan); quantities are whole units of the
material's unit (docs/materials.md).
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.centre import Bilingual
from tracker.models.types import StrEnumType, UTCDateTime


class Material(Bilingual, db.Model):
    """One item of a centre's catalogue, with its stock on hand."""

    __tablename__ = "materials"
    __table_args__ = (
        UniqueConstraint("centre_id", "code"),
        # The last guard of "stock never goes negative" (services/materials/stock.py
        # takes stock with a conditional UPDATE; this refuses anything that slips by).
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    unit: Mapped[str] = mapped_column(String(20))
    unit_cost_fen: Mapped[int] = mapped_column(Integer, default=0)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    # At or below this, the centre's heads hear of it (once per crossing).
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    centre = relationship("Centre")

    @property
    def is_low(self) -> bool:
        return self.stock <= self.low_stock_threshold

    def __repr__(self):
        return f"<Material {self.code} {self.stock}>"


class MovementKind(StrEnum):
    STOCK_IN = "stock_in"
    USED = "used"


class StockMovement(db.Model):
    """One line of the stock ledger; rows are only ever inserted."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_centre_created", "centre_id", "created_at"),
        Index("ix_stock_movements_material_id_id", "material_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    kind: Mapped[MovementKind] = mapped_column(StrEnumType(MovementKind, 16))
    # Signed: stock-in adds, use takes away.
    quantity: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    # The unit cost at the time: later price changes never rewrite a job's cost.
    unit_cost_fen: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    material = relationship("Material")
    actor = relationship("User")
    ticket = relationship("Ticket")

    @property
    def cost_fen(self) -> int:
        return abs(self.quantity) * self.unit_cost_fen


class QuoteStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Quote(db.Model):
    """A technician's price for a chargeable repair, and the requester's answer."""

    __tablename__ = "repair_quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    labour_fen: Mapped[int] = mapped_column(Integer)
    materials_fen: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[QuoteStatus] = mapped_column(StrEnumType(QuoteStatus, 16), default=QuoteStatus.PENDING)
    quoted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Who answered and when: the requester's recorded consent (or refusal).
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    quoted_by = relationship("User", foreign_keys=[quoted_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def total_fen(self) -> int:
        return self.labour_fen + self.materials_fen


class Charge(db.Model):
    """The final charge of a paid repair, for the finance centre; one per request."""

    __tablename__ = "repair_charges"
    __table_args__ = (Index("ix_repair_charges_centre_recorded", "centre_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    # The accepted quote that is the requester's consent; never None.
    quote_id: Mapped[int] = mapped_column(ForeignKey("repair_quotes.id"))
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    quote = relationship("Quote")
