"""Measure importing 1,000,000 historical tickets on PostgreSQL (issue 8: minutes, not hours).

    .venv/bin/python benchmarks/import_bench.py                  # 1,000,000 rows (about 10 min)
    .venv/bin/python benchmarks/import_bench.py --rows 100000    # quicker

Steps:

1. The source file. Every row of the Boston 311 extract
   (``../shared/data/boston-311-2015/raw``, 121,145 rows, all its columns)
   is written again and again, each copy with distinct ``CASE_ENQUIRY_ID``s
   (the copy number in front of the city's 12 digits), into one plain CSV
   file of ``--rows`` rows under the temporary folder (kept with
   ``--keep-csv``; reused when it is there with the same row count).
2. The database ``tracker_import_bench`` on 127.0.0.1 is dropped, created
   and migrated (``upgrade heads``); the app is built on it with the memory
   broker (the run is executed in this process, as ``flask import-tickets``
   does).
3. The ``boston-311`` mapping imports the file through
   ``importer.execute_run``: rows read, checked, written in batches of
   ``--batch-size`` (tickets, their events and SLA clocks by COPY), then the
   dashboards' summary is counted for the marked days. Both phases are
   timed, and the database is counted afterwards (tickets, events, clocks).
4. The same file again: every row is skipped (idempotent), timed.

The figures go to docs/import.md ("Speed").
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

BOSTON = ROOT.parent / "shared" / "data" / "boston-311-2015" / "raw"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_import_bench"


def write_source(path: Path, rows: int) -> int:
    """Write ``rows`` Boston rows, repeated with distinct ids, into ``path``; return the bytes."""
    files = sorted(glob.glob(str(BOSTON / "*.csv.gz")))
    if not files:
        sys.exit(f"no Boston files under {BOSTON}")
    header, source = None, []
    for name in files:
        with gzip.open(name, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            source.extend(reader)
    id_column = header.index("CASE_ENQUIRY_ID")
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        copy = 0
        while written < rows:
            for values in source:
                if written >= rows:
                    break
                values = list(values)
                values[id_column] = f"{copy}{values[id_column]}"
                writer.writerow(values)
                written += 1
            copy += 1
    return path.stat().st_size


def recreate_database(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": target.database})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--folder", default=tempfile.gettempdir())
    parser.add_argument("--keep-csv", action="store_true")
    parser.add_argument("--no-rerun", action="store_true", help="Skip step 4 (the idempotent second run).")
    parser.add_argument("--profile", action="store_true", help="Print the import's 30 costliest functions.")
    args = parser.parse_args()

    source = Path(args.folder) / f"import_bench_{args.rows}.csv"
    started = time.perf_counter()
    if not source.exists():
        size = write_source(source, args.rows)
        print(f"source: {source} ({size / 1e6:.0f} MB, {args.rows:,} rows) written in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    else:
        print(f"source: {source} reused ({source.stat().st_size / 1e6:.0f} MB)", flush=True)

    recreate_database(args.database_url)
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.extensions import db
    from tracker.models import Ticket, TicketEvent, TicketSla
    from tracker.services.requests import importer

    instance = Path(tempfile.mkdtemp(prefix="import_bench_"))
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": args.database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": {},
        "ATTACHMENTS_DIR": str(instance / "attachments"),
    })
    with app.app_context():
        upgrade(revision="heads")
        now = datetime.now(UTC)
        importer.ensure_builtin_mappings(now=now)
        mapping = importer.mapping_by_code("boston-311")
        as_of = importer.ensure_aware(datetime(2016, 1, 13), mapping.time_zone)
        files = [{"name": source.name, "path": str(source)}]

        phases: dict[str, float] = {}
        marks = {"start": time.perf_counter(), "summary": None, "last": 0}

        def progress(run):
            if run.phase == "summary" and marks["summary"] is None:
                marks["summary"] = time.perf_counter()
            if run.phase == "rows" and run.rows_total - marks["last"] >= 100_000:
                marks["last"] = run.rows_total
                rate = run.rows_total / (time.perf_counter() - marks["start"])
                print(f"  {run.rows_total:,} rows, {run.percent}% ({rate:,.0f} rows/s)", flush=True)

        run = importer.create_run(mapping=mapping, files=files, dry_run=False, as_of=as_of, actor=None, now=now)
        marks["start"] = time.perf_counter()
        cpu_start = time.process_time()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            done = profiler.runcall(importer.execute_run, run.id, batch_size=args.batch_size, progress=progress)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        else:
            done = importer.execute_run(run.id, batch_size=args.batch_size, progress=progress)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_start
        load = os.getloadavg()
        if done is None or done.status.value != "done":
            sys.exit(f"import failed: {done.message if done else 'not run'}")
        summary_at = marks["summary"] or finished
        phases["rows"] = summary_at - marks["start"]
        phases["summary"] = finished - summary_at
        phases["total"] = finished - marks["start"]
        counts = {
            "tickets": db.session.execute(sa.select(sa.func.count()).select_from(Ticket)).scalar_one(),
            "events": db.session.execute(sa.select(sa.func.count()).select_from(TicketEvent)).scalar_one(),
            "clocks": db.session.execute(sa.select(sa.func.count()).select_from(TicketSla)).scalar_one(),
        }
        print(f"import: {done.rows_total:,} rows, {done.rows_imported:,} imported, {done.rows_error:,} refused")
        print(f"  rows phase {phases['rows']:.1f} s ({done.rows_total / phases['rows']:,.0f} rows/s), "
              f"summary phase {phases['summary']:.1f} s, total {phases['total']:.1f} s "
              f"({phases['total'] / 60:.1f} min)")
        print(f"  this process's CPU time {cpu:.1f} s; load average at the end {load[0]:.1f} {load[1]:.1f} "
              f"{load[2]:.1f} on {os.cpu_count()} cores")
        print(f"  database: {counts['tickets']:,} tickets, {counts['events']:,} events, {counts['clocks']:,} clocks")
        print(f"  SLA: {done.report.get('sla')}")

        if not args.no_rerun:
            again = importer.create_run(mapping=mapping, files=files, dry_run=False, as_of=as_of, actor=None,
                                        now=datetime.now(UTC))
            began = time.perf_counter()
            second = importer.execute_run(again.id, batch_size=args.batch_size)
            took = time.perf_counter() - began
            print(f"again: {second.rows_skipped:,} skipped, {second.rows_imported:,} imported in {took:.1f} s")
        db.session.remove()
        db.engine.dispose()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL at {sa.make_url(args.database_url).host}")
    if not args.keep_csv:
        source.unlink()


if __name__ == "__main__":
    main()
