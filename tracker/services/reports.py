"""The figures leadership reads: defined once, used by every page, export and report.

Definitions (also on the Definitions page and in docs/figures.md). Periods
are local dates in the campus time zone, from the first day's 00:00 to the
day after the last; an instant belongs to the local day it falls on.

- received: requests filed in the period (``created_at``).
- resolved: requests whose last resolution falls in the period and that are
  resolved or closed now (a reopened request counts again when resolved again).
- closed: requests confirmed (by the requester or automatically) in the period.
- cancelled: requests cancelled in the period.
- met (per target): targets whose milestone falls in the period, on time.
- breached (per target): targets whose deadline falls in the period and
  passed before the milestone (or with none yet): a breach happens at the
  deadline, so a late target counts on the day it became late.
- met %: met / (met + breached) of a target; cancelled targets and
  requests without a policy are not counted.
- backlog (now): requests in an open status (new, assigned, accepted, on
  site, on hold, reopened); resolved requests waiting for confirmation are
  counted apart. Ageing: time since filing, in days of 24 h.
- breached now / at risk now: open requests with a target past its deadline
  / past its at-risk share and not yet late.
- satisfaction: the mean of ratings given in the period.

Period figures are read from ``daily_stats``, which the workers keep current
from the same predicates (``day_rows``); the "now" figures from the open
tickets' partial index. Drill-down lists use the same predicates again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, case, func, select

from tracker.domain.i18n import N_
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Priority, Status
from tracker.extensions import db
from tracker.models import DailyStat, Ticket, TicketSla
from tracker.models.stats import TARGET_COLUMNS

AGE_BUCKETS = (
    ("0-1", 0, 1, N_("0–1 d")),
    ("1-3", 1, 3, N_("1–3 d")),
    ("3-7", 3, 7, N_("3–7 d")),
    ("7-30", 7, 30, N_("7–30 d")),
    ("30+", 30, None, N_("over 30 d")),
)

PERIOD_FIGURES = ("received", "resolved", "closed", "cancelled")


def campus_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TRACKER_TIMEZONE"])


def local_day(instant: datetime) -> date:
    """Return the campus-local date an instant falls on."""
    return instant.astimezone(campus_zone()).date()


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Return the UTC instants [first 00:00, day after last 00:00) of local dates."""
    zone = campus_zone()
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    return start, end


# ---------------------------------------------------------------- definitions


def period_condition(figure: str, start: datetime, end: datetime):
    """Return the WHERE clause on tickets for a period figure."""
    if figure == "received":
        return and_(Ticket.created_at >= start, Ticket.created_at < end)
    if figure == "resolved":
        return and_(Ticket.resolved_at >= start, Ticket.resolved_at < end,
                    Ticket.status.in_([Status.RESOLVED, Status.CLOSED]))
    if figure == "closed":
        return and_(Ticket.closed_at >= start, Ticket.closed_at < end, Ticket.status == Status.CLOSED)
    if figure == "cancelled":
        return and_(Ticket.cancelled_at >= start, Ticket.cancelled_at < end, Ticket.status == Status.CANCELLED)
    raise ValueError(f"unknown period figure {figure!r}")


def target_condition(target: Target, outcome: str, start: datetime, end: datetime):
    """Return the WHERE clause on ticket_slas for a target met or breached in a period."""
    if outcome == "met":
        return and_(TicketSla.target == target, TicketSla.state == TargetState.MET,
                    TicketSla.milestone_at >= start, TicketSla.milestone_at < end)
    if outcome == "breached":
        return and_(TicketSla.target == target, TicketSla.state == TargetState.BREACHED,
                    TicketSla.due_at >= start, TicketSla.due_at < end)
    raise ValueError(f"unknown outcome {outcome!r}")


