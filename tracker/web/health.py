"""Liveness and readiness for the proxy and monitoring: JSON, no login.

``/healthz`` says the process answers (it touches nothing). ``/readyz``
says whether it can do its work: the database answers ``SELECT 1``, its
schema is at the migrations' head, and the broker accepts a connection;
503 with the failing check otherwise. With sign-on switched on it also
shows whether each provider answers (docs/logins.md), without counting it. Errors are named by class only: the
answer is public.
"""

from functools import cache

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from tracker.extensions import db

bp = Blueprint("health", __name__)

BROKER_TIMEOUT_SECONDS = 3


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    checks = {"database": _database(), "broker": _broker()}
    if checks["database"]["ok"]:
        checks["migrations"] = _migrations()
    ready = all(check["ok"] for check in checks.values())
    signon = current_app.extensions.get("signon")
    if signon is not None and signon.enabled:
        from tracker.services.signon.checks import check

        # Shown, not counted: a campus sign-on that is down must not take every
        # instance out of the load balancer (local passwords still work).
        checks["signon"] = check(signon)
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def _failed(error: Exception) -> dict:
    return {"ok": False, "error": type(error).__name__}


def _database() -> dict:
    # A connection of its own: the request's session is left alone.
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        return _failed(error)
    return {"ok": True}


def _migrations() -> dict:
    """Compare the database's alembic_version with the heads of the code's migrations."""
    from alembic.runtime.migration import MigrationContext

    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.SQLAlchemyError as error:
        return _failed(error)
    expected = _code_heads(current_app.extensions["migrate"].directory)
    return {"ok": current == expected, "database": sorted(current), "code": sorted(expected)}


@cache
def _code_heads(directory: str) -> frozenset[str]:
    """Return the migrations' heads; read once per process (the code does not change under it)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(directory).get_heads())


def _broker() -> dict:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001  kombu raises the transport's own errors
        return _failed(error)
    return {"ok": True}
