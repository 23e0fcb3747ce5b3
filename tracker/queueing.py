"""The Celery app bound to the Flask app, and publishing tasks after a commit.

``init_celery`` runs in ``create_app``: the web publishes tasks with it and
the worker (``workers/celery_app.py``) runs them. Publishing is best effort:
when the broker is down the change is already committed and its outbox rows
are waiting; the periodic sweep delivers them once the broker is back.
"""

import logging
import os
import time
import uuid

from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from kombu import Exchange, Queue
from kombu.transport import filesystem
from kombu.utils.json import dumps
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING_KEY = "tracker_publish_after_commit"
DEFAULT_QUEUE = "celery"  # notices, reports, imports ...
SLA_QUEUE = "sla"  # sla.* tasks: the sweep that flags breaches


class _AtomicFilesystemChannel(filesystem.Channel):
    """kombu's filesystem channel, writing each message under a temporary name and renaming it.

    kombu creates the message file, then writes it: a worker polling
    meanwhile takes the empty file and stops on a JSONDecodeError
    ("Unrecoverable error"). Seen with beat and two workers on one folder.
    The temporary name does not end in ``.<queue>.msg``: no reader takes it.
    """

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        with open(path + ".part", "wb") as file:
            file.write(dumps(payload).encode())
        os.replace(path + ".part", path)


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = _AtomicFilesystemChannel


def init_celery(app: Flask) -> Celery:
    """Create the Celery app for ``app``; its tasks run inside ``app``'s context."""

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            # Reuse an active context: a task called directly in a test sees
            # the caller's session and uncommitted rows.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    config = app.config
    celery = Celery(app.import_name, task_cls=AppContextTask)
    transport_options = dict(config["CELERY_BROKER_TRANSPORT_OPTIONS"])
    if config["CELERY_BROKER_URL"].startswith("redis"):
        # Fail fast when Redis is down: the web must not hang on a publish.
        transport_options.setdefault("socket_connect_timeout", 2)
        transport_options.setdefault("socket_timeout", 5)
        # One connection attempt per publish: without it kombu tries again
        # until broker_connection_timeout, and every commit waits 2 s while
        # Redis is down. The worker's consumer retries on its own settings.
        transport_options.setdefault("max_retries", 0)
    celery.conf.update(
        broker_url=config["CELERY_BROKER_URL"],
        broker_transport=(f"{__name__}:AtomicFilesystemTransport"
                          if config["CELERY_BROKER_URL"].startswith("filesystem") else None),
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        # A task is acknowledged after it ran: a worker killed mid-task leaves
        # it on the queue for another worker. Tasks are safe to run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule_filename=config["CELERY_BEAT_SCHEDULE_FILE"],
        # The SLA sweep has a queue of its own, so that a worker started with
        # ``--queues sla`` flags breaches while others drain a backlog of
        # notices. A worker started without --queues takes both.
        task_default_queue=DEFAULT_QUEUE,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in (DEFAULT_QUEUE, SLA_QUEUE)],
        task_routes={"sla.*": {"queue": SLA_QUEUE}},
    )
    app.extensions["celery"] = celery
    return celery


def publish_after_commit(task_name: str, *args, **options) -> None:
    """Publish ``task_name`` once the current transaction commits (never if it rolls back)."""
    from tracker.extensions import db

    session = db.session()
    session.info.setdefault(_PENDING_KEY, []).append((task_name, args, options))


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending or not has_app_context():
        return
    celery = current_app.extensions.get("celery")
    if celery is None:
        return
    for task_name, args, options in pending:
        try:
            celery.send_task(task_name, args=list(args), retry=False, **options)
        except Exception as error:  # the broker is down or unreachable
            # Nothing is lost: the rows are committed and the periodic
            # sweep publishes again when the broker is back.
            log.warning("could not publish %s%r now (%s); the periodic sweep will", task_name, args, error)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop(_PENDING_KEY, None)