def target_outcome_day(state: TargetState, milestone_at: datetime | None, due_at: datetime | None) -> date | None:
    """Return the local day a target's outcome counts on (None while it has none)."""
    if state is TargetState.MET and milestone_at is not None:
        return local_day(milestone_at)
    if state is TargetState.BREACHED and due_at is not None:
        return local_day(due_at)
    return None


OPEN_CONDITION = Ticket.is_open.is_(True)


# ---------------------------------------------------------------- one day


def day_rows(day: date, centre_id: int) -> list[dict]:
    """Return the daily_stats rows of one local day and centre, computed from the source."""
    start, end = day_bounds(day, day)
    rows: dict[tuple[int, str], dict] = defaultdict(dict)
    key_columns = (Ticket.category_id, Ticket.priority)
    for figure in PERIOD_FIGURES:
        query = (
            select(*key_columns, func.count())
            .where(Ticket.centre_id == centre_id, period_condition(figure, start, end))
            .group_by(*key_columns)
        )
        for category_id, priority, count in db.session.execute(query):
            rows[(category_id, Priority(priority).value)][figure] = count
    for outcome in ("met", "breached"):
        instant = TicketSla.milestone_at if outcome == "met" else TicketSla.due_at
        state = TargetState.MET if outcome == "met" else TargetState.BREACHED
        query = (
            select(*key_columns, TicketSla.target, func.count())
            .join(Ticket, Ticket.id == TicketSla.ticket_id)
            .where(Ticket.centre_id == centre_id, TicketSla.state == state, instant >= start, instant < end)
            .group_by(*key_columns, TicketSla.target)
        )
        for category_id, priority, target, count in db.session.execute(query):
            rows[(category_id, Priority(priority).value)][f"{Target(target).value}_{outcome}"] = count
    # TODO(issue 6): ratings given that day fill rating_sum and rating_count.
    zeros = dict.fromkeys(_SUM_COLUMNS, 0)
    return [
        {"day": day, "centre_id": centre_id, "category_id": category_id, "priority": priority, **zeros, **values}
        for (category_id, priority), values in rows.items()
    ]


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    first: date
    last: date
    centre_id: int | None = None
    category_id: int | None = None
    priority: str | None = None

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.first, self.last)


def _stats_where(filters: Filters):
    clauses = [DailyStat.day >= filters.first, DailyStat.day <= filters.last]
    if filters.centre_id is not None:
        clauses.append(DailyStat.centre_id == filters.centre_id)
    if filters.category_id is not None:
        clauses.append(DailyStat.category_id == filters.category_id)
    if filters.priority:
        clauses.append(DailyStat.priority == filters.priority)
    return and_(*clauses)


def _ticket_where(filters: Filters):
    clauses = []
    if filters.centre_id is not None:
        clauses.append(Ticket.centre_id == filters.centre_id)
    if filters.category_id is not None:
        clauses.append(Ticket.category_id == filters.category_id)
    if filters.priority:
        clauses.append(Ticket.priority == filters.priority)
    return and_(True, *clauses)


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    """The figures of one row of a dashboard table (a centre, a category, or all)."""

    key: int | None = None
    received: int = 0
    resolved: int = 0
    closed: int = 0
    cancelled: int = 0
    met: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGET_COLUMNS, 0))
    breached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGET_COLUMNS, 0))
    rating_sum: int = 0
    rating_count: int = 0
    backlog: int = 0
    ageing: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in AGE_BUCKETS})
    awaiting_confirmation: int = 0
    breached_now: int = 0
    at_risk_now: int = 0

    def met_percent(self, target: str) -> float | None:
        """Return met / (met + breached) in percent, None when nothing counted."""
        done = self.met[target] + self.breached[target]
        return None if done == 0 else 100.0 * self.met[target] / done

    @property
    def satisfaction(self) -> float | None:
        return None if self.rating_count == 0 else self.rating_sum / self.rating_count


