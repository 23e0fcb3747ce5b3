"""Where the Boston 311 import's time goes (docs/import.md, "Speed: the Boston example").

Imports ``../shared/data/boston-311-2015/raw`` into the database of
``DATABASE_URL`` (a fresh one, migrated with ``flask db upgrade heads``;
unset: the embedded SQLite default) through ``importer.execute_run``, as
``flask import-tickets --preset boston-311 --as-of 2016-01-13T00:00`` does,
and prints wall and CPU time, the cyclic collector's passes, and on
PostgreSQL the CPU its backend used.

    .venv/bin/python benchmarks/boston_profile.py gc              # times and the collector's share
    NOGC=1 .venv/bin/python benchmarks/boston_profile.py gc       # the same with the collector as it was
    .venv/bin/python benchmarks/boston_profile.py wall out.txt    # pyinstrument (PYTHONPATH to it)
    .venv/bin/python benchmarks/boston_profile.py --floor         # gzip + csv (+ strptime) alone
"""

import contextlib
import csv
import gc
import gzip
import os
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "boston-311-2015" / "raw"


def floor() -> None:
    files = sorted(DATA.glob("*.csv.gz"))
    for with_times in (False, True):
        wall, cpu, count = time.perf_counter(), time.process_time(), 0
        for path in files:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
                reader = csv.reader(stream)
                header = next(reader)
                columns = [header.index(c) for c in ("OPEN_DT", "CLOSED_DT", "TARGET_DT")]
                for row in reader:
                    count += 1
                    if with_times:
                        for i in columns:
                            if row[i]:
                                datetime.strptime(row[i], "%m/%d/%Y %I:%M:%S %p")
        print(f"{'csv + 3 strptime' if with_times else 'csv only'}: {count} rows, "
              f"wall {time.perf_counter() - wall:.2f} s, cpu {time.process_time() - cpu:.2f} s")


def main() -> None:
    if sys.argv[1] == "--floor":
        floor()
        return
    from tracker.clock import utcnow
    from tracker.extensions import db
    from tracker.models import ImportRun
    from tracker.services.requests import importer
    from wsgi import app

    mode = sys.argv[1]
    files = [{"name": p.name, "path": str(p)} for p in sorted(DATA.glob("*.csv.gz"))]
    with app.app_context():
        importer.ensure_builtin_mappings(now=utcnow())
        run = importer.create_run(
            mapping=importer.mapping_by_code("boston-311"), files=files, dry_run=False,
            as_of=importer.utc_from_local(datetime(2016, 1, 13), "America/New_York"),
            time_zone=None, encoding="utf-8", actor=None, now=utcnow())

        def backend_cpu() -> float:
            if db.session.get_bind().dialect.name != "postgresql":
                return 0.0
            pid = db.session.execute(db.text("select pg_backend_pid()")).scalar_one()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        backend = backend_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        if mode == "gc":
            if os.environ.get("NOGC") == "1":
                importer.collector_paused = contextlib.nullcontext
            spent = {"cpu": 0.0, "passes": 0, "start": 0.0}

            def watch(phase, _info):
                if phase == "start":
                    spent["start"] = time.process_time()
                else:
                    spent["cpu"] += time.process_time() - spent["start"]
                    spent["passes"] += 1

            gc.callbacks.append(watch)
            importer.execute_run(run.id)
            gc.callbacks.remove(watch)
            print(f"cyclic collector: {spent['passes']} passes, {spent['cpu']:.2f} s CPU")
        else:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
            importer.execute_run(run.id)
            profiler.stop()
            Path(sys.argv[2]).write_text(profiler.output_text(unicode=False, color=False))
        print(f"backend cpu {backend_cpu() - backend:.2f} s")
        print(f"wall {time.perf_counter() - wall:.1f} s, cpu {time.process_time() - cpu:.2f} s, "
              f"{db.session.get(ImportRun, run.id).rows_imported:,} imported")


if __name__ == "__main__":
    main()
