"""The overview's period figures: totals of this period and the one before, and weekly points for sparklines.

Everything here is summed from the daily summary (``daily_centre_stats``,
or ``daily_stats`` under a category or priority filter; one statement,
grouped by day) so it stays flat as history grows; the "now" figures (backlog,
breached and at risk now) come from ``reports.figures_by`` like the tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, select

from tracker.extensions import db
from tracker.models.stats import TARGET_COLUMNS
from tracker.services.insight.reports import Filters, day_summary, period_start, scope_where
from tracker.services.sla.standards.promises import Comparison, previous_period

SPARK_WEEKS = 12
COLUMNS = (
    "received",
    "resolved",
    "cancelled",
    *(f"{t}_{o}" for t in TARGET_COLUMNS for o in ("met", "breached")),
    "rating_sum",
    "rating_count",
)
# Distance to the promised share, in points, below which a cell is "far below".
FAR_BELOW_POINTS = 5.0


@dataclass
class Sums:
    """Summary counts over some days."""

    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def add(self, other: dict[str, int]) -> None:
        for name, value in other.items():
            self.values[name] += value

    def percent(self, target: str) -> float | None:
        met, breached = self.values[f"{target}_met"], self.values[f"{target}_breached"]
        return None if met + breached == 0 else 100.0 * met / (met + breached)

    def measured(self, target: str) -> int:
        return self.values[f"{target}_met"] + self.values[f"{target}_breached"]

    @property
    def breached(self) -> int:
        """Targets breached (all four), as counted on the day of their outcome."""
        return sum(self.values[f"{t}_breached"] for t in TARGET_COLUMNS)

    @property
    def satisfaction(self) -> float | None:
        count = self.values["rating_count"]
        return None if count == 0 else self.values["rating_sum"] / count


@dataclass
class Week:
    start: date  # the Monday
    first: date  # the days counted: start..Sunday, clipped to the period's last day
    last: date
    sums: Sums = field(default_factory=Sums)


@dataclass
class PeriodFigures:
    current: Sums
    previous: Sums
    previous_first: date
    previous_last: date
    weeks: list[Week]


def period_figures(filters: Filters, *, weeks: int = SPARK_WEEKS) -> PeriodFigures:
    """Return the period's sums, the previous period's (same length, just before) and ``weeks`` weekly points.

    The weeks end with the one holding the period's last day (that week may
    be partial). One statement over ``daily_centre_stats`` (``daily_stats`` when a
    category or priority is chosen, ``reports.day_summary``): at most one row per day.
    """
    before = previous_period(filters)
    spark_first = period_start(filters.last, "week") - timedelta(weeks=weeks - 1)
    first = min(before.first, spark_first)
    stat = day_summary(filters)
    clauses = [stat.day >= first, stat.day <= filters.last, scope_where(filters, stat)]
    query = (
        select(stat.day, *(func.coalesce(func.sum(getattr(stat, c)), 0) for c in COLUMNS))
        .where(and_(*clauses))
        .group_by(stat.day)
    )
    current, previous = Sums(), Sums()
    by_week: dict[date, Sums] = defaultdict(Sums)
    for day, *values in db.session.execute(query):
        numbers = dict(zip(COLUMNS, (int(v or 0) for v in values), strict=True))
        if filters.first <= day <= filters.last:
            current.add(numbers)
        elif before.first <= day <= before.last:
            previous.add(numbers)
        if day >= spark_first:
            by_week[period_start(day, "week")].add(numbers)
    points = []
    for index in range(weeks):
        start = spark_first + timedelta(weeks=index)
        points.append(
            Week(
                start=start,
                first=start,
                last=min(start + timedelta(days=6), filters.last),
                sums=by_week.get(start, Sums()),
            )
        )
    return PeriodFigures(current, previous, before.first, before.last, points)


# ---------------------------------------------------------------- the grid: met % against the standard


ABOVE, AT, BELOW, FAR_BELOW, NO_STANDARD, NOTHING = (
    "above",
    "at",
    "below",
    "far_below",
    "no_standard",
    "nothing",
)


def standing(comparison: Comparison) -> str:
    """Return where a cell's met % stands against its promised share.

    ``at``: kept, within one point above the promise; ``above``: more than
    one point above; ``below``: missed by less than ``FAR_BELOW_POINTS``;
    ``far_below``: missed by that or more. ``nothing`` when nothing was
    measured, ``no_standard`` when the standard promises no share.
    """
    if comparison.met_percent is None:
        return NOTHING
    gap = comparison.gap
    if gap is None:
        return NO_STANDARD
    if gap >= 1.0:
        return ABOVE
    if gap >= -1e-9:
        return AT
    if gap > -FAR_BELOW_POINTS:
        return BELOW
    return FAR_BELOW


@dataclass
class Promise:
    """A target's promise over several centres: how many keep it, and the strictest share promised."""

    kept: int = 0
    judged: int = 0  # centres with both a promised share and something measured
    strictest: float | None = None  # percent


def promises_by_target(comparisons: list[Comparison]) -> dict[str, Promise]:
    result: dict[str, Promise] = {}
    for comparison in comparisons:
        promise = result.setdefault(comparison.target, Promise())
        if comparison.promised_percent is not None:
            promise.strictest = max(promise.strictest or 0.0, comparison.promised_percent)
        if comparison.is_kept is not None:
            promise.judged += 1
            promise.kept += int(comparison.is_kept)
    return result
