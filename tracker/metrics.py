"""Prometheus metrics: recorded by every process, read at ``/metrics``.

gunicorn's workers and Celery's processes each write their figures to
files of their own in one folder (prometheus_client's multiprocess mode,
``METRICS_DIR``); a scrape of any web process adds them up. The folder is
per machine: on several machines, scrape each machine's web processes,
and run the workers beside a web process or give them a scrape of their
own (docs/operations.md). Figures that live in the database or the broker
(outbox backlog, queue depth, import runs) are read at scrape time.

Recording never fails the caller: before ``init`` (a script, a unit test)
the helpers do nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Filing, as the requester waits for it: tens of milliseconds to seconds (a photo).
FILING_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SWEEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Due to flagged: the sweep runs every 2 s; a minute or more is an outage.
BREACH_BUCKETS = (0.5, 1, 2, 3, 5, 10, 30, 60, 300, 1800)
# The endpoints that file a request, and the channel each is.
FILING_ENDPOINTS = {"tickets.file": "web", "api.ticket_file": "api"}

_metrics = None
_directory: str | None = None


class _Metrics:
    """The metric objects; created once per process, after the folder is known."""

    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "tracker_http_requests", "HTTP requests answered, by endpoint and status.",
            ["endpoint", "method", "status"], registry=None)
        self.filing = Histogram(
            "tracker_filing_seconds", "Time to file a request (successful POSTs), by channel.",
            ["channel"], buckets=FILING_BUCKETS, registry=None)
        self.sweep = Histogram(
            "tracker_sla_sweep_seconds", "Duration of one SLA sweep.", buckets=SWEEP_BUCKETS, registry=None)
        self.sweep_lag = Gauge(
            "tracker_sla_sweep_lag_seconds",
            "At the last sweep: how long the oldest due clock had been waiting (0: none due).",
            registry=None, multiprocess_mode="mostrecent")
        self.sweep_last = Gauge(
            "tracker_sla_sweep_last_run_timestamp_seconds", "Unix time the last SLA sweep finished.",
            registry=None, multiprocess_mode="max")
        self.breach_latency = Histogram(
            "tracker_sla_breach_detection_seconds",
            "From a target's due instant to the sweep that flagged it breached.",
            buckets=BREACH_BUCKETS, registry=None)


def init(directory: str) -> None:
    """Write this process's metrics under ``directory``; the first call wins (tests build several apps)."""
    global _metrics, _directory
    if _metrics is not None:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    # prometheus_client chooses where values live when it is imported and
    # reads the folder when each value is made: set both before any metric.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue()
    _directory = directory
    _metrics = _Metrics()


def directory() -> str | None:
    return _directory


def _safe(record):
    def wrapper(*args, **kwargs):
        if _metrics is None:
            return
        try:
            record(*args, **kwargs)
        except Exception:  # noqa: BLE001  a full disk must not fail a filing or a sweep
            log.exception("could not record a metric")

    return wrapper


@_safe
def count_request(endpoint: str | None, method: str, status: int) -> None:
    # The endpoint, never the raw path: one series per route, not per ticket.
    _metrics.requests.labels(endpoint or "none", method, str(status)).inc()


@_safe
def observe_filing(channel: str, seconds: float) -> None:
    _metrics.filing.labels(channel).observe(seconds)


@_safe
def observe_sweep(*, seconds: float, lag_seconds: float, breach_latencies: list[float]) -> None:
    _metrics.sweep.observe(seconds)
    _metrics.sweep_lag.set(max(lag_seconds, 0.0))
    _metrics.sweep_last.set(time.time())
    for latency in breach_latencies:
        _metrics.breach_latency.observe(max(latency, 0.0))


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Drop a finished process's live gauges (gunicorn child_exit, Celery process shutdown)."""
    path = path or _directory
    if not path or not Path(path).is_dir():
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path)


def forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes no longer running (gunicorn's start: a crash left them).

    Counters and histograms of ended processes stay: their totals must not
    go down while the machine runs. Empty the folder at boot (docs/operations.md).
    """
    folder = Path(path)
    if not folder.is_dir():
        return
    for file in folder.glob("gauge_live*_*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit() and not _is_running(int(pid)):
            mark_process_dead(int(pid), path)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- scraping


class _ScrapeTimeCollector:
    """Figures read from the database and the broker when Prometheus scrapes."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        outbox = GaugeMetricFamily(
            "tracker_outbox_notifications", "Notices waiting or being sent, by channel and delivery state.",
            labels=["channel", "state"])
        for channel, state, count in _outbox_backlog():
            outbox.add_metric([channel, state], count)
        yield outbox
        depth = GaugeMetricFamily(
            "tracker_celery_queue_length", "Messages waiting in a Celery queue (-1: cannot be read).",
            labels=["queue"])
        for queue, count in _queue_depths(self.app):
            depth.add_metric([queue], count)
        yield depth
        runs = GaugeMetricFamily("tracker_import_runs", "Import runs by state.", labels=["state"])
        for state, count in _import_runs():
            runs.add_metric([state], count)
        yield runs


