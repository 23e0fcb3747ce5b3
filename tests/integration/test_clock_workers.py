"""The dispatch target and supervision orders through a real Celery worker, beat and broker."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import make_ticket
from tests.integration import workers
from tests.integration.test_workers import quick_policy, succeeded, world_with_mail
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models import Escalation, EventKind, Notification, SupervisionOrder, TicketEvent
from tracker.services import supervision

pytestmark = pytest.mark.worker

# The fixtures of workers.py, by name: pytest finds them here.
artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink
EVENTS = TicketEvent.__table__


def test_the_beat_flags_a_dispatch_breach_and_an_overdue_order_once_each(make_system, smtp_sink):
    system = make_system()
    worker = system.start_worker(concurrency=2, beat=True, ready=False)
    world = world_with_mail()
    # Dispatch within 3 seconds, round the clock; response much later.
    quick_policy(world, "three-second-dispatch", {"dispatch": ("always", 0.05), "response": ("always", 60)})
    worker.wait_ready()
    now = utcnow()
    ticket = make_ticket(world, now=now)
    ticket_id = ticket.id
    order = supervision.issue(
        ticket_id=ticket_id,
        instruction="Dispatch it and tell me why it waited.",
        responsible_id=world.users["centre_head"].id,
        deadline_at=now + timedelta(seconds=3),
        actor=world.users["leadership"],
        now=now,
    )
    order_id = order.id

    system.wait_until(
        "the dispatch breach and the overdue order flagged by the beat's sweep",
        lambda: (
            system.count(
                Escalation,
                Escalation.ticket_id == ticket_id,
                Escalation.target == "dispatch",
                Escalation.level == 2,
            )
            == 1
            and system.count(
                SupervisionOrder, SupervisionOrder.id == order_id, SupervisionOrder.overdue_at.is_not(None)
            )
            == 1
        ),
        timeout=30,
    )
    # Two more sweeps: a second flag would happen now.
    worker.wait_for_log(
        r"Task sla\.sweep_due\[[^\]]+\] succeeded", count=succeeded(worker, "sla.sweep_due") + 2
    )
    kinds = [
        r.kind
        for r in system.rows(
            select(EVENTS.c.kind).where(
                EVENTS.c.ticket_id == ticket_id,
                EVENTS.c.kind.in_([EventKind.SLA_BREACHED, EventKind.SUPERVISION_OVERDUE]),
            )
        )
    ]
    assert sorted(kinds) == sorted([EventKind.SLA_BREACHED.value, EventKind.SUPERVISION_OVERDUE.value])
    overdue_notices = system.rows(
        select(Notification.user_id).where(
            Notification.idempotency_key.like(f"supervision:{order_id}:overdue:%"),
            Notification.channel == "in_app",
        )
    )
    assert sorted(r.user_id for r in overdue_notices) == sorted(
        [world.users["centre_head"].id, world.users["leadership"].id]
    )
    [(flagged_at,)] = system.rows(select(SupervisionOrder.overdue_at).where(SupervisionOrder.id == order_id))
    system.figure(
        "overdue order flagged after its deadline",
        f"{(flagged_at - (now + timedelta(seconds=3))).total_seconds():.2f} s",
    )
    assert worker.errors() == []
    db.session.rollback()
