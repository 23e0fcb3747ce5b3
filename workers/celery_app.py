"""The Celery app for workers and beat.

    celery -A workers.celery_app worker -Q celery --loglevel INFO   # notices, reports, imports
    celery -A workers.celery_app worker -Q sla --loglevel INFO      # the SLA sweep (tracker/queueing.py)
    celery -A workers.celery_app beat --loglevel INFO

It builds the Flask app (``create_app``) and uses the Celery app made there,
whose tasks run inside the Flask app context and call the same services as
the web.
"""

import os

from celery import signals

from tracker import create_app, logs, metrics
from tracker.config import ConfigError
from workers.logs import quiet_routine_tasks

try:
    flask_app = create_app()
except ConfigError as error:
    raise SystemExit(f"campus service desk worker cannot start: {error}") from None

celery = flask_app.extensions["celery"]
celery.conf.include = ["workers.tasks.sla", "workers.tasks.notifications", "workers.tasks.reports"]
celery.conf.include.append("workers.tasks.rectification")
celery.conf.include.append("workers.tasks.follow_ups")
celery.conf.include.append("workers.tasks.surveys")
celery.conf.include.append("workers.tasks.imports")
celery.conf.include.append("workers.tasks.standards")
celery.conf.beat_schedule = {
    # Cheap when nothing is due (two index probes): frequent enough that a
    # breach is recorded within a few seconds of its deadline.
    "sla-sweep": {
        "task": "sla.sweep_due",
        "schedule": flask_app.config["SLA_SWEEP_SECONDS"],
        "options": {"expires": flask_app.config["SLA_SWEEP_SECONDS"] * 2},
    },
    # Dashboards read a daily summary: recompute the days changes marked.
    "stats-refresh": {
        "task": "stats.refresh",
        "schedule": flask_app.config["STATS_REFRESH_SECONDS"],
        "options": {"expires": flask_app.config["STATS_REFRESH_SECONDS"] * 2},
    },
    # The "now" counts the overview and the wall display read: counted every
    # minute rather than on every request (services/insight/now_counts.py).
    # Not after each SLA sweep: the late and at-risk sets move with the
    # clock, read at the counting instant, not with the sweep's flags.
    "now-counts": {
        "task": "reports.now_counts",
        "schedule": flask_app.config["NOW_COUNTS_SECONDS"],
        "options": {"expires": flask_app.config["NOW_COUNTS_SECONDS"]},
    },
    # The weekly report: a frequent cheap check rather than a crontab at the
    # report's time, so that a beat or worker down at that time catches up,
    # and stalled generations are taken over (weekly.run_schedule).
    "weekly-report": {
        "task": "reports.weekly",
        "schedule": flask_app.config["WEEKLY_REPORT_CHECK_SECONDS"],
        "options": {"expires": flask_app.config["WEEKLY_REPORT_CHECK_SECONDS"] * 2},
    },
    # Rectification items' deadlines: at risk and overdue (days-long clocks,
    # so a check every half minute is plenty; cheap when nothing is due).
    "rectification-sweep": {
        "task": "rectification.sweep_due",
        "schedule": flask_app.config["RECTIFICATION_SWEEP_SECONDS"],
        "options": {"expires": flask_app.config["RECTIFICATION_SWEEP_SECONDS"] * 2},
    },
    # The weekly sample of closed requests for follow-up calls: a cheap check
    # that draws once per week and centre (follow_ups.run_schedule).
    "follow-up-sample": {
        "task": "follow_ups.sample",
        "schedule": flask_app.config["FOLLOW_UP_SAMPLE_CHECK_SECONDS"],
        "options": {"expires": flask_app.config["FOLLOW_UP_SAMPLE_CHECK_SECONDS"] * 2},
    },
    # Replays whose worker died (no heartbeat): queued again once, then failed.
    "replays-reclaim": {
        "task": "standards.reclaim_stalled",
        "schedule": flask_app.config["REPLAY_RECLAIM_SECONDS"],
        "options": {"expires": flask_app.config["REPLAY_RECLAIM_SECONDS"] * 2},
    },
    # The safety net for notifications whose publish was lost (broker down).
    "notifications-sweep": {
        "task": "notifications.deliver_pending",
        "schedule": flask_app.config["OUTBOX_SWEEP_SECONDS"],
        "options": {"expires": flask_app.config["OUTBOX_SWEEP_SECONDS"] * 2},
    },
}
app = celery


if flask_app.config["LOG_FORMAT"] == "json":
    @signals.setup_logging.connect
    def _json_logs(loglevel=None, **_kwargs):
        # Connected, the signal stops Celery from setting up its own text
        # handlers: every line, Celery's too, is JSON with the task's name and id.
        logs.install_json(loglevel or "INFO")


@signals.worker_process_shutdown.connect
def _forget_process(pid=None, **_kwargs):
    # A pool process that ends leaves no live gauge behind (as gunicorn's child_exit).
    metrics.mark_process_dead(pid or os.getpid())


quiet_routine_tasks(celery.conf.beat_schedule, flask_app.config["ROUTINE_TASK_LOG_LEVEL"])
