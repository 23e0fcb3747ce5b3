"""Measure automatic closure, the weekly sample draw and rating on PostgreSQL.

    .venv/bin/python benchmarks/feedback_bench.py                      # 50,000 awaiting, 20,000 closed
    .venv/bin/python benchmarks/feedback_bench.py --awaiting 200000    # more

The database (``tracker_feedback_bench`` on 127.0.0.1 by default,
``--url`` to change it) is dropped and created. One resolved request and
one closed request are filed through the services; their rows (ticket,
events, SLA targets) are then copied (``tests/integration/workers.py``
``copy_tickets``) into ``--awaiting`` requests waiting for confirmation
(repairs policy: confirmation due in 3 days) and ``--closed`` requests
closed last week. Scenarios, figures in docs/feedback.md:

a. idle: ``closure.due_ids(now)`` when nothing is due (the probes the SLA
   sweep now runs every second), and the whole ``sla_sweep.sweep_due(now)``;
   median and p95 of ``--rounds``.
b. burst: ``--due`` of the awaiting requests get their confirmation
   deadline in the past; one ``closure.close_unconfirmed(now)`` closes them
   (a transaction each, through ``tickets.transition``).
c. the weekly sample: ``follow_ups.draw_sample`` of last week, 5 per centre,
   from ``--closed`` candidates in one centre.
d. rating: ``feedback.give`` (one transaction: rating, event, day mark,
   follow-up for a low one), median of ``--ratings`` calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _bulkload as bulk  # noqa: E402
import sqlalchemy as sa  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def timed(call, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tracker_feedback_bench")
    parser.add_argument("--awaiting", type=int, default=50_000)
    parser.add_argument("--closed", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--ratings", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()

    os.environ["TRACKER_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="feedback-bench-")
    os.environ["TRACKER_ENV"] = "development"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    bulk.recreate_database(args.url)

    from flask_migrate import upgrade

    from tests.factories import build_world, make_ticket
    from tests.integration.workers import copy_tickets
    from tracker import create_app
    from tracker.clock import utcnow
    from tracker.domain.sla_clock import Target
    from tracker.domain.workflow import Status
    from tracker.extensions import db
    from tracker.models import Ticket, TicketSla
    from tracker.services.insight import reports
    from tracker.services.ledger import feedback, follow_ups
    from tracker.services.requests import closure
    from tracker.services.sla import sweep as sla_sweep

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "feedback-bench", "CELERY_BROKER_URL": "memory://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": {}, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    })
    with app.app_context():
        upgrade(revision="heads")
        world = build_world()
        now = utcnow()
        week = follow_ups.sample_week(now)
        week_start, _ = reports.day_bounds(week, week)
        started = time.perf_counter()
        awaiting = make_ticket(world, status=Status.RESOLVED, now=now - timedelta(hours=2))
        closed = make_ticket(world, status=Status.CLOSED, now=week_start + timedelta(days=2))
        awaiting_ids = copy_tickets(awaiting.id, args.awaiting)
        closed_ids = copy_tickets(closed.id, args.closed)
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        print(f"loaded {args.awaiting:,} awaiting and {args.closed:,} closed requests in "
              f"{time.perf_counter() - started:.0f} s")

        # a. idle
        median, p95 = timed(lambda: (closure.due_ids(now, limit=500), db.session.rollback()), args.rounds)
        print(f"a. closure.due_ids, nothing due: median {ms(median)}, p95 {ms(p95)}")
        median, p95 = timed(lambda: sla_sweep.sweep_due(now), args.rounds)
        print(f"a. sla_sweep.sweep_due, nothing due (closure included): median {ms(median)}, p95 {ms(p95)}")

        # b. burst
        due_ids = awaiting_ids[: args.due]
        db.session.execute(
            sa.update(TicketSla).where(TicketSla.ticket_id.in_(due_ids), TicketSla.target == Target.CONFIRMATION)
            .values(due_at=now - timedelta(minutes=1))
        )
        db.session.commit()
        started = time.perf_counter()
        count = closure.close_unconfirmed(now)
        elapsed = time.perf_counter() - started
        left = db.session.execute(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.id.in_(due_ids), Ticket.status != Status.CLOSED)).scalar_one()
        assert count == args.due and left == 0, (count, left)
        print(f"b. close_unconfirmed: {count:,} closed in {elapsed:.2f} s ({ms(elapsed / count)} each)")

        # c. the weekly sample
        started = time.perf_counter()
        drawn = follow_ups.draw_sample(week, now=now, size=5)
        elapsed = time.perf_counter() - started
        assert sum(len(v) for v in drawn.values()) == 5, drawn
        print(f"c. draw_sample of {args.closed + 1:,} closed candidates: {ms(elapsed)}")

        # d. rating
        requester = world.users["requester"]
        rated = closed_ids[-args.ratings:]
        samples = []
        for index, ticket_id in enumerate(rated):
            begun = time.perf_counter()
            feedback.give(ticket_id, rating=1 + index % 5, actor=requester, now=now)
            samples.append(time.perf_counter() - begun)
        print(f"d. feedback.give: median {ms(statistics.median(samples))} over {len(samples)} "
              f"(a fifth of them 1s, which open a follow-up)")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
