"""Actual figures against the centres' own standards and the benchmarks linked to them.

Per centre and target: met % of the period and of the period before, the
share the centre's standard promises, the gap in points, and each linked
benchmark. Read by the dashboards and the weekly report; changes nothing.

Which standard: the versions in force at the given instant (the end of the
period, or now while it runs) of the policies
of the centre's categories (the chosen category only, when one is). When
those promise different shares for a target, the strictest (highest) is
the centre's promise; its limit is shown as the range over priorities and
policies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import and_, case, func, select

from tracker.extensions import db
from tracker.models import (
    Benchmark,
    BenchmarkLink,
    Category,
    DailyCentreStat,
    DailyStat,
    SlaPolicy,
)
from tracker.models.stats import TARGET_COLUMNS
from tracker.services.insight.reports import Filters, day_summary
from tracker.services.sla import clocks as sla


@dataclass
class BenchmarkView:
    """A linked benchmark as the comparison shows it."""

    id: int
    source_name: str
    source_url: str
    read_year: int
    service_class: str
    limit_amount: float | None
    limit_unit: str | None
    calendar: str | None
    share: float | None
    gap: float | None = None  # our met % minus their share, in points (None without a share)


@dataclass
class Comparison:
    """One centre's one target: actual, own standard, benchmarks."""

    centre_id: int
    target: str
    met: int = 0
    breached: int = 0
    previous_met: int = 0
    previous_breached: int = 0
    share: float | None = None  # the promised share (fraction), None when the standard states none
    limit_low: float | None = None  # minutes, over priorities and policies
    limit_high: float | None = None
    calendar: str | None = None  # "24x7" or "working_hours"; None when the policies differ
    benchmarks: list[BenchmarkView] = field(default_factory=list)

    @property
    def met_percent(self) -> float | None:
        done = self.met + self.breached
        return None if done == 0 else 100.0 * self.met / done

    @property
    def previous_percent(self) -> float | None:
        done = self.previous_met + self.previous_breached
        return None if done == 0 else 100.0 * self.previous_met / done

    @property
    def promised_percent(self) -> float | None:
        return None if self.share is None else 100.0 * self.share

    @property
    def gap(self) -> float | None:
        """Met % minus the promised share, in points (negative: the promise was not kept)."""
        if self.met_percent is None or self.share is None:
            return None
        return self.met_percent - 100.0 * self.share

    @property
    def is_kept(self) -> bool | None:
        gap = self.gap
        return None if gap is None else gap >= -1e-9

    @property
    def trend(self) -> float | None:
        """Met % minus the previous period's, in points."""
        if self.met_percent is None or self.previous_percent is None:
            return None
        return self.met_percent - self.previous_percent

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Comparison:
        data = dict(data)
        data["benchmarks"] = [BenchmarkView(**b) for b in data.get("benchmarks", [])]
        return cls(**data)


def standard_instant(filters: Filters, now: datetime) -> datetime:
    """Return the instant whose standards a period is read against: its last moment, or ``now`` while it runs."""
    return min(now, filters.bounds[1] - timedelta(microseconds=1))


def previous_period(filters: Filters) -> Filters:
    """Return the period of the same length just before ``filters``' (same centre, category, priority)."""
    days = (filters.last - filters.first).days + 1
    return Filters(
        first=filters.first - timedelta(days=days),
        last=filters.first - timedelta(days=1),
        centre_id=filters.centre_id,
        category_id=filters.category_id,
        priority=filters.priority,
    )


def compare(filters: Filters, centre_ids: list[int], at: datetime) -> list[Comparison]:
    """Return, per centre (in the given order) and target, the period's actual figure beside its standard.

    A target appears when the centre's standard measures it or when the
    period counted it.
    """
    if not centre_ids:
        return []
    counts = _counts(filters, centre_ids)
    standards = _standards(centre_ids, filters.category_id, at)
    result = []
    for centre_id in centre_ids:
        for target in TARGET_COLUMNS:
            row = counts.get((centre_id, target))
            standard = standards.get((centre_id, target))
            if row is None and standard is None:
                continue
            comparison = row or Comparison(centre_id=centre_id, target=target)
            if standard is not None:
                _set_standard(comparison, standard)
            result.append(comparison)
    return result


