"""Supervision orders (督办): issued by leadership, answered by the responsible person, closed,
flagged overdue once by the sweep, in the items' histories, the queue, the notices and the weekly report."""

import html
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration.test_rectification import new_item
from tracker.clock import utcnow
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    EventKind,
    Notification,
    OrderStatus,
    RectificationEvent,
    SupervisionOrder,
    TicketEvent,
)
from tracker.models.rectification import RectificationEventKind
from tracker.services import supervision
from tracker.services.insight import weekly
from tracker.services.sla import sweep as sla_sweep

SUPERVISION_KINDS = (
    EventKind.SUPERVISION_ISSUED,
    EventKind.SUPERVISION_ANSWERED,
    EventKind.SUPERVISION_CLOSED,
    EventKind.SUPERVISION_OVERDUE,
)
DEADLINE = T0 + timedelta(days=1)  # Tuesday 09:00 in Shanghai
# The pages compare with the real clock: a deadline 30 days ahead, 09:00 campus time.
_DAY = (utcnow() + timedelta(days=30)).astimezone(ZoneInfo("Asia/Shanghai")).date()
FUTURE = datetime.combine(_DAY, time(9, 0), ZoneInfo("Asia/Shanghai")).astimezone(UTC)
DEADLINE_TEXT = f"{_DAY.isoformat()}T09:00"


def count(model, *where) -> int:
    _db.session.expire_all()
    return _db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def issue(
    world,
    ticket,
    *,
    actor="leadership",
    responsible="centre_head",
    deadline=DEADLINE,
    now=T0,
    instruction="Find out why the leak took two days and report back.",
):
    return supervision.issue(
        ticket_id=ticket.id,
        instruction=instruction,
        responsible_id=world.users[responsible].id,
        deadline_at=deadline,
        actor=world.users[actor],
        now=now,
    )


def ticket_events(ticket, kind) -> list[TicketEvent]:
    _db.session.expire_all()
    return list(
        _db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
        ).scalars()
    )


def test_leadership_issues_an_order_recorded_in_the_history_and_noticed_to_the_responsible(db, world):
    ticket = make_ticket(world)
    order = issue(world, ticket)
    assert (order.status, order.centre_id, order.reference) == (
        OrderStatus.OPEN,
        ticket.centre_id,
        ticket.reference,
    )
    [event] = ticket_events(ticket, EventKind.SUPERVISION_ISSUED)
    assert (event.actor_id, event.data["order_id"], event.data["responsible_id"]) == (
        world.users["leadership"].id,
        order.id,
        world.users["centre_head"].id,
    )
    notices = {
        (n.kind, n.user_id)
        for n in _db.session.execute(
            select(Notification).where(Notification.idempotency_key.like(f"supervision:{order.id}:%"))
        ).scalars()
    }
    assert notices == {("supervision_issued", world.users["centre_head"].id)}
    assert supervision.queue_for(world.users["centre_head"]) == [order]
    assert supervision.queue_for(world.users["technician"]) == []
    assert supervision.queue_for(world.users["leadership"]) == [order]


