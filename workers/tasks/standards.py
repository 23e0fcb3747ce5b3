"""Standards tasks: run a replay a page or the API recorded."""

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from tracker.clock import utcnow
from tracker.services.sla.standards import saved

log = logging.getLogger(__name__)


@shared_task(name="standards.replay", acks_late=True, ignore_result=True)
def replay(replay_id: int) -> str | None:
    """Run a queued replay; a second copy (or a replay already taken) does nothing.

    Progress is committed after every chunk: the replay's page polls it.
    """
    done = saved.execute_replay(replay_id, now=utcnow())
    if done is None:
        log.info("replay %s: already taken", replay_id)
        return None
    log.info("replay %s: %s, %d requests", replay_id, done.status, done.progress_done)
    return done.status.value


@shared_task(name="standards.reclaim_stalled", acks_late=True, ignore_result=True)
def reclaim_stalled() -> dict:
    """Queue again (once) the replays whose worker died; fail those that died twice."""
    stalled_after = timedelta(seconds=current_app.config["REPLAY_STALLED_SECONDS"])
    outcome = saved.reclaim_stalled(utcnow(), stalled_after=stalled_after)
    if outcome["requeued"] or outcome["failed"]:
        log.warning("stalled replays: queued again %s, failed %s", outcome["requeued"], outcome["failed"])
    return outcome
