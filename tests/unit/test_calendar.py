"""BusinessCalendar: named edge cases, then properties against a minute-by-minute reference."""

import math
import pickle
import re
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.domain.calendar import BusinessCalendar, CalendarError

from .calendar_reference import ReferenceCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

OFFICE_DAY = [["08:30", "12:00"], ["14:00", "17:30"]]  # 420 minutes
WORKWEEK = {"mon": OFFICE_DAY, "tue": OFFICE_DAY, "wed": OFFICE_DAY, "thu": OFFICE_DAY, "fri": OFFICE_DAY}
SHANGHAI_OFFICE = {
    "timezone": "Asia/Shanghai",
    "week": {**WORKWEEK, "sat": [], "sun": []},
    # January 2025: Tue 28 and Wed 29 are holidays, Sunday 26 is worked.
    "holidays": ["2025-01-28", "2025-01-29"],
    "extra_workdays": ["2025-01-26"],
}
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def every_day(*intervals, zone="Europe/Berlin"):
    return {"timezone": zone, "week": {name: [list(i) for i in intervals] for name in EVERY_DAY}}


def sh(year, month, day, hour=0, minute=0, second=0, microsecond=0):
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=SHANGHAI)


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def office():
    return BusinessCalendar.from_dict(SHANGHAI_OFFICE)


# -- deadlines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        pytest.param(
            sh(2025, 1, 6, 17, 30),
            30,
            sh(2025, 1, 7, 9, 0),
            id="start_on_closing_time_counts_from_next_opening",
        ),
        pytest.param(
            sh(2025, 1, 6, 7, 0), 30, sh(2025, 1, 6, 9, 0), id="start_before_opening_counts_from_opening"
        ),
        pytest.param(
            sh(2025, 1, 6, 12, 30), 30, sh(2025, 1, 6, 14, 30), id="start_in_lunch_gap_counts_from_afternoon"
        ),
        pytest.param(sh(2025, 1, 6, 11, 45), 30, sh(2025, 1, 6, 14, 15), id="deadline_skips_lunch_break"),
        pytest.param(
            sh(2025, 1, 6, 17, 0),
            30,
            sh(2025, 1, 6, 17, 30),
            id="deadline_exactly_at_closing_time_stays_today",
        ),
        pytest.param(
            sh(2025, 1, 6, 11, 30), 30, sh(2025, 1, 6, 12, 0), id="deadline_exactly_at_lunch_closing"
        ),
        pytest.param(
            sh(2025, 1, 6, 8, 30), 420, sh(2025, 1, 6, 17, 30), id="whole_working_day_ends_at_closing"
        ),
        pytest.param(sh(2025, 1, 10, 17, 0), 60, sh(2025, 1, 13, 9, 0), id="friday_evening_skips_weekend"),
        pytest.param(
            sh(2025, 1, 28, 10, 0),
            30,
            sh(2025, 1, 30, 9, 0),
            id="start_inside_holiday_waits_for_next_working_day",
        ),
        pytest.param(sh(2025, 1, 27, 17, 0), 60, sh(2025, 1, 30, 9, 0), id="deadline_skips_holidays"),
        pytest.param(sh(2025, 1, 25, 10, 0), 30, sh(2025, 1, 26, 9, 0), id="sunday_extra_working_day_counts"),
        pytest.param(
            sh(2025, 1, 26, 11, 45),
            30,
            sh(2025, 1, 26, 14, 15),
            id="extra_working_day_keeps_monday_lunch_gap",
        ),
        pytest.param(
            sh(2025, 1, 11, 10, 0), 0, sh(2025, 1, 11, 10, 0), id="zero_minutes_outside_hours_is_start"
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0), 0.5, sh(2025, 1, 6, 9, 0, 30), id="fractional_minutes_count_seconds"
        ),
        pytest.param(
            sh(2025, 1, 6, 17, 29), 1.5, sh(2025, 1, 7, 8, 30, 30), id="fractional_minutes_across_closing"
        ),
        pytest.param(sh(2025, 1, 6, 9, 0), 0.001, sh(2025, 1, 6, 9, 0, 0, 60_000), id="fraction_of_a_second"),
        pytest.param(
            sh(2025, 1, 6, 9, 0, 0, 123_456),
            10,
            sh(2025, 1, 6, 9, 10, 0, 123_456),
            id="microseconds_of_start_are_kept",
        ),
    ],
)
def test_deadline(office, start, minutes, expected):
    assert office.deadline(start, minutes) == expected


