"""Duty rosters, suggested technicians and automatic dispatch (docs/dispatch.md)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import T0
from tracker.domain.workflow import Action, Status
from tracker.extensions import db
from tracker.models import Escalation, EventKind, Notification, Shift, ShiftKind, TicketEvent
from tracker.services.dispatch import auto, roster, suggest
from tracker.services.dispatch.roster import NewShift, RosterRejected
from tracker.services.requests import tickets as svc
from tracker.services.sla import sweep as sla_sweep

# Saturday 7 March 2026, 02:00 in Shanghai.
SATURDAY_2AM = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


def _night(world, who="technician", day=date(2026, 3, 6), kind=ShiftKind.ON_DUTY):
    return roster.add_shift(
        world.centres["repairs"].id,
        NewShift(user_id=world.users[who].id, day=day, start=time(20), end=time(8), kind=kind),
        actor=world.users["dispatcher"],
        now=T0,
    )


def _auto(world, *categories):
    cats = {world.categories[c].id for c in categories}
    auto.save_settings(
        world.centres["repairs"].id,
        shows_duty_phone=True,
        auto_dispatch=cats,
        emergency=cats,
        actor=world.users["centre_head"],
        now=T0,
    )


def _file(world, now, category="water", **extra):
    cat = world.categories[category]
    return svc.file_ticket(
        svc.NewTicket(
            centre_id=cat.centre_id, category_id=cat.id, description="No water on the whole floor.", **extra
        ),
        requester=world.users["requester"],
        now=now,
    )


def test_night_shift_spans_midnight_and_is_on_duty_at_two(world):
    shift = _night(world)
    assert shift.starts_at == datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert shift.ends_at == datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    on = roster.on_duty(world.centres["repairs"].id, SATURDAY_2AM)
    assert [s.user_id for s in on] == [world.users["technician"].id]
    assert roster.on_duty(world.centres["repairs"].id, SATURDAY_2AM + timedelta(hours=7)) == []


def test_overlapping_shift_for_one_person_is_refused_and_nothing_saved(world):
    _night(world)
    centre = world.centres["repairs"].id
    with pytest.raises(RosterRejected) as refused:
        roster.save_shifts(
            centre,
            [
                (
                    1,
                    NewShift(
                        user_id=world.users["other_technician"].id,
                        day=date(2026, 3, 6),
                        start=time(8),
                        end=time(20),
                    ),
                ),
                (
                    2,
                    NewShift(
                        user_id=world.users["technician"].id, day=date(2026, 3, 7), start=time(7), end=time(9)
                    ),
                ),
                (3, NewShift(user_id=None, day=date(2026, 3, 7), start=time(7), end=time(9))),
            ],
            actor=world.users["dispatcher"],
            now=T0,
        )
    rows = refused.value.rows
    assert [r[0] for r in rows] == [2, 3]
    assert "already has a shift" in rows[0][1]
    assert rows[1][1] == "Choose who holds the shift."
    assert db.session.execute(select(func.count()).select_from(Shift)).scalar_one() == 1


def test_technician_may_not_edit_the_roster(world):
    from tracker.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        roster.add_shift(
            world.centres["repairs"].id,
            NewShift(user_id=world.users["technician"].id, day=date(2026, 3, 6), start=time(8), end=time(9)),
            actor=world.users["technician"],
            now=T0,
        )


def test_copy_previous_week_keeps_local_times(world):
    _night(world, day=date(2026, 3, 2))
    copied = roster.copy_previous_week(
        world.centres["repairs"].id, date(2026, 3, 9), actor=world.users["dispatcher"], now=T0
    )
    assert [(s.starts_at, s.ends_at) for s in copied] == [
        (datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 10, 0, tzinfo=UTC))
    ]
    with pytest.raises(RosterRejected):  # copying twice overlaps the copies
        roster.copy_previous_week(
            world.centres["repairs"].id, date(2026, 3, 9), actor=world.users["dispatcher"], now=T0
        )


def test_import_with_one_bad_row_saves_nothing_and_names_each_row(world):
    csv = (
        "username,date,start,end,kind\n"
        "technician,2026-03-06,20:00,08:00,on_duty\n"
        "nobody,2026-03-06,20:00,08:00,on_duty\n"
        "other-technician,2026-13-01,08:00,20:00,值班\n"
        "other-technician,2026-03-07,08:00,20:00,sleeping\n"
    ).encode()
    with pytest.raises(RosterRejected) as refused:
        roster.import_shifts(
            world.centres["repairs"].id, csv, "week.csv", actor=world.users["dispatcher"], now=T0
        )
    assert [r[0] for r in refused.value.rows] == [3, 4, 5]
    assert db.session.execute(select(func.count()).select_from(Shift)).scalar_one() == 0


def test_import_reads_chinese_headers_and_xlsx(world, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["用户名", "日期", "开始", "结束", "类型"])
    sheet.append(["technician", datetime(2026, 3, 6), "20:00", "08:00", "值班"])
    sheet.append(["other-technician", "2026-03-07", "08:00", "20:00", "备班"])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    saved = roster.import_shifts(
        world.centres["repairs"].id, path.read_bytes(), "roster.xlsx", actor=world.users["dispatcher"], now=T0
    )
    assert [(s.user_id, s.kind) for s in saved] == [
        (world.users["technician"].id, ShiftKind.ON_DUTY),
        (world.users["other_technician"].id, ShiftKind.ON_CALL),
    ]


def test_emergency_at_two_on_saturday_goes_to_the_night_technician(world):
    _night(world)
    _night(world, "other_technician", kind=ShiftKind.ON_CALL)
    _auto(world, "water")
    ticket = _file(world, SATURDAY_2AM)
    assert ticket.status is Status.ASSIGNED
    assert ticket.assignee_id == world.users["technician"].id
    event = db.session.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.ASSIGNED)
    ).scalar_one()
    assert event.actor_id is None and event.data["auto"] is True and event.created_at == SATURDAY_2AM
    notices = (
        db.session.execute(select(Notification).where(Notification.kind == "ticket_assigned")).scalars().all()
    )
    assert notices and {n.ticket_id for n in notices} == {ticket.id}


def test_nobody_on_duty_or_no_skill_leaves_it_in_the_queue(world):
    _auto(world, "water", "power")
    assert _file(world, SATURDAY_2AM).status is Status.NEW
    _night(world)
    auto.save_skills(
        world.users["technician"].id,
        world.centres["repairs"].id,
        {world.categories["power"].id},
        actor=world.users["centre_head"],
    )
    assert _file(world, SATURDAY_2AM).status is Status.NEW
    assert _file(world, SATURDAY_2AM, category="power").assignee_id == world.users["technician"].id


def test_category_without_auto_dispatch_is_not_assigned(world):
    _night(world)
    _auto(world, "power")
    assert _file(world, SATURDAY_2AM).status is Status.NEW


def test_least_load_then_round_robin(world):
    _night(world)
    _night(world, "other_technician")
    _auto(world, "water")
    tech, other = world.users["technician"].id, world.users["other_technician"].id
    first = _file(world, SATURDAY_2AM)
    second = _file(world, SATURDAY_2AM + timedelta(seconds=1))
    assert (first.assignee_id, second.assignee_id) == (tech, other)
    svc.transition(
        first.id,
        Action.CANCEL,
        actor=world.users["requester"],
        now=SATURDAY_2AM + timedelta(seconds=2),
        reason="Fixed itself",
    )
    third = _file(world, SATURDAY_2AM + timedelta(seconds=3))
    assert third.assignee_id == tech  # least load
    svc.transition(
        second.id,
        Action.CANCEL,
        actor=world.users["requester"],
        now=SATURDAY_2AM + timedelta(seconds=4),
        reason="Fixed itself",
    )
    fourth = _file(world, SATURDAY_2AM + timedelta(seconds=5))
    assert fourth.assignee_id == other  # equal load: the one whose turn is longest ago


def test_suggestions_list_on_duty_first_with_skills_load_and_area_and_mark_best(world, make_ticket):
    make_ticket(status=Status.IN_PROGRESS)  # technician: one open, on site, in Building 3
    _night(world, "other_technician")
    found = suggest.candidates(world.centres["repairs"].id, world.categories["water"].id, SATURDAY_2AM)
    assert [c.user.id for c in found] == [world.users["other_technician"].id, world.users["technician"].id]
    assert found[0].is_best and not found[1].is_best
    assert (found[1].open_count, found[1].on_site) == (1, 1)
    assert found[1].last_area.code == "main-b3-301"


def test_automatic_dispatchs_one_statement_ranks_as_the_suggestions_do(world, make_ticket):
    # fitting_now is candidates + ranked written as one statement for the filing path: same people, same order.
    make_ticket(status=Status.IN_PROGRESS)  # technician: one open
    _night(world, "technician")
    _night(world, "other_technician")
    centre, water = world.centres["repairs"].id, world.categories["water"].id

    def both(now):
        suggested = [(c.user.id, c.open_count) for c in suggest.ranked(suggest.candidates(centre, water, now), water)]
        fitting = [(c.user.id, c.open_count) for c in suggest.fitting_now(centre, water, now)]
        return suggested, fitting

    suggested, fitting = both(SATURDAY_2AM)
    assert fitting == suggested == [(world.users["other_technician"].id, 0), (world.users["technician"].id, 1)]
    suggested, fitting = both(SATURDAY_2AM + timedelta(hours=12))  # after the night shift: nobody on duty
    assert fitting == suggested == []


def test_decline_returns_to_queue_and_tells_the_dispatcher(world, make_ticket):
    ticket = make_ticket(status=Status.ASSIGNED)
    svc.transition(
        ticket.id,
        Action.DECLINE,
        actor=world.users["technician"],
        now=T0 + timedelta(minutes=30),
        reason="Off sick",
    )
    assert ticket.status is Status.NEW and ticket.assignee_id is None
    notices = (
        db.session.execute(select(Notification).where(Notification.kind == "ticket_declined")).scalars().all()
    )
    assert notices and {n.payload["reason"] for n in notices} == {"Off sick"}


def test_level_one_of_an_unassigned_request_goes_to_the_technician_on_duty(world):
    _night(world)
    ticket = _file(world, SATURDAY_2AM, category="power")
    assert ticket.status is Status.NEW
    sla_sweep.sweep_due(SATURDAY_2AM + timedelta(minutes=23))
    escalation = (
        db.session.execute(
            select(Escalation).where(Escalation.ticket_id == ticket.id, Escalation.level == sla_sweep.AT_RISK)
        )
        .scalars()
        .first()
    )
    assert escalation is not None
    assert world.users["technician"].id in sla_sweep.receivers(escalation, ticket)
    assert world.users["other_technician"].id not in sla_sweep.receivers(escalation, ticket)
    from tracker.services.requests import escalations

    assert escalation in escalations.open_for(world.users["technician"])
    assert escalations.open_for(world.users["other_technician"]) == []
