"""The SLA sweep as a service: flags, escalates, notifies, each exactly once."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.errors import PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    Channel,
    DeliveryStatus,
    Escalation,
    EventKind,
    Notification,
    TicketEvent,
    TicketSla,
)
from tracker.services.requests import tickets as svc
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config
from tracker.services.sla import sweep as sla_sweep


def count(model, *where):
    _db.session.expire_all()
    return _db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def events(kind):
    return list(_db.session.execute(select(TicketEvent).where(TicketEvent.kind == kind)).scalars())


def notices(kind, channel=None):
    query = select(Notification).where(Notification.kind == kind)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    return list(_db.session.execute(query).scalars())


def test_nothing_due_reads_nothing_and_writes_nothing(db, world):
    make_ticket(world)  # response at risk from 09:22:30
    result = sla_sweep.sweep_due(T0 + timedelta(minutes=5))
    assert (result.clocks, result.notices) == (0, 0)
    assert count(Escalation) == 0


def test_at_risk_then_breached_each_once_with_events_and_notices(db, world):
    ticket = make_ticket(world)  # unassigned: at risk goes to the centre's dispatchers
    first = sla_sweep.sweep_due(T0 + timedelta(minutes=23))
    assert (first.at_risk, first.breached) == (1, 0)
    [event] = events(EventKind.SLA_AT_RISK)
    assert (event.ticket_id, event.actor_id, event.data["target"], event.data["level"]) == (
        ticket.id, None, "response", 1)
    at_risk = notices("sla_at_risk")
    assert {(n.user_id, n.channel) for n in at_risk} == {
        (world.users["dispatcher"].id, Channel.IN_APP), (world.users["dispatcher"].id, Channel.EMAIL)}

    second = sla_sweep.sweep_due(T0 + timedelta(minutes=31))
    assert second.breached == 1
    [breach] = events(EventKind.SLA_BREACHED)
    assert breach.data["target"] == "response"
    assert {n.user_id for n in notices("sla_breached")} == {world.users["centre_head"].id}
    row = _db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id,
                                                      TicketSla.target == Target.RESPONSE)).scalar_one()
    assert (row.state, row.next_check_at) == (TargetState.BREACHED, None)

    # Sweeping again, at the same instant or later, adds nothing.
    before = (count(TicketEvent), count(Notification), count(Escalation))
    again = sla_sweep.sweep_due(T0 + timedelta(minutes=31))
    assert (again.at_risk, again.breached, again.notices) == (0, 0, 0)
    assert (count(TicketEvent), count(Notification), count(Escalation)) == before


def test_a_deadline_exactly_now_is_on_time_and_the_sweep_ends(db, world):
    make_ticket(world)
    result = sla_sweep.sweep_due(T0 + timedelta(minutes=30))  # due exactly now
    assert (result.at_risk, result.breached) == (1, 0)
    assert sla_sweep.sweep_due(T0 + timedelta(minutes=30, microseconds=1)).breached == 1


def test_recomputing_clocks_at_a_deadline_exactly_now_ends(app, db, world):
    # The target due exactly at now keeps its next check at now: refresh_due
    # took the same ticket again for ever. Run in a thread, so that a loop
    # fails the test instead of hanging the suite.
    import threading

    make_ticket(world)
    make_ticket(world, now=T0 + timedelta(minutes=1))
    _db.session.commit()
    done = []

    def run():
        with app.app_context():
            done.append(sla.refresh_due(T0 + timedelta(minutes=30)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert done == [2], "refresh_due did not end"
    states = {row.state for row in _db.session.execute(select(TicketSla)).scalars()}
    assert TargetState.BREACHED not in states


def test_unacknowledged_at_risk_goes_to_the_centre_head(db, world):
    make_ticket(world, status=Status.ASSIGNED, priority=Priority.NORMAL)
    # Arrival: 240 office minutes from 09:00, due 15:00, at risk from 12:00; look at 12:05.
    sla_sweep.sweep_due(T0 + timedelta(hours=3, minutes=5))
    arrival = [e for e in events(EventKind.SLA_AT_RISK) if e.data["target"] == "arrival"]
    assert len(arrival) == 1
    assert {n.user_id for n in notices("sla_at_risk")} == {world.users["technician"].id}
    # Not acknowledged within 15 minutes (repairs; not yet due): level 2, unacknowledged.
    sla_sweep.sweep_due(T0 + timedelta(hours=3, minutes=25))
    level2 = _db.session.execute(select(Escalation).where(Escalation.level == 2,
                                                          Escalation.target == Target.ARRIVAL)).scalar_one()
    assert level2.reason == "unacknowledged"


def test_an_acknowledged_breach_still_reaches_leadership_when_it_lasts(db, world):
    make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=31))  # response breached: level 2
    level2 = _db.session.execute(select(Escalation).where(Escalation.level == 2)).scalar_one()
    with pytest.raises(PermissionDenied):
        sla_sweep.acknowledge(level2.id, actor=world.users["dispatcher"], now=T0 + timedelta(minutes=35))
    sla_sweep.acknowledge(level2.id, actor=world.users["centre_head"], now=T0 + timedelta(minutes=35))
    assert [e.actor_id for e in events(EventKind.ESCALATION_ACKNOWLEDGED)] == [world.users["centre_head"].id]
    # Acknowledged, so no "unacknowledged" escalation after 15 minutes ...
    sla_sweep.sweep_due(T0 + timedelta(minutes=62))
    assert count(Escalation, Escalation.level == 3) == 0
    # ... but still late two hours after the deadline: leadership hears of it.
    sla_sweep.sweep_due(T0 + timedelta(minutes=151))
    level3 = _db.session.execute(select(Escalation).where(Escalation.level == 3)).scalar_one()
    assert level3.reason == "still_breached"
    assert {n.user_id for n in notices("sla_escalated")} == {world.users["leadership"].id}
    assert len(events(EventKind.SLA_ESCALATED)) == 1


def test_a_met_target_is_not_chased(db, world):
    ticket = make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=23))  # at risk, level 1
    svc.transition(ticket.id, Action.TAKE, actor=world.users["technician"], now=T0 + timedelta(minutes=25))
    result = sla_sweep.sweep_due(T0 + timedelta(hours=1))
    assert count(Escalation, Escalation.target == Target.RESPONSE) == 1
    assert result.escalated == 0


def test_a_hold_past_its_cap_runs_again_and_can_breach(db, world):
    ticket = make_ticket(world, status=Status.ON_HOLD)  # waiting for parts since +40 min, cap 3 days
    cap_end = T0 + timedelta(minutes=40, days=3)
    result = sla_sweep.sweep_due(cap_end + timedelta(seconds=1))
    assert result.recomputed == 1
    row = _db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id,
                                                      TicketSla.target == Target.RESOLUTION)).scalar_one()
    assert row.state is TargetState.RUNNING and row.is_pause_capped


def test_non_urgent_at_risk_notices_wait_for_working_hours_when_the_policy_says_so(db, world):
    policy = world.policies["repairs"]
    definition = policy.current_version.definition
    definition = {**definition, "escalation": {"ack_minutes": 30, "leadership_after_minutes": 120,
                                                "defer_non_urgent_to": "office"}}
    # Saved after the first version (a version is in force from its publication, never before it).
    sla_config.save_policy_version(policy.id, definition=definition, actor=None, now=T0)
    saturday_night = T0 + timedelta(days=5, hours=13)  # Saturday 22:00 Shanghai
    make_ticket(world, now=saturday_night)
    sla_sweep.sweep_due(saturday_night + timedelta(minutes=23))
    email = notices("sla_at_risk", Channel.EMAIL)
    assert email and all(n.next_attempt_at == T0 + timedelta(days=7, hours=-0.5) for n in email)  # Monday 08:30
    # In the application it shows at once.
    assert all(n.status is DeliveryStatus.SENT for n in notices("sla_at_risk", Channel.IN_APP))


def test_ticket_changes_notify_the_people_concerned(db, world):
    u = world.users
    ticket = make_ticket(world, status=Status.RESOLVED)
    assigned = notices("ticket_assigned")
    assert {(n.user_id, n.channel) for n in assigned} == {(u["technician"].id, Channel.IN_APP),
                                                         (u["technician"].id, Channel.EMAIL)}
    assert {n.user_id for n in notices("ticket_resolved")} == {u["requester"].id}
    svc.transition(ticket.id, Action.REOPEN, actor=u["requester"], now=T0 + timedelta(days=1), reason="Drips")
    assert {n.user_id for n in notices("ticket_reopened")} == {u["technician"].id}
    svc.add_comment(ticket.id, actor=u["technician"], body="Coming at 3", now=T0 + timedelta(days=1, hours=1))
    # Comments: the requester by default only in the application.
    assert {(n.user_id, n.channel) for n in notices("ticket_commented")} == {(u["requester"].id, Channel.IN_APP)}


def test_a_rolled_back_change_leaves_no_notice(db, world):
    ticket = make_ticket(world)
    with pytest.raises(ValidationFailed):  # not a technician of this centre
        svc.transition(ticket.id, Action.ASSIGN, actor=world.users["dispatcher"], now=T0,
                       assignee_id=world.users["dorm_technician"].id)
    assert notices("ticket_assigned") == []


@pytest.mark.parametrize("hold_reason", [HoldReason.REQUESTER_UNAVAILABLE])
def test_sweep_leaves_paused_clocks_without_a_cap_alone(db, world, hold_reason):
    ticket = make_ticket(world, status=Status.IN_PROGRESS)
    svc.transition(ticket.id, Action.HOLD, actor=world.users["technician"], now=T0 + timedelta(minutes=50),
                   hold_reason=hold_reason)
    # requester_unavailable pauses arrival (met) and resolution, capped at a day.
    result = sla_sweep.sweep_due(T0 + timedelta(hours=3))
    assert result.breached == 0
