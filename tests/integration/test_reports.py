"""Dashboard figures on a hand-built week with known answers.

The week of Monday 2026-03-02 in Shanghai (UTC+8). Times are local.
"""

from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.factories import make_ticket
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.extensions import db as _db
from tracker.models import StatsDirty
from tracker.services.insight import reports, stats
from tracker.services.requests import closure
from tracker.services.requests import tickets as svc
from tracker.services.sla import sweep as sla_sweep

SH = ZoneInfo("Asia/Shanghai")
WEEK = reports.Filters(first=date(2026, 3, 2), last=date(2026, 3, 8))
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=SH)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%m-%d %H:%M").replace(year=2026, tzinfo=SH)


@pytest.fixture
def week(db, world):
    """Seven requests whose figures are worked out by hand in the tests below."""
    u = world.users
    tech = u["technician"]

    def act(ticket, action, when, **details):
        return svc.transition(ticket.id, action, actor=details.pop("actor", tech), now=at(when), **details)

    tickets = {}
    # A: taken in 10 min, fixed by 11:00, confirmed next day: all on time.
    a = tickets["a"] = make_ticket(world, now=at("03-02 09:00"))
    act(a, Action.TAKE, "03-02 09:10")
    act(a, Action.ARRIVE, "03-02 09:40")
    act(a, Action.RESOLVE, "03-02 11:00", resolution_note="Washer")
    act(a, Action.CONFIRM, "03-03 10:00", actor=u["requester"])
    # B: taken an hour late (response breached at 10:30), held for parts, resolved Tuesday.
    b = tickets["b"] = make_ticket(world, now=at("03-02 10:00"))
    act(b, Action.TAKE, "03-02 11:00")
    act(b, Action.ARRIVE, "03-02 11:20")
    act(b, Action.HOLD, "03-02 11:30", hold_reason=HoldReason.WAITING_PARTS)
    act(b, Action.RESUME, "03-03 09:00")
    act(b, Action.RESOLVE, "03-03 10:00", resolution_note="New valve")
    # C: resolved, then reopened: not resolved now, back in the backlog.
    c = tickets["c"] = make_ticket(world, now=at("03-03 09:00"))
    act(c, Action.TAKE, "03-03 09:05")
    act(c, Action.RESOLVE, "03-03 10:00", resolution_note="Tightened")
    act(c, Action.REOPEN, "03-03 12:00", actor=u["requester"], reason="Still drips")
    # G: cancelled by the requester straight away.
    g = tickets["g"] = make_ticket(world, now=at("03-04 14:00"))
    act(g, Action.CANCEL, "03-04 14:05", actor=u["requester"], reason="Fixed it myself")
    # D: filed at 23:30 on Sunday, local: this week (in UTC it is Sunday 15:30).
    tickets["d"] = make_ticket(world, now=at("03-08 23:30"))
    # E: filed at 00:30 on Monday 9th, local: next week (in UTC, still Sunday 16:30).
    tickets["e"] = make_ticket(world, now=at("03-09 00:30"))
    # F: the dorm (standard policy, office hours), normal priority; never touched.
    tickets["f"] = make_ticket(world, category="keys", now=at("03-06 16:00"))
    # B stays resolved and unconfirmed: no automatic closure in this sweep (test_feedback.py has it).
    with mock.patch.object(closure, "PER_SWEEP", 0):
        sla_sweep.sweep_due(NOW)
    stats.refresh_all()
    return tickets


def figure_count(figure, filters=WEEK, **kw):
    return _db.session.execute(
        select(func.count()).select_from(reports.drilldown(figure, filters, NOW, **kw).subquery())
    ).scalar_one()


