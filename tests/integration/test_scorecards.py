"""Scorecards per technician and contractor, honest satisfaction, and their role scoping.

Fixed instants in the week of Monday 2026-03-02 (Shanghai); the summary is
refreshed as the workers do (``stats.refresh_all``) before it is read.
"""

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tracker.domain.workflow import Action, HoldReason, Status
from tracker.errors import PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import FollowUp, FollowUpRule
from tracker.services.insight import reports, stats
from tracker.services.insight.scorecards import cards, contractors, rules
from tracker.services.ledger import feedback, follow_ups
from tracker.services.requests import closure
from tracker.services.requests import tickets as svc

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)
NOW = T0 + timedelta(days=40)


def handled_by(world, who: str, *, now=T0, hold_minutes: int = 0, category: str = "water"):
    """File a request; ``who`` takes it at +5 min, optionally holds it, and resolves it at +30 min (+ hold)."""
    ticket = make_ticket(world, category=category, now=now)
    tech = world.users[who]
    svc.transition(ticket.id, Action.TAKE, actor=tech, now=now + timedelta(minutes=5))
    end = now + timedelta(minutes=30)
    if hold_minutes:
        svc.transition(ticket.id, Action.ARRIVE, actor=tech, now=now + timedelta(minutes=10))
        svc.transition(
            ticket.id,
            Action.HOLD,
            actor=tech,
            now=now + timedelta(minutes=12),
            hold_reason=HoldReason.WAITING_PARTS,
            reason="Parts ordered.",
        )
        svc.transition(ticket.id, Action.RESUME, actor=tech, now=now + timedelta(minutes=12 + hold_minutes))
        end += timedelta(minutes=hold_minutes)
    return svc.transition(ticket.id, Action.RESOLVE, actor=tech, now=end, resolution_note="Fixed.")


def card_of(rows, name):
    return next(c for c in rows if c.name == name)


def test_a_technicians_card_counts_jobs_rework_holds_and_real_ratings_only(world):
    requester = world.users["requester"]
    rated = handled_by(world, "technician", hold_minutes=90)
    svc.transition(rated.id, Action.CONFIRM, actor=requester, now=T0 + timedelta(hours=3))
    feedback.give(rated.id, rating=4, actor=requester, now=T0 + timedelta(hours=3, minutes=5))
    auto = handled_by(world, "technician", now=T0 + timedelta(days=1))
    closure.close_unconfirmed(T0 + timedelta(days=5))  # closed by the application, no rating
    # A new request at the same place and category within 7 days of the resolution: rework.
    make_ticket(world, now=T0 + timedelta(days=3))
    stats.refresh_all()
    rows, total = cards.technician_cards(world.users["leadership"], FIRST, LAST, now=NOW)
    card = card_of(rows, "Technician")
    assert card.handled == 2
    assert card.counts["auto_closed"] == 1
    assert (card.counts["rating_count"], card.rating) == (1, 4.0)
    # Both earlier jobs are followed by the day-3 request within 7 days; the later one only is before it.
    assert card.counts["reworked"] == 2
    assert card.holds == {HoldReason.WAITING_PARTS.value: 90 * 60}
    assert card.counts["response_met"] == 2 and card.on_time_percent("response") == 100.0
    assert card.promised_percent("response") is not None
    assert total.handled == 2
    assert auto.id != rated.id


