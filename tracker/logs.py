"""Logs: a request id for every request; one JSON object a line in production.

Every request gets an id: the caller's ``X-Request-ID`` when it is a
sensible token (a proxy's or a client's), else a new one; it is returned
in the same header. With LOG_FORMAT ``json`` (production's default) the
root logger writes one JSON object a line to stderr, with the time, level,
logger, message, and the request id, user id and ticket reference where
they are known (in a worker: the task's name and id instead). With
``text`` (the embedded default) logging is left as Python, gunicorn and
Celery set it up.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few separators, at most 128: a proxy's UUID or trace
# id passes; anything else (spaces, control characters, JSON) is replaced.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

request_log = logging.getLogger("tracker.request")


class ContextFilter(logging.Filter):
    """Add request_id, user_id, ticket, task_name and task_id to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = record.user_id = record.ticket = None
        record.task_name = record.task_id = None
        try:
            _from_request(record)
            _from_task(record)
        except Exception:  # noqa: BLE001  a log line must never fail for want of context
            pass
        return True


def _from_request(record: logging.LogRecord) -> None:
    from flask import g, has_request_context, request

    if not has_request_context():
        return
    record.request_id = g.get("request_id")
    record.ticket = g.get("log_ticket") or (request.view_args or {}).get("reference")
    # Only a user already loaded: loading one here would query from inside logging.
    user = g.get("api_user") or g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        record.user_id = user.id


def _from_task(record: logging.LogRecord) -> None:
    from celery import current_task

    task = current_task
    if task is not None and getattr(task, "request", None) is not None and task.request.id:
        record.task_name, record.task_id = task.name, task.request.id


class Formatter(JsonFormatter):
    """One JSON object a line: timestamp (UTC ISO 8601), level, logger, message, context."""

    CONTEXT = ("request_id", "user_id", "ticket", "task_name", "task_id")

    def __init__(self):
        super().__init__(timestamp=False, json_ensure_ascii=False)

    def add_fields(self, log_data, record, message_dict):
        log_data["timestamp"] = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        super().add_fields(log_data, record, message_dict)  # the record's extra fields
        for name in self.CONTEXT:  # left out where unknown
            if log_data.get(name) is None:
                log_data.pop(name, None)


def json_handler(stream=None) -> logging.Handler:
    """Return a handler writing JSON lines with the context filter on it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Formatter())
    handler.addFilter(ContextFilter())
    handler._tracker_json = True
    return handler


def install_json(level: int | str = logging.INFO) -> None:
    """Make the root logger write JSON lines to stderr, replacing its handlers; idempotent."""
    root = logging.getLogger()
    if any(getattr(h, "_tracker_json", False) for h in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler())
    root.setLevel(level)


def request_id_from(header: str | None) -> str:
    """Return the caller's request id when it is a sensible token, else a new one."""
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def note_ticket(reference: str) -> None:
    """Name the ticket this request is about in its later log lines (filing: known only once filed)."""
    from flask import g, has_request_context

    if has_request_context():
        g.log_ticket = reference


def register(app) -> None:
    """Give each request an id, return it, and log one line per request at INFO."""
    from flask import g, request

    if app.config.get("LOG_FORMAT") == "json":
        install_json()

    @app.before_request
    def _request_id():
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.log_started = time.perf_counter()

    @app.after_request
    def _answer(response):
        if not g.get("request_id"):  # refused before the request's first hook ran
            g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        response.headers[REQUEST_ID_HEADER] = g.request_id
        started = g.get("log_started")
        request_log.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"method": request.method, "path": request.path, "endpoint": request.endpoint,
                   "status": response.status_code,
                   "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None},
        )
        return response
