"""Writing many rows at once, inside the caller's transaction.

On PostgreSQL rows go in with COPY (into a temporary table first when
conflicts must be skipped). A multi-row INSERT with named parameters costs
the driver more than the database here: psycopg re-parses every statement
over a few kilobytes, and 500 rows of a dozen columns make 280 kB of SQL
(10,000 breaches took 11 s of a 17 s sweep in benchmarks/sweep_bench.py).
SQLite gets an executemany, which is what it is fast at.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from operator import itemgetter

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class JsonText(str):
    """A JSON column's value already encoded (``json.dumps`` output): COPY writes it as it is.

    Only for COPY (PostgreSQL): a column whose first row holds a JsonText
    takes every row's value as JSON text. The importer formats its events'
    data from a template this way instead of encoding a dict per event.
    """

    __slots__ = ()


# SQLite's settings for a connection writing in bulk (an import), against the
# defaults every other connection keeps (2 MB of page cache, a checkpoint of
# the write-ahead log every 1,000 pages, 4 MB): 64 MB of cache and a
# checkpoint every 10,000 pages (40 MB). An import's batches (22 indexes on
# tickets) read their pages back from the operating system, and nearly every
# batch's commit checkpointed and synced the file; the two took Boston's
# import from 22.9 to 20.4 s (docs/import.md, "SQLite: the parameters written
# quicker, and the settings of an import's connections").
SQLITE_BULK_PRAGMAS = {"cache_size": -64 * 1024, "wal_autocheckpoint": 10_000}
_sqlite_bulk: ContextVar[bool] = ContextVar("sqlite_bulk", default=False)


@contextmanager
def sqlite_bulk_writing() -> Iterator[None]:
    """Give SQLite connections this context begins transactions on the bulk settings (SQLITE_BULK_PRAGMAS).

    Threads started inside keep the defaults (a new thread has a context of
    its own). A connection tuned here gets its own settings back at the
    next transaction begun outside, in whatever thread or request.
    """
    token = _sqlite_bulk.set(True)
    try:
        yield
    finally:
        _sqlite_bulk.reset(token)


def tune_sqlite(connection) -> None:
    """At a transaction's start on SQLite (tracker's "begin" hook), before BEGIN: bulk settings or the connection's own."""
    wanted = _sqlite_bulk.get()
    info = connection.info  # kept with the driver's connection across the pool
    if info.get("sqlite_bulk", False) == wanted:
        return
    if wanted:
        info["sqlite_before"] = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in SQLITE_BULK_PRAGMAS
        }
        values = SQLITE_BULK_PRAGMAS
    else:
        values = info.pop("sqlite_before")
    for name, value in values.items():
        connection.exec_driver_sql(f"PRAGMA {name}={int(value)}")
    info["sqlite_bulk"] = wanted


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _copy_rows(cursor, table: Table, table_name: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    # Adapting is decided per column, not per value (a sweep writes 10^5-10^6
    # values): JSON columns take their text, encoded once per distinct object
    # (one notice's payload is shared by all its recipients' rows); enum
    # members become their values (psycopg would write their names).
    json_columns = [
        i
        for i, c in enumerate(columns)
        if c in table.c and isinstance(table.c[c].type, JSON) and not isinstance(rows[0][c], JsonText)
    ]
    enum_columns = [i for i, c in enumerate(columns) if isinstance(rows[0][c], Enum)]
    encoded: dict[int, str] = {}
    column_list = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table_name}" ({column_list}) FROM STDIN') as copy:
        if not json_columns and not enum_columns:
            # Every value as it is: one tuple per row, no per-value checks.
            values_of = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
            write_row = copy.write_row
            for row in rows:
                write_row(values_of(row))
            return
        for row in rows:
            values = [row[c] for c in columns]
            for i in json_columns:
                value = values[i]
                if value is not None:
                    key = id(value)
                    if key not in encoded:
                        encoded[key] = json.dumps(value, ensure_ascii=False)
                    values[i] = encoded[key]
            for i in enum_columns:
                if isinstance(values[i], Enum):
                    values[i] = values[i].value
            copy.write_row(values)


