"""A system under test for the worker tests: a database and broker of its own,
real Celery workers as subprocesses, an SMTP sink and a webhook receiver.

Like the browser tests' live system (``tests/browser/server.py``), each test
gets a database of its own, apart from the one the ``db`` fixture empties
before every integration test: a SQLite file in a temporary instance folder,
or a PostgreSQL database named after TEST_DATABASE_URL's with ``_workers``
appended, dropped and created anew. The broker is TEST_BROKER_URL's Redis
when set, else the kombu filesystem transport under the instance folder (the
embedded default); a test may bring its own (a private ``redis-server`` that
it stops and starts).

The workers get their settings from the environment only, as in production
(``workers/celery_app.py`` calls ``create_app()``). The test process builds
its app from the very same environment (``tracker.config.load``), so both
agree on the database, the broker and the instance folder; tests use it to
prepare data through the services and to publish tasks. Results are read
through a plain engine of its own: on SQLite every transaction of the app's
engine takes the write lock (BEGIN IMMEDIATE), and a test polling through it
would stall the worker it watches.

Everything a test started is stopped when it ends, failed or not. Logs go to
``test-artifacts/workers/<test>/``: each worker's output, the private Redis,
the mail and webhook requests received (JSON lines) and the figures measured.
"""

from __future__ import annotations

import ast
import email
import email.policy
import http.server
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.browser.server import ARTIFACTS_ROOT, PASSWORD_HASH_METHOD, free_port, server_environment
from tests.conftest import TEST_BROKER_URL, TEST_DATABASE_URL, _fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ARTIFACTS_ROOT / "workers"
REDIS_SERVER = "/usr/bin/redis-server"

# Every sweep each second: a breach is seen within a second or two. No
# scheduled weekly report: a test that wants one sets its day and time.
DEFAULT_SETTINGS = {
    "TRACKER_TIMEZONE": "Asia/Shanghai",
    "TRACKER_SLA_SWEEP_SECONDS": "1",
    "TRACKER_OUTBOX_SWEEP_SECONDS": "1",
    "TRACKER_WEEKLY_REPORT_DAY": "off",
    # The webhook receiver listens on 127.0.0.1.
    "TRACKER_WEBHOOK_ALLOW_PRIVATE": "1",
    # The tests count the periodic tasks' "succeeded" lines (workers/logs.py).
    "TRACKER_ROUTINE_TASK_LOG_LEVEL": "INFO",
}


def wait_until(what: str, check: Callable[[], object], *, timeout: float, interval: float = 0.05,
               details: Callable[[], str] | None = None):
    """Call ``check`` until it returns something true and return that; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}" + (f"\n{details()}" if details else ""))
        time.sleep(interval)


def folder_name(name: str) -> str:
    """Return a test's node name as a folder name: test_x[a] -> test_x-a."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- workers


TASK_LINE = re.compile(r"Task (?P<name>[\w.]+)\[(?P<id>[\w-]+)\] (?P<what>received|succeeded|raised|failed|retry)"
                       r"(?: in [\d.e-]+s: (?P<result>.*))?")


