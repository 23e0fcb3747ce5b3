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
# Where tests keep screenshots, logs and measured figures. .ci/run gives its
# two halves, which run at once, a folder each.
ARTIFACTS_ROOT = Path(os.environ.get("TEST_ARTIFACTS") or ROOT / "test-artifacts")
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
    # What the walk over every page (test_every_page_fits.py) puts in its addresses: name -> id or token.
    ids: dict[str, int | str] = field(default_factory=dict)
    # The app's routes: [endpoint, rule, [methods]], read from app.url_map.
    routes: list = field(default_factory=list)


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
        # The wall display polls every 2 s here, not every 30 s: its browser test waits for a refresh.
        TRACKER_DISPLAY_REFRESH_SECONDS="2",
        TRACKER_DISPLAY_CACHE_SECONDS="1",
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
    from tracker.services.insight import stats

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
            # Paid repairs (test_materials_journey.py): a private flat, and a job there on site per language.
            flat = Location(kind="room", code="main-b3-302", name_en="Room 302 (staff flat)", name_zh="302室（教工住房）",
                            parent_id=world.locations["building"].id, is_chargeable=True)
            db.session.add(flat)
            db.session.commit()
            paid = {
                f"paid_{language}": make_ticket(
                    world, status=Status.IN_PROGRESS, location_id=flat.id,
                    description=f"The kitchen tap in the flat drips ({language}).",
                ).reference
                for language in ("en", "zh")
            }
            ids = _wide_rows(world, machine)
            # No worker runs beside the server yet: bring the dashboards' summary up to date.
            stats.refresh_all()
            return Seeded(
                password=world.password,
                usernames={key: user.username for key, user in world.users.items()},
                tickets={"assigned": assigned.reference, "on_site": on_site.reference, **paid},
                places={"machine": machine.id, "building": world.locations["building"].id},
                ids=ids,
                routes=[[rule.endpoint, rule.rule, sorted(rule.methods or ())] for rule in app.url_map.iter_rules()],
            )
        finally:
            db.session.remove()
            db.engine.dispose()


# Long words make pages wide: a long address, a long name, a long token name.
LONG_URL = "https://hooks.example.org/robot/send?access_token=" + "0123456789abcdef" * 6
LONG_NAME = "Facilities-management-integration-service-account-for-the-north-campus"


