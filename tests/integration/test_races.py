"""Two people, workers or imports acting on the same rows at the same instant.

Each race runs its calls in threads, each inside an app context of its own
and so with its own session and database connection, released together by
a barrier once they have loaded what they need. SQLite queues the writers
(BEGIN IMMEDIATE, busy timeout: tracker/__init__.py); PostgreSQL lets them
meet on row locks and unique keys. Every test asserts on the stored rows
afterwards: exactly one winner, nothing counted or created twice.
"""

import csv
import gzip
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tracker.domain.workflow import Action, Status
from tracker.errors import Conflict
from tracker.extensions import db as _db
from tracker.models import (
    AdminEvent,
    Calendar,
    Category,
    Centre,
    DailyAssigneeStat,
    DailyStat,
    EventKind,
    ImportMapping,
    ImportRun,
    RunStatus,
    SlaPolicy,
    StatsDirty,
    Ticket,
    TicketEvent,
    TicketSla,
    User,
)
from tracker.services.insight import reports, stats
from tracker.services.requests import importer
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla

STALE = "Someone else changed this request a moment ago. Look at it again and retry."


def race(app, calls: list[Callable[[], Callable[[], object]]], *, timeout: float = 60) -> list:
    """Run each call in a thread of its own at the same instant; return what each returned or raised.

    A call loads what it needs in its thread's session and returns the
    function to race; the threads end their loading transactions (on SQLite
    every transaction holds the write lock) and wait at a barrier.
    """
    barrier = threading.Barrier(len(calls), timeout=timeout)
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        with app.app_context():
            try:
                go = call()
                _db.session.commit()
                barrier.wait()
                results[index] = go()
            except Exception as error:  # reported to the test
                results[index] = error
            finally:
                _db.session.remove()

    _db.session.commit()  # the test's own transaction would block SQLite's writers
    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racer is still waiting (deadlock?)"
    _db.session.expire_all()
    return results


def count(model, *where) -> int:
    return _db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# ---------------------------------------------------------------- two people, one request


def _move(world, who: str, action: Action, *, ticket_id: int, version: int, now, **details):
    """Return a racer: ``who`` applies ``action`` with the version their page was built from."""
    user_id = world.users[who].id

    def load():
        actor = _db.session.get(User, user_id)
        actor.centre_ids()  # roles loaded before the race

        def go():
            return ticket_service.transition(ticket_id, action, actor=actor, now=now, expected_version=version,
                                             **details)

        return go

    return load


# (status before, [(who, action, details by role name), (who, action, ...)])
MOVES = {
    "two technicians take it from the pool": (
        Status.NEW, [("technician", Action.TAKE, {}), ("other_technician", Action.TAKE, {})]),
    "a dispatcher assigns while a technician takes it": (
        Status.NEW, [("dispatcher", Action.ASSIGN, {"assignee_id": "other_technician"}),
                     ("technician", Action.TAKE, {})]),
    "the assignee accepts while the dispatcher reassigns": (
        Status.ASSIGNED, [("technician", Action.ACCEPT, {}),
                          ("dispatcher", Action.ASSIGN, {"assignee_id": "other_technician"})]),
    "the requester cancels while the technician goes on site": (
        Status.ACCEPTED, [("requester", Action.CANCEL, {"reason": "Fixed it myself."}),
                          ("technician", Action.ARRIVE, {})]),
}
WINNING_STATUS = {Action.TAKE: Status.ACCEPTED, Action.ASSIGN: Status.ASSIGNED, Action.ACCEPT: Status.ACCEPTED,
                  Action.CANCEL: Status.CANCELLED, Action.ARRIVE: Status.IN_PROGRESS}


