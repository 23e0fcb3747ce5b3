"""Brute-force business time, one UTC minute at a time, to check BusinessCalendar against.

Deliberately naive: each minute is converted to local time and tested
against that local date's intervals, so it shares no logic with the real
calendar beyond reading the same dict. Inputs must be whole minutes; every
zone used in the tests has whole-minute offsets, so a minute is either all
working time or none of it.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _minute_of(instant: datetime) -> int:
    seconds = instant.timestamp()
    assert seconds % 60 == 0, f"reference works on whole minutes, got {instant}"
    return int(seconds) // 60


class ReferenceCalendar:
    """Answer business-time questions by looking at every minute."""

    def __init__(self, data: dict) -> None:
        self.zone = ZoneInfo(data["timezone"])
        week = data.get("week", {})
        self.week = [[(_minutes(a), _minutes(b)) for a, b in week.get(name, [])] for name in WEEKDAYS]
        self.holidays = {date.fromisoformat(d) for d in data.get("holidays", [])}
        self.extra_workdays = {date.fromisoformat(d) for d in data.get("extra_workdays", [])}
        hours = data.get("extra_workday_hours")
        self.extra_hours = (
            [(_minutes(a), _minutes(b)) for a, b in hours] if hours is not None else self.week[0]
        )

    def is_working_minute(self, minute: int) -> bool:
        """Return whether the UTC minute starting ``minute`` minutes after the epoch is working time."""
        local = datetime.fromtimestamp(minute * 60, self.zone)
        day = local.date()
        if day in self.holidays:
            hours = []
        elif day in self.extra_workdays:
            hours = self.extra_hours
        else:
            hours = self.week[day.weekday()]
        wall = local.hour * 60 + local.minute
        return any(start <= wall < end for start, end in hours)

    def business_minutes(self, start: datetime, end: datetime, pauses=()) -> int:
        """Count the working, unpaused minutes in [start, end)."""
        paused = [(_minute_of(a), _minute_of(b)) for a, b in pauses]
        return sum(
            1
            for minute in range(_minute_of(start), _minute_of(end))
            if self.is_working_minute(minute) and not any(a <= minute < b for a, b in paused)
        )

    def deadline(self, start: datetime, minutes: int, pauses=(), horizon_minutes: int = 0):
        """Return the end of the minute in which the ``minutes``-th business minute is counted.

        The result is in UTC: ``start`` itself for 0 minutes. None if the count
        is not reached within ``horizon_minutes`` real minutes of ``start``.
        """
        if minutes == 0:
            return start.astimezone(UTC)
        paused = [(_minute_of(a), _minute_of(b)) for a, b in pauses]
        first = _minute_of(start)
        counted = 0
        for minute in range(first, first + horizon_minutes):
            if self.is_working_minute(minute) and not any(a <= minute < b for a, b in paused):
                counted += 1
                if counted == minutes:
                    return datetime.fromtimestamp((minute + 1) * 60, UTC)
        return None
