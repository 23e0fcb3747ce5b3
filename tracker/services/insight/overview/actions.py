"""The five things to act on now: the longest-late requests, overdue rectification items,
low ratings nobody has followed up, escalations nobody has acknowledged.

Each kind is a short indexed read of what is open now (never of history):
its count and its oldest few. ``pick`` chooses five: the oldest of every
kind that has one, then the oldest of the rest, so one kind cannot hide
the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, literal, select, text, tuple_, union

from tracker.domain.rectification import ACTIVE_STATUSES
from tracker.extensions import db
from tracker.models import Escalation, Feedback, FollowUp, NowEscalation, RectificationItem, Ticket, TicketSla
from tracker.services.insight import reports
from tracker.services.insight.reports import Filters

LATE, OVERDUE_ITEM, LOW_RATING, ESCALATION = "late", "overdue_item", "low_rating", "escalation"
# The partial indexes' own predicates, as literals, so the planner matches them (migration 0023_overview).
OPEN_LOW_RATING = text("follow_ups.status = 'open' AND follow_ups.kind = 'low_rating'")
UNACKNOWLEDGED = text("escalations.acknowledged_at IS NULL AND escalations.request_open")
KINDS = (LATE, OVERDUE_ITEM, LOW_RATING, ESCALATION)
SHOWN = 5


@dataclass
class Action:
    kind: str
    since: datetime  # late since / due / rated / escalated: the longest waiting first
    reference: str  # a request's or an item's reference
    title: str
    centre_id: int
    ticket_reference: str | None = None
    rating: int | None = None
    level: int | None = None
    target: str | None = None


@dataclass
class Actions:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    candidates: dict[str, list[Action]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def pick(self, size: int = SHOWN) -> list[Action]:
        """Return the ``size`` to show: every kind's oldest first, then the oldest of the others."""
        firsts = sorted((items[0] for items in self.candidates.values() if items), key=lambda a: a.since)
        chosen = firsts[:size]
        rest = sorted((a for items in self.candidates.values() for a in items[1:]), key=lambda a: a.since)
        chosen += rest[: size - len(chosen)]
        return sorted(chosen, key=lambda a: a.since)


def actions(
    filters: Filters,
    now: datetime,
    *,
    late_count: int | None = None,
    escalation_count: int | None = None,
    size: int = SHOWN,
) -> Actions:
    """Return the counts of each kind in the filters' centre (all when None) and its ``size`` oldest.

    Requests and escalations follow every filter; rectification items and
    follow-ups only the centre. ``late_count``: the "breached now" count the
    page already has (the same definition), so it is not counted twice;
    ``escalation_count`` likewise for the unacknowledged escalations (the
    stored "now" counts, ``now_counts``): the list is then the oldest of
    the escalations counted (``now_escalations``) that are still
    unacknowledged and open.
    """
    result = Actions()
    # The late requests, the longest late first: their earliest missed deadline. A late request always has
    # ``next_due_at`` in the past (``sla._recompute``), so the walk down that index meets them first and
    # probes only the few it returns, instead of building the whole late set.
    late = (
        select(Ticket)
        .where(
            reports.OPEN_CONDITION,
            Ticket.next_due_at < now,
            reports.ticket_where(filters),
            reports.late_target_exists(now),
        )
        .order_by(Ticket.next_due_at, Ticket.created_at, Ticket.id)
        .limit(size)
    )
    result.candidates[LATE] = [
        Action(LATE, t.next_due_at or t.created_at, t.reference, t.title, t.centre_id, t.reference)
        for t in db.session.execute(late).scalars()
    ]
    result.counts[LATE] = (
        late_count
        if late_count is not None
        else reports.count(reports.drilldown("breached_now", filters, now))
    )

    active = [s.value for s in ACTIVE_STATUSES]
    items = select(RectificationItem).where(
        RectificationItem.status.in_(active), RectificationItem.due_at <= now
    )
    if filters.centre_id is not None:
        items = items.where(RectificationItem.centre_id == filters.centre_id)
    result.counts[OVERDUE_ITEM] = reports.count(items)
    result.candidates[OVERDUE_ITEM] = [
        Action(OVERDUE_ITEM, i.due_at, i.reference, i.title, i.centre_id)
        for i in db.session.execute(
            items.order_by(RectificationItem.due_at, RectificationItem.id).limit(size)
        ).scalars()
    ]

    ratings = (
        select(FollowUp.created_at, Ticket.reference, Ticket.title, FollowUp.centre_id, Feedback.rating)
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .outerjoin(Feedback, Feedback.ticket_id == FollowUp.ticket_id)
        .where(OPEN_LOW_RATING)
    )
    counted = select(func.count()).select_from(FollowUp).where(OPEN_LOW_RATING)
    if filters.centre_id is not None:
        ratings = ratings.where(FollowUp.centre_id == filters.centre_id)
        counted = counted.where(FollowUp.centre_id == filters.centre_id)
    result.counts[LOW_RATING] = db.session.execute(counted).scalar_one()
    result.candidates[LOW_RATING] = [
        Action(LOW_RATING, created, reference, title, centre_id, reference, rating=rating)
        for created, reference, title, centre_id, rating in db.session.execute(
            ratings.order_by(FollowUp.created_at, FollowUp.id).limit(size)
        )
    ]

    escalations = select(
        Escalation.created_at,
        Escalation.level,
        Escalation.target,
        Ticket.reference,
        Ticket.title,
        Ticket.centre_id,
    )
    if escalation_count is None:
        # Counted here, in the same pass: the union of the "now" sets, hashed (see ``pressing_escalations``).
        escalations = pressing_escalations(escalations.add_columns(func.count().over()), filters, now)
        found = db.session.execute(escalations.order_by(Escalation.created_at, Escalation.id).limit(size * 4))
    else:
        result.counts[ESCALATION] = escalation_count
        # Counted already (the stored "now" counts): the oldest few of the escalations that count listed,
        # still unacknowledged and open, instead of building the late and at-risk sets.
        found = _oldest_counted(escalations.add_columns(literal(escalation_count)), filters, size * 4)
    # A request escalated for two targets or at two levels is one thing to act on: its oldest escalation.
    seen: dict[str, Action] = {}
    for created, level, target, reference, title, centre_id, total in found:
        result.counts[ESCALATION] = total
        if reference not in seen:
            seen[reference] = Action(
                ESCALATION, created, reference, title, centre_id, reference, level=level, target=str(target)
            )
    result.candidates[ESCALATION] = list(seen.values())[:size]
    return result


