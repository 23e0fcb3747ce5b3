"""Supervision orders (督办): issue, answer, close, flag overdue, and read them (docs/supervision.md).

Who may do what:

- issue: leadership and administrators, on any request or rectification item;
- answer: the order's responsible person only, while it is open;
- close: leadership and administrators, once it is answered;
- see: leadership, administrators, the responsible person, and the staff
  (technicians, dispatchers, heads) of the item's centre. Requesters never
  see orders: they are the department's internal instruction.

Every change writes an event into the supervised item's own history (a
ticket event or a rectification event) and its notices into the outbox, in
the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    EventKind,
    OrderStatus,
    RectificationEvent,
    RectificationItem,
    SupervisionOrder,
    Ticket,
    TicketEvent,
    User,
    UserRole,
)
from tracker.models.rectification import RectificationEventKind
from tracker.services.notify import outbox

INSTRUCTION_MIN, TEXT_MAX = 5, 2000
DEADLINE_MAX = timedelta(days=366)
ISSUERS = (Role.LEADERSHIP, Role.ADMIN)
_STAFF = (Role.TECHNICIAN, Role.DISPATCHER, Role.CENTRE_HEAD)

# Outcomes, as the weekly report and the pages name them.
ON_TIME, LATE, OPEN = "on_time", "late", "open"
OUTCOME_LABELS = {
    ON_TIME: N_("Answered on time"),
    LATE: N_("Answered late"),
    OPEN: N_("Not answered yet"),
}
STATUS_LABELS = {
    OrderStatus.OPEN: N_("Open"),
    OrderStatus.ANSWERED: N_("Answered"),
    OrderStatus.CLOSED: N_("Closed"),
}
_STALE = N_("Someone else changed this supervision order a moment ago. Look at it again and retry.")


def outcome(order: SupervisionOrder) -> str:
    """Return on_time (answered at or before the deadline), late (answered after it) or open."""
    if order.answered_at is None:
        return OPEN
    return ON_TIME if order.answered_at <= order.deadline_at else LATE


def is_overdue(order: SupervisionOrder, now: datetime) -> bool:
    return order.answered_at is None and order.status is OrderStatus.OPEN and order.deadline_at < now


# ---------------------------------------------------------------- who may


def may_issue(user: User | None) -> bool:
    return user is not None and user.is_active and user.has_any_role(*ISSUERS)


def may_see(user: User, order: SupervisionOrder) -> bool:
    return order.responsible_id == user.id or may_see_orders_of(user, order.centre_id)


def may_answer(user: User, order: SupervisionOrder) -> bool:
    return user.is_active and order.responsible_id == user.id and order.status is OrderStatus.OPEN


def may_close(user: User, order: SupervisionOrder) -> bool:
    return may_issue(user) and order.status is OrderStatus.ANSWERED


def responsible_candidates(centre_id: int) -> list[User]:
    """Return who may be made responsible: the active heads, dispatchers and technicians of the centre."""
    rank = {Role.CENTRE_HEAD: 0, Role.DISPATCHER: 1, Role.TECHNICIAN: 2}
    rows = db.session.execute(
        select(User, UserRole.role)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.centre_id == centre_id, UserRole.role.in_(_STAFF), User.is_active.is_(True))
    ).all()
    best: dict[int, tuple[int, User]] = {}
    for user, role in rows:
        order = rank[Role(role)]
        if user.id not in best or order < best[user.id][0]:
            best[user.id] = (order, user)
    return [user for _order, user in sorted(best.values(), key=lambda p: (p[0], p[1].display_name or ""))]


# ---------------------------------------------------------------- reading


def for_ticket(ticket: Ticket, viewer: User) -> list[SupervisionOrder]:
    orders = db.session.execute(
        select(SupervisionOrder).where(SupervisionOrder.ticket_id == ticket.id).order_by(SupervisionOrder.id)
    ).scalars()
    return [o for o in orders if may_see(viewer, o)]


def for_item(item: RectificationItem, viewer: User) -> list[SupervisionOrder]:
    orders = db.session.execute(
        select(SupervisionOrder).where(SupervisionOrder.item_id == item.id).order_by(SupervisionOrder.id)
    ).scalars()
    return [o for o in orders if may_see(viewer, o)]


def queue_for(user: User, *, limit: int = 200) -> list[SupervisionOrder]:
    """Return the orders a user acts on: their own open ones; for leadership, every answered or open one.

    Nearest deadline first.
    """
    query = select(SupervisionOrder).where(SupervisionOrder.status != OrderStatus.CLOSED)
    if not user.has_any_role(*ISSUERS):
        query = query.where(SupervisionOrder.responsible_id == user.id)
    return list(
        db.session.execute(
            query.order_by(SupervisionOrder.deadline_at, SupervisionOrder.id).limit(limit)
        ).scalars()
    )


def get(order_id: int, viewer: User) -> SupervisionOrder:
    order = db.session.get(SupervisionOrder, order_id)
    if order is None or not may_see(viewer, order):
        raise NotFound()
    return order


def link(order: SupervisionOrder) -> str:
    """Return the path of the supervised item's page, at its supervision section."""
    if order.ticket_id is not None:
        return f"/tickets/{order.reference}#supervision"
    return f"/rectification/{order.reference}#supervision"


