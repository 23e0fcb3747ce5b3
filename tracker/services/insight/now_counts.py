"""The "now" figures counted once a minute and shared by every page: open backlog, late, at risk, escalations.

Counting the requests late and at risk now on every request costs in
proportion to them: with 10,000 late at a million tickets, 70 ms of the
database's time a page, more than the overview's whole budget
(docs/dashboards.md). A beat task (``reports.now_counts``, every
NOW_COUNTS_SECONDS) counts them instead, with the live definitions
(``reports.OPEN_CONDITION``, ``late_now``, ``at_risk_now``,
``actions.pressing_escalations``) evaluated at one instant, per centre,
category, priority and assignee, into ``now_counts`` (and the escalations
counted into ``now_escalations``, for the overview's list of their oldest);
a page sums the few rows its filters select and says when they were counted.

When the stored counts are missing or older than NOW_COUNTS_MAX_AGE_SECONDS
(worker or beat down), ``current`` counts live, as before, and says so:
nothing shows an old figure silently. Drill-down lists are always live.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.extensions import db
from tracker.models import Escalation, NowCount, NowCountRun, NowEscalation, Ticket
from tracker.services.insight import reports
from tracker.services.insight.overview import actions

# now_counts' keys: every filter of ``reports.ticket_where`` and the assignee (the technicians' table).
KEYS = ("centre_id", "category_id", "priority", "assignee_id")
# The columns a page may split the figures by (reports.now_counted' columns).
BY = ("centre_id", "category_id", "assignee_id")
RUN_ID = 1


@dataclass
class NowFigures:
    """The "now" figures of some filters: stored (``counted_at``) or counted live for this request (None)."""

    counted_at: datetime | None
    backlog: int = 0
    breached_now: int = 0
    at_risk_now: int = 0
    # None: not counted (live: the overview's escalations count them with their list).
    escalations: int | None = None
    # figure ("backlog", "breached_now", "at_risk_now") -> column -> key -> count: reports.now_counted' shape.
    by: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)

    @property
    def is_stored(self) -> bool:
        return self.counted_at is not None

    def totals(self) -> reports.Figures:
        """Return the figures as a dashboard total row's "now" part."""
        return reports.Figures(
            backlog=self.backlog, breached_now=self.breached_now, at_risk_now=self.at_risk_now
        )


# ---------------------------------------------------------------- counting


def recount(now: datetime) -> int:
    """Count the "now" figures at ``now`` into now_counts, replacing the last count, and commit; return the rows.

    One transaction, behind the lock of now_count_runs' row: two recounts
    at once run one after the other (the second waits, then replaces the
    first's rows), so neither deadlocks nor adds to the other's rows. A
    recount that waited for one counted at ``now`` or later writes nothing
    and returns -1.
    """
    run = _lock()
    if run.counted_at is not None and run.counted_at >= now:
        db.session.commit()
        return -1
    started = time.perf_counter()
    db.session.execute(delete(NowCount))
    db.session.execute(delete(NowEscalation))
    rows = _count(now)
    if rows:
        db.session.execute(insert(NowCount), rows)
    run.counted_at = now
    run.milliseconds = round((time.perf_counter() - started) * 1000)
    db.session.commit()
    return len(rows)


