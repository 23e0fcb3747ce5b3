"""Follow-up tasks: draw the weekly sample of closed requests for follow-up calls."""

import logging

from celery import shared_task

from tracker.clock import utcnow
from tracker.services.ledger import follow_ups

log = logging.getLogger(__name__)


@shared_task(name="follow_ups.sample", acks_late=True, ignore_result=True)
def sample() -> dict:
    """Draw last week's sample for every centre not drawn yet.

    Beat sends it every FOLLOW_UP_SAMPLE_CHECK_SECONDS: the first check of a
    new week draws, later ones (and a second copy at once) find the week
    drawn and do nothing; a worker that was down catches up at its next check.
    """
    drawn = follow_ups.run_schedule(utcnow())
    if drawn:
        log.info("follow-up sample: %s", {centre: len(ids) for centre, ids in drawn.items()})
    return {str(centre): ids for centre, ids in drawn.items()}
