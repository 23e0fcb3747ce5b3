"""Column types shared by the models."""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC; always return aware UTC.

    SQLite drops the zone, so values are normalised to UTC on the way in and
    tagged UTC on the way out. Naive datetimes are refused: they are bugs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"naive or non-datetime value for a UTC column: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator):
    """Store a StrEnum as its string value in a VARCHAR; return the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32):
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return self.enum_cls(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_cls(value)

    def copy(self, **kw):
        return StrEnumType(self.enum_cls, self.impl.length)


def render_item(type_, obj, autogen_context):
    """Render our column types as plain SQLAlchemy types in Alembic migrations.

    Migrations must not import application code: the file stays valid when
    the models move on.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, StrEnumType):
        return f"sa.String(length={obj.impl.length})"
    return False
