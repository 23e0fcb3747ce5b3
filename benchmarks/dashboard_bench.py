"""Measure the dashboards, their lists and files, and the queues on PostgreSQL at a million tickets.

    .venv/bin/python benchmarks/dashboard_bench.py              # 30 rounds per page (about 10 min)
    .venv/bin/python benchmarks/dashboard_bench.py --rounds 10  # quicker, rougher

The databases come from ``benchmarks/_bulkload.py`` (through
``sweep_bench.py``): ``tracker_bench`` must be loaded already (1,000,000
tickets; it is reused, never dropped). ``tracker_bench_small`` (100,000
tickets, the same loader) is loaded here when it is missing; it is only the
"small" side of the memory comparison. Figures: docs/dashboards.md.

Steps:

1. The daily summary. When ``daily_stats`` does not cover the days that
   have tickets, it is built as ``flask stats-rebuild`` builds it
   (``stats.mark_everything`` + ``stats.refresh_all``, the workers' refresh
   200 pairs a round), with progress, and the time is kept in ``bench_meta``
   (``stats_build``) so later runs report it too.
2. Pages. The real app (``create_app`` with overrides: the bench
   ``SQLALCHEMY_DATABASE_URI``, development semantics, a memory broker)
   served by Flask's test client in this process: no network, no gunicorn.
   Leadership, a centre head, the busiest technician and a dispatcher log
   in through the real login form (the bench users get a known password).
   Every page is requested once to warm up and check it (status, no
   "showing the last 30 days instead" fallback unless expected), then
   ``--rounds`` times, the pages taken in turn (round robin); a page stops
   early once it has used ``--page-budget`` seconds and has ``--min-rounds``
   samples. The time is from the request to the last byte of the body; for
   streamed files also to the first byte. A further pass times every SQL
   statement of each page once (SQL share, statement count) and keeps the
   slowest; pages that miss their target get it EXPLAIN (ANALYZE, BUFFERS)ed.
3. Memory. Each database is measured in a fresh child process: RSS (VmRSS,
   and VmHWM, the peak) before and after serving every page, then the
   tracemalloc peak of each page. The streamed list file is measured on its
   own, one fresh process per size (about 10,000 and 200,000 rows): the
   tracemalloc peak and the RSS peak while streaming.
4. A table (page, filter, p50, p95, max, target, verdict) and the command;
   ``--json`` keeps everything. Before the pages it prints how many requests
   are late now and how many heap pages of tickets and ticket_slas the
   visibility map leaves to read: the "now" counts are index-only scans, and
   only VACUUM marks pages all-visible. ``--vacuum`` runs VACUUM (ANALYZE)
   on both first, as autovacuum would (migration 0014's thresholds) on a
   server that runs it; the one here runs with autovacuum off.

Targets (issue 5): p95 < 200 ms for a default view, < 500 ms for any filter.
A streamed list file is judged on its first byte; its total is reported.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_bench"
DEFAULT_SMALL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_bench_small"
PASSWORD = "dashboard-bench-password"
DEFAULT_TARGET_MS = 200
FILTER_TARGET_MS = 500
FALLBACK_NOTE = re.compile(r'class="notice" role="status"')


# ---------------------------------------------------------------- small helpers


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (-1.0, -1.0, -1.0)


def proc_status() -> dict[str, int]:
    """Return VmRSS and VmHWM (peak RSS) of this process, in kB."""
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                values[name] = int(value.split()[0])
    return values


def conninfo(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def raw(url: str) -> psycopg.Connection:
    return psycopg.connect(conninfo(url))


def database_exists(url: str) -> bool:
    name = sa.make_url(url).database
    admin = conninfo(str(sa.make_url(url).set(database="postgres")))
    with psycopg.connect(admin) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def bench_meta(url: str) -> dict[str, str]:
    try:
        with raw(url) as conn:
            return dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())
    except psycopg.Error:
        return {}


def put_meta(url: str, key: str, value: str) -> None:
    with raw(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute(
            "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )


def code_state() -> str:
    """Describe the code measured: the commit, and uncommitted changes under the app's folders."""

    def git(*args):
        try:
            return subprocess.run(
                ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    changed = git("status", "--porcelain", "--", "tracker", "templates", "migrations").splitlines()
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        f", {len(changed)} uncommitted changes under tracker/ templates/ migrations/" if changed else ", clean tree"
    )


def server_facts(url: str) -> dict:
    with raw(url) as conn:
        facts = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size",
                         "random_page_cost", "max_parallel_workers_per_gather", "autovacuum")
        }
        facts["database_size"] = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
    return facts


def table_state(url: str) -> str:
    """Return how many requests are late now and how much of tickets the visibility map leaves to read.

    The dashboards' counts are index-only scans: every heap page not marked
    all-visible (only VACUUM marks them) is read as well.
    """
    with raw(url) as conn:
        late = conn.execute(
            "SELECT count(*) FROM tickets t WHERE t.is_open AND EXISTS (SELECT 1 FROM ticket_slas s "
            "WHERE s.ticket_id = t.id AND s.milestone_at IS NULL "
            "AND (s.state = 'breached' OR (s.state = 'running' AND s.due_at < now())))"
        ).fetchone()[0]
        parts = []
        for table in ("tickets", "ticket_slas"):
            pages, visible = conn.execute(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", (table,)
            ).fetchone()
            parts.append(f"{table} {max(pages - visible, 0):,} of {pages:,} pages not all-visible")
    return f"{late:,} requests late now; " + ", ".join(parts)


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) the tables the "now" figures read, as autovacuum would (migration 0014's thresholds)."""
    started = time.perf_counter()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        for table in ("tickets", "ticket_slas"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  VACUUM (ANALYZE) tickets, ticket_slas: {time.perf_counter() - started:.1f} s", flush=True)


def make_app(url: str):
    """Return the real app on ``url``: development semantics, a memory broker, state in a temp folder."""
    from tracker import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TRACKER_PRODUCTION": False,
            "SECRET_KEY": "dashboard-bench",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {},
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        }
    )


def isolate_environment() -> None:
    """Keep config.load()'s defaults (secret key, broker folders) out of the tree; never production."""
    instance = tempfile.mkdtemp(prefix="dashboard-bench-")
    os.environ["TRACKER_INSTANCE_PATH"] = instance
    os.environ["TRACKER_ENV"] = "development"
    os.environ.setdefault("SECRET_KEY", "dashboard-bench")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)


# ---------------------------------------------------------------- 1. the daily summary


def summary_coverage(url: str, zone: str) -> dict:
    """Return the local days that have tickets, the days daily_stats holds, and its rows."""
    with raw(url) as conn:
        ticket_days = conn.execute(
            "SELECT count(DISTINCT (created_at AT TIME ZONE %s)::date) FROM tickets", (zone,)
        ).fetchone()[0]
        stats_days, rows = conn.execute("SELECT count(DISTINCT day), count(*) FROM daily_stats").fetchone()
        dirty = conn.execute("SELECT count(*) FROM stats_dirty").fetchone()[0]
    return {"ticket_days": ticket_days, "stats_days": stats_days, "rows": rows, "dirty": dirty}


