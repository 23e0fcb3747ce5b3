"""Benchmarks: published reference values of other campuses, and the standards they are set beside."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import UTCDateTime


class Benchmark(db.Model):
    """One published commitment of another campus or of an industry ("first-class" value, 对标一流).

    ``target``, ``service`` and ``service_class`` are the source's own words
    (its classes do not map onto our priorities). The limit is an amount in
    a unit (``minutes``, ``hours``, ``days``, ``working_hours``,
    ``working_days``), both None when the source gives none; ``calendar`` is
    ``24x7``, ``working_hours``, ``working_days`` or None; ``share`` a
    fraction (0 < share <= 1) or None.
    """

    __tablename__ = "benchmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(String(200))
    source_url: Mapped[str] = mapped_column(String(500), default="")
    read_year: Mapped[int] = mapped_column(Integer)
    country: Mapped[str] = mapped_column(String(8), default="")
    service: Mapped[str] = mapped_column(String(64))
    service_class: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(32))
    limit_amount: Mapped[float | None] = mapped_column(Float)
    limit_unit: Mapped[str | None] = mapped_column(String(16))
    calendar: Mapped[str | None] = mapped_column(String(16))
    share: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class BenchmarkLink(db.Model):
    """A standard (a policy's target, optionally one priority) set beside a benchmark by its centre head."""

    __tablename__ = "benchmark_links"
    __table_args__ = (Index("ix_benchmark_links_policy_target", "policy_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"))
    # Our target (tracker.domain.sla_clock.Target) and priority (None: every priority).
    target: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(16))
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    benchmark: Mapped[Benchmark] = relationship()
