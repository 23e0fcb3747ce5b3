"""File tickets through the JSON API at concurrency 8 against gunicorn on PostgreSQL; report tickets/s and latency.

    .venv/bin/python benchmarks/intake_bench.py                    # 6,000 tickets, 8 clients
    .venv/bin/python benchmarks/intake_bench.py --tickets 2000 --workers 3 --threads 4

Steps:

1. A fresh database ``tracker_intake_bench`` (dropped and created) on the
   PostgreSQL at 127.0.0.1, ``flask db upgrade heads``, and the demo
   catalogue (``seed-demo --days 1``: nine centres, their categories,
   places, users and a day of tickets).
2. One personal access token for each of eight demo requesters (scope
   ``requester``), made through the service as the account page makes them.
3. gunicorn (gthread workers, keep-alive) serving ``wsgi:app`` in production
   mode: Redis db 5 as broker and rate-limit store, the API rate limit
   raised out of the way (``TRACKER_API_RATE_LIMIT``, still counted).
4. A warm-up, then ``--tickets`` POST /api/v1/tickets from ``--concurrency``
   client threads (one keep-alive connection each, one token each), bodies
   drawn from the catalogue read through the API. Each request's time is
   from sending to the whole answer read; every answer must be 201.
5. Checks in the database, once gunicorn has stopped: every ticket filed in
   the run is there with its ``filed`` event, its SLA rows with deadlines
   (response and resolution) and its outbox rows (the dispatchers'
   ``ticket_filed`` notices), all committed.

Prints tickets/s, p50/p95/p99 latency, the load average before and after
(other engineers share this machine's CPU) and the command; ``--json`` keeps
them. Figures: docs/api.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
REDIS = "redis://127.0.0.1:6379/5"
PASSWORD = "intake-bench-1"


def say(*parts) -> None:
    print(*parts, flush=True)


def fresh_database(name: str) -> str:
    url = sa.make_url(PG + name)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG + name


def environment(database_url: str, rate_limit: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "DATABASE_", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=REDIS,
        SECRET_KEY="intake-bench-secret-key-not-for-production",
        TRACKER_ENV="production",
        TRACKER_BASE_URL="http://127.0.0.1",
        TRACKER_API_RATE_LIMIT=rate_limit,
        PYTHONPATH=str(ROOT),
    )
    return env


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def make_tokens(env: dict, count: int) -> list[str]:
    """Make a requester token for each of ``count`` demo requesters; return the secrets."""
    code = f"""
import json
from sqlalchemy import select
from wsgi import app
from tracker.clock import utcnow
from tracker.domain.roles import Role
from tracker.extensions import db
from tracker.models import User, UserRole
from tracker.services.admin import api_tokens
with app.app_context():
    users = db.session.execute(select(User).join(UserRole).where(UserRole.role == Role.REQUESTER,
        User.is_active.is_(True)).order_by(User.id).limit({count})).scalars().all()
    print(json.dumps([api_tokens.create_token(u, name="intake bench", scopes=["requester"], now=utcnow())[1]
                      for u in users]))
"""
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def request(conn: http.client.HTTPConnection, method: str, path: str, token: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload


def wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn stopped before it answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within a minute")


def catalogue(port: int, token: str) -> list[dict]:
    """Return filing bodies' catalogue: (centre, category, place) choices read through the API."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/centres", headers={"Authorization": f"Bearer {token}"})
    answer = conn.getresponse()
    answer.read()
    # The limiter counts in Redis and says so, as in production.
    assert answer.status == 200 and answer.getheader("X-RateLimit-Limit"), answer.getheaders()
    status, body = request(conn, "GET", "/api/v1/categories", token)
    assert status == 200, body
    categories = json.loads(body)["items"]
    status, body = request(conn, "GET", "/api/v1/locations?per_page=100", token)
    assert status == 200, body
    places = [p["id"] for p in json.loads(body)["items"]]
    return [{"centre_id": c["centre_id"], "category_id": c["id"], "places": places} for c in categories]


def filing(choices: list[dict]):
    """Return the requests of the measured load: POST /api/v1/tickets with a body drawn from the catalogue."""

    def make(rng: random.Random, number: int):
        choice = rng.choice(choices)
        body = {
            "centre_id": choice["centre_id"],
            "category_id": choice["category_id"],
            "location_id": rng.choice(choice["places"]),
            "description": f"Intake bench request {number}: the light in the corridor flickers.",
        }
        return "POST", "/api/v1/tickets", body, 201

    return make


def cheapest(_rng: random.Random, _number: int):
    """The floor's request: the cheapest authenticated API operation (token, rate limit, one small read)."""
    return "GET", "/api/v1/centres", None, 200


