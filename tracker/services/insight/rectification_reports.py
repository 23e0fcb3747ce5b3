"""The rectification backlog's figures: defined once, used by the dashboard, its lists, files and the weekly report.

Definitions (also on the Definitions page and in docs/figures.md). Periods
are local dates in the campus time zone, from the first day's 00:00 to the
day after the last; an instant belongs to the local day it falls on. An
item is due at the end of its deadline's local day (``due_at``).

Figures of now:

- active: items on the backlog, i.e. open, in progress or awaiting
  verification (per status, or all three).
- overdue: active items whose deadline has passed (``due_at <= now``),
  awaiting verification included: an item is done when leadership
  verifies it.
- at risk: items still to be worked (open or in progress) past their
  at-risk instant and not overdue.
- ageing: active items by time since they were opened, in days of 24 h:
  0–30, 30–90, 90–180, over 180.
- due soon: active items due within the next 14 days (not overdue).

Figures of a period:

- opened: items created in the period.
- verified: items verified in the period.
- verified on time / late: of those, verified before their due instant
  (on or before the deadline day) / after it. On-time rate: on time ÷
  verified.
- rejected: items whose fix leadership rejected in the period (an item
  rejected twice counts once).
- open at the end of a month (burn-down): items opened before the end of
  the month (or now, for the current month) and neither verified nor
  cancelled by then.

Repeat faults (hotspots): requests of one category at one place (a room, a
machine) filed within the last HOTSPOT_WINDOW_DAYS days (``created_at >=
now - window``), cancelled requests left out, at least
HOTSPOT_MIN_TICKETS of them. A hotspot is taken care of (no proposal, a
link to the item instead) by an active item about that place and category,
or by an item, not cancelled, that one of its requests is linked to.

Every list (``drilldown``) uses the same predicate as its figure, so a
figure is the length of its list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, and_, case, exists, func, or_, select

from tracker.domain.i18n import N_
from tracker.domain.rectification import ACTIVE_STATUSES, WORKING_STATUSES, ItemStatus
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import (
    Category,
    Centre,
    Location,
    RectificationEvent,
    RectificationEventKind,
    RectificationItem,
    RectificationItemTicket,
    Ticket,
)
from tracker.services.insight import reports

Item = RectificationItem

AGE_BUCKETS = (
    ("0-30", 0, 30, N_("0–30 d")),
    ("30-90", 30, 90, N_("30–90 d")),
    ("90-180", 90, 180, N_("90–180 d")),
    ("180+", 180, None, N_("over 180 d")),
)
DUE_SOON_DAYS = 14
ACTIVE_ORDER = (ItemStatus.OPEN, ItemStatus.IN_PROGRESS, ItemStatus.AWAITING_VERIFICATION)

FIGURES = ("active", "overdue", "at_risk", "aged", "due_soon", "opened", "verified", "on_time", "late",
           "rejected", "open_at")
# The figures of a period; the others describe now.
PERIOD_FIGURES = frozenset({"opened", "verified", "on_time", "late", "rejected", "open_at"})


@dataclass(frozen=True)
class Scope:
    """What a figure is counted over: a period of local dates and the centres (None: all)."""

    first: date
    last: date
    centre_ids: tuple[int, ...] | None = None

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return reports.day_bounds(self.first, self.last)


def _centres(scope: Scope):
    if scope.centre_ids is None:
        return True
    return Item.centre_id.in_(scope.centre_ids)


# ---------------------------------------------------------------- predicates


def _active():
    return Item.status.in_([s.value for s in ACTIVE_STATUSES])


def _overdue(now: datetime):
    return and_(_active(), Item.due_at <= now)


def _at_risk(now: datetime):
    return and_(Item.status.in_([s.value for s in WORKING_STATUSES]), Item.at_risk_at <= now, Item.due_at > now)


def _aged(bucket: str, now: datetime):
    found = {b[0]: b for b in AGE_BUCKETS}.get(bucket)
    if found is None:
        raise ValueError(f"unknown age bucket {bucket!r}")
    _, low, high, _ = found
    condition = Item.created_at <= now - timedelta(days=low)
    if high is not None:
        condition = and_(condition, Item.created_at > now - timedelta(days=high))
    return and_(_active(), condition)


def _due_soon(now: datetime):
    return and_(_active(), Item.due_at > now, Item.due_at <= now + timedelta(days=DUE_SOON_DAYS))


def _verified(start: datetime, end: datetime):
    return and_(Item.status == ItemStatus.VERIFIED, Item.verified_at >= start, Item.verified_at < end)


def _rejected(start: datetime, end: datetime):
    return (
        exists()
        .where(RectificationEvent.item_id == Item.id, RectificationEvent.kind == RectificationEventKind.REJECTED,
               RectificationEvent.created_at >= start, RectificationEvent.created_at < end)
        .correlate(Item)
    )


def _open_at(end: datetime):
    return and_(
        Item.created_at < end,
        or_(Item.verified_at.is_(None), Item.verified_at >= end),
        or_(Item.cancelled_at.is_(None), Item.cancelled_at >= end),
    )


def drilldown(figure: str, scope: Scope, now: datetime, *, status: str | None = None,
              age: str | None = None) -> Select:
    """Return a select of the items behind one figure, with the figure's own definition.

    ``status`` narrows "active" to one status; ``age`` names the bucket of
    "aged"; "open_at" is taken at the end of the scope's last day, or now
    when that is later.
    Raises ValueError for an unknown figure, status or bucket.
    """
    start, end = scope.bounds
    query = select(Item).where(_centres(scope))
    urgent = (Item.due_at, Item.id)
    if figure == "active":
        if status is not None:
            chosen = ItemStatus(status)
            if chosen not in ACTIVE_STATUSES:
                raise ValueError(f"{status!r} is not an active status")
            return query.where(Item.status == chosen).order_by(*urgent)
        return query.where(_active()).order_by(*urgent)
    if figure == "overdue":
        return query.where(_overdue(now)).order_by(*urgent)
    if figure == "at_risk":
        return query.where(_at_risk(now)).order_by(*urgent)
    if figure == "aged":
        if age is None:
            raise ValueError("figure 'aged' needs an age bucket")
        return query.where(_aged(age, now)).order_by(Item.created_at, Item.id)
    if figure == "due_soon":
        return query.where(_due_soon(now)).order_by(*urgent)
    if figure == "opened":
        return query.where(Item.created_at >= start, Item.created_at < end).order_by(Item.created_at.desc(),
                                                                                    Item.id.desc())
    if figure in ("verified", "on_time", "late"):
        query = query.where(_verified(start, end))
        if figure == "on_time":
            query = query.where(Item.verified_at < Item.due_at)
        elif figure == "late":
            query = query.where(Item.verified_at >= Item.due_at)
        return query.order_by(Item.verified_at.desc(), Item.id.desc())
    if figure == "rejected":
        return query.where(_rejected(start, end)).order_by(Item.id.desc())
    if figure == "open_at":
        return query.where(_open_at(min(end, now))).order_by(*urgent)
    raise ValueError(f"unknown figure {figure!r}")


def count(query: Select) -> int:
    return reports.count(query)


# ---------------------------------------------------------------- figures per centre


@dataclass
class CentreFigures:
    """One row of the backlog table: a centre, or all of them (``key`` None)."""

    key: int | None = None
    by_status: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in ACTIVE_ORDER})
    overdue: int = 0
    at_risk: int = 0
    ageing: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in AGE_BUCKETS})
    opened: int = 0
    verified: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def active(self) -> int:
        return sum(self.by_status.values())

    @property
    def on_time_percent(self) -> float | None:
        """Return on time ÷ verified in percent, None when nothing was verified."""
        return None if self.verified == 0 else 100.0 * self.on_time / self.verified


def figures_by_centre(scope: Scope, now: datetime, *, keys=()) -> tuple[list[CentreFigures], CentreFigures]:
    """Return the backlog figures per centre (``keys`` get a row even when empty) and the total."""
    result: dict[int, CentreFigures] = {key: CentreFigures(key=key) for key in keys}
    live = (
        select(
            Item.centre_id,
            *(func.sum(case((Item.status == s, 1), else_=0)) for s in ACTIVE_ORDER),
            func.sum(case((Item.due_at <= now, 1), else_=0)),
            func.sum(case((_at_risk(now), 1), else_=0)),
            *(func.sum(case((_aged(name, now), 1), else_=0)) for name, *_ in AGE_BUCKETS),
        )
        .where(_centres(scope), _active())
        .group_by(Item.centre_id)
    )
    for key, *values in db.session.execute(live):
        row = result.setdefault(key, CentreFigures(key=key))
        statuses, rest = values[:len(ACTIVE_ORDER)], values[len(ACTIVE_ORDER):]
        row.by_status = {s.value: int(v or 0) for s, v in zip(ACTIVE_ORDER, statuses, strict=True)}
        row.overdue, row.at_risk = int(rest[0] or 0), int(rest[1] or 0)
        row.ageing = {b[0]: int(v or 0) for b, v in zip(AGE_BUCKETS, rest[2:], strict=True)}
    start, end = scope.bounds
    opened = (
        select(Item.centre_id, func.count())
        .where(_centres(scope), Item.created_at >= start, Item.created_at < end)
        .group_by(Item.centre_id)
    )
    for key, number in db.session.execute(opened):
        result.setdefault(key, CentreFigures(key=key)).opened = number
    verified = (
        select(Item.centre_id, func.count(), func.sum(case((Item.verified_at < Item.due_at, 1), else_=0)))
        .where(_centres(scope), _verified(start, end))
        .group_by(Item.centre_id)
    )
    for key, number, on_time in db.session.execute(verified):
        row = result.setdefault(key, CentreFigures(key=key))
        row.verified, row.on_time = number, int(on_time or 0)
        row.late = row.verified - row.on_time
    total = CentreFigures()
    for row in result.values():
        for status, number in row.by_status.items():
            total.by_status[status] += number
        for bucket, number in row.ageing.items():
            total.ageing[bucket] += number
        for name in ("overdue", "at_risk", "opened", "verified", "on_time", "late"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return list(result.values()), total


# ---------------------------------------------------------------- burn-down by month


@dataclass
class MonthPoint:
    start: date  # the month's 1st
    first: date  # the days of the period in this month
    last: date
    opened: int = 0
    verified: int = 0
    open_at_end: int = 0  # at the month's end, or now for the current month


def burndown(scope: Scope, now: datetime) -> list[MonthPoint]:
    """Return items opened and verified per month of the period, and how many were open at each month's end.

    One pass over the items: a sum per month and figure, each with the
    predicate of its drill-down list ("opened", "verified", "open_at").
    """
    points = []
    cursor = scope.first.replace(day=1)
    while cursor <= scope.last:
        following = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
        first, last = max(cursor, scope.first), min(following - timedelta(days=1), scope.last)
        points.append(MonthPoint(start=cursor, first=first, last=last))
        cursor = following
    if not points:
        return points
    sums = []
    for point in points:
        start, end = reports.day_bounds(point.first, point.last)
        sums += [
            func.sum(case((and_(Item.created_at >= start, Item.created_at < end), 1), else_=0)),
            func.sum(case((_verified(start, end), 1), else_=0)),
            func.sum(case((_open_at(min(end, now)), 1), else_=0)),
        ]
    last_end = reports.day_bounds(points[-1].first, points[-1].last)[1]
    # Every figure counts items opened before its month ends.
    row = db.session.execute(select(*sums).where(_centres(scope), Item.created_at < last_end)).one()
    for index, point in enumerate(points):
        point.opened, point.verified, point.open_at_end = (int(v or 0) for v in row[3 * index:3 * index + 3])
    return points


# ---------------------------------------------------------------- repeat faults


@dataclass
class Hotspot:
    location: Location
    category: Category
    centre_id: int
    tickets: int
    first_at: datetime
    last_at: datetime
    references: list[str] = field(default_factory=list)  # the newest first, at most REFERENCES_SHOWN
    open_item: str | None = None  # the item taking care of it already (see the module's docstring)


REFERENCES_SHOWN = 50


def window_days() -> int:
    return current_app.config["HOTSPOT_WINDOW_DAYS"]


def minimum_tickets() -> int:
    return current_app.config["HOTSPOT_MIN_TICKETS"]


def hotspot_window(now: datetime) -> datetime:
    """Return the first instant of the hotspot window (inclusive)."""
    return now - timedelta(days=window_days())


def hotspots(now: datetime, *, centre_ids=None, limit: int = 20) -> list[Hotspot]:
    """Return the places with repeated requests of one category in the window, the most first."""
    since = hotspot_window(now)
    minimum = minimum_tickets()
    query = (
        select(Ticket.location_id, Ticket.category_id, Ticket.centre_id, func.count(), func.min(Ticket.created_at),
               func.max(Ticket.created_at))
        .where(Ticket.location_id.is_not(None), Ticket.created_at >= since, Ticket.created_at <= now,
               Ticket.status != Status.CANCELLED)
        .group_by(Ticket.location_id, Ticket.category_id, Ticket.centre_id)
        .having(func.count() >= minimum)
        .order_by(func.count().desc(), func.max(Ticket.created_at).desc())
        .limit(limit)
    )
    if centre_ids is not None:
        query = query.where(Ticket.centre_id.in_(list(centre_ids)))
    rows = db.session.execute(query).all()
    if not rows:
        return []
    locations = {r.id: r for r in db.session.execute(
        select(Location).where(Location.id.in_({row[0] for row in rows}))).scalars()}
    categories = {r.id: r for r in db.session.execute(
        select(Category).where(Category.id.in_({row[1] for row in rows}))).scalars()}
    covered = {
        (location_id, category_id): reference
        for location_id, category_id, reference in db.session.execute(
            select(Item.location_id, Item.category_id, Item.reference)
            .where(_active(), Item.location_id.in_({row[0] for row in rows}))
            .order_by(Item.id)
        )
    }
    found = []
    for location_id, category_id, centre_id, number, first_at, last_at in rows:
        references = list(db.session.execute(
            hotspot_tickets(location_id, category_id, now).with_only_columns(Ticket.reference).limit(REFERENCES_SHOWN)
        ).scalars())
        item = covered.get((location_id, category_id)) or _linked_item(location_id, category_id, now)
        found.append(Hotspot(location=locations[location_id], category=categories[category_id], centre_id=centre_id,
                             tickets=number, first_at=first_at, last_at=last_at, references=references,
                             open_item=item))
    return found


def _linked_item(location_id: int, category_id: int, now: datetime) -> str | None:
    """Return the latest item, not cancelled, that one of a hotspot's requests is linked to (its reference)."""
    behind = hotspot_tickets(location_id, category_id, now).with_only_columns(Ticket.id).order_by(None)
    return db.session.execute(
        select(Item.reference)
        .join(RectificationItemTicket, RectificationItemTicket.item_id == Item.id)
        .where(RectificationItemTicket.ticket_id.in_(behind), Item.status != ItemStatus.CANCELLED)
        .order_by(Item.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def hotspot_tickets(location_id: int, category_id: int, now: datetime) -> Select:
    """Return the requests behind one hotspot, the newest first (ix_tickets_location_category_created)."""
    return (
        select(Ticket)
        .where(Ticket.location_id == location_id, Ticket.category_id == category_id,
               Ticket.created_at >= hotspot_window(now), Ticket.created_at <= now, Ticket.status != Status.CANCELLED)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )


# ---------------------------------------------------------------- the weekly report


WEEKLY_LISTED = 30


def weekly_progress(week_start: date, now: datetime) -> dict:
    """Return the items' progress in the week of ``week_start`` and their state at ``now``, as stored JSON.

    Per centre: opened, verified (on time), rejected in the week; active and
    overdue at ``now``. Then the items overdue and those due within
    DUE_SOON_DAYS of ``now``, the most urgent first (at most WEEKLY_LISTED each).
    """
    week = Scope(first=week_start, last=week_start + timedelta(days=6))
    figures, total = figures_by_centre(week, now)
    rejected = dict(db.session.execute(
        select(Item.centre_id, func.count()).where(_rejected(*week.bounds)).group_by(Item.centre_id)).all())
    by_id = {f.key: f for f in figures}
    centres = [
        c for c in db.session.execute(select(Centre).order_by(Centre.sort_order, Centre.id)).scalars()
        if c.is_active or c.id in by_id or c.id in rejected
    ]

    def row(f: CentreFigures, rejected_count: int) -> dict:
        return {"opened": f.opened, "verified": f.verified, "on_time": f.on_time, "rejected": rejected_count,
                "active": f.active, "overdue": f.overdue, "by_status": dict(f.by_status)}

    sections = [
        {"id": c.id, "code": c.code, "name_en": c.name_en, "name_zh": c.name_zh,
         **row(by_id.get(c.id) or CentreFigures(key=c.id), rejected.get(c.id, 0))}
        for c in centres
    ]
    return {
        "week_start": week.first.isoformat(),
        "week_end": week.last.isoformat(),
        "as_of": now.isoformat(),
        "due_soon_days": DUE_SOON_DAYS,
        "centres": sections,
        "total": row(total, sum(rejected.values())),
        "overdue_items": _listed(drilldown("overdue", week, now), now),
        "due_soon_items": _listed(drilldown("due_soon", week, now), now),
    }


def _listed(query: Select, now: datetime) -> dict:
    items = list(db.session.execute(query.limit(WEEKLY_LISTED)).scalars())
    return {
        "total": count(query),
        "items": [
            {
                "reference": i.reference,
                "title": i.title,
                "centre_id": i.centre_id,
                "status": i.status.value,
                "responsible": i.responsible.display_name if i.responsible else "",
                "due_on": i.due_on.isoformat(),
                "progress_percent": i.progress_percent,
                "rejections": i.rejection_count,
            }
            for i in items
        ],
    }
