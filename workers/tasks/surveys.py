"""Survey tasks: read and import an uploaded questionnaire file too large for the request."""

import logging

from celery import shared_task

from tracker.services.ledger import surveys

log = logging.getLogger(__name__)


@shared_task(name="surveys.run_import", acks_late=True, ignore_result=True)
def run_import(import_id: int) -> dict:
    """Run an import's pending run (dry or real); safe to run twice: only one claims it."""
    item = surveys.execute_run(int(import_id))
    if item is None:
        return {"import_id": import_id, "claimed": False}
    log.info("survey import %s: %s rows, %s new, %s duplicate, %s errors (%s)", item.id, item.rows_total,
             item.rows_new, item.rows_duplicate, item.rows_error, item.status.value)
    return {"import_id": item.id, "status": item.status.value, "rows": item.rows_total, "new": item.rows_new,
            "duplicate": item.rows_duplicate, "errors": item.rows_error}
