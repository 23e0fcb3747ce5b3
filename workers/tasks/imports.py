"""Import tasks: run an import (or a dry run) that a page recorded."""

import logging

from celery import shared_task

from tracker.services.requests import importer

log = logging.getLogger(__name__)


@shared_task(name="imports.run", acks_late=True, ignore_result=True)
def run(run_id: int) -> str | None:
    """Run a pending import run; a second copy (or a run already taken) does nothing.

    Progress is committed with every batch: the run's page polls it.
    """
    done = importer.execute_run(run_id)
    if done is None:
        log.info("import run %s: already taken", run_id)
        return None
    log.info("import run %s: %s, %d rows, %d imported, %d skipped, %d refused", run_id, done.status,
             done.rows_total, done.rows_imported, done.rows_skipped, done.rows_error)
    return done.status.value
