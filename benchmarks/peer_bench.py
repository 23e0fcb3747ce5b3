"""Side by side with django-helpdesk (issue 20): prepare a bulk-loaded database, serve it, alternate the runs.

The load generator is ``../shared/bench/peer/sidebyside.py`` (its README);
this script only does what it leaves to us:

- ``prepare``: add a campus catalogue of ``--places`` places (buildings of
  rooms on floors) to a database loaded by ``benchmarks/_bulkload.py``
  (``sweep_bench.py --skip a,b,c,d``), give eight requesters and a leader a
  password and the requesters API tokens (the ``--creds`` file the harness
  reads), then VACUUM ANALYZE;
- ``serve`` / ``stop``: gunicorn with the harness's shape (2 workers x 4
  gthread threads, keep-alive), its pid in ``--pidfile``;
- ``pairs``: run one path on ours and on the peer alternately (ABAB...),
  each run with the 1-minute load logged before and after, and print the
  figures and the ratio of each pair. The machine is shared: the load is
  logged, not waited for (``gate.py``'s "under 2" may never come).

Example (docs/api.md, "Side by side with django-helpdesk"):
    python benchmarks/peer_bench.py prepare --database-url postgresql+psycopg://postgres@127.0.0.1/bench_peer_100k \\
        --places 5000 --creds /tmp/peer/ours_creds.json
    python benchmarks/peer_bench.py serve --database-url ... --port 8790
    python benchmarks/peer_bench.py pairs --mode form --pairs 3 --ours-port 8790 --peer-port 8791 \\
        --ours-db bench_peer_100k --peer-db bench_peer_dh --creds /tmp/peer/ours_creds.json
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# Beside the checkout (/work/main) or beside its worktrees' folder (/work/wt/<name>).
HARNESS = next(
    (
        path
        for path in (
            up / "shared" / "bench" / "peer" / "sidebyside.py" for up in (ROOT.parent, ROOT.parent.parent)
        )
        if path.exists()
    ),
    ROOT.parent / "shared" / "bench" / "peer" / "sidebyside.py",
)
PASSWORD = "perf-bench-password-1"


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def prepare(args) -> None:
    with psycopg.connect(conninfo(args.database_url), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM locations WHERE code LIKE 'pb-%'").fetchone()[0]
        if have < args.places:
            conn.execute("DELETE FROM locations WHERE code LIKE 'pb-%' AND kind <> 'campus'")
            conn.execute("DELETE FROM locations WHERE code LIKE 'pb-%'")
            campus = conn.execute(
                "INSERT INTO locations (code, kind, name_en, name_zh, is_active) "
                "VALUES ('pb-main', 'campus', 'North campus', '北校区', true) RETURNING id"
            ).fetchone()[0]
            made, building_no = 1, 0
            # Buildings of 6 floors of 8 rooms: 55 places a building.
            while made < args.places:
                building_no += 1
                b = conn.execute(
                    "INSERT INTO locations (code, kind, name_en, name_zh, parent_id, is_active) "
                    "VALUES (%s, 'building', %s, %s, %s, true) RETURNING id",
                    (f"pb-b{building_no:03d}", f"Building {building_no}", f"{building_no}号楼", campus),
                ).fetchone()[0]
                made += 1
                for floor in range(1, 7):
                    if made >= args.places:
                        break
                    f = conn.execute(
                        "INSERT INTO locations (code, kind, name_en, name_zh, parent_id, is_active) "
                        "VALUES (%s, 'floor', %s, %s, %s, true) RETURNING id",
                        (f"pb-b{building_no:03d}-f{floor}", f"Floor {floor}", f"{floor}层", b),
                    ).fetchone()[0]
                    made += 1
                    rooms = [
                        (
                            f"pb-b{building_no:03d}-{floor}{r:02d}",
                            "room",
                            f"Room {floor}{r:02d}",
                            f"{floor}{r:02d}室",
                            f,
                            True,
                        )
                        for r in range(1, 9)
                    ][: args.places - made]
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO locations (code, kind, name_en, name_zh, parent_id, is_active) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            rooms,
                        )
                    made += len(rooms)
        total = conn.execute("SELECT count(*) FROM locations").fetchone()[0]
        print(f"locations: {total:,}", flush=True)
        conn.execute("VACUUM ANALYZE")
    env = {**os.environ, "DATABASE_URL": args.database_url, "TRACKER_ENV": "development"}
    code = f"""
import json, sys
from sqlalchemy import select
from werkzeug.security import generate_password_hash
from wsgi import app
from tracker.clock import utcnow
from tracker.domain.roles import Role
from tracker.extensions import db
from tracker.models import User, UserRole
from tracker.services.admin import api_tokens

