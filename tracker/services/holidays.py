"""China's statutory holidays and moved working days, from ``chinesecalendar``.

The State Council publishes each year's arrangement late in the year before;
the package carries the published years only. A year it does not know is
reported as missing, never filled with guesses (the ``holidays`` package
derives later years from rules but without the moved working days, which is
exactly the part that matters here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import chinese_calendar

from tracker.domain.i18n import N_
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Calendar, User


@dataclass
class ChinaDays:
    holidays: list[str] = field(default_factory=list)
    extra_workdays: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    missing_years: list[int] = field(default_factory=list)


def known_years() -> range:
    """Return the years the installed chinesecalendar has published data for."""
    years = sorted({d.year for d in chinese_calendar.holidays})
    return range(years[0], years[-1] + 1)


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
        result.extra_workdays += sorted(d.isoformat() for d in chinese_calendar.workdays if d.year == year
                                        and d.weekday() >= 5)
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
    from tracker.services.sla_config import save_calendar_version

    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        raise NotFound()
    found = china_days(years)
    if not found.years:
        known = known_years()
        raise ValidationFailed(
            N_("No published holiday data for %(years)s; the installed data covers %(first)d to %(last)d."),
            years=", ".join(str(y) for y in found.missing_years), first=known.start, last=known.stop - 1,
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
    day off of it is in the calendar; hand-added closures cover nothing.
    """
    if not calendar.follows_china_holidays or calendar.current_version is None:
        return []
    holidays = set(calendar.current_version.definition.get("holidays", []))
    known = known_years()
    missing = []
    for year in (today.year, today.year + 1):
        official = {d.isoformat() for d in chinese_calendar.holidays if d.year == year}
        if year not in known or not official <= holidays:
            missing.append(year)
    return missing
