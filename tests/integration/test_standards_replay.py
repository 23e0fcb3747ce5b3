"""Replaying a period under a draft: the published versions give back the stored outcomes exactly,
a draft shows what would have changed, and bad drafts are refused with nothing stored.
"""

import json
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tests.integration.test_boston311 import AS_OF
from tests.integration.test_boston311 import _import as import_boston_slice
from tracker import demo
from tracker.clock import utcnow
from tracker.domain.workflow import Action, Priority, Status
from tracker.errors import ValidationFailed
from tracker.models import Centre, SlaPolicy, TicketSla
from tracker.services.insight import reports, stats
from tracker.services.requests import tickets as svc
from tracker.services.sla import clocks as sla
from tracker.services.sla.standards import replay
from tracker.services.sla.standards.draft import Draft, parse_draft


def _repairs_definition(db, **response):
    definition = json.loads(json.dumps(
        db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one().current_version.definition
    ))
    definition["targets"]["response"].update(response)
    return definition


def _english(app, error) -> str:
    with app.test_request_context(), force_locale("en"):
        return error.translated()


def _stored_rows() -> int:
    return db_count(TicketSla)


def db_count(model) -> int:
    from tracker.extensions import db

    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- equality with the stored outcomes


def test_replaying_the_published_versions_gives_back_the_demo_data_outcomes_exactly(db):
    demo.seed(days=3, random_seed=11, password="demo password 2026", echo=lambda line: None)
    now = utcnow()
    sla.refresh_due(now)  # the stored clocks as of now, as the sweep keeps them
    today = reports.local_day(now)
    filters = replay.filters_for(today - timedelta(days=3), today)
    result = replay.replay(filters, Draft(), now)
    assert result["requests"] > 20
    assert result["differences"] == []
    assert result["changed_requests"] == 0
    assert result["flips"]["met_to_late"] == result["flips"]["late_to_met"] == 0
    assert result["workload"]["stored"] == result["workload"]["draft"]
    measured = sum(sides["stored"]["measured"] for sides in result["totals"].values())
    assert measured > 20
    assert all(row["stored"] == row["draft"] for row in result["rows"])


def test_a_paused_clocks_projected_deadline_read_later_is_no_difference(db, world):
    """A clock on hold projects its deadline from when it was computed; replayed later, that moves on."""
    on_hold = make_ticket(world, status=Status.ON_HOLD)  # waiting for parts since +40 min: resolution paused
    stored = db.session.execute(select(TicketSla).where(TicketSla.ticket_id == on_hold.id,
                                                        TicketSla.target == "resolution")).scalar_one()
    assert stored.state.value == "paused"
    later = T0 + timedelta(hours=3)  # Monday noon in Shanghai: working time has passed since
    result = replay.replay(replay.filters_for(reports.local_day(T0), reports.local_day(T0)), Draft(), later)
    assert result["requests"] == 1
    assert result["differences"] == []


def test_replaying_the_boston_slice_gives_back_its_imported_outcomes_in_two_processes_too(db):
    import_boston_slice(db)
    filters = replay.filters_for(reports.local_day(AS_OF) - timedelta(days=400), reports.local_day(AS_OF))
    result = replay.replay(filters, Draft(), AS_OF)
    assert result["requests"] == 1975
    assert result["differences"] == []
    assert result["changed_requests"] == 0
    assert result["totals"]["resolution"]["stored"]["measured"] > 900
    db.session.commit()
    in_two = replay.replay(filters, Draft(), AS_OF, processes=2, chunk_size=300)
    assert in_two == result


