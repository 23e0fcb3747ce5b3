"""Compare BusinessCalendar with businesstimedelta: agreement on a sample, then throughput.

Run from the repository root, on one core:

    python benchmarks/calendar_bench.py            # the figures in docs/sla-calendar.md
    python benchmarks/calendar_bench.py --quick    # a smoke run

businesstimedelta is a dev requirement only (requirements-dev.txt). It has no
extra working days, so the shared cases leave them out; BusinessCalendar is
timed with them as well, on its own.
"""

import argparse
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import businesstimedelta as btd
import pytz

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.domain.calendar import BusinessCalendar  # noqa: E402

# Official 2025 and 2026 public holidays and adjusted working days, as
# published by the State Council (and packaged in chinesecalendar 1.11.0).
# Weekdays only: a holiday on a weekend changes nothing on a Mon-Fri week.
CHINA_HOLIDAYS = """
    2025-01-01 2025-01-28 2025-01-29 2025-01-30 2025-01-31 2025-02-03 2025-02-04 2025-04-04
    2025-05-01 2025-05-02 2025-05-05 2025-06-02 2025-10-01 2025-10-02 2025-10-03 2025-10-06
    2025-10-07 2025-10-08 2026-01-01 2026-01-02 2026-02-16 2026-02-17 2026-02-18 2026-02-19
    2026-02-20 2026-02-23 2026-04-06 2026-05-01 2026-05-04 2026-05-05 2026-06-19 2026-09-25
    2026-10-01 2026-10-02 2026-10-05 2026-10-06 2026-10-07
""".split()
CHINA_EXTRA_WORKDAYS = """
    2025-01-26 2025-02-08 2025-04-27 2025-09-28 2025-10-11
    2026-01-04 2026-02-14 2026-02-28 2026-05-09 2026-09-20 2026-10-10
""".split()
# Berlin's public holidays on weekdays, 2025-2026.
GERMAN_HOLIDAYS = """
    2025-01-01 2025-04-18 2025-04-21 2025-05-01 2025-05-29 2025-06-09 2025-10-03 2025-12-25
    2025-12-26 2026-01-01 2026-04-03 2026-04-06 2026-05-01 2026-05-14 2026-05-25 2026-12-25
""".split()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


class Case:
    """One calendar written for both libraries."""

    def __init__(self, name, zone, day, holidays, extra_workdays=()):
        self.name = name
        self.zone = ZoneInfo(zone)
        self.pytz_zone = pytz.timezone(zone)
        data = {"timezone": zone, "week": {d: day for d in WEEKDAYS}, "holidays": holidays}
        self.calendar = BusinessCalendar.from_dict(data)
        self.with_extra_days = (
            BusinessCalendar.from_dict({**data, "extra_workdays": list(extra_workdays)})
            if extra_workdays
            else None
        )
        # businesstimedelta: one working span per day, lunch as time off.
        opening, closing = clock_time.fromisoformat(day[0][0]), clock_time.fromisoformat(day[-1][1])
        rules = [
            btd.WorkDayRule(
                start_time=opening, end_time=closing, working_days=[0, 1, 2, 3, 4], tz=self.pytz_zone
            )
        ]
        if len(day) == 2:
            rules.append(
                btd.LunchTimeRule(
                    start_time=clock_time.fromisoformat(day[0][1]),
                    end_time=clock_time.fromisoformat(day[1][0]),
                    working_days=[0, 1, 2, 3, 4],
                    tz=self.pytz_zone,
                )
            )
        rules.append(btd.HolidayRule([date.fromisoformat(d) for d in holidays], tz=self.pytz_zone))
        self.rules = btd.Rules(rules)