def compare_categories(
    filters: Filters, centre_id: int, categories: list[Category], at: datetime
) -> dict[int, list[Comparison]]:
    """Return ``compare`` for each of a centre's categories, with one summary statement for them all.

    The same figures as ``compare`` with ``category_id`` set, category by
    category; the standards are read once per policy (categories sharing a
    policy share its standard).
    """
    if not categories:
        return {}
    counts = _counts(filters, [centre_id], by_category=[c.id for c in categories])
    standards_by_policy: dict[int | None, dict] = {}
    result = {}
    for category in categories:
        if category.sla_policy_id not in standards_by_policy:
            standards_by_policy[category.sla_policy_id] = _standards([centre_id], category.id, at)
        standards = standards_by_policy[category.sla_policy_id]
        rows = []
        for target in TARGET_COLUMNS:
            row = counts.get((category.id, target))
            standard = standards.get((centre_id, target))
            if row is None and standard is None:
                continue
            comparison = row or Comparison(centre_id=centre_id, target=target)
            if standard is not None:
                _set_standard(comparison, standard)
            rows.append(comparison)
        result[category.id] = rows
    return result


def compare_draft(
    counts: dict[tuple[int, str], tuple[int, int]],
    centre_ids: list[int],
    at: datetime,
    policies: dict[str, dict],
) -> list[Comparison]:
    """Return, per centre and target linked to a benchmark, a replay's figure under a draft beside it.

    ``counts``: (met, late) per (centre id, target) under the draft;
    ``policies``: the draft's definitions by policy code, standing in for
    the versions in force at ``at``. Only the targets with a linked benchmark
    are returned: the dashboards' comparison, for what the draft would have
    done.
    """
    if not centre_ids:
        return []
    overrides = {}
    if policies:
        for policy_id, code in db.session.execute(
            select(SlaPolicy.id, SlaPolicy.code).where(SlaPolicy.code.in_(list(policies)))
        ):
            overrides[policy_id] = policies[code]
    standards = _standards(centre_ids, None, at, overrides)
    result = []
    for centre_id in centre_ids:
        for target in TARGET_COLUMNS:
            standard = standards.get((centre_id, target))
            if standard is None or not standard["benchmarks"]:
                continue
            met, late = counts.get((centre_id, target), (0, 0))
            comparison = Comparison(centre_id=centre_id, target=target, met=met, breached=late)
            _set_standard(comparison, standard)
            result.append(comparison)
    return result


def _set_standard(comparison: Comparison, standard: dict) -> None:
    """Put the standard and its benchmarks beside the figure; each benchmark's gap is met % minus its share."""
    comparison.share, comparison.limit_low, comparison.limit_high = (
        standard["share"],
        standard["low"],
        standard["high"],
    )
    calendars = standard["calendars"]
    comparison.calendar = next(iter(calendars)) if len(calendars) == 1 else None
    comparison.benchmarks = standard["benchmarks"]
    for view in comparison.benchmarks:
        met = comparison.met_percent
        view.gap = None if view.share is None or met is None else met - 100.0 * view.share


def _counts(
    filters: Filters, centre_ids: list[int], *, by_category: list[int] | None = None
) -> dict[tuple[int, str], Comparison]:
    """Sum met and breached per centre and target over the period and the one before, in one query.

    ``by_category``: per category of those instead (keys are (category id, target)).
    One row per group and period (``day >= first``: the period, else the
    one before), ten plain sums: building fifty ``case`` expressions cost
    more of the page's Python than the statement's run (issue 21). From
    ``daily_centre_stats`` unless a category or priority is chosen or the
    rows are per category (``reports.day_summary``).
    """
    before = previous_period(filters)
    stat = DailyStat if by_category is not None else day_summary(filters)
    clauses = [
        stat.day >= before.first,
        stat.day <= filters.last,
        stat.centre_id.in_(centre_ids),
    ]
    if filters.category_id is not None:
        clauses.append(stat.category_id == filters.category_id)
    if filters.priority:
        clauses.append(stat.priority == filters.priority)
    key = stat.centre_id
    if by_category is not None:
        clauses.append(stat.category_id.in_(by_category))
        key = stat.category_id
    current = (stat.day >= filters.first).label("current")
    query = select(key, current, *_SUMS[stat]).where(and_(*clauses)).group_by(key, current)
    sums: dict[int, dict[bool, list[int]]] = {}
    for group, is_current, *values in db.session.execute(query):
        sums.setdefault(group, {})[bool(is_current)] = [int(v or 0) for v in values]
    result = {}
    nothing = [0] * (2 * len(TARGET_COLUMNS))
    for group, periods in sums.items():
        numbers, previous = periods.get(True, nothing), periods.get(False, nothing)
        for index, target in enumerate(TARGET_COLUMNS):
            met, breached = numbers[2 * index], numbers[2 * index + 1]
            previous_met, previous_breached = previous[2 * index], previous[2 * index + 1]
            if met + breached + previous_met + previous_breached:
                centre_id = group if by_category is None else centre_ids[0]
                result[(group, target)] = Comparison(
                    centre_id=centre_id,
                    target=target,
                    met=met,
                    breached=breached,
                    previous_met=previous_met,
                    previous_breached=previous_breached,
                )
    return result


