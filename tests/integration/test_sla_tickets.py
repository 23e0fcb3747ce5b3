"""SLA clocks on real tickets: stored after every change, frozen per version."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import T0, make_ticket
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.errors import Conflict, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import Category, SlaPolicy, TicketEvent, TicketSla
from tracker.services.requests import tickets as svc
from tracker.services.sla import config as sla_config

SH = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SH)


def rows(ticket) -> dict[Target, TicketSla]:
    _db.session.expire_all()
    return {
        r.target: r for r in _db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id)).scalars()
    }


def test_filing_stores_every_target_of_the_policy(db, world):
    ticket = make_ticket(world)  # repairs, water: high; Monday 09:00 Shanghai
    stored = rows(ticket)
    assert {t: (r.state, r.due_at) for t, r in stored.items()} == {
        Target.RESPONSE: (TargetState.RUNNING, local("2026-03-02 09:30")),
        Target.ARRIVAL: (TargetState.RUNNING, local("2026-03-02 11:00")),
        # 420 office minutes: 390 on Monday from 09:00, 30 on Tuesday.
        Target.RESOLUTION: (TargetState.RUNNING, local("2026-03-03 09:00")),
        Target.CONFIRMATION: (TargetState.PENDING, None),
    }
    assert ticket.sla_policy_version_id == world.policies["repairs"].current_version_id
    assert ticket.next_due_at == local("2026-03-02 09:30")


def test_each_change_updates_the_stored_clocks(db, world):
    u = world.users
    ticket = make_ticket(world, status=Status.ACCEPTED)  # assign +10 min, accept +20 min
    assert rows(ticket)[Target.RESPONSE].state is TargetState.MET
    assert rows(ticket)[Target.RESPONSE].milestone_at == T0 + timedelta(minutes=20)
    svc.transition(ticket.id, Action.ARRIVE, actor=u["technician"], now=T0 + timedelta(minutes=30))
    svc.transition(ticket.id, Action.HOLD, actor=u["technician"], now=T0 + timedelta(minutes=40),
                   hold_reason=HoldReason.WAITING_PARTS)
    stored = rows(ticket)
    assert stored[Target.ARRIVAL].state is TargetState.MET
    assert stored[Target.RESOLUTION].state is TargetState.PAUSED
    assert stored[Target.RESOLUTION].next_check_at == T0 + timedelta(minutes=40, days=3)  # the hold's cap
    svc.transition(ticket.id, Action.RESUME, actor=u["technician"], now=T0 + timedelta(hours=2, minutes=40))
    resolution = rows(ticket)[Target.RESOLUTION]
    assert resolution.state is TargetState.RUNNING
    assert resolution.paused_minutes == pytest.approx(120)
    # Two office hours on hold push the Tuesday 09:00 deadline to 11:00.
    assert resolution.due_at == local("2026-03-03 11:00")


def test_a_late_response_is_breached_and_stays_so(db, world):
    u = world.users
    ticket = make_ticket(world)
    svc.transition(ticket.id, Action.TAKE, actor=u["technician"], now=T0 + timedelta(minutes=45))
    response = rows(ticket)[Target.RESPONSE]
    assert (response.state, response.milestone_at) == (TargetState.BREACHED, T0 + timedelta(minutes=45))
    _db.session.expire_all()
    assert svc.get_visible(ticket.reference, u["dispatcher"]).is_sla_breached is True


def test_only_the_centre_head_approves_a_longer_hold_and_it_is_recorded(db, world):
    u = world.users
    ticket = make_ticket(world, status=Status.ON_HOLD)  # waiting for parts from +40 min
    with pytest.raises(Conflict):
        svc.transition(ticket.id, Action.EXTEND_HOLD, actor=u["dispatcher"], now=T0 + timedelta(days=3, hours=2),
                       extra_minutes=1440, reason="Parts ship from Shanghai")
    svc.transition(ticket.id, Action.EXTEND_HOLD, actor=u["centre_head"], now=T0 + timedelta(days=3, hours=2),
                   extra_minutes=1440, reason="Parts ship from Shanghai")
    event = _db.session.execute(select(TicketEvent).order_by(TicketEvent.id.desc()).limit(1)).scalar_one()
    assert (event.kind.value, event.actor_id, event.data) == (
        "pause_extended", u["centre_head"].id, {"hold_reason": "waiting_parts", "minutes": 1440.0}
    )
    resolution = rows(ticket)[Target.RESOLUTION]
    # The cap ran out at +3 days 40 min; the clock ran for 80 minutes; then paused again.
    assert resolution.state is TargetState.PAUSED
    assert resolution.is_pause_capped is True
    assert resolution.next_check_at == T0 + timedelta(days=4, hours=2)


def test_priority_change_measures_against_the_new_target(db, world):
    ticket = make_ticket(world)
    svc.transition(ticket.id, Action.REPRIORITISE, actor=world.users["dispatcher"], now=T0 + timedelta(minutes=5),
                   priority=Priority.URGENT, reason="Flooding")
    resolution = rows(ticket)[Target.RESOLUTION]
    assert (resolution.priority, resolution.started_at, resolution.due_at) == (
        Priority.URGENT, T0, local("2026-03-02 15:00")
    )


def test_category_change_to_another_policy_keeps_the_clock_start(db, world):
    standard = world.policies["standard"]
    lift = Category(centre_id=world.centres["repairs"].id, code="lift", name_en="Lifts", name_zh="电梯",
                    default_priority=Priority.HIGH, sla_policy_id=standard.id)
    _db.session.add(lift)
    _db.session.commit()
    ticket = make_ticket(world)
    svc.transition(ticket.id, Action.RECATEGORISE, actor=world.users["dispatcher"], now=T0 + timedelta(minutes=5),
                   category_id=lift.id, reason="It is the lift, not the water")
    stored = rows(ticket)
    assert ticket.sla_policy_version_id == standard.current_version_id
    assert Target.ARRIVAL not in stored  # the standard policy has no arrival target
    # Standard response for high: 120 office minutes from the filing, not from the change.
    assert (stored[Target.RESPONSE].started_at, stored[Target.RESPONSE].due_at) == (T0, local("2026-03-02 11:00"))


def test_editing_a_policy_never_changes_past_results(db, world):
    policy = world.policies["repairs"]
    old = make_ticket(world, status=Status.ACCEPTED)
    before = {t: (r.due_at, r.state) for t, r in rows(old).items()}
    definition = policy.current_version.definition | {}
    definition = {**definition, "targets": {**definition["targets"]}}
    definition["targets"]["response"] = {**definition["targets"]["response"],
                                         "minutes": {p.value: 10 for p in Priority}}
    version = sla_config.save_policy_version(policy.id, definition=definition, note="10 minutes", actor=None,
                                             now=T0 + timedelta(days=1))
    assert version.number == 2
    # Later changes to the old ticket still measure against version 1.
    svc.transition(old.id, Action.ARRIVE, actor=world.users["technician"], now=T0 + timedelta(hours=1))
    assert rows(old)[Target.RESPONSE].due_at == before[Target.RESPONSE][0]
    assert old.sla_policy_version_id != version.id
    new = make_ticket(world, now=T0 + timedelta(days=1))
    assert new.sla_policy_version_id == version.id
    assert rows(new)[Target.RESPONSE].due_at == T0 + timedelta(days=1, minutes=10)


def test_saving_an_unchanged_policy_adds_no_version(db, world):
    policy = world.policies["repairs"]
    assert sla_config.save_policy_version(policy.id, definition=policy.current_version.definition,
                                          actor=None, now=T0) is None


@pytest.mark.parametrize(
    "definition, message",
    [
        ({"targets": {}}, "at least one target"),
        ({"targets": {"speed": {"calendar": "always", "minutes": {"high": 5}}}}, "Unknown target"),
        ({"targets": {"response": {"calendar": "nope", "minutes": {"high": 5}}}}, "choose a calendar"),
        ({"targets": {"response": {"calendar": "always", "minutes": {"high": -5}}}}, "above 0"),
        ({"targets": {"response": {"calendar": "always", "minutes": {"high": 5}, "at_risk": 1.5}}}, "at-risk"),
        ({"targets": {"response": {"calendar": "always", "minutes": {"high": 5}}},
          "pauses": {"waiting_parts": {"targets": ["resolution"]}}}, "does not measure"),
    ],
)
def test_a_bad_policy_is_refused_and_nothing_is_saved(db, world, definition, message):
    count = len(list(_db.session.execute(select(SlaPolicy)).scalars()))
    with pytest.raises(ValidationFailed) as refused:
        sla_config.create_policy(code="bad", name_en="Bad", name_zh="坏", definition=definition, actor=None, now=T0)
    assert message in str(refused.value)
    _db.session.rollback()
    assert len(list(_db.session.execute(select(SlaPolicy)).scalars())) == count


def test_ticket_page_shows_each_target_and_the_expected_answer(client, db, world, login_as, monkeypatch):
    # Dorm keys run on the standard policy: response in office hours only.
    friday_night = local("2026-03-06 20:00")
    ticket = make_ticket(world, category="keys", now=friday_night)
    # The page is read on Saturday morning.
    monkeypatch.setattr("tracker.web.tickets.utcnow", lambda: local("2026-03-07 09:00"))
    login_as("requester")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Filed outside working hours." in page
    # Normal priority: 240 office minutes from Monday 08:30.
    assert "Expect a response by" in page and "3/9/26, 2:30" in page
    assert "Service level" in page and "Response" in page and "Resolution" in page
    assert '<svg class="timeline"' in page


def test_queue_lists_the_nearest_deadline_first(client, db, world, login_as):
    late = make_ticket(world, status=Status.ASSIGNED, priority=Priority.LOW, now=T0)
    soon = make_ticket(world, status=Status.ASSIGNED, priority=Priority.URGENT, now=T0 + timedelta(hours=2))
    login_as("technician")
    page = client.get("/queue/").get_data(as_text=True)
    # Both wait for acceptance: the older one's response deadline comes first.
    assert page.index(late.reference) < page.index(soon.reference)
    assert "Breached" in page  # viewed now, long after both deadlines
