"""Keep the periodic tasks' routine out of the worker's and beat's INFO log.

Beat sends the SLA sweep every 2 s; at INFO, Celery logs three lines per
sweep (sent, received, succeeded): 3,789 lines in 20 minutes, and the
start banner scrolls away. Those lines of the beat schedule's tasks go
out at ROUTINE_TASK_LOG_LEVEL (DEBUG by default); each task logs at INFO
itself when it changed something. Failures and retries keep their level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery.app import trace

# The loggers that write those lines: the worker's receipt, the tracer's
# success, beat's send.
LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")
_TASK_LINES = (trace.LOG_RECEIVED, trace.LOG_SUCCESS)
_BEAT_LINE = "Scheduler: Sending due task %s (%s)"


class RoutineTasks(logging.Filter):
    """Move the sent/received/succeeded INFO lines of ``task_names`` to ``level``."""

    def __init__(self, task_names: Iterable[str], level: int = logging.DEBUG):
        super().__init__()
        self.task_names = frozenset(task_names)
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or self.level == logging.INFO or self._task(record) not in self.task_names:
            return True
        record.levelno, record.levelname = self.level, logging.getLevelName(self.level)
        # The logger let the record through at INFO; at its new level it may not pass.
        return logging.getLogger(record.name).isEnabledFor(self.level)

    @staticmethod
    def _task(record: logging.LogRecord) -> str | None:
        if record.msg in _TASK_LINES and isinstance(record.args, dict):
            return record.args.get("name")
        if record.msg == _BEAT_LINE and isinstance(record.args, tuple) and len(record.args) == 2:
            return record.args[1]
        return None


def quiet_routine_tasks(beat_schedule: dict, level_name: str) -> RoutineTasks:
    """Install the filter for every task of ``beat_schedule`` on Celery's loggers; return it."""
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {level_name!r} (TRACKER_ROUTINE_TASK_LOG_LEVEL)")
    routine = RoutineTasks((entry["task"] for entry in beat_schedule.values()), level)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RoutineTasks)]:
            logger.removeFilter(old)
        logger.addFilter(routine)
    return routine