def test_a_reopen_within_the_window_is_rework_and_one_after_it_is_not(world):
    requester = world.users["requester"]
    soon = handled_by(world, "technician", category="power")
    svc.transition(soon.id, Action.REOPEN, actor=requester, now=T0 + timedelta(days=2), reason="Again.")
    svc.transition(
        soon.id, Action.TAKE, actor=world.users["technician"], now=T0 + timedelta(days=2, minutes=5)
    )
    svc.transition(
        soon.id,
        Action.RESOLVE,
        actor=world.users["technician"],
        now=T0 + timedelta(days=2, hours=1),
        resolution_note="Fixed again.",
    )
    late = handled_by(world, "other_technician", category="power", now=T0 + timedelta(hours=1))
    svc.transition(late.id, Action.REOPEN, actor=requester, now=T0 + timedelta(days=9), reason="Again.")
    svc.transition(
        late.id, Action.TAKE, actor=world.users["other_technician"], now=T0 + timedelta(days=9, minutes=5)
    )
    svc.transition(
        late.id,
        Action.RESOLVE,
        actor=world.users["other_technician"],
        now=T0 + timedelta(days=9, hours=1),
        resolution_note="Fixed again.",
    )
    stats.refresh_all()
    rows, _ = cards.technician_cards(world.users["leadership"], FIRST, LAST, now=NOW)
    assert card_of(rows, "Technician").counts["reworked"] == 1
    assert card_of(rows, "Other-Technician").counts["reworked"] == 0


def test_each_role_sees_only_its_cards(world):
    handled_by(world, "technician")
    handled_by(world, "other_technician", now=T0 + timedelta(hours=1))
    handled_by(world, "dorm_technician", category="keys", now=T0 + timedelta(hours=2))
    stats.refresh_all()
    names = {
        who: sorted(c.name for c in cards.technician_cards(world.users[who], FIRST, LAST, now=NOW)[0])
        for who in ("leadership", "centre_head", "dorm_head", "technician")
    }
    assert names == {
        "leadership": ["Dorm-Technician", "Other-Technician", "Technician"],
        "centre_head": ["Other-Technician", "Technician"],
        "dorm_head": ["Dorm-Technician"],
        "technician": ["Technician"],
    }
    with pytest.raises(PermissionDenied):
        cards.technician_cards(world.users["requester"], FIRST, LAST, now=NOW)
    with pytest.raises(PermissionDenied):
        cards.contractor_cards(world.users["technician"], FIRST, LAST, now=NOW)
    with pytest.raises(PermissionDenied):
        cards.handled_jobs(world.users["technician"], world.users["other_technician"].id, FIRST, LAST)


def test_contractor_cards_sum_their_technicians(world):
    firm = contractors.create(code="acme", name_en="Acme Services", name_zh="安科服务", now=T0)
    contractors.assign(world.users["technician"].id, firm.id, now=T0)
    contractors.assign(world.users["other_technician"].id, firm.id, now=T0)
    handled_by(world, "technician")
    handled_by(world, "other_technician", now=T0 + timedelta(hours=1))
    handled_by(world, "dorm_technician", category="keys", now=T0 + timedelta(hours=2))
    stats.refresh_all()
    rows, total = cards.contractor_cards(world.users["leadership"], FIRST, LAST, now=NOW)
    assert [(c.name, c.handled) for c in rows] == [("Acme Services", 2)]
    with pytest.raises(ValidationFailed):
        contractors.assign(world.users["requester"].id, firm.id, now=T0)


@pytest.mark.parametrize(
    "first, last, refused",
    [
        (date(2023, 3, 1), date(2026, 2, 28), False),
        (date(2023, 3, 1), date(2026, 3, 1), True),
        (date(2026, 3, 2), date(2026, 3, 1), True),
    ],
)
def test_a_period_over_three_years_is_refused(world, first, last, refused):
    if refused:
        with pytest.raises(ValidationFailed):
            cards.technician_cards(world.users["leadership"], first, last, now=NOW)
    else:
        cards.technician_cards(world.users["leadership"], first, last, now=NOW)


def test_the_page_refuses_a_long_period_in_both_languages(client, world, login_as):
    login_as("leadership")
    html = client.get("/scorecards?from=2020-01-01&to=2024-06-30").get_data(as_text=True)
    assert "A scorecard covers at most 3 years" in html
    assert client.get("/scorecards/export.xlsx?from=2020-01-01&to=2024-06-30").status_code == 400
    html = client.get(
        "/scorecards?from=2020-01-01&to=2024-06-30", headers={"Accept-Language": "zh-CN"}
    ).get_data(as_text=True)
    assert "考核表最多覆盖 3 年" in html


