"""China's statutory holidays and moved working days, from ``chinesecalendar``.

The State Council publishes each year's arrangement late in the year before;
the package carries the published years only. A year it does not know is
reported as missing, never filled with guesses (the ``holidays`` package
derives later years from rules but without the moved working days, which is
exactly the part that matters here).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_, Message
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Calendar, CalendarEnteredDay, CalendarVersion, SlaPolicy, User
from tracker.services.sla.clocks import policy_definition


@dataclass
class ChinaDays:
    holidays: list[str] = field(default_factory=list)
    extra_workdays: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    missing_years: list[int] = field(default_factory=list)


def known_years() -> range:
    """Return the years the installed chinesecalendar has published data for."""
    return _known_years(len(chinese_calendar.holidays))


@lru_cache(maxsize=4)
def _known_years(_count: int) -> range:
    years = sorted({d.year for d in chinese_calendar.holidays})
    return range(years[0], years[-1] + 1)


@lru_cache(maxsize=16)
def _official_days(year: int, _count: int) -> frozenset[str]:
    """Return the installed data's days off of ``year`` as ISO dates (kept: the data is installed)."""
    return frozenset(d.isoformat() for d in chinese_calendar.holidays if d.year == year)


def china_days(years) -> ChinaDays:
    """Return the holidays and the weekend days made working days in ``years``."""
    known = known_years()
    result = ChinaDays()
    for year in sorted(set(years)):
        if year not in known:
            result.missing_years.append(year)
            continue
        result.years.append(year)
        # Every official day off, weekends inside a holiday period included:
        # a calendar that works Saturdays must not work them either.
        result.holidays += sorted(d.isoformat() for d in chinese_calendar.holidays if d.year == year)
        result.extra_workdays += sorted(
            d.isoformat() for d in chinese_calendar.workdays if d.year == year and d.weekday() >= 5
        )
    return result


def merge(definition: dict, found: ChinaDays) -> dict:
    """Return ``definition`` with ``found``'s days added; local closures by hand stay.

    Dates are not tagged with where they came from, so a revised year's
    withdrawn dates are not removed by a new import: edit them by hand.
    """
    holidays = set(definition.get("holidays", [])) | set(found.holidays)
    extra = set(definition.get("extra_workdays", []))
    extra |= {d for d in found.extra_workdays if d not in holidays}
    extra -= set(found.holidays)
    merged = dict(definition)
    merged["holidays"] = sorted(holidays)
    merged["extra_workdays"] = sorted(extra)
    return merged


def import_china_holidays(calendar_id: int, years, *, actor: User | None, now: datetime):
    """Add China's days for ``years`` to a calendar as a new version; commit.

    Returns (new version or None when nothing changed, ChinaDays). Raises
    ValidationFailed when none of the years has data.
    """
    from tracker.services.sla.config import save_calendar_version

    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        raise NotFound()
    found = china_days(years)
    if not found.years:
        known = known_years()
        raise ValidationFailed(
            N_("No published holiday data for %(years)s; the installed data covers %(first)d to %(last)d."),
            years=", ".join(str(y) for y in found.missing_years),
            first=known.start,
            last=known.stop - 1,
        )
    definition = merge(calendar.current_version.definition, found)
    note = "China holidays " + ", ".join(str(y) for y in found.years)
    version = save_calendar_version(
        calendar.id, definition=definition, follows_china_holidays=True, note=note, actor=actor, now=now
    )
    return version, found


def coverage_warnings(calendar: Calendar, today: date) -> list[int]:
    """Return this or next year when a China-following calendar lacks China's days for it.

    A year is covered when the installed data knows it and every official
    day off of it is in the calendar, or when an administrator entered its
    published holidays (``enter_days``); closures typed into the holiday
    list cover nothing.
    """
    if not calendar.follows_china_holidays or calendar.current_version is None:
        return []
    holidays = set(calendar.current_version.definition.get("holidays", []))
    known = known_years()
    entered = _entered_years(calendar.id)
    missing = []
    for year in (today.year, today.year + 1):
        if year in entered:
            continue  # an administrator entered the published schedule
        official = _official_days(year, len(chinese_calendar.holidays))
        if year not in known or not official <= holidays:
            missing.append(year)
    return missing


# ---------------------------------------------------------------- days entered by an administrator

# The State Council publishes next year's schedule in November or December;
# the installed package may take weeks to follow. Until then an
# administrator enters the published days, by hand or from a file
# (date,kind,name), and they go into the calendar exactly as imported days.

