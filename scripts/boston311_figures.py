"""Compute the Boston 311 SLA figures from the raw files alone, and compare them with the app's reports.

    .venv/bin/python scripts/boston311_figures.py ../shared/data/boston-311-2015/raw
    DATABASE_URL=... .venv/bin/python scripts/boston311_figures.py --compare ../shared/data/boston-311-2015/raw

The first half uses nothing of the application: ``csv``, ``gzip`` and
``datetime`` over the city's columns, as SOURCE.md describes them, read "as
of" 2016-01-13 00:00:00 Boston time (the export's night). Per department
(SUBJECT):

- tickets, closed (CASE_STATUS = Closed), open;
- with a target (TARGET_DT set): met = closed at or before TARGET_DT;
  breached = closed after it, or open with TARGET_DT before "as of";
  running = open with TARGET_DT at or after "as of";
- met % = met / (met + breached): the app's definition (docs/figures.md);
- the city's on-time % = (tickets - breached) / tickets: tickets without a
  target, and open ones still within it, count as on time (SOURCE.md, "On-time
  flag"); checked against the city's own OnTime_Status column.

``--compare`` then reads the same figures from the application's reports
(``reports.figures_by`` per centre over the whole period, the summary the
dashboards read) in the database the import wrote, and prints both side by
side; it exits with status 1 on any difference. The test
``tests/integration/test_boston311.py`` does the same on a slice.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

FORMAT = "%m/%d/%Y %I:%M:%S %p"
AS_OF = datetime(2016, 1, 13, 0, 0, 0)  # naive Boston time, as the source's timestamps


@dataclass
class Department:
    tickets: int = 0
    closed: int = 0
    open: int = 0
    with_target: int = 0
    met: int = 0
    breached: int = 0
    running: int = 0
    city_flags: dict = field(default_factory=lambda: defaultdict(int))
    city_agrees: int = 0
    city_flagged: int = 0

    @property
    def met_percent(self) -> float | None:
        measured = self.met + self.breached
        return round(100 * self.met / measured, 2) if measured else None

    @property
    def city_on_time_percent(self) -> float | None:
        return round(100 * (self.tickets - self.breached) / self.tickets, 2) if self.tickets else None


def files_of(paths) -> list[Path]:
    found = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz"))))
        else:
            found.append(path)
    return found


def rows_of(paths):
    for path in files_of(paths):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)


def compute(paths, as_of: datetime = AS_OF) -> dict[str, Department]:
    """Return the figures per department (SUBJECT), from the raw rows only."""
    result: dict[str, Department] = defaultdict(Department)
    for row in rows_of(paths):
        figures = result[row["SUBJECT"]]
        figures.tickets += 1
        is_closed = row["CASE_STATUS"] == "Closed"
        if is_closed:
            figures.closed += 1
        else:
            figures.open += 1
        late = False
        if row["TARGET_DT"]:
            target = datetime.strptime(row["TARGET_DT"], FORMAT)
            figures.with_target += 1
            if is_closed:
                closed = datetime.strptime(row["CLOSED_DT"], FORMAT)
                late = closed > target
                if late:
                    figures.breached += 1
                else:
                    figures.met += 1
            elif target < as_of:
                late = True
                figures.breached += 1
            else:
                figures.running += 1
        flag = row["OnTime_Status"]
        figures.city_flags[flag or "blank"] += 1
        if flag:
            figures.city_flagged += 1
            figures.city_agrees += (flag == "OVERDUE") == late
    return dict(result)


def app_figures(as_of_utc) -> dict[str, dict]:
    """Return the same figures per centre (its English name) from the application's reports."""
    from datetime import date

    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Centre
    from tracker.services.insight import reports

    filters = reports.Filters(first=date(2014, 12, 1), last=date(2016, 2, 1))
    rows, _total = reports.figures_by(filters, "centre", as_of_utc)
    names = dict(db.session.execute(select(Centre.id, Centre.name_en)).all())
    result = {}
    for figures in rows:
        met, breached = figures.met["resolution"], figures.breached["resolution"]
        result[names[figures.key]] = {
            "tickets": figures.received,
            "closed": figures.closed,
            "open": figures.backlog,
            "met": met,
            "breached": breached,
            "met_percent": round(100 * met / (met + breached), 2) if met + breached else None,
            "city_on_time_percent": round(100 * (figures.received - breached) / figures.received, 2)
            if figures.received else None,
        }
    return result


COMPARED = ("tickets", "closed", "open", "met", "breached", "met_percent", "city_on_time_percent")


def raw_as_dict(department: Department) -> dict:
    return {name: getattr(department, name) for name in COMPARED}


def differences(raw: dict[str, Department], app: dict[str, dict]) -> list[str]:
    """Return one line per figure that differs (empty when the app agrees with the raw files)."""
    lines = []
    for name in sorted(set(raw) | set(app)):
        want = raw_as_dict(raw[name]) if name in raw else None
        got = app.get(name)
        if want != got:
            lines.append(f"{name}: raw {want} app {got}")
    return lines


def print_table(raw: dict[str, Department], app: dict[str, dict] | None = None) -> None:
    head = f"{'department':38} {'tickets':>8} {'closed':>7} {'open':>6} {'met':>7} {'breached':>8} " \
           f"{'met %':>7} {'city %':>7}"
    print(head)
    total = Department()
    for name in sorted(raw):
        d = raw[name]
        for attribute in ("tickets", "closed", "open", "met", "breached", "running", "city_agrees", "city_flagged"):
            setattr(total, attribute, getattr(total, attribute) + getattr(d, attribute))
        mark = "" if app is None else ("  = app" if app.get(name) == raw_as_dict(d) else "  DIFFERS")
        print(f"{name[:38]:38} {d.tickets:8,} {d.closed:7,} {d.open:6,} {d.met:7,} {d.breached:8,} "
              f"{d.met_percent if d.met_percent is not None else '—':>7} {d.city_on_time_percent:>7}{mark}")
    print(f"{'all':38} {total.tickets:8,} {total.closed:7,} {total.open:6,} {total.met:7,} {total.breached:8,} "
          f"{total.met_percent:>7} {total.city_on_time_percent:>7}")
    print(f"running (open, within target): {total.running:,}; the city's OnTime_Status agrees on "
          f"{total.city_agrees:,} of {total.city_flagged:,} flagged rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--compare", action="store_true", help="Compare with the app's reports (DATABASE_URL).")
    args = parser.parse_args()
    raw = compute(args.paths)
    if not args.compare:
        print_table(raw)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tracker import create_app
    from tracker.services.requests import importer

    app = create_app()
    with app.app_context():
        as_of = importer.ensure_aware(AS_OF, "America/New_York")
        found = app_figures(as_of)
    print_table(raw, found)
    problems = differences(raw, found)
    for line in problems:
        print(line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