def test_current_replay_on_the_command_line_equals_the_dashboard(app, db, tmp_path):
    demo.seed(days=3, random_seed=5, password="demo password 2026", echo=lambda line: None)
    now = utcnow()
    sla.refresh_due(now)
    stats.refresh_all()
    db.session.commit()
    today = reports.local_day(now)
    first = today - timedelta(days=2)
    out = tmp_path / "current.json"
    answer = app.test_cli_runner().invoke(args=[
        "standards", "replay", "--current", "--from", first.isoformat(), "--to", today.isoformat(),
        "--as-of", now.isoformat(), "--json", str(out)])
    assert answer.exit_code == 0, answer.output
    result = json.loads(out.read_text())
    codes = dict(db.session.execute(select(Centre.id, Centre.code)).all())
    by_centre, _total = reports.figures_by(reports.Filters(first, today), "centre", now)
    compared = 0
    for figures in by_centre:
        for target in ("response", "arrival", "resolution", "confirmation"):
            rows = [r for r in result["rows"] if r["centre"] == codes[figures.key] and r["target"] == target]
            for side in ("stored", "draft"):
                assert sum(r[side]["met"] for r in rows) == figures.met[target], (figures.key, target, side)
                assert sum(r[side]["late"] for r in rows) == figures.breached[target], (figures.key, target, side)
            compared += figures.met[target] + figures.breached[target]
    assert compared > 10
    # One centre: only its rows.
    answer = app.test_cli_runner().invoke(args=[
        "standards", "replay", "--current", "--from", first.isoformat(), "--to", today.isoformat(),
        "--centre", "repairs", "--as-of", now.isoformat(), "--json", str(out)])
    assert answer.exit_code == 0, answer.output
    assert {row["centre"] for row in json.loads(out.read_text())["rows"]} == {"repairs"}


# ---------------------------------------------------------------- drafts


def test_a_tighter_response_flips_a_request_met_at_20_minutes_to_late(db, world):
    on_time = make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))  # accepted after 20 min
    quick = make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=4), now=T0 + timedelta(hours=1))
    draft = parse_draft({"policies": {"repairs": _repairs_definition(db, minutes={"high": 15}, share=0.9)}})
    filters = replay.filters_for(reports.local_day(T0), reports.local_day(T0))
    result = replay.replay(filters, draft, T0 + timedelta(days=10))
    assert result["flips"]["met_to_late"] == 1
    (flip,) = result["flips"]["items"]
    assert (flip["reference"], flip["target"], flip["direction"]) == (on_time.reference, "response", "met_to_late")
    response = result["totals"]["response"]
    assert response["stored"] == {"measured": 2, "met": 2, "late": 0, "open": 0, "met_percent": 100.0}
    assert response["draft"] == {"measured": 2, "met": 1, "late": 1, "open": 0, "met_percent": 50.0}
    (row,) = [r for r in result["rows"] if r["target"] == "response"]
    # The stored policy's own promise (the defaults promise one) beside the draft's.
    stored_share = _repairs_definition(db)["targets"]["response"].get("share")
    assert stored_share != 0.9
    assert (row["stored_share"], row["draft_share"]) == (stored_share, 0.9)
    assert result["workload"]["draft"]["level_2"] == result["workload"]["stored"]["level_2"] + 1
    assert quick.reference not in {f["reference"] for f in result["flips"]["items"]}


def test_a_draft_calendar_and_a_category_entry_replace_the_stored_ones(db, world):
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))
    definition = _repairs_definition(db, calendar="night-shift", minutes={"high": 15})
    draft = parse_draft({
        "categories": {"repairs/water": definition},
        # Monday 09:00 in Shanghai is outside these hours: 15 minutes from 10:00 are due at 10:15.
        "calendars": {"night-shift": {"timezone": "Asia/Shanghai",
                                      "week": {d: [["10:00", "23:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}},
    })
    filters = replay.filters_for(reports.local_day(T0), reports.local_day(T0))
    result = replay.replay(filters, draft, T0 + timedelta(days=10))
    assert result["totals"]["response"]["draft"]["met"] == 1
    assert result["changed_requests"] == 1


def test_a_priority_change_is_measured_against_the_drafts_minutes_for_the_priority_at_the_milestone(db, world):
    ticket = make_ticket(world, now=T0)  # high: 30 min
    svc.transition(ticket.id, Action.REPRIORITISE, actor=world.users["dispatcher"], now=T0 + timedelta(minutes=5),
                   priority=Priority.LOW, reason="Not urgent after all")
    svc.transition(ticket.id, Action.TAKE, actor=world.users["technician"], now=T0 + timedelta(minutes=40))
    draft = parse_draft({"policies": {"repairs": _repairs_definition(db, minutes={"high": 20, "low": 60})}})
    result = replay.replay(replay.filters_for(reports.local_day(T0), reports.local_day(T0)), draft,
                           T0 + timedelta(hours=2))
    (row,) = [r for r in result["rows"] if r["target"] == "response"]
    assert row["priority"] == "low"
    assert row["stored"]["late"] == 1  # 30 min for low, stored
    assert row["draft"]["met"] == 1  # 60 min for low in the draft, from filing


@pytest.mark.parametrize(("document", "message"), [
    ({"policies": {"repairs": {"targets": {"response": {"calendar": "nowhere", "minutes": {"high": 30}}}}}},
     "Response: choose a calendar."),
    ({"policies": {"repairs": {"targets": {"response": {"calendar": "always", "minutes": {"high": -5}}}}}},
     "Response, High: give a time above 0"),
    ({"policies": {"repairs": {"targets": {"response": {"calendar": "always", "minutes": {"high": 30},
                                                        "share": 1.2}}}}},
     "Response: the promised share is above 0 % and at most 100 %."),
    ({"policies": {"nosuch": {"targets": {}}}}, "unknown policy nosuch"),
    ({"categories": {"repairs/nosuch": {"targets": {}}}}, "unknown category repairs/nosuch"),
    ({"calendars": {"x": {"timezone": "Mars/Olympus"}}}, "The calendar is not valid"),
    ({}, "The draft changes nothing"),
    ([], "The draft is not valid"),
])
def test_a_malformed_draft_is_refused_with_a_clear_message_and_nothing_stored(app, db, world, document, message):
    before = _stored_rows()
    with pytest.raises(ValidationFailed) as refused:
        parse_draft(document)
    assert message in _english(app, refused.value)
    assert _stored_rows() == before


def test_a_malformed_draft_file_is_refused_on_the_command_line_in_english(app, db, world, tmp_path):
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"policies": {"repairs": {"targets": {"response": {
        "calendar": "always", "minutes": {"high": 30}, "share": 1.5}}}}}))
    answer = app.test_cli_runner().invoke(args=[
        "standards", "replay", "--draft", str(draft), "--from", "2026-03-01", "--to", "2026-03-31",
        "--json", str(tmp_path / "out.json")])
    assert answer.exit_code == 1
    assert "the promised share is above 0 % and at most 100 %" in answer.output
    assert not (tmp_path / "out.json").exists()


def test_a_period_with_no_requests_says_so_in_the_users_language(app, db, world):
    with pytest.raises(ValidationFailed) as refused:
        replay.replay(replay.filters_for(reports.local_day(T0), reports.local_day(T0)), Draft(), T0)
    assert _english(app, refused.value) == "No request was filed or measured in this period."
    with app.test_request_context(), force_locale("zh_CN"):
        assert refused.value.translated() == "这段时间内没有提交或考核的请求。"
    with pytest.raises(ValidationFailed):
        replay.filters_for(reports.local_day(T0), reports.local_day(T0) - timedelta(days=1))


def test_a_consent_wait_under_a_policy_without_its_rule_replays_as_stored(db, world):
    """The product's consent rule is applied alike to the stored clocks and to a replay (docs/sla.md)."""
    from tracker.services.materials import quotes
    from tracker.services.sla import config as sla_config

    repairs = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one()
    older = _repairs_definition(db)
    del older["pauses"]["awaiting_consent"]
    sla_config.save_policy_version(repairs.id, definition=older, actor=world.users["admin"], now=T0)
    world.categories["water"].is_chargeable = True
    db.session.commit()
    ticket = make_ticket(world, status=Status.IN_PROGRESS)
    quote = quotes.send_quote(ticket.id, labour="80", actor=world.users["technician"], now=T0 + timedelta(hours=2))
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=T0 + timedelta(hours=5))
    stored = db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id,
                                                        TicketSla.target == "resolution")).scalar_one()
    assert stored.paused_minutes == 180
    filters = replay.filters_for(reports.local_day(T0), reports.local_day(T0))
    for draft in (Draft(), parse_draft({"policies": {"repairs": older}})):
        result = replay.replay(filters, draft, T0 + timedelta(hours=6))
        assert result["requests"] == 1
        assert result["differences"] == []
        assert result["changed_requests"] == 0
