"""The SLA sweep: flag what became at risk or breached, and escalate.

Two indexed queries find the work: ``ticket_slas.next_check_at <= now``
(clocks whose state changes with time alone) and
``escalations.next_action_at <= now`` (acknowledgements that ran out,
breaches that last). Nothing else is read, and never all open tickets.

A running target's stored ``due_at`` and ``at_risk_at`` are exact: every
event recomputes them in its own transaction. With no event since, only
time changes its state, at those instants, so the sweep updates rows in
bulk without recomputing; a paused target (its hold's allowance ran out)
is recomputed in full.

Exactly once: escalations are unique per (ticket, target, level) and are
inserted with ON CONFLICT DO NOTHING ... RETURNING; events and notices are
written only for the rows this sweep inserted, in the same transaction.
Two sweeps at once, a sweep killed half-way (its transaction rolls back),
a beat that fires twice: each event and notice exists once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from tracker import metrics
from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Priority
from tracker.errors import NotFound, PermissionDenied
from tracker.extensions import db
from tracker.models import Escalation, EventKind, SlaPolicyVersion, Ticket, TicketEvent, TicketSla, User
from tracker.services import bulk, supervision
from tracker.services.insight import reports, stats
from tracker.services.notify import outbox
from tracker.services.requests import closure
from tracker.services.sla import clocks as sla

log = logging.getLogger(__name__)

# Escalation levels and who receives them.
AT_RISK, BREACHED, LEADERSHIP = 1, 2, 3
LEVEL_KIND = {AT_RISK: "sla_at_risk", BREACHED: "sla_breached", LEADERSHIP: "sla_escalated"}
LEVEL_EVENT = {AT_RISK: EventKind.SLA_AT_RISK, BREACHED: EventKind.SLA_BREACHED, LEADERSHIP: EventKind.SLA_ESCALATED}

_TICK = timedelta(microseconds=1)

DEFAULT_ESCALATION = {"ack_minutes": 30, "leadership_after_minutes": 120, "defer_non_urgent_to": None}


@dataclass
class SweepResult:
    clocks: int = 0  # target rows looked at
    recomputed: int = 0  # tickets recomputed in full (paused targets)
    at_risk: int = 0
    breached: int = 0
    escalated: int = 0  # level 2 or 3 reached through an expired acknowledgement or a lasting breach
    notices: int = 0
    seconds: float = 0.0
    closed: int = 0  # resolved requests closed automatically (their confirmation came due)
    supervision_overdue: int = 0  # supervision orders flagged overdue
    lag_seconds: float = 0.0  # how long the oldest due clock had waited for this sweep
    # Due instant to this sweep, per target flagged breached (for the metrics).
    breach_latencies: list[float] = field(default_factory=list)

    def __str__(self):
        return (
            f"{self.clocks} clocks, {self.recomputed} recomputed, {self.at_risk} at risk, "
            f"{self.breached} breached, {self.escalated} escalated, {self.notices} notices, "
            f"{self.closed} closed automatically in {self.seconds * 1000:.0f} ms"
        )


def escalation_rules(definition: dict) -> dict:
    """Return a policy version's escalation settings, with the defaults filled in."""
    return DEFAULT_ESCALATION | (definition.get("escalation") or {})


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def sweep_due(now: datetime, *, batch_size: int | None = None) -> SweepResult:
    """Flag clocks that changed by ``now`` and act on due escalations; commit per batch."""
    started = time.perf_counter()
    batch_size = batch_size or current_app.config["SLA_SWEEP_BATCH"]
    result = SweepResult()
    seen: set[int] = set()
    # First: a confirmation target that comes due closes its request (met),
    # rather than being flagged late below.
    result.closed = closure.close_unconfirmed(now, batch_size=batch_size, limit=closure.PER_SWEEP,
                                              by_days=closure.scan_due(now))
    while _sweep_clocks(now, batch_size, result, seen):
        pass
    while _sweep_escalations(now, batch_size, result):
        pass
    # Supervision orders past their deadline escalate with the same sweep (docs/supervision.md).
    result.supervision_overdue = supervision.sweep_overdue(now, batch_size=batch_size).flagged
    result.seconds = time.perf_counter() - started
    metrics.observe_sweep(seconds=result.seconds, lag_seconds=result.lag_seconds,
                          breach_latencies=result.breach_latencies)
    return result


# ---------------------------------------------------------------- clocks


def _claim_clocks(now: datetime, batch_size: int) -> list:
    columns = (
        TicketSla.id,
        TicketSla.ticket_id,
        TicketSla.target,
        TicketSla.state,
        TicketSla.due_at,
        TicketSla.at_risk_at,
        TicketSla.policy_version_id,
        TicketSla.priority,
        TicketSla.next_check_at,
    )
    query = (
        select(*columns)
        .where(TicketSla.next_check_at <= now)
        .order_by(TicketSla.next_check_at)
        .limit(batch_size)
    )
    if _is_postgres():
        # Another sweep takes the next rows instead of waiting for these.
        query = query.with_for_update(skip_locked=True, of=TicketSla)
    return db.session.execute(query).all()