def _lock() -> NowCountRun:
    """Lock now_count_runs' row (made when missing) for this transaction; return it."""
    values = {"id": RUN_ID}
    if db.session.get_bind().dialect.name == "postgresql":
        make = pg_insert(NowCountRun).values(values).on_conflict_do_nothing(index_elements=["id"])
    else:
        # SQLite: every transaction already holds the write lock (BEGIN IMMEDIATE, tracker/extensions.py).
        make = sqlite_insert(NowCountRun).values(values).on_conflict_do_nothing(index_elements=["id"])
    db.session.execute(make)
    return db.session.execute(
        select(NowCountRun)
        .where(NowCountRun.id == RUN_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _count(now: datetime) -> list[dict]:
    """Write the now_escalations rows at ``now``; return the now_counts rows (one per key with anything
    open, late, at risk or escalated)."""
    keys = [getattr(Ticket, name) for name in KEYS]
    figures: dict[tuple, dict[str, int]] = defaultdict(
        lambda: {"backlog": 0, "late": 0, "at_risk": 0, "escalations": 0}
    )
    everything = reports.Filters(first=now.date(), last=now.date())
    for name, condition in (
        ("backlog", None),
        ("late", reports.late_now(now)),
        ("at_risk", reports.at_risk_now(now)),
    ):
        query = select(*keys, func.count()).where(reports.OPEN_CONDITION)
        if condition is not None:
            query = query.where(condition)
        for *key, number in db.session.execute(query.group_by(*keys)):
            figures[tuple(key)][name] = number
    # The escalations go from the query to their table inside the database: thousands of rows, no round trip.
    escalated = actions.pressing_escalations(
        select(Escalation.id, Escalation.created_at, *keys), everything, now
    )
    db.session.execute(insert(NowEscalation).from_select(["escalation_id", "created_at", *KEYS], escalated))
    stored = [getattr(NowEscalation, name) for name in KEYS]
    for *key, number in db.session.execute(select(*stored, func.count()).group_by(*stored)):
        figures[tuple(key)]["escalations"] = number
    return [{**dict(zip(KEYS, key, strict=True)), **values} for key, values in figures.items()]


# ---------------------------------------------------------------- reading


def max_age() -> timedelta:
    return timedelta(seconds=current_app.config["NOW_COUNTS_MAX_AGE_SECONDS"])


def counted_at(now: datetime) -> datetime | None:
    """Return when the stored counts were made, None when they are missing or too old to show at ``now``."""
    at = db.session.execute(select(NowCountRun.counted_at).where(NowCountRun.id == RUN_ID)).scalar()
    if at is None or abs(now - at) > max_age():
        return None
    return at


def current(
    filters: reports.Filters, now: datetime, *, by: tuple[str, ...] = (), backlog_by: bool = False
) -> NowFigures:
    """Return the "now" figures of ``filters`` (centre, category, priority), split ``by`` some of BY.

    The stored counts while they are fresh; otherwise counted live at
    ``now`` with the same definitions (``escalations`` then None). The
    backlog is split too when stored, and when counted live only with
    ``backlog_by`` (the dashboards' tables count it with its ageing).
    """
    at = counted_at(now)
    if at is None:
        return _live(filters, now, by if backlog_by else (), by)
    where = reports.scope_where(filters, NowCount)
    sums = (
        func.coalesce(func.sum(NowCount.backlog), 0),
        func.coalesce(func.sum(NowCount.late), 0),
        func.coalesce(func.sum(NowCount.at_risk), 0),
        func.coalesce(func.sum(NowCount.escalations), 0),
    )
    backlog, late, at_risk, escalations = db.session.execute(select(*sums).where(where)).one()
    result = NowFigures(at, int(backlog), int(late), int(at_risk), int(escalations))
    result.by = {
        name: {column: defaultdict(int) for column in by}
        for name in ("backlog", "breached_now", "at_risk_now")
    }
    for column in by:
        key = getattr(NowCount, column)
        query = select(key, *sums[:3]).where(where, key.is_not(None)).group_by(key)
        for value, backlog, late, at_risk in db.session.execute(query):
            for name, number in (("backlog", backlog), ("breached_now", late), ("at_risk_now", at_risk)):
                if number:
                    result.by[name][column][value] = int(number)
    return result


def _live(
    filters: reports.Filters, now: datetime, backlog_by: tuple[str, ...], by: tuple[str, ...]
) -> NowFigures:
    """Return the figures counted now, as every page did before the stored counts."""
    totals = reports.now_totals(filters, now)
    result = NowFigures(None, totals.backlog, totals.breached_now, totals.at_risk_now)
    counts = reports.now_counted(filters, now)
    result.by = {
        name: {column: counts[name][column] for column in by} for name in ("breached_now", "at_risk_now")
    }
    result.by["backlog"] = {column: defaultdict(int) for column in by}
    for column in backlog_by:
        key = getattr(Ticket, column)
        query = select(key, func.count()).where(
            reports.OPEN_CONDITION, reports.ticket_where(filters), key.is_not(None)
        )
        for value, number in db.session.execute(query.group_by(key)):
            result.by["backlog"][column][value] = number
    return result
