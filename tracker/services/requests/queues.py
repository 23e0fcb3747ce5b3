"""Work queues: what a technician or a dispatcher should look at next."""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from tracker.domain.roles import Role
from tracker.domain.workflow import OPEN_STATUSES, Priority, Status
from tracker.extensions import db
from tracker.models import Ticket, User, UserRole

_PRIORITY_ORDER = case(
    {Priority.URGENT.value: 0, Priority.HIGH.value: 1, Priority.NORMAL.value: 2, Priority.LOW.value: 3},
    value=Ticket.priority,
    else_=4,
)
# The nearest running SLA deadline first (breached ones are the nearest);
# tickets with no running clock after them, by priority, oldest first.
URGENCY = (Ticket.next_due_at.asc().nulls_last(), _PRIORITY_ORDER, Ticket.created_at, Ticket.id)

# A queue shows this many requests a page: the most urgent first, and a
# count of all. A busy technician's 400 requests were a 400 KB page.
PAGE_SIZE = 50


@dataclass
class Page:
    """One page of a queue, most urgent first, and how many the whole queue holds."""

    items: list[Ticket]
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)

    @property
    def first(self) -> int:
        """The position of the page's first request in the queue (1-based)."""
        return (self.page - 1) * self.size + 1


def _page(query, page: int, size: int, *options) -> Page:
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    pages = max((total + size - 1) // size, 1)
    page = min(max(page, 1), pages)  # past the end (the queue shrank): its last page
    items = list(
        db.session.execute(query.order_by(*URGENCY).limit(size).offset((page - 1) * size).options(*options)).scalars()
    )
    return Page(items=items, total=total, page=page, size=size)


def my_work(user: User, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Return a page of the open tickets assigned to ``user``, most urgent first."""
    query = select(Ticket).where(Ticket.assignee_id == user.id, Ticket.status.in_(OPEN_STATUSES))
    # The queue shows each requester: one join, not a query per row.
    return _page(query, page, size, joinedload(Ticket.requester))


def awaiting_acceptance(user: User, limit: int = PAGE_SIZE) -> list[Ticket]:
    """Return the tickets assigned to ``user`` (by a dispatcher or automatic dispatch) not accepted yet, most urgent first."""
    return list(db.session.execute(
        select(Ticket).where(Ticket.assignee_id == user.id, Ticket.status == Status.ASSIGNED)
        .order_by(*URGENCY).limit(limit)
    ).scalars())


def unassigned(centre_ids: set[int], page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Return a page of the new or reopened unassigned tickets of these centres, most urgent first."""
    if not centre_ids:
        return Page(items=[], total=0, page=1, size=size)
    query = select(Ticket).where(Ticket.centre_id.in_(centre_ids), Ticket.status.in_([Status.NEW, Status.REOPENED]))
    return _page(query, page, size)


@dataclass(frozen=True)
class TechnicianLoad:
    """A technician and the requests they hold now, across every centre."""

    user: User
    open_count: int
    on_site: int
    on_hold: int


def _technicians(centre_ids: set[int]):
    return (
        select(User.id)
        .join(UserRole)
        .where(UserRole.role == Role.TECHNICIAN, UserRole.centre_id.in_(centre_ids), User.is_active.is_(True))
        .distinct()
    )


def _load_counts(technicians) -> dict[int, tuple[int, int, int]]:
    """Return {technician id: (open, on site, on hold)} in one query for them all."""
    rows = db.session.execute(
        select(
            Ticket.assignee_id,
            func.count(),
            func.sum(case((Ticket.status == Status.IN_PROGRESS, 1), else_=0)),
            func.sum(case((Ticket.status == Status.ON_HOLD, 1), else_=0)),
        )
        .where(Ticket.assignee_id.in_(technicians), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id)
    ).all()
    return {assignee: (count, on_site or 0, held or 0) for assignee, count, on_site, held in rows}


def technician_load(centre_ids: set[int]) -> list[tuple[User, int, int]]:
    """Return (technician, open tickets, of which on hold) for these centres' technicians."""
    if not centre_ids:
        return []
    technicians = _technicians(centre_ids)
    counts = _load_counts(technicians)
    users = db.session.execute(select(User).where(User.id.in_(technicians)).order_by(User.display_name)).scalars()
    return [(u, counts.get(u.id, (0, 0, 0))[0], counts.get(u.id, (0, 0, 0))[2]) for u in users]


def assignable_by_centre(centre_ids: set[int]) -> dict[int, list[TechnicianLoad]]:
    """Return each centre's active technicians by name, with their load.

    Two queries whatever the number of centres and technicians: who may be
    chosen (with their centres), and every one's counts.
    """
    if not centre_ids:
        return {}
    rows = db.session.execute(
        select(User, UserRole.centre_id)
        .join(UserRole)
        .where(UserRole.role == Role.TECHNICIAN, UserRole.centre_id.in_(centre_ids), User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    ).all()
    counts = _load_counts(_technicians(centre_ids))
    result: dict[int, list[TechnicianLoad]] = {centre_id: [] for centre_id in centre_ids}
    for user, centre_id in rows:
        result[centre_id].append(TechnicianLoad(user, *counts.get(user.id, (0, 0, 0))))
    return result
