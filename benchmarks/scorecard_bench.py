"""Time the scorecard page (/scorecards) at 1,000,000 requests on PostgreSQL, from the daily summary.

Run from the repository root, with the machine's PostgreSQL on loopback:

    python benchmarks/scorecard_bench.py                    # load 1,000,000, build, measure, drop
    python benchmarks/scorecard_bench.py --keep             # keep bench_scorecards_1m for another run
    python benchmarks/scorecard_bench.py --reuse --rounds 40

The database is built with benchmarks/_bulkload.py (COPY: requests, their
events and stored targets, as the services store them); the technicians of
the catalogue are spread over three contractors; the summaries are built as
``flask stats-rebuild`` builds them (``stats.mark_everything`` +
``stats.refresh_all``, which now also writes daily_technician_stats and
daily_technician_holds). Then each page is fetched through the real app
(test client, logged in through the login form) ``--rounds`` times after a
warm-up, and its median and p95 printed. The database is dropped at the end
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _bulkload as bulk  # noqa: E402
import psycopg  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scorecards_1m"
PASSWORD = "scorecard bench 42"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def make_app(url: str):
    from tracker import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "scorecard-bench",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {},
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        }
    )


def load(url: str, tickets: int, seed: int) -> None:
    from flask_migrate import upgrade

    started = time.perf_counter()
    bulk.recreate_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade(revision="heads")
        ref = int(time.time())
        catalog = bulk.build_catalog(datetime.fromtimestamp(ref, UTC))
        plan = bulk.Plan(
            tickets=tickets, open=tickets * 15 // 100, breach=0, ref=ref, seed=seed, has_is_open=True
        )
        result = bulk.load_tickets(url, catalog, plan)
        bulk.finish(url, result)
    print(f"loaded {tickets:,} requests in {time.perf_counter() - started:.0f} s", flush=True)
    with psycopg.connect(bulk.conninfo(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO contractors (code, name_en, name_zh, is_active, created_at) VALUES "
            "('alpha', 'Alpha Facilities', '阿尔法物业', true, now()), "
            "('beta', 'Beta Engineering', '贝塔工程', true, now()), "
            "('gamma', 'Gamma Services', '伽马服务', true, now())"
        )
        # Two of every three technicians work for a contractor.
        conn.execute(
            "INSERT INTO contractor_members (user_id, contractor_id, since) "
            "SELECT u.id, (SELECT id FROM contractors ORDER BY id OFFSET (u.id % 3) LIMIT 1), now() "
            "FROM users u WHERE u.username LIKE 'tech%' AND u.id % 3 <> 0"
        )


def build_summary(url: str) -> None:
    from tracker.services.insight import stats

    app = make_app(url)
    with app.app_context():
        started = time.perf_counter()
        marked = stats.mark_everything()
        stats.refresh_all()
        print(
            f"summary: {marked:,} (day, centre) pairs built in {time.perf_counter() - started:.0f} s "
            f"(mark_everything + refresh_all, daily_stats and the technicians' summary)",
            flush=True,
        )
    with psycopg.connect(bulk.conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        for table in ("daily_technician_stats", "daily_technician_holds", "daily_stats", "daily_centre_stats"):
            print(f"  {table}: {conn.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:,} rows")


def login(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login as {username} failed: {response.status_code}")
    return client


def measure(url: str, rounds: int) -> None:
    from werkzeug.security import generate_password_hash

    with psycopg.connect(bulk.conninfo(url), autocommit=True) as conn:
        tech = conn.execute(
            "SELECT u.username FROM daily_technician_stats s JOIN users u ON u.id = s.technician_id "
            "GROUP BY u.username ORDER BY sum(s.handled) DESC, u.username LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE username = ANY(%s)",
            (
                generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                ["leader1", "head1.repairs", tech],
            ),
        )
        last_day = conn.execute("SELECT max(day) FROM daily_technician_stats").fetchone()[0]
    app = make_app(url)
    month = (last_day - timedelta(days=29), last_day)
    year = (last_day - timedelta(days=364), last_day)
    three = (last_day.replace(year=last_day.year - 3) + timedelta(days=1), last_day)
    pages = [
        ("leader1", "technicians, 30 days, all centres", "technician", month),
        ("leader1", "technicians, 1 year, all centres", "technician", year),
        ("leader1", "technicians, 3 years, all centres", "technician", three),
        ("leader1", "contractors, 1 year", "contractor", year),
        ("head1.repairs", "head: technicians of repairs, 1 year", "technician", year),
        (tech, "technician: own card and jobs, 30 days", "technician", month),
    ]
    clients = {who: login(app, who) for who in {p[0] for p in pages}}
    print(f"pages measured ({rounds} rounds each after a warm-up; technician {tech}):")
    for who, label, group, (first, last) in pages:
        path = f"/scorecards?group={group}&from={first.isoformat()}&to={last.isoformat()}"
        client = clients[who]
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert "Nothing was handled" not in response.get_data(as_text=True), path
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        xlsx = client.get(path.replace("/scorecards?", "/scorecards/export.xlsx?"))
        assert xlsx.status_code == 200
        print(
            f"  {label}: median {1000 * percentile(times, 0.5):.0f} ms, p95 {1000 * percentile(times, 0.95):.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--reuse", action="store_true", help="measure the database loaded before")
    parser.add_argument("--build", action="store_true", help="with --reuse: build the summaries first")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    os.environ["TRACKER_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="scorecard-bench-")
    os.environ["TRACKER_ENV"] = "development"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    try:
        if not args.reuse:
            load(args.url, args.tickets, args.seed)
        if not args.reuse or args.build:
            build_summary(args.url)
        measure(args.url, args.rounds)
    finally:
        if not args.keep:
            with psycopg.connect(
                bulk.conninfo(args.url.rsplit("/", 1)[0] + "/postgres"), autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.url.rsplit("/", 1)[1]}" WITH (FORCE)')
            print("dropped the database")


if __name__ == "__main__":
    main()