@pytest.mark.parametrize("case", list(MOVES))
def test_two_people_moving_one_request_at_once_leave_one_winner(app, world, case):
    before, moves = MOVES[case]
    for round_ in range(3):
        ticket = make_ticket(world, status=before, now=T0 + timedelta(days=round_))
        ticket_id, version = ticket.id, ticket.version
        history = [e.id for e in ticket.events]
        at = T0 + timedelta(days=round_, hours=1)
        racers = []
        for who, action, details in moves:
            details = {k: world.users[v].id if k == "assignee_id" else v for k, v in details.items()}
            racers.append(_move(world, who, action, ticket_id=ticket_id, version=version, now=at, **details))
        results = race(app, racers)

        won = [i for i, r in enumerate(results) if isinstance(r, Ticket)]
        lost = [i for i, r in enumerate(results) if not isinstance(r, Ticket)]
        assert len(won) == 1, results
        [loser] = lost
        assert isinstance(results[loser], Conflict) and results[loser].message == STALE, results[loser]
        who, action, _ = moves[won[0]]

        stored = _db.session.get(Ticket, ticket_id)
        assert stored.status is WINNING_STATUS[action]
        assert stored.version > version
        events = list(_db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)).scalars())
        assert [e.id for e in events[:-1]] == history  # exactly one event more: the winner's
        last = events[-1]
        assert (last.actor_id, last.created_at, last.to_status) == (
            world.users[who].id, at, WINNING_STATUS[action])
        assert last.kind is (EventKind.ASSIGNED if action in (Action.ASSIGN, Action.TAKE) else
                             EventKind.STATUS_CHANGED)
        # The stored clocks are what the history gives.
        rows = {row.target: row for row in _db.session.execute(
            select(TicketSla).where(TicketSla.ticket_id == ticket_id)).scalars()}
        again = sla.clocks_for(stored, at)
        assert set(rows) == set(again) and rows
        for target, clock in again.items():
            assert (rows[target].state, rows[target].due_at, rows[target].milestone_at) == (
                clock.state, clock.due_at, clock.milestone_at), (case, target)


# ---------------------------------------------------------------- reference numbers


def test_simultaneous_filings_get_distinct_consecutive_references(app, world):
    filers = 6
    category = world.categories["water"]
    request = ticket_service.NewTicket(centre_id=category.centre_id, category_id=category.id,
                                       location_id=world.locations["room"].id,
                                       description="The corridor light flickers.")

    def filer(username: str):
        user_id = world.users[username].id

        def load():
            requester = _db.session.get(User, user_id)
            requester.centre_ids()
            return lambda: ticket_service.file_ticket(request, requester=requester, now=T0).reference

        return load

    people = ["requester", "other_requester", "technician"]
    # The first round creates the year's counter (insert race), the next ones bump it.
    for _ in range(3):
        results = race(app, [filer(people[i % len(people)]) for i in range(filers)])
        assert all(isinstance(r, str) for r in results), results
    references = list(_db.session.execute(select(Ticket.reference)).scalars())
    assert sorted(references) == [f"RP-2026-{n:06d}" for n in range(1, 3 * filers + 1)]
    assert count(TicketEvent, TicketEvent.kind == EventKind.FILED) == 3 * filers


# ---------------------------------------------------------------- the daily summary


def _summary() -> tuple[list, list]:
    """Return the stored daily_stats and daily_assignee_stats rows as sorted plain tuples."""
    columns = [c for c in DailyStat.__table__.c if c.name != "refreshed_at"]
    daily = sorted(tuple(r) for r in _db.session.execute(select(*columns)))
    assignee = sorted(tuple(r) for r in _db.session.execute(select(*DailyAssigneeStat.__table__.c)))
    return daily, assignee


def _recount() -> tuple[list, list]:
    """Return the same rows counted from scratch, over every day and centre that has tickets."""
    stats.mark_everything()
    pairs = [(d, c) for d, c in _db.session.execute(select(StatsDirty.day, StatsDirty.centre_id))]
    _db.session.execute(StatsDirty.__table__.delete())
    _db.session.commit()
    names = [c.name for c in DailyStat.__table__.c if c.name != "refreshed_at"]
    daily = sorted(tuple(row[n] for n in names) for row in reports.pair_rows(pairs))
    assignee_names = [c.name for c in DailyAssigneeStat.__table__.c]
    assignee = sorted(tuple(row[n] for n in assignee_names) for row in reports.assignee_pair_rows(pairs))
    return daily, assignee


