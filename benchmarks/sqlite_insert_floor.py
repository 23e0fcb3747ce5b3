"""The SQLite floor of an import (docs/import.md, "The floor with the keys (2026-12-08)").

After an import on the embedded default (``benchmarks/import_ab.py --db sqlite``
leaves its database in /tmp/importpipe_ab_*/ab.db), time SQLite alone taking
the rows that import wrote: the tickets, their events and SLA clocks are
copied with ``INSERT … SELECT`` from the imported file (attached) into an
emptied copy of it, with every index, with the foreign keys checked as the
app's connections check them (``PRAGMA foreign_keys=ON``, WAL,
``synchronous=NORMAL``), in one transaction. No Python runs per row: it is
what the database engine needs, before any reading, checking or clocks.

    .venv/bin/python benchmarks/sqlite_insert_floor.py /tmp/importpipe_ab_XXXX/ab.db
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("tickets", "ticket_events", "ticket_slas")


def main(source: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="sqlite_floor_"))
    try:
        target = work / "floor.db"
        shutil.copy(source, target)
        conn = sqlite3.connect(target, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=OFF")
        for table in ("notifications", "daily_stats", *reversed(TABLES)):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("ATTACH DATABASE ? AS src", (source,))
        rows = {t: conn.execute(f"SELECT count(*) FROM src.{t}").fetchone()[0] for t in TABLES}
        started_cpu, started = time.process_time(), time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            t0 = time.perf_counter()
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
            print(f"{table}: {rows[table]:,} rows, {time.perf_counter() - t0:.2f} s", flush=True)
        conn.execute("COMMIT")
        print(f"all three in one transaction, keys checked: wall {time.perf_counter() - started:.2f} s, "
              f"CPU {time.process_time() - started_cpu:.2f} s")
        conn.close()
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