class Worker:
    """``celery -A workers.celery_app worker`` (with embedded beat when ``beat``) in a process group of its own."""

    def __init__(self, name: str, env: dict, log_path: Path, *, concurrency: int = 1, beat: bool = False,
                 queues: str | None = None, loglevel: str = "INFO"):
        self.name = name
        self.env = env
        self.log_path = log_path
        self.args = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
            "--loglevel", loglevel,
            "--concurrency", str(concurrency),
            "--hostname", f"{name}@%h",
            # One worker per test and broker: nothing to synchronise with.
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]
        if beat:
            self.args.append("--beat")
        if queues:  # else every queue (tracker/queueing.py): notices and the SLA sweep
            self.args += ["--queues", queues]
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> Worker:
        """Start the worker; ``wait_ready`` waits until it takes tasks."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, *, timeout: float = 30) -> Worker:
        """Wait until the worker says it is ready to take tasks (some 2 s after the start)."""
        self.wait_for_log(r"\bready\.", timeout=timeout)
        return self

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.log_path.name} (last {lines} lines) ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, *, count: int = 1, timeout: float = 30) -> None:
        """Wait until ``pattern`` occurs ``count`` times in the log; fail at once if the worker exits."""
        regex = re.compile(pattern)

        def seen():
            if not self.is_running:
                raise AssertionError(f"worker {self.name} exited with {self.process.returncode}\n{self.tail()}")
            return len(regex.findall(self.log())) >= count

        wait_until(f"{count} × /{pattern}/ in {self.log_path.name}", seen, timeout=timeout, interval=0.05,
                   details=self.tail)

    def tasks(self, name: str | None = None) -> list[dict]:
        """Return the task lines of the log: name, id, what (received, succeeded, ...) and result."""
        found = []
        for match in TASK_LINE.finditer(self.log()):
            if name is None or match["name"] == name:
                entry = match.groupdict()
                if entry["result"]:
                    try:
                        entry["result"] = ast.literal_eval(entry["result"].strip())
                    except (ValueError, SyntaxError):
                        pass
                found.append(entry)
        return found

    def errors(self) -> list[str]:
        """Return the log's ERROR and CRITICAL lines (a task that raised, a lost connection ...)."""
        return [line for line in self.log().splitlines() if re.search(r": (ERROR|CRITICAL)/", line)]

    def is_idle(self) -> bool:
        """Return whether every task the worker received has finished."""
        tasks = self.tasks()
        received = {t["id"] for t in tasks if t["what"] == "received"}
        finished = {t["id"] for t in tasks if t["what"] in ("succeeded", "raised", "failed")}
        return received <= finished

    def kill(self) -> None:
        """SIGKILL the whole process group (main process, pool and beat) and reap it."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, *, timeout: float = 1) -> None:
        """Ask for a warm shutdown (SIGTERM), SIGKILL the group after ``timeout`` s; close the log.

        The test is over: its database is thrown away, and a warm shutdown of
        a prefork worker takes seconds (a task under way is repeated anyway).
        """
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            # Pool or beat processes left behind by a main process that died.
            self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None


# ---------------------------------------------------------------- the system


def worker_database_url(folder: Path) -> str:
    """Return the worker tests' database: beside TEST_DATABASE_URL's, or a SQLite file in ``folder``."""
    if not TEST_DATABASE_URL:
        return f"sqlite:///{folder / 'workers.db'}"
    url = sa.make_url(TEST_DATABASE_URL)
    return url.set(database=f"{url.database}_workers").render_as_string(hide_password=False)


class System:
    """A database, a broker and settings; this process's app on them; the workers started on them."""

    def __init__(self, folder: Path, artifacts: Path, *, broker_url: str | None, mail_port: int | None,
                 settings: dict[str, str] | None = None, database_url: str | None = None):
        self.artifacts = artifacts
        self.instance = folder / "instance"
        self.database_url = database_url or worker_database_url(folder)
        self.broker_url = broker_url
        env = {k: v for k, v in server_environment(self.database_url, self.instance, broker_url).items()
               if not k.startswith("MAIL_")}
        env.update(DEFAULT_SETTINGS)
        if mail_port is not None:
            env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port))
        env.update(settings or {})
        self.env = env
        self.workers: list[Worker] = []
        self.figures: list[str] = []
        self.app = self.celery = self.reader = self._context = None

    def open(self) -> None:
        """Create and migrate the database; build this process's app on it and keep its context active."""
        from flask_migrate import upgrade

        from tracker import config, create_app
        from tracker.services.sla.clocks import forget_calendars

        self.instance.mkdir(parents=True)
        if not self.database_url.startswith("sqlite"):
            _fresh_postgres(self.database_url)
        # The settings the workers will read, and only those.
        overrides = config.load(config.Environment(self.env))
        overrides.update(TESTING=True, PASSWORD_HASH_METHOD=PASSWORD_HASH_METHOD)
        forget_calendars()  # cached per process, keyed by the ids of another database
        self.app = create_app(overrides)
        self.celery = self.app.extensions["celery"]
        self._context = self.app.app_context()
        self._context.push()
        upgrade(revision="heads")
        self.reader = sa.create_engine(self.database_url, poolclass=NullPool)
        if self.broker_url and self.broker_url == TEST_BROKER_URL:
            self._purge_shared_redis()

    def _purge_shared_redis(self) -> None:
        # TEST_BROKER_URL is shared by the whole run: other tests publish
        # tasks there that no worker takes (ids of their own database), and a
        # killed worker's unacknowledged task would come back an hour later.
        import redis

        self.celery.control.purge()
        client = redis.Redis.from_url(self.broker_url)
        try:
            client.delete("unacked", "unacked_index", "unacked_mutex")
        finally:
            client.close()

    # ---------------------------------------------------------------- workers

    def start_worker(self, name: str = "worker", *, concurrency: int = 1, beat: bool = False, ready: bool = True,
                     settings: dict[str, str] | None = None, queues: str | None = None,
                     loglevel: str = "INFO") -> Worker:
        """Start a worker (and beat) on this system's settings; it is stopped when the test ends.

        ``ready=False`` returns at once: the test prepares its data while the
        worker starts, then calls ``wait_ready()``.
        """
        number = len(self.workers) + 1
        worker = Worker(f"{name}{number}", {**self.env, **(settings or {})},
                        self.artifacts / f"{name}{number}.log", concurrency=concurrency, beat=beat, queues=queues,
                        loglevel=loglevel)
        self.workers.append(worker)
        worker.start()
        return worker.wait_ready() if ready else worker

    def send(self, task_name: str, *args) -> None:
        """Publish a task as the web and beat do."""
        self.celery.send_task(task_name, args=list(args))

    # ---------------------------------------------------------------- reading

    def release(self) -> None:
        """End this process's open transaction: on SQLite it holds the write lock."""
        from tracker.extensions import db

        db.session.rollback()

    def rows(self, statement) -> list:
        """Run a SELECT on the reader engine (no lock, fresh data)."""
        with self.reader.connect() as conn:
            return list(conn.execute(statement))

    def count(self, table, *where) -> int:
        table = getattr(table, "__table__", table)
        with self.reader.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()

    def wait_until(self, what: str, check: Callable[[], object], *, timeout: float, interval: float = 0.1):
        """``wait_until`` after releasing this process's transaction; on failure show the workers' logs."""
        self.release()
        return wait_until(what, check, timeout=timeout, interval=interval,
                          details=lambda: "\n".join(w.tail() for w in self.workers))

    def figure(self, name: str, value: str) -> None:
        """Print a measured figure and keep it in the test's artifacts (figures.txt)."""
        line = f"{name}: {value}"
        print(line)
        self.figures.append(line)

    def close(self) -> None:
        from tracker.extensions import db
        from tracker.services.sla.clocks import forget_calendars

        try:
            for worker in self.workers:
                worker.stop()
        finally:
            try:
                if self._context is not None:
                    db.session.remove()
                    db.engine.dispose()  # PostgreSQL: the database is dropped at the next run
            finally:
                if self._context is not None:
                    self._context.pop()
                if self.reader is not None:
                    self.reader.dispose()
                forget_calendars()
                if self.figures:
                    (self.artifacts / "figures.txt").write_text("\n".join(self.figures) + "\n")


# ---------------------------------------------------------------- far ends


class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd, in a thread) that keeps what it receives."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        entry = {
            "message_id": str(message["Message-ID"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "key": str(message["X-Tracker-Notification"]),
            "rcpt_tos": list(envelope.rcpt_tos),
            "at": time.time(),
        }
        with self._lock:
            self.messages.append(entry)
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self, key: str | None = None, *, prefix: str = "") -> list[dict]:
        """Return the messages whose X-Tracker-Notification is ``key``, or starts with ``prefix``."""
        with self._lock:
            return [m for m in self.messages if (m["key"] == key if key is not None else m["key"].startswith(prefix))]


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (in a thread) that keeps every POST; answers 500 to the first ``fail_first``.

    With ``delay_seconds`` it keeps each POST at once and answers that much later (a slow robot).
    """

    def __init__(self, *, fail_first: int = 0, delay_seconds: float = 0):
        self.fail_first = fail_first
        self.delay_seconds = delay_seconds
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's hook name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append({
                        "path": self.path,
                        # urllib sends "Idempotency-key": compare names in lower case.
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                        "raw": raw,
                        "status": status,
                        "at": time.time(),
                    })
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                answer = b'{"ok": false}' if status == 500 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # the requests are kept and written as JSON lines
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def received(self, key: str | None = None) -> list[dict]:
        """Return the requests (with this Idempotency-Key when given)."""
        with self._lock:
            return [r for r in self.requests if key is None or r["headers"].get("idempotency-key") == key]


def redis_server_binary() -> str:
    """Return the redis-server program; fail on CI, skip elsewhere, when it is not installed."""
    path = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)
    if path is None:
        message = "this test starts and stops a private redis-server, which is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class RedisServer:
    """A private ``redis-server`` on a free local port, without persistence, that a test stops and starts."""

    def __init__(self, program: str, folder: Path, log_path: Path):
        self.program = program
        self.folder = folder
        self.log_path = log_path
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, *, timeout: float = 15) -> None:
        import redis

        self.folder.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = open(self.log_path, "a")  # closed in close()
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.process.returncode}:\n{_tail(self.log_path)}")
            try:
                return client.ping()
            except redis.RedisError:
                return False

        try:
            wait_until(f"redis-server on port {self.port}", answers, timeout=timeout)
        finally:
            client.close()

    def stop(self, *, timeout: float = 10) -> None:
        """Shut Redis down (SIGTERM; SIGKILL if it lingers). Without persistence its data is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


