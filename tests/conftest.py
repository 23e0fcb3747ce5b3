"""Fixtures shared by the integration and browser tests.

The database is real: SQLite in a temporary folder by default, PostgreSQL
when TEST_DATABASE_URL is set (CI sets it; an unreachable server fails the
run, it is never skipped). The schema comes from the migrations.
"""

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests.servers.fixtures import cas, ldap_directory, openid  # noqa: F401  the sign-on servers

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL")


def _fresh_postgres(url: str) -> str:
    """Drop and create the test database named in ``url``; return the url."""
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": target.database},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {error}", returncode=3)
    finally:
        admin.dispose()
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DATABASE_URL:
        return _fresh_postgres(TEST_DATABASE_URL)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app_config(database_url, instance_path) -> dict:
    from tracker.config import filesystem_broker_options

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": "test-secret",
        "CELERY_BEAT_SCHEDULE_FILE": str(instance_path / "celerybeat-schedule"),
        "TRACKER_TIMEZONE": "Asia/Shanghai",
        # Real hashing, few rounds: a test world has a dozen users.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "ATTACHMENTS_DIR": str(instance_path / "attachments"),
        # Rate limits and the login throttle are off but in their own tests
        # (tests/integration/test_rate_limits.py, test_logins.py).
        "API_RATE_LIMIT": "off",
        "LOGIN_ADDRESS_LIMIT": "off",
        "LOGIN_USER_BACKOFF_SECONDS": 0,
        # Every sweep looks for the fixed wait: tests sweep at chosen instants
        # (the throttle has its own test in tests/integration/test_feedback.py).
        "AUTO_CLOSE_SCAN_SECONDS": 0,
        # The wall display counts its figures on every request (its sharing has its own test, test_display.py).
        "DISPLAY_CACHE_SECONDS": 0,
    }
    if TEST_BROKER_URL:
        config.update(CELERY_BROKER_URL=TEST_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS={})
    else:
        config.update(
            CELERY_BROKER_URL="filesystem://",
            CELERY_BROKER_TRANSPORT_OPTIONS=filesystem_broker_options(instance_path),
        )
    return config


@pytest.fixture(scope="session")
def app(app_config):
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.extensions import db as database

    application = create_app(app_config)
    with application.app_context():
        upgrade(revision="heads")
    yield application
    with application.app_context():
        database.engine.dispose()  # pooled connections would warn at exit


def _clear(database) -> None:
    from tracker.extensions import db as database_ext
    from tracker.services.sla.clocks import forget_calendars

    forget_calendars()  # ids are reused once the tables are emptied
    database_ext.session.remove()
    tables = list(reversed(database_ext.metadata.sorted_tables))
    with database_ext.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            _clear_postgres(conn, tables)
        else:
            # Policies and calendars point at their current versions and back:
            # check the keys once everything is gone.
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for table in tables:
                conn.execute(table.delete())


_CAN_SKIP_KEYS: list[bool] = []


def _clear_postgres(conn, tables) -> None:
    """Empty every table and restart every sequence, in one round trip.

    TRUNCATE of the ~45 tables cost 0.3 s to 2.4 s a test (it makes new
    files for each table; more on a busy disk), against 35 ms for DELETE
    on a test's few rows: the PostgreSQL half of CI took twice the SQLite
    half. DELETE in any order needs the foreign-key triggers off, which
    ``session_replication_role`` does for a superuser (CI's postgres);
    another user gets the TRUNCATE.
    """
    deletes = "; ".join(f'DELETE FROM "{t.name}"' for t in tables)
    if not _CAN_SKIP_KEYS:
        with conn.begin_nested():
            try:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                _CAN_SKIP_KEYS.append(True)
            except sa.exc.ProgrammingError:
                _CAN_SKIP_KEYS.append(False)
    if not _CAN_SKIP_KEYS[0]:
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    restarts = "; ".join(f"SELECT setval('{name}', 1, false)" for name in _sequence_names(conn))
    conn.exec_driver_sql(f"SET LOCAL session_replication_role = replica; {deletes}; {restarts}")


def _sequence_names(conn) -> list[str]:
    """Return PostgreSQL's sequences, quoted, as ``setval`` takes them."""
    return conn.exec_driver_sql(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences"
    ).scalars().all()


@pytest.fixture
def db(app):
    """The database, empty at the start of the test; an app context is active."""
    from tracker.extensions import db as database

    with app.app_context():
        _clear(database)
        yield database
        database.session.remove()


