"""Keeping ``daily_stats`` (and ``daily_centre_stats``, its per-centre sums) current: mark the days a change touched, recompute them.

A change marks (local day, centre) pairs in its own transaction: the days
its ticket was filed, resolved, closed or cancelled, and the days its
targets' outcomes count on, before and after the change (a reopen or a
priority change can move a figure from one day to another). The workers'
``stats.refresh`` recomputes the marked pairs from the source with the
figures' own definitions (``reports.pair_rows``, set-based), so the summary never
drifts from what a drill-down list shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, event, func, inspect, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.extensions import db
from tracker.models import (
    DailyAssigneeStat,
    DailyCentreStat,
    DailyStat,
    DailyTechnicianHold,
    DailyTechnicianStat,
    Feedback,
    StatsDirty,
    Ticket,
)
from tracker.models.stats import SUMMED_COLUMNS
from tracker.services import bulk
from tracker.services.insight import reports
from tracker.services.insight.scorecards import summary as scorecard_summary

_TICKET_DAYS = ("created_at", "resolved_at", "closed_at", "cancelled_at")


_collected: ContextVar[set | None] = ContextVar("stats_collected", default=None)


@contextmanager
def collected_marks():
    """Within the block, gather the marks and write them once at its end (bulk writers); no commit."""
    pairs: set = set()
    token = _collected.set(pairs)
    try:
        yield
    finally:
        _collected.reset(token)
    mark(pairs)


def mark(pairs: Iterable[tuple[date, int]]) -> None:
    """Mark (day, centre) pairs for recomputation when the transaction commits (no commit).

    The marks of one transaction are gathered and written by one statement,
    in (day, centre) order, just before it commits (``write_marks``). Two
    statements in one transaction could take row locks out of order, and a
    refresh deleting the same rows in order would deadlock with it: seen on
    PostgreSQL with a writer cancelling requests while refreshes ran. An
    existing mark gets a new version, so a refresh computing it right now
    keeps it for the next round. The row lock this takes is brief: refreshes
    never hold one while they compute.
    """
    gathering = _collected.get()
    if gathering is not None:
        gathering.update(p for p in pairs if p[0] is not None)
        return
    session = db.session()
    if not session.in_transaction():
        session.connection()  # begin: its rollback is what forgets these marks
    session.info.setdefault(_PENDING, set()).update(p for p in pairs if p[0] is not None)


_PENDING = "stats_marks"


def write_marks(session=None) -> None:
    """Write the marks gathered in ``session``'s transaction now, in one ordered statement (no commit)."""
    session = session if session is not None else db.session()
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Sorted: concurrent markers take row locks in one order, never a deadlock.
    pairs = sorted(pending)
    if session.get_bind().dialect.name == "postgresql":
        # One statement, not one per pair (an import's batch marks hundreds):
        # the rows go in in the order of the arrays, so the locks too.
        session.execute(
            _MARK_ARRAYS, {"days": [day for day, _ in pairs], "centres": [centre for _, centre in pairs]}
        )
        return
    rows = [{"day": day, "centre_id": centre_id, "version": 1} for day, centre_id in pairs]
    session.execute(_MARK[session.get_bind().dialect.name], rows)


def take_marks(session=None) -> list[tuple[date, int]]:
    """Return the marks gathered in the transaction, in the order ``write_marks`` writes them, and forget them.

    For a caller that writes them itself, last before its commit, in that
    order (filing on PostgreSQL folds them into its one write:
    services.requests.tickets).
    """
    session = session if session is not None else db.session()
    return sorted(session.info.pop(_PENDING, None) or ())


