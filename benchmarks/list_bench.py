"""Measure the ticket list's first page (``/tickets/``) on bulk-loaded databases, taken in turn.

    .venv/bin/python benchmarks/list_bench.py --db h_list_100k --db h_list_1m --rounds 3 --requests 30
    .venv/bin/python benchmarks/list_bench.py --db h_list_100k --make-late 10000   # then measure again

The databases come from ``benchmarks/_bulkload.py`` (through ``sweep_bench.py
--skip a,b,c,d``). The real app is served by Flask's test client in this
process (no network, no gunicorn: the side-by-side harness in
``../shared/bench/peer/`` measures through gunicorn). Each user logs in
through the login form (the bench gives them a known password: this
writes to the database). A round requests the page ``--requests`` times
per database and user, the databases in turn (ABAB...); it prints the
wall and CPU p50 and p95 of this process, the statements of one request
and their time, and the 1-minute load before and after.

``--http PORT:DB`` (repeat) measures through gunicorn instead: servers
already started on those ports (e.g. ``peer_bench.py serve``, 2 workers x 4
gthread threads) on those databases, logged in as ``--user`` with
``--password``, the harness's client (``../shared/bench/peer/sidebyside.py``:
keep-alive, time to the whole answer) and its CPU meter (the gunicorn
workers and the PostgreSQL backends of the database, per request). The
servers are taken in turn every ``--block`` requests, so that a change in
the machine's load falls on all of them alike.

``--make-late N`` makes the N newest open requests with a running
resolution target late now (deadline 1-11 h ago, the request's
``next_due_at`` set to match), as a campus with a late backlog has them,
then VACUUM (ANALYZE) the two tables, and measures nothing. Figures:
docs/dashboards.md, "The ticket list at scale".
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

PASSWORD = "list-bench-password"
SERVER = "postgresql://postgres@127.0.0.1:5432/"


def make_late(database: str, count: int) -> None:
    if database.startswith("bench_"):
        raise SystemExit("refused: the shared bench databases are never written to; copy one first")
    with psycopg.connect(SERVER + database, autocommit=True) as conn:
        changed = conn.execute(
            """
            WITH chosen AS (
                SELECT s.id, s.ticket_id,
                       now() - interval '1 hour' - (random() * interval '10 hours') AS due
                FROM ticket_slas s JOIN tickets t ON t.id = s.ticket_id
                WHERE t.is_open AND s.target = 'resolution' AND s.state = 'running'
                ORDER BY t.created_at DESC LIMIT %s
            ), slas AS (
                UPDATE ticket_slas s SET due_at = c.due, at_risk_at = c.due - interval '30 minutes',
                       next_check_at = c.due
                FROM chosen c WHERE s.id = c.id RETURNING s.ticket_id, c.due
            )
            UPDATE tickets t SET next_due_at = slas.due FROM slas WHERE t.id = slas.ticket_id
            """,
            (count,),
        ).rowcount
        conn.execute("VACUUM (ANALYZE) tickets, ticket_slas")
    print(f"{database}: {changed:,} requests late now (deadline 1-11 h ago); tickets and ticket_slas vacuumed")


def late_now(database: str) -> int:
    with psycopg.connect(SERVER + database) as conn:
        return conn.execute(
            "SELECT count(DISTINCT s.ticket_id) FROM ticket_slas s JOIN tickets t ON t.id = s.ticket_id "
            "WHERE t.is_open AND s.state = 'running' AND s.milestone_at IS NULL AND s.due_at < now()"
        ).fetchone()[0]


class Served:
    """One database's app and a logged-in client per user."""

    def __init__(self, database: str, users: list[str]):
        from sqlalchemy import event
        from werkzeug.security import generate_password_hash

        from tracker import create_app
        from tracker.extensions import db

        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        with psycopg.connect(SERVER + database, autocommit=True) as conn:
            hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
            conn.execute("UPDATE users SET password_hash = %s WHERE username = ANY(%s)", (hashed, users))
        self.database = database
        self.app = create_app({
            "SQLALCHEMY_DATABASE_URI": url,
            "TRACKER_PRODUCTION": False,
            "SECRET_KEY": "list-bench",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {},
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        })
        self.clients = {user: self._login(user) for user in users}
        with self.app.app_context():
            self.engine = db.engine
        self.statements: list[tuple[float, str]] = []
        self._event = event

    def _login(self, user: str):
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        answer = client.post("/login", data={"csrf_token": token, "username": user, "password": PASSWORD})
        if answer.status_code != 302:
            raise SystemExit(f"{self.database}: login as {user} failed ({answer.status_code})")
        for _ in range(3):  # warm: templates, catalogue, connections
            assert client.get("/tickets/").status_code == 200
        return client

    def counted(self, user: str) -> tuple[int, float]:
        """Return (statements, their ms) of one request."""
        seen: list[float] = []

        def before(_conn, _cursor, _statement, _params, context, _many):
            context._list_bench_started = time.perf_counter()

        def after(_conn, _cursor, _statement, _params, context, _many):
            seen.append(time.perf_counter() - context._list_bench_started)

        self._event.listen(self.engine, "before_cursor_execute", before)
        self._event.listen(self.engine, "after_cursor_execute", after)
        try:
            assert self.clients[user].get("/tickets/").status_code == 200
        finally:
            self._event.remove(self.engine, "before_cursor_execute", before)
            self._event.remove(self.engine, "after_cursor_execute", after)
        return len(seen), sum(seen) * 1000

    def timed(self, user: str, requests: int) -> tuple[list[float], list[float]]:
        walls, cpus = [], []
        client = self.clients[user]
        for _ in range(requests):
            wall, cpu = time.perf_counter(), time.process_time()
            answer = client.get("/tickets/")
            answer.get_data()
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert answer.status_code == 200
        return walls, cpus


