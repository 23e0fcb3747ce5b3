"""Rectification tasks: the sweep that flags items at risk and overdue."""

import logging

from celery import shared_task

from tracker.clock import utcnow
from tracker.services.ledger import rectification

log = logging.getLogger(__name__)


@shared_task(name="rectification.sweep_due", acks_late=True, ignore_result=True)
def sweep_due() -> dict:
    """Flag the items that became at risk or overdue and tell their people; safe to run twice at once."""
    result = rectification.sweep_due(utcnow())
    if result.items:
        log.info("rectification sweep: %s", result)
    return {"items": result.items, "at_risk": result.at_risk, "overdue": result.overdue, "notices": result.notices}