@pytest.mark.parametrize(
    ("start", "minutes", "pauses", "expected"),
    [
        pytest.param(
            sh(2025, 1, 6, 17, 0),
            60,
            [(sh(2025, 1, 6, 17, 15), sh(2025, 1, 7, 9, 0))],
            sh(2025, 1, 7, 9, 45),
            id="pause_spanning_night_delays_by_its_business_time_only",
        ),
        pytest.param(
            sh(2025, 1, 6, 16, 30),
            120,
            [(sh(2025, 1, 6, 17, 0), sh(2025, 1, 8, 10, 0))],
            sh(2025, 1, 8, 11, 30),
            id="pause_spanning_several_nights",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 6, 9, 0), sh(2025, 1, 6, 10, 0)), (sh(2025, 1, 6, 9, 30), sh(2025, 1, 6, 10, 30))],
            sh(2025, 1, 6, 11, 0),
            id="overlapping_pauses_count_once",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            60,
            [
                (sh(2025, 1, 6, 10, 0), sh(2025, 1, 6, 10, 30)),
                (sh(2025, 1, 6, 9, 10), sh(2025, 1, 6, 9, 20)),
                (sh(2025, 1, 6, 9, 12), sh(2025, 1, 6, 9, 15)),
            ],
            sh(2025, 1, 6, 10, 40),
            id="unsorted_nested_pauses",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 6, 9, 30), sh(2025, 1, 6, 10, 0))],
            sh(2025, 1, 6, 9, 30),
            id="pause_starting_at_deadline_does_not_move_it",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 3, 9, 0), sh(2025, 1, 6, 8, 0))],
            sh(2025, 1, 6, 9, 30),
            id="pause_before_start_is_ignored",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 6, 8, 0), sh(2025, 1, 6, 9, 15))],
            sh(2025, 1, 6, 9, 45),
            id="pause_covering_start_counts_from_its_end",
        ),
        pytest.param(
            sh(2025, 1, 6, 17, 0),
            60,
            [(sh(2025, 1, 6, 20, 0), sh(2025, 1, 7, 8, 0))],
            sh(2025, 1, 7, 9, 0),
            id="pause_outside_hours_changes_nothing",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 6, 15, 0), sh(2025, 1, 6, 16, 0))],
            sh(2025, 1, 6, 9, 30),
            id="pause_after_deadline_is_ignored",
        ),
        pytest.param(
            sh(2025, 1, 6, 9, 0),
            30,
            [(sh(2025, 1, 6, 9, 10), sh(2025, 1, 6, 9, 10))],
            sh(2025, 1, 6, 9, 30),
            id="empty_pause_is_ignored",
        ),
        pytest.param(
            sh(2025, 1, 27, 16, 0),
            120,
            [(sh(2025, 1, 27, 17, 0), sh(2025, 1, 31, 0, 0))],
            sh(2025, 1, 31, 9, 30),
            id="pause_over_holidays",
        ),
    ],
)
def test_deadline_with_pauses(office, start, minutes, pauses, expected):
    assert office.deadline(start, minutes, pauses) == expected


def test_zero_minutes_returns_start_itself(office):
    start = sh(2025, 1, 11, 10, 0)
    assert office.deadline(start, 0) is start


@pytest.mark.parametrize(
    "tz",
    [UTC, timezone(timedelta(hours=-5)), SHANGHAI, NEW_YORK],
    ids=["utc", "fixed_offset", "shanghai", "new_york"],
)
def test_deadline_keeps_the_tzinfo_of_start(office, tz):
    start = sh(2025, 1, 6, 17, 0).astimezone(tz)
    result = office.deadline(start, 30)
    assert result.tzinfo is tz
    assert result == sh(2025, 1, 6, 17, 30)


# -- business minutes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "pauses", "expected"),
    [
        pytest.param(sh(2025, 1, 6, 11), sh(2025, 1, 6, 15), [], 120, id="across_lunch_break"),
        pytest.param(sh(2025, 1, 10, 17), sh(2025, 1, 13, 9), [], 60, id="over_weekend"),
        pytest.param(sh(2025, 1, 6), sh(2025, 1, 13), [], 5 * 420, id="whole_week"),
        pytest.param(sh(2025, 1, 28), sh(2025, 1, 30), [], 0, id="holidays_count_nothing"),
        pytest.param(sh(2025, 1, 26), sh(2025, 1, 27), [], 420, id="extra_working_day_counts_monday_hours"),
        pytest.param(sh(2025, 1, 6, 12), sh(2025, 1, 6, 10), [], 0, id="end_before_start_is_zero"),
        pytest.param(sh(2025, 1, 6, 10), sh(2025, 1, 6, 10), [], 0, id="empty_span_is_zero"),
        pytest.param(sh(2025, 1, 6, 9), sh(2025, 1, 6, 9, 0, 30), [], 0.5, id="fractions_of_a_minute"),
        pytest.param(
            sh(2025, 1, 6, 8, 30),
            sh(2025, 1, 6, 17, 30),
            [
                (sh(2025, 1, 6, 9), sh(2025, 1, 6, 10)),
                (sh(2025, 1, 6, 9, 30), sh(2025, 1, 6, 11)),
                (sh(2025, 1, 6, 16), sh(2025, 1, 6, 20)),
            ],
            420 - 120 - 90,
            id="overlapping_pauses_subtract_once",
        ),
        pytest.param(
            sh(2025, 1, 6, 17),
            sh(2025, 1, 7, 10),
            [(sh(2025, 1, 6, 17, 15), sh(2025, 1, 7, 9))],
            75,
            id="pause_spanning_night",
        ),
        pytest.param(
            sh(2025, 1, 6, 9),
            sh(2025, 1, 6, 10),
            [(sh(2025, 1, 5), sh(2025, 1, 8))],
            0,
            id="pause_covering_the_whole_span",
        ),
    ],
)
def test_business_minutes(office, start, end, pauses, expected):
    assert office.business_minutes(start, end, pauses) == pytest.approx(expected, abs=1e-9)