def _sweep_clocks(now: datetime, batch_size: int, result: SweepResult, seen: set[int]) -> bool:
    """Process one batch of due clocks; return whether to go on."""
    rows = _claim_clocks(now, batch_size)
    if not rows:
        db.session.rollback()
        return False
    if all(row.id in seen for row in rows):
        # Every row processed already and still due: a clock whose next check
        # does not move. Stop rather than spin; the next sweep tries again.
        log.error("SLA sweep: %d clocks stay due after processing (ids %s…)", len(rows), [r.id for r in rows[:5]])
        db.session.rollback()
        return False
    if not seen and rows[0].next_check_at is not None:
        # Ordered by next_check_at: the first row of the first batch waited longest.
        result.lag_seconds = (now - rows[0].next_check_at).total_seconds()
    seen.update(row.id for row in rows)
    result.clocks += len(rows)
    updates = []
    breached_tickets = set()
    paused_tickets = set()
    wanted = []  # (ticket_id, target, level, reason, policy_version_id, priority, due_at)
    for row in rows:
        if row.state is not TargetState.RUNNING:
            paused_tickets.add(row.ticket_id)
            continue
        if row.due_at is not None and row.due_at < now:
            updates.append({"b_id": row.id, "b_state": TargetState.BREACHED.value, "b_next": None})
            breached_tickets.add(row.ticket_id)
            result.breach_latencies.append((now - row.due_at).total_seconds())
            wanted.append((row.ticket_id, row.target, BREACHED, "breached", row.policy_version_id, row.priority,
                           row.due_at))
        else:
            # At risk, not yet late: look again at the first instant it is late
            # (a target due exactly now is on time, and must not come back now).
            next_check = row.due_at + _TICK if row.due_at is not None else None
            updates.append({"b_id": row.id, "b_state": TargetState.RUNNING.value, "b_next": next_check})
            wanted.append((row.ticket_id, row.target, AT_RISK, "at_risk", row.policy_version_id, row.priority,
                           row.due_at))
    if updates:
        bulk.update_by_id(
            TicketSla.__table__,
            [{"id": u["b_id"], "state": u["b_state"], "next_check_at": u["b_next"], "computed_at": now}
             for u in updates],
        )
    at_risk_tickets = {w[0] for w in wanted if w[2] == AT_RISK}
    if breached_tickets:
        db.session.execute(
            update(Ticket.__table__)
            .where(bulk.ids_in(Ticket.__table__.c.id, sorted(breached_tickets)))
            .values(is_sla_breached=True)
        )
    if at_risk_tickets:
        db.session.execute(
            update(Ticket.__table__)
            .where(bulk.ids_in(Ticket.__table__.c.id, sorted(at_risk_tickets)))
            .values(is_sla_at_risk=True)
        )
    if breached_tickets:
        # A breach counts on the day of its deadline: that day's figures change.
        centres = dict(db.session.execute(
            select(Ticket.id, Ticket.centre_id).where(bulk.ids_in(Ticket.id, sorted(breached_tickets)))
        ).all())
        stats.mark(
            (reports.local_day(w[6]), centres[w[0]]) for w in wanted if w[2] == BREACHED and w[6] is not None
        )
    # A paused target whose hold allowance ran out: rebuild from the history.
    for ticket in db.session.execute(select(Ticket).where(Ticket.id.in_(sorted(paused_tickets)))).scalars():
        clocks = sla._recompute(ticket, now)
        result.recomputed += 1
        for target, clock in clocks.items():
            if clock.state is TargetState.BREACHED and clock.milestone_at is None:
                wanted.append((ticket.id, target, BREACHED, "breached", ticket.sla_policy_version_id,
                               clock.priority, clock.due_at))
            elif clock.is_at_risk(now):
                wanted.append((ticket.id, target, AT_RISK, "at_risk", ticket.sla_policy_version_id,
                               clock.priority, clock.due_at))
    _escalate(wanted, now, result)
    db.session.commit()
    return True


# ---------------------------------------------------------------- escalations


def _next_action(level: int, created_at: datetime, due_at: datetime | None, rules: dict,
                 acknowledged: bool) -> datetime | None:
    """Return when an escalation of ``level`` must be looked at again."""
    if level >= LEADERSHIP:
        return None
    candidates = []
    if not acknowledged:
        candidates.append(created_at + timedelta(minutes=float(rules["ack_minutes"])))
    if level == BREACHED and due_at is not None:
        candidates.append(due_at + timedelta(minutes=float(rules["leadership_after_minutes"])))
    return min(candidates) if candidates else None


