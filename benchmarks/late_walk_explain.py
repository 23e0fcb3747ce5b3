"""EXPLAIN ANALYZE the overview's longest-late walk, with and without ix_tickets_open_next_due (docs/dashboards.md).

    .venv/bin/python benchmarks/late_walk_explain.py postgresql+psycopg://postgres@127.0.0.1:5432/DATABASE

Seven runs each, the median execution time, and the rows found (the same
both ways). The index is dropped inside a transaction that is rolled back:
the database keeps it.
"""

import re
import statistics
import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker import create_app  # noqa: E402
from tracker.clock import utcnow  # noqa: E402
from tracker.extensions import db  # noqa: E402
from tracker.models import Ticket  # noqa: E402
from tracker.services.insight import reports  # noqa: E402

app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "late-walk", "CELERY_BROKER_URL": "memory://"})
with app.app_context():
    now = utcnow()
    everything = reports.Filters(first=now.date(), last=now.date())
    # The walk of overview/actions.py, as the page sends it (its columns aside).
    walk = (
        select(Ticket.id)
        .where(reports.OPEN_CONDITION, Ticket.next_due_at < now, reports.ticket_where(everything),
               reports.late_target_exists(now))
        .order_by(Ticket.next_due_at, Ticket.created_at, Ticket.id)
        .limit(5)
    )
    sql = str(walk.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        for label in ("with the index", "without it"):
            transaction = conn.begin()
            if label == "without it":
                conn.exec_driver_sql("DROP INDEX ix_tickets_open_next_due")
            times = []
            for _ in range(7):
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql))
                times.append(float(re.search(r"Execution Time: ([\d.]+)", plan).group(1)))
            found = [row[0] for row in conn.exec_driver_sql(sql)]
            print(f"{label}: median {statistics.median(times):.3f} ms, rows {found}")
            print("\n".join(plan.splitlines()[:6]))
            transaction.rollback()