# -- daylight saving time -----------------------------------------------------

NIGHT_BERLIN = every_day(("01:00", "04:00"))
SKIPPED_HOUR_BERLIN = every_day(("02:15", "02:45"))
OFFICE_BERLIN = every_day(("09:00", "17:00"))
ROUND_THE_CLOCK_BERLIN = every_day(("00:00", "24:00"))
NIGHT_NEW_YORK = every_day(("01:00", "04:00"), zone="America/New_York")


@pytest.mark.parametrize(
    ("data", "day", "expected"),
    [
        pytest.param(NIGHT_BERLIN, date(2025, 3, 29), 180, id="berlin_ordinary_night"),
        pytest.param(NIGHT_BERLIN, date(2025, 3, 30), 120, id="berlin_spring_forward_loses_an_hour"),
        pytest.param(NIGHT_BERLIN, date(2025, 10, 26), 240, id="berlin_fall_back_repeats_an_hour"),
        pytest.param(SKIPPED_HOUR_BERLIN, date(2025, 3, 29), 30, id="berlin_interval_on_ordinary_day"),
        pytest.param(
            SKIPPED_HOUR_BERLIN, date(2025, 3, 30), 0, id="berlin_interval_wholly_in_skipped_hour_is_empty"
        ),
        pytest.param(
            SKIPPED_HOUR_BERLIN, date(2025, 10, 26), 60, id="berlin_interval_in_repeated_hour_counts_twice"
        ),
        pytest.param(OFFICE_BERLIN, date(2025, 3, 30), 480, id="berlin_office_hours_untouched_in_spring"),
        pytest.param(OFFICE_BERLIN, date(2025, 10, 26), 480, id="berlin_office_hours_untouched_in_autumn"),
        pytest.param(
            ROUND_THE_CLOCK_BERLIN, date(2025, 3, 30), 23 * 60, id="berlin_24h_day_is_23_hours_in_spring"
        ),
        pytest.param(
            ROUND_THE_CLOCK_BERLIN, date(2025, 10, 26), 25 * 60, id="berlin_24h_day_is_25_hours_in_autumn"
        ),
        pytest.param(NIGHT_NEW_YORK, date(2025, 3, 9), 120, id="new_york_spring_forward"),
        pytest.param(NIGHT_NEW_YORK, date(2025, 11, 2), 240, id="new_york_fall_back"),
    ],
)
def test_business_minutes_count_real_time_across_dst(data, day, expected):
    zone = ZoneInfo(data["timezone"])
    calendar = BusinessCalendar.from_dict(data)
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    assert calendar.business_minutes(start, end) == expected


@pytest.mark.parametrize(
    ("data", "start", "minutes", "expected_utc"),
    [
        pytest.param(
            NIGHT_BERLIN,
            datetime(2025, 3, 30, 1, tzinfo=BERLIN),
            90,
            utc(2025, 3, 30, 1, 30),
            id="berlin_spring_deadline_jumps_the_gap",
        ),
        pytest.param(
            NIGHT_BERLIN,
            datetime(2025, 10, 26, 1, tzinfo=BERLIN),
            150,
            utc(2025, 10, 26, 1, 30),
            id="berlin_autumn_deadline_in_repeated_hour",
        ),
        pytest.param(
            NIGHT_BERLIN,
            datetime(2025, 10, 26, 1, tzinfo=BERLIN),
            240,
            utc(2025, 10, 26, 3, 0),
            id="berlin_autumn_deadline_at_closing",
        ),
        pytest.param(
            SKIPPED_HOUR_BERLIN,
            datetime(2025, 3, 30, 0, tzinfo=BERLIN),
            30,
            utc(2025, 3, 31, 0, 45),
            id="berlin_skipped_interval_defers_to_next_day",
        ),
        pytest.param(
            NIGHT_NEW_YORK,
            datetime(2025, 11, 2, 1, tzinfo=NEW_YORK),
            90,
            utc(2025, 11, 2, 6, 30),
            id="new_york_autumn_deadline_in_repeated_hour",
        ),
    ],
)
def test_deadline_across_dst(data, start, minutes, expected_utc):
    result = BusinessCalendar.from_dict(data).deadline(start, minutes)
    # Same-tzinfo comparison ignores fold, so compare the instants in UTC.
    assert result.astimezone(UTC) == expected_utc
    assert result.tzinfo is start.tzinfo


# -- long spans ---------------------------------------------------------------


def test_two_years_round_the_clock():
    start = utc(2025, 1, 1)
    assert BusinessCalendar.always().deadline(start, 2 * 365 * 1440) == utc(2027, 1, 1)