def test_period_figures_of_the_week(week, world):
    rows, total = reports.figures_by(WEEK, "centre", NOW)
    assert (total.received, total.resolved, total.closed, total.cancelled) == (6, 2, 1, 1)
    repairs = next(r for r in rows if r.key == world.centres["repairs"].id)
    assert repairs.received == 5  # a, b, c, g, d — not e
    # Response: met by a and c; breached by b (taken 11:00, due 10:30), by g?
    # No: g was cancelled in time. d is breached (due 00:00 Mon 9th? no: 23:30 + 30 min
    # is Monday 00:00, next week). f: dorm response 240 office min from Fri 16:00 → Mon 14:30.
    assert repairs.met["response"] == 2
    assert repairs.breached["response"] == 1
    assert repairs.met_percent("response") == pytest.approx(200 / 3)


def test_every_figure_equals_the_length_of_its_list(week, world):
    rows, total = reports.figures_by(WEEK, "centre", NOW)
    assert figure_count("received") == total.received
    assert figure_count("resolved") == total.resolved
    assert figure_count("closed") == total.closed
    assert figure_count("cancelled") == total.cancelled
    for target in ("response", "arrival", "resolution", "confirmation"):
        assert figure_count("met", target=target) == total.met[target], target
        assert figure_count("breached", target=target) == total.breached[target], target
    assert figure_count("backlog") == total.backlog
    assert figure_count("breached_now") == total.breached_now
    for bucket in total.ageing:
        assert figure_count("backlog", age=bucket) == total.ageing[bucket], bucket


def test_the_now_figures(week, world):
    rows, total = reports.figures_by(WEEK, "centre", NOW)
    # Open now: c (reopened), d, e, f. Awaiting confirmation: b.
    assert total.backlog == 4
    assert total.awaiting_confirmation == 1
    # On the 20th: c, d, e are 11–17 days old (7–30 d); f 14 days.
    assert total.ageing == {"0-1": 0, "1-3": 0, "3-7": 0, "7-30": 4, "30+": 0}
    assert total.breached_now == 4  # every open one is long past some deadline


def test_a_week_boundary_follows_campus_time_not_utc(week, world):
    next_week = reports.Filters(first=date(2026, 3, 9), last=date(2026, 3, 15))
    _, total = reports.figures_by(next_week, "centre", NOW)
    assert total.received == 1  # e
    sunday = reports.Filters(first=date(2026, 3, 8), last=date(2026, 3, 8))
    assert reports.figures_by(sunday, "centre", NOW)[1].received == 1  # d


def test_filters_by_centre_category_and_priority(week, world):
    dorm = reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=world.centres["dorm"].id)
    assert reports.figures_by(dorm, "category", NOW)[1].received == 1
    normal = reports.Filters(first=WEEK.first, last=WEEK.last, priority=Priority.NORMAL.value)
    assert reports.figures_by(normal, "centre", NOW)[1].received == 1  # f; water is high


def test_weekly_trend_has_every_week_and_the_same_totals(week, world):
    month = reports.Filters(first=date(2026, 2, 23), last=date(2026, 3, 15))
    points = reports.trend(month, "week")
    assert [p.start for p in points] == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    assert [p.received for p in points] == [0, 6, 1]
    assert points[1].response_met == 2 and points[1].response_breached == 1


def test_a_change_marks_its_days_and_the_refresh_moves_the_figure(week, world):
    c = week["c"]
    _, before = reports.figures_by(WEEK, "centre", NOW)
    svc.transition(c.id, Action.TAKE, actor=world.users["technician"], now=at("03-05 09:00"))
    svc.transition(c.id, Action.RESOLVE, actor=world.users["technician"], now=at("03-05 10:00"),
                   resolution_note="Replaced the tap")
    assert _db.session.execute(select(func.count()).select_from(StatsDirty)).scalar_one() > 0
    stats.refresh_all()
    _, after = reports.figures_by(WEEK, "centre", NOW)
    assert after.resolved == before.resolved + 1
    assert after.backlog == before.backlog - 1


