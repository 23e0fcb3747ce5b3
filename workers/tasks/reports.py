"""Report tasks: keep the dashboards' summary current; make the weekly report."""

import logging
import time
from datetime import date

from celery import shared_task

from tracker.clock import utcnow
from tracker.services.insight import now_counts, stats, weekly

log = logging.getLogger(__name__)


@shared_task(name="stats.refresh", acks_late=True, ignore_result=True)
def refresh() -> int:
    """Recompute the days that changes marked; safe to run twice at once."""
    started = time.perf_counter()
    done = stats.refresh_all()
    if done:
        log.info("stats refresh: %d day-centre pairs in %.0f ms", done, (time.perf_counter() - started) * 1000)
    return done


@shared_task(name="reports.now_counts", acks_late=True, ignore_result=True)
def count_now() -> int:
    """Count the "now" figures the dashboards read; safe to run twice at once (the second waits, then replaces)."""
    rows = now_counts.recount(utcnow())
    log.debug("now counts: %d rows", rows)
    return rows


@shared_task(name="reports.weekly", acks_late=True, ignore_result=True)
def weekly_check() -> dict:
    """Make the weekly report when its time has come and it is not sent yet; take over stalled ones.

    Beat sends it every WEEKLY_REPORT_CHECK_SECONDS: a beat or worker that
    was down at the scheduled time catches up at the next check. Safe to
    run twice at once: one report and one notice per leader per week.
    """
    try:
        result = weekly.run_schedule(utcnow())
    except Exception:  # logged with its traceback; the report row says "failed"
        log.exception("weekly report check failed")
        return {"scheduled": None, "taken_over": [], "failed": True}
    if result.scheduled or result.taken_over:
        log.info("weekly report: generated %s on schedule, took over %s", result.scheduled, result.taken_over)
    return {"scheduled": result.scheduled.isoformat() if result.scheduled else None,
            "taken_over": [week.isoformat() for week in result.taken_over]}


@shared_task(name="reports.weekly_generate", acks_late=True, ignore_result=True)
def weekly_generate(week_start: str, generation: int) -> bool:
    """Run the (re)generation of a week's report asked for on its page; a second copy does nothing."""
    try:
        report = weekly.run_requested(date.fromisoformat(week_start), generation, now=utcnow())
    except Exception:
        log.exception("weekly report of %s failed", week_start)
        return False
    if report is not None:
        log.info("weekly report of %s generated (generation %d)", week_start, generation)
    return report is not None
