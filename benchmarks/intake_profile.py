"""Profile filing a ticket through the JSON API in-process: SQL statements and CPU per filing.

    .venv/bin/python benchmarks/intake_profile.py                     # fresh database, 300 filings
    .venv/bin/python benchmarks/intake_profile.py --reuse --tickets 500
    .venv/bin/python benchmarks/intake_profile.py --reuse --statements   # list one filing's statements
    .venv/bin/python benchmarks/intake_profile.py --reuse --profile 25   # cProfile (CPU time), top 25
    .venv/bin/python benchmarks/intake_profile.py --reuse --centre repairs              # repairs only, no dispatch
    .venv/bin/python benchmarks/intake_profile.py --reuse --centre repairs --dispatch   # the same, dispatched

Steps:

1. A fresh PostgreSQL database ``tracker_h_intake`` at 127.0.0.1 (dropped and
   created; ``--reuse`` files into the one left by an earlier run), the
   migrations, and the demo catalogue (``demo.seed(days=1)``, as
   ``flask --app wsgi seed-demo --days 1``).
2. A personal access token (scope ``requester``) for the first active demo
   requester, made through the service.
3. The app built in this process (rate limits off, a filesystem broker in a
   temporary folder); ``--warmup`` filings, then ``--tickets`` filings of
   ``POST /api/v1/tickets`` through the Flask test client, each body drawn
   from the catalogue (centre, category, place) with a fixed seed.
4. Counted per measured filing: SQL statements sent to the database, at
   the driver (psycopg's ``Cursor.execute``/``executemany``/``copy``, so
   services.bulk's raw COPY path counts too; SQLAlchemy's
   ``before_cursor_execute`` alone misses it), and this process's CPU time
   (``time.process_time``: Flask, the ORM, the driver). Every answer must
   be 201. Over the whole measured run: the CPU the PostgreSQL backends
   serving this process used (``/proc/<pid>/stat`` of the backends of the
   database, read before and after; needs the server on this machine and
   permission to read its processes' stat, else it says so), per filing.
5. Checks in the database that every measured ticket is committed with its
   ``filed`` event, response and resolution deadlines, outbox rows (the
   dispatchers' ``ticket_filed`` notices) and its daily-summary mark.

``--centre CODE`` files into that centre's categories only; ``--dispatch``
switches automatic dispatch on for them and puts the centre's technicians
on duty (a shift around now, through the roster service), so the two runs
differ by automatic dispatch alone (docs/workers.md, "Automatic dispatch
burst"); every measured ticket must then be assigned by the application.

The figures are in docs/api.md, "Intake speed". The machine is shared: CPU
per filing is steadier than wall time, but read a few runs.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PASSWORD = "intake-profile-1"  # the demo users' (prepare)
DEFAULT_DATABASE = "tracker_h_intake"


def say(*parts) -> None:
    print(*parts, flush=True)


def fresh_database(name: str) -> None:
    admin = sa.make_url(PG + name).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def build_app(database: str, instance: Path, limiter: str = ""):
    from tracker import create_app
    from tracker.config import filesystem_broker_options

    # As served (benchmarks/peer_bench.py serve): the API's limit counted in Redis.
    limits = {"API_RATE_LIMIT": "1000000/minute", "RATELIMIT_STORAGE_URI": limiter} if limiter else {}
    return create_app({
        "SQLALCHEMY_DATABASE_URI": PG + database,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "intake-profile-secret-key-not-for-production",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": filesystem_broker_options(instance),
        "CELERY_BEAT_SCHEDULE_FILE": str(instance / "celerybeat-schedule"),
        "ATTACHMENTS_DIR": str(instance / "attachments"),
        "API_RATE_LIMIT": "off",
        "LOGIN_ADDRESS_LIMIT": "off",
        **limits,
    })


def prepare(app, *, reuse: bool, centre: str = "", dispatch: bool = False) -> tuple[str, list[dict]]:
    """Return a requester token's secret and the filing choices (centre, category, places)."""
    from flask_migrate import upgrade

    from tracker import demo
    from tracker.clock import utcnow
    from tracker.domain.roles import Role
    from tracker.extensions import db
    from tracker.models import Category, Centre, Location, User, UserRole
    from tracker.services.admin import api_tokens

    with app.app_context():
        if not reuse:
            upgrade(revision="heads")
            began = time.perf_counter()
            demo.seed(days=1, password=PASSWORD, echo=lambda *_: None)
            say(f"seeded the demo catalogue in {time.perf_counter() - began:.1f} s")
        requester = db.session.execute(
            select_requester(User, UserRole, Role)
        ).scalars().first()
        _, secret = api_tokens.create_token(requester, name="intake profile", scopes=["requester"], now=utcnow())
        places = list(db.session.execute(sa.select(Location.id).where(Location.is_active.is_(True))).scalars())
        choices = [
            {"centre_id": centre_id, "category_id": category_id, "places": places}
            for category_id, centre_id in db.session.execute(
                sa.select(Category.id, Category.centre_id)
                .join(Centre, Centre.id == Category.centre_id)
                .where(Category.is_active.is_(True), Centre.is_active.is_(True))
                .order_by(Category.id)
            ).all()
        ]
        if centre:
            centre_id = db.session.execute(sa.select(Centre.id).where(Centre.code == centre)).scalar_one()
            choices = [c for c in choices if c["centre_id"] == centre_id]
            roster_for(centre_id, {c["category_id"] for c in choices}, dispatch=dispatch)
        db.session.remove()
    return secret, choices