@pytest.mark.parametrize("who", ["requester", "technician", "dispatcher", "centre_head"])
def test_only_leadership_and_administrators_issue(db, world, who):
    ticket = make_ticket(world)
    with pytest.raises(PermissionDenied):
        issue(world, ticket, actor=who)
    assert count(SupervisionOrder) == 0
    issue(world, ticket, actor="admin")
    assert count(SupervisionOrder) == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"instruction": "  ok "}, "Write the instruction: at least 5 characters."),
        ({"deadline": T0}, "The deadline must be in the future."),
        ({"deadline": T0 + timedelta(days=400)}, "The deadline must be within a year."),
        ({"responsible": "dorm_head"}, "Choose the responsible person among the centre's staff."),
        ({"responsible": "requester"}, "Choose the responsible person among the centre's staff."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_written(db, world, change, message):
    ticket = make_ticket(world)
    events_before = count(TicketEvent)
    with pytest.raises(ValidationFailed) as refused:
        issue(world, ticket, **change)
    assert refused.value.message == message
    assert (
        count(SupervisionOrder),
        count(TicketEvent),
        count(Notification, Notification.kind.like("supervision%")),
    ) == (0, events_before, 0)


def test_only_the_responsible_answers_and_only_leadership_closes_an_answered_order(db, world):
    ticket = make_ticket(world)
    order = issue(world, ticket)
    with pytest.raises(PermissionDenied):
        supervision.answer(order.id, text="Done.", actor=world.users["technician"], now=T0)
    with pytest.raises(NotFound):  # another centre's head does not even see it
        supervision.answer(order.id, text="Done.", actor=world.users["dorm_head"], now=T0)
    with pytest.raises(Conflict):  # not answered yet
        supervision.close(order.id, actor=world.users["leadership"], now=T0)
    with pytest.raises(ValidationFailed):
        supervision.answer(order.id, text="   ", actor=world.users["centre_head"], now=T0)

    answered = supervision.answer(
        order.id,
        text="Parts were out of stock; ordered a reserve.",
        actor=world.users["centre_head"],
        now=DEADLINE,
    )  # at the deadline: on time
    assert (answered.status, supervision.outcome(answered)) == (OrderStatus.ANSWERED, supervision.ON_TIME)
    with pytest.raises(Conflict):
        supervision.answer(order.id, text="Again.", actor=world.users["centre_head"], now=DEADLINE)
    with pytest.raises(PermissionDenied):
        supervision.close(order.id, actor=world.users["centre_head"], now=DEADLINE)
    closed = supervision.close(order.id, note="Good.", actor=world.users["leadership"], now=DEADLINE)
    assert closed.status is OrderStatus.CLOSED
    kinds = [
        e.kind
        for e in _db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(list(SUPERVISION_KINDS)))
            .order_by(TicketEvent.id)
        ).scalars()
    ]
    assert kinds == [
        EventKind.SUPERVISION_ISSUED,
        EventKind.SUPERVISION_ANSWERED,
        EventKind.SUPERVISION_CLOSED,
    ]
    answered_notice = (
        _db.session.execute(
            select(Notification).where(Notification.idempotency_key.like(f"supervision:{order.id}:answered%"))
        )
        .scalars()
        .all()
    )
    assert {n.user_id for n in answered_notice} == {world.users["leadership"].id}


def test_an_order_on_a_rectification_item_is_in_the_items_history(db, world):
    item = new_item(world, actor="leadership", responsible="centre_head")
    order = supervision.issue(
        item_id=item.id,
        instruction="Report progress to the weekly meeting.",
        responsible_id=world.users["centre_head"].id,
        deadline_at=DEADLINE,
        actor=world.users["leadership"],
        now=T0,
    )
    supervision.answer(
        order.id,
        text="Timetable changed from Monday.",
        actor=world.users["centre_head"],
        now=DEADLINE + timedelta(minutes=1),
    )
    assert supervision.outcome(_db.session.get(SupervisionOrder, order.id)) == supervision.LATE
    kinds = [
        e.kind
        for e in _db.session.execute(
            select(RectificationEvent)
            .where(
                RectificationEvent.item_id == item.id,
                RectificationEvent.kind.in_([RectificationEventKind(k.value) for k in SUPERVISION_KINDS]),
            )
            .order_by(RectificationEvent.id)
        ).scalars()
    ]
    assert kinds == [RectificationEventKind.SUPERVISION_ISSUED, RectificationEventKind.SUPERVISION_ANSWERED]
    assert supervision.for_item(item, world.users["requester"]) == []


def test_the_sweep_flags_an_overdue_order_once_and_tells_both_sides(db, world):
    ticket = make_ticket(world)
    order = issue(world, ticket)
    answered = issue(world, ticket, instruction="A second order, answered in time.")
    supervision.answer(
        answered.id, text="Answered.", actor=world.users["centre_head"], now=T0 + timedelta(hours=1)
    )
    assert sla_sweep.sweep_due(DEADLINE).supervision_overdue == 0  # at the deadline: not late yet
    first = sla_sweep.sweep_due(DEADLINE + timedelta(seconds=1))
    again = sla_sweep.sweep_due(DEADLINE + timedelta(minutes=5))
    assert (first.supervision_overdue, again.supervision_overdue) == (1, 0)
    [event] = ticket_events(ticket, EventKind.SUPERVISION_OVERDUE)
    assert (event.actor_id, event.data["order_id"]) == (None, order.id)
    people = {
        n.user_id
        for n in _db.session.execute(
            select(Notification).where(Notification.idempotency_key.like(f"supervision:{order.id}:overdue%"))
        ).scalars()
    }
    assert people == {world.users["centre_head"].id, world.users["leadership"].id}
    assert _db.session.get(SupervisionOrder, order.id).overdue_at == DEADLINE + timedelta(seconds=1)