class IsolatedClient(FlaskClient):
    """A browser whose every request runs in an app context of its own.

    The ``db`` fixture keeps one app context open for the whole test, and a
    request reuses an active context: ``g`` (Flask-Login's cached user,
    Flask-WTF's token) and the database session would then leak from one
    request, or one client, to the next. Production gives each request a
    fresh context; so does this client. It reads English: the messages
    asserted in tests are the msgids.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def open(self, *args, **kwargs):
        from tracker.extensions import db as database

        # End the test's own transaction first: on SQLite every transaction
        # takes the write lock (BEGIN IMMEDIATE), which would block the request.
        database.session.rollback()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app, db):
    return IsolatedClient(app, app.response_class, use_cookies=True)


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client) -> str:
    """Return a CSRF token valid for ``client``'s session, read from a real page."""
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the login page"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST a form the way a browser does: with the page's CSRF token."""
    payload = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(url, data=payload, **kwargs)


# The rows the first ``world`` of the run wrote, per database: later tests get the same rows back.
_WORLD_ROWS: dict[str, tuple[list, list]] = {}


@pytest.fixture
def world(db):
    """A small campus: two centres, places, and a user for every role.

    The first test of the run builds it through the services
    (``build_world``); its rows, ids and sequences are kept, and every later
    test gets exactly those rows back in one transaction instead of building
    them again (about 30 ms of CPU a test, most of it the ten users and the
    default SLA policies' calendars; README, "Tests").
    """
    from tests.factories import build_world, world_of

    key = db.engine.url.render_as_string(hide_password=False)
    if _CAN_SKIP_KEYS[:1] == [False] or not _is_empty(db):
        # Not a superuser on PostgreSQL (the keys can't wait), or another fixture wrote first (its rows
        # would clash with the kept ids): built as usual.
        return build_world()
    if key not in _WORLD_ROWS:
        built = build_world()
        _WORLD_ROWS[key] = _rows_of(db)
        return built
    _put_back(db, *_WORLD_ROWS[key])
    return world_of()


def _is_empty(database) -> bool:
    probe = " OR ".join(f'EXISTS (SELECT 1 FROM "{table.name}")' for table in database.metadata.sorted_tables)
    found = database.session.execute(sa.text(f"SELECT {probe}")).scalar()
    database.session.remove()  # on SQLite the read took the write lock
    return not found


def _rows_of(database) -> tuple[list, list]:
    """Return every table's rows (in the order their keys allow) and PostgreSQL's sequences as they are."""
    with database.engine.connect() as conn:
        tables = [(table, [dict(row) for row in conn.execute(table.select()).mappings()])
                  for table in database.metadata.sorted_tables]
        sequences = []
        if conn.dialect.name == "postgresql":
            for name in _sequence_names(conn):
                value, called = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {name}").one()
                sequences.append((name, value, called))
    return [(table, rows) for table, rows in tables if rows], sequences


def _put_back(database, tables: list, sequences: list) -> None:
    database.session.remove()
    with database.engine.begin() as conn:
        # Calendars and policies point at their current versions and back: check the keys at the end
        # (SQLite), or not at all for rows that were checked when the services wrote them (PostgreSQL).
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for table, rows in tables:
            conn.execute(table.insert(), rows)
        for name, value, called in sequences:
            conn.exec_driver_sql(f"SELECT setval('{name}', {int(value)}, {'true' if called else 'false'})")


@pytest.fixture
def login_as(client, world):
    """Log the test client in as one of ``world``'s users, by role name or user."""

    def login(who):
        user = world.users[who] if isinstance(who, str) else who
        response = post_form(
            client, "/login", {"username": user.username, "password": world.password}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return login


@pytest.fixture
def make_ticket(world):
    from tests.factories import make_ticket as factory

    def make(**overrides):
        return factory(world, **overrides)

    return make


def compile_translations() -> None:
    """Compile the catalogues whose .mo is missing or stale, as desk.py does (the .mo are not in git).

    Done before any app starts, so the test apps and gunicorn of the
    browser tests read the current translations however pytest was run.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parents[1] / "tracker" / "translations"
    for po in folder.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parts[-3])
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as target:
            write_mo(target, catalogue)
        partial.replace(mo)  # atomic: a server starting meanwhile reads the old or the new file


def pytest_sessionstart(session):
    """Compile the translations; fail at once, never skip, when a configured test service is unreachable."""
    compile_translations()
    if TEST_BROKER_URL and TEST_BROKER_URL.startswith("redis"):
        import redis

        try:
            redis.Redis.from_url(TEST_BROKER_URL, socket_connect_timeout=5).ping()
        except redis.RedisError as error:
            pytest.exit(f"TEST_BROKER_URL is set but Redis is unreachable: {error}", returncode=3)
