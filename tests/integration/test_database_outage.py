"""The database away: the app's own 503 page in the reader's language, and readiness.

An app bound to a PostgreSQL port where nothing listens shows what every
request meets while the database is down, on either test database.
"""

import pytest
import sqlalchemy as sa

from tests.browser.server import free_port
from tests.conftest import CSRF_RE

UNAVAILABLE_EN = "Unavailable for a moment"


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

