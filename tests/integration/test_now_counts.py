"""The "now" counts kept once a minute: the same figures as the live counts, shown with their counting time.

A campus of two centres at Monday 2 March 2026, 10:00 Shanghai: requests late
(swept and not yet swept), at risk, escalated (one acknowledged), closed and
cancelled after their deadline (not late now), awaiting confirmation, across
centres, categories, priorities and assignees.
"""

import re
import threading
from datetime import date, timedelta
from itertools import product

import pytest
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tests.integration import workers
from tracker.domain.workflow import Action, Priority, Status
from tracker.models import Escalation, NowCount, NowCountRun, NowEscalation, Ticket, User
from tracker.services.insight import now_counts, reports
from tracker.services.insight.overview import actions
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import sweep as sla_sweep

NOW = T0 + timedelta(hours=1)  # Monday 10:00 in Shanghai
DAY = date(2026, 3, 2)


@pytest.fixture
def campus(db, world):
    u = world.users
    made = {
        # Repairs answers in 30 minutes round the clock; at risk from 75 %.
        "late_unswept": make_ticket(world, now=NOW - timedelta(minutes=40)),
        "late_swept": make_ticket(world, category="power", now=NOW - timedelta(hours=3)),
        "late_assigned": make_ticket(world, status=Status.ASSIGNED, now=NOW - timedelta(hours=2)),
        "late_other": make_ticket(
            world, status=Status.ASSIGNED, now=NOW - timedelta(hours=2), priority=Priority.LOW
        ),
        "at_risk": make_ticket(world, now=NOW - timedelta(minutes=25)),
        "at_risk_power": make_ticket(world, category="power", now=NOW - timedelta(minutes=24)),
        "in_time": make_ticket(world, status=Status.ACCEPTED, now=NOW - timedelta(minutes=5)),
        "closed_late": make_ticket(
            world, status=Status.CLOSED, now=NOW - timedelta(hours=5), step=timedelta(minutes=40)
        ),
        "cancelled_late": make_ticket(world, now=NOW - timedelta(hours=4)),
        "awaiting": make_ticket(
            world, status=Status.RESOLVED, now=NOW - timedelta(hours=6), step=timedelta(minutes=50)
        ),
        # The dormitory's requests, on its working-hours standard.
        "dorm_old": make_ticket(world, category="keys", now=NOW - timedelta(days=3)),
        "dorm_new": make_ticket(world, category="keys", now=NOW - timedelta(minutes=10)),
    }
    sla_sweep.sweep_due(NOW - timedelta(hours=2, minutes=30))
    sla_sweep.sweep_due(
        NOW - timedelta(minutes=20)
    )  # flags and escalates; late_unswept becomes late after it
    ticket_service.transition(
        made["cancelled_late"].id,
        Action.CANCEL,
        actor=u["requester"],
        now=NOW - timedelta(minutes=15),
        reason="Fixed it myself",
    )
    first = (
        db.session.execute(
            select(Escalation).where(Escalation.acknowledged_at.is_(None)).order_by(Escalation.id)
        )
        .scalars()
        .first()
    )
    receiver = db.session.get(User, min(sla_sweep.receivers(first, db.session.get(Ticket, first.ticket_id))))
    sla_sweep.acknowledge(first.id, actor=receiver, now=NOW - timedelta(minutes=10))
    # Another technician holds one of the late ones.
    ticket_service.transition(
        made["late_other"].id,
        Action.ASSIGN,
        actor=u["dispatcher"],
        now=NOW - timedelta(minutes=9),
        assignee_id=u["other_technician"].id,
    )
    db.session.commit()
    return made


def every_filters(world) -> list[reports.Filters]:
    centres = [None, *(c.id for c in world.centres.values())]
    categories = [None, *(c.id for c in world.categories.values())]
    priorities = [None, *(p.value for p in Priority)]
    return [
        reports.Filters(first=DAY, last=DAY, centre_id=c, category_id=k, priority=p)
        for c, k, p in product(centres, categories, priorities)
    ]