# Met and breached of each target, in TARGET_COLUMNS' order, per summary table: built once, shared by every statement.
_SUMS = {
    stat: [func.sum(getattr(stat, f"{target}_{outcome}")) for target in TARGET_COLUMNS for outcome in ("met", "breached")]
    for stat in (DailyStat, DailyCentreStat)
}


def _standards(
    centre_ids: list[int], category_id: int | None, at: datetime, overrides: dict[int, dict] | None = None
) -> dict[tuple[int, str], dict]:
    """Return per centre and target: the promised share, the limit's range, calendars, linked benchmarks.

    ``overrides``: definitions by policy id read instead of the versions in
    force (a draft's). Three statements whatever the number of policies: the
    categories with their policy's version in force at ``at`` (none for a
    switched-off policy) and the calendars' generation, the calendars' current
    versions (only when that generation moved) and the linked benchmarks. The
    definitions are kept per process by version id (``sla.policy_definition``,
    ``sla.calendar_version``): a published version never changes.
    """
    in_force = case((SlaPolicy.is_active.is_(True), sla.policy_in_force_at(at)), else_=None)
    query = select(Category.centre_id, Category.sla_policy_id, in_force, sla.CALENDAR_GENERATION).outerjoin(
        SlaPolicy, SlaPolicy.id == Category.sla_policy_id
    )
    if category_id is not None:
        query = query.where(Category.id == category_id, Category.sla_policy_id.is_not(None))
    else:
        query = query.where(
            Category.centre_id.in_(centre_ids),
            Category.sla_policy_id.is_not(None),
            Category.is_active.is_(True),
        )
    policies_of: dict[int, set[int]] = {}
    version_of: dict[int, int | None] = {}
    rows = db.session.execute(query).all()
    for centre_id, policy_id, version_id, _generation in rows:
        policies_of.setdefault(centre_id, set()).add(policy_id)
        version_of[policy_id] = version_id
    generation = rows[0][3] if rows else None
    every_policy = set(version_of)
    definitions = {}
    for policy_id, version_id in version_of.items():
        if overrides and policy_id in overrides:
            definitions[policy_id] = overrides[policy_id]
        elif version_id is not None:
            definitions[policy_id] = sla.policy_definition(version_id)
    round_the_clock = round_the_clock_calendars(generation)
    links: dict[tuple[int, str], list[tuple]] = {}
    if every_policy:
        for policy_id, target, *benchmark in db.session.execute(
            select(BenchmarkLink.policy_id, BenchmarkLink.target, *_BENCHMARK_COLUMNS)
            .join(Benchmark, Benchmark.id == BenchmarkLink.benchmark_id)
            .where(BenchmarkLink.policy_id.in_(every_policy))
            .order_by(Benchmark.id)
        ):
            links.setdefault((policy_id, target), []).append(benchmark)
    result: dict[tuple[int, str], dict] = {}
    for centre_id, policy_ids in policies_of.items():
        for policy_id in sorted(policy_ids):
            for target, rule in (definitions.get(policy_id) or {}).get("targets", {}).items():
                entry = result.setdefault(
                    (centre_id, target),
                    {
                        "share": None,
                        "low": None,
                        "high": None,
                        "calendars": set(),
                        "benchmarks": [],
                        "seen": set(),
                    },
                )
                share = rule.get("share")
                if share is not None and (entry["share"] is None or share > entry["share"]):
                    entry["share"] = float(share)
                minutes = [float(m) for m in (rule.get("minutes") or {}).values() if m is not None]
                if minutes:
                    entry["low"] = min(minutes + ([entry["low"]] if entry["low"] is not None else []))
                    entry["high"] = max(minutes + ([entry["high"]] if entry["high"] is not None else []))
                entry["calendars"].add("24x7" if rule.get("calendar") in round_the_clock else "working_hours")
                for benchmark in links.get((policy_id, target), []):
                    if benchmark[0] not in entry["seen"]:
                        entry["seen"].add(benchmark[0])
                        entry["benchmarks"].append(BenchmarkView(*benchmark))
    return result