def test_two_years_of_office_weeks():
    calendar = BusinessCalendar.from_dict({"timezone": "Asia/Shanghai", "week": WORKWEEK})
    start = sh(2025, 1, 6, 8, 30)
    minutes = 104 * 5 * 420
    # 104 full weeks end on the Friday of the 104th week.
    expected = start + timedelta(weeks=103, days=4, hours=9)
    assert expected == sh(2027, 1, 1, 17, 30)
    assert calendar.deadline(start, minutes) == expected
    assert calendar.business_minutes(start, expected) == minutes


def test_two_years_with_holidays_and_extra_day(office):
    # Two holidays and one extra day lose one working day: Friday's close moves to Monday's.
    start = sh(2025, 1, 6, 8, 30)
    minutes = 104 * 5 * 420
    assert office.deadline(start, minutes) == sh(2027, 1, 4, 17, 30)
    assert office.business_minutes(start, sh(2027, 1, 4, 17, 30)) == minutes


def test_table_grows_backwards_consistently():
    calendar = BusinessCalendar.from_dict(SHANGHAI_OFFICE)
    later = sh(2025, 6, 3, 10, 0)
    assert calendar.is_working(later)
    earlier = sh(2019, 2, 4, 16, 45)
    elapsed = calendar.business_minutes(earlier, later)
    assert calendar.deadline(earlier, elapsed) == later


def test_round_the_clock_stays_one_stretch_as_it_grows_both_ways():
    calendar = BusinessCalendar.always()
    assert calendar.is_working(utc(2026, 6, 1))
    start, end = utc(2019, 1, 1), utc(2027, 1, 1)
    minutes = (end - start).total_seconds() / 60
    assert calendar.business_minutes(start, end) == minutes
    assert calendar.deadline(start, minutes) == end
    assert calendar.working_periods(start, end) == [(start, end)]


# -- working time, openings ---------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(sh(2025, 1, 6, 8, 30), True, id="opening_time_is_working"),
        pytest.param(sh(2025, 1, 6, 9, 0), True, id="morning_is_working"),
        pytest.param(sh(2025, 1, 6, 12, 0), False, id="closing_time_is_not_working"),
        pytest.param(sh(2025, 1, 6, 13, 0), False, id="lunch_gap_is_not_working"),
        pytest.param(sh(2025, 1, 11, 10, 0), False, id="saturday_is_not_working"),
        pytest.param(sh(2025, 1, 28, 10, 0), False, id="holiday_is_not_working"),
        pytest.param(sh(2025, 1, 26, 10, 0), True, id="extra_sunday_is_working"),
    ],
)
def test_is_working(office, instant, expected):
    assert office.is_working(instant) is expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(sh(2025, 1, 6, 9, 0), sh(2025, 1, 6, 9, 0), id="inside_hours_is_itself"),
        pytest.param(sh(2025, 1, 6, 12, 0), sh(2025, 1, 6, 14, 0), id="lunch_closing_opens_after_lunch"),
        pytest.param(sh(2025, 1, 10, 17, 30), sh(2025, 1, 13, 8, 30), id="friday_close_opens_monday"),
        pytest.param(sh(2025, 1, 28, 10, 0), sh(2025, 1, 30, 8, 30), id="holiday_opens_after_holidays"),
        pytest.param(sh(2025, 1, 25, 10, 0), sh(2025, 1, 26, 8, 30), id="saturday_opens_on_extra_sunday"),
    ],
)
def test_next_opening(office, instant, expected):
    assert office.next_opening(instant) == expected


def test_next_opening_keeps_the_tzinfo_of_instant(office):
    instant = sh(2025, 1, 6, 12, 0).astimezone(UTC)
    assert office.next_opening(instant).tzinfo is UTC


# -- a calendar whose working time runs out ------------------------------------

ONLY_EXTRA_DAY = {
    "timezone": "Asia/Shanghai",
    "week": {},
    "extra_workdays": ["2025-01-26"],
    "extra_workday_hours": [["08:30", "17:30"]],
}


def test_only_extra_days_reach_a_deadline_inside_them():
    calendar = BusinessCalendar.from_dict(ONLY_EXTRA_DAY)
    assert calendar.deadline(sh(2025, 1, 20), 540) == sh(2025, 1, 26, 17, 30)
    assert calendar.business_minutes(sh(2025, 1, 1), sh(2025, 2, 1)) == 540
    assert calendar.is_working(sh(2025, 1, 26, 9))


@pytest.mark.parametrize(
    ("call"),
    [
        pytest.param(lambda c: c.deadline(sh(2025, 1, 20), 541), id="target_beyond_the_last_extra_day"),
        pytest.param(lambda c: c.deadline(sh(2025, 1, 27), 1), id="start_after_the_last_extra_day"),
        pytest.param(
            lambda c: c.deadline(sh(2025, 1, 26, 9), 61, [(sh(2025, 1, 26, 10), sh(2025, 1, 27))]),
            id="pause_eats_the_remaining_time",
        ),
        pytest.param(lambda c: c.next_opening(sh(2025, 1, 27)), id="no_opening_after_the_last_extra_day"),
    ],
)
def test_working_time_that_runs_out_raises(call):
    with pytest.raises(CalendarError, match="no working time|runs out"):
        call(BusinessCalendar.from_dict(ONLY_EXTRA_DAY))


