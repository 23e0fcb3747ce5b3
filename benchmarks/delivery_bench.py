"""Breach detection while the notice worker drains a backlog (docs/workers.md, "Breaches behind a backlog").

Real Celery workers and beat on PostgreSQL and Redis, mail to an SMTP sink
on 127.0.0.1 (aiosmtpd), through the worker tests' harness
(``tests/integration/workers.py``):

1. a fresh database ``<name>_workers`` beside --database-url's, migrated;
   Redis db of --broker-url purged;
2. ``--backlog`` e-mail notices queued at once (one delivery task per 500);
3. workers and beat started: ``--mode split`` as ``desk.py run`` and the
   README's production setup (``-Q celery --concurrency 2`` and
   ``-Q sla --concurrency 1``), ``--mode shared`` as before (one worker,
   concurrency 2, both queues);
4. ``--breaches`` requests filed back-dated so that their response deadlines
   (2 minutes, round the clock) fall evenly over ``--spread`` seconds starting
   ``--lead`` seconds later, while the backlog drains;
5. measured per breach: the ``sla_breached`` event's ``created_at`` (the
   sweep's now) minus the deadline, and when a poll every 0.1 s first saw it;
   how many notices were still waiting when each breach was flagged; the
   sweeps that expired in the queue (worker logs); the drain's progress.
   It stops when every breach is flagged (or after --timeout s), the drain
   unfinished.

The database is dropped at the end. Bounded: it gives up after --timeout s.

    .venv/bin/python benchmarks/delivery_bench.py [--mode split|shared] [--backlog 10000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_delivery_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/5"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER, help="Redis (its db is purged)")
    parser.add_argument("--mode", choices=("split", "shared"), default="split")
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--breaches", type=int, default=100)
    parser.add_argument("--spread", type=float, default=40, help="seconds over which the deadlines fall")
    parser.add_argument("--lead", type=float, default=10, help="seconds from filing to the first deadline")
    parser.add_argument("--sweep-seconds", default="2", help="TRACKER_SLA_SWEEP_SECONDS (default as deployed)")
    parser.add_argument("--timeout", type=float, default=150, help="seconds to wait for the breaches")
    options = parser.parse_args()

    # The harness names its database after TEST_DATABASE_URL's, with _workers.
    os.environ["TEST_DATABASE_URL"] = options.database_url
    os.environ["TEST_BROKER_URL"] = options.broker_url
    import sqlalchemy as sa
    from sqlalchemy import func, select

    from tests.factories import build_world, make_ticket
    from tests.integration.test_workers import quick_policy
    from tests.integration.workers import SmtpSink, System, worker_database_url
    from tracker.clock import utcnow
    from tracker.domain.sla_clock import Target
    from tracker.extensions import db
    from tracker.models import Channel, EventKind, Notification, TicketEvent, TicketSla
    from tracker.services.notify import outbox

    load = os.getloadavg()
    print(f"load before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; mode {options.mode}, backlog "
          f"{options.backlog}, {options.breaches} breaches over {options.spread:.0f} s", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="delivery_bench_"))
    artifacts = scratch / "logs"
    artifacts.mkdir()
    sink = SmtpSink()
    sink.start()
    system = System(scratch / "system", artifacts, broker_url=options.broker_url, mail_port=sink.port,
                    settings={"TRACKER_SLA_SWEEP_SECONDS": options.sweep_seconds,
                              "TRACKER_OUTBOX_SWEEP_SECONDS": "15"})
    notices = events = tickets = None
    try:
        system.open()
        world = build_world()
        users = list(world.users.values())
        for user in users:
            user.email = f"{user.username}@campus.test"
        db.session.commit()
        quick_policy(world, "two-minutes", {"response": ("always", 2)})
        recipients = [u.id for u in users]

        started = time.perf_counter()
        per_notice = len(recipients)
        count = -(-options.backlog // per_notice)
        for first in range(0, count, 500):
            batch = [outbox.Notice(kind="ticket_assigned", key=f"bench:{n}", subject=f"backlog {n}",
                                   payload={"reference": f"B-{n}", "title": f"backlog {n}"})
                     for n in range(first, min(count, first + 500))]
            outbox.queue(batch, {notice.key: recipients for notice in batch}, now=utcnow())
            db.session.commit()
        email = (Notification.channel == Channel.EMAIL, Notification.kind == "ticket_assigned")
        backlog = system.count(Notification, *email)
        print(f"backlog: {backlog} e-mail notices queued in {time.perf_counter() - started:.1f} s", flush=True)

        if options.mode == "split":
            workers = [system.start_worker("notify", concurrency=2, queues="celery", ready=False),
                       system.start_worker("sla", concurrency=1, queues="sla", beat=True, ready=False)]
        else:
            workers = [system.start_worker("shared", concurrency=2, beat=True, ready=False)]
        for worker in workers:
            worker.wait_ready(timeout=60)
        drain_started = time.monotonic()

        # Back-dated filing: each deadline is 2 minutes after its filing.
        now = utcnow()
        step = options.spread / max(options.breaches - 1, 1)
        tickets = []
        for index in range(options.breaches):
            due = now + timedelta(seconds=options.lead + index * step)
            tickets.append(make_ticket(world, now=due - timedelta(minutes=2)).id)
        system.release()
        filing = (utcnow() - now).total_seconds()
        print(f"filed {len(tickets)} requests in {filing:.1f} s; deadlines from +{options.lead:.0f} s", flush=True)

        dues = dict(system.rows(select(TicketSla.ticket_id, TicketSla.due_at).where(
            TicketSla.ticket_id.in_(tickets), TicketSla.target == Target.RESPONSE)))
        breached = (TicketEvent.ticket_id.in_(tickets), TicketEvent.kind == EventKind.SLA_BREACHED)
        first_seen, waiting_at = {}, {}
        drained_at = None
        deadline = time.monotonic() + options.timeout
        while time.monotonic() < deadline:
            seen_now = time.time()
            rows = system.rows(select(TicketEvent.ticket_id).where(*breached))
            fresh = [r.ticket_id for r in rows if r.ticket_id not in first_seen]
            if fresh:
                pending = system.count(Notification, *email, Notification.status.in_(("pending", "sending")))
                for ticket_id in fresh:
                    first_seen[ticket_id] = seen_now
                    waiting_at[ticket_id] = pending
            if drained_at is None and not system.count(Notification, *email,
                                                       Notification.status.in_(("pending", "sending"))):
                drained_at = time.monotonic()
            if len(first_seen) == len(tickets):
                break  # the drain goes on; its progress is reported
            time.sleep(0.1)
        else:
            print("timed out: the figures below cover what was seen", flush=True)

        events = {r.ticket_id: r.created_at for r in system.rows(
            select(TicketEvent.ticket_id, TicketEvent.created_at).where(*breached))}
        notices = dict(system.rows(select(Notification.status, func.count()).where(*email)
                                   .group_by(Notification.status)))
        recorded = [(events[t] - dues[t]).total_seconds() for t in tickets if t in events]
        seen = [first_seen[t] - dues[t].timestamp() for t in tickets if t in first_seen]
        during = sum(1 for t in tickets if waiting_at.get(t, 0) > 0)
        logs = "\n".join(w.log() for w in workers)
        expired = len(re.findall(r"Discarding revoked task: sla\.sweep_due|sla\.sweep_due\[[^\]]+\] expired", logs))
        sweeps = len(re.findall(r"Task sla\.sweep_due\[[^\]]+\] succeeded", logs))
        load = os.getloadavg()
        print(f"\nmode {options.mode}: {len(recorded)}/{len(tickets)} breaches flagged, {during} of them while "
              f"notices were still waiting")
        for name, values in (("recorded (created_at - due_at)", recorded), ("first seen - due_at", seen)):
            if values:
                print(f"  {name}: p50 {statistics.median(values):.2f} s, p90 {percentile(values, 0.9):.2f} s, "
                      f"p99 {percentile(values, 0.99):.2f} s, max {max(values):.2f} s")
        elapsed = (drained_at or time.monotonic()) - drain_started
        sent = len(sink.messages)
        drain = f"drained in {elapsed:.1f} s" if drained_at else f"{sent} mails in {elapsed:.0f} s, not finished"
        print(f"  backlog: { {str(k): v for k, v in notices.items()} }; {drain} ({sent / elapsed:.0f} mails/s)")
        print(f"  sweeps run {sweeps}, expired in the queue {expired}")
        print(f"  load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        ok = recorded and percentile(recorded, 0.99) <= 5 and len(recorded) == len(tickets)
        print(f"  target p99 <= 5 s: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        system.close()
        sink.stop()
        url = sa.make_url(worker_database_url(scratch))
        engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        engine.dispose()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
        print(f"dropped {url.database}; removed {scratch}")


if __name__ == "__main__":
    raise SystemExit(main())
