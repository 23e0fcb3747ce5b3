"""Measure survey imports: a dry run, the import and a re-import of a large CSV and xlsx file.

    .venv/bin/python benchmarks/survey_bench.py                    # 50,000 rows on SQLite
    .venv/bin/python benchmarks/survey_bench.py --rows 200000
    .venv/bin/python benchmarks/survey_bench.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/tracker_h_survey_bench

The database is made anew (a SQLite file in a temporary folder, or the
PostgreSQL database named, dropped and created), migrated, and given the
test world's two centres. The runs are the service calls the worker makes
(``surveys.execute_run``), in this process, timed from the claim to the
last commit, in wall time and in this process's CPU time (the machine may
be busy); the Python heap's peak (tracemalloc) shows that files are
streamed, not loaded. Figures: docs/surveys.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["Response ID", "Submitted at", "Respondent", "Service centre", "Topic", "Satisfaction (1-5)", "Comments"]
COLUMNS = {"response_id": "Response ID", "submitted_on": "Submitted at", "respondent": "Respondent",
           "centre": "Service centre", "topic": "Topic", "score": "Satisfaction (1-5)", "comment": "Comments"}
TOPICS = ["Hot water", "Air-conditioning", "Keys", "Cleaning", "Noise", "Shuttle bus timetable"]


def rows(count: int):
    for n in range(count):
        yield [f"R-{n:07d}", (date(2026, 9, 1) + timedelta(days=n % 90)).isoformat(), "student",
               ("repairs", "dorm")[n % 2], TOPICS[n % len(TOPICS)], 1 + n % 5,
               f"Answer {n}: " + "the shower in my room is cold at night. " * (1 + n % 3)]


def write_csv(path: Path, count: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows(count))


def write_xlsx(path: Path, count: int) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in rows(count):
        sheet.append(row)
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    if url.startswith("postgresql"):
        from tests.conftest import _fresh_postgres

        _fresh_postgres(url)
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.clock import utcnow
    from tracker.extensions import db
    from tracker.services.ledger import surveys

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": "bench",
                      "TRACKER_ENV": "development", "CELERY_BROKER_URL": "memory://",
                      "CELERY_BROKER_TRANSPORT_OPTIONS": {}, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    results = []
    with app.app_context():
        upgrade(revision="heads")
        from tests.factories import build_world

        leader = build_world().users["leadership"]
        for suffix, writer in ((".csv", write_csv), (".xlsx", write_xlsx)):
            path = folder / f"survey{suffix}"
            started = time.perf_counter()
            writer(path, args.rows)
            made = time.perf_counter() - started
            size = path.stat().st_size
            for label, dry in (("dry run", True), ("import", False), ("re-import", False)):
                with open(path, "rb") as fh:
                    item = surveys.upload(fh, path.name, f"Bench {suffix}", actor=leader, now=utcnow())
                surveys.start_run(item.id, columns=COLUMNS, settings={}, dry_run=dry, actor=leader,
                                  now=utcnow(), inline=False)
                db.session.commit()
                tracemalloc.start()
                started, cpu = time.perf_counter(), time.process_time()
                done = surveys.execute_run(item.id)
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                _current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert done.status.value == "done", done.message
                results.append((suffix[1:], f"{size / 1e6:.1f} MB", label, done.rows_total, done.rows_new,
                                done.rows_duplicate, f"{seconds:.1f} s", f"{cpu:.1f} s",
                                f"{done.rows_total / cpu:,.0f}", f"{peak / 1e6:.1f} MB"))
                print(" | ".join(str(v) for v in results[-1]), file=sys.stderr, flush=True)
            print(f"{suffix}: {args.rows:,} rows written in {made:.1f} s", file=sys.stderr)
        db.session.remove()
        db.engine.dispose()
    dialect = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"| file | size | run | rows | new | duplicates | wall time | CPU time | rows per CPU s | heap peak |"
          f"  ({dialect}, load average {os.getloadavg()[0]:.1f})")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        print("| " + " | ".join(str(v) for v in row) + " |")
    print(f"\n$ {' '.join(['.venv/bin/python', 'benchmarks/survey_bench.py', *sys.argv[1:]])}")


if __name__ == "__main__":
    main()
