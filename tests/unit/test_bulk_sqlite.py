"""bulk's quick ways to SQLite's parameters give what SQLAlchemy's own processors give."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON
from sqlalchemy.dialects import sqlite

from tracker.domain.workflow import Priority, Status
from tracker.models.types import StrEnumType, UTCDateTime
from tracker.services import bulk

DIALECT = sqlite.dialect()


def general(column_type):
    return column_type.dialect_impl(DIALECT).bind_processor(DIALECT)


@pytest.mark.parametrize("value", [
    datetime(2015, 1, 1, tzinfo=UTC),
    datetime(2015, 12, 31, 23, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 3, 29, 1, 30, 7, 1, tzinfo=timezone(timedelta(hours=8))),
    datetime(1, 1, 2, tzinfo=timezone(timedelta(hours=1))),
    datetime(999, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    datetime(2016, 2, 29, 23, 59, 59, tzinfo=UTC),
    None,
])
def test_a_utc_instant_is_the_text_sqlalchemy_writes(value):
    quick = bulk._sqlite_processor(UTCDateTime(), DIALECT)
    assert quick is bulk._utc_text  # the quick way was taken
    assert quick(value) == general(UTCDateTime())(value)


@pytest.mark.parametrize("value", [datetime(2015, 1, 1), date(2015, 1, 1), "2015-01-01 00:00:00"])
def test_a_naive_or_foreign_instant_is_refused_as_by_the_type(value):
    with pytest.raises(ValueError, match="naive or non-datetime"):
        general(UTCDateTime())(value)
    with pytest.raises(ValueError, match="naive or non-datetime"):
        bulk._sqlite_processor(UTCDateTime(), DIALECT)(value)


@pytest.mark.parametrize("value", ["normal", Priority.URGENT, Status.NEW, "new", None])
def test_an_enum_value_is_what_the_type_writes(value):
    kind = StrEnumType(Status if value in ("new", Status.NEW) else Priority, 16)
    assert bulk._sqlite_processor(kind, DIALECT)(value) == (general(kind) or (lambda v: v))(value)


def test_a_string_that_is_no_value_of_the_enum_is_refused_as_by_the_type():
    kind = StrEnumType(Priority, 16)
    with pytest.raises(ValueError):
        bulk._sqlite_processor(kind, DIALECT)("not-a-priority")


def test_json_is_encoded_unless_it_already_is_json_text():
    quick = bulk._sqlite_processor(JSON(), DIALECT)
    data = {"source_key": "东1", "n": 1}
    assert quick(data) == general(JSON())(data)
    text = bulk.JsonText('{"already": "text"}')
    assert quick(text) is text