def test_two_workers_refreshing_the_summary_at_once_count_each_day_once(app, world):
    for day in range(5):
        at = T0 + timedelta(days=day, hours=3 * day)
        for status in (Status.NEW, Status.CLOSED, Status.CANCELLED):
            make_ticket(world, status=status, now=at)
        make_ticket(world, category="keys", now=at)  # the dorm centre: its own rows of the same days
    first, last = reports.local_day(T0), reports.local_day(T0 + timedelta(days=10))

    def until_current():
        return lambda: stats.refresh_until_current(first, last, wait_seconds=30)

    def small_batches():
        def go():
            done = 0
            while (step := stats.refresh(limit=3)):
                done += step
            return done

        return go

    def everything():
        return lambda: stats.refresh_all()

    waiting = list(_db.session.execute(select(Ticket.id).where(Ticket.status == Status.NEW)).scalars())
    requester_id = world.users["requester"].id

    def writer():
        # Cancels requests meanwhile: its marks land on pairs being computed, or after.
        def go():
            requester = _db.session.get(User, requester_id)
            for ticket_id in waiting:
                ticket = _db.session.get(Ticket, ticket_id)
                ticket_service.transition(ticket_id, Action.CANCEL, actor=requester, reason="Not needed.",
                                          now=ticket.created_at + timedelta(hours=20))
            return len(waiting)

        return go

    for racers in ([until_current, small_batches], [everything, everything, small_batches, writer]):
        assert count(StatsDirty) > 0
        results = race(app, racers)
        assert not [r for r in results if isinstance(r, Exception)], results
        if writer not in racers:
            assert count(StatsDirty) == 0
        # What a refresh left marked (the writer's last changes) is counted by the next one,
        # and what it unmarked it has counted: the summary is a recount.
        stats.refresh_all()
        assert count(StatsDirty) == 0
        stored = _summary()
        assert stored[0], "nothing was counted"
        assert stored == _recount()
        stats.mark_everything()  # the next round recomputes every day again
    assert count(Ticket, Ticket.status == Status.CANCELLED) > 5


def test_a_transaction_writes_its_summary_marks_once_in_order_when_it_commits(app, world):
    # Two mark statements in one transaction took row locks out of order, and a
    # refresh deleting the same marks in order deadlocked with the writer (seen
    # on PostgreSQL). Now one ordered statement writes them, just before commit.
    from sqlalchemy import event

    _db.session.execute(StatsDirty.__table__.delete())
    _db.session.commit()
    centre = world.centres["repairs"].id
    late, early = reports.local_day(T0 + timedelta(days=3)), reports.local_day(T0)
    written = []

    def seen(conn, clause, multiparams, params, options):
        if getattr(clause, "is_insert", False) and clause.table.name == "stats_dirty":
            rows = multiparams[0] if multiparams and isinstance(multiparams[0], list) else list(multiparams)
            written.append([(r["day"], r["centre_id"]) for r in rows])
        elif "INSERT INTO stats_dirty" in str(clause):  # PostgreSQL: one statement over two arrays
            given = multiparams[0] if isinstance(multiparams, list | tuple) and multiparams else multiparams or params
            written.append(list(zip(given["days"], given["centres"], strict=True)))

    engine = _db.engine
    event.listen(engine, "before_execute", seen)
    try:
        stats.mark([(late, centre)])
        _db.session.flush()
        assert count(StatsDirty) == 0 and written == [], "a mark was written before the commit"
        stats.mark([(early, centre), (late, centre)])
        _db.session.commit()
        stats.mark([(early, centre)])
        _db.session.rollback()  # the changes are gone, and so is their mark
        _db.session.commit()
    finally:
        event.remove(engine, "before_execute", seen)
    assert len(written) == 1, written
    assert written[0] == [(early, centre), (late, centre)]
    assert count(StatsDirty) == 2


# ---------------------------------------------------------------- the same import twice at once

BOSTON = Path(__file__).resolve().parents[1] / "data" / "boston311"
SLICE = ["Improper Storage of Trash (Barrels).csv.gz", "Pigeon Infestation.csv.gz", "Parking Meter Repairs.csv.gz"]


def _department_kinds(files) -> set[tuple[str, str]]:
    """Return the (SUBJECT, TYPE) pairs of Boston files: the centres and categories the mapping creates."""
    pairs = set()
    for item in files:
        with gzip.open(item["path"], "rt", encoding="utf-8-sig", newline="") as source:
            pairs.update((row["SUBJECT"], row["TYPE"]) for row in csv.DictReader(source))
    return pairs


