"""What one count of the stored "now" figures costs (issue 21): wall and CPU time, the slowest statements.

    .venv/bin/python benchmarks/now_counts_cost.py --database-url URL --counts 5

Counts ``--counts`` times in a row, as beat does every minute
(``now_counts.recount``), after one count to warm up; prints each count's
wall time, this process's CPU and the database server's (its backends'
user + system time from /proc, the same machine), and the statements of the
last count over 5 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dashboard_bench as bench  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--counts", type=int, default=5)
    options = parser.parse_args()
    bench.isolate_environment()
    app = bench.make_app(options.database_url)
    from sqlalchemy import event

    from tracker.extensions import db
    from tracker.services.insight import now_counts

    with app.app_context():
        now_counts.recount(datetime.now(UTC))
        db.session.remove()
        statements: list[tuple[float, str]] = []

        @event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            context.started_at = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            statements.append(
                ((time.perf_counter() - context.started_at) * 1000, " ".join(statement.split())[:100])
            )

        for _ in range(options.counts):
            statements.clear()
            server, process, started = (
                bench._backends_cpu(options.database_url),
                time.process_time(),
                time.perf_counter(),
            )
            rows = now_counts.recount(datetime.now(UTC))
            wall = (time.perf_counter() - started) * 1000
            app_cpu = (time.process_time() - process) * 1000
            server_cpu = (bench._backends_cpu(options.database_url) - server) * 1000
            db.session.remove()
            print(
                f"{rows} rows: {wall:.0f} ms wall, CPU {app_cpu:.0f} ms (app) + {server_cpu:.0f} ms (server)"
            )
        for ms, statement in sorted(statements, reverse=True):
            if ms > 5:
                print(f"  {ms:6.1f} ms  {statement}")


if __name__ == "__main__":
    main()