def roster_for(centre_id: int, categories: set[int], *, dispatch: bool) -> None:
    """Switch automatic dispatch on (or off) for ``categories`` and put the centre's technicians on duty now."""
    from datetime import timedelta

    from tracker.clock import utcnow
    from tracker.domain.roles import Role
    from tracker.extensions import db
    from tracker.models import Shift, User, UserRole
    from tracker.services.dispatch import auto, roster

    now = utcnow()
    admin = db.session.execute(
        sa.select(User).join(UserRole).where(UserRole.role == Role.ADMIN)).scalars().first()
    auto.save_settings(centre_id, shows_duty_phone=False, auto_dispatch=categories if dispatch else set(),
                       emergency=categories, actor=admin, now=now)
    technicians = db.session.execute(sa.select(User.id).join(UserRole).where(
        UserRole.role == Role.TECHNICIAN, UserRole.centre_id == centre_id, User.is_active.is_(True))).scalars().all()
    busy = set(db.session.execute(sa.select(Shift.user_id).where(
        Shift.ends_at > now, Shift.starts_at < now + timedelta(hours=3))).scalars())
    local = now.astimezone(roster.zone()) - timedelta(minutes=30)
    start = local.time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    roster.save_shifts(centre_id, [(i, roster.NewShift(user_id=t, day=local.date(), start=start, end=end))
                                   for i, t in enumerate(technicians, start=1) if t not in busy],
                       actor=admin, now=now)


def select_requester(User, UserRole, Role):
    return (
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.REQUESTER, User.is_active.is_(True)).order_by(User.id)
    )


def body(rng: random.Random, choices: list[dict], number: int) -> dict:
    choice = rng.choice(choices)
    return {
        "centre_id": choice["centre_id"],
        "category_id": choice["category_id"],
        "location_id": rng.choice(choice["places"]),
        "description": f"Intake profile request {number}: the light in the corridor flickers.",
    }


