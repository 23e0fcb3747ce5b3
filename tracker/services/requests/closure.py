"""Automatic closure: resolved requests the requester never confirmed close by themselves.

A request waits for its requester's confirmation for the confirmation target
of its SLA policy; when that target comes due, the application confirms it
(``tickets.transition(..., Action.CONFIRM, actor=None)``), and the target
counts as met (docs/sla.md, "Automatic confirmation"). A request whose
policy has no confirmation target (or that has no policy) closes
AUTO_CLOSE_DAYS days after its last resolution; so does one whose
confirmation target was already flagged late before this ran (a request
resolved before the upgrade that brought automatic closure).

The SLA sweep runs this first, each time (at most PER_SWEEP closures), so
a confirmation target comes due here before the clock sweep could flag it
late. The fixed wait of days is looked for at most every
AUTO_CLOSE_SCAN_SECONDS per process (``scan_due``): that query reads every
resolved request older than the wait and checks its clocks, about 150 ms at
a million tickets with 28,000 awaiting confirmation (docs/workers.md), and
a wait of days does not need the sweep's seconds. Three index probes find
the work: running confirmation clocks by their deadline, those requests
by id, and old resolutions by the partial index of resolved requests. Each closure is the
transition's own transaction; a request confirmed, reopened or closed by
another sweep meanwhile is refused by the workflow and skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, text

from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, Status
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.models import Ticket, TicketSla
from tracker.services.requests import tickets

log = logging.getLogger(__name__)

# The partial index's own predicate, as a literal: the planners match it then.
AWAITING = text("tickets.status = 'resolved'")


# Closures per SLA sweep: each is a transition of its own (some 30-75 ms on
# PostgreSQL, docs/feedback.md), and the sweep must get on to flag breaches.
# In a burst (after downtime) the rest close at the next sweeps.
PER_SWEEP = 200


# When each database's fixed-wait scan last ran in this process (scan_due).
_last_scan: dict[str, datetime] = {}


def scan_due(now: datetime) -> bool:
    """Return whether the fixed-wait scan should run at ``now`` in this process, and note that it does."""
    key = str(db.engine.url)
    last = _last_scan.get(key)
    interval = timedelta(seconds=current_app.config["AUTO_CLOSE_SCAN_SECONDS"])
    if last is not None and timedelta(0) <= now - last < interval:
        return False
    _last_scan[key] = now
    return True


def due_ids(now: datetime, *, limit: int, by_days: bool = True) -> list[int]:
    """Return up to ``limit`` ids of resolved requests whose wait for confirmation is over at ``now``."""
    # Two steps, each on its index: running confirmation clocks past their
    # deadline (ix_ticket_slas_target_state_due), then which of those
    # requests are still resolved. Not next_check_at: a clock's next check
    # is the instant after its deadline (when it would be late), and the
    # request closes at the deadline itself.
    clocks = list(db.session.execute(
        select(TicketSla.ticket_id)
        .where(TicketSla.target == Target.CONFIRMATION, TicketSla.state == TargetState.RUNNING,
               TicketSla.due_at <= now)
        .order_by(TicketSla.due_at, TicketSla.ticket_id)
        .limit(limit)
    ).scalars())
    found = []
    if clocks:
        resolved = set(db.session.execute(
            select(Ticket.id).where(Ticket.id.in_(clocks), Ticket.status == Status.RESOLVED)
        ).scalars())
        found = [i for i in clocks if i in resolved]
    if not by_days:
        db.session.rollback()
        return found[:limit]
    cutoff = now - timedelta(days=current_app.config["AUTO_CLOSE_DAYS"])
    # No confirmation clock counting (no such target, or flagged late before): the fixed wait.
    counting = exists().where(
        TicketSla.ticket_id == Ticket.id, TicketSla.target == Target.CONFIRMATION,
        TicketSla.state == TargetState.RUNNING,
    )
    by_days = (
        select(Ticket.id)
        .where(AWAITING, Ticket.resolved_at <= cutoff, ~counting)
        .order_by(Ticket.resolved_at, Ticket.id)
        .limit(limit)
    )
    found += [i for i in db.session.execute(by_days).scalars() if i not in found]
    db.session.rollback()  # end the read: each closure is a transaction of its own
    return found[:limit]


def close_unconfirmed(now: datetime, *, batch_size: int = 500, limit: int | None = None,
                      by_days: bool = True) -> int:
    """Confirm, as the application, resolved requests whose wait is over (all, or ``limit``); return how many.

    ``by_days=False``: only those whose confirmation target came due, not the fixed wait.
    """
    closed = 0
    seen: set[int] = set()
    while limit is None or len(seen) < limit:
        wanted = batch_size if limit is None else min(batch_size, limit - len(seen))
        ids = [i for i in due_ids(now, limit=wanted + len(seen), by_days=by_days) if i not in seen][:wanted]
        if not ids:
            return closed
        seen.update(ids)
        for ticket_id in ids:
            try:
                tickets.transition(ticket_id, Action.CONFIRM, actor=None, now=now)
            except TrackerError:
                continue  # confirmed, reopened or closed meanwhile: nothing to do
            except Exception:  # one request must not stop the others, nor the sweep
                log.exception("automatic closure of ticket %s failed", ticket_id)
                continue
            closed += 1
    return closed