def over_http(options) -> None:
    sys.path.insert(0, str(ROOT.parent / "shared" / "bench" / "peer"))
    import sidebyside

    servers = []
    for item in options.http:
        port, _, database = item.partition(":")
        master = int(Path(options.pidfile.format(port=port)).read_text())
        session = sidebyside.login_ours(int(port), options.user[0] if options.user else "leader1", options.password)
        for _ in range(5):
            status, *_rest = session.request("GET", "/tickets/")
            assert status == 200, status
        servers.append({"name": f"{database}@{port}", "session": session, "lat": [], "app": 0.0, "pg": 0.0,
                        "meter": sidebyside.CpuMeter(master, database), "db": database})
    for server in servers:
        print(f"{server['name']}: {late_now(server['db']):,} requests late now", flush=True)
    loads = [os.getloadavg()[0]]
    for _ in range(options.rounds):
        for server in servers:
            meter = server["meter"]
            before = meter.snap()
            for _ in range(options.block):
                status, _body, seconds, _location = server["session"].request("GET", "/tickets/")
                assert status == 200, status
                server["lat"].append(seconds)
            after = meter.snap()
            server["app"] += meter.delta(before[0], after[0])
            server["pg"] += meter.delta(before[1], after[1])
        loads.append(os.getloadavg()[0])
    print(f"load (1 min) {min(loads):.2f}-{max(loads):.2f} over the run", flush=True)
    for server in servers:
        ms = [x * 1000 for x in server["lat"]]
        n = len(ms)
        print(f"{server['name']:24} n {n} p50 {statistics.median(ms):.1f} ms p95 {p95(ms):.1f} ms, CPU per "
              f"request: gunicorn {server['app'] / n * 1000:.1f} ms, PostgreSQL {server['pg'] / n * 1000:.1f} ms",
              flush=True)
    print("Command: " + " ".join(["python", *sys.argv]))


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", default=[], help="a database name (repeat: taken in turn)")
    parser.add_argument("--user", action="append", help="who looks (repeat); default leader1 and dispatch1.repairs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--make-late", type=int, metavar="N")
    parser.add_argument("--http", action="append", metavar="PORT:DB", help="measure through gunicorn (repeat)")
    parser.add_argument("--block", type=int, default=20, help="--http: requests per server in a turn")
    parser.add_argument("--password", default=PASSWORD, help="--http: the user's password")
    parser.add_argument("--pidfile", default="/tmp/peer/ours-{port}.pid", help="--http: the gunicorn master's")
    options = parser.parse_args()
    if options.http:
        over_http(options)
        return
    if options.make_late:
        for database in options.db:
            make_late(database, options.make_late)
        return
    # config.load()'s defaults (secret key, broker folders) stay out of the tree; never production.
    os.environ["TRACKER_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="list-bench-")
    os.environ["TRACKER_ENV"] = "development"
    os.environ.setdefault("SECRET_KEY", "list-bench")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    users = options.user or ["leader1", "dispatch1.repairs"]
    served = [Served(database, users) for database in options.db]
    for one in served:
        print(f"{one.database}: {late_now(one.database):,} requests late now", flush=True)
    print(f"{'round':5} {'database':14} {'user':18} {'wall p50':>8} {'p95':>6} {'CPU p50':>8} {'p95':>6} "
          f"{'stmts':>5} {'SQL ms':>6}  load before -> after", flush=True)
    for n in range(1, options.rounds + 1):
        for one in served:
            for user in users:
                before = os.getloadavg()[0]
                walls, cpus = one.timed(user, options.requests)
                count, sql_ms = one.counted(user)
                after = os.getloadavg()[0]
                print(f"{n:5} {one.database:14} {user:18} {statistics.median(walls):8.1f} {p95(walls):6.1f} "
                      f"{statistics.median(cpus):8.1f} {p95(cpus):6.1f} {count:5} {sql_ms:6.1f}  "
                      f"{before:.2f} -> {after:.2f}", flush=True)
    print("Command: " + " ".join(["python", *sys.argv]))


if __name__ == "__main__":
    main()