with app.app_context():
    requesters = db.session.execute(
        select(User).join(UserRole).where(UserRole.role == Role.REQUESTER, User.is_active.is_(True),
                                          ~User.roles.any(UserRole.role != Role.REQUESTER))
        .order_by(User.id).limit(8)).scalars().all()
    leader = db.session.execute(
        select(User).join(UserRole).where(UserRole.role == Role.LEADERSHIP).order_by(User.id).limit(1)).scalar_one()
    hashed = generate_password_hash({PASSWORD!r})
    for user in [*requesters, leader]:
        user.password_hash = hashed
        user.locale = "en"
    db.session.commit()
    tokens = [api_tokens.create_token(u, name="peer bench", scopes=["requester"], now=utcnow())[1]
              for u in requesters]
    db.session.commit()
    json.dump({{"password": {PASSWORD!r}, "requesters": [u.username for u in requesters],
               "leader": leader.username, "tokens": tokens}}, open({args.creds!r}, "w"))
    print("creds:", len(tokens), "requesters and", leader.username)
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def serve(args) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "TRACKER_ENV": "production",
        "SECRET_KEY": "peer-bench-secret",
        "CELERY_BROKER_URL": args.broker,
        "TRACKER_INSECURE_COOKIES": "1",
        "PROMETHEUS_MULTIPROC_DIR": f"{args.workdir}/metrics-{args.port}",
        "TRACKER_API_RATE_LIMIT": "1000000/minute",
    }
    Path(f"{args.workdir}/metrics-{args.port}").mkdir(parents=True, exist_ok=True)
    root = Path(args.root or ROOT)
    command = [
        str(root / ".venv" / "bin" / "gunicorn"),
        "wsgi:app",
        "-b",
        f"127.0.0.1:{args.port}",
        "-w",
        "2",
        "-k",
        "gthread",
        "--threads",
        "4",
        "--keep-alive",
        "30",
        "--pid",
        args.pidfile,
        "--daemon",
        # No access log, as the peer's gunicorn (peer_django_helpdesk.sh):
        # the desk logs its own line per request (tracker.logs), which stays.
        "--error-logfile",
        f"{args.workdir}/ours-gunicorn-{args.port}.log",
    ]
    if args.access_log:
        command += ["--access-logfile", args.access_log]
    subprocess.run(command, check=True, cwd=root, env=env)
    time.sleep(3)
    print("serving on", args.port, "pid", Path(args.pidfile).read_text().strip(), flush=True)


def stop(args) -> None:
    pid = int(Path(args.pidfile).read_text())
    os.kill(pid, signal.SIGTERM)
    print("stopped", pid)


@contextmanager
def locked(path: str):
    """Hold ``flock(path)`` (the machine's benchmark lock) for one timed run; no lock without a path."""
    if not path:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args, system: str, label: str) -> dict:
    if args.mode == "pages":
        command = [
            sys.executable,
            str(HARNESS),
            "pages",
            "--system",
            system,
            "--requests",
            str(args.page_requests),
            "--warmup",
            "2",
        ]
    else:
        command = [
            sys.executable,
            str(HARNESS),
            "intake",
            "--system",
            system,
            "--mode",
            args.mode,
            "--requests",
            str(args.requests),
            "--warmup",
            str(args.warmup),
            "--concurrency",
            "8",
        ]
    port, pidfile, db = {
        "ours": (args.ours_port, args.ours_pidfile, args.ours_db),
        "old": (args.old_port, args.old_pidfile, args.ours_db),
        "peer": (args.peer_port, args.peer_pidfile, args.peer_db),
    }[system]
    if system == "old":  # ours before the change, served from another checkout on the same database
        command[command.index("old")] = "ours"
    command += [
        "--port",
        str(port),
        "--master",
        Path(pidfile).read_text().strip(),
        "--db",
        db,
        "--ours-creds",
        args.creds,
        "--label",
        label,
    ]
    with locked(args.lock):
        before = os.getloadavg()
        answer = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        after = os.getloadavg()
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    result["load_logged"] = [round(before[0], 2), round(after[0], 2)]
    with open(args.json_out, "a") as out:
        out.write(json.dumps(result) + "\n")
    return result