def _policy_rules(version_ids) -> dict[int, dict]:
    ids = sorted({v for v in version_ids if v is not None})
    if not ids:
        return {}
    rows = db.session.execute(select(SlaPolicyVersion.id, SlaPolicyVersion.definition).where(
        SlaPolicyVersion.id.in_(ids))).all()
    return {row.id: escalation_rules(row.definition) for row in rows}


def _escalate(wanted: list[tuple], now: datetime, result: SweepResult) -> None:
    """Insert the wanted escalations that do not exist yet; write their events and notices."""
    if not wanted:
        return
    rules = _policy_rules(w[4] for w in wanted)
    rows = []
    context = {}
    for ticket_id, target, level, reason, version_id, priority, due_at in wanted:
        rule = rules.get(version_id, DEFAULT_ESCALATION)
        rows.append({
            "ticket_id": ticket_id,
            "target": Target(target).value,
            "level": level,
            "reason": reason,
            "created_at": now,
            "next_action_at": _next_action(level, now, due_at, rule, acknowledged=False),
        })
        context[(ticket_id, Target(target).value, level)] = (reason, priority, due_at, rule)
    created = bulk.insert_ignoring_conflicts(
        Escalation.__table__, rows, conflict=["ticket_id", "target", "level"],
        returning=["id", "ticket_id", "target", "level"],
    )
    if not created:
        return
    tickets = {
        t.id: t
        for t in db.session.execute(
            select(Ticket.id, Ticket.reference, Ticket.title, Ticket.centre_id, Ticket.assignee_id,
                   Ticket.status).where(bulk.ids_in(Ticket.id, sorted({c[1] for c in created})))
        ).all()
    }
    heads: dict[int, list[int]] = {}
    dispatchers: dict[int, list[int]] = {}
    openings: dict[str, datetime | None] = {}
    leaders = None
    events, notices, recipients = [], [], {}
    for escalation_id, ticket_id, target, level in created:
        reason, priority, due_at, rule = context[(ticket_id, target, level)]
        ticket = tickets[ticket_id]
        if level == AT_RISK:
            result.at_risk += 1
            if ticket.assignee_id:
                people = [ticket.assignee_id]
            else:
                if ticket.centre_id not in dispatchers:
                    dispatchers[ticket.centre_id] = _unassigned_receivers(ticket.centre_id, now)
                people = dispatchers[ticket.centre_id]
        elif level == BREACHED:
            if reason == "breached":
                result.breached += 1
            else:
                result.escalated += 1
            if ticket.centre_id not in heads:
                heads[ticket.centre_id] = outbox.users_with_role(Role.CENTRE_HEAD, ticket.centre_id)
            people = heads[ticket.centre_id]
        else:
            result.escalated += 1
            if leaders is None:
                leaders = outbox.users_with_role(Role.LEADERSHIP)
            people = leaders
        events.append({
            "ticket_id": ticket_id,
            "kind": LEVEL_EVENT[level].value,
            "actor_id": None,
            "created_at": now,
            "from_status": None,
            "to_status": None,
            "body": "",
            "data": {"target": target, "level": level, "reason": reason, "escalation_id": escalation_id,
                     "due_at": due_at.isoformat() if due_at else None},
        })
        key = f"sla:{ticket_id}:{target}:{level}"
        not_before = None
        quiet = rule.get("defer_non_urgent_to")
        if level == AT_RISK and quiet and priority != Priority.URGENT.value:
            if quiet not in openings:
                openings[quiet] = _next_opening(quiet, now)
            not_before = openings[quiet]
        notices.append(outbox.Notice(
            kind=LEVEL_KIND[level],
            key=key,
            subject=f"{ticket.reference} {target} level {level} ({reason})",
            payload={"reference": ticket.reference, "title": ticket.title, "target": target, "level": level,
                     "reason": reason, "due_at": due_at.isoformat() if due_at else None},
            ticket_id=ticket_id,
            centre_id=ticket.centre_id,
            escalation_id=escalation_id,
            link=f"/tickets/{ticket.reference}",
            not_before=not_before,
        ))
        recipients[key] = people
    bulk.insert(TicketEvent.__table__, events)
    result.notices += len(outbox.queue(notices, recipients, now=now))


def _next_opening(calendar_code: str, now: datetime) -> datetime | None:
    try:
        calendar = sla.calendar_version(sla.current_calendar_version_id(calendar_code))
        return calendar.next_opening(now)
    except Exception:  # an unknown or exhausted calendar must not stop the sweep
        log.exception("cannot defer a notice to calendar %s", calendar_code)
        return None


