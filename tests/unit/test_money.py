"""Amounts typed by people, read as integer fen; quantities as whole numbers (tracker/domain/money.py)."""

import pytest

from tracker.domain.money import AmountRefused, format_fen, parse_fen, parse_quantity


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1234.50", 123450),
        ("1234.5", 123450),
        ("1234", 123400),
        ("1,234.50", 123450),
        ("¥1,234.50", 123450),
        ("￥1234.50", 123450),  # full-width yuan sign, as a Chinese keyboard types it
        ("１２３４．５０", 123450),  # full-width digits and point
        ("CNY 80", 8000),
        ("rmb80.05", 8005),
        ("80元", 8000),
        (" 0.01 ", 1),
        ("1,000,000.00", 100_000_000),
    ],
)
def test_amounts_written_as_the_campus_writes_them_are_read_exactly(text, fen):
    assert parse_fen(text) == fen
    assert isinstance(parse_fen(text), int)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.234,50", "ambiguous"),  # German: a comma as decimal mark
        ("1234,50", "ambiguous"),
        ("12,5", "ambiguous"),
        ("1.234", "ambiguous"),  # three decimals: a thousands point?
        ("12.345", "ambiguous"),
        ("$12.00", "another currency"),
        ("EUR 10", "another currency"),
        ("€10", "another currency"),
        ("-80", "negative"),
        ("−80", "negative"),
        ("12a", "not an amount"),
        ("1,23,456", "ambiguous"),
        ("", "Give an amount"),
        ("1,000,000.01", "more than"),
    ],
)
def test_other_formats_are_refused_not_guessed(text, says):
    with pytest.raises(AmountRefused) as refused:
        parse_fen(text)
    assert says in refused.value.message


def test_an_empty_amount_may_be_allowed():
    assert parse_fen("  ", allow_empty=True) is None


@pytest.mark.parametrize(("fen", "shown"), [(0, "0.00"), (5, "0.05"), (123450, "1,234.50"), (-100, "-1.00")])
def test_fen_are_shown_as_yuan(fen, shown):
    assert format_fen(fen) == shown


@pytest.mark.parametrize(("text", "value"), [("3", 3), ("+3", 3), ("３", 3), (7, 7)])
def test_quantities_are_whole_positive_numbers(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-1", "negative"),
        ("0", "at least 1"),
        ("1.5", "whole number"),
        ("", "Give a quantity"),
        ("abc", "whole number"),
        ("100001", "more than"),
    ],
)
def test_bad_quantities_are_refused(text, says):
    with pytest.raises(AmountRefused) as refused:
        parse_quantity(text)
    assert says in refused.value.message
