"""Reading a source system's naive local timestamps as UTC instants (domain.source_time)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracker.domain.source_time import AMBIGUOUS, ISO, SHIFTED, SourceClock, SourceTimeError

BOSTON = "%m/%d/%Y %I:%M:%S %p"


@pytest.mark.parametrize("text, instant, flag", [
    # EST (UTC-5) in winter, EDT (UTC-4) in summer.
    ("01/05/2015 12:40:41 PM", datetime(2015, 1, 5, 17, 40, 41, tzinfo=UTC), None),
    ("07/04/2015 12:00:00 AM", datetime(2015, 7, 4, 4, 0, 0, tzinfo=UTC), None),
    ("12/31/2015 11:10:09 PM", datetime(2016, 1, 1, 4, 10, 9, tzinfo=UTC), None),
    # 2015-03-08 02:30 never happened: read as 02:30 EST, i.e. 03:30 EDT.
    ("03/08/2015 02:30:00 AM", datetime(2015, 3, 8, 7, 30, tzinfo=UTC), SHIFTED),
    ("03/08/2015 03:00:00 AM", datetime(2015, 3, 8, 7, 0, tzinfo=UTC), None),
    # 2015-11-01 01:30 happened twice: the first one (EDT).
    ("11/01/2015 01:30:00 AM", datetime(2015, 11, 1, 5, 30, tzinfo=UTC), AMBIGUOUS),
    ("11/01/2015 02:00:00 AM", datetime(2015, 11, 1, 7, 0, tzinfo=UTC), None),
    ("11/01/2015 12:59:59 AM", datetime(2015, 11, 1, 4, 59, 59, tzinfo=UTC), None),
])
def test_boston_times_are_read_in_new_york_time(text, instant, flag):
    assert SourceClock("America/New_York", [BOSTON]).parse(text) == (instant, flag)


@pytest.mark.parametrize("text, instant", [
    ("2026-01-05 09:00", datetime(2026, 1, 5, 1, 0, tzinfo=UTC)),
    ("2026-01-05T09:00:00+02:00", datetime(2026, 1, 5, 7, 0, tzinfo=UTC)),  # an offset wins over the zone
    ("2026-01-05T09:00:00Z", datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
])
def test_iso_times_are_read_in_the_zone_unless_they_carry_an_offset(text, instant):
    assert SourceClock("Asia/Shanghai", [ISO]).parse(text)[0] == instant


def test_formats_are_tried_in_order():
    clock = SourceClock("UTC", ["%d.%m.%Y %H:%M", ISO])
    assert clock.parse("05.01.2026 09:00")[0] == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert clock.parse("2026-01-05 09:00")[0] == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "13/05/2015 12:40:41 PM", "01/05/2015 13:40:41 PM",
                                  "01/05/2015 12:40:41 XM", "2015-01-05"])
def test_unreadable_values_raise(text):
    with pytest.raises(ValueError):
        SourceClock("America/New_York", [BOSTON]).parse(text)


def test_datetime_cells_are_localised_and_aware_ones_kept():
    clock = SourceClock("Asia/Shanghai", [ISO])
    assert clock.parse(datetime(2026, 1, 5, 9, 0))[0] == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    aware = datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    assert clock.parse(aware)[0] == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone, formats", [("Mars/Olympus", [ISO]), ("UTC", ["not a format"])])
def test_bad_zone_or_format_is_refused(zone, formats):
    with pytest.raises(SourceTimeError):
        SourceClock(zone, formats)
