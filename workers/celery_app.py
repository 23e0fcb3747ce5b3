"""The Celery app: built from the Flask app, tasks run in its app context.

Start with ``celery -A workers.celery_app worker`` and ``... beat``.
"""

from celery import Celery, Task
from flask import Flask, has_app_context

from tracker import create_app


def make_celery(flask_app: Flask) -> Celery:
    """Return a Celery app configured from ``flask_app`` whose tasks run in its context."""

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            # Reuse an active context: a task called directly in a test sees
            # the caller's session and uncommitted rows.
            if has_app_context():
                return self.run(*args, **kwargs)
            with flask_app.app_context():
                return self.run(*args, **kwargs)

    config = flask_app.config
    celery = Celery(flask_app.import_name, task_cls=AppContextTask)
    celery.conf.update(
        broker_url=config["CELERY_BROKER_URL"],
        broker_transport_options=config["CELERY_BROKER_TRANSPORT_OPTIONS"],
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={},
        beat_schedule_filename=config["CELERY_BEAT_SCHEDULE_FILE"],
        include=[],
    )
    celery.set_default()
    flask_app.extensions["celery"] = celery
    return celery


flask_app = create_app()
celery = make_celery(flask_app)
app = celery