# How many of the counted escalations are read at a time, oldest first.
COUNTED_BATCH = 100


def _oldest_counted(query: Select, filters: Filters, wanted: int) -> list:
    """Return up to ``wanted`` rows of ``query`` (over escalations and their requests) for the escalations
    the last count found (``now_escalations``), oldest first, still unacknowledged and open.

    The counted ones are walked in their index's order, a batch at a time,
    and each batch is probed by primary key. One statement joining the three
    tables left the plan to the planner's guess of how many are still
    unacknowledged: at a million tickets it once scanned every
    unacknowledged escalation and sorted them (60 ms instead of about 1).

    The first batch is only as large as ``wanted`` and each probe returns
    only the rows still wanted: probing a hundred and reading them all back
    to keep twenty cost the overview 2-4 ms of the app's CPU whenever a
    hundred escalations were counted (docs/dashboards.md, issue 20). Later
    batches (past escalations acknowledged since the count) are
    COUNTED_BATCH long.
    """
    stored = reports.scope_where(filters, NowEscalation)
    order = (NowEscalation.created_at, NowEscalation.escalation_id)
    found: list = []
    after = None
    size = min(wanted, COUNTED_BATCH)
    while len(found) < wanted:
        batch = select(*order).where(stored)
        if after is not None:
            batch = batch.where(tuple_(*order) > tuple_(*after))
        keys = db.session.execute(batch.order_by(*order).limit(size)).all()
        if not keys:
            break
        found.extend(
            db.session.execute(
                query.select_from(Escalation)
                .join(Ticket, Ticket.id == Escalation.ticket_id)
                .where(
                    Escalation.id.in_([key.escalation_id for key in keys]),
                    Escalation.acknowledged_at.is_(None),
                    reports.OPEN_CONDITION,
                    reports.ticket_where(filters),
                )
                .order_by(Escalation.created_at, Escalation.id)
                .limit(wanted - len(found))
            )
        )
        if len(keys) < size:
            break
        after = tuple(keys[-1])
        size = COUNTED_BATCH
    return found


def pressing_escalations(query: Select, filters: Filters, now: datetime) -> Select:
    """Return ``query`` (over escalations) narrowed to the unacknowledged ones of open requests late or at risk now.

    Only escalations of requests late or at risk now: one whose target was
    met since has nothing left to chase (the sweep drops it too). Those of
    closed requests are out of ``ix_escalations_unacknowledged``
    (``request_open``). The escalations are matched to those sets by a hash
    join, not probed one by one: probing each request's targets cost more
    (docs/dashboards.md, the overview). The stored "now" counts count this.
    """
    running, breached = reports.late_ticket_ids(now)
    at_risk = select(TicketSla.ticket_id).where(
        reports.RUNNING_CONDITION, TicketSla.at_risk_at <= now, TicketSla.due_at >= now
    )
    pressing = union(running, breached, at_risk).subquery()
    return query.join(Ticket, Ticket.id == Escalation.ticket_id).where(
        UNACKNOWLEDGED,
        Escalation.ticket_id.in_(select(pressing.c[0])),
        reports.OPEN_CONDITION,
        reports.ticket_where(filters),
    )
