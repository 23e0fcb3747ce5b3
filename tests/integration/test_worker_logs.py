"""The worker's and beat's console: routine sweeps at DEBUG, changes at INFO (workers/logs.py)."""

import logging
import re

from celery.app import trace

from tests.integration import workers
from tests.integration.workers import LogRecords
from workers.logs import RoutineTasks

# The fixtures of workers.py, by name: pytest finds them here.
artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink

ROUTINE = re.compile(r": (\w+)/[^\]]*\] (?:Task sla\.sweep_due\[|Scheduler: Sending due task sla-sweep)")


def test_sweeps_with_nothing_to_do_write_no_info_line(make_system):
    system = make_system()
    worker = system.start_worker(beat=True, loglevel="DEBUG", settings={"TRACKER_ROUTINE_TASK_LOG_LEVEL": "DEBUG"})
    worker.wait_for_log(r"DEBUG/[^\]]+\] Task sla\.sweep_due\[[^\]]+\] succeeded", count=2)
    levels = [match[1] for match in ROUTINE.finditer(worker.log())]
    # Sent by beat, received and succeeded: all there, none at INFO.
    assert len(levels) >= 6
    assert set(levels) == {"DEBUG"}


def test_only_the_routine_lines_of_periodic_tasks_go_down_to_debug():
    logger = logging.getLogger("celery.app.trace")
    routine = RoutineTasks({"sla.sweep_due"})
    records = LogRecords("celery.app.trace", logging.INFO).attach()
    logger.addFilter(routine)
    try:
        logger.info(trace.LOG_SUCCESS, {"name": "sla.sweep_due", "id": "1", "runtime": 0.01, "return_value": {}})
        logger.info(trace.LOG_SUCCESS, {"name": "imports.run", "id": "2", "runtime": 1.0, "return_value": {}})
        logger.error(trace.LOG_FAILURE, {"name": "sla.sweep_due", "id": "3", "description": "raised", "exc": "x"})
    finally:
        logger.removeFilter(routine)
        records.detach()
    assert [(r.levelno, r.args["id"]) for r in records.records] == [(logging.INFO, "2"), (logging.ERROR, "3")]


def test_every_beat_task_is_routine():
    from workers.celery_app import celery

    installed = [f for f in logging.getLogger("celery.beat").filters if isinstance(f, RoutineTasks)]
    assert [f.task_names for f in installed] == [{e["task"] for e in celery.conf.beat_schedule.values()}]