def _sqlite_values(table: Table, columns: Sequence[str], rows: Sequence[dict]) -> list[tuple]:
    """Return the rows as the driver's parameters, each value through its column type's bind processor.

    What SQLAlchemy's executemany does, without its per-row parameter
    building (most of an import's time on SQLite): the same processors, so
    the same stored text (times, JSON, enums); some by a quicker way to the
    same text (``_sqlite_processor``).
    """
    dialect = db.session.get_bind().dialect
    processors = [(i, _sqlite_processor(table.c[c].type, dialect)) for i, c in enumerate(columns)]
    processors = [(i, p) for i, p in processors if p is not None]
    values_of = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    if not processors:
        return [values_of(row) for row in rows]
    result = []
    for row in rows:
        values = list(values_of(row))
        for i, process in processors:
            values[i] = process(values[i])
        result.append(values)
    return result


# Instants to check the quick ways against SQLAlchemy's own processors with, once per process.
_SAMPLE_INSTANTS = (
    datetime(2015, 1, 1, tzinfo=UTC),
    datetime(2026, 12, 8, 3, 4, 5, 600007, tzinfo=timezone(timedelta(hours=8))),
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5))),
)


@functools.cache
def _sqlite_processor(column_type, dialect):
    """Return what turns a value of ``column_type`` into SQLite's parameter, as SQLAlchemy's processor does.

    About half of an import's time on SQLite went on the processors of its
    UTC instants (the type's check and conversion, then SQLAlchemy's text
    formatting, in Python) and enums. Where a quicker way gives the same
    parameter it is used: for UTC instants ``datetime.isoformat`` (in C)
    after the same check, taken only if it writes SQLAlchemy's text for the
    sample instants; for enums, a value that already is one of the enum's
    values as it is. JSON text made by the caller (``JsonText``) is taken
    as it is too, as COPY takes it.
    """
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, UTCDateTime):
        if process is not None and all(_utc_text(v) == process(v) for v in _SAMPLE_INSTANTS):
            return _utc_text
    elif isinstance(column_type, StrEnumType):
        values = frozenset(member.value for member in column_type.enum_cls)
        return lambda value: value if value.__class__ is str and value in values else process(value)
    elif isinstance(column_type, JSON) and process is not None:
        return lambda value: value if isinstance(value, JsonText) else process(value)
    return process


_SQLITE = sqlite.dialect()
_UTC_TYPE = UTCDateTime()


def _utc_text(value):
    # The type's own conversion (it refuses naive values), then SQLite DATETIME's text (its default storage format).
    if value is None:
        return None
    if value.__class__ is datetime and value.tzinfo is UTC:  # most are (an import's all): no conversion
        return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"
    return _UTC_TYPE.process_bind_param(value, _SQLITE).isoformat(" ", "microseconds")


def _json_decoded(table: Table, rows: Sequence[dict]) -> list[dict]:
    """Return the rows with any ``JsonText`` value decoded: SQLAlchemy's JSON type encodes what it is given."""
    json_columns = [c for c in rows[0] if c in table.c and isinstance(table.c[c].type, JSON)]
    if not any(isinstance(row[c], JsonText) for row in rows for c in json_columns):
        return list(rows)
    return [{k: json.loads(v) if isinstance(v, JsonText) else v for k, v in row.items()} for row in rows]


def _sqlite_raw(table: Table, columns: Sequence[str]) -> bool:
    """Return whether the rows may go to SQLite's driver directly: no column they lack has a Python-side default."""
    given = set(columns)
    return all(c.name in given or c.default is None for c in table.columns)


def _sqlite_cursor():
    return db.session.connection().connection.driver_connection.cursor()


def insert(table: Table, rows: Sequence[dict]) -> None:
    """Insert rows (all with the same keys) into ``table``; no RETURNING."""
    if not rows:
        return
    if not _is_postgres():
        columns = list(rows[0])
        if not _sqlite_raw(table, columns):
            db.session.execute(table.insert(), _json_decoded(table, rows))
            return
        column_list = ", ".join(f'"{c}"' for c in columns)
        cursor = _sqlite_cursor()
        try:
            cursor.executemany(
                f'INSERT INTO "{table.name}" ({column_list}) VALUES ({", ".join("?" for _ in columns)})',
                _sqlite_values(table, columns, rows),
            )
        finally:
            cursor.close()
        return
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        _copy_rows(cursor, table, table.name, list(rows[0]), rows)


