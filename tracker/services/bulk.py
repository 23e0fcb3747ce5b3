"""Writing many rows at once, inside the caller's transaction.

On PostgreSQL rows go in with COPY (into a temporary table first when
conflicts must be skipped). A multi-row INSERT with named parameters costs
the driver more than the database here: psycopg re-parses every statement
over a few kilobytes, and 500 rows of a dozen columns make 280 kB of SQL
(10,000 breaches took 11 s of a 17 s sweep in benchmarks/sweep_bench.py).
SQLite gets an executemany, which is what it is fast at.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from enum import Enum

from sqlalchemy import JSON, Table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.extensions import db


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _copy_rows(cursor, table: Table, table_name: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    # Adapting is decided per column, not per value (a sweep writes 10^5-10^6
    # values): JSON columns take their text, encoded once per distinct object
    # (one notice's payload is shared by all its recipients' rows); enum
    # members become their values (psycopg would write their names).
    json_columns = [i for i, c in enumerate(columns) if c in table.c and isinstance(table.c[c].type, JSON)]
    enum_columns = [i for i, c in enumerate(columns) if isinstance(rows[0][c], Enum)]
    encoded: dict[int, str] = {}
    column_list = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table_name}" ({column_list}) FROM STDIN') as copy:
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


def insert(table: Table, rows: Sequence[dict]) -> None:
    """Insert rows (all with the same keys) into ``table``; no RETURNING."""
    if not rows:
        return
    if not _is_postgres():
        db.session.execute(table.insert(), list(rows))
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
    if not _is_postgres():
        statement = (
            sqlite_insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*(table.c[name] for name in returning))
        )
        result = []
        for start in range(0, len(rows), 500):
            result.extend(tuple(r) for r in db.session.execute(statement, list(rows[start : start + 500])).all())
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
