"""The one source of "now"."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    return datetime.now(UTC)