def test_a_reopen_moves_a_resolution_out_of_its_old_day(week, world):
    b = week["b"]  # resolved Tuesday, awaiting confirmation
    tuesday = reports.Filters(first=date(2026, 3, 3), last=date(2026, 3, 3))
    # Resolved on Tuesday and still resolved: b (c was resolved then too, but reopened).
    assert reports.figures_by(tuesday, "centre", NOW)[1].resolved == 1
    svc.transition(b.id, Action.REOPEN, actor=world.users["requester"], now=at("03-06 09:00"), reason="Leaks")
    stats.refresh_all()
    assert reports.figures_by(tuesday, "centre", NOW)[1].resolved == 0


def test_rebuilding_everything_gives_the_same_figures(week, world):
    _, before = reports.figures_by(WEEK, "centre", NOW)
    stats.mark_everything()
    stats.refresh_all()
    _, after = reports.figures_by(WEEK, "centre", NOW)
    assert after == before


@pytest.mark.parametrize("aim, following", [
    # Rounds far quicker than the aim: each twice the last (never more).
    (1000.0, lambda size: size * 2),
    # Rounds slower than the aim: down to the smallest, then steady.
    (1e-9, lambda size: 5),
])
def test_the_recount_goes_in_rounds_sized_to_its_aim_and_reports_each(week, world, monkeypatch, aim, following):
    # An import's summary phase reports after every round: rounds sized to
    # about a second keep its progress moving (issue 16). The figures are
    # the same whatever the rounds.
    _, before = reports.figures_by(WEEK, "centre", NOW)
    monkeypatch.setattr(stats, "FIRST_ROUND", 10)
    monkeypatch.setattr(stats, "SMALLEST_ROUND", 5)
    marked = stats.mark_everything()
    reported = []
    done = stats.refresh_all(progress=lambda total, waiting: reported.append((total, waiting)), round_seconds=aim)
    assert done == marked and reported[-1][0] == marked
    assert all(waiting == marked for _total, waiting in reported)
    totals = [total for total, _waiting in reported]
    sizes = [total - previous for previous, total in zip([0, *totals[:-1]], totals, strict=True)]
    expected, size = [], 10
    while sum(expected) + size < marked:  # full rounds, then the last one takes what is left
        expected.append(size)
        size = following(size)
    assert len(expected) >= 3
    assert sizes == [*expected, marked - sum(expected)]
    assert reports.figures_by(WEEK, "centre", NOW)[1] == before


def test_a_lists_length_comes_from_the_summary_only_while_it_is_current(week, world):
    centre = world.centres["repairs"].id
    cases = [(f, None) for f in reports.PERIOD_FIGURES] + [
        (f, t) for f in reports.TARGET_FIGURES for t in ("response", "arrival", "resolution", "confirmation")
    ]
    for filters in (WEEK, reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=centre)):
        for figure, target in cases:
            listed = reports.count(reports.drilldown(figure, filters, NOW, target=target))
            assert reports.drilldown_count(figure, filters, NOW, target=target) == listed, (figure, target)
    # A change the workers have not counted yet: the summary is stale, so the list is counted.
    c = week["c"]  # reopened on Tuesday
    svc.transition(c.id, Action.TAKE, actor=world.users["technician"], now=at("03-05 09:00"))
    svc.transition(c.id, Action.RESOLVE, actor=world.users["technician"], now=at("03-05 10:00"),
                   resolution_note="Replaced the tap")
    _db.session.commit()
    assert reports.figures_by(WEEK, "centre", NOW)[1].resolved == 2  # the summary, before the refresh
    assert reports.drilldown_count("resolved", WEEK, NOW) == reports.count(reports.drilldown("resolved", WEEK, NOW)) == 3
    stats.refresh_all()
    assert reports.drilldown_count("resolved", WEEK, NOW) == 3


def test_unknown_drilldown_is_refused(week):
    with pytest.raises(ValueError):
        reports.drilldown("popularity", WEEK, NOW)
    with pytest.raises(ValueError):
        reports.drilldown("backlog", WEEK, NOW, age="ancient")