def test_deadline_beyond_supported_years_raises_quickly():
    with pytest.raises(CalendarError, match="after the year 2999"):
        BusinessCalendar.always().deadline(utc(2025, 1, 1), 1e9)


def test_instant_outside_supported_years_raises(office):
    with pytest.raises(CalendarError, match="outside the supported years"):
        office.deadline(datetime(3100, 1, 1, tzinfo=UTC), 30)


# -- bad arguments ------------------------------------------------------------

NAIVE = datetime(2025, 1, 6, 9, 0)
AWARE = sh(2025, 1, 6, 9, 0)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.deadline(NAIVE, 30), id="deadline_start"),
        pytest.param(lambda c: c.deadline(AWARE, 30, [(NAIVE, AWARE)]), id="deadline_pause_start"),
        pytest.param(lambda c: c.deadline(AWARE, 30, [(AWARE, NAIVE)]), id="deadline_pause_end"),
        pytest.param(lambda c: c.business_minutes(NAIVE, AWARE), id="business_minutes_start"),
        pytest.param(lambda c: c.business_minutes(AWARE, NAIVE), id="business_minutes_end"),
        pytest.param(lambda c: c.is_working(NAIVE), id="is_working"),
        pytest.param(lambda c: c.next_opening(NAIVE), id="next_opening"),
    ],
)
def test_naive_datetimes_are_refused(office, call):
    with pytest.raises(ValueError, match="must be a timezone-aware datetime, got naive"):
        call(office)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda c: c.deadline(AWARE, -1), "minutes must be a finite number >= 0", id="negative_minutes"
        ),
        pytest.param(
            lambda c: c.deadline(AWARE, math.nan), "minutes must be a finite number >= 0", id="nan_minutes"
        ),
        pytest.param(
            lambda c: c.deadline(AWARE, math.inf),
            "minutes must be a finite number >= 0",
            id="infinite_minutes",
        ),
        pytest.param(lambda c: c.deadline_seconds(0.0, -1.0), "finite number >= 0", id="negative_seconds"),
        pytest.param(
            lambda c: c.deadline(AWARE, 30, [(sh(2025, 1, 6, 10), sh(2025, 1, 6, 9))]),
            r"pauses\[0\]: end 2025-01-06T09:00:00\+08:00 is before start",
            id="inverted_pause_in_deadline",
        ),
        pytest.param(
            lambda c: c.business_minutes(
                AWARE, sh(2025, 1, 7), [(AWARE, AWARE), (sh(2025, 1, 6, 10), sh(2025, 1, 6, 9))]
            ),
            r"pauses\[1\]: end .* is before start",
            id="inverted_pause_in_business_minutes",
        ),
        pytest.param(
            lambda c: c.deadline_seconds(0.0, 60.0, [(10.0, 5.0)]),
            r"pauses\[0\]: end 5.0 is before start 10.0",
            id="inverted_pause_in_seconds_api",
        ),
        pytest.param(
            lambda c: c.deadline(AWARE, 30, [AWARE]),
            r"pauses\[0\]: expected a \(start, end\) pair",
            id="pause_not_a_pair",
        ),
    ],
)
def test_bad_arguments_are_refused(office, call, message):
    with pytest.raises(ValueError, match=message):
        call(office)


# -- from_dict validation -----------------------------------------------------


def with_changes(**changes):
    data = {**SHANGHAI_OFFICE, "week": dict(SHANGHAI_OFFICE["week"])}
    for key, value in changes.items():
        if key.startswith("week_"):
            data["week"][key.removeprefix("week_")] = value
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            with_changes(week_mon=[["08:30", "12:00"], ["14:00", "12:00"]]),
            "week.mon[1]: end 12:00 is before start 14:00",
            id="end_before_start",
        ),
        pytest.param(
            with_changes(week_mon=[["08:00", "08:00"]]),
            "week.mon[0]: end 08:00 is not after start 08:00",
            id="empty_interval",
        ),
        pytest.param(
            with_changes(week_tue=[["8:3x", "12:00"]]),
            'week.tue[0]: "8:3x" is not a time HH:MM',
            id="malformed_time",
        ),
        pytest.param(
            with_changes(week_tue=[["08:30", "25:00"]]),
            'week.tue[0]: "25:00" is not a time HH:MM',
            id="hour_out_of_range",
        ),
        pytest.param(
            with_changes(week_tue=[["08:60", "12:00"]]),
            'week.tue[0]: "08:60" is not a time HH:MM',
            id="minute_out_of_range",
        ),
        pytest.param(
            with_changes(week_tue=[["08:30", "24:30"]]),
            'week.tue[0]: "24:30" is not a time HH:MM',
            id="past_midnight",
        ),
        pytest.param(
            with_changes(week_tue=[["08:30:00", "12:00"]]),
            'week.tue[0]: "08:30:00" is not a time HH:MM',
            id="seconds_not_allowed",
        ),
        pytest.param(
            with_changes(week_tue=[[830, "12:00"]]),
            "week.tue[0]: 830 is not a time HH:MM",
            id="time_not_a_string",
        ),
        pytest.param(
            with_changes(week_wed=[["24:00", "24:00"]]),
            'week.wed[0]: "24:00" is allowed only as an end',
            id="24_00_as_start",
        ),
        pytest.param(
            with_changes(week_mon=[["08:30", "12:00"], ["11:00", "13:00"]]),
            "week.mon[1]: overlaps week.mon[0]",
            id="overlapping_intervals",
        ),
        pytest.param(
            with_changes(week_mon=[["11:00", "13:00"], ["08:30", "12:00"]]),
            "week.mon[1]: overlaps week.mon[0]",
            id="overlapping_unsorted_intervals",
        ),
        pytest.param(
            with_changes(week_mon=[["08:30"]]),
            'week.mon[0]: expected ["HH:MM", "HH:MM"], got [\'08:30\']',
            id="interval_not_a_pair",
        ),
        pytest.param(
            with_changes(week_mon="08:30-12:00"),
            'week.mon: expected a list of ["HH:MM", "HH:MM"] intervals',
            id="day_not_a_list",
        ),
        pytest.param(
            with_changes(week_monday=[]),
            "week.monday: unknown weekday; expected one of mon, tue, wed, thu, fri, sat, sun",
            id="unknown_weekday",
        ),
        pytest.param(
            with_changes(week=["mon"]),
            "week: expected a mapping of weekday (mon..sun) to intervals",
            id="week_not_a_mapping",
        ),
        pytest.param(
            with_changes(timezone="Mars/Base"),
            'timezone: unknown time zone "Mars/Base"',
            id="unknown_time_zone",
        ),
        pytest.param(
            with_changes(timezone="../etc/passwd"),
            'timezone: unknown time zone "../etc/passwd"',
            id="time_zone_path",
        ),
        pytest.param(
            with_changes(timezone=8),
            'timezone: expected a time zone name such as "Asia/Shanghai", got 8',
            id="time_zone_not_a_string",
        ),
        pytest.param(
            with_changes(timezone=None), 'timezone: required, e.g. "Asia/Shanghai"', id="time_zone_missing"
        ),
        pytest.param(
            with_changes(holidays=["2025-01-01", "2025-05-01", "2025-13-01"]),
            'holidays[2]: "2025-13-01" is not a date YYYY-MM-DD',
            id="holiday_month_13",
        ),
        pytest.param(
            with_changes(holidays=["2025/01/01"]),
            'holidays[0]: "2025/01/01" is not a date YYYY-MM-DD',
            id="holiday_with_slashes",
        ),
        pytest.param(
            with_changes(holidays=["20250101"]),
            'holidays[0]: "20250101" is not a date YYYY-MM-DD',
            id="holiday_compact_iso",
        ),
        pytest.param(
            with_changes(holidays="2025-01-01"),
            "holidays: expected a list of dates YYYY-MM-DD",
            id="holidays_not_a_list",
        ),
        pytest.param(
            with_changes(holidays=["1800-01-01"]),
            "holidays[0]: 1800-01-01 is outside the supported years 1900-2999",
            id="holiday_out_of_range",
        ),
        pytest.param(
            with_changes(extra_workdays=["2025-01-26", "2025-02-30"]),
            'extra_workdays[1]: "2025-02-30" is not a date YYYY-MM-DD',
            id="extra_day_not_a_date",
        ),
        pytest.param(
            with_changes(extra_workdays=["2025-01-26", "2025-01-28"]),
            "extra_workdays[1]: 2025-01-28 is also listed in holidays",
            id="date_both_holiday_and_extra_day",
        ),
        pytest.param(
            with_changes(week_mon=[]),
            "extra_workday_hours: required because week.mon is empty and extra_workdays is not",
            id="extra_days_without_hours",
        ),
        pytest.param(
            with_changes(extra_workday_hours=[]),
            "extra_workday_hours: expected at least one interval; leave it out to use Monday's hours",
            id="empty_extra_hours",
        ),
        pytest.param(
            with_changes(extra_workday_hours=[["09:00", "08:00"]]),
            "extra_workday_hours[0]: end 08:00 is before start 09:00",
            id="extra_hours_inverted",
        ),
        pytest.param(
            with_changes(holiday=["2025-01-01"]),
            "holiday: unknown field; expected one of timezone, week, holidays, extra_workdays, extra_workday_hours",
            id="unknown_field",
        ),
        pytest.param(["Asia/Shanghai"], "calendar: expected a mapping", id="not_a_mapping"),
        pytest.param(
            {"timezone": "UTC", "week": {}},
            "calendar has no working time: the week is empty and there are no extra working days",
            id="no_working_time",
        ),
        pytest.param({"timezone": "UTC"}, "calendar has no working time", id="no_week_at_all"),
    ],
)
def test_from_dict_refuses_malformed_calendar(data, message):
    with pytest.raises(CalendarError, match=re.escape(message)):
        BusinessCalendar.from_dict(data)


def test_calendar_error_is_a_value_error():
    assert issubclass(CalendarError, ValueError)