def _sweep_escalations(now: datetime, batch_size: int, result: SweepResult) -> bool:
    """Act on escalations whose acknowledgement ran out or whose breach lasts."""
    query = (
        select(Escalation)
        .where(Escalation.next_action_at <= now)
        .order_by(Escalation.next_action_at)
        .limit(batch_size)
    )
    if _is_postgres():
        query = query.with_for_update(skip_locked=True)
    escalations = list(db.session.execute(query).scalars())
    if not escalations:
        db.session.rollback()
        return False
    clocks = {
        (row.ticket_id, row.target): row
        for row in db.session.execute(
            select(TicketSla).where(TicketSla.ticket_id.in_(sorted({e.ticket_id for e in escalations})))
        ).scalars()
    }
    rules = _policy_rules(row.policy_version_id for row in clocks.values())
    wanted = []
    for escalation in escalations:
        escalation.next_action_at = None
        clock = clocks.get((escalation.ticket_id, escalation.target))
        if clock is None or clock.milestone_at is not None or clock.state not in (
            TargetState.RUNNING, TargetState.BREACHED
        ):
            continue  # done, paused or cancelled meanwhile: nothing to chase
        rule = rules.get(clock.policy_version_id, DEFAULT_ESCALATION)
        ack_deadline = escalation.created_at + timedelta(minutes=float(rule["ack_minutes"]))
        if escalation.acknowledged_at is None and ack_deadline <= now:
            reason = "unacknowledged"
        elif escalation.level == BREACHED and clock.due_at is not None and (
            clock.due_at + timedelta(minutes=float(rule["leadership_after_minutes"])) <= now
        ):
            reason = "still_breached"
        else:
            # Not yet: look again at the next deadline of this escalation.
            escalation.next_action_at = _next_action(
                escalation.level, escalation.created_at, clock.due_at, rule,
                acknowledged=escalation.acknowledged_at is not None,
            )
            continue
        wanted.append((escalation.ticket_id, escalation.target, escalation.level + 1, reason,
                       clock.policy_version_id, clock.priority, clock.due_at))
    _escalate(wanted, now, result)
    db.session.commit()
    return True


# ---------------------------------------------------------------- acknowledging


def _unassigned_receivers(centre_id: int, at: datetime) -> list[int]:
    """Return who gets level 1 of a request nobody holds: the technicians on duty at ``at``, and the dispatchers."""
    from tracker.services.dispatch import roster

    return sorted(set(roster.duty_technicians(centre_id, at)) | set(outbox.users_with_role(Role.DISPATCHER,
                                                                                           centre_id)))


def receivers(escalation: Escalation, ticket: Ticket) -> set[int]:
    """Return who may acknowledge an escalation: the people it went to."""
    if escalation.level == AT_RISK:
        return {ticket.assignee_id} if ticket.assignee_id else set(
            _unassigned_receivers(ticket.centre_id, escalation.created_at))
    if escalation.level == BREACHED:
        return set(outbox.users_with_role(Role.CENTRE_HEAD, ticket.centre_id))
    return set(outbox.users_with_role(Role.LEADERSHIP))


def open_escalations(ticket: Ticket) -> list[Escalation]:
    return list(
        db.session.execute(
            select(Escalation).where(Escalation.ticket_id == ticket.id).order_by(Escalation.id)
        ).scalars()
    )


def acknowledge(escalation_id: int, *, actor: User, now: datetime) -> Escalation:
    """Acknowledge an escalation as one of its receivers; record it; commit.

    Raises NotFound for an unknown escalation, PermissionDenied when the
    actor did not receive it.
    """
    escalation = db.session.execute(
        select(Escalation).where(Escalation.id == escalation_id).with_for_update()
    ).scalar_one_or_none()
    if escalation is None:
        raise NotFound()
    ticket = db.session.get(Ticket, escalation.ticket_id)
    if actor.id not in receivers(escalation, ticket):
        raise PermissionDenied(N_("Only those it was sent to can acknowledge this escalation."))
    if escalation.acknowledged_at is not None:
        return escalation
    escalation.acknowledged_at = now
    escalation.acknowledged_by_id = actor.id
    clock = db.session.execute(
        select(TicketSla).where(TicketSla.ticket_id == ticket.id, TicketSla.target == escalation.target)
    ).scalar_one_or_none()
    version = db.session.get(SlaPolicyVersion, clock.policy_version_id) if clock else None
    rule = escalation_rules(version.definition) if version else DEFAULT_ESCALATION
    escalation.next_action_at = _next_action(
        escalation.level, escalation.created_at, clock.due_at if clock else None, rule, acknowledged=True
    )
    db.session.add(TicketEvent(
        ticket_id=ticket.id,
        kind=EventKind.ESCALATION_ACKNOWLEDGED,
        actor_id=actor.id,
        created_at=now,
        data={"target": escalation.target.value, "level": escalation.level, "escalation_id": escalation.id},
    ))
    outbox.mark_acted(actor, now=now, escalation_id=escalation.id)
    db.session.commit()
    return escalation
