"""Time a replay (services/sla/standards/replay.py) of 100,000 to 1,000,000 requests on PostgreSQL.

Run from the repository root, with the machine's PostgreSQL on loopback:

    python benchmarks/replay_bench.py --tickets 100000                 # load, measure, drop
    python benchmarks/replay_bench.py --tickets 100000,300000 --processes 1,2
    python benchmarks/replay_bench.py --tickets 1000000 --keep          # keep tracker_replay_bench

For each size the database ``tracker_replay_bench`` is (re)built with
benchmarks/_bulkload.py (COPY: tickets, their events and stored targets,
exactly as the services store them), then each measurement runs in a fresh
process so that its peak memory is its own:

- the replay of every request under the published versions (``--current``)
  and under a draft (the repairs response limit halved), per process count;
- the floor: ``sla_clock.evaluate`` alone on facts and policies built
  beforehand (no database, no counting), per request;
- BusinessCalendar's raw rate on the office calendar (deadline calls/s, as
  benchmarks/calendar_bench.py measures it), in the same run.

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _bulkload as bulk  # noqa: E402
import psycopg  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_replay_bench"


def load(url: str, tickets: int, seed: int) -> float:
    from flask_migrate import upgrade

    from tracker import create_app

    started = time.perf_counter()
    bulk.recreate_database(url)
    app = create_app()
    with app.app_context():
        upgrade(revision="heads")
        ref = int(time.time())
        catalog = bulk.build_catalog(datetime.fromtimestamp(ref, UTC))
        plan = bulk.Plan(tickets=tickets, open=tickets * 15 // 100, breach=0, ref=ref, seed=seed,
                         history_notices=False, has_is_open=True)
        result = bulk.load_tickets(url, catalog, plan)
        bulk.finish(url, result)
    seconds = time.perf_counter() - started
    print(f"  loaded {tickets:,} tickets: " + ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
          + f" in {seconds:.0f} s", flush=True)
    return seconds


def _draft_document() -> dict:
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import SlaPolicy

    definition = json.loads(json.dumps(
        db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one().current_version.definition
    ))
    definition["targets"]["response"]["minutes"] = {p: m / 2 for p, m in
                                                     definition["targets"]["response"]["minutes"].items()}
    return {"name": "bench: repairs response halved", "policies": {"repairs": definition}}


def measure(mode: str, processes: int) -> dict:
    """Replay every request once (in this fresh process) and return the figures."""
    from sqlalchemy import text

    from tracker import create_app
    from tracker.extensions import db
    from tracker.services.sla.standards import replay
    from tracker.services.sla.standards.draft import Draft, parse_draft

    app = create_app()
    with app.app_context():
        draft = Draft() if mode == "current" else parse_draft(_draft_document())
        filters = replay.filters_for(date(2000, 1, 1), date.today() + timedelta(days=1))
        now = datetime.now(UTC)
        # The database server's CPU for this replay: its backend's, read from
        # /proc (same machine; one process only: the children's backends end with them).
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one() if processes == 1 else None
        server_before = _backend_cpu(backend)
        cpu_before, children_before = time.process_time(), _children_cpu()
        started = time.perf_counter()
        result = replay.replay(filters, draft, now, processes=processes)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_before + _children_cpu() - children_before
        server_after = _backend_cpu(backend)
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    own = _peak_rss_mib()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    requests = result["requests"]
    return {"mode": mode, "processes": processes, "requests": requests, "seconds": round(seconds, 2),
            "rate": round(requests / seconds), "peak_rss_mib": round(own, 1),
            "child_peak_rss_mib": round(children, 1), "changed_requests": result["changed_requests"],
            "flips": result["flips"]["met_to_late"] + result["flips"]["late_to_met"],
            "client_cpu_s": round(client_cpu, 2), "client_cpu_us_per_request": round(1e6 * client_cpu / requests, 1),
            "server_cpu_s": None if server_cpu is None else round(server_cpu, 2),
            "server_cpu_us_per_request": None if server_cpu is None else round(1e6 * server_cpu / requests, 1)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu(pid: int | None) -> float | None:
    """Return a PostgreSQL backend's CPU seconds (user + system), None when /proc does not show it."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib() -> float:
    """Return this process's peak RSS (VmHWM): getrusage's ru_maxrss keeps the launcher's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(sample: int) -> dict:
    """Return evaluate()'s own rate on ``sample`` requests' facts and policies built beforehand."""
    from sqlalchemy import and_

    from tracker import create_app
    from tracker.domain.sla_clock import evaluate
    from tracker.models import Ticket
    from tracker.services.sla import clocks as sla
    from tracker.services.sla.standards import replay
    from tracker.services.sla.standards.draft import Draft

    app = create_app()
    with app.app_context():
        rules = replay.Rules(Draft())
        prepared = []
        for tickets, events, rows in replay.chunks(and_(Ticket.id > 0), 2000):
            for ticket in tickets:
                pinned = {t: (r.calendar_version_id, r.policy_version_id) for t, r in rows.get(ticket.id, {}).items()}
                ticket_events = events.get(ticket.id)
                if not ticket_events or ticket.sla_policy_version_id is None:
                    continue
                code, _definition, policy = rules.stored(ticket.sla_policy_version_id, pinned)
                prepared.append((sla.policy_for_ticket(policy, code, ticket_events), ticket_events))
            if len(prepared) >= sample:
                break
        prepared = prepared[:sample]
        # facts_from (the events read -> the clock's facts) on its own, then evaluate on its facts,
        # with the cyclic collector as a replay runs it (replay.collector_paused).
        facts_cpu = None
        now = datetime.now(UTC)
        best = best_cpu = None
        with replay.collector_paused():
            for _ in range(3):
                cpu = time.process_time()
                facts = [(policy, sla.facts_from(events)) for policy, events in prepared]
                cpu = time.process_time() - cpu
                facts_cpu = cpu if facts_cpu is None else min(facts_cpu, cpu)
            prepared = facts
            for _ in range(3):
                started, cpu = time.perf_counter(), time.process_time()
                for policy, facts in prepared:
                    evaluate(policy, facts, now)
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                best = elapsed if best is None else min(best, elapsed)
                best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        office = sla.calendar_version(rules.current_calendar["office"])
        rng = random.Random(7)
        base = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
        starts = [datetime.fromtimestamp(base + rng.uniform(0, 300 * 86400), UTC) for _ in range(20000)]
        spans = [30 * rng.randint(1, 40) for _ in range(20000)]
        calendar_best = None
        for _ in range(3):
            started = time.perf_counter()
            for start, minutes in zip(starts, spans, strict=True):
                office.deadline(start, minutes)
            elapsed = time.perf_counter() - started
            calendar_best = elapsed if calendar_best is None else min(calendar_best, elapsed)
    return {"requests": len(prepared), "evaluate_us_per_request": round(1e6 * best / len(prepared), 1),
            "evaluate_cpu_us_per_request": round(1e6 * best_cpu / len(prepared), 1),
            "facts_from_cpu_us_per_request": round(1e6 * facts_cpu / len(prepared), 1),
            "evaluate_rate": round(len(prepared) / best), "calendar_deadline_rate": round(20000 / calendar_best)}


def _child(args: list[str], url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url)
    answer = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True,
                            cwd=ROOT, check=False)
    if answer.returncode != 0:
        raise SystemExit(f"measurement failed: {answer.stderr[-3000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(bulk.conninfo(url.rsplit("/", 1)[0] + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped {name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tickets", default="100000", help="comma-separated sizes, each loaded in turn")
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts to measure")
    parser.add_argument("--modes", default="current,draft")
    parser.add_argument("--floor-sample", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--skip-load", action="store_true", help="measure the database as it is")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(options.measure, int(options.processes))))
        return
    if options.floor:
        print(json.dumps(floor(options.floor_sample)))
        return
    url = options.database_url
    if "bench" not in url.rsplit("/", 1)[1]:
        raise SystemExit("refusing to rebuild a database whose name does not say bench")
    instance = tempfile.mkdtemp(prefix="replay-bench-")
    os.environ.update({"DATABASE_URL": url, "TRACKER_ENV": "development", "SECRET_KEY": "replay-bench",
                       "CELERY_BROKER_URL": "memory://", "TRACKER_INSTANCE_PATH": instance})
    figures = []
    try:
        for size in (int(s) for s in options.tickets.split(",")):
            print(f"{size:,} tickets; load: {os.getloadavg()}", flush=True)
            if not options.skip_load:
                load(url, size, options.seed)
            for mode in options.modes.split(","):
                for processes in (int(p) for p in options.processes.split(",")):
                    result = _child(["--measure", mode, "--processes", str(processes)], url)
                    result["load"] = [round(x, 2) for x in os.getloadavg()]
                    figures.append({"tickets": size, **result})
                    print(f"  {mode:8} {processes} process(es): {result['requests']:,} requests in "
                          f"{result['seconds']:.1f} s = {result['rate']:,}/s; peak RSS {result['peak_rss_mib']} MiB"
                          f" (children {result['child_peak_rss_mib']} MiB); changed {result['changed_requests']:,};"
                          f" CPU {result['client_cpu_us_per_request']} µs a request in the replay's processes"
                          + ("" if result["server_cpu_us_per_request"] is None else
                             f" + {result['server_cpu_us_per_request']} µs in PostgreSQL")
                          + f"; load {result['load']}", flush=True)
            bottom = _child(["--floor", "--floor-sample", str(options.floor_sample)], url)
            figures.append({"tickets": size, "floor": bottom})
            print(f"  floor: evaluate() alone {bottom['evaluate_us_per_request']} µs a request"
                  f" ({bottom['evaluate_cpu_us_per_request']} µs CPU; facts_from"
                  f" {bottom['facts_from_cpu_us_per_request']} µs CPU) = "
                  f"{bottom['evaluate_rate']:,}/s on {bottom['requests']:,} requests; BusinessCalendar deadline "
                  f"{bottom['calendar_deadline_rate']:,}/s (office calendar); load {os.getloadavg()}", flush=True)
    finally:
        if not options.keep:
            drop(url)
        shutil.rmtree(instance, ignore_errors=True)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
