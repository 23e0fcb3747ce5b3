"""Amounts of money typed by people, read as integer fen (cents of a yuan).

Pure: no Flask, no database. Money is never a float: amounts are parsed
from text into ``int`` fen through ``Decimal``, and shown from fen.

What is accepted (docs/materials.md, "Amounts"): digits with an optional
point and at most two decimals ("1234.5", "1234.50"), commas only as
thousands separators in groups of three before a point ("1,234.50"),
an optional yuan sign (¥ or ￥) or "CNY"/"RMB" in front, or "元" after.
Full-width digits and signs (what a Chinese keyboard types) count as
their ASCII twins. Everything else is refused rather than guessed:
"1.234,50" and "1234,50" (a comma as decimal mark), "1.234" (three
decimals: a thousands point?), "$12" or "EUR 12" (another currency), a
minus sign.
"""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from tracker.domain.i18n import N_

# Larger than any repair: 1,000,000 yuan.
MAX_FEN = 100_000_000

_PREFIXES = ("¥", "CNY", "RMB")
_SUFFIXES = ("元",)
_PLAIN = re.compile(r"^(\d+)(?:\.(\d{1,2}))?$")
_GROUPED = re.compile(r"^(\d{1,3}(?:,\d{3})+)(?:\.(\d{1,2}))?$")
_FOREIGN = re.compile(r"[$€£₩₹]|\b(?:USD|EUR|GBP|JPY|HKD|TWD|KRW)\b", re.IGNORECASE)


class AmountRefused(ValueError):
    """The text is not an amount this module accepts; ``message`` is a msgid."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def parse_fen(text: str | None, *, allow_empty: bool = False) -> int | None:
    """Return the amount written in ``text`` in fen (0.01 yuan).

    Returns None for an empty text when ``allow_empty``. Raises
    AmountRefused with a translatable message otherwise.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw:
        if allow_empty:
            return None
        raise AmountRefused(N_("Give an amount in yuan, for example 1234.50."))
    if _FOREIGN.search(raw):
        raise AmountRefused(N_("Give the amount in yuan (¥), not in another currency."))
    value = raw.replace(" ", "")
    for prefix in _PREFIXES:
        if value.upper().startswith(prefix):
            value = value[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if value.endswith(suffix):
            value = value[: -len(suffix)]
            break
    if value.startswith("-") or value.startswith("−"):
        raise AmountRefused(N_("An amount cannot be negative."))
    if value.startswith("+"):
        value = value[1:]
    match = _PLAIN.match(value) or _GROUPED.match(value)
    if match is None:
        if (
            re.fullmatch(r"[\d.,]+", value)
            and "," in value
            and ("." not in value or value.rfind(",") > value.rfind("."))
        ):
            # "1.234,50", "1234,50", "12,5": a comma where we write the decimal point.
            raise AmountRefused(
                N_("“%(text)s” is ambiguous: write the decimal part after a point, for example 1234.50."),
                text=raw,
            )
        if re.fullmatch(r"\d+\.\d{3,}", value):
            raise AmountRefused(
                N_("“%(text)s” is ambiguous: an amount has at most two decimals (fen), for example 1234.50."),
                text=raw,
            )
        raise AmountRefused(N_("“%(text)s” is not an amount in yuan, for example 1234.50."), text=raw)
    whole, decimals = match.group(1).replace(",", ""), match.group(2) or ""
    try:
        fen = int(Decimal(f"{whole}.{decimals or '0'}") * 100)
    except InvalidOperation:  # pragma: no cover - the patterns admit digits only
        raise AmountRefused(
            N_("“%(text)s” is not an amount in yuan, for example 1234.50."), text=raw
        ) from None
    if fen > MAX_FEN:
        raise AmountRefused(N_("An amount cannot be more than %(max)s yuan."), max=format_fen(MAX_FEN))
    return fen


def format_fen(fen: int | None) -> str:
    """Return ``fen`` as yuan with two decimals and thousands commas: 123450 -> "1,234.50"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, rest = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{rest:02d}"


def parse_quantity(text, *, maximum: int = 100_000) -> int:
    """Return a positive whole quantity typed in ``text``.

    Raises AmountRefused for an empty, non-integer, zero, negative or
    too large quantity.
    """
    raw = unicodedata.normalize("NFKC", str(text if text is not None else "")).strip()
    if not raw:
        raise AmountRefused(N_("Give a quantity."))
    if re.fullmatch(r"[-−]\s*\d+(?:\.\d+)?", raw):
        raise AmountRefused(N_("A quantity cannot be negative."))
    if not re.fullmatch(r"\+?\d+", raw):
        raise AmountRefused(N_("“%(text)s” is not a whole number."), text=raw)
    value = int(raw)
    if value <= 0:
        raise AmountRefused(N_("A quantity must be at least 1."))
    if value > maximum:
        raise AmountRefused(N_("A quantity cannot be more than %(max)d."), max=maximum)
    return value