def test_met_percent_without_outcomes_is_none():
    assert reports.Figures().met_percent("response") is None
    assert reports.Figures().satisfaction is None


def test_status_sanity(week):
    assert week["c"].status is Status.REOPENED
    assert timedelta(0) < NOW - week["e"].created_at


def test_the_set_based_recount_equals_each_days_own_lists(week, world):
    # Every day of the week and centre, plus a far day (a run of its own),
    # recounted in one go: each (day, centre) row matches the lengths of
    # the drill-down lists on that day alone.
    days = [WEEK.first + timedelta(days=n) for n in range(8)] + [date(2026, 3, 20)]
    centres = [c.id for c in world.centres.values()]
    rows = assert_recount_equals_the_lists(days, centres)
    # Asking for one pair gives exactly that pair's rows.
    tuesday = [r for r in rows if r["day"] == date(2026, 3, 3) and r["centre_id"] == world.centres["repairs"].id]
    assert sorted(reports.day_rows(date(2026, 3, 3), world.centres["repairs"].id), key=str) == sorted(tuesday, key=str)


def test_the_recount_follows_daylight_saving_in_the_campus_zone(week, world, app, monkeypatch):
    # A campus in New York: clocks go forward at 02:00 on Sunday 8 March
    # 2026 (07:00 UTC). The database groups by the instant shifted by the
    # zone's offset, cut where the offset changes: a request on either side
    # of the change, and one at 00:30 on Monday (04:30 UTC, which one offset
    # for the whole week would put on Sunday), count on their own days.
    monkeypatch.setitem(app.config, "TRACKER_TIMEZONE", "America/New_York")
    utc = ZoneInfo("UTC")
    for instant in ("2026-03-08 06:59:59", "2026-03-08 07:00:00", "2026-03-09 04:30:00", "2026-03-03 04:59:59"):
        make_ticket(world, now=datetime.fromisoformat(instant).replace(tzinfo=utc))
    spans = reports.offset_spans(*reports.day_bounds(date(2026, 3, 1), date(2026, 3, 10)), ZoneInfo("America/New_York"))
    assert [minutes for _first, _last, minutes in spans] == [-300, -240]
    assert spans[0][1] == datetime(2026, 3, 8, 7, tzinfo=utc)
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(10)]
    assert_recount_equals_the_lists(days, [c.id for c in world.centres.values()])
    received = reports.pair_rows([(date(2026, 3, 9), world.centres["repairs"].id)])
    assert sum(row["received"] for row in received) >= 1  # the 00:30 request, on its Monday


def assert_recount_equals_the_lists(days, centres) -> list[dict]:
    rows = reports.pair_rows([(d, c) for d in days for c in centres])
    assert {r["day"] for r in rows} <= set(days)
    cases = [(f, None, [f]) for f in reports.PERIOD_FIGURES] + [
        (f, t, [f"{t}_{f}"]) for f in ("met", "breached") for t in ("response", "arrival", "resolution", "confirmation")
    ]
    checked = 0
    for d in days:
        for c in centres:
            one_day = reports.Filters(first=d, last=d, centre_id=c)
            for figure, target, columns in cases:
                listed = reports.count(reports.drilldown(figure, one_day, NOW, target=target))
                summed = sum(r[col] for r in rows if r["day"] == d and r["centre_id"] == c for col in columns)
                assert summed == listed, (d, c, figure, target)
                checked += listed
    assert checked > 10  # the week has something to count
    return rows


