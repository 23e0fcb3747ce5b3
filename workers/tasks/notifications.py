"""Notification tasks: deliver the outbox."""

import logging

from celery import shared_task

from tracker.clock import utcnow
from tracker.services.notify import outbox

log = logging.getLogger(__name__)


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True)
def deliver(ids: list[int]) -> dict:
    """Deliver these notices if still due; those already sent or claimed are skipped."""
    result = outbox.deliver(utcnow, ids=ids, limit=len(ids))
    if result.claimed:
        log.info("delivered %d, will retry %d, failed %d", result.sent, result.retried, result.failed)
    return {"sent": result.sent, "retried": result.retried, "failed": result.failed, "skipped": result.skipped}


@shared_task(name="notifications.deliver_pending", acks_late=True, ignore_result=True)
def deliver_pending() -> dict:
    """Deliver every due notice: retries, and those whose publish was lost."""
    result = outbox.deliver(utcnow, limit=5000)
    if result.claimed:
        log.info("outbox sweep: delivered %d, will retry %d, failed %d", result.sent, result.retried, result.failed)
    return {"sent": result.sent, "retried": result.retried, "failed": result.failed, "skipped": result.skipped}
