"""Summary tables for dashboards and reports, kept current by the workers.

``daily_stats`` holds the period figures per local day, centre, category
and (current) priority; ``daily_assignee_stats`` the technicians' resolved,
on-time and late counts, keyed the same way plus the assignee; ``daily_centre_stats`` the
same counters summed per day and centre; ``stats_dirty`` lists the (day, centre) pairs a
change affected since the last refresh. The figures' definitions are in
``tracker/services/insight/reports.py``; the refresh computes each day from the
source tables with those definitions.
"""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.models.types import UTCDateTime

# Per-target counters, in column order: <target>_met, <target>_breached.
TARGET_COLUMNS = ("dispatch", "response", "arrival", "resolution", "confirmation")


class DayCounters:
    """The daily summaries' counters, one definition for both tables.

    ``daily_stats`` keeps them per centre, category and priority,
    ``daily_centre_stats`` per centre (their sums). Every one is a plain
    count summed over its rows (SUMMED_COLUMNS); ``sort_order`` puts them
    after each table's own keys, as the migrations created them.
    """

    received: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    resolved: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    closed: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    # Dispatch came later (issue 17): rows older than it hold 0, which is
    # what they counted (no policy measured dispatch before).
    dispatch_met: Mapped[int] = mapped_column(Integer, sort_order=10, default=0, server_default="0")
    dispatch_breached: Mapped[int] = mapped_column(Integer, sort_order=10, default=0, server_default="0")
    response_met: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    response_breached: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    arrival_met: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    arrival_breached: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    resolution_met: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    resolution_breached: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    confirmation_met: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    confirmation_breached: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    # Requesters' ratings given that day (feedback).
    rating_sum: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, sort_order=10, default=0)
    # Of the requests closed that day: closed by the application (nobody confirmed),
    # and those with a requester's rating (honest satisfaction, docs/feedback.md).
    closed_auto: Mapped[int] = mapped_column(Integer, sort_order=10, default=0, server_default="0")
    closed_rated: Mapped[int] = mapped_column(Integer, sort_order=10, default=0, server_default="0")


class DailyStat(DayCounters, db.Model):
    __tablename__ = "daily_stats"
    # "Figures as of": the newest refreshed_at, read by every dashboard page.
    __table_args__ = (Index("ix_daily_stats_refreshed_at", "refreshed_at"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), sort_order=20)


# daily_stats' counters, every one a plain count summed over its rows.
SUMMED_COLUMNS = (
    "received",
    "resolved",
    "closed",
    "cancelled",
    *(f"{t}_{o}" for t in TARGET_COLUMNS for o in ("met", "breached")),
    "rating_sum",
    "rating_count",
    "closed_auto",
    "closed_rated",
)


class DailyCentreStat(DayCounters, db.Model):
    """``daily_stats`` summed per local day and centre: the same counters without category and priority.

    Kept by the same refresh, in the same transaction, for the same (day,
    centre) pairs, from the rows it has just written (``stats.refresh``):
    always equal to ``SELECT day, centre_id, sum(...) FROM daily_stats GROUP
    BY day, centre_id``. The overview reads it when no category or priority
    is chosen: about 9 rows a day instead of one per centre, category and
    priority with anything that day (104 at a million tickets), so its
    reads stop growing with the daily intake (docs/dashboards.md, "A
    summary per day and centre"). A derived table: no foreign keys.
    """

    __tablename__ = "daily_centre_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class DailyAssigneeStat(db.Model):
    """Per technician: the requests resolved on a local day, and how many met their resolution target.

    The technicians' table of the centre dashboard reads it: a year or three
    of one centre's resolutions, joined to their targets, took most of a
    second at a million tickets. Keyed like ``daily_stats`` plus the request's
    current assignee; refreshed with it, for the same marked pairs.
    """

    __tablename__ = "daily_assignee_stats"
    __table_args__ = (Index("ix_daily_assignee_stats_centre_day", "centre_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)


class StatsDirty(db.Model):
    """A (local day, centre) whose daily_stats rows must be computed again.

    ``version`` grows with every new mark: a refresh deletes the row only if
    nobody marked it again while it computed. ``claimed_until`` keeps two
    refreshes off the same pair without holding a lock while computing.
    """

    __tablename__ = "stats_dirty"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    centre_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NowCount(db.Model):
    """The "now" figures of the open requests of one centre, category, priority and assignee, at a counting instant.

    Rewritten as a whole once a minute (``services/insight/now_counts.py``):
    the open backlog, the requests late now and at risk now, and the
    unacknowledged escalations of requests late or at risk, with the same
    definitions as the live counts (``reports.late_now``, ``at_risk_now``,
    the overview's escalations), evaluated at ``NowCountRun.counted_at``.
    A derived table: no foreign keys, nothing else points at it.
    """

    __tablename__ = "now_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    backlog: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    at_risk: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)


class NowEscalation(db.Model):
    """An unacknowledged escalation of an open request late or at risk at the last count (``now_counts``).

    What the overview's "things to act on" list their oldest escalations
    from, still unacknowledged and open when read: a walk of a few thousand
    rows instead of the late and at-risk sets. Keyed by the escalation,
    with its request's centre, category, priority and assignee at the count.
    """

    __tablename__ = "now_escalations"
    # The list walks them oldest first and stops at its few.
    __table_args__ = (Index("ix_now_escalations_created_at", "created_at", "escalation_id"),)

    escalation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    centre_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Integer)


class NowCountRun(db.Model):
    """When ``now_counts`` was last counted: one row (id 1), locked by each recount so two never interleave."""

    __tablename__ = "now_count_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How long the count took, for the logs and the docs' figures.
    milliseconds: Mapped[int | None] = mapped_column(Integer)