# ---------------------------------------------------------------- changes


def _text(value: str | None, *, required: str, min_len: int = 1) -> str:
    text = (value or "").strip()
    if len(text) < min_len:
        raise ValidationFailed(required)
    if len(text) > TEXT_MAX:
        raise ValidationFailed(N_("Keep it to %(max)d characters."), max=TEXT_MAX)
    return text


def issue(
    *,
    instruction: str,
    responsible_id: int | None,
    deadline_at: datetime | None,
    actor: User,
    now: datetime,
    ticket_id: int | None = None,
    item_id: int | None = None,
) -> SupervisionOrder:
    """Put a supervision order on a request or a rectification item; record and notify; commit.

    Raises PermissionDenied for anyone but leadership and administrators,
    NotFound for an unknown item, ValidationFailed for bad input (nothing
    is written then).
    """
    if not may_issue(actor):
        raise PermissionDenied(N_("Only leadership and administrators issue supervision orders."))
    if (ticket_id is None) == (item_id is None):
        raise ValidationFailed(N_("Choose the request or the rectification item to supervise."))
    subject = (
        db.session.get(Ticket, ticket_id)
        if ticket_id is not None
        else db.session.get(RectificationItem, item_id)
    )
    if subject is None:
        raise NotFound()
    text = _text(
        instruction, required=N_("Write the instruction: at least 5 characters."), min_len=INSTRUCTION_MIN
    )
    if deadline_at is None:
        raise ValidationFailed(N_("Give the deadline of the answer."))
    if deadline_at <= now:
        raise ValidationFailed(N_("The deadline must be in the future."))
    if deadline_at > now + DEADLINE_MAX:
        raise ValidationFailed(N_("The deadline must be within a year."))
    candidates = {u.id for u in responsible_candidates(subject.centre_id)}
    if responsible_id is None or responsible_id not in candidates:
        raise ValidationFailed(N_("Choose the responsible person among the centre's staff."))
    order = SupervisionOrder(
        ticket_id=ticket_id,
        item_id=item_id,
        centre_id=subject.centre_id,
        instruction=text,
        responsible_id=responsible_id,
        issued_by_id=actor.id,
        deadline_at=deadline_at,
        status=OrderStatus.OPEN,
        created_at=now,
        reference=subject.reference,
        version=1,
    )
    db.session.add(order)
    db.session.flush()
    _record(
        order,
        "issued",
        actor=actor,
        now=now,
        body=text,
        data={"responsible_id": responsible_id, "deadline_at": deadline_at.isoformat()},
    )
    _notify(order, "supervision_issued", [responsible_id], actor=actor, now=now, event="issued")
    db.session.commit()
    return order


def answer(
    order_id: int, *, text: str, actor: User, now: datetime, expected_version: int | None = None
) -> SupervisionOrder:
    """Answer an open order as its responsible person; record and notify the issuer; commit."""
    order = _lock(order_id, expected_version, actor)
    if order.responsible_id != actor.id:
        raise PermissionDenied(N_("Only the responsible person answers this supervision order."))
    if order.status is not OrderStatus.OPEN:
        raise Conflict(N_("This supervision order is answered already."))
    order.answer = _text(text, required=N_("Write the answer."))
    order.answered_at, order.answered_by_id = now, actor.id
    order.status = OrderStatus.ANSWERED
    order.version += 1
    _record(order, "answered", actor=actor, now=now, body=order.answer, data={"outcome": outcome(order)})
    _notify(order, "supervision_answered", [order.issued_by_id], actor=actor, now=now, event="answered")
    db.session.commit()
    return order