def _wide_rows(world, machine) -> dict:
    """Add a row to every list page, with long words, and return the ids the walk's addresses need.

    Escalations and notices (a sweep over the breached requests), API tokens
    for every user, a webhook, a rating link and a follow-up, a rectification
    item, a survey import, a photo, a replay with a shared link, a draft, a
    benchmark and its link, an import run and the weekly report of T0's week.
    """
    import io
    from datetime import date, timedelta

    from sqlalchemy import select
    from werkzeug.datastructures import FileStorage

    from tests.factories import T0, make_ticket, make_user
    from tests.integration.test_attachments import jpeg
    from tracker.clock import utcnow
    from tracker.domain.roles import Role
    from tracker.domain.workflow import Status
    from tracker.extensions import db
    from tracker.models import Calendar, Escalation, Location, Notification
    from tracker.services.admin import api_tokens
    from tracker.services.insight import weekly
    from tracker.services.ledger import feedback, feedback_links, follow_ups, rectification, surveys
    from tracker.services.notify import webhooks
    from tracker.services.requests import attachments, importer
    from tracker.services.sla import sweep as sla_sweep
    from tracker.services.sla.standards import benchmarks, drafts, saved

    ids: dict = {}
    # Long names: a place (in every "Where?" choice and the QR sheet) and a user (lists, forms, header).
    place = Location(kind="room", code="main-b3-201", parent_id=world.locations["building"].id,
                     name_en="Lecture hall 201, east wing, second floor (large, with the movable seating)",
                     name_zh="201 阶梯教室（东翼二楼，大教室，活动座椅）")
    db.session.add(place)
    db.session.commit()
    service = make_user("facilities-integration-service-account-north-campus", [(Role.REQUESTER, None)],
                        display_name="Facilities management integration service account (north campus)")
    # A centre head who also files requests, as in the demo: the most header links of anyone.
    world.users["busy_head"] = make_user("busy-head", [(Role.CENTRE_HEAD, world.centres["repairs"].id),
                                                      (Role.REQUESTER, None)], display_name="Wu Jianguo")
    # In January, before the other tests' requests (March 2026): their figures and histories stay as they were.
    january = T0 - timedelta(days=60)
    late = make_ticket(world, status=Status.ASSIGNED, now=january,
                       description=f"The card reader of the canteen refuses every card. Log: {LONG_URL}")
    for hours in (1, 4, 30, 80):  # at risk, breached, then each level up
        sla_sweep.sweep_due(january + timedelta(hours=hours))
    ids["escalation_id"] = db.session.execute(select(Escalation.id).order_by(Escalation.id)).scalars().first()
    ids["notification_id"] = db.session.execute(select(Notification.id).order_by(Notification.id)).scalars().first()
    for user in world.users.values():
        scopes = sorted({role.role.value for role in user.roles})
        api_tokens.create_token(user, name=LONG_NAME, scopes=scopes, now=T0)
    ids["webhook_id"] = webhooks.create_webhook(name="Duty group of the repair centre", url=LONG_URL,
                                                format="generic", kinds=["sla_breached"], actor=None, now=T0).id
    # The follow-up is recorded: none stays open.
    resolved = make_ticket(world, status=Status.RESOLVED, now=january, description=f"The tap drips. See {LONG_URL}")
    ids["feedback_token"] = feedback_links.link_token(resolved.id, resolved.requester_id, issued_at=utcnow())
    rated = make_ticket(world, status=Status.RESOLVED, now=january)
    feedback.give(rated.id, rating=1, comment="Still dripping.", actor=world.users["requester"],
                  now=january + timedelta(hours=2))
    follow_ups.record(follow_ups.for_ticket(rated.id)[0].id, actor=world.users["centre_head"],
                      now=january + timedelta(hours=3), result="reached", outcome=f"Called back. {LONG_URL}")
    item = rectification.create_item(
        rectification.NewItem(centre_id=world.centres["repairs"].id, title="Broken vending machines",
                              description=f"Raised at the spring inspection: {LONG_URL}",
                              responsible_id=world.users["centre_head"].id, due_on=date(2026, 6, 30)),
        actor=world.users["centre_head"], now=T0 + timedelta(hours=1))
    ids["item_reference"] = item.reference
    data = b"Centre,Score,Comment\nrepairs,2,The lift in building 3 stops between floors.\n"
    upload = surveys.upload(io.BytesIO(data), "survey.csv", "Spring survey", actor=world.users["centre_head"],
                            now=T0)
    surveys.start_run(upload.id, columns={"centre": "Centre", "score": "Score", "comment": "Comment"},
                      settings={}, dry_run=False, actor=world.users["centre_head"], now=T0, inline=True)
    ids["survey_import_id"] = upload.id
    ids["survey_response_id"] = db.session.execute(
        surveys.filtered(world.users["leadership"], surveys.Filters())).scalars().first().id
    photo = FileStorage(io.BytesIO(jpeg(size=(64, 64))), filename=f"{LONG_NAME}.jpg")
    ids["attachment_id"] = attachments.save_upload(photo, owner_type="ticket", owner_id=late.id,
                                                   actor=world.users["requester"], now=T0).id
    replay = saved.start_replay(name="Spring replay", first=date(2026, 3, 2), last=date(2026, 3, 2),
                                centre_id=world.centres["repairs"].id, draft=None, actor=None, now=T0)
    replay.share_token = "walk-shared-link"
    db.session.commit()
    ids["replay_id"], ids["replay_token"] = replay.id, replay.share_token
    ids["draft_id"] = drafts.create_draft(world.policies["repairs"].id, actor=None, now=T0).id
    benchmark = benchmarks.create({"source": LONG_NAME, "year": 2026, "service": "repairs", "target": "response",
                                   "limit": "2 h"}, actor=None, now=T0)
    benchmarks.link(world.policies["repairs"].id, "response", benchmark.id, actor=None, now=T0)
    importer.ensure_builtin_mappings(now=T0)
    mapping = importer.mapping_by_code("boston-311")
    ids["mapping_id"] = mapping.id
    from flask import current_app

    source = Path(current_app.config["INSTANCE_PATH"]) / "cases.csv"
    source.write_text("id,opened\n1,2026-01-05 09:00\n")
    ids["run_id"] = importer.create_run(mapping=mapping, files=[{"name": "cases.csv", "path": str(source)}],
                                        dry_run=True, actor=None, now=T0).id
    from tracker.services.materials import catalogue

    material = catalogue.create_material(
        world.centres["repairs"].id,
        catalogue.MaterialInput(code="PPR-pipe-20mm-cold-water-north-campus", name_en=LONG_NAME,
                                name_zh="PPR冷水管20毫米（北校区供水改造专用）", unit="m", unit_cost="12.50",
                                low_stock_threshold="5"),
        actor=world.users["centre_head"], now=T0,
    )
    catalogue.stock_in(material.id, "3", actor=world.users["centre_head"], now=T0, note=LONG_URL)
    ids["material_id"] = material.id
    # A contractor with a long name and one technician working for it (not the journeys' technician,
    # and no follow-up rule: the other browser tests' scorecards and weekly sample stay as they were).
    from tracker.services.insight.scorecards import contractors

    contractor = contractors.create(code="huaxin-facility-services", now=T0,
                                    name_en="Huaxin Facility and Property Management Services Company Limited",
                                    name_zh="华信物业设施管理服务有限公司")
    contractors.assign(world.users["other_technician"].id, contractor.id, now=T0)
    ids["week"] = "2026-02-23"
    from tracker.services.insight import display

    ids["display_secret"] = display.create_link(name="Logistics office, second floor, by the lifts", centre_id=None,
                                                actor=None, now=T0)[1]
    weekly.generate(date(2026, 2, 23), actor=None, now=T0)
    ids["calendar_id"] = db.session.execute(select(Calendar.id).where(Calendar.code == "office")).scalar_one()
    ids.update(
        reference=late.reference, user_id=service.id, centre_id=world.centres["repairs"].id,
        centre_code="repairs", category_id=world.categories["water"].id, location_id=machine.id,
        building_id=world.locations["building"].id, policy_id=world.policies["repairs"].id,
    )
    return ids


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """gunicorn serving ``wsgi:app`` on a free local port, its output in ``log_path``."""

    def __init__(
        self, *, database_url: str, instance_path: Path, log_path: Path, broker_url: str | None = None,
        workers: int = 2, app: str = "wsgi:app", extra_env: dict | None = None,
    ):
        self.workers = workers
        self.app = app  # tests.browser.clocked:app: the same app at another time (a journey at night)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = server_environment(database_url, instance_path, broker_url) | (extra_env or {})
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
                self.app,
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
