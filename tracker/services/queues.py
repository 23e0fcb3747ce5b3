"""Work queues: what a technician or a dispatcher should look at next."""

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
URGENCY = (Ticket.next_due_at.asc().nulls_last(), _PRIORITY_ORDER, Ticket.created_at)


def my_work(user: User, limit: int = 200) -> list[Ticket]:
    """Return the open tickets assigned to ``user``, most urgent first."""
    return list(
        db.session.execute(
            select(Ticket)
            .where(Ticket.assignee_id == user.id, Ticket.status.in_(OPEN_STATUSES))
            .order_by(*URGENCY)
            .limit(limit)
            # The queue shows each requester: one join, not a query per row.
            .options(joinedload(Ticket.requester))
        ).scalars()
    )


def unassigned(centre_ids: set[int], limit: int = 200) -> list[Ticket]:
    """Return the new or reopened unassigned tickets of these centres, most urgent first."""
    if not centre_ids:
        return []
    return list(
        db.session.execute(
            select(Ticket)
            .where(
                Ticket.centre_id.in_(centre_ids),
                Ticket.status.in_([Status.NEW, Status.REOPENED]),
            )
            .order_by(*URGENCY)
            .limit(limit)
        ).scalars()
    )


def technician_load(centre_ids: set[int]) -> list[tuple[User, int, int]]:
    """Return (technician, open tickets, of which on hold) for these centres' technicians."""
    if not centre_ids:
        return []
    technicians = (
        select(User.id)
        .join(UserRole)
        .where(UserRole.role == Role.TECHNICIAN, UserRole.centre_id.in_(centre_ids), User.is_active.is_(True))
        .distinct()
    )
    counts = dict(
        (row[0], (row[1], row[2]))
        for row in db.session.execute(
            select(
                Ticket.assignee_id,
                func.count(),
                func.sum(case((Ticket.status == Status.ON_HOLD, 1), else_=0)),
            )
            .where(Ticket.assignee_id.in_(technicians), Ticket.status.in_(OPEN_STATUSES))
            .group_by(Ticket.assignee_id)
        ).all()
    )
    users = db.session.execute(select(User).where(User.id.in_(technicians)).order_by(User.display_name)).scalars()
    return [(u, *counts.get(u.id, (0, 0))) for u in users]