def test_the_weekly_report_lists_orders_with_their_outcome(db, world):
    ticket = make_ticket(world)
    on_time = issue(world, ticket, instruction="Answer on time, please.")
    supervision.answer(
        on_time.id, text="Done in time.", actor=world.users["centre_head"], now=T0 + timedelta(hours=2)
    )
    late = issue(world, ticket, instruction="This one is answered late.")
    supervision.answer(
        late.id, text="Sorry, late.", actor=world.users["centre_head"], now=DEADLINE + timedelta(hours=1)
    )
    still_open = issue(world, ticket, instruction="Nobody answers this one.")
    now = T0 + timedelta(days=10)
    report = weekly.generate(date(2026, 3, 2), actor=None, now=now)
    section = weekly.read(report.content).supervision
    assert section["counts"] == {"on_time": 1, "late": 1, "open": 1, "overdue": 1}
    outcomes = {o["id"]: (o["outcome"], o["is_overdue"]) for o in section["orders"]}
    assert outcomes == {
        on_time.id: ("on_time", False),
        late.id: ("late", False),
        still_open.id: ("open", True),
    }
    sheet = load_workbook(io.BytesIO(weekly.xlsx(report, "zh_CN")))["督办"]
    assert [row[6] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "按时答复",
        "逾期答复",
        "尚未答复",
    ]


def test_pages_issue_answer_and_close_with_role_checks(db, world, client, login_as):
    ticket = make_ticket(world)
    post_form(client, "/logout")
    login_as("technician")
    refused = post_form(
        client,
        f"/supervision/tickets/{ticket.reference}",
        {
            "instruction": "Not yours to give.",
            "responsible_id": world.users["centre_head"].id,
            "deadline": "2026-03-03T09:00",
        },
    )
    assert refused.status_code == 403
    assert (
        client.get(f"/tickets/{ticket.reference}").get_data(as_text=True).count("Issue a supervision order")
        == 0
    )

    post_form(client, "/logout")
    login_as("leadership")
    data = {
        "instruction": "Explain the delay.",
        "responsible_id": world.users["centre_head"].id,
        "deadline": DEADLINE_TEXT,
        "once": "supervision-once-1",
    }
    first = post_form(client, f"/supervision/tickets/{ticket.reference}", data)
    again = post_form(client, f"/supervision/tickets/{ticket.reference}", data)  # a double click
    assert (first.status_code, again.status_code) == (302, 302)
    [order] = _db.session.execute(select(SupervisionOrder)).scalars().all()
    assert order.deadline_at == FUTURE  # 09:00 campus time
    bad = post_form(
        client,
        f"/supervision/tickets/{ticket.reference}",
        {
            "instruction": "Explain the delay.",
            "responsible_id": world.users["centre_head"].id,
            "deadline": "yesterday",
        },
        follow_redirects=True,
    )
    assert count(SupervisionOrder) == 1
    assert "Not a valid datetime value." in html.unescape(
        bad.get_data(as_text=True)
    ) or "Give the deadline of the answer." in html.unescape(bad.get_data(as_text=True))

    post_form(client, "/logout")
    login_as("requester")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Explain the delay." not in page
    assert client.get("/supervision/").status_code == 403

    post_form(client, "/logout")
    login_as("centre_head")
    queue = html.unescape(client.get("/supervision/").get_data(as_text=True))
    assert ticket.reference in queue and "Explain the delay." in queue
    answered = post_form(
        client, f"/supervision/{order.id}/answer", {"answer": "The pump failed.", "version": order.version}
    )
    assert answered.status_code == 302
    assert post_form(client, f"/supervision/{order.id}/close", {"note": "no"}).status_code == 403

    post_form(client, "/logout")
    login_as("leadership")
    assert post_form(client, f"/supervision/{order.id}/close", {"note": "Thanks."}).status_code == 302
    page = html.unescape(client.get(f"/tickets/{ticket.reference}").get_data(as_text=True))
    assert "The pump failed." in page and "closed the supervision order" in page