def live_escalations(filters: reports.Filters) -> int:
    return actions.actions(filters, NOW).counts[actions.ESCALATION]


def test_the_stored_counts_are_the_live_counts_under_every_filter(campus, world, db):
    rows = now_counts.recount(NOW)
    assert rows == db.session.execute(select(func.count()).select_from(NowCount)).scalar_one() > 0
    everything = reports.Filters(first=DAY, last=DAY)
    live = now_counts.current(everything, NOW + timedelta(minutes=10))  # past the max age: counted live
    assert not live.is_stored
    # Something of every kind to count, and the closed and cancelled breaches left out.
    stored = now_counts.current(everything, NOW, by=now_counts.BY)
    assert stored.counted_at == NOW
    assert stored.breached_now >= 4 and stored.at_risk_now >= 2 and stored.escalations >= 2
    assert stored.backlog == 9  # twelve filed: one closed, one cancelled, one resolved (awaiting, apart)
    for filters in every_filters(world):
        stored = now_counts.current(filters, NOW, by=now_counts.BY)
        live = now_counts._live(filters, NOW, now_counts.BY, now_counts.BY)
        assert (stored.backlog, stored.breached_now, stored.at_risk_now) == (
            live.backlog,
            live.breached_now,
            live.at_risk_now,
        ), filters
        assert stored.escalations == live_escalations(filters), filters
        # The overview's oldest escalations: from those counted, the same as the live list's.
        listed = actions.actions(filters, NOW, escalation_count=stored.escalations).candidates[
            actions.ESCALATION
        ]
        assert [a.reference for a in listed] == [
            a.reference for a in actions.actions(filters, NOW).candidates[actions.ESCALATION]
        ], filters
        for name, column in product(("backlog", "breached_now", "at_risk_now"), now_counts.BY):
            assert dict(stored.by[name][column]) == dict(live.by[name][column]), (filters, name, column)


def test_the_oldest_counted_escalations_are_walked_a_batch_at_a_time_past_those_acknowledged_since(
    campus, world, db, monkeypatch
):
    now_counts.recount(NOW)
    everything = reports.Filters(first=DAY, last=DAY)
    count = now_counts.current(everything, NOW).escalations
    monkeypatch.setattr(actions, "COUNTED_BATCH", 1)  # every counted escalation a batch of its own

    def listed(escalation_count=None):
        found = actions.actions(everything, NOW, escalation_count=escalation_count)
        return [a.reference for a in found.candidates[actions.ESCALATION]]

    assert len(listed()) >= 2
    assert listed(count) == listed()
    # Acknowledged after the count: the stored list walks past it, as the live list leaves it out.
    oldest = db.session.execute(
        select(Escalation)
        .join(NowEscalation, NowEscalation.escalation_id == Escalation.id)
        .order_by(NowEscalation.created_at, NowEscalation.escalation_id)
        .limit(1)
    ).scalar_one()
    oldest.acknowledged_at = NOW
    db.session.commit()
    assert listed(count) == listed()


def test_the_oldest_counted_escalations_read_only_the_rows_wanted(campus, world, db, monkeypatch):
    # Issue 20: the first batch is as long as the rows wanted and each probe stops at them; the list stays
    # the live one's, with fewer rows wanted than counted or more, and past one acknowledged since the count.
    now_counts.recount(NOW)
    everything = reports.Filters(first=DAY, last=DAY)
    count = now_counts.current(everything, NOW).escalations
    counted = db.session.execute(select(func.count()).select_from(NowEscalation)).scalar_one()
    assert counted > 4  # more than one request's four rows (size 1): the probe must stop short of them

    def listed(size, escalation_count=None):
        found = actions.actions(everything, NOW, escalation_count=escalation_count, size=size)
        return [(a.reference, a.since) for a in found.candidates[actions.ESCALATION]]

    def rows(wanted):
        query = select(Escalation.id)
        return [row.id for row in actions._oldest_counted(query, everything, wanted)]

    live_order = (
        db.session.execute(
            select(Escalation.id)
            .join(NowEscalation, NowEscalation.escalation_id == Escalation.id)
            .order_by(Escalation.created_at, Escalation.id)
        )
        .scalars()
        .all()
    )
    for wanted in (1, 3, counted, counted + 5):
        assert rows(wanted) == live_order[:wanted], wanted
    oldest = db.session.get(Escalation, live_order[0])
    oldest.acknowledged_at = NOW
    db.session.commit()
    for batch in (actions.COUNTED_BATCH, 2):
        monkeypatch.setattr(actions, "COUNTED_BATCH", batch)
        assert rows(3) == live_order[1:4], batch
        for size in (1, 2, 5):
            assert listed(size, count) == listed(size), (batch, size)