def test_a_technician_reads_their_own_card_and_jobs_on_the_page(client, world, login_as):
    mine = handled_by(world, "technician")
    theirs = handled_by(world, "other_technician", now=T0 + timedelta(hours=1))
    stats.refresh_all()
    login_as("technician")
    html = client.get("/scorecards?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert mine.reference in html and theirs.reference not in html
    assert "Other-Technician" not in html
    assert (
        client.get(
            f"/scorecards?from=2026-03-01&to=2026-03-31&technician={world.users['other_technician'].id}"
        ).status_code
        == 403
    )


@pytest.mark.parametrize("who, status", [("requester", 403), ("dispatcher", 403), ("centre_head", 200)])
def test_who_may_open_the_scorecards(client, world, login_as, who, status):
    login_as(who)
    assert client.get("/scorecards").status_code == status


def test_the_xlsx_export_carries_the_figures(client, world, login_as):
    handled_by(world, "technician")
    handled_by(world, "technician", now=T0 + timedelta(hours=1))
    stats.refresh_all()
    login_as("centre_head")
    response = client.get("/scorecards/export.xlsx?from=2026-03-01&to=2026-03-31")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Technician", "Requests handled")
    assert rows[1][:2] == ("Technician", 2)


def test_an_automatic_closure_counts_apart_and_the_shares_are_honest(world):
    requester = world.users["requester"]
    confirmed = handled_by(world, "technician")
    svc.transition(confirmed.id, Action.CONFIRM, actor=requester, now=T0 + timedelta(hours=2))
    feedback.give(confirmed.id, rating=2, actor=requester, now=T0 + timedelta(hours=2, minutes=1))
    handled_by(world, "technician", now=T0 + timedelta(hours=1))
    closure.close_unconfirmed(T0 + timedelta(days=5))
    stats.refresh_all()
    _, total = reports.figures_by(reports.Filters(first=FIRST, last=LAST), "centre", NOW)
    assert (total.closed, total.closed_auto, total.closed_rated) == (2, 1, 1)
    assert (total.confirmed_percent, total.rated_percent) == (50.0, 50.0)
    assert total.satisfaction == 2.0  # the automatic closure adds no rating
    assert Status.CLOSED


# ---------------------------------------------------------------- follow-up rules


def closed_at(world, category: str, now):
    ticket = handled_by(
        world, "dorm_technician" if category == "keys" else "technician", category=category, now=now
    )
    return svc.transition(
        ticket.id, Action.CONFIRM, actor=world.users["requester"], now=now + timedelta(hours=1)
    )


def test_the_weekly_draw_follows_the_rules_with_complaints_in_full(app, world):
    repairs = world.centres["repairs"].id
    water, power = world.categories["water"].id, world.categories["power"].id
    rules.set_rule(repairs, water, "30", actor=None, now=T0)
    rules.set_rule(
        repairs, power, "5", is_complaint=True, actor=None, now=T0
    )  # complaints: 100 % whatever asked
    water_ids = [closed_at(world, "water", T0 + timedelta(hours=n)).id for n in range(10)]
    power_ids = [closed_at(world, "power", T0 + timedelta(hours=20 + n)).id for n in range(3)]
    drawn = follow_ups.draw_sample(date(2026, 3, 2), now=T0 + timedelta(days=7))[repairs]
    assert len(set(drawn) & set(water_ids)) == 3  # 30 % of 10
    assert set(power_ids) <= set(drawn)
    rows, total = rules.coverage(repairs, FIRST, LAST)
    assert (total.closed, total.wanted, total.followed) == (13, 6, 0)
    # Record two of the calls: coverage 2 of 6.
    for follow_up in _db.session.execute(select(FollowUp).order_by(FollowUp.id).limit(2)).scalars().all():
        follow_ups.record(
            follow_up.id,
            actor=world.users["centre_head"],
            now=T0 + timedelta(days=8),
            result="reached",
            outcome="All good.",
        )
    _, total = rules.coverage(repairs, FIRST, LAST)
    assert total.followed == 2 and round(total.percent) == 33


@pytest.mark.parametrize("share", ["-1", "101", "thirty", "", "30.5"])
def test_a_bad_share_is_refused_and_changes_nothing(world, share):
    repairs = world.centres["repairs"].id
    with pytest.raises(ValidationFailed):
        rules.set_rule(repairs, None, share, actor=None, now=T0)
    assert _db.session.execute(select(func.count()).select_from(FollowUpRule)).scalar_one() == 0


def test_a_rule_for_another_centres_category_is_refused(world):
    with pytest.raises(ValidationFailed):
        rules.set_rule(world.centres["repairs"].id, world.categories["keys"].id, "30", actor=None, now=T0)


def test_a_recorded_follow_up_shows_on_the_technicians_card(world):
    ticket = closed_at(world, "water", T0)
    feedback.give(ticket.id, rating=1, actor=world.users["requester"], now=T0 + timedelta(hours=2))
    [follow_up] = follow_ups.for_ticket(ticket.id)
    follow_ups.record(
        follow_up.id,
        actor=world.users["centre_head"],
        now=T0 + timedelta(days=1),
        result="resolved",
        outcome="Came back and fixed it.",
    )
    stats.refresh_all()
    rows, _ = cards.technician_cards(world.users["centre_head"], FIRST, LAST, now=NOW)
    card = card_of(rows, "Technician")
    assert (card.counts["fu_resolved"], card.follow_ups, card.rating) == (1, 1, 1.0)


def test_the_dashboards_show_the_honest_shares_and_coverage(client, world, login_as):
    requester = world.users["requester"]
    confirmed = closed_at(world, "water", T0)
    feedback.give(confirmed.id, rating=5, actor=requester, now=T0 + timedelta(hours=2))
    handled_by(world, "technician", now=T0 + timedelta(hours=3))
    closure.close_unconfirmed(T0 + timedelta(days=5))
    rules.set_rule(world.centres["repairs"].id, None, "50", actor=None, now=T0)
    stats.refresh_all()
    login_as("leadership")
    html = client.get(
        f"/dashboard/details?from=2026-03-01&to=2026-03-31&centre={world.centres['repairs'].id}"
    ).get_data(as_text=True)
    assert re.search(r'data-figure="confirmed">\s*50 %', html)
    assert re.search(r'data-figure="rated">\s*50 %', html)
    assert re.search(r'data-figure="closed_auto">\s*1 / 2', html)
    assert re.search(r'data-figure="satisfaction">\s*5\.0', html)
    assert "0 of 1 closed requests the rule asks for were followed up" in html


def test_the_weekly_report_shows_the_honest_shares(world):
    from tracker.services.insight import weekly

    requester = world.users["requester"]
    confirmed = closed_at(world, "water", T0)
    feedback.give(confirmed.id, rating=3, actor=requester, now=T0 + timedelta(hours=2))
    handled_by(world, "technician", now=T0 + timedelta(hours=3))
    handled_by(world, "technician", now=T0 + timedelta(hours=4))
    closure.close_unconfirmed(T0 + timedelta(days=5))
    report = weekly.generate(date(2026, 3, 2), actor=None, now=T0 + timedelta(days=8))
    total = weekly.read(report.content).total.figures
    assert (total.closed, total.closed_auto, total.closed_rated) == (3, 2, 1)
    assert round(total.confirmed_percent, 1) == 33.3 and round(total.rated_percent, 1) == 33.3
    sheet = load_workbook(io.BytesIO(weekly.xlsx(report, "en"))).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    headers = list(rows[0])
    last = rows[-1]
    assert last[headers.index("Closed automatically")] == 2
    assert last[headers.index("Actually confirmed %")] == 33.3


@pytest.mark.parametrize("days_after, reworked", [(6, 1), (8, 0)])
def test_a_repeat_request_is_rework_only_within_the_window(world, days_after, reworked):
    job = handled_by(world, "technician", category="power")
    make_ticket(world, category="power", now=job.resolved_at + timedelta(days=days_after))
    stats.refresh_all()
    rows, _ = cards.technician_cards(world.users["leadership"], FIRST, LAST, now=NOW)
    assert card_of(rows, "Technician").counts["reworked"] == reworked
