"""Time one import, old code against new, and fingerprint what it wrote (docs/import.md, "Speed, 2026-12-07").

    .venv/bin/python benchmarks/import_ab.py --tree /tmp/importpipe/old --db postgresql --out old.json
    .venv/bin/python benchmarks/import_ab.py --db sqlite --out new.json
    .venv/bin/python benchmarks/import_ab.py --db postgresql --files /tmp/import_bench_1000000.csv
    .venv/bin/python benchmarks/import_ab.py --compare old.json new.json

``--tree`` is a checkout of the application (``git archive main`` into a
folder for the old code; this one by default). The script creates a fresh
database (PostgreSQL ``h_importpipe_ab``, or a SQLite file), migrates it to
head outside the lock, then, holding ``flock /work/bench.lock``, runs
``importer.execute_run`` over the Boston 311 files (or ``--files``) as
``flask import-tickets --preset boston-311 --as-of 2016-01-13T00:00`` does.

It prints: wall time; CPU seconds of this process and its children, and of
every PostgreSQL backend connected to the database (from /proc/<pid>/stat);
the 1-minute load before and after; the longest gap between two progress
updates (from the start of the run to its end, rows and summary phases
both); peak RSS; the rows written. With ``--out`` it also writes a
fingerprint of every table the import writes: per table the row count and
a SHA-256 of its rows in primary-key order, leaving out the columns that
hold the wall clock of the run (``computed_at``, ``refreshed_at``, the
catalogue rows' ``created_at``...). ``--compare`` says whether two
fingerprints are equal, table by table.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
BOSTON = Path("/work/shared/data/boston-311-2015/raw")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/h_importpipe_ab"
LOCK = "/work/bench.lock"

# (table, columns left out of the fingerprint: they hold the run's wall clock or a random secret).
TABLES = (
    ("tickets", ()),
    ("ticket_events", ()),
    ("ticket_slas", ("computed_at",)),
    ("daily_stats", ("refreshed_at",)),
    ("daily_assignee_stats", ()),
    ("daily_technician_stats", ()),
    ("daily_technician_holds", ()),
    ("stats_dirty", ("claimed_until",)),
    ("reference_counters", ()),
    ("centres", ("created_at",)),
    ("categories", ("created_at",)),
    ("import_row_errors", ()),
    (
        "import_runs",
        ("created_at", "started_at", "finished_at", "heartbeat_at", "as_of", "files", "settings"),
    ),
)


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(url: str) -> list[int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = list(
            conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )
    engine.dispose()
    return pids


def fresh_postgres(url: str) -> None:
    import sqlalchemy as sa

    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": target.database},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def fingerprint(db) -> dict:
    import sqlalchemy as sa

    db.session.commit()  # SQLite: the run's last read holds the write lock (BEGIN IMMEDIATE)
    result = {}
    metadata = sa.MetaData()
    for name, left_out in TABLES:
        table = sa.Table(name, metadata, autoload_with=db.session.connection())
        columns = [c for c in table.columns if c.name not in left_out]
        order = list(table.primary_key.columns) or columns
        digest, count = hashlib.sha256(), 0
        query = sa.select(*columns).order_by(*order).execution_options(yield_per=20000)
        for row in db.session.execute(query):
            digest.update(repr(tuple(row)).encode())
            count += 1
        result[name] = [count, digest.hexdigest()[:16]]
    return result


def compare(first: str, second: str) -> int:
    a, b = json.loads(Path(first).read_text()), json.loads(Path(second).read_text())
    differ = 0
    for name in a["tables"]:
        same = a["tables"][name] == b["tables"].get(name)
        differ += not same
        print(
            f"{name:26} {a['tables'][name][0]:>9,} rows  {'same' if same else 'DIFFERENT'}"
            + ("" if same else f"  {a['tables'][name]} / {b['tables'].get(name)}")
        )
    print("identical" if not differ else f"{differ} tables differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", default=str(HERE))
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--database-url", default=PG_URL)
    parser.add_argument("--files", nargs="*", help="files to import (default: the Boston 311 folder)")
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", help="write the figures and the tables' fingerprint here (JSON)")
    parser.add_argument("--no-lock", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database (boston_copy_floor.sh)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the writing (main) thread")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)

    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    os.chdir(tree)  # Flask-Migrate finds migrations/ here
    instance = Path(tempfile.mkdtemp(prefix="importpipe_ab_"))
    url = args.database_url if args.db == "postgresql" else f"sqlite:///{instance / 'ab.db'}"
    if args.db == "postgresql":
        fresh_postgres(url)
    paths = [Path(p) for p in args.files] if args.files else sorted(BOSTON.glob("*.csv.gz"))

    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.clock import utcnow
    from tracker.extensions import db
    from tracker.services.requests import importer

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "bench",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {},
            "ATTACHMENTS_DIR": str(instance / "attachments"),
        }
    )
    with app.app_context():
        upgrade(revision="heads")
        importer.ensure_builtin_mappings(now=utcnow())
        files = [{"name": p.name, "path": str(p)} for p in paths]
        run = importer.create_run(
            mapping=importer.mapping_by_code("boston-311"),
            files=files,
            dry_run=False,
            as_of=importer.utc_from_local(datetime(2016, 1, 13), "America/New_York"),
            time_zone=None,
            encoding=args.encoding,
            actor=None,
            now=utcnow(),
        )
        db.session.commit()
        stamps: list[tuple[float, str, int]] = []

        def progress(r):
            stamps.append((time.perf_counter(), r.phase, r.rows_total))

        lock = open(LOCK, "w")  # noqa: SIM115
        if not args.no_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            load_before = os.getloadavg()[0]
            pids = backend_pids(url) if args.db == "postgresql" else []
            backend_before = {pid: proc_cpu(pid) for pid in pids}
            self_before = resource.getrusage(resource.RUSAGE_SELF)
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            options = {"progress": progress}
            if args.batch_size:
                options["batch_size"] = args.batch_size
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                done = profiler.runcall(importer.execute_run, run.id, **options)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
            else:
                done = importer.execute_run(run.id, **options)
            finished = time.perf_counter()
            self_after = resource.getrusage(resource.RUSAGE_SELF)
            children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            backend = 0.0
            if args.db == "postgresql":
                for pid in backend_pids(url):
                    backend += proc_cpu(pid) - backend_before.get(pid, 0.0)
            load_after = os.getloadavg()[0]
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        app_cpu = (
            self_after.ru_utime
            + self_after.ru_stime
            - self_before.ru_utime
            - self_before.ru_stime
            + children_after.ru_utime
            + children_after.ru_stime
            - children_before.ru_utime
            - children_before.ru_stime
        )
        marks = [(started, "start"), *((s[0], s[1]) for s in stamps), (finished, "end")]
        gaps = sorted(
            ((b[0] - a[0], f"{a[1]}->{b[1]}") for a, b in zip(marks, marks[1:], strict=False)), reverse=True
        )
        summary_at = next((s[0] for s in stamps if s[1] == "summary"), finished)
        figures = {
            "tree": str(tree),
            "db": args.db,
            "files": len(paths),
            "status": done.status.value,
            "rows_total": done.rows_total,
            "imported": done.rows_imported,
            "skipped": done.rows_skipped,
            "refused": done.rows_error,
            "wall_s": round(finished - started, 2),
            "rows_phase_s": round(summary_at - started, 2),
            "summary_phase_s": round(finished - summary_at, 2),
            "app_cpu_s": round(app_cpu, 2),
            "backend_cpu_s": round(backend, 2),
            "total_cpu_s": round(app_cpu + backend, 2),
            "load_before": load_before,
            "load_after": load_after,
            "progress_updates": len(stamps),
            "longest_progress_gap_s": round(gaps[0][0], 2),
            "longest_gaps": [(round(g, 2), where) for g, where in gaps[:3]],
            "peak_rss_mb": round(max(self_after.ru_maxrss, children_after.ru_maxrss) / 1024, 1),
        }
        print(json.dumps(figures))
        if args.out:
            figures["tables"] = fingerprint(db)
            Path(args.out).write_text(json.dumps(figures, indent=1))
        db.session.remove()
        db.engine.dispose()
    if args.db == "postgresql" and not args.keep:
        import sqlalchemy as sa

        admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}"'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
