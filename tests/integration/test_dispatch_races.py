"""Automatic dispatch with two web processes or workers filing at the same instant (docs/dispatch.md).

Each racer has its own app context, session and database connection
(tests/integration/test_races.py). Two requests filed at once into one
centre with two technicians on duty and equal loads: without the
centre's lock both would count the same loads and give both requests to
the same technician (the tie falls the same way for both).
"""

from datetime import date, time, timedelta

from sqlalchemy import func, select

from tests.factories import T0
from tests.integration.test_races import race
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import EventKind, Ticket, TicketEvent, User
from tracker.services.dispatch import auto, roster
from tracker.services.requests import tickets as svc

SATURDAY_2AM = T0.replace(day=6, hour=18)  # Saturday 7 March 2026, 02:00 in Shanghai


def _filer(app, world, now):
    # Plain ids: an object of the test's session read in a racer's thread would load through that session.
    centre_id, category_id = world.categories["water"].centre_id, world.categories["water"].id
    requester_id = world.users["requester"].id

    def call():
        requester = db.session.get(User, requester_id)
        requester.centre_ids()  # roles loaded before the race

        def go():
            ticket = svc.file_ticket(
                svc.NewTicket(
                    centre_id=centre_id, category_id=category_id, description="No water on the floor."
                ),
                requester=requester,
                now=now,
            )
            return ticket.id

        return go

    return call


def test_two_filings_at_once_go_to_two_technicians_each_assigned_once(app, world):
    centre = world.centres["repairs"].id
    for who in ("technician", "other_technician"):
        roster.add_shift(
            centre,
            roster.NewShift(user_id=world.users[who].id, day=date(2026, 3, 6), start=time(20), end=time(8)),
            actor=world.users["dispatcher"],
            now=T0,
        )
    auto.save_settings(
        centre,
        shows_duty_phone=False,
        auto_dispatch={world.categories["water"].id},
        emergency=set(),
        actor=world.users["centre_head"],
        now=T0,
    )
    ids = []
    for round_ in range(4):
        now = SATURDAY_2AM + timedelta(minutes=round_)
        results = race(app, [_filer(app, world, now), _filer(app, world, now)])
        assert all(isinstance(r, int) for r in results), results
        ids += results
        assignees = {db.session.get(Ticket, ticket_id).assignee_id for ticket_id in results}
        # Equal loads before each round: one each, never both to one technician.
        assert assignees == {world.users["technician"].id, world.users["other_technician"].id}
    assigned = dict(
        db.session.execute(
            select(TicketEvent.ticket_id, func.count())
            .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind == EventKind.ASSIGNED)
            .group_by(TicketEvent.ticket_id)
        ).all()
    )
    assert assigned == {ticket_id: 1 for ticket_id in ids}
    assert {db.session.get(Ticket, i).status for i in ids} == {Status.ASSIGNED}
