"""Report tasks: keep the dashboards' summary current."""

import logging
import time

from celery import shared_task

from tracker.services import stats

log = logging.getLogger(__name__)


@shared_task(name="stats.refresh", acks_late=True, ignore_result=True)
def refresh() -> int:
    """Recompute the days that changes marked; safe to run twice at once."""
    started = time.perf_counter()
    done = stats.refresh_all()
    if done:
        log.info("stats refresh: %d day-centre pairs in %.0f ms", done, (time.perf_counter() - started) * 1000)
    return done