def _outbox_backlog() -> list[tuple[str, str, int]]:
    """Count notices pending or sending, per channel and state.

    The partial index ``ix_notifications_due`` holds exactly these rows: the
    count reads the backlog, never the sent ones (nearly all rows) nor the
    failed ones, which stay until an administrator retries them
    (``flask outbox-status`` lists those).
    """
    from sqlalchemy import func, select

    from tracker.extensions import db
    from tracker.models import DeliveryStatus, Notification

    states = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    rows = db.session.execute(
        select(Notification.channel, Notification.status, func.count())
        .where(Notification.status.in_(states))
        .group_by(Notification.channel, Notification.status)
    ).all()
    found = {(str(channel), str(state)): count for channel, state, count in rows}
    from tracker.models import Channel

    # Every series exists, at 0 too: an alert on growth needs the series before it grows.
    return [(c.value, s.value, found.get((c.value, s.value), 0)) for c in Channel for s in states]


def _import_runs() -> list[tuple[str, int]]:
    from sqlalchemy import func, select

    from tracker.extensions import db
    from tracker.models.imports import ImportRun, RunStatus

    found = dict(db.session.execute(select(ImportRun.status, func.count()).group_by(ImportRun.status)).all())
    return [(s.value, found.get(s, 0)) for s in RunStatus]


def _queue_depths(app) -> list[tuple[str, int]]:
    """Return each queue's length: LLEN on Redis, message files on the filesystem broker, else -1."""
    from tracker.queueing import DEFAULT_QUEUE, SLA_QUEUE

    queues = (DEFAULT_QUEUE, SLA_QUEUE)
    url = app.config["CELERY_BROKER_URL"]
    try:
        if url.startswith("filesystem"):
            folder = Path(app.config["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"])
            names = [entry.name for entry in os.scandir(folder)]
            return [(q, sum(1 for n in names if n.endswith(f".{q}.msg"))) for q in queues]
        if url.startswith(("redis://", "rediss://")):
            celery = app.extensions["celery"]
            with celery.connection_for_read() as conn:
                client = conn.default_channel.client
                # kombu keeps priorities in extra lists (name\x06\x163 ...); the default has one.
                return [(q, int(client.llen(q))) for q in queues]
    except Exception:  # noqa: BLE001  the broker down: say so in the figure, not as a 500
        log.warning("cannot read the Celery queue lengths", exc_info=True)
    return [(q, -1) for q in queues]


def render(app) -> tuple[bytes, str]:
    """Return the exposition text of every process's metrics plus the scrape-time ones."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    if _directory:
        multiprocess.MultiProcessCollector(registry, path=_directory)
    registry.register(_ScrapeTimeCollector(app))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def is_allowed(app, remote_addr: str | None, authorization: str | None) -> int:
    """Return 200 when the caller may read the metrics, else 401 (token wanted) or 403."""
    allowed = app.config.get("METRICS_ALLOW") or ()
    if remote_addr and allowed:
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            address = None
        if address is not None and any(address in network for network in allowed):
            return 200
    token = app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return 200
        return 401
    return 403


def register(app) -> None:
    """Set up this process's metrics, count every request, and serve ``/metrics``."""
    from flask import Response, g, request

    init(app.config["METRICS_DIR"])

    @app.before_request
    def _start_clock():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        count_request(request.endpoint, request.method, response.status_code)
        channel = FILING_ENDPOINTS.get(request.endpoint or "")
        started = g.get("metrics_started")
        # Filed: the page redirects to the new ticket, the API answers 201.
        if channel and request.method == "POST" and response.status_code in (201, 302) and started:
            observe_filing(channel, time.perf_counter() - started)
        return response

    @app.route("/metrics", endpoint="metrics")
    def metrics_view():
        status = is_allowed(app, request.remote_addr, request.headers.get("Authorization"))
        if status != 200:
            headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {}
            return Response("metrics: not allowed\n", status=status, mimetype="text/plain", headers=headers)
        body, content_type = render(app)
        return Response(body, content_type=content_type)