_SUM_COLUMNS = (
    ["received", "resolved", "closed", "cancelled"]
    + [f"{t}_{o}" for t in TARGET_COLUMNS for o in ("met", "breached")]
    + ["rating_sum", "rating_count"]
)


def figures_by(filters: Filters, group: str, now: datetime) -> tuple[list[Figures], Figures]:
    """Return the figures per centre or per category (``group``), and the total."""
    group_column = {"centre": "centre_id", "category": "category_id"}[group]
    stats_key = getattr(DailyStat, group_column)
    result: dict[int, Figures] = {}
    query = (
        select(stats_key, *(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in _SUM_COLUMNS))
        .where(_stats_where(filters))
        .group_by(stats_key)
    )
    for key, *values in db.session.execute(query):
        _apply_sums(result.setdefault(key, Figures(key=key)), values)
    for key, live in _live(filters, getattr(Ticket, group_column), now).items():
        figures = result.setdefault(key, Figures(key=key))
        _apply_live(figures, live)
    total = Figures()
    for figures in result.values():
        _add(total, figures)
    return sorted(result.values(), key=lambda f: f.key), total


def _apply_sums(figures: Figures, values) -> None:
    named = dict(zip(_SUM_COLUMNS, (int(v or 0) for v in values), strict=True))
    figures.received, figures.resolved = named["received"], named["resolved"]
    figures.closed, figures.cancelled = named["closed"], named["cancelled"]
    for target in TARGET_COLUMNS:
        figures.met[target] = named[f"{target}_met"]
        figures.breached[target] = named[f"{target}_breached"]
    figures.rating_sum, figures.rating_count = named["rating_sum"], named["rating_count"]


def _live(filters: Filters, key_column, now: datetime) -> dict[int, dict]:
    """Return the "now" figures per key from the open tickets (and those awaiting confirmation)."""
    buckets = []
    for name, low, high, _ in AGE_BUCKETS:
        newer = now - timedelta(days=low)
        condition = Ticket.created_at <= newer if low else Ticket.created_at > now - timedelta(days=high)
        if low and high is not None:
            condition = and_(Ticket.created_at <= newer, Ticket.created_at > now - timedelta(days=high))
        buckets.append(func.sum(case((condition, 1), else_=0)).label(f"age_{name}"))
    query = (
        select(
            key_column,
            func.count(),
            func.sum(case((Ticket.is_sla_breached.is_(True), 1), else_=0)),
            func.sum(case((and_(Ticket.is_sla_at_risk.is_(True), Ticket.is_sla_breached.is_(False)), 1), else_=0)),
            *buckets,
        )
        .where(OPEN_CONDITION, _ticket_where(filters))
        .group_by(key_column)
    )
    live: dict[int, dict] = {}
    for key, backlog, breached, at_risk, *ages in db.session.execute(query):
        live[key] = {
            "backlog": backlog,
            "breached_now": int(breached or 0),
            "at_risk_now": int(at_risk or 0),
            "ageing": {b[0]: int(a or 0) for b, a in zip(AGE_BUCKETS, ages, strict=True)},
        }
    awaiting = select(key_column, func.count()).where(
        Ticket.status == Status.RESOLVED, _ticket_where(filters)
    ).group_by(key_column)
    for key, count in db.session.execute(awaiting):
        live.setdefault(key, {"backlog": 0, "breached_now": 0, "at_risk_now": 0,
                              "ageing": {b[0]: 0 for b in AGE_BUCKETS}})["awaiting"] = count
    return live


def _apply_live(figures: Figures, live: dict) -> None:
    figures.backlog = live["backlog"]
    figures.breached_now = live["breached_now"]
    figures.at_risk_now = live["at_risk_now"]
    figures.ageing = dict(live["ageing"])
    figures.awaiting_confirmation = live.get("awaiting", 0)