def test_the_technicians_figures_read_from_their_summary_equal_the_tickets(week, world):
    # Read once from daily_assignee_stats (the summary is current after the
    # fixture's refresh) and once from the tickets (the summary bypassed):
    # the same for every filter.
    repairs = world.centres["repairs"].id
    cases = [
        WEEK,
        reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=repairs),
        reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=repairs, category_id=world.categories["water"].id),
        reports.Filters(first=WEEK.first, last=WEEK.last, priority=Priority.HIGH.value),
        reports.Filters(first=date(2026, 3, 3), last=date(2026, 3, 3)),
    ]

    def table(filters):
        rows, total = reports.figures_by_assignee(filters, NOW)
        return {r.key: (r.resolved, r.on_time, r.late) for r in rows}, (total.resolved, total.on_time, total.late)

    for filters in cases:
        assert reports.summary_current(filters)
        from_summary = table(filters)
        with mock.patch.object(reports, "summary_current", return_value=False):
            from_tickets = table(filters)
        assert from_summary == from_tickets, filters
    # a and b resolved, by the technician; a on time, b late (its resolution came a day later).
    assert table(WEEK)[1][0] == 2
    # A change the workers have not counted: the summary is bypassed until they have.
    c = week["c"]  # reopened; resolved again now
    svc.transition(c.id, Action.TAKE, actor=world.users["technician"], now=at("03-05 09:00"))
    svc.transition(c.id, Action.RESOLVE, actor=world.users["technician"], now=at("03-05 10:00"),
                   resolution_note="Replaced the tap")
    _db.session.commit()
    assert table(WEEK)[1][0] == 3
    stats.refresh_all()
    assert reports.summary_current(WEEK) and table(WEEK)[1][0] == 3


def test_each_technicians_late_count_equals_their_list_and_the_tables_agree(week, world, app):
    # The "now" counts are made once per page for every table on it (by
    # centre, category and assignee); each must still equal its own list.
    rows, total = reports.figures_by_assignee(WEEK, NOW)
    assert total.breached_now >= 1  # the fixture's open requests taken by the technician are late
    for row in rows:
        assert row.breached_now == figure_count("breached_now", assignee=row.key), row.key
    assert total.breached_now == figure_count("breached_now", assignee=reports.ANY_ASSIGNEE)
    with app.test_request_context("/dashboard/centre"):
        _rows, by_category = reports.figures_by(WEEK, "category", NOW)
        _rows, by_technician = reports.figures_by_assignee(WEEK, NOW)
        _rows, by_centre = reports.figures_by(WEEK, "centre", NOW)
    assert by_category.breached_now == by_centre.breached_now == figure_count("breached_now")
    assert by_category.at_risk_now == by_centre.at_risk_now == figure_count("at_risk_now")
    assert by_technician.breached_now == total.breached_now


def test_a_span_is_current_only_once_another_workers_claimed_refresh_is_done(db, world):
    # Another worker has claimed the pair of the 2nd: its rows are being
    # rewritten there. A reader that needs that day current (the weekly
    # report) must not read the summary before, nor take the claim over.
    make_ticket(world, now=at("03-02 09:00"))
    _db.session.commit()
    claimed = {"claimed_until": datetime.now(SH) + timedelta(minutes=5)}
    _db.session.execute(StatsDirty.__table__.update().values(**claimed))
    _db.session.commit()
    assert stats.refresh_until_current(date(2026, 3, 2), date(2026, 3, 2), wait_seconds=0.3) is False
    assert _db.session.execute(select(func.count()).select_from(StatsDirty)).scalar_one() == 1
    # A day outside the span claimed elsewhere does not hold the reader up.
    assert stats.refresh_until_current(date(2026, 3, 3), date(2026, 3, 8), wait_seconds=0.3) is True
    # The claim ends (done, or expired after a worker died): the span is brought up to date.
    _db.session.execute(StatsDirty.__table__.update().values(claimed_until=None))
    _db.session.commit()
    assert stats.refresh_until_current(date(2026, 3, 2), date(2026, 3, 2), wait_seconds=0.3) is True
    day = reports.Filters(first=date(2026, 3, 2), last=date(2026, 3, 2))
    assert reports.figures_by(day, "centre", NOW)[1].received == 1
