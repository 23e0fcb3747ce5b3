"""What the databases can store: the range of an id or page number, and text.

Both PostgreSQL and SQLite refuse these with an error rather than a wrong
answer (PostgreSQL: "integer out of range", "invalid byte sequence"; SQLite:
an int too large to bind), which the web and the API would show as a 500.
Input is checked against these bounds before it reaches a query.
"""

from tracker.domain.i18n import N_

ID_MAX = 2**31 - 1  # an INTEGER column; larger numbers would overflow the database driver
PAGE_MAX = 100_000  # far beyond any list; page × size stays inside a BIGINT offset


def text_problem(text: str) -> str | None:
    """Return why ``text`` cannot be stored (an untranslated message), or None when it can.

    PostgreSQL's text types refuse the NUL character (the only control
    character they refuse) and UTF-8 cannot encode a lone surrogate.
    """
    if "\x00" in text:
        return N_("Text may not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return N_("Text must be valid Unicode.")
    return None
