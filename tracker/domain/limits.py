"""What the databases can store: the range of an id or page number.

Both PostgreSQL and SQLite refuse a larger number with an error rather
than a wrong answer (PostgreSQL: "integer out of range"; SQLite: an int too
large to bind), which the web and the API would show as a 500. Input is
checked against these bounds before it reaches a query.
"""

ID_MAX = 2**31 - 1  # an INTEGER column; larger numbers would overflow the database driver
PAGE_MAX = 100_000  # far beyond any list; page × size stays inside a BIGINT offset

