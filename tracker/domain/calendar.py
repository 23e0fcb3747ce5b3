"""Business calendar: local working intervals, holidays and extra working days.

Business time is the real time that passes while the calendar's local wall
clock is inside a working interval of the instant's local date (DESIGN.md,
"SLA clock semantics"). Intervals are half-open: a clock that reaches its
target exactly at a closing time is due at that closing time.

Queries never walk through time. Working time is laid out lazily, a chunk of
about a year at a time, as flat sorted lists of segments in epoch seconds
with the business seconds accrued before each; a question is then a bisect
or two. The pure stdlib only: no Flask, no SQLAlchemy, no tracker.models.
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.domain.i18n import N_

__all__ = ["BusinessCalendar", "CalendarError", "WEEKDAYS"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DAY_SECONDS = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# About a year: laying a chunk out takes milliseconds and holds a few hundred segments.
_CHUNK_SECONDS = 52 * 7 * DAY_SECONDS
# Offsets are sampled this often to find DST transitions; since 1900 no zone
# in tzdata has two transitions this close together that cancel out.
_SAMPLE_SECONDS = 6 * 3600
# Laying out working time is linear in the span covered, so bound it.
_MIN_YEAR, _MAX_YEAR = 1900, 2999
_MIN_TS = datetime(_MIN_YEAR, 1, 1, tzinfo=UTC).timestamp()
_MAX_TS = datetime(_MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp()
_INF = math.inf
_HALF_MICROSECOND = 5e-7

_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FIELDS = ("timezone", "week", "holidays", "extra_workdays", "extra_workday_hours")

# (start, end) minutes after local midnight, 0 <= start < end <= 1440.
Interval = tuple[int, int]
Day = tuple[Interval, ...]


class CalendarError(ValueError):
    """Refuse a malformed calendar, or a question its working time cannot answer.

    ``str(error)`` is the English message. A malformed calendar's error also
    carries ``template`` (a msgid with %(name)s placeholders, marked with
    ``N_``) and ``params``, so that a page shows it in the reader's language.
    """

    def __init__(self, message: str, *, template: str | None = None, params: Mapping | None = None):
        super().__init__(message)
        self.template = template
        self.params = dict(params or {})


def _invalid(template: str, **params) -> CalendarError:
    """Return the CalendarError ``template % params``, keeping both for translation."""
    return CalendarError(template % params, template=template, params=params)


class _Table(NamedTuple):
    """Working segments laid out for the epoch seconds [lo, hi).

    ``starts`` and ``cum`` carry one sentinel more than ``ends``: ``starts[-1]``
    is +inf and ``cum[-1]`` the business seconds before ``hi``, so that the
    business time before any covered instant is one bisect with no edge case.
    ``cum`` values are relative to an arbitrary origin and never change once
    laid out, whichever way the table grows.
    """

    lo: float
    hi: float
    starts: list[float]
    ends: list[float]
    cum: list[float]
    cumend: list[float]


_EMPTY = _Table(0.0, 0.0, [_INF], [], [0.0], [])


class BusinessCalendar:
    """When business time accrues; immutable, safe to share between threads.

    Build one with ``from_dict`` or ``always``. Durations are minutes in the
    datetime API and seconds in the ``*_seconds`` API, which works on epoch
    seconds and is what the datetime API wraps.
    """

    __slots__ = (
        "_zone",
        "_week",
        "_holidays",
        "_extra_workdays",
        "_extra_workday_hours",
        "_has_extra_hours",
        "_is_finite",
        "_lock",
        "_table",
    )

    def __init__(
        self,
        zone: ZoneInfo,
        week: Sequence[Day],
        holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        extra_workday_hours: Day | None = None,
    ) -> None:
        """Take already validated values; prefer ``from_dict``.

        Raises CalendarError if the calendar has no working time at all.
        """
        self._zone = zone
        self._week = tuple(tuple(day) for day in week)
        self._holidays = frozenset(holidays)
        self._extra_workdays = frozenset(extra_workdays)
        self._has_extra_hours = extra_workday_hours is not None
        self._extra_workday_hours = (
            tuple(extra_workday_hours) if extra_workday_hours is not None else self._week[0]
        )
        # With an empty week only the listed extra days work: working time
        # ends, and a deadline past it must be refused, not searched for.
        self._is_finite = not any(self._week)
        if self._is_finite and not (self._extra_workdays and self._extra_workday_hours):
            raise _invalid(N_("calendar has no working time: the week is empty and there are no extra working days"))
        self._lock = threading.Lock()
        self._table = _EMPTY

    # -- construction -----------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping) -> BusinessCalendar:
        """Validate ``data`` (the format in docs/sla-calendar.md) and build a calendar.

        Raises CalendarError naming the offending field.
        """
        if not isinstance(data, Mapping):
            raise _invalid(N_("calendar: expected a mapping"))
        for key in data:
            if key not in _FIELDS:
                raise _invalid(N_("%(field)s: unknown field; expected one of %(expected)s"), field=key,
                               expected=", ".join(_FIELDS))
        zone = _parse_zone(data.get("timezone"))
        week = _parse_week(data.get("week", {}))
        holidays = _parse_dates(data.get("holidays", []), "holidays")
        extra_workdays = _parse_dates(data.get("extra_workdays", []), "extra_workdays")
        holiday_set = frozenset(holidays)
        for index, day in enumerate(extra_workdays):
            if day in holiday_set:
                raise _invalid(N_("extra_workdays[%(index)s]: %(day)s is also listed in holidays"), index=index,
                               day=day.isoformat())
        extra_workday_hours = None
        if data.get("extra_workday_hours") is not None:
            extra_workday_hours = _parse_day(data["extra_workday_hours"], "extra_workday_hours")
            if not extra_workday_hours:
                raise _invalid(
                    N_("extra_workday_hours: expected at least one interval; leave it out to use Monday's hours")
                )
        elif extra_workdays and not week[0]:
            raise _invalid(N_("extra_workday_hours: required because week.mon is empty and extra_workdays is not"))
        return cls(zone, week, holidays, extra_workdays, extra_workday_hours)

    @classmethod
    def always(cls) -> BusinessCalendar:
        """Return the 24x7 calendar in UTC."""
        return cls(ZoneInfo("UTC"), [((0, 1440),)] * 7)

    def to_dict(self) -> dict:
        """Return the dict ``from_dict`` accepts, normalised: sorted, zero-padded."""
        data = {
            "timezone": self._zone.key,
            "week": {name: _format_day(day) for name, day in zip(WEEKDAYS, self._week, strict=True)},
            "holidays": sorted(d.isoformat() for d in self._holidays),
            "extra_workdays": sorted(d.isoformat() for d in self._extra_workdays),
        }
        if self._has_extra_hours:
            data["extra_workday_hours"] = _format_day(self._extra_workday_hours)
        return data

    @property
    def tzinfo(self) -> ZoneInfo:
        return self._zone

    def _key(self) -> tuple:
        return (
            self._zone.key,
            self._week,
            self._holidays,
            self._extra_workdays,
            self._extra_workday_hours if self._has_extra_hours else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"<BusinessCalendar {self._zone.key}: {len(self._holidays)} holidays, "
            f"{len(self._extra_workdays)} extra working days>"
        )

    def __reduce__(self):
        # The lock and the cache cannot be pickled; the definition can.
        return (BusinessCalendar.from_dict, (self.to_dict(),))

    # -- datetime API -----------------------------------------------------

    def deadline(
        self,
        start: datetime,
        minutes: float,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """Return the earliest instant at which ``minutes`` of business time have accrued since ``start``.

        Business time does not accrue during ``pauses`` ((start, end) pairs,
        which may overlap or lie anywhere). The result has ``start``'s tzinfo;
        0 minutes returns ``start`` itself. Raises ValueError for naive
        datetimes, negative minutes or an inverted pause, CalendarError when
        the calendar's working time runs out first.
        """
        start_ts = _timestamp(start, "start")
        seconds = _seconds(minutes)
        pause_ts = _pause_timestamps(pauses) if pauses else ()
        if seconds == 0.0:
            return start
        return datetime.fromtimestamp(self.deadline_seconds(start_ts, seconds, pause_ts), start.tzinfo)

    def business_minutes(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> float:
        """Return the business minutes in [start, end) outside ``pauses``; 0.0 if end <= start."""
        start_ts = _timestamp(start, "start")
        end_ts = _timestamp(end, "end")
        pause_ts = _pause_timestamps(pauses) if pauses else ()
        return self.business_seconds(start_ts, end_ts, pause_ts) / 60.0

    def is_working(self, instant: datetime) -> bool:
        """Return whether business time accrues at ``instant`` (closing times do not)."""
        t = _timestamp(instant, "instant")
        table = self._covering(t)
        i = bisect_right(table.ends, t)
        return table.starts[i] <= t

    def next_opening(self, instant: datetime) -> datetime:
        """Return when business time next starts accruing: ``instant`` itself if it already does.

        Raises CalendarError if the calendar has no working time after ``instant``.
        """
        t = _timestamp(instant, "instant")
        table = self._covering(t)
        i = bisect_right(table.ends, t)
        if table.starts[i] <= t:
            return instant
        while i == len(table.ends):
            if self._is_finite:
                raise CalendarError(f"calendar has no working time after {instant.isoformat()}")
            table = self._grow_forward(table.hi)
            i = bisect_right(table.ends, t)
        return datetime.fromtimestamp(table.starts[i], instant.tzinfo)

    def working_periods(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the working stretches inside [start, end), clipped to it, in ``start``'s tzinfo.

        For timelines on ticket pages; its length grows with the span asked for.
        """
        lo = _timestamp(start, "start")
        hi = _timestamp(end, "end")
        if hi <= lo:
            return []
        table = self._covering(lo)
        while table.hi < hi and not self._is_finite:
            table = self._grow_forward(table.hi)
        periods = []
        i = bisect_right(table.ends, lo)
        while i < len(table.ends) and table.starts[i] < hi:
            a, b = max(table.starts[i], lo), min(table.ends[i], hi)
            if a < b:
                periods.append(
                    (datetime.fromtimestamp(a, start.tzinfo), datetime.fromtimestamp(b, start.tzinfo))
                )
            i += 1
        return periods

    # -- epoch-seconds API ------------------------------------------------

    def deadline_seconds(
        self,
        start: float,
        seconds: float,
        pauses: Iterable[tuple[float, float]] = (),
    ) -> float:
        """Return the epoch second at which ``seconds`` of business time have accrued since ``start``.

        The same rules as ``deadline``, on epoch seconds.
        """
        if not 0.0 <= seconds < _INF:
            raise ValueError(f"business time must be a finite number >= 0, got {seconds!r}")
        if seconds == 0.0:
            return start
        lo, hi, starts, ends, cum, cumend = self._table
        if not lo <= start < hi:
            lo, hi, starts, ends, cum, cumend = self._covering(start)
        i = bisect_right(ends, start)
        opening = starts[i]
        target = cum[i] + (start - opening if start > opening else 0.0) + seconds
        if pauses:
            return self._deadline_with_pauses(start, target, _merged_pauses(pauses))
        j = bisect_left(cumend, target)
        if j == len(cumend):
            return self._instant_at(target, start)
        return starts[j] + (target - cum[j])

    def business_seconds(
        self,
        start: float,
        end: float,
        pauses: Iterable[tuple[float, float]] = (),
    ) -> float:
        """Return the business seconds in [start, end) outside ``pauses``; 0.0 if end <= start."""
        merged = _merged_pauses(pauses) if pauses else ()
        if end <= start:
            return 0.0
        total = self._business_before(end) - self._business_before(start)
        for pause_start, pause_end in merged:
            pause_start = max(pause_start, start)
            pause_end = min(pause_end, end)
            if pause_start < pause_end:
                total -= self._business_before(pause_end) - self._business_before(pause_start)
        # Differences of large cumulative sums may leave a rounding crumb.
        return max(total, 0.0)

    # -- internals --------------------------------------------------------

    def _deadline_with_pauses(self, start: float, target: float, merged: list[tuple[float, float]]) -> float:
        """Push ``target`` (cumulative business seconds) out by the paused business time before it.

        ``merged`` pauses are taken in order: each one that starts before
        the current candidate adds its business time after ``start``. Once
        added, the candidate lies beyond that pause's end, so one pass is
        enough, and a pause starting exactly at the candidate does not move it.
        """
        candidate = self._instant_at(target, start)
        for pause_start, pause_end in merged:
            if pause_end <= start:
                continue
            # Datetimes carry microseconds and the deadline is reported
            # rounded to one, so a pause starting at the reported deadline
            # may lie a rounding crumb before the candidate: it does not move it.
            if pause_start >= candidate - _HALF_MICROSECOND:
                break
            pause_start = max(pause_start, start)
            target += self._business_before(pause_end) - self._business_before(pause_start)
            candidate = self._instant_at(target, start)
        return candidate

    def _business_before(self, t: float) -> float:
        """Return the cumulative business seconds before epoch second ``t``."""
        table = self._table
        if not table.lo <= t < table.hi:
            table = self._covering(t)
        i = bisect_right(table.ends, t)
        opening = table.starts[i]
        return table.cum[i] + (t - opening if t > opening else 0.0)

    def _instant_at(self, target: float, start: float) -> float:
        """Return the earliest epoch second before which ``target`` cumulative business seconds lie."""
        table = self._covering(start)
        while not table.cumend or table.cumend[-1] < target:
            if self._is_finite:
                raise CalendarError(self._runs_out_message(start))
            if target - table.cum[-1] > _MAX_TS - table.hi:
                # Even round-the-clock working time could not get there.
                raise CalendarError(self._too_far_message())
            table = self._grow_forward(table.hi)
        j = bisect_left(table.cumend, target)
        return table.starts[j] + (target - table.cum[j])

    def _runs_out_message(self, start: float) -> str:
        table = self._table
        last = datetime.fromtimestamp(table.ends[-1], self._zone) if table.ends else None
        start_text = datetime.fromtimestamp(start, self._zone).isoformat()
        if last is None:
            return "calendar has no working time; no deadline can be reached"
        return (
            f"calendar working time runs out at {last.isoformat()}: the business time "
            f"asked for after {start_text} cannot be reached (add working days to the calendar)"
        )

    def _too_far_message(self) -> str:
        return f"deadline would fall after the year {_MAX_YEAR}, which the calendar does not cover"

    def _covering(self, t: float) -> _Table:
        """Return the table, grown until it covers epoch second ``t``."""
        table = self._table
        if table.lo <= t < table.hi:
            return table
        if not _MIN_TS <= t < _MAX_TS:
            if math.isnan(t):
                raise ValueError("instant is not a number")
            raise CalendarError(
                f"instant {datetime.fromtimestamp(min(max(t, -6e10), 2.5e11), UTC).isoformat()} "
                f"is outside the supported years {_MIN_YEAR}-{_MAX_YEAR}"
            )
        with self._lock:
            table = self._table
            if self._is_finite:
                if table is _EMPTY:
                    table = self._store(_lay_out(self._extra_segments(), -_INF, _INF))
                return table
            if table is _EMPTY:
                lo = math.floor(t / _CHUNK_SECONDS) * _CHUNK_SECONDS
                hi = lo + _CHUNK_SECONDS
                table = self._store(_lay_out(self._segments(lo, hi), lo, hi))
            while t < table.lo:
                table = self._prepend(table)
            while t >= table.hi:
                table = self._append(table)
            return table

    def _grow_forward(self, hi: float) -> _Table:
        """Return the table grown by one chunk past ``hi`` (unless another thread did it)."""
        with self._lock:
            table = self._table
            if table.hi > hi:
                return table
            if table.hi >= _MAX_TS:
                raise CalendarError(self._too_far_message())
            return self._append(table)

    def _append(self, table: _Table) -> _Table:
        segments = self._segments(table.hi, table.hi + _CHUNK_SECONDS)
        starts = table.starts[:-1]
        ends = list(table.ends)
        cum = table.cum[:-1]
        cumend = list(table.cumend)
        running = table.cum[-1]
        for seg_start, seg_end in segments:
            running += seg_end - seg_start
            if ends and seg_start == ends[-1]:
                # A stretch running across the chunk boundary stays one segment.
                ends[-1] = seg_end
                cumend[-1] = running
                continue
            starts.append(seg_start)
            ends.append(seg_end)
            cum.append(running - (seg_end - seg_start))
            cumend.append(running)
        starts.append(_INF)
        cum.append(running)
        return self._store(_Table(table.lo, table.hi + _CHUNK_SECONDS, starts, ends, cum, cumend))

    def _prepend(self, table: _Table) -> _Table:
        segments = self._segments(table.lo - _CHUNK_SECONDS, table.lo)
        running = table.cum[0] - sum(end - start for start, end in segments)
        starts, ends, cum, cumend = [], [], [], []
        for seg_start, seg_end in segments:
            starts.append(seg_start)
            ends.append(seg_end)
            cum.append(running)
            running += seg_end - seg_start
            cumend.append(running)
        if ends and table.ends and ends[-1] == table.starts[0]:
            # A stretch running across the chunk boundary stays one segment.
            ends.pop()
            cumend.pop()
            table = table._replace(starts=[starts.pop(), *table.starts[1:]], cum=[cum.pop(), *table.cum[1:]])
        return self._store(
            _Table(
                table.lo - _CHUNK_SECONDS,
                table.hi,
                starts + table.starts,
                ends + table.ends,
                cum + table.cum,
                cumend + table.cumend,
            )
        )

    def _store(self, table: _Table) -> _Table:
        # Readers take self._table once and use only that snapshot, so
        # replacing it whole is safe without a lock on the read path.
        self._table = table
        return table

    def _hours_on(self, ordinal: int) -> Day:
        """Return the working intervals of a local date given as a proleptic ordinal."""
        day = date.fromordinal(ordinal)
        if day in self._holidays:
            return ()
        if day in self._extra_workdays:
            return self._extra_workday_hours
        # date.fromordinal(1) is a Monday.
        return self._week[(ordinal - 1) % 7]

    def _segments(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """Return the working segments inside epoch seconds [lo, hi), sorted and merged."""
        # Offsets are under a day, so the local dates touching [lo, hi) lie
        # within a day of it either way, and their instants within two.
        first = math.floor(lo / DAY_SECONDS) - 1 + _EPOCH_ORDINAL
        last = math.floor(hi / DAY_SECONDS) + 1 + _EPOCH_ORDINAL
        pieces = _offset_pieces(self._zone, lo - 3 * DAY_SECONDS, hi + 3 * DAY_SECONDS)
        dates = ((ordinal, self._hours_on(ordinal)) for ordinal in range(first, last + 1))
        return _clip(_merge(_wall_to_real(dates, pieces)), lo, hi)

    def _extra_segments(self) -> list[tuple[float, float]]:
        """Return all working segments of a calendar that works on its extra days only."""
        raw = []
        for day in sorted(self._extra_workdays):
            ordinal = day.toordinal()
            midnight = (ordinal - _EPOCH_ORDINAL) * DAY_SECONDS
            pieces = _offset_pieces(self._zone, midnight - 3 * DAY_SECONDS, midnight + 4 * DAY_SECONDS)
            raw.extend(_wall_to_real([(ordinal, self._extra_workday_hours)], pieces))
        return _merge(raw)


# -- laying out working time ------------------------------------------------


def _lay_out(segments: list[tuple[float, float]], lo: float, hi: float) -> _Table:
    """Return a table of ``segments`` with the business seconds before ``lo`` taken as 0."""
    starts, ends, cum, cumend = [], [], [], []
    running = 0.0
    for seg_start, seg_end in segments:
        starts.append(seg_start)
        ends.append(seg_end)
        cum.append(running)
        running += seg_end - seg_start
        cumend.append(running)
    starts.append(_INF)
    cum.append(running)
    return _Table(lo, hi, starts, ends, cum, cumend)


def _offset_at(zone: ZoneInfo, t: int) -> int:
    return int(datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


def _offset_pieces(zone: ZoneInfo, lo: float, hi: float) -> list[tuple[float, float, int]]:
    """Split epoch seconds around [lo, hi) into (start, end, utc offset) pieces of one offset each.

    The first and last pieces extend to -inf and +inf.
    """
    t = math.floor(lo)
    offset = _offset_at(zone, t)
    pieces = []
    piece_start = -_INF
    while t < hi:
        following = t + _SAMPLE_SECONDS
        following_offset = _offset_at(zone, following)
        if following_offset != offset:
            for change, new_offset in _transitions(zone, t, following, offset, following_offset):
                pieces.append((piece_start, float(change), offset))
                piece_start, offset = float(change), new_offset
        t = following
    pieces.append((piece_start, _INF, offset))
    return pieces


def _transitions(zone: ZoneInfo, a: int, b: int, offset_a: int, offset_b: int) -> list[tuple[int, int]]:
    """Return (instant, new offset) for each offset change in (a, b], found by bisection."""
    if b - a <= 1:
        return [(b, offset_b)]
    middle = (a + b) // 2
    offset_middle = _offset_at(zone, middle)
    found = []
    if offset_middle != offset_a:
        found += _transitions(zone, a, middle, offset_a, offset_middle)
    if offset_middle != offset_b:
        found += _transitions(zone, middle, b, offset_middle, offset_b)
    return found


def _wall_to_real(dates, pieces) -> list[tuple[float, float]]:
    """Return the real epoch-second segments during which each date's local wall clock is in its hours.

    ``dates`` yields (ordinal, intervals) in increasing order. Within a piece
    of constant offset the wall clock is t + offset, so an interval maps to
    one segment per piece it meets: a skipped hour maps to nothing, a
    repeated hour to two segments. The result is unsorted where hours repeat.
    """
    raw = []
    first_piece = 0
    for ordinal, hours in dates:
        if not hours:
            continue
        midnight = (ordinal - _EPOCH_ORDINAL) * DAY_SECONDS
        while pieces[first_piece][1] <= midnight - DAY_SECONDS:
            first_piece += 1
        for start_minute, end_minute in hours:
            wall_start = midnight + start_minute * 60
            wall_end = midnight + end_minute * 60
            k = first_piece
            while k < len(pieces) and pieces[k][0] < midnight + 2 * DAY_SECONDS:
                piece_start, piece_end, offset = pieces[k]
                seg_start = max(wall_start - offset, piece_start)
                seg_end = min(wall_end - offset, piece_end)
                if seg_start < seg_end:
                    raw.append((float(seg_start), float(seg_end)))
                k += 1
    return raw


def _merge(segments: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return segments sorted, with overlapping and touching ones joined."""
    merged: list[tuple[float, float]] = []
    for seg_start, seg_end in sorted(segments):
        if seg_start >= seg_end:
            continue
        if merged and seg_start <= merged[-1][1]:
            if seg_end > merged[-1][1]:
                merged[-1] = (merged[-1][0], seg_end)
        else:
            merged.append((seg_start, seg_end))
    return merged


def _clip(segments: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    clipped = []
    for seg_start, seg_end in segments:
        seg_start, seg_end = max(seg_start, lo), min(seg_end, hi)
        if seg_start < seg_end:
            clipped.append((seg_start, seg_end))
    return clipped


# -- argument checks --------------------------------------------------------


def _timestamp(value: datetime, name: str) -> float:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.timestamp()


def _seconds(minutes: float) -> float:
    seconds = float(minutes) * 60.0
    if not 0.0 <= seconds < _INF:
        raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
    return seconds


def _pause_timestamps(pauses: Iterable[tuple[datetime, datetime]]) -> list[tuple[float, float]]:
    result = []
    for index, pause in enumerate(pauses):
        try:
            pause_start, pause_end = pause
        except (TypeError, ValueError):
            raise ValueError(f"pauses[{index}]: expected a (start, end) pair of datetimes") from None
        result.append(
            (
                _timestamp(pause_start, f"pauses[{index}] start"),
                _timestamp(pause_end, f"pauses[{index}] end"),
            )
        )
        if result[-1][1] < result[-1][0]:
            raise ValueError(
                f"pauses[{index}]: end {pause_end.isoformat()} is before start {pause_start.isoformat()}"
            )
    return result


def _merged_pauses(pauses: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return epoch-second pauses merged; raise ValueError for an inverted one."""
    pairs = list(pauses)
    for index, (pause_start, pause_end) in enumerate(pairs):
        if pause_end < pause_start:
            raise ValueError(f"pauses[{index}]: end {pause_end} is before start {pause_start}")
    return _merge(pairs)


# -- parsing the dict format ------------------------------------------------


def _parse_zone(value) -> ZoneInfo:
    if value is None:
        raise _invalid(N_('timezone: required, e.g. "Asia/Shanghai"'))
    if not isinstance(value, str) or not value:
        raise _invalid(N_('timezone: expected a time zone name such as "Asia/Shanghai", got %(value)s'),
                       value=repr(value))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _invalid(N_('timezone: unknown time zone "%(value)s"'), value=value) from None


def _parse_week(value) -> tuple[Day, ...]:
    if not isinstance(value, Mapping):
        raise _invalid(N_("week: expected a mapping of weekday (mon..sun) to intervals"))
    for key in value:
        if key not in WEEKDAYS:
            raise _invalid(N_("week.%(key)s: unknown weekday; expected one of %(expected)s"), key=key,
                           expected=", ".join(WEEKDAYS))
    return tuple(_parse_day(value.get(name, []), f"week.{name}") for name in WEEKDAYS)


def _parse_day(value, field: str) -> Day:
    """Return a day's intervals sorted by start; raise CalendarError naming ``field`` if malformed."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise _invalid(N_('%(field)s: expected a list of ["HH:MM", "HH:MM"] intervals'), field=field)
    intervals = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
            raise _invalid(N_('%(where)s: expected ["HH:MM", "HH:MM"], got %(item)s'), where=where, item=repr(item))
        start = _parse_time(item[0], where)
        end = _parse_time(item[1], where)
        if start == 1440:
            raise _invalid(N_('%(where)s: "24:00" is allowed only as an end'), where=where)
        if end < start:
            raise _invalid(N_("%(where)s: end %(end)s is before start %(start)s"), where=where,
                           end=_format_time(end), start=_format_time(start))
        if end == start:
            raise _invalid(N_("%(where)s: end %(end)s is not after start %(start)s"), where=where,
                           end=_format_time(end), start=_format_time(start))
        intervals.append((start, end, index))
    intervals.sort()
    for before, after in pairwise(intervals):
        if after[0] < before[1]:
            later, earlier = max(before[2], after[2]), min(before[2], after[2])
            raise _invalid(N_("%(field)s[%(later)s]: overlaps %(field)s[%(earlier)s]"), field=field, later=later,
                           earlier=earlier)
    return tuple((start, end) for start, end, _ in intervals)


def _parse_time(value, where: str) -> int:
    """Return minutes after midnight for "HH:MM" (1440 for "24:00")."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(N_("%(where)s: %(shown)s is not a time HH:MM"), where=where, shown=shown)
    hours, minutes = int(match[1]), int(match[2])
    if (hours, minutes) == (24, 0):
        return 1440
    if hours > 23 or minutes > 59:
        raise _invalid(N_("%(where)s: %(shown)s is not a time HH:MM"), where=where, shown=shown)
    return hours * 60 + minutes


def _as_date(value) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_dates(value, field: str) -> tuple[date, ...]:
    """Return the dates in input order (so indices match the input); raise CalendarError naming ``field``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _invalid(N_("%(field)s: expected a list of dates YYYY-MM-DD"), field=field)
    dates = []
    for index, item in enumerate(value):
        day = _as_date(item)
        if day is None:
            shown = f'"{item}"' if isinstance(item, str) else repr(item)
            raise _invalid(N_("%(field)s[%(index)s]: %(shown)s is not a date YYYY-MM-DD"), field=field, index=index,
                           shown=shown)
        if not _MIN_YEAR <= day.year <= _MAX_YEAR:
            raise _invalid(N_("%(field)s[%(index)s]: %(day)s is outside the supported years %(first)s-%(last)s"),
                           field=field, index=index, day=day.isoformat(), first=_MIN_YEAR, last=_MAX_YEAR)
        dates.append(day)
    return tuple(dates)


def _format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_day(day: Day) -> list[list[str]]:
    return [[_format_time(start), _format_time(end)] for start, end in day]