CASES = [
    Case(
        "Shanghai, 08:30-12:00 + 14:00-17:30, CN holidays",
        "Asia/Shanghai",
        [["08:30", "12:00"], ["14:00", "17:30"]],
        CHINA_HOLIDAYS,
        CHINA_EXTRA_WORKDAYS,
    ),
    Case(
        "Berlin, 09:00-17:00 (DST zone), DE holidays", "Europe/Berlin", [["09:00", "17:00"]], GERMAN_HOLIDAYS
    ),
]
# (label, largest span in business minutes); spans are uniform in (0, largest].
SPANS = [
    ("up to 7 h", 7 * 60),
    ("up to 210 h (30 x 7 h)", 30 * 7 * 60),
    ("up to 720 h (30 x 24 h)", 30 * 24 * 60),
]


def make_starts(case, count, rng):
    """Return (zoneinfo, pytz) start pairs: whole seconds, uniform over 2025."""
    first = datetime(2025, 1, 1, tzinfo=case.zone).timestamp()
    seconds = [int(first + rng.random() * 365 * 86_400) for _ in range(count)]
    return [
        (datetime.fromtimestamp(s, case.zone), datetime.fromtimestamp(s, case.pytz_zone)) for s in seconds
    ]


def boundary_starts(case, rng, count=200):
    """Return (zoneinfo, pytz) starts on opening, lunch and closing times, and spans in whole half-hours.

    Random seconds almost never hit a boundary, where off-by-one differences live.
    """
    times = ["00:00", "08:30", "09:00", "12:00", "13:00", "14:00", "17:00", "17:30", "23:59"]
    pairs = []
    for _ in range(count):
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
        local = datetime.combine(day, clock_time.fromisoformat(rng.choice(times)), case.zone)
        pairs.append((local, local.astimezone(case.pytz_zone)))
    return pairs, [30 * rng.randint(1, 40) for _ in range(count)]


def best_rate(run, count, repeats):
    """Return calls per second of ``run`` (which makes ``count`` calls), best of ``repeats``."""
    best = min(_elapsed(run) for _ in range(repeats))
    return count / best


def _elapsed(run):
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def check_agreement(case, starts, minutes):
    """Return a list of disagreements between the libraries, each described in a line."""
    problems = []
    for (start, start_pytz), span in zip(starts, minutes, strict=True):
        ours = case.calendar.deadline(start, span)
        theirs = start_pytz + btd.BusinessTimeDelta(case.rules, seconds=span * 60)
        if abs(ours.timestamp() - theirs.timestamp()) > 1e-6:
            problems.append(
                f"deadline({start.isoformat()}, {span} min): ours {ours.isoformat()}, businesstimedelta {theirs.isoformat()}"
            )
        elapsed_ours = case.calendar.business_minutes(start, ours)
        elapsed_theirs = case.rules.difference(start_pytz, theirs).timedelta.total_seconds() / 60
        if abs(elapsed_ours - elapsed_theirs) > 1e-6:
            problems.append(
                f"business_minutes({start.isoformat()}, {ours.isoformat()}): ours {elapsed_ours}, businesstimedelta {elapsed_theirs}"
            )
    return problems


