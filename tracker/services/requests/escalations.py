"""Reading escalations: a ticket's, and the open ones a user receives.

The sweep (``sla_sweep``) creates them and ``sla_sweep.acknowledge``
records an acknowledgement; this module only reads. Who receives a level
is ``sla_sweep.receivers``: level 1 the assignee (while nobody is assigned,
the technicians on duty when it was raised and the centre's dispatchers), level 2 the centre heads, level 3 leadership.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.workflow import OPEN_STATUSES
from tracker.extensions import db
from tracker.models import Escalation, Shift, ShiftKind, Ticket, User
from tracker.services.requests.tickets import user_names
from tracker.services.sla import sweep as sla_sweep

LEVEL_LABELS = {
    sla_sweep.AT_RISK: N_("Level 1: assignee"),
    sla_sweep.BREACHED: N_("Level 2: centre head"),
    sla_sweep.LEADERSHIP: N_("Level 3: leadership"),
}

REASON_LABELS = {
    "at_risk": N_("Deadline at risk"),
    "breached": N_("Deadline passed"),
    "unacknowledged": N_("The level below did not acknowledge in time"),
    "still_breached": N_("Still late long after the deadline"),
}


@dataclass(frozen=True)
class EscalationRow:
    escalation: Escalation
    receiver_names: list[str]  # who it went to, by name
    can_acknowledge: bool  # the viewer received it and it is not acknowledged yet


def for_ticket(ticket: Ticket, viewer: User) -> list[EscalationRow]:
    """Return the ticket's escalations, oldest first, with their receivers and what ``viewer`` may do."""
    escalations = list(
        db.session.execute(
            select(Escalation)
            .where(Escalation.ticket_id == ticket.id)
            .options(joinedload(Escalation.acknowledged_by))
            .order_by(Escalation.created_at, Escalation.id)
        ).scalars()
    )
    if not escalations:
        return []
    # Receivers depend on the level (and the ticket), not on the target.
    receivers: dict[int, set[int]] = {}
    for e in escalations:
        if e.level not in receivers:
            receivers[e.level] = sla_sweep.receivers(e, ticket)
    names = user_names({uid for ids in receivers.values() for uid in ids})
    return [
        EscalationRow(
            escalation=e,
            receiver_names=sorted(names[uid] for uid in receivers[e.level] if uid in names),
            can_acknowledge=e.acknowledged_at is None and viewer.id in receivers[e.level],
        )
        for e in escalations
    ]


def open_for(user: User, *, limit: int = 200) -> list[Escalation]:
    """Return the unacknowledged escalations ``user`` receives on open tickets, newest first.

    Level 1 where they are the assignee (or, while nobody is assigned, a
    dispatcher of the centre or a technician on duty when it was raised), level 2 in the centres they head, level 3 when they
    are in leadership: the same people ``sla_sweep.receivers`` lets
    acknowledge. Escalations of closed or cancelled tickets are left out:
    there is nothing left to chase.
    """
    dispatching = sorted(user.centre_ids(Role.DISPATCHER))
    heading = sorted(user.centre_ids(Role.CENTRE_HEAD))
    on_duty = (
        select(Shift.id).where(
            Shift.user_id == user.id, Shift.centre_id == Ticket.centre_id, Shift.kind == ShiftKind.ON_DUTY,
            Shift.starts_at <= Escalation.created_at, Shift.ends_at > Escalation.created_at,
        ).exists()
        if user.centre_ids(Role.TECHNICIAN) else false()
    )
    level_one = or_(
        Ticket.assignee_id == user.id,
        and_(Ticket.assignee_id.is_(None), Ticket.centre_id.in_(dispatching)) if dispatching else false(),
        and_(Ticket.assignee_id.is_(None), on_duty),
    )
    mine = or_(
        and_(Escalation.level == sla_sweep.AT_RISK, level_one),
        and_(Escalation.level == sla_sweep.BREACHED, Ticket.centre_id.in_(heading)) if heading else false(),
        Escalation.level == sla_sweep.LEADERSHIP if user.has_role(Role.LEADERSHIP) else false(),
    )
    return list(
        db.session.execute(
            select(Escalation)
            .join(Ticket, Ticket.id == Escalation.ticket_id)
            .where(Escalation.acknowledged_at.is_(None), Ticket.status.in_(OPEN_STATUSES), mine)
            .options(joinedload(Escalation.ticket))
            .order_by(Escalation.created_at.desc(), Escalation.id.desc())
            .limit(limit)
        ).scalars()
    )
