"""gunicorn's settings file, read from the working folder: the metrics' hooks.

Every worker writes its metrics to files of its own in one folder
(tracker/metrics.py). When a worker exits its live gauges must go; when the
master starts, gauges left by processes of an earlier run go too.
"""

from tracker.config import metrics_directory


def on_starting(server):
    from tracker.metrics import forget_dead_processes

    forget_dead_processes(str(metrics_directory()))


def child_exit(server, worker):
    from tracker.metrics import mark_process_dead

    mark_process_dead(worker.pid, str(metrics_directory()))
