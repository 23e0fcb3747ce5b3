"""Measure the rectification ledger's figures, its sweep and the repeat-fault query on PostgreSQL.

    .venv/bin/python benchmarks/rectification_bench.py                      # 20,000 items, 300,000 requests
    .venv/bin/python benchmarks/rectification_bench.py --items 5000 --tickets 50000 --rounds 5

The database (``--url``, default ``tracker_h_rect_bench`` on 127.0.0.1) is
dropped and created anew, migrated to every head, and given the test world
(tests/factories.py) plus 200 places. Items are inserted directly: opened
over three years, of both centres, in every status, about one in ten past
its deadline; requests are copies of one filed request at random places,
categories and times over two years. Each figure is computed ``--rounds``
times after a warm-up; the table gives the median and the maximum.
Figures: docs/rectification.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def recreate(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def timed(rounds: int, call) -> tuple[float, float]:
    call()  # warm-up
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tracker_h_rect_bench")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    recreate(args.url)
    from flask_migrate import upgrade

    from tests.factories import T0, build_world, make_ticket
    from tracker import create_app
    from tracker.domain.rectification import ItemStatus
    from tracker.extensions import db
    from tracker.models import Location, RectificationItem, Ticket
    from tracker.services.insight import rectification_reports, reports, weekly
    from tracker.services.ledger import rectification

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "TRACKER_ENV": "development", "SECRET_KEY": "bench",
                      "CELERY_BROKER_URL": "memory://", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    rng = random.Random(6)
    with app.app_context():
        upgrade(revision="heads")
        world = build_world()
        building = world.locations["building"]
        places = [Location(kind="room", code=f"bench-{n}", name_en=f"Room {n}", name_zh=f"{n}室",
                           parent_id=building.id) for n in range(200)]
        db.session.add_all(places)
        db.session.commit()
        place_ids = [p.id for p in places]

        started = time.perf_counter()
        template = make_ticket(world, now=T0)
        table = Ticket.__table__
        row = dict(db.session.execute(sa.select(table).where(table.c.id == template.id)).mappings().one())
        del row["id"]
        categories = [(c.id, c.centre_id) for c in world.categories.values()]
        for start in range(0, args.tickets, 10_000):
            rows = []
            for n in range(start, min(args.tickets, start + 10_000)):
                category, centre = rng.choice(categories)
                created = NOW - timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
                rows.append(row | {"reference": f"BENCH-{n:07d}", "created_at": created, "updated_at": created,
                                   "location_id": rng.choice(place_ids), "category_id": category,
                                   "centre_id": centre})
            db.session.execute(sa.insert(table), rows)
            db.session.commit()
        tickets_seconds = time.perf_counter() - started

        started = time.perf_counter()
        items = RectificationItem.__table__
        people = {world.centres["repairs"].id: world.users["technician"].id,
                  world.centres["dorm"].id: world.users["dorm_technician"].id}
        zone = reports.campus_zone()
        for start in range(0, args.items, 5_000):
            rows = []
            for n in range(start, min(args.items, start + 5_000)):
                centre = rng.choice(list(people))
                created = NOW - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
                due_on = reports.local_day(created) + timedelta(days=rng.randrange(7, 120))
                due_at = datetime.combine(due_on + timedelta(days=1), datetime.min.time(), zone)
                at_risk_at = created + (due_at - created) * 0.75
                status = rng.choices([ItemStatus.VERIFIED, ItemStatus.CANCELLED, ItemStatus.OPEN,
                                      ItemStatus.IN_PROGRESS, ItemStatus.AWAITING_VERIFICATION],
                                     [80, 5, 5, 7, 3])[0]
                verified_at = None
                if status is ItemStatus.VERIFIED:
                    verified_at = min(created + (due_at - created) * rng.uniform(0.3, 1.3), NOW)
                active = status in (ItemStatus.OPEN, ItemStatus.IN_PROGRESS, ItemStatus.AWAITING_VERIFICATION)
                rows.append({
                    "reference": f"RC-B-{n:06d}", "title": f"Item {n}", "description": "Bench item.",
                    "source": "complaint_cluster", "source_ref": "", "centre_id": centre,
                    "responsible_id": people[centre], "created_by_id": None, "priority": "normal",
                    "status": status.value, "due_on": due_on, "due_at": due_at, "at_risk_at": at_risk_at,
                    # Everything swept up to an hour ago: what a running beat leaves.
                    "next_check_at": max(min(at_risk_at, due_at), NOW - timedelta(hours=1)) if active else None,
                    "progress_percent": None, "fix_summary": "", "rejection_count": 0, "created_at": created,
                    "updated_at": created, "verified_at": verified_at,
                    "cancelled_at": created + timedelta(days=3) if status is ItemStatus.CANCELLED else None,
                    "version": 1,
                })
            db.session.execute(sa.insert(items), rows)
            db.session.commit()
        items_seconds = time.perf_counter() - started
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()

        year = rectification_reports.Scope(first=date(2025, 12, 1), last=date(2026, 11, 24))
        measured = [
            ("backlog by centre, 12 months", lambda: rectification_reports.figures_by_centre(year, NOW)),
            ("burn-down, 12 months", lambda: rectification_reports.burndown(year, NOW)),
            ("overdue list, first 50", lambda: list(db.session.execute(
                rectification_reports.drilldown("overdue", year, NOW).limit(50)).scalars())),
            ("weekly progress", lambda: weekly.rectification_progress(date(2026, 11, 16), now=NOW)),
            ("repeat faults (30 days)", lambda: rectification_reports.hotspots(NOW)),
            ("sweep, nothing due", lambda: rectification.sweep_due(NOW - timedelta(hours=2))),
        ]
        results = [(name, *timed(args.rounds, call)) for name, call in measured]
        db.session.rollback()
        due = db.session.execute(sa.select(sa.func.count()).select_from(items)
                                 .where(items.c.next_check_at <= NOW + timedelta(days=7))).scalar_one()
        started = time.perf_counter()
        swept = rectification.sweep_due(NOW + timedelta(days=7))
        sweep_seconds = time.perf_counter() - started
        hotspot_count = len(rectification_reports.hotspots(NOW))
        db.session.remove()
        db.engine.dispose()

    print(f"{args.items} items, {args.tickets} requests at {len(place_ids)} places "
          f"(loaded in {items_seconds:.1f} s and {tickets_seconds:.1f} s), {hotspot_count} hotspots now")
    print(f"{'figure':<32} {'median ms':>10} {'max ms':>10}")
    for name, median, worst in results:
        print(f"{name:<32} {median:>10.1f} {worst:>10.1f}")
    print(f"sweep of the week ahead: {due} items due, {swept.at_risk} at risk, {swept.overdue} overdue, "
          f"{swept.notices} notices in {sweep_seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
