"""A source system's timestamps: its formats, its time zone, and the daylight-saving edges.

Imported files usually carry naive local times (Boston's 311 export writes
``01/05/2015 12:40:41 PM`` in America/New_York). ``SourceClock`` turns them
into aware UTC instants. Two local times need a rule of their own:

- a time that does not exist (the clock jumped from 02:00 to 03:00, so
  02:30 never happened) is read as if the clock had not been moved yet:
  02:30 EST, which is 03:30 EDT. The value is kept, shifted forward by the
  gap, and counted as ``SHIFTED``;
- a time that happened twice (the clock fell back from 02:00 to 01:00, so
  01:30 came twice) is read as its first occurrence (01:30 EDT), and
  counted as ``AMBIGUOUS``.

Both choices are what a wall clock that was not yet changed would show, and
they never refuse a row: a source's export cannot be corrected after the
fact, and a refused row would change the source's own figures. Values with
an explicit offset (ISO 8601 ``...+02:00`` or ``Z``) keep it and ignore the
zone. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["AMBIGUOUS", "ISO", "SHIFTED", "SourceClock", "SourceTimeError"]

# The format name for ISO 8601 (``datetime.fromisoformat``): 2015-01-05 12:40:41, 2015-01-05T12:40, ...
ISO = "iso"
SHIFTED = "shifted"  # did not exist locally (spring forward): moved forward by the gap
AMBIGUOUS = "ambiguous"  # happened twice locally (fall back): the first occurrence

_US_12H = "%m/%d/%Y %I:%M:%S %p"
_HOUR = timedelta(hours=1)


class SourceTimeError(ValueError):
    """A time zone or a date format that cannot be used."""


class SourceClock:
    """Read one source's timestamps in its time zone and formats.

    ``formats`` are tried in order: ``ISO`` or ``strptime`` formats.
    """

    def __init__(self, zone: str, formats: list[str] | tuple[str, ...]):
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise SourceTimeError(f"unknown time zone {zone!r}") from None
        formats = tuple(f.strip() for f in formats if f and f.strip()) or (ISO,)
        for fmt in formats:
            if fmt != ISO and "%" not in fmt:
                raise SourceTimeError(f"not a date format: {fmt!r}")
        self.formats = formats
        # Local date -> its fixed UTC offset, or None when the offset changes that day.
        self._offsets: dict[date, timedelta | None] = {}

    def parse(self, value) -> tuple[datetime, str | None]:
        """Return (the aware UTC instant, SHIFTED / AMBIGUOUS / None) of a text or datetime.

        Raises ValueError when no format reads the value.
        """
        if isinstance(value, datetime):
            naive = value
        else:
            text = str(value).strip()
            naive = self._read(text)
        if naive.tzinfo is not None:
            return naive.astimezone(UTC), None
        return self.localize(naive)

    def localize(self, naive: datetime) -> tuple[datetime, str | None]:
        """Return the UTC instant of a naive local time, with the daylight-saving flag."""
        day = naive.date()
        try:
            offset = self._offsets[day]
        except KeyError:
            offset = self._offsets[day] = self._day_offset(day)
        if offset is not None:
            return (naive - offset).replace(tzinfo=UTC), None
        first = naive.replace(tzinfo=self.zone, fold=0)
        second = naive.replace(tzinfo=self.zone, fold=1)
        before, after = first.utcoffset(), second.utcoffset()
        instant = (naive - before).replace(tzinfo=UTC)
        if before == after:
            return instant, None
        # PEP 495: in a gap fold=0 uses the offset before the jump (read "as
        # if the clock had not been moved"); in an overlap, the first occurrence.
        back = instant.astimezone(self.zone).replace(tzinfo=None)
        return instant, AMBIGUOUS if back == naive else SHIFTED

    def _day_offset(self, day: date) -> timedelta | None:
        """Return the UTC offset of a local day when it is the same all day long (no transition)."""
        start = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        utc = start.astimezone(UTC) - 2 * _HOUR
        offsets = {(utc + k * _HOUR).astimezone(self.zone).utcoffset() for k in range(0, 29)}
        return offsets.pop() if len(offsets) == 1 else None

    def _read(self, text: str) -> datetime:
        if not text:
            raise ValueError("empty")
        for fmt in self.formats:
            try:
                if fmt == ISO:
                    return datetime.fromisoformat(text)
                if fmt == _US_12H and len(text) == 22:
                    return _us_12h(text)
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise ValueError(text)


def _us_12h(text: str) -> datetime:
    """Read ``MM/DD/YYYY hh:mm:ss AM`` without strptime (five times faster; a million rows read three)."""
    if text[2] != "/" or text[5] != "/" or text[10] != " " or text[13] != ":" or text[16] != ":" or text[19] != " ":
        raise ValueError(text)
    if not (text[0:2] + text[3:5] + text[6:10] + text[11:13] + text[14:16] + text[17:19]).isdigit():
        raise ValueError(text)
    hour = int(text[11:13])
    marker = text[20:22].upper()
    if not 1 <= hour <= 12 or marker not in ("AM", "PM"):
        raise ValueError(text)
    if marker == "AM":
        hour = 0 if hour == 12 else hour
    else:
        hour = 12 if hour == 12 else hour + 12
    return datetime(int(text[6:10]), int(text[0:2]), int(text[3:5]), hour, int(text[14:16]), int(text[17:19]))
