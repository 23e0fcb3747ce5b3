"""SLA tasks: the sweep that flags and escalates."""

import logging

from celery import shared_task

from tracker.clock import utcnow
from tracker.services.sla import sweep as sla_sweep

log = logging.getLogger(__name__)


@shared_task(name="sla.sweep_due", acks_late=True, ignore_result=True)
def sweep_due() -> dict:
    """Flag what became at risk or breached and escalate; safe to run twice at once."""
    result = sla_sweep.sweep_due(utcnow())
    if result.clocks or result.escalated or result.notices:
        log.info("sla sweep: %s", result)
    else:
        log.debug("sla sweep: nothing due (%.1f ms)", result.seconds * 1000)
    return {"clocks": result.clocks, "at_risk": result.at_risk, "breached": result.breached,
            "escalated": result.escalated, "notices": result.notices, "closed": result.closed}