def close(
    order_id: int, *, note: str = "", actor: User, now: datetime, expected_version: int | None = None
) -> SupervisionOrder:
    """Close an answered order as leadership or an administrator; record it; commit."""
    order = _lock(order_id, expected_version, actor)
    if not may_issue(actor):
        raise PermissionDenied(N_("Only leadership and administrators close supervision orders."))
    if order.status is not OrderStatus.ANSWERED:
        raise Conflict(N_("Only an answered supervision order can be closed."))
    note = (note or "").strip()
    if len(note) > TEXT_MAX:
        raise ValidationFailed(N_("Keep it to %(max)d characters."), max=TEXT_MAX)
    order.close_note, order.closed_at, order.closed_by_id = note, now, actor.id
    order.status = OrderStatus.CLOSED
    order.version += 1
    _record(order, "closed", actor=actor, now=now, body=note, data={"outcome": outcome(order)})
    db.session.commit()
    return order


def _lock(order_id: int, expected_version: int | None, actor: User) -> SupervisionOrder:
    order = db.session.execute(
        select(SupervisionOrder)
        .where(SupervisionOrder.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if order is None or not may_see(actor, order) or not actor.is_active:
        raise NotFound()
    if expected_version is not None and order.version != expected_version:
        raise Conflict(_STALE)
    return order


_TICKET_KINDS = {
    "issued": EventKind.SUPERVISION_ISSUED,
    "answered": EventKind.SUPERVISION_ANSWERED,
    "closed": EventKind.SUPERVISION_CLOSED,
    "overdue": EventKind.SUPERVISION_OVERDUE,
}
_ITEM_KINDS = {
    "issued": RectificationEventKind.SUPERVISION_ISSUED,
    "answered": RectificationEventKind.SUPERVISION_ANSWERED,
    "closed": RectificationEventKind.SUPERVISION_CLOSED,
    "overdue": RectificationEventKind.SUPERVISION_OVERDUE,
}


def _record(
    order: SupervisionOrder,
    what: str,
    *,
    actor: User | None,
    now: datetime,
    body: str = "",
    data: dict | None = None,
) -> None:
    """Write the change into the supervised item's history (no commit)."""
    data = {"order_id": order.id, **(data or {})}
    if order.ticket_id is not None:
        db.session.add(
            TicketEvent(
                ticket_id=order.ticket_id,
                kind=_TICKET_KINDS[what],
                actor_id=actor.id if actor else None,
                created_at=now,
                body=body,
                data=data,
            )
        )
    else:
        db.session.add(
            RectificationEvent(
                item_id=order.item_id,
                kind=_ITEM_KINDS[what],
                actor_id=actor.id if actor else None,
                created_at=now,
                body=body,
                data=data,
            )
        )


def _notify(
    order: SupervisionOrder, kind: str, people, *, actor: User | None, now: datetime, event: str
) -> None:
    recipients = sorted({p for p in people if p is not None and (actor is None or p != actor.id)})
    if not recipients:
        return
    key = f"supervision:{order.id}:{event}"
    subject = (
        db.session.get(Ticket, order.ticket_id)
        if order.ticket_id
        else db.session.get(RectificationItem, order.item_id)
    )
    payload = {
        "reference": order.reference,
        "title": subject.title,
        "due_at": order.deadline_at.isoformat(),
        "comment": (order.answer if event == "answered" else order.instruction)[:500],
    }
    outbox.queue(
        [
            outbox.Notice(
                kind=kind,
                key=key,
                subject=f"{order.reference} {kind}",
                payload=payload,
                ticket_id=order.ticket_id,
                centre_id=order.centre_id,
                link=link(order),
            )
        ],
        {key: recipients},
        now=now,
    )


# ---------------------------------------------------------------- the sweep


@dataclass
class OverdueResult:
    flagged: int = 0


def sweep_overdue(now: datetime, *, batch_size: int = 200) -> OverdueResult:
    """Flag open orders whose deadline passed, once each; record and notify; commit per batch.

    Like a breached target: the order is late from the instant after its
    deadline. The flag is set by a conditional update (``overdue_at IS
    NULL``), so two sweeps at once flag, record and notify each order once.
    """
    result = OverdueResult()
    while True:
        query = (
            select(SupervisionOrder)
            .where(
                SupervisionOrder.status == OrderStatus.OPEN,
                SupervisionOrder.overdue_at.is_(None),
                SupervisionOrder.deadline_at < now,
            )
            .order_by(SupervisionOrder.deadline_at, SupervisionOrder.id)
            .limit(batch_size)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        orders = list(db.session.execute(query).scalars())
        if not orders:
            db.session.rollback()
            return result
        for order in orders:
            claimed = db.session.execute(
                update(SupervisionOrder)
                .where(
                    SupervisionOrder.id == order.id,
                    SupervisionOrder.overdue_at.is_(None),
                    SupervisionOrder.status == OrderStatus.OPEN,
                )
                .values(overdue_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                continue
            _record(
                order, "overdue", actor=None, now=now, data={"deadline_at": order.deadline_at.isoformat()}
            )
            _notify(
                order,
                "supervision_overdue",
                [order.responsible_id, order.issued_by_id],
                actor=None,
                now=now,
                event="overdue",
            )
            result.flagged += 1
        db.session.commit()
        if len(orders) < batch_size:
            return result


# ---------------------------------------------------------------- the weekly report


def weekly_section(start: datetime, end: datetime, now: datetime, *, shown: int = 50) -> dict:
    """Return the supervision orders for the weekly report, as of its generation (``now``).

    Like the report's open requests and rectification items, the orders are
    read as of the generation, for the meeting that reads it: every order
    issued by then and not closed before the week began, with its outcome
    then (answered on time, answered late, or not answered yet, and whether
    it is overdue). ``end`` is the week's end (unused but for the order of
    arguments shared with the other sections).
    """
    query = (
        select(SupervisionOrder)
        .where(
            SupervisionOrder.created_at <= now,
            or_(SupervisionOrder.closed_at.is_(None), SupervisionOrder.closed_at >= start),
        )
        .order_by(SupervisionOrder.deadline_at, SupervisionOrder.id)
    )
    orders = list(db.session.execute(query).scalars())
    names = (
        dict(
            db.session.execute(
                select(User.id, User.display_name).where(
                    User.id.in_(
                        {o.responsible_id for o in orders}
                        | {o.issued_by_id for o in orders if o.issued_by_id}
                    )
                )
            ).all()
        )
        if orders
        else {}
    )
    counts = {ON_TIME: 0, LATE: 0, OPEN: 0, "overdue": 0}
    listed = []
    for order in orders:
        answered = order.answered_at is not None and order.answered_at <= now
        result = outcome(order) if answered else OPEN
        counts[result] += 1
        overdue = not answered and order.deadline_at < now
        if overdue:
            counts["overdue"] += 1
        if len(listed) < shown:
            listed.append(
                {
                    "id": order.id,
                    "reference": order.reference,
                    "centre_id": order.centre_id,
                    "kind": "ticket" if order.ticket_id else "rectification",
                    "instruction": order.instruction[:300],
                    "responsible": names.get(order.responsible_id, ""),
                    "issued_by": names.get(order.issued_by_id, ""),
                    "deadline_at": order.deadline_at.isoformat(),
                    "answered_at": order.answered_at.isoformat() if answered else None,
                    "status": order.status.value,
                    "outcome": result,
                    "is_overdue": overdue,
                }
            )
    return {"counts": counts, "total": len(orders), "orders": listed}


def names_of(orders) -> dict[int, str]:
    """Return the display names of the people the orders name."""
    ids = {o.responsible_id for o in orders} | {o.issued_by_id for o in orders if o.issued_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


_EVENT_KINDS = frozenset(k.value for k in _TICKET_KINDS.values())


def may_see_orders_of(user: User, centre_id: int) -> bool:
    """Return whether ``user`` may see the supervision orders of a centre's items (requesters: no)."""
    return user.has_any_role(*ISSUERS) or centre_id in user.centre_ids(*_STAFF)


def visible_events(events, viewer: User, centre_id: int) -> list:
    """Return a history without its supervision events for a viewer who may not see the orders."""
    if may_see_orders_of(viewer, centre_id):
        return list(events)
    return [e for e in events if getattr(e.kind, "value", e.kind) not in _EVENT_KINDS]