def test_a_missing_or_old_count_gives_way_to_the_live_count(campus, world, db):
    everything = reports.Filters(first=DAY, last=DAY)
    assert now_counts.current(everything, NOW).counted_at is None  # never counted: live
    now_counts.recount(NOW)
    backlog = now_counts.current(everything, NOW).backlog
    # A request filed after the count: the stored figure does not move while it is fresh, and says when it was made.
    make_ticket(world, now=NOW + timedelta(seconds=30))
    fresh = now_counts.current(everything, NOW + timedelta(minutes=1))
    assert (fresh.counted_at, fresh.backlog) == (NOW, backlog)
    # Older than NOW_COUNTS_MAX_AGE_SECONDS (worker or beat down): counted live, the new request in it.
    old = now_counts.current(everything, NOW + timedelta(seconds=181))
    assert (old.counted_at, old.backlog, old.escalations) == (None, backlog + 1, None)
    # The next count catches up.
    now_counts.recount(NOW + timedelta(minutes=3))
    assert now_counts.current(everything, NOW + timedelta(minutes=3)).backlog == backlog + 1


def overview_figures(html: str) -> dict[str, str]:
    return {
        label.strip(): figure.strip()
        for label, figure in re.findall(
            r'class="ov-label">([^<]+)</span>\s*<span class="ov-figure">([^<]+)<', html
        )
    }


def test_the_overview_and_the_display_show_the_stored_figures_and_when_they_were_counted(
    campus, world, db, client, login_as, monkeypatch
):
    now_counts.recount(NOW)
    everything = reports.Filters(first=DAY, last=DAY)
    stored = now_counts.current(everything, NOW)
    # Changes after the count: one more late request, one fewer at risk (accepted).
    make_ticket(world, now=NOW - timedelta(hours=1))
    ticket_service.transition(
        campus["at_risk"].id,
        Action.ASSIGN,
        actor=world.users["dispatcher"],
        now=NOW,
        assignee_id=world.users["technician"].id,
    )
    ticket_service.transition(campus["at_risk"].id, Action.ACCEPT, actor=world.users["technician"], now=NOW)
    db.session.commit()
    later = NOW + timedelta(minutes=1)
    monkeypatch.setattr("tracker.web.dashboards.utcnow", lambda: later)
    monkeypatch.setattr("tracker.web.display.utcnow", lambda: later)
    login_as("leadership")
    html = client.get("/dashboard").get_data(as_text=True)
    shown = overview_figures(html)
    assert shown["Open backlog"] == str(stored.backlog)
    assert shown["Breached now"] == str(stored.breached_now)
    assert shown["At risk now"] == str(stored.at_risk_now)
    assert "counted at 18:00" not in html  # campus time, not UTC
    assert "counted at 10:00" in html and "figures counted at 10:00 (every minute)." in html
    assert f"Escalations not acknowledged: {stored.escalations}<" in html
    data = client.get("/display/data").get_json()
    assert data["now_counted_at"] == NOW.isoformat()
    assert (
        data["kpis"]["backlog"]["value"],
        data["kpis"]["breached_now"]["value"],
        data["kpis"]["at_risk_now"]["value"],
    ) == (stored.backlog, stored.breached_now, stored.at_risk_now)
    assert "now figures counted 10:00" in client.get("/display").get_data(as_text=True)
    # The centre head's dashboard: the same counts for the centre.
    login_as("centre_head")
    repairs = reports.Filters(first=DAY, last=DAY, centre_id=world.centres["repairs"].id)
    html = client.get(f"/dashboard/centre?centre={repairs.centre_id}").get_data(as_text=True)
    assert overview_figures(html)["Breached now"] == str(now_counts.current(repairs, NOW).breached_now)
    assert "figures counted at 10:00 (every minute)." in html
    # Four minutes on, with nothing counted since: the live figures, and the page says so.
    much_later = NOW + timedelta(minutes=4)
    monkeypatch.setattr("tracker.web.dashboards.utcnow", lambda: much_later)
    monkeypatch.setattr("tracker.web.display.utcnow", lambda: much_later)
    login_as("leadership")
    html = client.get("/dashboard").get_data(as_text=True)
    live = now_counts.current(everything, much_later)
    assert live.counted_at is None and live.backlog == stored.backlog + 1
    assert overview_figures(html)["Open backlog"] == str(live.backlog)
    assert (
        "counted for this page" in html and "the counts kept every minute are missing or out of date" in html
    )
    assert client.get("/display/data").get_json()["now_counted_at"] is None