def run_load(port: int, tokens: list[str], make_request, total: int, concurrency: int, seed: int):
    """Send ``total`` requests from ``concurrency`` threads; return (wall seconds, latencies, failures, references).

    ``make_request(rng, number)`` gives (method, path, body, expected status);
    a filing's answer gives its reference.
    """
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    failures: list[tuple[int, bytes]] = []
    references: list[str] = []
    start_gate = threading.Barrier(concurrency + 1)

    def client(index: int) -> None:
        rng = random.Random(seed + index)
        token = tokens[index % len(tokens)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine_lat, mine_refs, mine_fail = [], [], []
        start_gate.wait()
        while True:
            with lock:
                if issued[0] >= total:
                    break
                issued[0] += 1
                number = issued[0]
            method, path, body, expected = make_request(rng, number)
            began = time.perf_counter()
            try:
                status, payload = request(conn, method, path, token, body)
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                mine_fail.append((0, str(error).encode()))
                continue
            mine_lat.append(time.perf_counter() - began)
            if status == expected:
                if method == "POST":
                    mine_refs.append(json.loads(payload)["reference"])
            else:
                mine_fail.append((status, payload[:300]))
        conn.close()
        with lock:
            latencies.extend(mine_lat)
            references.extend(mine_refs)
            failures.extend(mine_fail)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, failures, references


def cpu_seconds(pids) -> float:
    """Return the CPU time (user + system) the processes have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def server_pids(master: int) -> list[int]:
    """Return gunicorn's master and its workers."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def database_pids(database_url: str, name: str) -> list[int]:
    """Return the PostgreSQL backends serving ``name`` (gunicorn's pooled connections)."""
    url = sa.make_url(database_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        return [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def verify(database_url: str, references: list[str]) -> dict:
    """Count, in the database, what each filed ticket must have committed."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE bench_refs (reference text PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO bench_refs VALUES (:r)"), [{"r": r} for r in references])
        row = conn.execute(sa.text("""
            SELECT count(*) AS tickets,
                   count(*) FILTER (WHERE t.source = 'api') AS from_api,
                   count(*) FILTER (WHERE e.filed = 1) AS with_one_filed_event,
                   count(*) FILTER (WHERE s.timed >= 2) AS with_response_and_resolution_deadlines,
                   count(*) FILTER (WHERE n.notices >= 1) AS with_outbox_rows,
                   coalesce(sum(n.notices), 0) AS outbox_rows
            FROM bench_refs b
            JOIN tickets t ON t.reference = b.reference
            LEFT JOIN LATERAL (SELECT count(*) AS filed FROM ticket_events e
                               WHERE e.ticket_id = t.id AND e.kind = 'filed') e ON true
            LEFT JOIN LATERAL (SELECT count(*) AS timed FROM ticket_slas s
                               WHERE s.ticket_id = t.id AND s.target IN ('response', 'resolution')
                                 AND s.due_at IS NOT NULL) s ON true
            LEFT JOIN LATERAL (SELECT count(*) AS notices FROM notifications n
                               WHERE n.ticket_id = t.id AND n.kind = 'ticket_filed') n ON true
        """)).mappings().one()
    engine.dispose()
    return {key: int(value) for key, value in row.items()}


def measure_floor(args, tokens: list[str], app_pids: list[int], db_pids: list[int]) -> dict:
    """Measure the request layer alone: ``--floor`` cheapest authenticated requests on the same gunicorn.

    No filing can be served faster than this on the machine: it pays the
    same HTTP, WSGI, Flask, token and rate-limit costs with almost nothing
    behind them.
    """
    say(f"floor: {args.floor} × GET /api/v1/centres from {args.concurrency} clients …")
    run_load(args.port, tokens, cheapest, min(args.floor, 500), args.concurrency, args.seed + 200)
    wall, latencies, cpu = measured_load(args, tokens, cheapest, args.floor, args.seed + 300, app_pids, db_pids)
    done = len(latencies)
    return {
        "request": "GET /api/v1/centres",
        "requests": done,
        "requests_per_second": round(done / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "cpu_ms_per_request": cpu,
        "requests_per_second_if_the_cores_were_ours": if_the_cores_were_ours(cpu),
    }


def measured_load(args, tokens: list[str], make_request, count: int, seed: int, app_pids: list[int],
                  db_pids: list[int]) -> tuple[float, list[float], dict]:
    """Send ``count`` requests as fast as answered; return the wall time, latencies and CPU ms per request.

    The CPU is gunicorn's, PostgreSQL's and this client's, read before and
    after; a failed request fails the run.
    """
    before = (cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time())
    wall, latencies, failures, _refs = run_load(args.port, tokens, make_request, count, args.concurrency, seed)
    after = (cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time())
    assert not failures, failures[:3]
    done = len(latencies)
    cpu = {name: round((after[i] - before[i]) / done * 1000, 2)
           for i, name in enumerate(("gunicorn", "postgresql", "client"))}
    return wall, latencies, cpu


def if_the_cores_were_ours(cpu: dict) -> float:
    """Return how many a second the machine's cores would serve at ``cpu`` ms each, with nothing else running."""
    return round((os.cpu_count() or 2) * 1000 / sum(cpu.values()), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=6000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default="tracker_intake_bench")
    parser.add_argument("--rate-limit", default="1000000/minute", help="TRACKER_API_RATE_LIMIT for the run")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reuse", action="store_true",
                        help="file into the database of an earlier run (quicker; the first figures come from a fresh one)")
    parser.add_argument("--floor", type=int, default=0,
                        help="then send this many GET /api/v1/centres: the request layer's own ceiling")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    if args.reuse:
        database_url = PG + args.database
        env = environment(database_url, args.rate_limit)
    else:
        say(f"fresh database {args.database} …")
        database_url = fresh_database(args.database)
        env = environment(database_url, args.rate_limit)
        flask(env, "db", "upgrade", "heads")
        say("demo catalogue (seed-demo --days 1) …")
        flask(env, "seed-demo", "--days", "1", "--password", PASSWORD)
    subprocess.run(["redis-cli", "-n", REDIS.rsplit("/", 1)[1], "FLUSHDB"], check=False, stdout=subprocess.DEVNULL)
    tokens = make_tokens(env, args.concurrency)
    assert len(tokens) == args.concurrency, "not enough demo requesters"

    command = [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(args.workers), "--threads", str(args.threads),
               "--worker-class", "gthread", "--keep-alive", "30", "--bind", f"127.0.0.1:{args.port}",
               "--log-level", "warning", "wsgi:app"]
    say("gunicorn:", shlex.join(command[1:]))
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_until_up(args.port, server)
        choices = catalogue(args.port, tokens[0])
        say(f"warm-up: {args.warmup} tickets …")
        _w, _l, warm_failures, warm_refs = run_load(args.port, tokens, filing(choices), args.warmup,
                                                    args.concurrency, args.seed)
        assert not warm_failures, warm_failures[:3]
        load_before = os.getloadavg()
        app_pids, db_pids = server_pids(server.pid), database_pids(database_url, args.database)
        cpu_before = (cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time())
        say(f"measuring: {args.tickets} tickets from {args.concurrency} clients …")
        wall, latencies, failures, references = run_load(args.port, tokens, filing(choices), args.tickets,
                                                         args.concurrency, args.seed + 100)
        cpu_after = (cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time())
        load_after = os.getloadavg()
        floor = measure_floor(args, tokens, app_pids, db_pids) if args.floor else None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    checks = verify(database_url, warm_refs + references)
    figures = {
        "tickets": len(references),
        "failures": len(failures),
        "seconds": round(wall, 2),
        "tickets_per_second": round(len(references) / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        # CPU used per ticket, whatever else runs on the machine: what the
        # figure would be with the two cores to ourselves is 2 / (sum).
        "cpu_ms_per_ticket": {
            "gunicorn": round((cpu_after[0] - cpu_before[0]) / len(references) * 1000, 2),
            "postgresql": round((cpu_after[1] - cpu_before[1]) / len(references) * 1000, 2),
            "client": round((cpu_after[2] - cpu_before[2]) / len(references) * 1000, 2),
        },
        "concurrency": args.concurrency,
        "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "checks": checks,
        "command": shlex.join([".venv/bin/python", "benchmarks/intake_bench.py", *sys.argv[1:]]),
    }
    per_ticket = sum(figures["cpu_ms_per_ticket"].values())
    figures["tickets_per_second_if_the_cores_were_ours"] = round((os.cpu_count() or 2) * 1000 / per_ticket, 1)
    if floor is not None:
        figures["floor"] = floor
    say(json.dumps(figures, indent=2))
    if failures:
        say("failures (first 5):", failures[:5])
    expected = len(warm_refs) + len(references)
    ok = not failures and all(
        checks[k] == expected
        for k in ("tickets", "from_api", "with_one_filed_event", "with_response_and_resolution_deadlines",
                  "with_outbox_rows")
    )
    say("checks:", "every ticket committed with its event, deadlines and outbox rows" if ok else "FAILED")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