def measure(case, starts, minutes, ours_repeats, theirs_budget):
    """Return calls per second: ours (datetime API, with extra days, seconds API, business_minutes) and theirs."""
    zone_starts = [start for start, _ in starts]
    pytz_starts = [start for _, start in starts]
    calendar, extra, rules = case.calendar, case.with_extra_days, case.rules
    deadlines = [calendar.deadline(s, m) for s, m in zip(zone_starts, minutes, strict=True)]
    epoch_starts = [s.timestamp() for s in zone_starts]
    seconds = [m * 60.0 for m in minutes]
    count = len(starts)

    def ours():
        for s, m in zip(zone_starts, minutes, strict=True):
            calendar.deadline(s, m)

    def ours_extra():
        for s, m in zip(zone_starts, minutes, strict=True):
            extra.deadline(s, m)

    def ours_core():
        for s, m in zip(epoch_starts, seconds, strict=True):
            calendar.deadline_seconds(s, m)

    def ours_elapsed():
        for s, d in zip(zone_starts, deadlines, strict=True):
            calendar.business_minutes(s, d)

    def theirs(limit):
        for p, m in zip(pytz_starts[:limit], minutes[:limit], strict=True):
            p + btd.BusinessTimeDelta(rules, seconds=m * 60)

    # businesstimedelta runs the first ``share`` of the same cases, sized to the time budget.
    probe = min(50, count)
    per_call = _elapsed(lambda: theirs(probe)) / probe
    share = max(20, min(count, int(theirs_budget / per_call)))
    pytz_deadlines = [d.astimezone(case.pytz_zone) for d in deadlines[:share]]

    def theirs_elapsed():
        for p, d in zip(pytz_starts[:share], pytz_deadlines, strict=True):
            rules.difference(p, d)

    theirs_repeats = max(2, ours_repeats // 2)
    return {
        "deadline": best_rate(ours, count, ours_repeats),
        "deadline_extra_days": best_rate(ours_extra, count, ours_repeats) if extra else None,
        "deadline_seconds": best_rate(ours_core, count, ours_repeats),
        "business_minutes": best_rate(ours_elapsed, count, ours_repeats),
        "btd_deadline": best_rate(lambda: theirs(share), share, theirs_repeats),
        "btd_difference": best_rate(theirs_elapsed, share, theirs_repeats),
        "btd_cases": share,
    }


def first_use_ms(case, repeats):
    """Return the milliseconds a fresh calendar takes to validate and answer its first deadline."""
    definition, opening = case.calendar.to_dict(), datetime(2025, 6, 2, 9, tzinfo=case.zone)
    return 1000 * min(
        _elapsed(lambda: BusinessCalendar.from_dict(definition).deadline(opening, 1)) for _ in range(repeats)
    )


def report_disagreements(title, problems, count):
    print(f"  {title}: {count} cases compared, {len(problems)} disagreements")
    for line in problems[:5]:
        print(f"    {line}")


def print_table(rows):
    header = (
        "calendar",
        "spans (business time)",
        "deadline/s",
        "+extra days",
        "seconds API/s",
        "btd deadline/s",
        "ratio",
        "business_minutes/s",
        "btd difference/s",
        "ratio",
    )
    table = [header] + [
        (
            name,
            label,
            f"{r['deadline']:,.0f}",
            f"{r['deadline_extra_days']:,.0f}" if r["deadline_extra_days"] else "-",
            f"{r['deadline_seconds']:,.0f}",
            f"{r['btd_deadline']:,.0f}",
            f"{r['deadline'] / r['btd_deadline']:,.0f}x",
            f"{r['business_minutes']:,.0f}",
            f"{r['btd_difference']:,.0f}",
            f"{r['business_minutes'] / r['btd_difference']:,.0f}x",
        )
        for name, label, r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    parser.add_argument("--seed", type=int, default=20250101)
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    count, theirs_budget, repeats, sample = (2_000, 0.2, 2, 100) if options.quick else (50_000, 2.0, 5, 500)

    print(
        f"Python {sys.version.split()[0]}, businesstimedelta {_version('businesstimedelta')}, "
        f"one core, best of {repeats}; {count:,} cases per row (businesstimedelta: a time-boxed share)"
    )
    rng = random.Random(options.seed)
    rows = []
    for case in CASES:
        print(
            f"\n{case.name}: first use (validation + laying out a year): {first_use_ms(case, repeats):.1f} ms"
        )
        edge_starts, edge_minutes = boundary_starts(case, rng)
        report_disagreements(
            "boundary starts (opening, lunch, closing)",
            check_agreement(case, edge_starts, edge_minutes),
            len(edge_starts),
        )
        for label, largest in SPANS:
            starts = make_starts(case, count, rng)
            minutes = [rng.randint(1, largest) for _ in starts]
            report_disagreements(label, check_agreement(case, starts[:sample], minutes[:sample]), sample)
            result = measure(case, starts, minutes, repeats, theirs_budget)
            print(f"    timed: {count:,} cases, businesstimedelta on the first {result['btd_cases']:,}")
            rows.append((case.name.split(",")[0], label, result))
    print()
    print_table(rows)


def _version(package):
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