def test_two_recounts_at_once_neither_deadlock_nor_double_count(campus, app, db):
    db.session.rollback()  # SQLite: the test's transaction would hold the write lock
    start = threading.Barrier(2)
    results, errors = [], []

    def recount():
        with app.app_context():
            try:
                start.wait(timeout=10)
                results.append(now_counts.recount(NOW))
            except Exception as error:  # shown below
                errors.append(error)
            finally:
                from tracker.extensions import db as database

                database.session.remove()

    threads = [threading.Thread(target=recount) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    # One counted; the other waited for it, found a count of the same instant and wrote nothing.
    written = [r for r in results if r >= 0]
    assert sorted(results) == [-1, written[0]]
    rows = db.session.execute(select(NowCount)).scalars().all()
    assert len(rows) == written[0]
    keys = [(r.centre_id, r.category_id, r.priority, r.assignee_id) for r in rows]
    assert len(set(keys)) == len(keys)
    assert db.session.execute(select(NowCountRun.counted_at)).scalar_one() == NOW
    # A later one replaces the rows, not adds to them.
    assert now_counts.recount(NOW + timedelta(minutes=1)) == len(rows)
    assert db.session.execute(select(func.count()).select_from(NowCount)).scalar_one() == len(rows)


@pytest.mark.worker
def test_beat_counts_every_few_seconds_and_two_workers_counting_at_once_agree(make_system):
    from tests.factories import build_world
    from tracker.clock import utcnow

    system = make_system(settings={"TRACKER_NOW_COUNTS_SECONDS": "1"})
    worker = system.start_worker(concurrency=2, beat=True, ready=False, loglevel="DEBUG")
    world = build_world()
    for minutes in (50, 40, 25, 5):  # two late, one at risk, one in time: repairs answers in 30 minutes
        make_ticket(world, now=utcnow() - timedelta(minutes=minutes))
    worker.wait_ready()

    def counted() -> tuple | None:
        run = system.rows(select(NowCountRun.__table__))
        totals = system.rows(
            select(func.sum(NowCount.backlog), func.sum(NowCount.late), func.sum(NowCount.at_risk))
        )
        return run and run[0].counted_at and totals[0] == (4, 2, 1) and totals[0]

    assert system.wait_until("beat's count of the four requests", counted, timeout=60)
    # Both worker processes counting at once, beside beat's: one set of rows, never two.
    succeeded = r"Task reports\.now_counts\[[^\]]+\] succeeded"
    done = len(re.findall(succeeded, worker.log()))
    for _ in range(3):
        system.send("reports.now_counts")
        system.send("reports.now_counts")
    worker.wait_for_log(succeeded, count=done + 6)
    assert not re.search(r"reports\.now_counts\[[^\]]+\] (raised|retry)", worker.log())
    assert (
        system.rows(select(func.count()).select_from(NowCount))[0][0] == 1
    )  # one centre, category, priority
    assert counted() == (4, 2, 1)


# The fixtures of workers.py, by name: pytest finds them here.
artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink
