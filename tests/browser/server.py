"""A live system for the browser tests: a database of its own and gunicorn.

Separate from the integration tests' database, which their ``db`` fixture
empties before every test: a fresh SQLite file in a temporary instance
folder, or a PostgreSQL database named after TEST_DATABASE_URL's with
``_browser`` appended, dropped and created anew.
"""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"

# Real hashing, few rounds, as in the integration tests. The method is stored
# in each hash, so gunicorn (scrypt by default) still verifies these.
PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
# The child that prepares the database prints its Seeded as JSON after this.
_SEEDED = "SEEDED "


def browser_database_url(test_database_url: str | None, instance_path: Path) -> str:
    """Return the browser tests' database URL: beside TEST_DATABASE_URL's, or SQLite."""
    if not test_database_url:
        return f"sqlite:///{instance_path / 'browser.db'}"
    url = sa.make_url(test_database_url)
    return url.set(database=f"{url.database}_browser").render_as_string(hide_password=False)


@dataclass
class Seeded:
    """What the database holds when the server starts: the world and a few tickets."""

    password: str
    usernames: dict[str, str]
    tickets: dict[str, str] = field(default_factory=dict)  # purpose -> reference
    places: dict[str, int] = field(default_factory=dict)  # purpose -> location id


def server_environment(database_url: str, instance_path: Path, broker_url: str | None = None) -> dict:
    """Return the environment of the app's processes: settings from here, not the caller's shell."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRACKER_", "DATABASE_", "CELERY_", "SECRET_KEY"))
    }
    env.update(
        TRACKER_INSTANCE_PATH=str(instance_path),
        DATABASE_URL=database_url,
        SECRET_KEY="test",
        PYTHONUNBUFFERED="1",
    )
    if not database_url.startswith("sqlite"):
        env["TRACKER_ENV"] = "development"  # a server database would mean production
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def prepare_database(url: str, instance_path: Path, log_path: Path) -> Seeded:
    """Migrate the empty database at ``url`` to head and fill it, in a process of its own.

    A child process keeps the app, its engine and the services' per-process
    caches (ids of this database) out of the test process, where the
    integration tests build their own app on another database.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "tests.browser.server", url, str(instance_path)],
            cwd=ROOT,
            env=server_environment(url, instance_path),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=120,
            check=False,
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith(_SEEDED)]
    if result.returncode != 0 or not lines:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"preparing the browser tests' database failed ({result.returncode}):\n{tail}")
    return Seeded(**json.loads(lines[-1][len(_SEEDED) :]))


def _seed(url: str, instance_path: Path) -> Seeded:
    from flask_migrate import upgrade

    from tests.factories import build_world, make_ticket
    from tracker import create_app
    from tracker.domain.workflow import Status
    from tracker.extensions import db
    from tracker.models import Location
    from tracker.services import stats

    # The rest comes from server_environment(), as for gunicorn.
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance_path),
            "TRACKER_TIMEZONE": "Asia/Shanghai",
            "PASSWORD_HASH_METHOD": PASSWORD_HASH_METHOD,
        }
    )
    with app.app_context():
        try:
            upgrade(revision="heads")
            world = build_world()
            # A self-service machine whose QR code names its centre and category.
            machine = Location(
                kind="machine", code="main-b3-wm1", name_en="Washing machine 1", name_zh="洗衣机 1号",
                parent_id=world.locations["building"].id, centre_id=world.centres["repairs"].id,
                category_id=world.categories["water"].id,
            )
            db.session.add(machine)
            db.session.commit()
            assigned = make_ticket(
                world,
                status=Status.ASSIGNED,
                description="The ceiling light in room 301 flickers and buzzes.",
            )
            on_site = make_ticket(
                world,
                status=Status.IN_PROGRESS,
                description="The radiator valve in room 301 leaks onto the floor.",
            )
            # No worker runs beside the server yet: bring the dashboards' summary up to date.
            stats.refresh_all()
            return Seeded(
                password=world.password,
                usernames={key: user.username for key, user in world.users.items()},
                tickets={"assigned": assigned.reference, "on_site": on_site.reference},
                places={"machine": machine.id, "building": world.locations["building"].id},
            )
        finally:
            db.session.remove()
            db.engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """gunicorn serving ``wsgi:app`` on a free local port, its output in ``log_path``."""

    def __init__(
        self, *, database_url: str, instance_path: Path, log_path: Path, broker_url: str | None = None,
        workers: int = 2,
    ):
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = server_environment(database_url, instance_path, broker_url)
        env["TRACKER_BASE_URL"] = self.url
        self.env = env
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 30) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10) -> None:
        """Terminate gunicorn (graceful), kill it if it lingers, close the log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def check_login(self, username: str, password: str) -> None:
        """Log in through the real server with a plain HTTP client; raise if refused.

        Catches a world whose hashes or secret key the server cannot use
        before any browser starts, with a message that says so.
        """
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(f"{self.url}/login", timeout=10) as response:
            page = response.read().decode()
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        if not match:
            raise RuntimeError("the login page served by gunicorn has no CSRF token")
        form = urllib.parse.urlencode(
            {"csrf_token": match.group(1), "username": username, "password": password}
        ).encode()
        with opener.open(f"{self.url}/login", data=form, timeout=10) as response:
            landed = urllib.parse.urlsplit(response.geturl()).path
        if landed == "/login":
            raise RuntimeError(f"{username} cannot log in through gunicorn:\n{self.log_tail()}")


if __name__ == "__main__":
    # python -m tests.browser.server DATABASE_URL INSTANCE_PATH (prepare_database's child)
    seeded = _seed(sys.argv[1], Path(sys.argv[2]))
    print(_SEEDED + json.dumps(asdict(seeded)), flush=True)