def test_the_same_import_run_twice_at_once_creates_everything_once(app, db, tmp_path):
    files = [{"name": name, "path": str(BOSTON / name)} for name in SLICE]
    as_of = T0

    def importer_run():
        def go():
            importer.ensure_builtin_mappings(now=T0)
            mapping = importer.mapping_by_code("boston-311")
            run = importer.create_run(mapping=mapping, files=files, dry_run=False, as_of=as_of, actor=None, now=T0)
            done = importer.execute_run(run.id, batch_size=20)
            return done and done.id

        return go

    rounds = []
    for _ in range(2):  # into an empty database, then into a full one (all skipped)
        results = race(app, [importer_run, importer_run])
        assert all(isinstance(r, int) for r in results), results
        rounds.append([_db.session.get(ImportRun, r) for r in results])
        for run in rounds[-1]:
            assert run.status is RunStatus.DONE, run.message
    first, again = rounds
    total = first[0].rows_total
    assert total == first[1].rows_total and total > 100
    assert sum(r.rows_error for r in first) == 0
    # Between them they imported every row once; each skipped what the other had imported.
    assert sum(r.rows_imported for r in first) == total
    assert all(r.rows_imported + r.rows_skipped == total for r in first)
    assert [(r.rows_imported, r.rows_skipped) for r in again] == [(0, total), (0, total)]

    assert count(Ticket) == total
    assert count(Ticket) == _db.session.execute(select(func.count(func.distinct(Ticket.source_key)))).scalar_one()
    assert count(TicketEvent, TicketEvent.kind == EventKind.FILED) == total
    # Every catalogue row the mapping creates exists once, with one line of history.
    kinds = _department_kinds(files)
    assert set(_db.session.execute(select(Centre.name_en)).scalars()) == {d for d, _ in kinds}
    assert set(_db.session.execute(select(Centre.name_en, Category.name_en).join(Category.centre))) == kinds
    assert count(User) == 1
    assert count(ImportMapping) == 1
    assert count(Calendar, Calendar.code == importer.SOURCE_CALENDAR) == 1
    assert count(SlaPolicy, SlaPolicy.code == sla.SOURCE_DEADLINE_POLICY) == 1
    for entity, model in (("centre", Centre), ("category", Category), ("user", User)):
        assert count(AdminEvent, AdminEvent.entity == entity, AdminEvent.action == "created") == count(model)
    # References are the centres' own, numbered without a clash.
    assert count(Ticket) == _db.session.execute(select(func.count(func.distinct(Ticket.reference)))).scalar_one()


def test_two_imports_creating_centres_with_the_same_initials_at_once_give_each_its_own_prefix(app, db, tmp_path):
    mapping = importer.save_mapping(None, {
        "code": "old-desk", "name": "The old help desk", "source_system": "olddesk", "time_zone": "Asia/Shanghai",
        "columns": {"source_id": "case", "opened_at": "opened", "centre": "unit", "category": "kind"},
        "rules": {"centre": {"create_missing": True}, "category": {"create_missing": True}},
    }, actor=None, now=T0)
    mapping_id = mapping.id

    def importer_run(name: str, unit: str):
        path = tmp_path / name
        path.write_text("case,opened,unit,kind\n" + "".join(
            f"{name}-{n},2026-01-05T09:{n:02d}:00,{unit},Leak\n" for n in range(5)), encoding="utf-8")

        def load():
            mapping = _db.session.get(ImportMapping, mapping_id)
            run = importer.create_run(mapping=mapping, files=[{"name": name, "path": str(path)}], dry_run=False,
                                      as_of=T0, actor=None, now=T0)
            run_id = run.id
            return lambda: importer.execute_run(run_id).id

        return load

    for round_ in range(3):
        # "Parks Watch 1" and "Public Works 1" both want the prefix PW1.
        results = race(app, [importer_run(f"a{round_}.csv", f"Parks Watch {round_}"),
                             importer_run(f"b{round_}.csv", f"Public Works {round_}")])
        assert all(isinstance(r, int) for r in results), results
        for run_id in results:
            run = _db.session.get(ImportRun, run_id)
            assert (run.status, run.rows_imported) == (RunStatus.DONE, 5), run.message
    centres = {c.name_en: c for c in _db.session.execute(select(Centre)).scalars()}
    assert len(centres) == 6 and len({c.ref_prefix for c in centres.values()}) == 6
    assert {name: c.code for name, c in centres.items()} == {  # a clash on the prefix leaves the code alone
        f"{words} {r}": f"{words.lower().replace(' ', '-')}-{r}" for words in ("Parks Watch", "Public Works")
        for r in range(3)}
    assert {centres[f"Parks Watch {r}"].ref_prefix for r in range(3)} | {
        centres[f"Public Works {r}"].ref_prefix for r in range(3)} >= {"PW0", "PW1", "PW2"}
    for centre in centres.values():
        references = list(_db.session.execute(select(Ticket.reference).where(Ticket.centre_id == centre.id)).scalars())
        assert sorted(references) == [f"{centre.ref_prefix}-2026-{n:06d}" for n in range(1, 6)]