def insert_ignoring_conflicts(
    table: Table, rows: Sequence[dict], *, conflict: Sequence[str], returning: Sequence[str]
) -> list[tuple]:
    """Insert rows, skipping those that clash on ``conflict``; return ``returning`` of the inserted ones.

    The order of the returned rows is not promised.
    """
    if not rows:
        return []
    columns = list(rows[0])
    if not _is_postgres() and not _sqlite_raw(table, columns):
        statement = (
            sqlite_insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*(table.c[name] for name in returning))
        )
        result = []
        for start in range(0, len(rows), 500):
            chunk = _json_decoded(table, rows[start : start + 500])
            result.extend(tuple(r) for r in db.session.execute(statement, chunk).all())
        return result
    if not _is_postgres():
        # One multi-row INSERT per 500 rows (SQLite's executemany returns no rows).
        column_list = ", ".join(f'"{c}"' for c in columns)
        one = f"({', '.join('?' for _ in columns)})"
        tail = f'ON CONFLICT ({", ".join(conflict)}) DO NOTHING RETURNING {", ".join(returning)}'
        values = _sqlite_values(table, columns, rows)
        result = []
        cursor = _sqlite_cursor()
        try:
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                cursor.execute(
                    f'INSERT INTO "{table.name}" ({column_list}) VALUES {", ".join(one for _ in chunk)} {tail}',
                    [value for row in chunk for value in row],
                )
                result.extend(tuple(r) for r in cursor.fetchall())
        finally:
            cursor.close()
        return result
    raw = db.session.connection().connection.driver_connection
    column_list = ", ".join(f'"{c}"' for c in columns)
    # One temporary table per table and column set, with those columns' types
    # and no constraints; it lives as long as the connection, its rows as
    # long as the transaction.
    temp = f"_bulk_{table.name}_{zlib.crc32(column_list.encode()):08x}"
    with raw.cursor() as cursor:
        cursor.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{temp}" ON COMMIT DELETE ROWS AS '
            f'SELECT {column_list} FROM "{table.name}" WITH NO DATA'
        )
        _copy_rows(cursor, table, temp, columns, rows)
        cursor.execute(
            f'INSERT INTO "{table.name}" ({column_list}) SELECT {column_list} FROM "{temp}" '
            f'ON CONFLICT ({", ".join(conflict)}) DO NOTHING RETURNING {", ".join(returning)}'
        )
        result = [tuple(r) for r in cursor.fetchall()]
        cursor.execute(f'DELETE FROM "{temp}"')
    return result


def update_by_id(table: Table, rows: Sequence[dict], *, key: str = "id") -> None:
    """Set each row's columns on the row of ``table`` with its ``key``; all rows have the same keys."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    if not _is_postgres():
        from sqlalchemy import bindparam, update

        statement = (
            update(table)
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        db.session.execute(
            statement, [{f"b_{name}": value for name, value in row.items()} for row in rows],
            execution_options={"synchronize_session": False},
        )
        return
    raw = db.session.connection().connection.driver_connection
    all_columns = [key, *columns]
    column_list = ", ".join(f'"{c}"' for c in all_columns)
    temp = f"_bulk_{table.name}_{zlib.crc32(column_list.encode()):08x}"
    assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns)
    with raw.cursor() as cursor:
        cursor.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{temp}" ON COMMIT DELETE ROWS AS '
            f'SELECT {column_list} FROM "{table.name}" WITH NO DATA'
        )
        _copy_rows(cursor, table, temp, all_columns, rows)
        cursor.execute(f'UPDATE "{table.name}" AS t SET {assignments} FROM "{temp}" AS v WHERE t."{key}" = v."{key}"')
        cursor.execute(f'DELETE FROM "{temp}"')


def ids_in(column, ids: Sequence[int]):
    """Return ``column IN ids`` as one array parameter on PostgreSQL (not one per id)."""
    ids = list(ids)
    if _is_postgres():
        from sqlalchemy import Integer, any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam("ids_array", ids, type_=ARRAY(Integer), unique=True))
    return column.in_(ids)