def backend_cpu_seconds(database: str) -> dict[int, float] | None:
    """Return the CPU seconds (user + system) each PostgreSQL backend of ``database`` has used; None if unreadable."""
    admin = sa.make_url(PG + database).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,))]
    ticks = os.sysconf("SC_CLK_TCK")
    result = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        result[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return result


def check(app, references: list[str], *, dispatched: bool = False) -> None:
    """Fail unless every ticket is committed with its event, deadlines, outbox rows and summary mark.

    ``dispatched``: and assigned at filing by the application, with one ``assigned`` event.
    """
    from tracker.extensions import db
    from tracker.models import EventKind, Notification, StatsDirty, Ticket, TicketEvent, TicketSla
    from tracker.services.insight import reports

    with app.app_context():
        tickets = list(db.session.execute(sa.select(Ticket).where(Ticket.reference.in_(references))).scalars())
        assert len(tickets) == len(references), (len(tickets), len(references))
        ids = [t.id for t in tickets]
        filed = set(db.session.execute(sa.select(TicketEvent.ticket_id).where(
            TicketEvent.ticket_id.in_(ids), TicketEvent.kind == EventKind.FILED)).scalars())
        assert filed == set(ids), "a ticket without its filed event"
        deadlines = Counter(db.session.execute(sa.select(TicketSla.ticket_id).where(
            TicketSla.ticket_id.in_(ids), TicketSla.target.in_(["response", "resolution"]),
            TicketSla.due_at.is_not(None))).scalars())
        assert all(deadlines[i] == 2 for i in ids), "a ticket without its response and resolution deadlines"
        noticed = set(db.session.execute(sa.select(Notification.ticket_id).where(
            Notification.ticket_id.in_(ids), Notification.kind == "ticket_filed")).scalars())
        assert noticed == set(ids), "a ticket without its ticket_filed notices"
        marks = set(db.session.execute(sa.select(StatsDirty.day, StatsDirty.centre_id)).all())
        missing = [t.reference for t in tickets if (reports.local_day(t.created_at), t.centre_id) not in marks]
        # The workers' refresh may have taken a mark away meanwhile: none run here.
        assert not missing, f"no daily-summary mark for {missing[:5]}"
        if dispatched:
            assigned = Counter(db.session.execute(sa.select(TicketEvent.ticket_id).where(
                TicketEvent.ticket_id.in_(ids), TicketEvent.kind == EventKind.ASSIGNED,
                TicketEvent.actor_id.is_(None))).scalars())
            assert all(t.assignee_id is not None and assigned[t.id] == 1 for t in tickets), \
                "a ticket not assigned once by the application"
        db.session.remove()


def log_in(app, client) -> tuple[dict[int, str], str]:
    """Log the test client in as the first requester; return the centres' codes by id and a CSRF token."""
    import re

    from tracker.extensions import db
    from tracker.models import Centre

    with app.app_context():
        from tracker.domain.roles import Role
        from tracker.models import User, UserRole

        username = db.session.execute(select_requester(User, UserRole, Role)).scalars().first().username
        codes = dict(db.session.execute(sa.select(Centre.id, Centre.code)).all())
        db.session.remove()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return codes, token


def file_by_form(client, token: str, codes: dict[int, str], fields: dict) -> str:
    """File through the web form (as sidebyside.py does); return the reference it redirects to."""
    answer = client.post(f"/tickets/new/{codes[fields['centre_id']]}", data={
        "csrf_token": token, "category_id": fields["category_id"], "location_id": fields["location_id"],
        "location_note": "", "description": fields["description"], "title": "", "priority": "",
        "contact_phone": "",
    }, headers={"Accept-Language": "en"})
    assert answer.status_code == 302 and "/tickets/" in answer.headers["Location"], (
        answer.status_code, answer.get_data(as_text=True)[:500])
    return answer.headers["Location"].rsplit("/", 1)[-1]


class Sampler:
    """A statistical profile: the Python stack every ``every_ms`` of this process's CPU (ITIMER_PROF).

    Unlike cProfile it does not slow each call, so many small calls (the ORM's) weigh what they cost.
    """

    def __init__(self, every_ms: float):
        import signal

        self.every, self.self_counts, self.total_counts, self.samples = every_ms / 1000, Counter(), Counter(), 0
        self.on, self.cpu = False, 0.0
        signal.signal(signal.SIGPROF, self._take)
        # One timer for the whole run: the kernel's clock ticks are coarser than a filing, and
        # restarting the timer at each filing would sample each filing once at most.
        signal.setitimer(signal.ITIMER_PROF, self.every, self.every)

    def _take(self, _signum, frame) -> None:
        if not self.on:
            return
        self.samples += 1
        seen = set()
        top = True
        while frame is not None:
            code = frame.f_code
            name = f"{code.co_filename.replace(str(ROOT), '').replace('/.venv/lib/python3.11/site-packages', '')}" \
                   f":{code.co_firstlineno}({code.co_name})"
            if top:
                self.self_counts[name] += 1
                top = False
            if name not in seen:
                self.total_counts[name] += 1
                seen.add(name)
            frame = frame.f_back

    def start(self) -> None:
        self.on, self.began = True, time.process_time()

    def stop(self) -> None:
        self.on = False
        self.cpu += time.process_time() - self.began

    def report(self, top: int, filings: int) -> None:
        import signal

        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        # Each sample stands for an equal share of the CPU measured while sampling.
        per = self.cpu * 1000 / max(self.samples, 1) / filings
        say(f"\nsampled: {self.samples} samples over {self.cpu * 1000 / filings:.2f} ms CPU per filing")
        for title, counts in (("self", self.self_counts), ("total (with callees)", self.total_counts)):
            say(f"\nby {title}: ms per filing, function")
            for name, n in counts.most_common(top):
                say(f"{n * per:7.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--reuse", action="store_true", help="file into the database an earlier run left")
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--statements", action="store_true", help="print the statements of one more filing")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile the measured filings (CPU time); print the top N")
    parser.add_argument("--centre", default="", help="file into this centre's categories only (code: repairs)")
    parser.add_argument("--dispatch", action="store_true",
                        help="with --centre: automatic dispatch on for its categories, its technicians on duty")
    parser.add_argument("--sort", default="tottime", help="cProfile order: tottime (default), cumulative, ...")
    parser.add_argument("--only", default="", help="print only the profile's lines matching this (e.g. tracker/)")
    parser.add_argument("--mode", choices=("api", "form"), default="api",
                        help="file through POST /api/v1/tickets (default) or the web form, logged in")
    parser.add_argument("--limiter", default="", metavar="URI",
                        help="count the API's rate limit in this storage, as served (redis://127.0.0.1:6379/13)")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="sample the stack every --sample-every ms of CPU; print the top N by self and by total")
    parser.add_argument("--sample-every", type=float, default=1.0, metavar="MS")
    args = parser.parse_args()

    if not args.reuse:
        fresh_database(args.database)
    instance = Path(tempfile.mkdtemp(prefix="intake-profile-"))
    # The app's folder (the filesystem broker's queue, attachments) goes with the run.
    atexit.register(shutil.rmtree, instance, ignore_errors=True)
    app = build_app(args.database, instance, args.limiter)
    if args.dispatch and not args.centre:
        parser.error("--dispatch needs --centre")
    secret, choices = prepare(app, reuse=args.reuse, centre=args.centre, dispatch=args.dispatch)

    from tracker.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    orm_statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        orm_statements.append(statement)

    def counted(method):
        def run(self, query, *args, **kwargs):
            statements.append(query if isinstance(query, str) else repr(query))
            return method(self, query, *args, **kwargs)
        return run

    for name in ("execute", "executemany", "copy"):
        setattr(psycopg.Cursor, name, counted(getattr(psycopg.Cursor, name)))

    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Accept-Language": "en"}
    rng = random.Random(args.seed)
    if args.mode == "form":
        codes, token = log_in(app, client)

    def file(number: int) -> str:
        if args.mode == "form":
            return file_by_form(client, token, codes, body(rng, choices, number))
        answer = client.post("/api/v1/tickets", json=body(rng, choices, number), headers=headers)
        assert answer.status_code == 201, (answer.status_code, answer.get_data(as_text=True)[:500])
        return answer.get_json()["reference"]

    for number in range(args.warmup):
        file(number)
    counts, cpu_ms, references = [], [], []
    server_before = backend_cpu_seconds(args.database)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    sampler = Sampler(args.sample_every) if args.sample else None
    orm_counts = []
    for number in range(args.tickets):
        statements.clear()
        orm_statements.clear()
        if profiler:
            profiler.enable()
        if sampler:
            sampler.start()
        began = time.process_time()
        references.append(file(args.warmup + number))
        cpu_ms.append((time.process_time() - began) * 1000)
        if sampler:
            sampler.stop()
        if profiler:
            profiler.disable()
        counts.append(len(statements))
        orm_counts.append(len(orm_statements))

    server_after = backend_cpu_seconds(args.database)
    check(app, references, dispatched=args.dispatch)
    if args.dispatch:
        say("every measured ticket assigned at filing by the application, with one assigned event")
    say(f"filings measured: {len(references)} (after {args.warmup} warm-up), every answer 201, "
        "every ticket committed with its filed event, deadlines, outbox rows and summary mark")
    say(f"SQL statements per filing: mean {statistics.mean(counts):.2f}, min {min(counts)}, max {max(counts)} "
        f"(through SQLAlchemy: mean {statistics.mean(orm_counts):.2f})")
    say(f"CPU ms per filing (this process): mean {statistics.mean(cpu_ms):.2f}, "
        f"median {statistics.median(cpu_ms):.2f}, p90 {sorted(cpu_ms)[int(len(cpu_ms) * 0.9)]:.2f}")
    if server_before is None or server_after is None:
        say("PostgreSQL CPU per filing: not readable here (/proc of the server's backends)")
    else:
        used = sum(seconds - server_before.get(pid, 0.0) for pid, seconds in server_after.items())
        say(f"PostgreSQL CPU ms per filing (its backends serving this run, 10 ms clock ticks): "
            f"{used * 1000 / len(references):.2f}")
    if args.statements:
        statements.clear()
        file(args.warmup + args.tickets)
        say(f"\nstatements of one more filing ({len(statements)}):")
        for number, statement in enumerate(statements, 1):
            say(f"{number:3d}. {' '.join(statement.split())[:220]}")
    if profiler:
        say("")
        restrictions = [args.only, args.profile] if args.only else [args.profile]
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(*restrictions)
    if sampler:
        sampler.report(args.sample, len(references))
    say("command: " + " ".join([".venv/bin/python", "benchmarks/intake_profile.py", *sys.argv[1:]]))
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
