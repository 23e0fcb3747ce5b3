"""The automatic dispatch rule and the roster file's cells, on plain values (docs/dispatch.md)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest

from tracker.models import ShiftKind
from tracker.services.dispatch.roster import _parse_date, _parse_time
from tracker.services.dispatch.suggest import Candidate, ranked


@dataclass
class Person:
    id: int
    display_name: str


@dataclass
class Skill:
    id: int


WATER, POWER = 1, 2
EARLY, LATE = datetime(2026, 3, 6, 1, tzinfo=UTC), datetime(2026, 3, 6, 2, tzinfo=UTC)


def tech(id_, duty=ShiftKind.ON_DUTY, skills=(), load=0, turn=None):
    return Candidate(
        user=Person(id_, f"T{id_}"),
        duty=duty,
        skills=[Skill(s) for s in skills],
        open_count=load,
        last_dispatched_at=turn,
    )


@pytest.mark.parametrize(
    ("team", "category", "expected"),
    [
        ([tech(1, load=2), tech(2, load=1)], WATER, [2, 1]),  # least load first
        ([tech(1, turn=LATE), tech(2, turn=EARLY)], WATER, [2, 1]),  # equal load: longest since a turn
        ([tech(2), tech(1)], WATER, [1, 2]),  # never dispatched, equal load: lower id
        ([tech(1, turn=EARLY), tech(2)], WATER, [2, 1]),  # never dispatched goes before
        ([tech(1, skills=[POWER]), tech(2, skills=[WATER], load=5)], WATER, [2]),  # skill before load
        ([tech(1, skills=[]), tech(2, skills=[POWER])], WATER, [1]),  # no skills listed: any category
        ([tech(1, duty=ShiftKind.ON_CALL), tech(2, duty=None)], WATER, []),  # on call or off: never
    ],
)
def test_ranking_is_on_duty_then_skill_then_load_then_round_robin(team, category, expected):
    assert [c.user.id for c in ranked(team, category)] == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("20:00", time(20)),
        ("8:05", time(8, 5)),
        ("20：30", time(20, 30)),
        ("24:00", time(0)),
        ("0800", time(8)),
        (datetime(2026, 3, 6, 7, 30), time(7, 30)),
        ("25:00", None),
        ("", None),
        ("soon", None),
    ],
)
def test_roster_file_times(cell, expected):
    assert _parse_time(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-03-06", date(2026, 3, 6)),
        ("2026/3/6", date(2026, 3, 6)),
        ("2026.03.06", date(2026, 3, 6)),
        (datetime(2026, 3, 6), date(2026, 3, 6)),
        ("2026-13-01", None),
        ("", None),
        ("Friday", None),
    ],
)
def test_roster_file_dates(cell, expected):
    assert _parse_date(cell) == expected