HOLIDAY, WORKDAY = "holiday", "workday"
KIND_LABELS = {HOLIDAY: N_("Holiday"), WORKDAY: N_("Make-up working day")}
# What a file may say in its kind column (case and spaces ignored).
KIND_WORDS = {
    "holiday": HOLIDAY,
    "休": HOLIDAY,
    "假": HOLIDAY,
    "放假": HOLIDAY,
    "节假日": HOLIDAY,
    "workday": WORKDAY,
    "working day": WORKDAY,
    "班": WORKDAY,
    "上班": WORKDAY,
    "补班": WORKDAY,
    "调休上班": WORKDAY,
}
NAME_MAX = 100
FILE_ROWS_MAX = 400
FILE_BYTES_MAX = 64 * 1024
# Years one may enter: this one and the next two (a typo such as 2207 is refused).
YEARS_AHEAD = 2
WARN_FROM_MONTH = 12
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class EnteredDay:
    day: date
    kind: str  # HOLIDAY | WORKDAY
    name: str


class DaysRefused(ValidationFailed):
    """Some entered days are wrong; ``rows`` holds (row number, Message) per bad row. Nothing was stored."""

    def __init__(self, rows: list[tuple[int, Message]]):
        super().__init__(
            N_("Rows with errors: %(count)s. Nothing was saved; correct them and try again."), count=len(rows)
        )
        self.rows = rows


def _check_rows(rows: list[tuple[int, str, str, str]], definition: dict, today: date) -> list[EnteredDay]:
    """Check (row number, date, kind, name) rows; return the days or raise DaysRefused listing every bad row."""
    errors: list[tuple[int, Message]] = []
    days: list[EnteredDay] = []
    seen: dict[date, int] = {}
    week = definition.get("week") or {}
    first, last = today.year, today.year + YEARS_AHEAD
    for number, day_text, kind_text, name in rows:
        day_text, name = (day_text or "").strip(), (name or "").strip()
        problem = None
        try:
            day = date.fromisoformat(day_text)
            if len(day_text) != 10:
                raise ValueError
        except ValueError:
            day = None
            problem = Message(N_("“%(value)s” is not a date YYYY-MM-DD."), value=day_text[:40])
        kind = KIND_WORDS.get(" ".join((kind_text or "").lower().split()))
        if problem is None and kind is None:
            problem = Message(
                N_("“%(value)s” is not a kind: write holiday (休) or workday (班)."),
                value=(kind_text or "").strip()[:40],
            )
        if problem is None and not name:
            problem = Message(N_("Give the day a name, e.g. 春节 or Spring Festival."))
        if problem is None and len(name) > NAME_MAX:
            problem = Message(N_("The name is longer than %(max)d characters."), max=NAME_MAX)
        if problem is None and not first <= day.year <= last:
            problem = Message(
                N_("%(day)s is outside the years %(first)d to %(last)d."),
                day=day.isoformat(),
                first=first,
                last=last,
            )
        if problem is None and day in seen:
            problem = Message(
                N_("%(day)s is listed already, in row %(row)d."), day=day.isoformat(), row=seen[day]
            )
        if problem is None and kind == WORKDAY and week.get(WEEKDAY_KEYS[day.weekday()]):
            problem = Message(
                N_(
                    "%(day)s is a working day of this calendar's week already; a make-up working "
                    "day is a day off in the week (a weekend day)."
                ),
                day=day.isoformat(),
            )
        if problem is not None:
            errors.append((number, problem))
            continue
        seen[day] = number
        days.append(EnteredDay(day, kind, name))
    if errors:
        raise DaysRefused(errors)
    if not days:
        raise ValidationFailed(N_("No days were given."))
    return days


