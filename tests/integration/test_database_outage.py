"""The database away: the app's own 503 page, readiness, and recovery without a restart.

An app bound to a PostgreSQL port where nothing listens shows what every
request meets while the database is down, on either test database. The
restart test runs a private PostgreSQL cluster (never the machine's shared
one), gunicorn and a real Celery worker on it, stops the cluster under them
and starts it again.
"""

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa

from tests.browser.server import LiveServer, free_port
from tests.conftest import CSRF_RE
from tests.integration import workers
from tests.integration.test_workers import quick_policy, world_with_mail
from tracker.domain.sla_clock import Target
from tracker.models import DeliveryStatus, EventKind, Notification, Ticket, TicketEvent

UNAVAILABLE_EN = "Unavailable for a moment"

artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink


@pytest.fixture
def unreachable_app(app, app_config):
    """An app whose database and broker are ports where nothing listens."""
    from tracker import create_app
    from tracker.extensions import db

    config = {**app_config,
              "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/tracker",
              "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0", "CELERY_BROKER_TRANSPORT_OPTIONS": {}}
    application = create_app(config)
    application.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a handler or the 500 page
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        app.extensions["celery"].set_current()  # the test run's app publishes tasks again


def test_pages_answer_503_with_the_apps_page_in_the_readers_language(unreachable_app):
    client = unreachable_app.test_client()
    # A logged-in reader whose browser reads Chinese: the login's user loader
    # fails first, and choosing the language would ask it again.
    with client.session_transaction() as session:
        session.update({"_user_id": "1.token", "_fresh": True})
    response = client.get("/tickets/mine", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "Internal Server Error" not in page
    assert UNAVAILABLE_EN not in page and "暂时" in page

    anonymous = unreachable_app.test_client()
    anonymous.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login = anonymous.get("/login")
    assert login.status_code == 200
    token = CSRF_RE.search(login.get_data(as_text=True)).group(1)
    response = anonymous.post("/login", data={"csrf_token": token, "username": "someone", "password": "x" * 12})
    assert response.status_code == 503 and UNAVAILABLE_EN in response.get_data(as_text=True)
    assert '<html lang="en">' in response.get_data(as_text=True)


def test_the_api_answers_503_as_json_while_the_database_is_down(unreachable_app):
    response = unreachable_app.test_client().get(
        "/api/v1/tickets", headers={"Authorization": "Bearer desk_abc", "Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.get_json()["error"]["code"] == "unavailable"


def test_liveness_answers_and_readiness_names_what_is_down(unreachable_app):
    client = unreachable_app.test_client()
    assert (client.get("/healthz").status_code, client.get("/healthz").get_json()) == (200, {"status": "ok"})
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    assert checks["broker"]["ok"] is False


def test_readiness_needs_the_schema_at_the_migrations_head(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready" and all(check["ok"] for check in body["checks"].values())
    [head] = body["checks"]["migrations"]["code"]
    version = sa.table("alembic_version", sa.column("version_num"))
    db.session.execute(sa.update(version).values(version_num="0013_late_by_open"))
    db.session.commit()
    try:
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.get_json()["checks"]["migrations"] == {
            "ok": False, "database": ["0013_late_by_open"], "code": [head]}
    finally:
        db.session.execute(sa.update(version).values(version_num=head))
        db.session.commit()


def test_an_unexpected_error_shows_the_apps_500_page(unreachable_app):
    @unreachable_app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    response = unreachable_app.test_client().get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on the server; nothing was changed." in page and '<html lang="en">' in page


# ---------------------------------------------------------------- a real restart


class Browser:
    """A plain HTTP client with cookies, reading English; answers are (status, headers, text)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Accept-Language": "en"})
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.headers, response.read().decode(), response.geturl()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode(), error.geturl()

    def post_form(self, path: str, data: dict, *, form_page: str):
        status, _headers, page, _url = self.request(form_page)
        assert status == 200, (form_page, status)
        return self.request(path, {"csrf_token": CSRF_RE.search(page).group(1), **data})


@pytest.mark.worker
def test_web_and_worker_carry_on_after_postgresql_restarts_under_them(private_postgres, make_system, smtp_sink,
                                                                       artifacts):
    system = make_system(database_url=private_postgres.url)
    worker = system.start_worker(beat=True, ready=False)
    world = world_with_mail()
    # Response within 1.2 seconds, round the clock: the worker's sweep flags the breach.
    quick_policy(world, "quick", {"response": ("always", 0.02)})
    username = world.users["requester"].username
    filing = {"category_id": world.categories["water"].id, "location_id": world.locations["room"].id,
              "description": "Water is leaking under the sink in room 301.", "priority": ""}
    system.release()  # no transaction of this process open across the restart
    web = LiveServer(database_url=private_postgres.url, instance_path=system.instance,
                     log_path=artifacts / "gunicorn.log", broker_url=system.broker_url, workers=1)
    web.start()
    try:
        worker.wait_ready()
        browser = Browser(web.url)
        status, _headers, _page, landed = browser.post_form("/login", {"username": username,
                                                                       "password": world.password},
                                                        form_page="/login")
        assert status == 200 and not landed.endswith("/login")
        new_form = "/tickets/new/repairs"
        _status, _headers, form_page, _url = browser.request(new_form)
        csrf = CSRF_RE.search(form_page).group(1)

        private_postgres.stop()
        status, headers, page, _url = browser.request("/tickets/mine")
        assert status == 503 and headers["Retry-After"] == "30", page[:300]
        assert UNAVAILABLE_EN in page and "Internal Server Error" not in page
        status, _headers, page, _url = browser.request(new_form, {"csrf_token": csrf, **filing})
        assert status == 503
        status, _headers, body, _url = browser.request("/readyz")
        assert status == 503 and json.loads(body)["checks"]["database"]["ok"] is False
        assert browser.request("/healthz")[0] == 200

        private_postgres.start()
        # Neither gunicorn nor the worker was restarted: both reconnect on their own.
        assert web.process.poll() is None and worker.is_running
        status, _headers, page, _url = browser.request("/tickets/mine")
        assert status == 200, page[:300]
        assert browser.request("/readyz")[0] == 200
        status, _headers, page, landed = browser.post_form(new_form, filing, form_page=new_form)
        assert status == 200 and re.search(r"/tickets/[A-Z]+-\d{4}-\d+$", landed), (status, landed, page[:300])
    finally:
        web.stop()

    [ticket_id] = [row.id for row in system.rows(sa.select(Ticket.__table__.c.id))]  # the outage filed nothing
    events = TicketEvent.__table__
    system.wait_until(
        "the worker's sweep flagging the new request's response breach, and every notice sent",
        lambda: system.count(events, events.c.ticket_id == ticket_id, events.c.kind == EventKind.SLA_BREACHED)
        and system.count(Notification, Notification.ticket_id == ticket_id) > 0
        and system.count(Notification, Notification.ticket_id == ticket_id,
                         Notification.status != DeliveryStatus.SENT) == 0,
        timeout=20,
    )
    [breach] = system.rows(sa.select(events.c.data).where(events.c.ticket_id == ticket_id,
                                                           events.c.kind == EventKind.SLA_BREACHED))
    assert breach.data["target"] == Target.RESPONSE
    assert smtp_sink.received(prefix=f"sla:{ticket_id}:response:")


@pytest.fixture
def private_postgres(tmp_path, artifacts):
    """A PostgreSQL cluster of the test's own; fails on CI and skips elsewhere when it cannot start."""
    server = workers.PostgresServer(workers.postgres_programs(), artifacts / "postgres.log")
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()



def test_a_postgresql_app_gives_up_on_a_new_connection_after_a_few_seconds(unreachable_app, app):
    """A host that stops answering (no refusal) must not hold /readyz until gunicorn kills the worker."""
    from tracker.extensions import db

    assert unreachable_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["connect_timeout"] == 5
    assert unreachable_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # What libpq really received, on the test run's own PostgreSQL.
        with app.app_context(), db.engine.connect() as connection:
            assert "connect_timeout=5" in connection.connection.dbapi_connection.info.dsn
