"""Honest satisfaction: how many closed requests the requester really confirmed and rated.

Automatic closures (the application confirms when the requester never did)
and requests without a rating are counted apart; the satisfaction mean is
only ever of requesters' own ratings (``Feedback``: no rating is given by
default or by the application). Read from ``daily_stats``.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import DailyStat
from tracker.services.insight import reports

_COLUMNS = ("closed", "closed_auto", "closed_rated", "rating_sum", "rating_count")


def figures(filters: reports.Filters) -> reports.Figures:
    """Return the period's closed, closed automatically, closed and rated, and ratings (other fields zero)."""
    values = db.session.execute(
        select(*(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in _COLUMNS)).where(
            reports._stats_where(filters)
        )
    ).one()
    result = reports.Figures()
    for name, value in zip(_COLUMNS, values, strict=True):
        setattr(result, name, int(value or 0))
    return result