def read_days_file(data: bytes) -> list[tuple[int, str, str, str]]:
    """Return the rows of a CSV file ``date,kind,name`` as (row number, date, kind, name); a header row is skipped.

    UTF-8 (with or without BOM) or GB18030, as spreadsheets in China save
    CSV. Raises ValidationFailed for an unreadable or oversized file and
    DaysRefused for rows without three columns.
    """
    if len(data) > FILE_BYTES_MAX:
        raise ValidationFailed(N_("The file is larger than %(size)d KB."), size=FILE_BYTES_MAX // 1024)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(N_("The file is not text in UTF-8 or GB18030."))
    rows, errors = [], []
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise ValidationFailed(N_("The file is not a CSV file.")) from None
    for number, cells in enumerate(lines, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("date", "日期"):
            continue
        if len(cells) < 3 or any(cells[3:]):
            errors.append(
                (
                    number,
                    Message(
                        N_("Expected three columns date,kind,name; found %(count)d."),
                        count=len([c for c in cells if c]),
                    ),
                )
            )
            continue
        rows.append((number, cells[0], cells[1], cells[2]))
    if len(rows) + len(errors) > FILE_ROWS_MAX:
        raise ValidationFailed(N_("The file has more than %(max)d rows."), max=FILE_ROWS_MAX)
    if errors:
        raise DaysRefused(errors)
    return rows


def range_rows(first: date, last: date | None, kind: str, name: str) -> list[tuple[int, str, str, str]]:
    """Return the rows of the form's entry: every day from ``first`` to ``last`` (at most 31), numbered 1…"""
    last = last or first
    if last < first:
        raise ValidationFailed(N_("The last day is before the first."))
    if (last - first).days >= 31:
        raise ValidationFailed(N_("Enter at most 31 days at once."))
    return [
        (i + 1, (first + timedelta(days=i)).isoformat(), kind, name) for i in range((last - first).days + 1)
    ]


def enter_days(
    calendar_id: int,
    rows: list[tuple[int, str, str, str]],
    *,
    source: str,
    actor: User,
    now: datetime,
    today: date,
) -> tuple[CalendarVersion | None, list[EnteredDay]]:
    """Add days an administrator entered to a calendar as a new version, with their names; commit.

    ``rows`` are (row number, date, kind, name). Every row is checked
    first: one bad row and nothing is stored (DaysRefused lists them all).
    An entered day is authoritative for its date: a holiday leaves the
    make-up days and a make-up day leaves the holidays. Returns (new
    version or None when the calendar had the days already, the days).
    """
    from tracker.services.sla.config import save_calendar_version

    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None or calendar.current_version is None:
        raise NotFound()
    definition = dict(calendar.current_version.definition)
    days = _check_rows(rows, definition, today)
    entered_holidays = {d.day.isoformat() for d in days if d.kind == HOLIDAY}
    entered_workdays = {d.day.isoformat() for d in days if d.kind == WORKDAY}
    definition["holidays"] = sorted(
        (set(definition.get("holidays", [])) - entered_workdays) | entered_holidays
    )
    definition["extra_workdays"] = sorted(
        (set(definition.get("extra_workdays", [])) - entered_holidays) | entered_workdays
    )
    note = ("Entered from a file: " if source == "file" else "Entered by hand: ") + "; ".join(
        f"{d.day.isoformat()} {d.kind} {d.name}" for d in days
    )

    def record(saved_calendar, version):
        version_id = version.id if version is not None else saved_calendar.current_version_id
        db.session.add_all(
            [
                CalendarEnteredDay(
                    calendar_id=calendar_id,
                    version_id=version_id,
                    day=d.day,
                    kind=d.kind,
                    name=d.name,
                    source=source,
                    created_at=now,
                    created_by_id=actor.id,
                )
                for d in days
            ]
        )

    try:
        version = save_calendar_version(
            calendar_id, definition=definition, note=note, actor=actor, now=now, on_saved=record
        )
    except Exception:
        db.session.rollback()
        raise
    return version, days


def entered_days(calendar_id: int) -> list[CalendarEnteredDay]:
    """Return the days entered for a calendar, the latest entry per date, by date."""
    rows = db.session.execute(
        select(CalendarEnteredDay)
        .where(CalendarEnteredDay.calendar_id == calendar_id)
        .order_by(CalendarEnteredDay.day, CalendarEnteredDay.id)
    ).scalars()
    return list({row.day: row for row in rows}.values())


def _entered_years(calendar_id: int) -> set[int]:
    """Return the years with a holiday entered for the calendar."""
    days = db.session.execute(
        select(CalendarEnteredDay.day).where(
            CalendarEnteredDay.calendar_id == calendar_id, CalendarEnteredDay.kind == HOLIDAY
        )
    ).scalars()
    return {d.year for d in days}


@dataclass(frozen=True)
class MissingYear:
    calendar: Calendar
    year: int


def calendars_in_use() -> list[Calendar]:
    """Return the active calendars that an active policy's current version times a target on, by code.

    The calendars come with their current version (the holiday check reads
    it for each); the policies' definitions are kept per process by version.
    """
    codes: set[str] = set()
    for version_id in db.session.execute(
        select(SlaPolicy.current_version_id).where(
            SlaPolicy.is_active.is_(True), SlaPolicy.current_version_id.is_not(None)
        )
    ).scalars():
        targets = policy_definition(version_id).get("targets") or {}
        codes |= {rule.get("calendar") for rule in targets.values() if rule.get("calendar")}
    if not codes:
        return []
    return list(
        db.session.execute(
            select(Calendar)
            .where(Calendar.code.in_(codes), Calendar.is_active.is_(True))
            .options(joinedload(Calendar.current_version))
            .order_by(Calendar.code)
        )
        .unique()
        .scalars()
    )


def next_year_missing(today: date) -> list[MissingYear]:
    """Return the calendars in use that lack next year's holidays, from 1 December (``today``: campus date).

    A calendar that follows China's holidays lacks them as
    ``coverage_warnings`` says; another one when it lists holidays this
    year but none next year (a round-the-clock calendar lists none and
    lacks nothing).
    """
    if today.month < WARN_FROM_MONTH:
        return []
    year = today.year + 1
    missing = []
    for calendar in calendars_in_use():
        if calendar.current_version is None:
            continue
        if calendar.follows_china_holidays:
            if year in coverage_warnings(calendar, today):
                missing.append(MissingYear(calendar, year))
            continue
        listed = {int(d[:4]) for d in calendar.current_version.definition.get("holidays", [])}
        if today.year in listed and year not in listed:
            missing.append(MissingYear(calendar, year))
    return missing
