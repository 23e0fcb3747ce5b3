"""Numbers in addresses: ids and page numbers the database can take, else 404.

An id beyond an INTEGER column, or a page whose offset is beyond any list,
is no row and no page: the reader gets the 404 page, where the query would
otherwise overflow the database driver (a 500 on PostgreSQL and SQLite).
"""

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from tracker.domain.limits import ID_MAX, PAGE_MAX


class IdConverter(IntegerConverter):
    """Flask's ``int`` bounded to an INTEGER column: a larger number does not match (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = ID_MAX,
                 signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register(app: Flask) -> None:
    """Make ``<int:...>`` the bounded converter; call before any route is added (rules bind their converter then)."""
    app.url_map.converters["int"] = IdConverter


def page_arg(name: str = "page") -> int:
    """Return the page a query argument asks for: 1 when absent or not a number; 404 beyond PAGE_MAX."""
    page = request.args.get(name, 1, type=int)
    if page is None or page < 1:
        return 1
    if page > PAGE_MAX:
        abort(404)
    return page


def int_arg(name: str, *, signed: bool = False) -> int | None:
    """Return a whole-number query argument (an id, a score), None when absent or empty.

    Anything else, or a number an INTEGER column cannot hold, answers 404.
    """
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    digits = raw[1:] if signed and raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(ID_MAX)):
        abort(404)
    value = int(raw)
    if abs(value) > ID_MAX:
        abort(404)
    return value