def ensure_summary(url: str, label: str, options) -> dict:
    """Build daily_stats when it does not cover the days with tickets; return what was found or done.

    The build is ``flask stats-rebuild``'s: ``stats.mark_everything`` then
    ``stats.refresh_all`` (what the workers' ``stats.refresh`` does, 200
    pairs a round), timed with progress and the load average.
    """
    app = make_app(url)
    zone = app.config["TRACKER_TIMEZONE"]
    before = summary_coverage(url, zone)
    print(
        f"  {label}: daily_stats holds {before['stats_days']:,} of the {before['ticket_days']:,} local days "
        f"with tickets ({before['rows']:,} rows, {before['dirty']:,} marked)",
        flush=True,
    )
    if before["stats_days"] >= 0.99 * before["ticket_days"]:
        if before["dirty"]:
            with app.app_context():
                from tracker.extensions import db
                from tracker.services.insight import stats

                started = time.perf_counter()
                done = stats.refresh_all()
                db.session.remove()
                db.engine.dispose()
            print(f"  {label}: {done} marked pairs refreshed in {time.perf_counter() - started:.1f} s", flush=True)
        stored = bench_meta(url).get("stats_build")
        return {"built_now": False, "coverage": before, "build": json.loads(stored) if stored else None}

    print(f"  {label}: building the summary as `flask stats-rebuild` does (mark_everything + refresh_all)",
          flush=True)
    with raw(url) as conn:
        # Claims left by an interrupted build would hide their pairs from
        # refresh_all for ten minutes; no worker runs on a bench database.
        conn.execute("UPDATE stats_dirty SET claimed_until = NULL WHERE claimed_until IS NOT NULL")
    build: dict = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "load_before": load_average(),
                   "code": code_state()}
    with app.app_context():
        from tracker.extensions import db
        from tracker.services.insight import stats

        started = time.perf_counter()
        marked = stats.mark_everything()
        marked_at = time.perf_counter()
        build["pairs"] = marked
        build["mark_seconds"] = round(marked_at - started, 1)
        print(f"    {marked:,} (day, centre) pairs marked in {marked_at - started:.1f} s", flush=True)
        last = [marked_at]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 15 or done >= total:
                last[0] = now
                rate = done / (now - marked_at)
                print(
                    f"    {done:,}/{total:,} pairs, {rate:,.0f} pairs/s, {now - started:.0f} s, "
                    f"about {(total - done) / rate:.0f} s left, load {'/'.join(f'{x:.1f}' for x in load_average())}",
                    flush=True,
                )

        try:
            refreshed = stats.refresh_all(progress=progress)
        finally:
            db.session.remove()
            db.engine.dispose()
        finished = time.perf_counter()
    build["refreshed_pairs"] = refreshed
    build["refresh_seconds"] = round(finished - marked_at, 1)
    build["ms_per_pair"] = round((finished - marked_at) / max(refreshed, 1) * 1000, 1)
    build["seconds"] = round(finished - started, 1)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("ANALYZE daily_stats")
        conn.execute("ANALYZE daily_centre_stats")
        build["size"] = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('daily_stats'))").fetchone()[0]
    after = summary_coverage(url, zone)
    build["rows"] = after["rows"]
    build["load_after"] = load_average()
    put_meta(url, "stats_build", json.dumps(build))
    print(
        f"  {label}: summary built in {build['seconds']:.0f} s ({build['seconds'] / 60:.1f} min, "
        f"{build['ms_per_pair']} ms a pair): {marked:,} pairs, {after['rows']:,} rows ({build['size']}); "
        f"{after['dirty']} still marked",
        flush=True,
    )
    return {"built_now": True, "coverage": after, "build": build}