def _add(total: Figures, figures: Figures) -> None:
    for name in ("received", "resolved", "closed", "cancelled", "rating_sum", "rating_count", "backlog",
                 "awaiting_confirmation", "breached_now", "at_risk_now"):
        setattr(total, name, getattr(total, name) + getattr(figures, name))
    for target in TARGET_COLUMNS:
        total.met[target] += figures.met[target]
        total.breached[target] += figures.breached[target]
    for bucket in total.ageing:
        total.ageing[bucket] += figures.ageing[bucket]


# ---------------------------------------------------------------- trends


@dataclass
class TrendPoint:
    start: date
    received: int = 0
    resolved: int = 0
    response_met: int = 0
    response_breached: int = 0
    resolution_met: int = 0
    resolution_breached: int = 0

    def percent(self, target: str) -> float | None:
        met, breached = getattr(self, f"{target}_met"), getattr(self, f"{target}_breached")
        return None if met + breached == 0 else 100.0 * met / (met + breached)


def period_start(day: date, unit: str) -> date:
    """Return the first day of the ISO week or month ``day`` is in."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown unit {unit!r}")


def trend(filters: Filters, unit: str) -> list[TrendPoint]:
    """Return received, resolved and met % per week or month of the period (every bucket, zeros too)."""
    columns = ("received", "resolved", "response_met", "response_breached", "resolution_met", "resolution_breached")
    query = (
        select(DailyStat.day, *(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in columns))
        .where(_stats_where(filters))
        .group_by(DailyStat.day)
    )
    points: dict[date, TrendPoint] = {}
    cursor = period_start(filters.first, unit)
    while cursor <= filters.last:
        points[cursor] = TrendPoint(start=cursor)
        cursor = cursor + timedelta(days=7) if unit == "week" else (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    for day, *values in db.session.execute(query):
        point = points[period_start(day, unit)]
        for name, value in zip(columns, values, strict=True):
            setattr(point, name, getattr(point, name) + int(value))
    return list(points.values())


# ---------------------------------------------------------------- drill-down

DRILLDOWN_FIGURES = (
    "received", "resolved", "closed", "cancelled", "met", "breached",
    "backlog", "awaiting", "breached_now", "at_risk_now",
)


def drilldown(figure: str, filters: Filters, now: datetime, *, target: str | None = None,
              age: str | None = None) -> Select:
    """Return a select of the tickets behind one figure, with the figure's own definition.

    Raises ValueError for an unknown figure, target or age bucket.
    """
    start, end = filters.bounds
    query = select(Ticket).where(_ticket_where(filters))
    if figure in PERIOD_FIGURES:
        return query.where(period_condition(figure, start, end)).order_by(Ticket.created_at.desc())
    if figure in ("met", "breached"):
        condition = target_condition(Target(target), figure, start, end)
        return (
            query.join(TicketSla, TicketSla.ticket_id == Ticket.id).where(condition).order_by(Ticket.created_at.desc())
        )
    if figure == "backlog":
        query = query.where(OPEN_CONDITION)
        if age is not None:
            bucket = {b[0]: b for b in AGE_BUCKETS}.get(age)
            if bucket is None:
                raise ValueError(f"unknown age bucket {age!r}")
            _, low, high, _ = bucket
            query = query.where(Ticket.created_at <= now - timedelta(days=low))
            if high is not None:
                query = query.where(Ticket.created_at > now - timedelta(days=high))
        return query.order_by(Ticket.created_at)
    if figure == "awaiting":
        return query.where(Ticket.status == Status.RESOLVED).order_by(Ticket.resolved_at)
    if figure == "breached_now":
        return query.where(OPEN_CONDITION, Ticket.is_sla_breached.is_(True)).order_by(Ticket.next_due_at)
    if figure == "at_risk_now":
        return query.where(OPEN_CONDITION, Ticket.is_sla_at_risk.is_(True),
                           Ticket.is_sla_breached.is_(False)).order_by(Ticket.next_due_at)
    raise ValueError(f"unknown figure {figure!r}")
