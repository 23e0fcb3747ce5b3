"""A ticket's life through the services: every change checked and recorded."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import T0, make_ticket
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.models import EventKind, Ticket, TicketEvent
from tracker.services.requests import tickets as svc


def _events(db, ticket):
    return list(
        db.session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).scalars()
    )


def _count(db, model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_full_life_records_each_step_with_actor_and_time(db, world):
    u = world.users
    t = make_ticket(world)
    steps = [
        (Action.ASSIGN, u["dispatcher"], {"assignee_id": u["technician"].id}, Status.ASSIGNED),
        (Action.ACCEPT, u["technician"], {}, Status.ACCEPTED),
        (Action.ARRIVE, u["technician"], {}, Status.IN_PROGRESS),
        (Action.HOLD, u["technician"], {"hold_reason": HoldReason.WAITING_PARTS}, Status.ON_HOLD),
        (Action.RESUME, u["technician"], {}, Status.IN_PROGRESS),
        (Action.RESOLVE, u["technician"], {"resolution_note": "New washer", "materials_used": "1 washer"}, Status.RESOLVED),
        (Action.CONFIRM, u["requester"], {}, Status.CLOSED),
    ]
    for minutes, (action, actor, details, expected) in enumerate(steps, start=1):
        t = svc.transition(t.id, action, actor=actor, now=T0 + timedelta(minutes=minutes), **details)
        assert t.status is expected
    events = _events(db, t)
    assert [e.kind for e in events] == [EventKind.FILED, EventKind.ASSIGNED] + [EventKind.STATUS_CHANGED] * 6
    assert [e.actor_id for e in events] == [u["requester"].id, u["dispatcher"].id] + [u["technician"].id] * 5 + [u["requester"].id]
    assert [e.created_at for e in events] == [T0 + timedelta(minutes=m) for m in range(8)]
    assert events[4].data["hold_reason"] == "waiting_parts"
    assert events[6].data["materials_used"] == "1 washer"
    assert (t.accepted_at, t.arrived_at, t.resolved_at, t.closed_at) == (
        T0 + timedelta(minutes=2), T0 + timedelta(minutes=3), T0 + timedelta(minutes=6), T0 + timedelta(minutes=7)
    )


def test_references_count_per_centre_and_year_in_campus_time(db, world):
    first = make_ticket(world)
    second = make_ticket(world)
    dorm = make_ticket(world, category="keys")
    # 2026-12-31 16:30 UTC is already 2027 in Shanghai.
    new_year = make_ticket(world, now=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    assert [first.reference, second.reference, dorm.reference, new_year.reference] == [
        "RP-2026-000001", "RP-2026-000002", "DM-2026-000001", "RP-2027-000001",
    ]


def test_priority_defaults_to_the_category_and_can_be_chosen(db, world):
    assert make_ticket(world).priority is Priority.HIGH  # water's default
    assert make_ticket(world, priority=Priority.LOW).priority is Priority.LOW


@pytest.mark.parametrize(
    "change, message",
    [
        ({"description": "  x "}, "at least"),
        ({"description": "y" * 5001}, "longer than"),
        ({"category_id": "keys"}, "category of this service centre"),
        ({"location_id": 999999}, "place from the list"),
        ({"title": "t" * 201}, "title is longer"),
    ],
)
def test_bad_filing_is_refused_and_saves_nothing(db, world, change, message):
    if change.get("category_id") == "keys":
        change["category_id"] = world.categories["keys"].id  # belongs to dorm
    request = svc.NewTicket(
        centre_id=world.centres["repairs"].id,
        category_id=change.pop("category_id", world.categories["water"].id),
        location_id=change.pop("location_id", world.locations["room"].id),
        description=change.pop("description", "Leaking tap"),
        **change,
    )
    with pytest.raises(ValidationFailed) as refused:
        svc.file_ticket(request, requester=world.users["requester"], now=T0)
    assert message in str(refused.value)
    assert _count(db, Ticket) == 0 and _count(db, TicketEvent) == 0


def test_a_user_without_the_requester_role_cannot_file(db, world):
    request = svc.NewTicket(centre_id=world.centres["repairs"].id, category_id=world.categories["water"].id,
                            description="Leaking tap", location_id=world.locations["room"].id)
    with pytest.raises(PermissionDenied):
        svc.file_ticket(request, requester=world.users["leadership"], now=T0)
    assert _count(db, Ticket) == 0


ILLEGAL = [
    # who, status the ticket is in, action, error
    ("requester", Status.NEW, Action.ASSIGN, Conflict),          # wrong role
    ("technician", Status.ASSIGNED, Action.RESOLVE, Conflict),    # wrong state
    ("other_technician", Status.ASSIGNED, Action.ACCEPT, Conflict),  # not the assignee
    ("dorm_head", Status.NEW, Action.ASSIGN, NotFound),           # wrong centre: cannot even see it
    ("dorm_technician", Status.NEW, Action.TAKE, NotFound),
    ("other_requester", Status.RESOLVED, Action.CONFIRM, NotFound),
    ("leadership", Status.NEW, Action.CANCEL, Conflict),          # reads, does not act
    ("technician", Status.RESOLVED, Action.CONFIRM, Conflict),
    ("requester", Status.ON_HOLD, Action.CANCEL, Conflict),       # work started on site
    ("dispatcher", Status.CLOSED, Action.REOPEN, Conflict),
]


@pytest.mark.parametrize("who, status, action, error", ILLEGAL)
def test_illegal_moves_are_refused_and_change_nothing(db, world, who, status, action, error):
    t = make_ticket(world, status=status)
    before = (t.status, t.assignee_id, t.version, len(_events(db, t)))
    with pytest.raises(error):
        svc.transition(t.id, action, actor=world.users[who], now=T0 + timedelta(hours=5),
                       assignee_id=world.users["technician"].id, reason="because", resolution_note="done")
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    assert (t.status, t.assignee_id, t.version, len(_events(db, t))) == before


@pytest.mark.parametrize(
    "action, details, message",
    [
        (Action.HOLD, {"hold_reason": "coffee_break"}, "on hold"),
        (Action.HOLD, {"hold_reason": HoldReason.OTHER}, "waiting for"),
        (Action.RESOLVE, {"resolution_note": "   "}, "what was done"),
    ],
)
def test_actions_missing_their_details_are_refused(db, world, action, details, message):
    t = make_ticket(world, status=Status.IN_PROGRESS)
    with pytest.raises(ValidationFailed) as refused:
        svc.transition(t.id, action, actor=world.users["technician"], now=T0 + timedelta(hours=1), **details)
    assert message in str(refused.value)
    db.session.expire_all()
    assert db.session.get(Ticket, t.id).status is Status.IN_PROGRESS


def test_reasons_are_required_for_decline_reopen_and_cancel(db, world):
    assigned = make_ticket(world, status=Status.ASSIGNED)
    with pytest.raises(ValidationFailed):
        svc.transition(assigned.id, Action.DECLINE, actor=world.users["technician"], now=T0 + timedelta(hours=1))
    resolved = make_ticket(world, status=Status.RESOLVED)
    with pytest.raises(ValidationFailed):
        svc.transition(resolved.id, Action.REOPEN, actor=world.users["requester"], now=T0 + timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        svc.transition(assigned.id, Action.CANCEL, actor=world.users["dispatcher"], now=T0 + timedelta(hours=1))


def test_assignment_only_to_an_active_technician_of_the_centre(db, world):
    t = make_ticket(world)
    for wrong in ("dorm_technician", "dispatcher", "requester"):
        with pytest.raises(ValidationFailed):
            svc.transition(t.id, Action.ASSIGN, actor=world.users["dispatcher"], now=T0,
                           assignee_id=world.users[wrong].id)
    assert db.session.get(Ticket, t.id).assignee_id is None


def test_a_stale_form_is_refused(db, world):
    t = make_ticket(world, status=Status.ASSIGNED)
    seen = t.version
    svc.transition(t.id, Action.ACCEPT, actor=world.users["technician"], now=T0 + timedelta(hours=1))
    with pytest.raises(Conflict) as refused:
        svc.transition(t.id, Action.ASSIGN, actor=world.users["dispatcher"], now=T0 + timedelta(hours=2),
                       assignee_id=world.users["other_technician"].id, expected_version=seen)
    assert "changed this request" in str(refused.value)


def test_technician_takes_work_from_the_queue_without_dispatch(db, world):
    t = make_ticket(world)
    t = svc.transition(t.id, Action.TAKE, actor=world.users["other_technician"], now=T0 + timedelta(minutes=5))
    assert (t.status, t.assignee_id) == (Status.ACCEPTED, world.users["other_technician"].id)
    assert t.accepted_at == T0 + timedelta(minutes=5)


def test_decline_returns_the_ticket_to_the_queue(db, world):
    t = make_ticket(world, status=Status.ASSIGNED)
    t = svc.transition(t.id, Action.DECLINE, actor=world.users["technician"], now=T0 + timedelta(hours=1),
                       reason="On leave today")
    assert (t.status, t.assignee_id) == (Status.NEW, None)
    assert _events(db, t)[-1].body == "On leave today"


def test_reopened_ticket_goes_round_again_and_keeps_first_milestones(db, world):
    t = make_ticket(world, status=Status.REOPENED)
    first_accept = t.accepted_at
    t = svc.transition(t.id, Action.TAKE, actor=world.users["technician"], now=T0 + timedelta(days=1))
    t = svc.transition(t.id, Action.RESOLVE, actor=world.users["technician"], now=T0 + timedelta(days=1, hours=1),
                       resolution_note="Replaced the whole tap")
    assert t.accepted_at == first_accept
    assert t.resolved_at == T0 + timedelta(days=1, hours=1)


def test_priority_change_is_in_the_history(db, world):
    t = make_ticket(world)
    t = svc.transition(t.id, Action.REPRIORITISE, actor=world.users["centre_head"], now=T0 + timedelta(minutes=3),
                       priority=Priority.URGENT, reason="Water on the floor")
    event = _events(db, t)[-1]
    assert (event.kind, event.data, t.priority) == (
        EventKind.PRIORITY_CHANGED, {"from": "high", "to": "urgent"}, Priority.URGENT
    )


def test_the_application_itself_can_confirm_but_not_reopen(db, world):
    t = make_ticket(world, status=Status.RESOLVED)
    with pytest.raises(Conflict):
        svc.transition(t.id, Action.REOPEN, actor=None, now=T0 + timedelta(days=8), reason="x")
    t = svc.transition(t.id, Action.CONFIRM, actor=None, now=T0 + timedelta(days=8))
    event = _events(db, t)[-1]
    assert (t.status, event.actor_id, event.data["automatic"]) == (Status.CLOSED, None, True)


# Which of (own: requester's repairs ticket, dorm: requester's dorm ticket,
# other: other_requester's repairs ticket) each user may read.
VISIBILITY = {
    "requester": {"own", "dorm"},
    "other_requester": {"other"},
    "technician": {"own", "other"},
    "other_technician": {"own", "other"},
    "dorm_technician": {"dorm"},
    "dispatcher": {"own", "other"},
    "centre_head": {"own", "other"},
    "dorm_head": {"dorm"},
    "leadership": {"own", "dorm", "other"},
    "admin": {"own", "dorm", "other"},
}


@pytest.mark.parametrize("who", VISIBILITY)
def test_each_role_sees_exactly_its_tickets(db, world, who):
    tickets = {
        "own": make_ticket(world),
        "dorm": make_ticket(world, category="keys"),
        "other": make_ticket(world, requester="other_requester"),
    }
    user = world.users[who]
    expected = {tickets[name] for name in VISIBILITY[who]}
    assert set(db.session.execute(svc.visible_tickets(user)).scalars()) == expected
    assert {t for t in tickets.values() if svc.can_view(user, t)} == expected