@pytest.mark.parametrize(
    ("week", "expected_monday"),
    [
        pytest.param(
            {"mon": [["00:00", "12:00"], ["12:00", "24:00"]]},
            [["00:00", "12:00"], ["12:00", "24:00"]],
            id="adjacent_intervals_allowed",
        ),
        pytest.param(
            {"mon": [["14:00", "17:30"], ["08:30", "12:00"]]}, OFFICE_DAY, id="unsorted_intervals_are_sorted"
        ),
        pytest.param({"mon": [["8:30", "12:00"]]}, [["08:30", "12:00"]], id="single_digit_hour_is_padded"),
        pytest.param({"mon": (("08:30", "12:00"),)}, [["08:30", "12:00"]], id="tuples_accepted"),
    ],
)
def test_from_dict_normalises_intervals(week, expected_monday):
    data = BusinessCalendar.from_dict({"timezone": "UTC", "week": week}).to_dict()
    assert data["week"]["mon"] == expected_monday
    assert data["week"]["sun"] == []


def test_adjacent_intervals_count_as_one_stretch():
    calendar = BusinessCalendar.from_dict(
        {"timezone": "UTC", "week": {"mon": [["00:00", "12:00"], ["12:00", "24:00"]]}}
    )
    assert calendar.is_working(utc(2025, 1, 6, 12))
    assert calendar.deadline(utc(2025, 1, 6, 11), 120) == utc(2025, 1, 6, 13)


def test_from_dict_accepts_date_objects_and_duplicates():
    data = {**SHANGHAI_OFFICE, "holidays": [date(2025, 1, 29), "2025-01-28", "2025-01-28"]}
    assert BusinessCalendar.from_dict(data) == BusinessCalendar.from_dict(SHANGHAI_OFFICE)


# -- round trips --------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(SHANGHAI_OFFICE, id="shanghai_office"),
        pytest.param(
            {**SHANGHAI_OFFICE, "extra_workday_hours": [["09:00", "17:00"]]}, id="explicit_extra_hours"
        ),
        pytest.param(
            {**ONLY_EXTRA_DAY, "week": {name: [] for name in EVERY_DAY}, "holidays": []}, id="only_extra_days"
        ),
        pytest.param(
            {**every_day(("00:00", "24:00")), "holidays": [], "extra_workdays": []}, id="round_the_clock"
        ),
    ],
)
def test_to_dict_round_trips(data):
    calendar = BusinessCalendar.from_dict(data)
    assert calendar.to_dict() == data
    assert BusinessCalendar.from_dict(calendar.to_dict()) == calendar


def test_always_is_24x7_utc():
    calendar = BusinessCalendar.always()
    assert calendar.to_dict()["timezone"] == "UTC"
    assert all(day == [["00:00", "24:00"]] for day in calendar.to_dict()["week"].values())
    assert calendar.deadline(utc(2025, 1, 4, 23, 50), 30) == utc(2025, 1, 5, 0, 20)
    assert BusinessCalendar.from_dict(calendar.to_dict()) == calendar


def test_calendar_pickles_by_definition(office):
    copy = pickle.loads(pickle.dumps(office))
    assert copy == office
    assert copy.deadline(sh(2025, 1, 6, 17), 60) == sh(2025, 1, 7, 9)


def test_seconds_api_matches_datetime_api(office):
    start = sh(2025, 1, 6, 17, 0)
    deadline = office.deadline_seconds(start.timestamp(), 3600.0)
    assert deadline == sh(2025, 1, 7, 9, 0).timestamp()
    assert office.business_seconds(start.timestamp(), deadline) == 3600.0


def test_concurrent_first_use_agrees_with_serial_use():
    starts = [sh(2016 + i % 15, 1 + i % 12, 1 + i % 28, i % 24) for i in range(300)]
    expected = [BusinessCalendar.from_dict(SHANGHAI_OFFICE).deadline(s, 5000) for s in starts]
    shared = BusinessCalendar.from_dict(SHANGHAI_OFFICE)
    results = [None] * len(starts)

    def work(offset):
        for index in range(offset, len(starts), 4):
            results[index] = shared.deadline(starts[index], 5000)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


# -- properties against the minute-by-minute reference ------------------------

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"]
# Dates next to DST changes in Berlin and New York, where bugs would hide.
DST_DATES = [
    date(2024, 3, 10),
    date(2024, 3, 31),
    date(2024, 10, 27),
    date(2024, 11, 3),
    date(2025, 3, 9),
    date(2025, 3, 30),
    date(2025, 10, 26),
    date(2025, 11, 2),
]
QUARTER_HOURS = st.integers(0, 96).map(lambda q: q * 15)
HORIZON_DAYS = 24


def hhmm(minutes):
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def days(draw):
    kind = draw(st.sampled_from(["empty", "empty", "round_the_clock", "intervals", "intervals", "intervals"]))
    if kind == "empty":
        return []
    if kind == "round_the_clock":
        return [["00:00", "24:00"]]
    count = draw(st.integers(1, 3))
    points = sorted(draw(st.sets(QUARTER_HOURS, min_size=2 * count, max_size=2 * count)))
    intervals = [[points[2 * i], points[2 * i + 1]] for i in range(count)]
    if count > 1 and draw(st.booleans()):
        intervals[1][0] = intervals[0][1]  # adjacent intervals are allowed
    return [[hhmm(a), hhmm(b)] for a, b in intervals]