# BenchmarkView's fields but the gap, in its order.
_BENCHMARK_COLUMNS = (
    Benchmark.id,
    Benchmark.source_name,
    Benchmark.source_url,
    Benchmark.read_year,
    Benchmark.service_class,
    Benchmark.limit_amount,
    Benchmark.limit_unit,
    Benchmark.calendar,
    Benchmark.share,
)


def round_the_clock_calendars(generation: int | None = None) -> set[str]:
    """Return the codes of the calendars whose current version works every hour of every day.

    ``generation``: ``sla.CALENDAR_GENERATION`` if the caller read it (read
    here otherwise): the current versions are read again only when it moved,
    each version's definition once per process.
    """
    if generation is None:
        generation = db.session.execute(select(sla.CALENDAR_GENERATION)).scalar()
    return {
        code
        for code, version_id in sla.current_calendar_versions(generation).items()
        if version_id is not None and _works_every_hour(sla.calendar_definition(version_id))
    }


def _works_every_hour(definition: dict) -> bool:
    whole = [["00:00", "24:00"]]
    week = definition.get("week") or {}
    return len(week) == 7 and all(intervals == whole for intervals in week.values())


# ---------------------------------------------------------------- text


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def limit_text(amount: float | None, unit: str | None) -> str:
    """Return a limit as people write it: "30 min", "2 h", "3 working days"; "—" without one."""
    if amount is None or unit is None:
        return "—"
    if unit == "minutes" and amount >= 60:
        amount, unit = amount / 60, "hours"
    templates = {
        "minutes": gettext("%(num)s min", num=_number(amount)),
        "hours": gettext("%(num)s h", num=_number(amount)),
        "days": gettext("%(num)s d", num=_number(amount)),
        "working_hours": gettext("%(num)s working hours", num=_number(amount)),
        "working_days": gettext("%(num)s working days", num=_number(amount)),
    }
    return templates.get(unit, f"{_number(amount)} {unit}")


def calendar_text(calendar: str | None) -> str:
    """Return "24×7", "working hours", "working days", or "" when not stated."""
    return {
        "24x7": "24×7",
        "working_hours": gettext("working hours"),
        "working_days": gettext("working days"),
    }.get(calendar or "", "")


def standard_text(comparison: Comparison) -> str:
    """Return the own standard as one line: "30 min, 24×7, 95 %" (a range when priorities differ)."""
    if comparison.limit_low is None:
        return "—"
    low = limit_text(comparison.limit_low, "minutes")
    limit = (
        low
        if comparison.limit_high == comparison.limit_low
        else (f"{low}–{limit_text(comparison.limit_high, 'minutes')}")
    )
    parts = [limit]
    if comparison.calendar:
        parts.append(calendar_text(comparison.calendar))
    if comparison.share is not None:
        parts.append(f"{_number(100.0 * comparison.share)} %")
    return ", ".join(parts)


def benchmark_text(view: BenchmarkView | Benchmark) -> str:
    """Return a benchmark's commitment as one line: "2 h, 24×7, 95 %"."""
    parts = [limit_text(view.limit_amount, view.limit_unit)] if view.limit_amount is not None else []
    if view.calendar:
        parts.append(calendar_text(view.calendar))
    if view.share is not None:
        parts.append(f"{_number(100.0 * view.share)} %")
    return ", ".join(parts) or "—"


def limits_text(comparison: Comparison, view: BenchmarkView) -> str:
    """Return "our limit 30 min vs theirs 2 h" (empty when either has no limit)."""
    if comparison.limit_low is None or view.limit_amount is None:
        return ""
    ours = limit_text(comparison.limit_low, "minutes")
    if comparison.limit_high != comparison.limit_low:
        ours = f"{ours}–{limit_text(comparison.limit_high, 'minutes')}"
    return gettext(
        "our limit %(ours)s vs theirs %(theirs)s",
        ours=ours,
        theirs=limit_text(view.limit_amount, view.limit_unit),
    )