def ensure_small(url: str, tickets: int) -> None:
    """Load the small database with the same loader (sweep_bench.py) when it is missing."""
    meta = bench_meta(url) if database_exists(url) else {}
    if meta.get("tickets") == str(tickets):
        print(f"  {sa.make_url(url).database}: {tickets:,} tickets already loaded", flush=True)
        return
    command = [
        sys.executable, str(ROOT / "benchmarks" / "sweep_bench.py"), "--database-url", url,
        "--tickets", str(tickets), "--open", str(tickets * 15 // 100), "--breach", str(max(tickets // 100, 1)),
        "--skip", "a,b,c,d", "--reuse",
    ]
    print("  loading the small database: " + " ".join(shlex.quote(c) for c in command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    print(f"  small database loaded in {time.perf_counter() - started:.0f} s", flush=True)


# ---------------------------------------------------------------- 2. pages


@dataclass
class Page:
    name: str  # what is measured
    filter: str  # which view or filter
    who: str  # leader | head | tech | dispatcher
    url: str
    target_ms: int | None  # None: reported only
    kind: str = "page"  # page | file | stream
    expect: str = "ok"  # ok | fallback (the page notes it fell back to the default) | refused (400)
    samples: list = field(default_factory=list)  # total seconds
    ttfb: list = field(default_factory=list)  # first-byte seconds (streams)
    spent: float = 0.0
    check: str = ""
    bytes: int = 0
    rows: int | None = None
    sql: dict | None = None
    tracemalloc_kib: float | None = None


def pick_people(url: str) -> dict[str, str]:
    """Return the user names measured: leadership, the repair centre's head, its busiest technician and dispatcher."""
    with raw(url) as conn:
        tech = conn.execute(
            "SELECT u.username FROM tickets t JOIN users u ON u.id = t.assignee_id WHERE t.is_open "
            "GROUP BY u.username ORDER BY count(*) DESC, u.username LIMIT 1"
        ).fetchone()[0]
        centre = conn.execute(
            "SELECT c.code FROM tickets t JOIN centres c ON c.id = t.centre_id "
            "WHERE t.status IN ('new', 'reopened') GROUP BY c.code ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    return {"leader": "leader1", "head": "head1.repairs", "tech": tech, "dispatcher": f"dispatch1.{centre}"}


def set_passwords(url: str, usernames: list[str]) -> None:
    """Give the measured bench users a known password (the loader gives them a random one)."""
    from werkzeug.security import generate_password_hash

    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with raw(url) as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE username = ANY(%s)", (hashed, usernames))


def login(app, username: str):
    """Return a test client logged in through the real login form (CSRF token read from the page)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9,en;q=0.5"
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login as {username} failed: {response.status_code}")
    return client


def plan_pages(url: str, app, stream_days: int) -> list[Page]:
    """Return the pages to measure, with ids and dates read from the database."""
    from tracker.clock import utcnow
    from tracker.services.insight import reports
    from tracker.web.dashboards import MAX_DAYS

    with app.app_context():
        today = reports.local_day(utcnow())
    with raw(url) as conn:
        centres = conn.execute("SELECT id, code FROM centres ORDER BY sort_order, id").fetchall()
        repairs = next(cid for cid, code in centres if code == "repairs")
        category = conn.execute(
            "SELECT category_id FROM tickets WHERE centre_id = %s GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
            (repairs,),
        ).fetchone()[0]
        priority = conn.execute(
            "SELECT priority FROM tickets GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    three = f"from={today - timedelta(days=MAX_DAYS - 1)}&to={today}"
    five = f"from={today - timedelta(days=5 * 365)}&to={today}"
    year = f"from={today - timedelta(days=stream_days - 1)}&to={today}"
    d, f = DEFAULT_TARGET_MS, FILTER_TARGET_MS
    pages = [
        Page("/dashboard", "default (last 30 days)", "leader", "/dashboard", d),
        # The tables under the overview, fetched after its first paint (issue 21).
        Page("/dashboard/details", "default (last 30 days)", "leader", "/dashboard/details", d),
        # The floor: a page with no figures, the same login, session, menu and base template.
        Page("/dashboard/definitions", "the floor: no figures", "leader", "/dashboard/definitions", d),
        *(Page("/dashboard", f"centre {code}", "leader", f"/dashboard?centre={cid}", f) for cid, code in centres),
        Page("/dashboard", f"category {category} (repairs' largest)", "leader",
             f"/dashboard?centre={repairs}&category={category}", f),
        Page("/dashboard", f"priority {priority}", "leader", f"/dashboard?priority={priority}", f),
        Page("/dashboard", "this year", "leader", "/dashboard?period=this_year", f),
        Page("/dashboard", f"3 years (the longest allowed, {MAX_DAYS} days)", "leader", f"/dashboard?{three}", f),
        Page("/dashboard", "3 years, repairs", "leader", f"/dashboard?{three}&centre={repairs}", f),
        Page("/dashboard", "5 years (asked; falls back to 30 days)", "leader", f"/dashboard?{five}", f,
             expect="fallback"),
        Page("/dashboard/centre", "default (head of repairs)", "head", "/dashboard/centre", d),
        Page("/dashboard/centre", "this year", "head", "/dashboard/centre?period=this_year", f),
        Page("/dashboard/centre", "3 years", "head", f"/dashboard/centre?{three}", f),
        Page("/dashboard/tickets", "received, last 30 days", "leader",
             "/dashboard/tickets?figure=received&period=last_30_days", f),
        Page("/dashboard/tickets", f"received, last {stream_days} days", "leader",
             f"/dashboard/tickets?figure=received&{year}", f),
        Page("/dashboard/tickets", "response measured, 3 years", "leader",
             f"/dashboard/tickets?figure=measured&target=response&{three}", f),
        Page("/dashboard/tickets", "resolution breached, this year", "leader",
             f"/dashboard/tickets?figure=breached&target=resolution&from={today.replace(month=1, day=1)}&to={today}",
             f),
        Page("/dashboard/tickets", "open backlog", "leader", "/dashboard/tickets?figure=backlog", f),
        *(Page("/dashboard/tickets", f"backlog aged {name}", "leader",
               f"/dashboard/tickets?figure=backlog&age={quote(name)}", f) for name, *_ in reports.AGE_BUCKETS),
        Page("/dashboard/tickets", "breached now", "leader", "/dashboard/tickets?figure=breached_now", f),
        Page("/dashboard/tickets", "at risk now", "leader", "/dashboard/tickets?figure=at_risk_now", f),
        Page("/dashboard/tickets", "waiting for a technician (head)", "head",
             "/dashboard/tickets?figure=unassigned", f),
        Page("/dashboard/export/centres.csv", "default", "leader", "/dashboard/export/centres.csv", d, "file"),
        Page("/dashboard/export/centres.xlsx", "default", "leader", "/dashboard/export/centres.xlsx", d, "file"),
        Page("/dashboard/export/centres.csv", "3 years", "leader", f"/dashboard/export/centres.csv?{three}", f,
             "file"),
        Page("/dashboard/export/centres.xlsx", "3 years", "leader", f"/dashboard/export/centres.xlsx?{three}", f,
             "file"),
        Page("/dashboard/export/centres.csv", "5 years (asked; refused)", "leader",
             f"/dashboard/export/centres.csv?{five}", f, "file", expect="refused"),
        Page("/dashboard/export/technicians.csv", "default (head)", "head", "/dashboard/export/technicians.csv", d,
             "file"),
        Page("/dashboard/tickets.csv", f"received, last {stream_days} days (streamed)", "leader",
             f"/dashboard/tickets.csv?figure=received&{year}", f, "stream"),
        Page("/queue/", "busiest technician", "tech", "/queue/", d),
        Page("/queue/dispatch", "dispatcher", "dispatcher", "/queue/dispatch", d),
    ]
    return pages


def fetch(client, url: str, *, keep: bool = False) -> tuple[int, float, float, int, bytes | None, int]:
    """Request a page and read its whole body; return (status, total s, first byte s, bytes, body, lines)."""
    started = time.perf_counter()
    response = client.get(url, buffered=False)
    first = None
    size = lines = 0
    kept = [] if keep else None
    try:
        for chunk in response.response:
            if not chunk:
                continue
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
            lines += chunk.count(b"\n")
            if kept is not None:
                kept.append(chunk)
    finally:
        response.close()
    ended = time.perf_counter()
    first = first or ended
    return (response.status_code, ended - started, first - started, size,
            b"".join(kept) if kept is not None else None, lines)


def warm_and_check(clients: dict, pages: list[Page]) -> None:
    for page in pages:
        status, total, _, size, body, lines = fetch(clients[page.who], page.url, keep=page.kind != "stream")
        page.bytes = size
        if page.kind == "stream":
            page.rows = max(lines - 1, 0)
        problems = []
        if page.expect == "refused":
            if status != 400:
                problems.append(f"expected 400, got {status}")
        elif status != 200:
            problems.append(f"status {status}")
        elif page.kind == "page":
            noted = bool(FALLBACK_NOTE.search(body.decode("utf-8", "replace")))
            if noted != (page.expect == "fallback"):
                problems.append("fell back to the default period" if noted else "did not fall back")
        page.check = "; ".join(problems) or ("refused (400)" if page.expect == "refused" else "ok")
        print(f"    warm {total * 1000:8.1f} ms  {page.name} [{page.filter}]: {page.check}, {size:,} bytes"
              + (f", {page.rows:,} rows" if page.rows is not None else ""), flush=True)


def time_pages(clients: dict, pages: list[Page], options) -> list[tuple[float, float, float]]:
    """Request the pages in turn, ``options.rounds`` times (bounded per page); return the load averages seen."""
    loads = []
    started = time.perf_counter()
    for round_no in range(1, options.rounds + 1):
        loads.append(load_average())
        for page in pages:
            if page.expect == "refused":
                continue
            limit = options.stream_rounds if page.kind == "stream" else options.rounds
            if len(page.samples) >= limit:
                continue
            if len(page.samples) >= options.min_rounds and page.spent >= options.page_budget:
                continue
            _, total, first, *_ = fetch(clients[page.who], page.url)
            page.samples.append(total)
            page.ttfb.append(first)
            page.spent += total
        if round_no == 1 or round_no % 5 == 0 or round_no == options.rounds:
            print(f"    round {round_no}/{options.rounds}: {time.perf_counter() - started:.0f} s, "
                  f"load {'/'.join(f'{x:.1f}' for x in load_average())}", flush=True)
    return loads


class SqlTimer:
    """Time every statement the app's engine runs (only while ``on``)."""

    def __init__(self, engine):
        self.on = False
        self.statements: list[tuple[float, str, object]] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info["bench_started"].pop()
        if self.on:
            self.statements.append((time.perf_counter() - started, statement, None if executemany else parameters))


def sql_pass(app, clients: dict, pages: list[Page], timer: SqlTimer) -> None:
    """Request each page once with its statements timed: SQL share, count and the slowest."""
    for page in pages:
        if page.expect == "refused" or page.kind == "stream":
            continue
        timer.statements.clear()
        timer.on = True
        _, total, *_ = fetch(clients[page.who], page.url)
        timer.on = False
        spent = sum(s[0] for s in timer.statements)
        slowest = sorted(timer.statements, key=lambda s: -s[0])[:3]
        page.sql = {
            "total_ms": round(total * 1000, 1),
            "sql_ms": round(spent * 1000, 1),
            "statements": len(timer.statements),
            "slowest": [
                {"ms": round(s[0] * 1000, 1), "statement": s[1], "parameters": _jsonable(s[2])} for s in slowest
            ],
        }


def _jsonable(parameters):
    if parameters is None:
        return None
    if isinstance(parameters, dict):
        return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in parameters.items()}
    return [v.isoformat() if isinstance(v, datetime | date) else v for v in parameters]


def _restore(parameters):
    """Turn ISO strings back into datetimes for EXPLAIN (the driver binds them as timestamptz)."""
    if not isinstance(parameters, dict):
        return parameters
    result = {}
    for key, value in parameters.items():
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", value):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            value = date.fromisoformat(value)
        result[key] = value
    return result


def explain(app, statement: str, parameters) -> str:
    """Return EXPLAIN (ANALYZE, BUFFERS) of one captured statement, run in a rolled-back transaction."""
    from tracker.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, _restore(parameters)).all()
            conn.rollback()
        db.engine.dispose()
    return "\n".join(r[0] for r in rows)


def memory_pass(clients: dict, pages: list[Page]) -> None:
    """Record each page's tracemalloc peak above what was allocated before it (streams: see stream_child)."""
    tracemalloc.start()
    for page in pages:
        if page.expect == "refused" or page.kind == "stream":
            continue
        gc.collect()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fetch(clients[page.who], page.url)
        page.tracemalloc_kib = round((tracemalloc.get_traced_memory()[1] - base) / 1024, 1)
    tracemalloc.stop()


def pages_child(options) -> dict:
    """Measure every page on one database in this (fresh) process; return the report."""
    url = options.database_url
    rss = {"start": proc_status()}
    people = pick_people(url)
    set_passwords(url, list(people.values()))
    app = make_app(url)
    from tracker.extensions import db

    with app.app_context():
        timer = SqlTimer(db.engine)
    clients = {who: login(app, username) for who, username in people.items()}
    pages = plan_pages(url, app, options.stream_days)
    if options.pages:
        chosen = re.compile(options.pages)
        pages = [p for p in pages if chosen.search(f"{p.name} {p.filter}")]
    rss["app_and_logins"] = proc_status()
    print(f"  {sa.make_url(url).database}: {len(pages)} pages as {people}", flush=True)
    warm_and_check(clients, pages)
    rss["after_warm_up"] = proc_status()
    loads = time_pages(clients, pages, options)
    rss["after_rounds"] = proc_status()
    sql_pass(app, clients, pages, timer)
    plans = {}
    if options.explain:
        for page in pages:
            if page.sql is None or not page.samples or page.target_ms is None:
                continue
            if percentile(page.samples, 0.95) * 1000 <= page.target_ms:
                continue
            for slow in page.sql["slowest"][:2]:
                if slow["ms"] < 0.2 * page.sql["sql_ms"] or slow["statement"] in plans:
                    continue
                plans[slow["statement"]] = {
                    "page": f"{page.name} [{page.filter}]",
                    "ms": slow["ms"],
                    "plan": explain(app, slow["statement"], slow["parameters"]),
                }
    memory_pass(clients, pages)
    rss["after_tracemalloc_pass"] = proc_status()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {
        "database": sa.make_url(url).database,
        "people": people,
        "pages": [asdict(p) for p in pages],
        "rss": rss,
        "loads": loads,
        "plans": [{"statement": s, **v} for s, v in plans.items()],
    }


# ---------------------------------------------------------------- 3. streaming memory


def stream_child(options) -> dict:
    """Stream the "received" list file of about ``options.stream_rows`` rows in a fresh process, traced."""
    url = options.database_url
    people = pick_people(url)
    set_passwords(url, [people["leader"]])
    app = make_app(url)
    from tracker.clock import utcnow
    from tracker.services.insight import reports

    with app.app_context():
        today = reports.local_day(utcnow())
        zone = app.config["TRACKER_TIMEZONE"]
    with raw(url) as conn:
        newest = conn.execute(
            "SELECT (created_at AT TIME ZONE %s)::date FROM tickets ORDER BY created_at DESC OFFSET %s LIMIT 1",
            (zone, options.stream_rows - 1),
        ).fetchone()[0]
    client = login(app, people["leader"])
    path = f"/dashboard/tickets.{options.stream_format}?figure=received&from={newest}&to={today}"
    fetch(client, "/dashboard")  # the app's own warm-up: templates, catalogue caches
    gc.collect()
    before = proc_status()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    status, total, first, size, _, lines = fetch(client, path)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    after = proc_status()
    return {
        "database": sa.make_url(url).database,
        "format": options.stream_format,
        "url": path,
        "status": status,
        "rows": max(lines - 1, 0),
        "bytes": size,
        "seconds_traced": round(total, 2),
        "first_byte_traced_s": round(first, 3),
        "tracemalloc_peak_kib": round(peak / 1024, 1),
        "rss_before_kib": before["VmRSS"],
        "hwm_before_kib": before["VmHWM"],
        "hwm_after_kib": after["VmHWM"],
    }


# ---------------------------------------------------------------- orchestration and report


def run_child(kind: str, url: str, options, **extra) -> dict:
    out = Path(tempfile.mkstemp(prefix=f"dashboard-bench-{kind}-", suffix=".json")[1])
    command = [
        sys.executable, __file__, "--child", kind, "--database-url", url, "--child-out", str(out),
        "--rounds", str(extra.get("rounds", options.rounds)), "--min-rounds", str(options.min_rounds),
        "--page-budget", str(options.page_budget), "--stream-rounds", str(options.stream_rounds),
        "--stream-days", str(options.stream_days),
    ]
    if extra.get("stream_rows"):
        command += ["--stream-rows", str(extra["stream_rows"]), "--stream-format", extra.get("fmt", "csv")]
    if options.pages:
        command += ["--pages", options.pages]
    if not options.explain or extra.get("no_explain"):
        command += ["--no-explain"]
    subprocess.run(command, check=True, cwd=ROOT)
    report = json.loads(out.read_text())
    out.unlink()
    return report


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def table_rows(report: dict) -> list[tuple[str, ...]]:
    rows = [("page", "filter", "n", "p50 ms", "p95 ms", "max ms", "target", "verdict", "SQL ms (stmts)",
             "tracemalloc")]
    for page in report["pages"]:
        sql = page["sql"]
        sql_text = f"{sql['sql_ms']:.0f} ({sql['statements']})" if sql else "-"
        mem = f"{page['tracemalloc_kib'] / 1024:.1f} MiB" if page["tracemalloc_kib"] is not None else "-"
        if page["expect"] == "refused":
            rows.append((page["name"], page["filter"], "-", "-", "-", "-", "-", page["check"], "-", "-"))
            continue
        samples = page["samples"]
        target = page["target_ms"]
        if page["kind"] == "stream":
            ttfb, total = page["ttfb"], samples
            p95 = percentile(ttfb, 0.95)
            verdict = "met" if p95 * 1000 <= target else f"MISSED ({p95 * 1000 / target:.1f}x)"
            rows.append((page["name"], page["filter"] + " - first byte", str(len(ttfb)), fmt_ms(statistics.median(ttfb)),
                         fmt_ms(p95), fmt_ms(max(ttfb)), f"< {target}", verdict, "-", "see below"))
            rows.append((page["name"], f"  total, {page['rows']:,} rows", str(len(total)),
                         fmt_ms(statistics.median(total)), fmt_ms(percentile(total, 0.95)), fmt_ms(max(total)),
                         "-", "reported", "-", "-"))
            continue
        p95 = percentile(samples, 0.95)
        verdict = "met" if p95 * 1000 <= target else f"MISSED ({p95 * 1000 / target:.1f}x)"
        if page["check"] not in ("ok",):
            verdict += f"; {page['check']}"
        rows.append((page["name"], page["filter"], str(len(samples)), fmt_ms(statistics.median(samples)),
                     fmt_ms(p95), fmt_ms(max(samples)), f"< {target}", verdict, sql_text, mem))
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def print_memory(big: dict, small: dict | None, streams: list[dict]) -> None:
    def mib(kib):
        return f"{kib / 1024:.0f} MiB"

    print("\nMemory of the web process (this process served the pages in-process):")
    for report in filter(None, (big, small)):
        rss = report["rss"]
        print(
            f"  {report['database']}: RSS {mib(rss['app_and_logins']['VmRSS'])} after start and logins, "
            f"{mib(rss['after_rounds']['VmRSS'])} after every page; peak (VmHWM) {mib(rss['after_rounds']['VmHWM'])}"
        )
    if small:
        hwm_big, hwm_small = big["rss"]["after_rounds"]["VmHWM"], small["rss"]["after_rounds"]["VmHWM"]
        print(f"  peak RSS ratio {big['database']} / {small['database']}: {hwm_big / hwm_small:.2f}")
        by_key = {(p["name"], p["filter"]): p for p in small["pages"]}
        pairs = [
            (p, by_key.get((p["name"], p["filter"])))
            for p in big["pages"]
            if p["tracemalloc_kib"] is not None and by_key.get((p["name"], p["filter"]))
        ]
        if pairs:
            worst = max(pairs, key=lambda pair: pair[0]["tracemalloc_kib"])
            ratios = [a["tracemalloc_kib"] / b["tracemalloc_kib"] for a, b in pairs if b["tracemalloc_kib"]]
            print(
                f"  tracemalloc peak per page: largest {worst[0]['tracemalloc_kib'] / 1024:.1f} MiB "
                f"({worst[0]['name']} [{worst[0]['filter']}]; {worst[1]['tracemalloc_kib'] / 1024:.1f} MiB small); "
                f"ratio large/small median {statistics.median(ratios):.2f}, max {max(ratios):.2f}"
            )
    for s in streams:
        print(
            f"  streamed {s['format']} list, {s['rows']:,} rows ({s['bytes'] / 1e6:.1f} MB): tracemalloc peak "
            f"{s['tracemalloc_peak_kib'] / 1024:.1f} MiB, RSS peak {mib(s['hwm_before_kib'])} -> "
            f"{mib(s['hwm_after_kib'])} (+{(s['hwm_after_kib'] - s['hwm_before_kib']) / 1024:.0f} MiB), "
            f"{s['seconds_traced']:.1f} s traced"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--small-url", default=DEFAULT_SMALL_URL, help="the small database of the memory comparison")
    parser.add_argument("--small-tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30, help="requests per page (after one warm-up)")
    parser.add_argument("--min-rounds", type=int, default=10, help="a page over its budget stops after these")
    parser.add_argument("--page-budget", type=float, default=12.0, help="seconds of requests per page, at most")
    parser.add_argument("--small-rounds", type=int, default=5, help="rounds on the small database")
    parser.add_argument("--stream-rounds", type=int, default=3, help="rounds of the large streamed list file")
    parser.add_argument("--stream-days", type=int, default=365, help="the streamed list: received over these days")
    parser.add_argument("--stream-sizes", default="10000,200000", help="rows of the traced list files")
    parser.add_argument("--summary-only", action="store_true", help="build the summaries (and the small database), stop")
    parser.add_argument("--pages", help="only the pages whose 'name filter' matches this regex")
    parser.add_argument("--skip", default="", help="comma-separated: small, streams")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--vacuum", action="store_true",
                        help="VACUUM (ANALYZE) tickets and ticket_slas first, as autovacuum would "
                             "(for a server running with autovacuum off)")
    parser.add_argument("--json", help="write the whole report here")
    parser.add_argument("--child", choices=("pages", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--stream-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stream-format", default="csv", help=argparse.SUPPRESS)
    options = parser.parse_args()
    isolate_environment()

    if options.child:
        report = pages_child(options) if options.child == "pages" else stream_child(options)
        Path(options.child_out).write_text(json.dumps(report, default=str))
        return

    skip = set(filter(None, options.skip.split(",")))
    started = time.perf_counter()
    facts = server_facts(options.database_url)
    print(f"Code: {code_state()}")
    print(
        f"Python {platform.python_version()}, PostgreSQL {facts['server_version']} (shared_buffers "
        f"{facts['shared_buffers']}, work_mem {facts['work_mem']}, effective_cache_size "
        f"{facts['effective_cache_size']}, autovacuum {facts['autovacuum']}), {os.cpu_count()} CPUs, "
        f"load {'/'.join(f'{x:.1f}' for x in load_average())}",
        flush=True,
    )
    meta = bench_meta(options.database_url)
    if not meta.get("tickets"):
        raise SystemExit(f"{sa.make_url(options.database_url).database} is not loaded: run benchmarks/sweep_bench.py")
    print(f"{sa.make_url(options.database_url).database}: {int(meta['tickets']):,} tickets "
          f"({int(meta['open']):,} open when loaded), {facts['database_size']}", flush=True)
    if options.vacuum and not options.summary_only:
        vacuum(options.database_url)
    facts["state"] = table_state(options.database_url)
    print(f"  {facts['state']}", flush=True)

    print("\n1. The daily summary", flush=True)
    summaries = {"large": ensure_summary(options.database_url, sa.make_url(options.database_url).database, options)}

    def small_summary() -> None:
        ensure_small(options.small_url, options.small_tickets)
        summaries["small"] = ensure_summary(options.small_url, sa.make_url(options.small_url).database, options)

    if options.summary_only:
        if "small" not in skip:
            small_summary()
        return

    print(f"\n2. Pages on {sa.make_url(options.database_url).database}: up to {options.rounds} rounds each "
          f"(at most {options.page_budget:g} s per page once {options.min_rounds} are done)", flush=True)
    big = run_child("pages", options.database_url, options)
    small = None
    if "small" not in skip:
        print(f"\n3. The small database, for memory: {sa.make_url(options.small_url).database}", flush=True)
        small_summary()
        print(f"\n3. The same pages on {sa.make_url(options.small_url).database} ({options.small_rounds} rounds), "
              "for memory", flush=True)
        small = run_child("pages", options.small_url, options, rounds=options.small_rounds, no_explain=True)
    streams = []
    if "streams" not in skip:
        for rows in (int(x) for x in options.stream_sizes.split(",")):
            print(f"   streamed list file of about {rows:,} rows, traced, in a fresh process", flush=True)
            streams.append(run_child("stream", options.database_url, options, stream_rows=rows))

    build = summaries["large"]["build"]
    print("\nResults (Flask test client in-process: no network; times from request to the last byte)")
    print_table(table_rows(big))
    loads = big["loads"]
    print(f"\nLoad average (1 min) during the rounds: {min(x[0] for x in loads):.1f}-{max(x[0] for x in loads):.1f}")
    print(f"Data when measured: {facts['state']}")
    if build:
        print(f"Summary build (stats-rebuild) on {big['database']}: {build['seconds']:.0f} s "
              f"({build['seconds'] / 60:.1f} min) for {build['pairs']:,} (day, centre) pairs, {build['rows']:,} rows, "
              f"at {build['at']}" + (" (this run)" if summaries["large"]["built_now"] else " (an earlier run)"))
    print_memory(big, small, streams)
    for plan in big["plans"]:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS), slowest statement of {plan['page']} ({plan['ms']:.0f} ms):")
        print(plan["statement"])
        print(plan["plan"])
    print(f"\nWall time {time.perf_counter() - started:.0f} s")
    print("Command: " + " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]))
    if options.json:
        Path(options.json).write_text(json.dumps(
            {"facts": facts, "code": code_state(), "summaries": summaries, "large": big, "small": small,
             "streams": streams, "command": sys.argv}, indent=1, default=str))




# ---------------------------------------------------------------- the wall display (issue 21)
#
#   .venv/bin/python benchmarks/dashboard_bench.py display --build      # bench_display_1m and _10m
#   .venv/bin/python benchmarks/dashboard_bench.py display              # measure, both databases
#   .venv/bin/python benchmarks/dashboard_bench.py display --drop       # drop both
#
# bench_display_1m: 1,000,000 tickets from _bulkload (150,000 open when
# loaded), then daily_stats built set-based in SQL (one INSERT ... SELECT per
# figure group, the figures' definitions read on the local day of their
# instant) instead of `flask stats-rebuild`, which took 38 min at a million.
# bench_display_10m: what ten million tickets leave for the figures to read,
# without the ten million closed rows: _bulkload's open backlog of a 10 M
# campus (the tickets table holds only those), and daily_stats holding ten
# times the 1 M database's summary: each 1 M row copied onto ten categories
# (the loader's categories again, ids shifted into new categories of the
# same centres) so the overview sums ten times the rows per period.

DISPLAY_1M_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_display_1m"
DISPLAY_10M_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_display_10m"

# daily_stats from the loaded rows, in SQL. Local days in the campus zone
# (the loader's catalogue is Asia/Shanghai).
_SUMMARY_SQL = """
INSERT INTO daily_stats (day, centre_id, category_id, priority, received, resolved, closed, cancelled,
    response_met, response_breached, arrival_met, arrival_breached, resolution_met, resolution_breached,
    confirmation_met, confirmation_breached, rating_sum, rating_count, refreshed_at)
SELECT day, centre_id, category_id, priority,
    sum(received), sum(resolved), sum(closed), sum(cancelled),
    sum(response_met), sum(response_breached), sum(arrival_met), sum(arrival_breached),
    sum(resolution_met), sum(resolution_breached), sum(confirmation_met), sum(confirmation_breached),
    0, 0, now()
FROM (
    SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, centre_id, category_id, priority,
        1 AS received, 0 AS resolved, 0 AS closed, 0 AS cancelled,
        0 AS response_met, 0 AS response_breached, 0 AS arrival_met, 0 AS arrival_breached,
        0 AS resolution_met, 0 AS resolution_breached, 0 AS confirmation_met, 0 AS confirmation_breached
    FROM tickets
    UNION ALL
    SELECT (resolved_at AT TIME ZONE 'Asia/Shanghai')::date, centre_id, category_id, priority,
        0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM tickets WHERE resolved_at IS NOT NULL
    UNION ALL
    SELECT (closed_at AT TIME ZONE 'Asia/Shanghai')::date, centre_id, category_id, priority,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM tickets WHERE closed_at IS NOT NULL
    UNION ALL
    SELECT (cancelled_at AT TIME ZONE 'Asia/Shanghai')::date, centre_id, category_id, priority,
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 FROM tickets WHERE cancelled_at IS NOT NULL
    UNION ALL
    SELECT (coalesce(s.milestone_at, s.due_at) AT TIME ZONE 'Asia/Shanghai')::date, t.centre_id, t.category_id,
        t.priority, 0, 0, 0, 0,
        (s.target = 'response' AND s.state = 'met')::int, (s.target = 'response' AND s.state = 'breached')::int,
        (s.target = 'arrival' AND s.state = 'met')::int, (s.target = 'arrival' AND s.state = 'breached')::int,
        (s.target = 'resolution' AND s.state = 'met')::int, (s.target = 'resolution' AND s.state = 'breached')::int,
        (s.target = 'confirmation' AND s.state = 'met')::int,
        (s.target = 'confirmation' AND s.state = 'breached')::int
    FROM ticket_slas s JOIN tickets t ON t.id = s.ticket_id
    WHERE s.state IN ('met', 'breached') AND coalesce(s.milestone_at, s.due_at) IS NOT NULL
) AS figures
GROUP BY day, centre_id, category_id, priority
"""


def _roll_up(conn) -> None:
    """Fill daily_centre_stats from daily_stats as the refresh would (it must be empty), and analyse both."""
    from tracker.services.insight.stats import centre_rollup_sql

    conn.execute(centre_rollup_sql())
    conn.execute("VACUUM (ANALYZE) daily_stats")
    conn.execute("VACUUM (ANALYZE) daily_centre_stats")


def _display_load(url: str, *, tickets: int, open_tickets: int, seed: int = 21) -> dict:
    """Load ``tickets`` tickets (``open_tickets`` of them open) with _bulkload; return the row counts."""
    import _bulkload as bulk
    from flask_migrate import upgrade

    started = time.perf_counter()
    bulk.recreate_database(url)
    isolate_environment()
    app = make_app(url)
    with app.app_context():
        upgrade(revision="heads")
        ref = int(time.time())
        catalog = bulk.build_catalog(datetime.fromtimestamp(ref, UTC))
        plan = bulk.Plan(tickets=tickets, open=open_tickets, breach=0, ref=ref, seed=seed,
                         history_notices=False, has_is_open=True)
        result = bulk.load_tickets(url, catalog, plan)
        bulk.finish(url, result)
    print(f"  {sa.make_url(url).database}: " + ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
          + f" in {time.perf_counter() - started:.0f} s", flush=True)
    return result.rows


def _display_summary(url: str) -> dict:
    """Fill daily_stats from the loaded rows in one set-based statement; return its rows and the time."""
    started = time.perf_counter()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("TRUNCATE daily_stats, daily_centre_stats, stats_dirty")
        conn.execute(_SUMMARY_SQL)
        _roll_up(conn)
        rows = conn.execute("SELECT count(*), coalesce(sum(received), 0) FROM daily_stats").fetchone()
    seconds = time.perf_counter() - started
    print(f"  {sa.make_url(url).database}: daily_stats {rows[0]:,} rows ({rows[1]:,} received) in {seconds:.0f} s",
          flush=True)
    return {"rows": rows[0], "received": rows[1], "seconds": round(seconds, 1)}


def _display_late(url: str, *, late: int = 10_000, at_risk: int = 5_000) -> None:
    """Make ``late`` open requests late now (response past due, not yet swept) and ``at_risk`` at risk.

    The loader leaves every open clock in the future; run G of issue 5 had
    10,000 requests late now, and the "now" figures cost in proportion to them.
    """
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(
            """
            WITH chosen AS (
                SELECT DISTINCT ON (s.ticket_id) s.id FROM ticket_slas s JOIN tickets t ON t.id = s.ticket_id
                WHERE t.is_open AND s.state = 'running' AND s.milestone_at IS NULL
                ORDER BY s.ticket_id DESC, s.id LIMIT %(late)s + %(at_risk)s
            ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM chosen)
            UPDATE ticket_slas s SET
                due_at = CASE WHEN numbered.n <= %(late)s THEN now() - interval '1 hour'
                              ELSE now() + interval '1 day' END,
                at_risk_at = CASE WHEN numbered.n <= %(late)s THEN now() - interval '2 hours'
                                  ELSE now() - interval '10 minutes' END
            FROM numbered WHERE s.id = numbered.id
            """, {"late": late, "at_risk": at_risk})
        # As sla._recompute keeps it: a request's next deadline is the earliest of its targets still
        # running (late ones included), which the overview's walk down the longest-late requests reads.
        # Left as loaded, the late requests' next deadline stayed in the future and that walk found none.
        conn.execute(
            """
            UPDATE tickets t SET next_due_at = d.due FROM (
                SELECT s.ticket_id, min(s.due_at) AS due FROM ticket_slas s JOIN tickets o ON o.id = s.ticket_id
                WHERE o.is_open AND s.milestone_at IS NULL AND s.state IN ('running', 'breached')
                GROUP BY s.ticket_id
            ) d WHERE t.id = d.ticket_id AND t.next_due_at IS DISTINCT FROM d.due
            """)
        conn.execute("VACUUM (ANALYZE) ticket_slas")
        conn.execute("VACUUM (ANALYZE) tickets")
    print(f"  {sa.make_url(url).database}: {table_state(url)}", flush=True)


def _display_10m(url_1m: str, url_10m: str) -> dict:
    """Build bench_display_10m from bench_display_1m: the same backlog, ten times the summarised history.

    A copy of the 1 M database (CREATE DATABASE … TEMPLATE), whose daily_stats
    then gets nine more copies of its five years, each shifted five years
    further back: 50 years of history, 10,000,000 requests received in the
    summary, ten times its rows. The open backlog stays the 1 M database's
    (150,000 loaded open): the backlog follows the daily intake, not the
    length of the history, and the 1 M loader's is already far above a real
    campus's. The closed tickets of the 45 older years exist only as summary
    rows: no figure of the overview reads a closed ticket.
    """
    started = time.perf_counter()
    source, target = sa.make_url(url_1m).database, sa.make_url(url_10m).database
    admin = conninfo(str(sa.make_url(url_1m).set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    with psycopg.connect(conninfo(url_10m), autocommit=True) as conn:
        first, last = conn.execute("SELECT min(day), max(day) FROM daily_stats").fetchone()
        span = (last - first).days + 1
        conn.execute(
            """
            INSERT INTO daily_stats
            SELECT day - k * %(span)s, centre_id, category_id, priority, received, resolved, closed, cancelled,
                   response_met, response_breached, arrival_met, arrival_breached, resolution_met,
                   resolution_breached, confirmation_met, confirmation_breached, rating_sum, rating_count,
                   refreshed_at
            FROM daily_stats, generate_series(1, 9) AS k
            WHERE day BETWEEN %(first)s AND %(last)s
            """,
            {"span": span, "first": first, "last": last},
        )
        conn.execute("TRUNCATE daily_centre_stats")
        _roll_up(conn)
        rows, received = conn.execute("SELECT count(*), sum(received) FROM daily_stats").fetchone()
        open_now = conn.execute("SELECT count(*) FROM tickets WHERE is_open").fetchone()[0]
    seconds = time.perf_counter() - started
    print(f"  {target}: daily_stats {rows:,} rows ({received:,} received over {10 * span:,} days), "
          f"{open_now:,} open tickets, in {seconds:.0f} s", flush=True)
    return {"rows": rows, "received": received, "days": 10 * span, "open": open_now, "seconds": round(seconds, 1)}


def _backends_cpu(url: str) -> float:
    """Return the CPU seconds (user + system) of every server process connected to ``url``'s database but ours."""
    with raw(url) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (sa.make_url(url).database,))]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _time_get(client, path: str, rounds: int, url: str) -> dict:
    """Request ``path`` once to warm up and check it, then ``rounds`` times; return the times in ms.

    Besides the wall times, the CPU the requests used, this process's and
    the database server's (its backends, read from /proc: same machine),
    per request on average. On a machine shared with a dozen busy processes
    the wall time is mostly waiting for a core; the CPU time is close to
    what a request takes on an idle machine (the data is in memory).
    """
    first = client.get(path)
    if first.status_code != 200:
        raise SystemExit(f"{path}: {first.status_code} {first.get_data(as_text=True)[:300]}")
    times = []
    server_before, client_before = _backends_cpu(url), time.process_time()
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    client_cpu = (time.process_time() - client_before) * 1000 / rounds
    server_cpu = (_backends_cpu(url) - server_before) * 1000 / rounds
    return {"n": rounds, "times": times, "p50": statistics.median(times), "p95": percentile(times, 0.95), "max": max(times),
            "bytes": len(first.get_data()), "cpu": client_cpu + server_cpu, "server_cpu": server_cpu}


def _display_measure(url: str, rounds: int, *, overview: bool) -> list[tuple[str, dict]]:
    """Time the display's data (all centres, one centre), its page and, if asked, the leadership overview."""
    from tracker.extensions import db
    from tracker.services.insight import display

    isolate_environment()
    app = make_app(url)
    app.config["DISPLAY_RATE_LIMIT"] = "off"
    app.config["DISPLAY_CACHE_SECONDS"] = 0  # counted on every request, unless a row says "shared"
    # The "now" counts as beat keeps them (every minute), read for up to NOW_COUNTS_MAX_AGE_SECONDS: a run
    # longer than that would measure the live fallback, so the bench counts again between its requests' sets.
    app.config["NOW_COUNTS_MAX_AGE_SECONDS"] = 3600
    with app.app_context():
        _count_now()
        _link, secret = display.create_link(name="bench wall", centre_id=None, actor=None, now=datetime.now(UTC))
        from tracker.models import Centre

        repairs = db.session.execute(sa.select(Centre.id).where(Centre.code == "repairs")).scalar_one()
        _repairs_link, repairs_secret = display.create_link(
            name="bench wall, repairs", centre_id=repairs, actor=None, now=datetime.now(UTC))
        db.session.remove()
    client = app.test_client()
    results = [
        ("/display/<link>/data, all centres", _time_get(client, f"/display/{secret}/data", rounds, url)),
        ("/display/<link>/data, repairs only",
         _time_get(client, f"/display/{repairs_secret}/data?centre=repairs", rounds, url)),
        ("/display/<link> (the page)", _time_get(client, f"/display/{secret}", max(rounds // 3, 5), url)),
    ]
    # Several screens of one scope in a web process: counted once per DISPLAY_CACHE_SECONDS, shared.
    app.config["DISPLAY_CACHE_SECONDS"] = 600
    results.append(("/display/<link>/data, all centres, shared (another screen's count)",
                    _time_get(client, f"/display/{secret}/data", rounds, url)))
    if overview:
        set_passwords(url, ["leader1"])
        leader = login(app, "leader1")
        results.append(("/dashboard, default (last 30 days)", _time_get(leader, "/dashboard", rounds, url)))
    return results


def _count_now() -> None:
    """Count the stored "now" figures once, as beat does every minute (nothing when the code keeps none)."""
    try:
        from tracker.services.insight import now_counts
    except ImportError:
        return
    from tracker.extensions import db

    started = time.perf_counter()
    rows = now_counts.recount(datetime.now(UTC))
    print(f"  now counts: {rows} rows in {(time.perf_counter() - started) * 1000:.0f} ms", flush=True)
    db.session.remove()


def display_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dashboard_bench.py display",
                                     description="The wall display's data at 1 M, the overview at 10 M (issue 21).")
    parser.add_argument("--build", action="store_true", help="load bench_display_1m and build bench_display_10m")
    parser.add_argument("--drop", action="store_true", help="drop both databases")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--vacuum", action="store_true", help="VACUUM (ANALYZE) tickets and ticket_slas first")
    parser.add_argument("--url-1m", default=DISPLAY_1M_URL, help="the 1 M database measured")
    parser.add_argument("--url-10m", default=DISPLAY_10M_URL, help="the 10 M database measured ('' for none)")
    parser.add_argument("--build-10m-from", metavar="URL",
                        help="build --url-10m from this 1 M database (its summary ten times over), then measure")
    options = parser.parse_args(argv)
    admin = conninfo(str(sa.make_url(DISPLAY_1M_URL).set(database="postgres")))
    if options.drop:
        with psycopg.connect(admin, autocommit=True) as conn:
            for url in (DISPLAY_1M_URL, DISPLAY_10M_URL):
                conn.execute(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}"')
        print("dropped bench_display_1m and bench_display_10m")
        return
    if options.build:
        _display_load(DISPLAY_1M_URL, tickets=1_000_000, open_tickets=150_000)
        _display_summary(DISPLAY_1M_URL)
        _display_late(DISPLAY_1M_URL)
        _display_10m(DISPLAY_1M_URL, DISPLAY_10M_URL)
    if options.build_10m_from:
        _display_10m(options.build_10m_from, options.url_10m)
    started = time.perf_counter()
    report = []
    measured = [("1 M", options.url_1m, True), ("10 M", options.url_10m, True)]
    for label, url, overview in [m for m in measured if m[1]]:
        if options.vacuum:
            vacuum(url)
        print(f"{label}: {table_state(url)}; load {'/'.join(f'{x:.1f}' for x in load_average())}", flush=True)
        for name, figures in _display_measure(url, options.rounds, overview=overview):
            report.append((label, name, figures))
    print("\n| tickets | request | n | p50 ms | p95 ms | max ms | CPU ms a request (server) | bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for label, name, f in report:
        print(f"| {label} | {name} | {f['n']} | {f['p50']:.1f} | {f['p95']:.1f} | {f['max']:.1f} "
              f"| {f['cpu']:.1f} ({f['server_cpu']:.1f}) | {f['bytes']:,} |")
    print(f"\nLoad average (1, 5, 15 min) at the end: {'/'.join(f'{x:.1f}' for x in load_average())}; "
          f"wall time {time.perf_counter() - started:.0f} s; {code_state()}")
    print("Command: " + " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["display"]:
        display_main(sys.argv[2:])
    else:
        main()