def _harness():
    """Import ../shared/bench/peer/sidebyside.py (its sessions, load runner and CPU meter)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sidebyside", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The cheapest authenticated request of each system, by what authenticates it. Ours: the API's
# smallest read (token, limit, nine centres) and a logged-in page's smallest JSON (session, user,
# an empty list of places). The peer (Django REST framework, session login): a follow-up that is
# not there (404 after the login, the permission check and one small query; a ticket would first
# read every ticket, TicketViewSet.get_queryset) and the RSS index page (staff only).
FLOORS = {
    ("ours", "api"): ("/api/v1/centres", 200),
    ("ours", "web"): ("/tickets/places?area=0", 200),
    ("peer", "api"): ("/helpdesk/api/followups/0/", 404),
    ("peer", "web"): ("/helpdesk/rss/", 200),
}


def floor(args) -> None:
    """Send ``--requests`` of the system's cheapest authenticated request from 8 clients; print one JSON line."""
    side = _harness()
    system, kind = args.system, args.floor_kind
    path, expect = FLOORS[(system, kind)]
    port, pidfile, db = (
        (args.ours_port, args.ours_pidfile, args.ours_db)
        if system == "ours"
        else (args.peer_port, args.peer_pidfile, args.peer_db)
    )
    creds = json.loads(Path(args.creds).read_text())
    clients = []
    for w in range(8):
        if system == "ours" and kind == "api":
            session, headers = side.Session(port), {"Authorization": f"Bearer {creds['tokens'][w]}"}
        elif system == "ours":
            session, headers = side.login_ours(port, creds["requesters"][w], creds["password"]), {}
        else:
            session, headers = side.login_peer(port, "admin", "bench-admin-pass"), {}

        def get(_i, session=session, headers=headers):
            status, data, dt, _ = session.request("GET", path, headers=headers)
            return status == expect, status, data, dt

        clients.append(get)
    meter = side.CpuMeter(int(Path(pidfile).read_text()), db)
    with locked(args.lock):
        warm = side.run_load(clients, args.warmup, 240, offset=10_000_000)
        assert warm["errors"] == 0, warm
        load_before = os.getloadavg()
        before = meter.snap()
        result = side.run_load(clients, args.requests, 240)
        after = meter.snap()
        load_after = os.getloadavg()
    cpu = meter.per(before, after, max(result["ok"], 1))
    cpu["total_server_ms"] = round(cpu["gunicorn_ms"] + cpu["postgresql_ms"], 2)
    result.update(
        system=system,
        floor=kind,
        path=path,
        cpu_per_request=cpu,
        at=time.strftime("%H:%M:%S"),
        load_logged=[round(load_before[0], 2), round(load_after[0], 2)],
    )
    print(json.dumps(result), flush=True)
    with open(args.json_out, "a") as out:
        out.write(json.dumps(result) + "\n")


def pairs(args) -> None:
    other = args.versus
    for n in range(1, args.pairs + 1):
        order = ("ours", other) if n % 2 else (other, "ours")
        got = {system: _run(args, system, f"{system} {args.mode} pair {n}") for system in order}
        if args.mode == "pages":
            for system in order:
                for page in got[system]["pages"]:
                    print(
                        f"pair {n} {system:4} {page['page'][:40]:40} p50 {page.get('p50_ms')} ms "
                        f"load {page['load'][0]}",
                        flush=True,
                    )
            continue
        ours, peer = got["ours"], got[other]
        print(
            f"pair {n} ({'/'.join(order)}): ours {ours['rps']:.0f} req/s "
            f"{ours['cpu_per_request']['total_server_ms']} ms server CPU (load {ours['load_logged']}), "
            f"{other} {peer['rps']:.0f} req/s {peer['cpu_per_request']['total_server_ms']} ms "
            f"(load {peer['load_logged']}): ours/{other} {ours['rps'] / peer['rps']:.2f}, "
            f"CPU {other}/ours {peer['cpu_per_request']['total_server_ms'] / ours['cpu_per_request']['total_server_ms']:.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("prepare", "serve", "stop", "pairs", "floor"))
    parser.add_argument("--system", choices=("ours", "peer"), default="ours", help="floor: which system")
    parser.add_argument(
        "--floor-kind",
        choices=("api", "web"),
        default="api",
        help="floor: the API's cheapest request or a logged-in page's (FLOORS)",
    )
    parser.add_argument("--database-url")
    parser.add_argument("--places", type=int, default=5000)
    parser.add_argument("--creds", default="/tmp/peer/ours_creds.json")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--pidfile", default="/tmp/peer/ours.pid")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--mode", choices=("api", "form", "pages"), default="api")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--page-requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--ours-port", type=int, default=8790)
    parser.add_argument("--peer-port", type=int, default=8791)
    parser.add_argument("--ours-pidfile", default="/tmp/peer/ours.pid")
    parser.add_argument("--peer-pidfile", default="/tmp/peer/dh/gunicorn.pid")
    parser.add_argument(
        "--versus",
        choices=("peer", "old"),
        default="peer",
        help="pairs: alternate ours with the peer, or with ours before the change (--old-port)",
    )
    parser.add_argument("--old-port", type=int, default=8792)
    parser.add_argument("--old-pidfile", default="/tmp/peer/old.pid")
    parser.add_argument("--ours-db", default="bench_peer_100k")
    parser.add_argument("--peer-db", default="bench_peer_dh")
    parser.add_argument("--json-out", default="/tmp/peer/pairs.jsonl")
    parser.add_argument(
        "--lock",
        default="",
        metavar="PATH",
        help="hold flock(PATH) through each timed run (the shared machine's /work/bench.lock)",
    )
    parser.add_argument("--workdir", default="/tmp/peer", help="serve: metrics folder and error log here")
    parser.add_argument("--root", default="", help="serve: the checkout to serve (default: this one)")
    parser.add_argument("--access-log", default="", metavar="PATH",
                        help="serve: gunicorn's access log too (default none, as the peer's)")
    args = parser.parse_args()
    {"prepare": prepare, "serve": serve, "stop": stop, "pairs": pairs, "floor": floor}[args.command](args)


if __name__ == "__main__":
    main()
