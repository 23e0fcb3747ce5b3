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
- breached now: open requests with a target past its deadline and no
  milestone yet, at the instant of reading (a running target whose deadline
  passed counts before the sweep records the breach). A target met late
  earlier (a late response on a request now on site) is a breach of its day,
  not a breach now.
- at risk now: open requests with a running target past its at-risk instant
  and not past its deadline, and not breached now.
- measured (per target): met + breached, the tickets behind a met %.
- waiting for a technician: open requests that are new or reopened, what
  the Dispatch page lists.
- satisfaction: the mean of the ratings (1–5) requesters gave in the period:
  rating_sum / rating_count, a rating counting on the local day it was
  first given (a change within the edit window keeps that day; its new
  value counts). "—" when no rating was given.
- rated: the requests behind satisfaction, those whose rating was given
  in the period (the list's length is rating_count). Only requesters rate:
  an automatic confirmation gives no rating, and no rating is ever filled
  in by default, so none enters the mean.
- confirmed %: of the requests closed in the period, those the requester
  confirmed: (closed − closed automatically) / closed. closed_auto counts
  the closures by the application (the closing event has no actor).
- rated %: of the requests closed in the period, those with a requester's
  rating (given at any time): closed_rated / closed.

Per technician (the request's current assignee, within the filters):

- open / on hold / breached now: as above, of the requests assigned to them.
- resolved: the "resolved" figure of the requests assigned to them.
- on time / late: of those, the ones whose resolution target was met /
  breached; on-time rate: on time / (on time + late). Resolved requests
  without a resolution target are in neither.

Period presets are local dates: this week is Monday to today, last week
Monday to Sunday, last 30 days today and the 29 before, this month the 1st
to today, last month all of it, this year 1 January to today.

Period figures are read from ``daily_stats``, which the workers keep current
from the same predicates (``day_rows``); the "now" figures from the open
tickets' partial index. Drill-down lists use the same predicates again.
Per-technician "resolved / on time / late" are read from
``daily_assignee_stats`` (kept with ``daily_stats``) while it is current,
else from the tickets; their load now from the open tickets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context
from sqlalchemy import Date, Select, and_, case, exists, func, or_, select, text, type_coerce
from sqlalchemy.orm import aliased

from tracker.domain.i18n import N_
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Priority, Status
from tracker.extensions import db
from tracker.models import (
    DailyAssigneeStat,
    DailyCentreStat,
    DailyStat,
    EventKind,
    Feedback,
    StatsDirty,
    Ticket,
    TicketEvent,
    TicketSla,
)
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


# The instant each period figure counts on (its local day).
PERIOD_INSTANTS = {
    "received": Ticket.created_at,
    "resolved": Ticket.resolved_at,
    "closed": Ticket.closed_at,
    "cancelled": Ticket.cancelled_at,
}


def period_condition(figure: str, start: datetime, end: datetime):
    """Return the WHERE clause on tickets for a period figure (its instant in [start, end))."""
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


# The partial index's own predicate, as a literal: the planners match it then.
OPEN_CONDITION = text("tickets.is_open")
UNASSIGNED_STATUSES = (Status.NEW, Status.REOPENED)
# Resolved, waiting for the requester (ix_tickets_awaiting_by_centre's predicate).
AWAITING_CONDITION = text("tickets.status = 'resolved'")


def late_now(now: datetime):
    """Return the condition "a target of the ticket is late at ``now``" (no milestone yet).

    Read from ticket_slas, not ``Ticket.is_sla_breached`` alone: that flag
    stays set by a target met late, and waits for the sweep. The same rule as
    the lists' SLA badges (``sla.summaries``).

    Both "now" conditions are uncorrelated sets of ticket ids: PostgreSQL
    builds each once (hashed) instead of probing every open ticket's targets,
    which took seconds at a million tickets (docs/dashboards.md). A late
    target is either still running past its deadline (the sweep has not
    flagged it yet: a range of ``ix_ticket_slas_running_due``) or breached
    with no milestone. The breached ones are found from the open requests
    flagged breached (``ix_tickets_open_breached``, as many as the late
    backlog), each probed in ``ix_ticket_slas_breached_unmet``: not from all
    breached targets, which also hold every request cancelled or closed
    after its deadline passed, a number that grows with history.
    """
    running, breached = late_ticket_ids(now)
    return or_(_one_of(running), _one_of(breached))


def late_ticket_ids(now: datetime) -> tuple[Select, Select]:
    """Return the two selects of ticket ids ``late_now`` reads: running past the deadline, breached and open.

    The first may hold requests no longer open (a resolved request's
    confirmation running late): join the tickets to leave them out.
    """
    running = select(TicketSla.ticket_id).where(RUNNING_UNMET, TicketSla.due_at < now)
    breached = (
        select(_BREACHED_TICKET.id)
        .where(OPEN_BREACHED)
        .where(
            select(TicketSla.id)
            .where(BREACHED_UNMET, TicketSla.ticket_id == _BREACHED_TICKET.id)
            .correlate(_BREACHED_TICKET)
            .exists()
        )
    )
    return running, breached


# The partial indexes' own predicates, as literals (see OPEN_CONDITION).
RUNNING_UNMET = text("ticket_slas.milestone_at IS NULL AND ticket_slas.state = 'running'")
BREACHED_UNMET = text("ticket_slas.milestone_at IS NULL AND ticket_slas.state = 'breached'")
# Its own name: the set is built apart from (uncorrelated with) the tickets it tests.
_BREACHED_TICKET = aliased(Ticket, name="breached_ticket")
OPEN_BREACHED = text("breached_ticket.is_open AND breached_ticket.is_sla_breached")


# ix_ticket_slas_running_at_risk's own predicate, as a literal (see OPEN_CONDITION).
RUNNING_CONDITION = text("ticket_slas.state = 'running'")


def at_risk_now(now: datetime):
    """Return the condition "a running target of the ticket is at risk at ``now``", late ones aside.

    The running targets past their at-risk instant are read once, from
    their partial index (see ``late_now``). Those tickets are few: each is
    then probed for a late target of its own, rather than building the
    whole late set again.
    """
    at_risk = _one_of(
        select(TicketSla.ticket_id).where(RUNNING_CONDITION, TicketSla.at_risk_at <= now, TicketSla.due_at >= now)
    )
    return and_(at_risk, ~_has_late_target(now))


def late_target_exists(now: datetime):
    """Return the condition "this ticket has a late target at ``now``", probed per ticket: for a few tickets."""
    return _has_late_target(now)


def _has_late_target(now: datetime):
    """Return the condition "this ticket has a late target at ``now``", probed per ticket (see ``late_now``)."""
    late = or_(TicketSla.state == TargetState.BREACHED,
               and_(TicketSla.state == TargetState.RUNNING, TicketSla.due_at < now))
    return (
        select(TicketSla.id)
        .where(TicketSla.ticket_id == Ticket.id, TicketSla.milestone_at.is_(None), late)
        .correlate(Ticket)
        .exists()
    )


def _one_of(ids: Select):
    """Return the condition "the ticket is one of ``ids``", a set built once.

    On PostgreSQL as ``id = ANY(ARRAY(subquery))``: the array is computed
    once, then read through the primary key. A plain IN lets the planner,
    misjudging how many targets are at risk (it cannot see that running
    targets' at-risk instants are mostly ahead), walk every open ticket in
    deadline order probing each one: seconds for an empty list.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return Ticket.id.in_(ids)
    return Ticket.id == func.any(func.array(ids.scalar_subquery()))


def age_condition(bucket: str, now: datetime):
    """Return the WHERE clause on tickets filed within an ageing bucket at ``now``.

    Raises ValueError for an unknown bucket.
    """
    found = {b[0]: b for b in AGE_BUCKETS}.get(bucket)
    if found is None:
        raise ValueError(f"unknown age bucket {bucket!r}")
    _, low, high, _ = found
    condition = Ticket.created_at <= now - timedelta(days=low)
    if high is not None:
        condition = and_(condition, Ticket.created_at > now - timedelta(days=high))
    return condition


def count(query: Select) -> int:
    """Return how many rows a select (a drill-down list) has."""
    return db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()


# ---------------------------------------------------------------- one day


def day_rows(day: date, centre_id: int) -> list[dict]:
    """Return the daily_stats rows of one local day and centre, computed from the source."""
    return pair_rows([(day, centre_id)])


# Days further apart than this are counted by separate queries: a refresh of
# yesterday and of one day two years ago reads two days, not two years.
_CLUSTER_GAP_DAYS = 7


def pair_rows(pairs: Iterable[tuple[date, int]]) -> list[dict]:
    """Return the daily_stats rows of the given (local day, centre) pairs, computed from the source.

    Set-based: each run of nearby days is read with one query per figure
    over the whole run, using the figures' own predicates on the run's
    bounds (``period_condition``, ``target_condition``), and every row is
    counted on the local day its instant falls on. That is exactly what the
    same predicates count on each day's bounds, at a cost of a few queries
    per run instead of seven per pair (a rebuild after a large import marks
    tens of thousands of pairs).
    """
    wanted = set(pairs)
    rows: dict[tuple[date, int, int, str], dict] = defaultdict(dict)
    for first, last in _day_runs(sorted({day for day, _ in wanted})):
        centres = sorted({centre for day, centre in wanted if first <= day <= last})
        _count_run(first, last, centres, wanted, rows)
    zeros = dict.fromkeys(_SUM_COLUMNS, 0)
    return [
        {"day": day, "centre_id": centre_id, "category_id": category_id, "priority": priority, **zeros, **values}
        for (day, centre_id, category_id, priority), values in rows.items()
    ]


def _day_runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days <= _CLUSTER_GAP_DAYS:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _count_run(first: date, last: date, centres: list[int], wanted: set, rows: dict) -> None:
    start, end = day_bounds(first, last)
    counted = _Counted(start, end)

    def add(day, centre_id, category_id, priority, column, amount):
        if (day, centre_id) in wanted:
            values = rows[(day, centre_id, category_id, Priority(priority).value)]
            values[column] = values.get(column, 0) + amount

    keys = (Ticket.centre_id, Ticket.category_id, Ticket.priority)
    in_centres = in_round_centres(centres)
    for figure in PERIOD_FIGURES:
        query = select(*keys).where(in_centres, period_condition(figure, start, end))
        for centre_id, category_id, priority, day, amount in counted(query, PERIOD_INSTANTS[figure]):
            add(day, centre_id, category_id, priority, figure, amount)
    for outcome in ("met", "breached"):
        instant = TicketSla.milestone_at if outcome == "met" else TicketSla.due_at
        if outcome == "met":
            # Every target's condition at once, on the period of
            # ix_ticket_slas_milestone_at (the index below has due_at, not
            # milestone_at: it would read every target met, whenever).
            condition = and_(TicketSla.state == TargetState.MET, instant >= start, instant < end)
        else:
            # Every target, spelled out: the databases then read the period
            # of ix_ticket_slas_target_state_due per target (target leads
            # that index) instead of scanning all of ticket_slas (docs/dashboards.md).
            condition = or_(*(target_condition(target, outcome, start, end) for target in Target))
        query = (
            select(*keys).select_from(TicketSla).join(Ticket, Ticket.id == TicketSla.ticket_id)
            .where(in_centres, condition)
        )
        for centre_id, category_id, priority, day, target, amount in counted(query, instant, TicketSla.target):
            add(day, centre_id, category_id, priority, f"{Target(target).value}_{outcome}", amount)
    # Satisfaction: the ratings first given that day, by the request's category and priority now.
    ratings = (
        select(*keys)
        .select_from(Feedback)
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(in_centres, Feedback.given_at >= start, Feedback.given_at < end)
    )
    for centre_id, category_id, priority, day, total, count in counted(ratings, Feedback.given_at,
                                                                       amounts=(Feedback.rating, None)):
        add(day, centre_id, category_id, priority, "rating_sum", int(total))
        add(day, centre_id, category_id, priority, "rating_count", count)
    # Honest satisfaction: of the requests closed, those the application closed
    # (the automatic confirmation has no actor) and those with a real rating.
    automatic = exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == EventKind.STATUS_CHANGED,
                               TicketEvent.to_status == Status.CLOSED, TicketEvent.actor_id.is_(None))
    rated = exists().where(Feedback.ticket_id == Ticket.id)
    closed = select(*keys).where(in_centres, period_condition("closed", start, end))
    for centre_id, category_id, priority, day, is_automatic, is_rated in counted(
        closed, Ticket.closed_at, amounts=(case((automatic, 1), else_=0), case((rated, 1), else_=0))
    ):
        if is_automatic:
            add(day, centre_id, category_id, priority, "closed_auto", int(is_automatic))
        if is_rated:
            add(day, centre_id, category_id, priority, "closed_rated", int(is_rated))


def in_round_centres(centres: list[int]):
    """Return "the request is in one of a round's centres", a condition that never drives the plan.

    A round reads a span of days in a few centres, often all of them: the
    span's time index is what narrows it. SQLite (no statistics) chose the
    centre's index instead and read every request of those centres whatever
    the span, so a round of ten days cost what one of four months did. The
    centre is written ``centre_id + 0`` there, which no index serves.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        return (Ticket.centre_id + 0).in_(centres)
    return Ticket.centre_id.in_(centres)


class _Counted:
    """Rows of a query of the summary's keys, grouped by the campus day of an instant, with their amounts.

    ``counted(query, instant, *extra, amounts=(...))`` yields, for ``query``
    (a select of centre, category and priority), tuples of those keys, the
    local day ``instant`` falls on, the ``extra`` columns, then one sum per
    amount (``None``: a count of rows). The database groups the rows, so a
    round of thousands of pairs sends back one row per group instead of
    every ticket (counting a Boston round in Python took 2.4 s of CPU).

    The local day is the UTC instant shifted by the zone's offset: the
    period is cut where the offset changes (daylight saving), each part
    shifted by its own, which is exactly the zone's rule. SQLite has no
    time zones, so the same is done on both databases.
    """

    def __init__(self, start: datetime, end: datetime):
        self.spans = offset_spans(start, end, campus_zone())
        self.dialect = db.session.get_bind().dialect.name

    def __call__(self, query: Select, instant, *extra, amounts=(None,)):
        keys = list(query.selected_columns)
        sums = [func.count() if amount is None else func.sum(amount) for amount in amounts]
        # By position: the day's expression may hold a bind parameter, which
        # PostgreSQL would not match written out twice.
        grouping = [text(str(n)) for n in range(1, len(keys) + 2 + len(extra))]
        for first, last, minutes in self.spans:
            part = query if len(self.spans) == 1 else query.where(instant >= first, instant < last)
            day = self._local_date(instant, minutes)
            yield from db.session.execute(part.with_only_columns(*keys, day, *extra, *sums).group_by(*grouping))

    def _local_date(self, instant, minutes: int):
        if self.dialect == "postgresql":
            shifted = func.timezone("UTC", instant) + text(f"interval '{int(minutes)} minutes'")
            return func.date(shifted)
        return type_coerce(func.date(instant, f"{int(minutes):+d} minutes"), Date)


def offset_spans(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """Cut [start, end) where ``zone``'s UTC offset changes: (from, to, offset in minutes) each.

    The zone rules change on whole seconds and never twice within six
    hours: the offset is sampled every six hours and each change found to
    the second by bisection.
    """

    def offset(second: int) -> int:
        return int(datetime.fromtimestamp(second, zone).utcoffset().total_seconds() // 60)

    low, last = math.floor(start.timestamp()), math.ceil(end.timestamp()) - 1
    spans, begin, current = [], start, offset(low)
    while low < last:
        high = min(low + 6 * 3600, last)
        if offset(high) != current:
            while high - low > 1:  # the first second of the new offset
                middle = (low + high) // 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, zone)
            spans.append((begin, change, current))
            begin, current = change, offset(high)
        low = high
    spans.append((begin, end, current))
    return spans


def assignee_pair_rows(pairs: Iterable[tuple[date, int]]) -> list[dict]:
    """Return the daily_assignee_stats rows of the given (local day, centre) pairs, from the source.

    The technicians' "resolved / on time / late" (see the module docstring),
    read as ``pair_rows`` reads the period figures: one query per run of days.
    """
    wanted = set(pairs)
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    zone = campus_zone()
    for first, last in _day_runs(sorted({day for day, _ in wanted})):
        centres = sorted({centre for day, centre in wanted if first <= day <= last})
        start, end = day_bounds(first, last)
        query = (
            select(Ticket.centre_id, Ticket.assignee_id, Ticket.category_id, Ticket.priority, Ticket.resolved_at,
                   TicketSla.state)
            .select_from(Ticket)
            .outerjoin(TicketSla, and_(TicketSla.ticket_id == Ticket.id, TicketSla.target == Target.RESOLUTION))
            .where(in_round_centres(centres), period_condition("resolved", start, end),
                   Ticket.assignee_id.is_not(None))
        )
        for centre_id, assignee_id, category_id, priority, at, state in db.session.execute(query):
            day = at.astimezone(zone).date()
            if (day, centre_id) not in wanted:
                continue
            row = counts[(day, centre_id, assignee_id, category_id, Priority(priority).value)]
            row[0] += 1
            if state == TargetState.MET:
                row[1] += 1
            elif state == TargetState.BREACHED:
                row[2] += 1
    return [
        {"day": day, "centre_id": centre_id, "assignee_id": assignee_id, "category_id": category_id,
         "priority": priority, "resolved": resolved, "on_time": on_time, "late": late}
        for (day, centre_id, assignee_id, category_id, priority), (resolved, on_time, late) in counts.items()
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


def day_summary(filters: Filters):
    """Return the summary table whose rows a day the filters' sums read: the fewest that hold them.

    ``daily_centre_stats`` (one row per day and centre) when no category or
    priority is chosen, ``daily_stats`` otherwise. Both have the day, the
    centre and the counters under the same names, and sum to the same
    figures (the refresh keeps them together).
    """
    if filters.category_id is None and not filters.priority:
        return DailyCentreStat
    return DailyStat


def _stats_where(filters: Filters, stat=DailyStat):
    """Return the WHERE clause of the filters on a summary table (``daily_stats`` or ``daily_assignee_stats``)."""
    return and_(stat.day >= filters.first, stat.day <= filters.last, scope_where(filters, stat))


def ticket_where(filters: Filters):
    """Return the WHERE clause of the filters' centre, category and priority on ``tickets``."""
    return scope_where(filters, Ticket)


def scope_where(filters: Filters, table):
    """Return the WHERE clause of the filters' centre, category and priority on ``table``.

    Any table keyed like the tickets: ``tickets``, the daily summaries, the
    stored "now" counts and escalations.
    """
    clauses = []
    if filters.centre_id is not None:
        clauses.append(table.centre_id == filters.centre_id)
    if filters.category_id is not None:
        clauses.append(table.category_id == filters.category_id)
    if filters.priority:
        clauses.append(table.priority == filters.priority)
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
    closed_auto: int = 0  # closed by the application: nobody confirmed
    closed_rated: int = 0  # closed, with a requester's rating
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

    @property
    def confirmed_percent(self) -> float | None:
        """Of the requests closed in the period, the share the requester confirmed, in percent."""
        return None if self.closed == 0 else 100.0 * (self.closed - self.closed_auto) / self.closed

    @property
    def rated_percent(self) -> float | None:
        """Of the requests closed in the period, the share with a requester's rating, in percent."""
        return None if self.closed == 0 else 100.0 * self.closed_rated / self.closed


_SUM_COLUMNS = (
    ["received", "resolved", "closed", "cancelled"]
    + [f"{t}_{o}" for t in TARGET_COLUMNS for o in ("met", "breached")]
    + ["rating_sum", "rating_count", "closed_auto", "closed_rated"]
)


def figures_by(filters: Filters, group: str, now: datetime, *, keys: Iterable[int] = (),
               counts: dict | None = None) -> tuple[list[Figures], Figures]:
    """Return the figures per centre or per category (``group``), and the total.

    ``keys`` get a row (of zeros) even when nothing counts for them.
    ``counts``: the late and at-risk counts to use, in ``now_counted``'s
    shape (the stored ones, ``now_counts.current``); else counted now.
    """
    group_column = {"centre": "centre_id", "category": "category_id"}[group]
    stats_key = getattr(DailyStat, group_column)
    result: dict[int, Figures] = {key: Figures(key=key) for key in keys}
    query = (
        select(stats_key, *(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in _SUM_COLUMNS))
        .where(_stats_where(filters))
        .group_by(stats_key)
    )
    for key, *values in db.session.execute(query):
        _apply_sums(result.setdefault(key, Figures(key=key)), values)
    for key, live in _live(filters, getattr(Ticket, group_column), now, counts).items():
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
    figures.closed_auto, figures.closed_rated = named["closed_auto"], named["closed_rated"]


def _live(filters: Filters, key_column, now: datetime, counts: dict | None = None) -> dict[int, dict]:
    """Return the "now" figures per key from the open tickets (and those awaiting confirmation)."""
    buckets = [func.sum(case((age_condition(name, now), 1), else_=0)) for name, *_ in AGE_BUCKETS]
    # The backlog and its ageing read only the open tickets' partial index
    # (its columns are all they need); the late and at-risk ones, a few, are
    # counted apart from their own sets.
    query = select(key_column, func.count(), *buckets).where(OPEN_CONDITION, ticket_where(filters)).group_by(
        key_column
    )
    live: dict[int, dict] = {}
    for key, backlog, *ages in db.session.execute(query):
        live[key] = {
            "backlog": backlog,
            "breached_now": 0,
            "at_risk_now": 0,
            "ageing": {b[0]: int(a or 0) for b, a in zip(AGE_BUCKETS, ages, strict=True)},
        }
    now_counts = counts if counts is not None else now_counted(filters, now)
    for name in ("breached_now", "at_risk_now"):
        for key, number in now_counts[name][key_column.key].items():
            # setdefault: a request reopened between the two reads.
            live.setdefault(key, {"backlog": 0, "breached_now": 0, "at_risk_now": 0,
                                  "ageing": {b[0]: 0 for b in AGE_BUCKETS}})[name] = number
    awaiting = select(key_column, func.count()).where(AWAITING_CONDITION, ticket_where(filters)).group_by(key_column)
    for key, waiting in db.session.execute(awaiting):
        live.setdefault(key, {"backlog": 0, "breached_now": 0, "at_risk_now": 0,
                              "ageing": {b[0]: 0 for b in AGE_BUCKETS}})["awaiting"] = waiting
    return live


# The columns the "now" counts are kept by (centre and category tables, technicians).
_NOW_COLUMNS = ("centre_id", "category_id", "assignee_id")


def now_counted(filters: Filters, now: datetime) -> dict[str, dict[str, dict[int, int]]]:
    """Return the late and at-risk open requests counted by centre, by category and by assignee.

    One statement for each figure, whatever the page shows: the late set is
    built once for the centre dashboard's category and technician tables
    (rows: one per centre, category and assignee met among the late ones, at
    most as many as they are). Kept for the rest of the request, under the
    same ``filters`` and ``now``.
    """
    key = (filters, now)
    cached = g.get("reports_now_counts") if has_request_context() else None
    if cached is not None and cached[0] == key:
        return cached[1]
    columns = [getattr(Ticket, name) for name in _NOW_COLUMNS]
    counts = {}
    for name, condition in (("breached_now", late_now(now)), ("at_risk_now", at_risk_now(now))):
        by = counts[name] = {column: defaultdict(int) for column in _NOW_COLUMNS}
        query = select(*columns, func.count()).where(OPEN_CONDITION, condition, ticket_where(filters))
        for *values, number in db.session.execute(query.group_by(*columns)):
            for column, value in zip(_NOW_COLUMNS, values, strict=True):
                if value is not None:
                    by[column][value] += number
    if has_request_context():
        g.reports_now_counts = (key, counts)
    return counts


def now_totals(filters: Filters, now: datetime) -> Figures:
    """Return the filters' "now" totals only: open backlog, breached now and at risk now (the rest zero).

    What the overview's tiles read, without the per-row tables: one count
    of the open backlog (the partial index, no ageing buckets) and the
    late and at-risk counts ``now_counted`` makes for the page (kept for the
    rest of the request). The same figures as ``figures_by``'s total.
    """
    total = Figures()
    total.backlog = db.session.execute(
        select(func.count()).select_from(Ticket).where(OPEN_CONDITION, ticket_where(filters))
    ).scalar_one()
    counts = now_counted(filters, now)
    total.breached_now = sum(counts["breached_now"]["centre_id"].values())
    total.at_risk_now = sum(counts["at_risk_now"]["centre_id"].values())
    return total


def _apply_live(figures: Figures, live: dict) -> None:
    figures.backlog = live["backlog"]
    figures.breached_now = live["breached_now"]
    figures.at_risk_now = live["at_risk_now"]
    figures.ageing = dict(live["ageing"])
    figures.awaiting_confirmation = live.get("awaiting", 0)


def _add(total: Figures, figures: Figures) -> None:
    for name in ("received", "resolved", "closed", "cancelled", "rating_sum", "rating_count", "closed_auto",
                 "closed_rated", "backlog",
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
    start: date  # the week's Monday or the month's 1st
    first: date | None = None  # the days of the period in this bucket: start..end clipped to the period
    last: date | None = None
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
        following = cursor + timedelta(days=7) if unit == "week" else (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
        points[cursor] = TrendPoint(
            start=cursor, first=max(cursor, filters.first), last=min(following - timedelta(days=1), filters.last)
        )
        cursor = following
    for day, *values in db.session.execute(query):
        point = points[period_start(day, unit)]
        for name, value in zip(columns, values, strict=True):
            setattr(point, name, getattr(point, name) + int(value))
    return list(points.values())


# ---------------------------------------------------------------- drill-down

DRILLDOWN_FIGURES = (
    "received", "resolved", "closed", "cancelled", "met", "breached", "measured",
    "backlog", "awaiting", "breached_now", "at_risk_now", "unassigned", "on_hold", "on_time", "late",
    "rated",
)
# Figures measured against one target: drilldown() needs ``target`` for these.
TARGET_FIGURES = ("met", "breached", "measured")
# drilldown(assignee=ANY_ASSIGNEE): assigned to anyone (the technicians' total).
ANY_ASSIGNEE = "any"


def drilldown(figure: str, filters: Filters, now: datetime, *, target: str | None = None,
              age: str | None = None, assignee: int | str | None = None) -> Select:
    """Return a select of the tickets behind one figure, with the figure's own definition.

    ``assignee`` narrows any figure to the requests assigned to that user
    (``ANY_ASSIGNEE``: to anyone). Raises ValueError for an unknown figure,
    target or age bucket.
    """
    start, end = filters.bounds
    query = select(Ticket).where(ticket_where(filters))
    if assignee == ANY_ASSIGNEE:
        query = query.where(Ticket.assignee_id.is_not(None))
    elif assignee is not None:
        query = query.where(Ticket.assignee_id == int(assignee))
    newest = (Ticket.created_at.desc(), Ticket.id.desc())
    urgent = (Ticket.next_due_at.asc().nulls_last(), Ticket.created_at, Ticket.id)
    if figure in PERIOD_FIGURES:
        return query.where(period_condition(figure, start, end)).order_by(*newest)
    if figure in TARGET_FIGURES:
        if target is None:
            raise ValueError(f"figure {figure!r} needs a target")
        chosen = Target(target)
        if figure == "measured":
            condition = target_condition(chosen, "met", start, end) | target_condition(chosen, "breached", start, end)
        else:
            condition = target_condition(chosen, figure, start, end)
        return query.join(TicketSla, TicketSla.ticket_id == Ticket.id).where(condition).order_by(*newest)
    if figure in ("on_time", "late"):
        return (
            query.join(TicketSla, TicketSla.ticket_id == Ticket.id)
            .where(period_condition("resolved", start, end), TicketSla.target == Target.RESOLUTION,
                   TicketSla.state == (TargetState.MET if figure == "on_time" else TargetState.BREACHED))
            .order_by(Ticket.resolved_at.desc(), Ticket.id.desc())
        )
    if figure == "backlog":
        query = query.where(OPEN_CONDITION)
        if age is not None:
            query = query.where(age_condition(age, now))
        return query.order_by(Ticket.created_at, Ticket.id)
    if figure == "awaiting":
        return query.where(Ticket.status == Status.RESOLVED).order_by(Ticket.resolved_at, Ticket.id)
    if figure == "breached_now":
        return query.where(OPEN_CONDITION, late_now(now)).order_by(*urgent)
    if figure == "at_risk_now":
        return query.where(OPEN_CONDITION, at_risk_now(now)).order_by(*urgent)
    if figure == "unassigned":
        return query.where(OPEN_CONDITION, Ticket.status.in_(UNASSIGNED_STATUSES)).order_by(*urgent)
    if figure == "on_hold":
        return query.where(OPEN_CONDITION, Ticket.status == Status.ON_HOLD).order_by(*urgent)
    if figure == "rated":
        return (
            query.join(Feedback, Feedback.ticket_id == Ticket.id)
            .where(Feedback.given_at >= start, Feedback.given_at < end)
            .order_by(Feedback.given_at.desc(), Ticket.id.desc())
        )
    raise ValueError(f"unknown figure {figure!r}")


# The drill-down figures the daily summary holds (its columns: summary_columns).
SUMMARY_FIGURES = frozenset({*PERIOD_FIGURES, *TARGET_FIGURES})


def summary_columns(figure: str, target: str | None) -> list[str]:
    """Return the daily_stats columns whose sum is a summary figure."""
    if figure in PERIOD_FIGURES:
        return [figure]
    outcomes = ("met", "breached") if figure == "measured" else (figure,)
    return [f"{Target(target).value}_{outcome}" for outcome in outcomes]


def drilldown_count(figure: str, filters: Filters, now: datetime, *, target: str | None = None,
                    age: str | None = None, assignee: int | str | None = None) -> int:
    """Return how many requests ``drilldown`` lists for these arguments.

    A period figure is read from ``daily_stats`` when no (day, centre) of the
    period waits for a refresh: the summary then holds exactly what the
    list's predicates count (the same definitions, ``day_rows``), and a long
    period costs a few thousand summary rows instead of a count over
    hundreds of thousands of requests. Otherwise, and for every other
    figure, the list itself is counted. Raises ValueError as ``drilldown``.
    """
    query = drilldown(figure, filters, now, target=target, age=age, assignee=assignee)
    if assignee is not None or figure not in SUMMARY_FIGURES or not summary_current(filters):
        return count(query)
    columns = [func.coalesce(func.sum(getattr(DailyStat, name)), 0) for name in summary_columns(figure, target)]
    total = sum(columns[1:], columns[0])
    return int(db.session.execute(select(total).where(_stats_where(filters))).scalar_one())


def summary_current(filters: Filters) -> bool:
    """Return whether no (day, centre) of the period (and centre) is marked for a refresh."""
    waiting = select(StatsDirty.day).where(StatsDirty.day >= filters.first, StatsDirty.day <= filters.last)
    if filters.centre_id is not None:
        waiting = waiting.where(StatsDirty.centre_id == filters.centre_id)
    return db.session.execute(waiting.limit(1)).first() is None


# ---------------------------------------------------------------- per technician


@dataclass
class AssigneeFigures:
    """One technician's load now and timeliness in the period (see the module docstring)."""

    key: int | None = None
    open: int = 0
    on_hold: int = 0
    breached_now: int = 0
    resolved: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def on_time_percent(self) -> float | None:
        """Return on time / (on time + late) in percent, None when nothing counted."""
        done = self.on_time + self.late
        return None if done == 0 else 100.0 * self.on_time / done


def figures_by_assignee(filters: Filters, now: datetime, *, keys: Iterable[int] = (),
                        counts: dict | None = None) -> tuple[list[AssigneeFigures], AssigneeFigures]:
    """Return the figures per assignee (``keys`` get a row even when empty), and the total.

    ``counts``: the late counts to use, as in ``figures_by``.
    """
    result: dict[int, AssigneeFigures] = {key: AssigneeFigures(key=key) for key in keys}
    # As in _live: the load from ix_tickets_open_by_assignee alone, the late ones apart.
    load = (
        select(Ticket.assignee_id, func.count(), func.sum(case((Ticket.status == Status.ON_HOLD, 1), else_=0)))
        .where(OPEN_CONDITION, Ticket.assignee_id.is_not(None), ticket_where(filters))
        .group_by(Ticket.assignee_id)
    )
    for key, open_count, on_hold in db.session.execute(load):
        row = result.setdefault(key, AssigneeFigures(key=key))
        row.open, row.on_hold = open_count, int(on_hold or 0)
    late = (counts if counts is not None else now_counted(filters, now))["breached_now"]["assignee_id"]
    for key, breached in late.items():
        result.setdefault(key, AssigneeFigures(key=key)).breached_now = breached
    if summary_current(filters):
        # The summary holds exactly what the query below counts (assignee_pair_rows).
        stat = DailyAssigneeStat
        done = (
            select(stat.assignee_id, func.sum(stat.resolved), func.sum(stat.on_time), func.sum(stat.late))
            .where(_stats_where(filters, stat))
            .group_by(stat.assignee_id)
        )
    else:
        start, end = filters.bounds
        done = (
            select(
                Ticket.assignee_id,
                func.count(),
                func.sum(case((TicketSla.state == TargetState.MET, 1), else_=0)),
                func.sum(case((TicketSla.state == TargetState.BREACHED, 1), else_=0)),
            )
            .select_from(Ticket)
            .outerjoin(TicketSla, and_(TicketSla.ticket_id == Ticket.id, TicketSla.target == Target.RESOLUTION))
            .where(period_condition("resolved", start, end), Ticket.assignee_id.is_not(None), ticket_where(filters))
            .group_by(Ticket.assignee_id)
        )
    for key, resolved, on_time, late in db.session.execute(done):
        row = result.setdefault(key, AssigneeFigures(key=key))
        row.resolved, row.on_time, row.late = int(resolved), int(on_time or 0), int(late or 0)
    total = AssigneeFigures()
    for row in result.values():
        for name in ("open", "on_hold", "breached_now", "resolved", "on_time", "late"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return list(result.values()), total


# ---------------------------------------------------------------- periods and freshness

PERIOD_PRESETS = (
    ("this_week", N_("This week")),
    ("last_week", N_("Last week")),
    ("last_30_days", N_("Last 30 days")),
    ("this_month", N_("This month")),
    ("last_month", N_("Last month")),
    ("this_year", N_("This year")),
)
DEFAULT_PRESET = "last_30_days"


def preset_period(name: str, today: date) -> tuple[date, date]:
    """Return the (first, last) local dates of a preset period ending on or before ``today``.

    Raises ValueError for an unknown preset.
    """
    if name == "this_week":
        return period_start(today, "week"), today
    if name == "last_week":
        monday = period_start(today, "week") - timedelta(days=7)
        return monday, monday + timedelta(days=6)
    if name == "last_30_days":
        return today - timedelta(days=29), today
    if name == "this_month":
        return today.replace(day=1), today
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if name == "this_year":
        return today.replace(month=1, day=1), today
    raise ValueError(f"unknown period {name!r}")


def summary_freshness() -> tuple[datetime | None, int]:
    """Return when the daily summary was last written, and how many (day, centre) pairs wait."""
    refreshed = db.session.execute(select(func.max(DailyStat.refreshed_at))).scalar()
    waiting = db.session.execute(select(func.count()).select_from(StatsDirty)).scalar_one()
    return refreshed, waiting