@event.listens_for(Session, "before_commit")
def _write_marks_before_commit(session) -> None:
    # Also at a savepoint's commit: a commit of the whole transaction while a
    # savepoint is open calls this only with the savepoint current, and
    # waiting for an outer commit there would lose the marks.
    if session.info.get(_PENDING):
        write_marks(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_marks(session, previous_transaction) -> None:
    # The changes that marked are gone. A savepoint's rollback keeps them:
    # a mark too many only recomputes a day again.
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def _mark_statement(insert):
    table = StatsDirty.__table__
    return insert(table).on_conflict_do_update(index_elements=["day", "centre_id"],
                                               set_={"version": table.c.version + 1})


# Built once per dialect: every change to a ticket marks its days.
_MARK = {"sqlite": _mark_statement(sqlite_insert), "postgresql": _mark_statement(pg_insert)}
_MARK_ARRAYS = text(
    "INSERT INTO stats_dirty (day, centre_id, version) "
    "SELECT day, centre_id, 1 FROM unnest(CAST(:days AS date[]), CAST(:centres AS integer[])) "
    "WITH ORDINALITY AS pair(day, centre_id, n) ORDER BY n "
    "ON CONFLICT (day, centre_id) DO UPDATE SET version = stats_dirty.version + 1"
)


def ticket_days(ticket: Ticket) -> set[date]:
    """Return the local days a ticket's period figures count on, before and after pending changes."""
    days = set()
    state = inspect(ticket)
    for name in _TICKET_DAYS:
        history = state.attrs[name].history
        for value in (*history.added, *history.unchanged, *history.deleted):
            if value is not None:
                days.add(reports.local_day(value))
    # A rating counts under the request's category and priority now: a change
    # of either moves it between rows of the day it was given. (Their history
    # may be flushed away by now, and rated requests rarely change: mark it always.)
    if ticket.id is not None:
        with db.session.no_autoflush:
            given_at = db.session.execute(
                select(Feedback.given_at).where(Feedback.ticket_id == ticket.id)
            ).scalar_one_or_none()
        if given_at is not None:
            days.add(reports.local_day(given_at))
    else:
        # Being filed: a new request at the place and category of one resolved
        # shortly before makes that one rework (its technician's scorecard).
        days |= scorecard_summary.repeat_days(ticket)
    return days


CLAIM_SECONDS = 600


def refresh(*, limit: int = 200) -> int:
    """Recompute up to ``limit`` marked (day, centre) pairs; return how many.

    Three short transactions: claim the pairs, write their new rows, then
    delete the marks nobody renewed meanwhile. No lock is held while
    computing, so changes marking days never wait for a refresh; a refresh
    that dies leaves its claims to expire and the marks to be done again.
    """
    write_marks()  # what this transaction marked is part of what to do
    now = _now()
    table = StatsDirty.__table__
    query = (
        select(table.c.day, table.c.centre_id, table.c.version)
        .where((table.c.claimed_until.is_(None)) | (table.c.claimed_until < now))
        .order_by(table.c.day, table.c.centre_id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = db.session.execute(query).all()
    if not claimed:
        db.session.rollback()
        return 0
    until = now + timedelta(seconds=CLAIM_SECONDS)
    keys = [{"d": day, "c": centre_id} for day, centre_id, _ in claimed]
    this_pair = (table.c.day == bindparam("d")) & (table.c.centre_id == bindparam("c"))
    pairs = [(day, centre_id) for day, centre_id, _ in claimed]
    # On PostgreSQL one statement per table over two arrays, not one per pair
    # (an import's summary has thousands): the claimed rows are locked already
    # (FOR UPDATE above), and no other refresh holds these pairs' summary rows.
    arrays = _pair_arrays(pairs) if db.session.get_bind().dialect.name == "postgresql" else None
    connection = db.session.connection()  # executemany: one round of statements per batch
    if arrays is not None:
        connection.execute(
            text(f"UPDATE stats_dirty AS t SET claimed_until = :until FROM {_PAIRS} WHERE {_THIS_PAIR}"),
            arrays | {"until": until},
        )
    else:
        connection.execute(update(table).where(this_pair).values(claimed_until=until), keys)
    db.session.commit()

    stat = DailyStat.__table__
    assignee_stat = DailyAssigneeStat.__table__
    tables = (stat, DailyCentreStat.__table__, assignee_stat, DailyTechnicianStat.__table__,
              DailyTechnicianHold.__table__)
    for table_ in tables:
        if arrays is not None:
            db.session.connection().execute(
                text(f'DELETE FROM "{table_.name}" AS t USING {_PAIRS} WHERE {_THIS_PAIR}'), arrays
            )
        else:
            db.session.connection().execute(
                delete(table_).where(table_.c.day == bindparam("d"), table_.c.centre_id == bindparam("c")), keys
            )
    technician_rows, hold_rows = scorecard_summary.pair_rows(pairs)
    if technician_rows:
        db.session.execute(DailyTechnicianStat.__table__.insert(), technician_rows)
    if hold_rows:
        db.session.execute(DailyTechnicianHold.__table__.insert(), hold_rows)
    rows = reports.pair_rows(pairs)
    if rows:
        # COPY on PostgreSQL: every column is given (the sums default to 0 in pair_rows).
        bulk.insert(stat, [row | {"refreshed_at": now} for row in rows])
        # The per-centre sums, from the rows just written, in this transaction.
        if arrays is not None:
            db.session.connection().execute(text(centre_rollup_sql(f"JOIN {_PAIRS} ON {_THIS_PAIR}")), arrays)
        else:
            db.session.connection().execute(
                text(centre_rollup_sql("WHERE t.day = :d AND t.centre_id = :c")), keys
            )
    assignee_rows = reports.assignee_pair_rows(pairs)
    if assignee_rows:
        db.session.execute(assignee_stat.insert(), assignee_rows)
    db.session.commit()

    # One pass over the claimed marks in (day, centre) order, as markers lock
    # them: first free every claim (this locks each row, in order), then
    # delete those nobody renewed meanwhile (rows already locked here). The
    # other way round, a marker holding a freed row while waiting on one
    # deleted here deadlocked with this transaction (seen on PostgreSQL).
    # Marked again while computing: the freed claim is for the next round.
    connection = db.session.connection()
    connection.execute(update(table).where(this_pair).values(claimed_until=None), keys)
    connection.execute(
        delete(table).where(this_pair, table.c.version == bindparam("v")),
        [{"d": day, "c": centre_id, "v": version} for day, centre_id, version in claimed],
    )
    db.session.commit()
    return len(claimed)


_PAIRS = "unnest(CAST(:days AS date[]), CAST(:centres AS integer[])) AS pair(day, centre_id)"
_THIS_PAIR = "t.day = pair.day AND t.centre_id = pair.centre_id"


def centre_rollup_sql(where: str = "") -> str:
    """Return the INSERT of ``daily_centre_stats`` from ``daily_stats`` (as ``t``) rows chosen by ``where``.

    ``where``: a JOIN or WHERE on ``t``; none for every day and centre (the
    table must be empty of those pairs first). The benchmarks' loaders that
    write ``daily_stats`` in SQL run it too.
    """
    names = ", ".join(SUMMED_COLUMNS)
    sums = ", ".join(f"coalesce(sum(t.{name}), 0)" for name in SUMMED_COLUMNS)
    return (
        f"INSERT INTO daily_centre_stats (day, centre_id, {names}) "
        f"SELECT t.day, t.centre_id, {sums} FROM daily_stats AS t {where} GROUP BY t.day, t.centre_id"
    )


def _pair_arrays(pairs: list[tuple[date, int]]) -> dict:
    return {"days": [day for day, _ in pairs], "centres": [centre for _, centre in pairs]}


# A round's aim: an import reports its summary's progress after every
# round, and the bar is to move at least every 2 s.
ROUND_SECONDS = 1.0
FIRST_ROUND, SMALLEST_ROUND, LARGEST_ROUND = 500, 50, 5000


def refresh_all(*, progress=None, round_seconds: float = ROUND_SECONDS) -> int:
    """Recompute every marked pair, in rounds sized to last about ``round_seconds``; return how many.

    A round's cost grows with the requests of its days (the database
    counts them), so after each full round the next is scaled by how long
    it took, at most doubled: a dense span of days gets smaller rounds.
    """
    total = 0
    waiting = db.session.execute(select(func.count()).select_from(StatsDirty)).scalar_one()
    limit = FIRST_ROUND
    while True:
        began = time.monotonic()
        done = refresh(limit=limit)
        if not done:
            return total
        total += done
        if progress is not None:
            progress(total, max(waiting, total))
        if done == limit:
            took = max(time.monotonic() - began, 0.001)
            limit = max(SMALLEST_ROUND, min(LARGEST_ROUND, int(limit * min(2.0, round_seconds / took))))


# How long a reader that needs a span current waits for a refresh another
# worker has claimed (it writes its rows within seconds; a dead one's claim
# lasts CLAIM_SECONDS).
SPAN_WAIT_SECONDS = 30.0


def refresh_until_current(first: date, last: date, *, progress=None,
                          wait_seconds: float = SPAN_WAIT_SECONDS) -> bool:
    """Recompute every marked pair until no day from ``first`` to ``last`` is marked; return whether none is.

    ``refresh_all`` leaves the pairs another worker has claimed: their rows
    are being rewritten there, and reading the summary meanwhile gives the
    figures from before the change. So wait for those, at most
    ``wait_seconds``; False when a claim still stands then (its worker may
    have died: the claim expires after CLAIM_SECONDS).
    """
    deadline = time.monotonic() + wait_seconds
    span = reports.Filters(first=first, last=last)
    while True:
        refresh_all(progress=progress)
        current = reports.summary_current(span)
        db.session.rollback()  # end the read: the next one sees what the other worker committed
        if current:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def mark_everything() -> int:
    """Mark every (day, centre) that has tickets, from the first filing to today; commit.

    For a first build after an upgrade, or after bulk loads that bypassed
    the marking (demo data, imports). Returns how many pairs were marked.
    """
    first = db.session.execute(select(func.min(Ticket.created_at))).scalar()
    if first is None:
        return 0
    centres = list(db.session.execute(select(Ticket.centre_id).distinct()).scalars())
    day = reports.local_day(first)
    today = reports.local_day(_now())
    pairs = []
    while day <= today:
        pairs.extend((day, centre) for centre in centres)
        day = date.fromordinal(day.toordinal() + 1)
    mark(pairs)
    db.session.commit()
    return len(pairs)


def _now() -> datetime:
    from tracker.clock import utcnow

    return utcnow()