@st.composite
def calendars(draw):
    """Return (calendar dict, anchor date); every calendar has some working time."""
    anchor = draw(st.one_of(st.sampled_from(DST_DATES), st.dates(date(2024, 1, 1), date(2026, 12, 31))))
    week = {name: draw(days()) for name in EVERY_DAY}
    near = st.integers(-3, HORIZON_DAYS - 4).map(lambda n: (anchor + timedelta(days=n)).isoformat())
    holidays = draw(st.lists(near, max_size=4, unique=True))
    extra_workdays = draw(st.lists(near.filter(lambda d: d not in holidays), max_size=3, unique=True))
    if not any(week.values()) and not extra_workdays:
        extra_workdays = [(anchor + timedelta(days=2)).isoformat()]
        holidays = [d for d in holidays if d != extra_workdays[0]]
    data = {
        "timezone": draw(st.sampled_from(ZONES)),
        "week": week,
        "holidays": holidays,
        "extra_workdays": extra_workdays,
    }
    hours = draw(days().filter(bool)) if draw(st.booleans()) or not week["mon"] else None
    if hours is not None:
        data["extra_workday_hours"] = hours
    return data, anchor


@st.composite
def questions(draw):
    """Return (calendar dict, start, pauses) with whole-minute instants near the calendar's anchor."""
    data, anchor = draw(calendars())
    zone = ZoneInfo(data["timezone"])
    midnight = datetime.combine(anchor, datetime.min.time(), zone).astimezone(UTC)
    start = midnight + timedelta(minutes=draw(st.integers(-2 * 1440, 2 * 1440)))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        pause_start = start + timedelta(minutes=draw(st.integers(-1440, 10 * 1440)))
        pauses.append((pause_start, pause_start + timedelta(minutes=draw(st.integers(0, 3 * 1440)))))
    return data, start.astimezone(zone), pauses


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(question=questions(), minutes=st.integers(0, 1500), until=st.none() | st.integers(0, 3 * 1440))
def test_deadline_matches_minute_by_minute_reference(question, minutes, until):
    data, start, pauses = question
    calendar = BusinessCalendar.from_dict(data)
    reference = ReferenceCalendar(data)
    if until is not None:
        # The business time up to a random instant: its deadline is often a
        # closing time or the end of a pause, where off-by-one bugs live.
        minutes = reference.business_minutes(start, start + timedelta(minutes=until), pauses)
    horizon = HORIZON_DAYS * 1440
    expected = reference.deadline(start, minutes, pauses, horizon_minutes=horizon)
    if expected is not None:
        # Comparing across zones is never equal inside a repeated hour (PEP 495): use UTC.
        assert calendar.deadline(start, minutes, pauses).astimezone(UTC) == expected
        return
    # Not reached within the horizon, which covers every listed date: an
    # extra-days-only calendar has run out; any other deadline lies beyond.
    horizon_end = start + timedelta(minutes=horizon)
    if not any(data["week"].values()):
        with pytest.raises(CalendarError):
            calendar.deadline(start, minutes, pauses)
    else:
        assert calendar.deadline(start, minutes, pauses) > horizon_end
    assert calendar.business_minutes(start, horizon_end, pauses) == reference.business_minutes(
        start, horizon_end, pauses
    )


@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(question=questions(), span=st.integers(-60, HORIZON_DAYS * 1440))
def test_business_minutes_match_minute_by_minute_reference(question, span):
    data, start, pauses = question
    end = start + timedelta(minutes=span)
    expected = ReferenceCalendar(data).business_minutes(start, end, pauses)
    assert BusinessCalendar.from_dict(data).business_minutes(start, end, pauses) == expected


@settings(deadline=None, max_examples=150)
@given(
    question=questions(),
    offset_seconds=st.floats(0, 86_400, allow_nan=False),
    minutes=st.floats(0.001, 20_000, allow_nan=False),
)
def test_business_minutes_up_to_deadline_equal_the_target(question, offset_seconds, minutes):
    data, start, pauses = question
    calendar = BusinessCalendar.from_dict(data)
    start = start + timedelta(seconds=offset_seconds)
    try:
        deadline = calendar.deadline(start, minutes, pauses)
    except CalendarError:
        assert not any(data["week"].values())
        return
    assert deadline >= start
    assert calendar.business_minutes(start, deadline, pauses) == pytest.approx(minutes, abs=1e-4)
    # Earliest instant: a millisecond earlier the target is not yet reached.
    earlier = deadline - timedelta(milliseconds=1)
    if earlier > start:
        assert calendar.business_minutes(start, earlier, pauses) < minutes
    # A pause starting exactly at the deadline does not move it.
    later_pause = (deadline, deadline + timedelta(hours=5))
    assert calendar.deadline(start, minutes, [*pauses, later_pause]) == deadline