POSTGRES_PROGRAMS = "/usr/lib/postgresql/*/bin"


def postgres_programs() -> Path:
    """Return the folder of initdb and pg_ctl (the newest installed); fail on CI, skip elsewhere, without them."""
    import glob

    found = sorted((Path(p) for p in glob.glob(POSTGRES_PROGRAMS) if (Path(p) / "initdb").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        message = f"this test starts a private PostgreSQL cluster and found no initdb in {POSTGRES_PROGRAMS}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found[-1]


class PostgresServer:
    """A private PostgreSQL cluster on a free local port that a test stops and starts.

    Never the machine's shared server: others test against it. initdb
    refuses root, so as root (CI) the cluster belongs to the ``postgres``
    user (runuser). No fsync: the cluster is thrown away. A failure to
    start fails the test (on CI as anywhere: the programs are there).
    """

    def __init__(self, programs: Path, log_path: Path):
        import tempfile

        self.programs = programs
        self.log_path = log_path
        self.port = free_port()
        # Not under pytest's tmp_path: the postgres user cannot enter root's folders.
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/tracker"
        self.is_running = False

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.programs / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}"
                                 f"{result.stderr}\n{_tail(self.folder / 'postgres.log')}")

    def init(self) -> None:
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-o", options,
                  "-w", "-t", "30", "start")
        self.is_running = True

    def stop(self) -> None:
        """Stop the cluster (fast: open sessions are ended, as in a restart)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        self.is_running = False

    def close(self) -> None:
        try:
            if self.is_running:
                self.stop()
        finally:
            if (self.folder / "postgres.log").exists():
                shutil.copyfile(self.folder / "postgres.log", self.log_path)
            shutil.rmtree(self.folder, ignore_errors=True)


class LogRecords(logging.Handler):
    """Keep the records of one logger, from ``attach()`` to ``detach()``.

    pytest's ``caplog`` listens on the root logger, whose handlers alembic's
    logging configuration replaces when a system migrates its database.
    """

    def __init__(self, name: str, level: int = logging.DEBUG):
        super().__init__(level)
        self.logger = logging.getLogger(name)
        self.records: list[logging.LogRecord] = []
        self._level = level

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def attach(self) -> LogRecords:
        self._previous = self.logger.level
        self.logger.setLevel(min(self._level, self.logger.getEffectiveLevel()))
        self.logger.addHandler(self)
        return self

    def detach(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._previous)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


# ---------------------------------------------------------------- data


def copy_tickets(template_id: int, copies: int, *, chunk: int = 500) -> list[int]:
    """Insert ``copies`` copies of a ticket with its events and SLA rows; commit; return their ids.

    For tests that need thousands of due clocks: filing through the services
    takes some 25 ms a ticket. Each copy is the filed ticket's rows with a
    reference of its own, so the sweep sees what it would see for real.
    """
    from tracker.extensions import db
    from tracker.models import Ticket, TicketEvent, TicketSla

    tickets, events, slas = Ticket.__table__, TicketEvent.__table__, TicketSla.__table__
    ticket = dict(db.session.execute(sa.select(tickets).where(tickets.c.id == template_id)).mappings().one())
    its_events = [dict(r) for r in db.session.execute(
        sa.select(events).where(events.c.ticket_id == template_id)).mappings()]
    its_slas = [dict(r) for r in db.session.execute(
        sa.select(slas).where(slas.c.ticket_id == template_id)).mappings()]
    for row in (ticket, *its_events, *its_slas):
        del row["id"]
    ids: list[int] = []
    for start in range(0, copies, chunk):
        rows = [ticket | {"reference": f"{ticket['reference']}-{n:05d}"} for n in range(start, min(copies, start + chunk))]
        new_ids = list(db.session.execute(
            sa.insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True), rows).scalars())
        if its_events:
            db.session.execute(sa.insert(events), [e | {"ticket_id": i} for i in new_ids for e in its_events])
        if its_slas:
            db.session.execute(sa.insert(slas), [s | {"ticket_id": i} for i in new_ids for s in its_slas])
        db.session.commit()
        ids.extend(new_ids)
    return ids


def _write_jsonl(path: Path, entries: list[dict]) -> None:
    with open(path, "w") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def artifacts(request) -> Path:
    """The test's folder under test-artifacts/workers/, emptied."""
    folder = ARTIFACTS / folder_name(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def smtp_sink(artifacts):
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
        _write_jsonl(artifacts / "mails.jsonl", sink.messages)


@pytest.fixture
def webhook_receiver(artifacts):
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        _write_jsonl(artifacts / "webhooks.jsonl",
                     [r | {"raw": r["raw"].decode(errors="replace")} for r in receiver.requests])


@pytest.fixture
def private_redis(tmp_path, artifacts):
    """A redis-server of the test's own; fails on CI and skips elsewhere without the program."""
    server = RedisServer(redis_server_binary(), tmp_path / "redis", artifacts / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_system(tmp_path, artifacts, smtp_sink):
    """Return a factory of Systems (mail to ``smtp_sink``); its app context stays active for the test."""
    made: list[System] = []

    def make(*, broker_url: str | None = TEST_BROKER_URL, settings: dict[str, str] | None = None,
             database_url: str | None = None) -> System:
        assert not made, "one system per test: each pushes its app context"
        system = System(tmp_path / "system", artifacts, broker_url=broker_url, mail_port=smtp_sink.port,
                        settings=settings, database_url=database_url)
        made.append(system)  # closed even when opening fails half-way
        system.open()
        return system

    yield make
    for system in made:
        system.close()
