"""Filing a ticket the cheap way (docs/api.md, "Intake speed") stores what the long way did.

A filing computes its deadlines before the ticket is first written and keeps
policy and calendar versions per process; these tests pin that an
administrator's change applies to the very next filing, in any process (no
test clears a cache that production would not), and that what is stored is
what recomputing the ticket from its history gives.
"""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select, update

from tests.factories import T0, make_ticket
from tests.integration.api_helpers import bearer, make_token
from tracker.domain.sla_clock import Target
from tracker.domain.workflow import Action, Priority
from tracker.errors import ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    Calendar,
    CalendarVersion,
    Channel,
    DeliveryStatus,
    Notification,
    StatsDirty,
    Ticket,
    TicketEvent,
    TicketSla,
)
from tracker.services.insight import reports
from tracker.services.notify import outbox, webhooks
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config

API = "/api/v1"
SLA_COLUMNS = ("target", "policy_version_id", "calendar_version_id", "priority", "target_minutes", "state",
               "started_at", "due_at", "at_risk_at", "milestone_at", "elapsed_minutes", "paused_minutes",
               "is_pause_capped", "next_check_at", "computed_at")
TICKET_COLUMNS = ("next_due_at", "is_sla_breached", "is_sla_at_risk", "is_open", "sla_policy_version_id")


def _stored(ticket_id: int) -> tuple[dict, tuple]:
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket_id)
    rows = {r.target: tuple(getattr(r, c) for c in SLA_COLUMNS)
            for r in _db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket_id)).scalars()}
    return rows, tuple(getattr(ticket, c) for c in TICKET_COLUMNS)


def _body(world, category="water") -> dict:
    return {
        "centre_id": world.categories[category].centre_id,
        "category_id": world.categories[category].id,
        "location_id": world.locations["room"].id,
        "description": "The light in the corridor flickers.",
    }


def _shorter_response(policy, minutes: int) -> dict:
    definition = policy.current_version.definition
    targets = {**definition["targets"]}
    targets["response"] = {**targets["response"], "minutes": {p.value: minutes for p in Priority}}
    return {**definition, "targets": targets}


@pytest.mark.parametrize("category", ["water", "keys"])
def test_filing_stores_what_recomputing_the_ticket_from_its_history_gives(db, world, category):
    ticket = make_ticket(world, category=category)
    filed_rows, filed_flags = _stored(ticket.id)
    assert set(filed_rows) >= {Target.RESPONSE, Target.RESOLUTION}
    sla._recompute(_db.session.get(Ticket, ticket.id), T0)  # the long way, at the same instant
    _db.session.commit()
    assert _stored(ticket.id) == (filed_rows, filed_flags)
    day = reports.local_day(T0)
    assert _db.session.execute(select(func.count()).select_from(StatsDirty).where(
        StatsDirty.day == day, StatsDirty.centre_id == ticket.centre_id)).scalar_one() == 1


def test_a_policy_saved_after_filings_applies_to_the_next_filing(db, world):
    policy = world.policies["repairs"]
    first = make_ticket(world)  # the process now holds version 1 and the calendars
    assert first.sla_policy_version_id == policy.current_version_id
    version = sla_config.save_policy_version(policy.id, definition=_shorter_response(policy, 10), actor=None,
                                             now=T0 + timedelta(hours=1))
    # Nothing is cleared here: only what the next filing reads tells it.
    later = make_ticket(world, now=T0 + timedelta(hours=2))
    assert later.sla_policy_version_id == version.id
    rows, _ = _stored(later.id)
    assert rows[Target.RESPONSE][SLA_COLUMNS.index("due_at")] == T0 + timedelta(hours=2, minutes=10)
    assert rows[Target.RESPONSE][SLA_COLUMNS.index("policy_version_id")] == version.id


def test_a_calendar_saved_in_another_process_applies_to_the_next_filing(db, world):
    first = make_ticket(world)  # response runs on "always": due 30 minutes after filing
    rows, _ = _stored(first.id)
    always = _db.session.execute(select(Calendar).where(Calendar.code == "always")).scalar_one()
    assert rows[Target.RESPONSE][SLA_COLUMNS.index("calendar_version_id")] == always.current_version_id
    definition = sla_config.validate_calendar({"timezone": "Asia/Shanghai", "week": {
        d: [["10:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}})
    calendar_id = always.id
    _db.session.rollback()  # SQLite: this session must not hold the write lock
    # Another process's administrator saves the calendar as sla_config does
    # (a new version, made current), in a transaction of its own: nothing in
    # this process hears of it.
    with _db.engine.begin() as other:
        number = other.execute(select(func.max(CalendarVersion.number))
                               .where(CalendarVersion.calendar_id == calendar_id)).scalar_one() + 1
        new_version = other.execute(
            insert(CalendarVersion).values(calendar_id=calendar_id, number=number, definition=definition, note="",
                                           created_at=T0 + timedelta(minutes=5))
            .returning(CalendarVersion.id)
        ).scalar_one()
        other.execute(update(Calendar).where(Calendar.id == calendar_id).values(current_version_id=new_version))
    later = make_ticket(world, now=T0 + timedelta(minutes=10))  # 09:10 Shanghai: the new calendar opens at 10:00
    rows, _ = _stored(later.id)
    assert rows[Target.RESPONSE][SLA_COLUMNS.index("calendar_version_id")] == new_version
    assert rows[Target.RESPONSE][SLA_COLUMNS.index("due_at")] == T0 + timedelta(hours=1, minutes=30)


def test_a_category_without_a_policy_files_with_no_clocks(db, world):
    sla_config.assign_policy(world.categories["keys"].id, None, actor=None, now=T0)
    ticket = make_ticket(world, category="keys")
    rows, flags = _stored(ticket.id)
    assert rows == {}
    assert flags == (None, False, False, True, None)


def test_filing_through_the_api_answers_as_reading_it_does(client, world):
    secret = make_token(world, "requester")
    answer = client.post(f"{API}/tickets", json=_body(world), headers=bearer(secret))
    assert answer.status_code == 201, answer.get_json()
    filed = answer.get_json()
    listed = client.get(f"{API}/tickets", headers=bearer(secret)).get_json()["items"][0]
    assert listed["reference"] == filed["reference"]
    for key in ("centre", "category", "location", "requester", "version", "actions", "status"):
        assert filed[key] == listed[key], key
    remaining = filed["sla"].pop("remaining_minutes")
    assert 0 < listed["sla"].pop("remaining_minutes") <= remaining
    assert filed["sla"] == listed["sla"]
    ticket = _db.session.execute(select(Ticket).where(Ticket.reference == filed["reference"])).scalar_one()
    assert _db.session.execute(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id)).scalar_one() == 1
    assert _db.session.execute(select(Notification.user_id).where(
        Notification.ticket_id == ticket.id)).scalars().all() == [world.users["dispatcher"].id]


def test_filing_through_the_api_takes_few_statements(client, world):
    secret = make_token(world, "requester")
    client.post(f"{API}/tickets", json=_body(world), headers=bearer(secret))  # the token's use is recorded
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    body, engine = _body(world), _db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.post(f"{API}/tickets", json=body, headers=bearer(secret))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 201
    # SQLite's BEGIN IMMEDIATE is ours (tracker/__init__.py), and it writes
    # the targets' rows one statement each where PostgreSQL sends one.
    sent = [s for i, s in enumerate(statements) if s != "BEGIN IMMEDIATE" and (i == 0 or s != statements[i - 1])]
    # Token, catalogue, reference, ticket, targets, event, summary mark,
    # dispatchers, webhooks, notices (docs/api.md, "Intake speed"): 27 before, then 10.
    # The dispatchers and webhooks are one statement; on PostgreSQL the ticket, targets,
    # event, notices and mark are one more (docs/api.md, "Filing CPU, third pass"): five.
    # There the catalogue's statement also takes the reference and reads the
    # dispatchers and webhooks (docs/api.md, "Filing CPU, fourth pass"): three.
    assert len(sent) <= (3 if engine.dialect.name == "postgresql" else 9), "\n".join(sent)


def test_filing_tells_the_dispatchers_as_they_chose_or_the_heads_when_there_are_none(db, world):
    dispatcher = world.users["dispatcher"]
    outbox.set_preferences(dispatcher, {("ticket_filed", Channel.EMAIL): True})
    dispatcher.locale = "en"
    _db.session.commit()
    hook = webhooks.create_webhook(name="Repairs group", url="https://example.org/hook", format="generic",
                                   centre_id=world.centres["repairs"].id, kinds=["ticket_filed"], actor=None, now=T0)

    def notices(ticket):
        return sorted(_db.session.execute(
            select(Notification.channel, Notification.user_id, Notification.webhook_id, Notification.status,
                   Notification.locale).where(Notification.ticket_id == ticket.id)).all(), key=str)

    repairs = make_ticket(world)
    assert notices(repairs) == sorted([
        (Channel.EMAIL, dispatcher.id, None, DeliveryStatus.PENDING, "en"),
        (Channel.IN_APP, dispatcher.id, None, DeliveryStatus.SENT, "en"),
        (Channel.WEBHOOK, None, hook.id, DeliveryStatus.PENDING, "zh_CN"),
    ], key=str)
    # The dormitory centre has no dispatcher: its head hears of it (in-app by default).
    dorm = make_ticket(world, category="keys")
    assert notices(dorm) == [(Channel.IN_APP, world.users["dorm_head"].id, None, DeliveryStatus.SENT, "zh_CN")]


def test_the_filing_answer_is_what_the_ticket_schema_dumps(app, client, world):
    from tracker.api.auth import authenticate
    from tracker.api.schemas import TicketSchema
    from tracker.api.tickets import dumped, ticket_data

    secret = make_token(world, "requester")
    headers = bearer(secret, **{"Accept-Language": "en"})
    answer = client.post(f"{API}/tickets", json=_body(world), headers=headers).get_json()
    ticket = _db.session.execute(select(Ticket).where(Ticket.reference == answer["reference"])).scalar_one()
    with app.test_request_context(f"{API}/tickets", method="POST", headers=headers):
        authenticate()
        data = ticket_data(ticket, sla.summary_of(ticket.slas, T0), "en")
        # The answer skips the schema's dump (docs/api.md, "Intake speed"): the same JSON.
        expected = dumped(data)
        assert expected == TicketSchema().dump(data)
    for part in (answer, expected):
        part["sla"].pop("remaining_minutes")
    assert answer == expected


def test_the_filed_objects_in_the_session_hold_what_was_written(db, world):
    from tracker.services.requests import tickets as ticket_service

    category = world.categories["water"]
    request = ticket_service.NewTicket(centre_id=category.centre_id, category_id=category.id,
                                       location_id=world.locations["room"].id, description="The tap is leaking.")
    _db.session().expire_on_commit = False  # as the API's session: what was written stays in hand
    try:
        ticket = ticket_service.file_ticket(request, requester=world.users["requester"], now=T0)
        assert not _db.session.new and not _db.session.dirty
        written = [(ticket, Ticket), *((event, TicketEvent) for event in ticket.events),
                   *((row, TicketSla) for row in ticket.slas)]
        in_hand = [(model, {c.key: getattr(row, c.key) for c in model.__table__.columns}) for row, model in written]
        assert [model for model, _ in in_hand].count(TicketSla) >= 2
        for model, values in in_hand:
            table = model.__table__
            stored = _db.session.connection().execute(select(table).where(table.c.id == values["id"])).mappings()
            assert values == dict(stored.one()), model
        for table in (TicketEvent.__table__, TicketSla.__table__):  # nothing written that is not in hand
            count = select(func.count()).select_from(table).where(table.c.ticket_id == ticket.id)
            assert _db.session.connection().execute(count).scalar_one() == [m.__table__ for m, _ in in_hand].count(table)
        # A later change in the same session writes over the filed row as usual (its version is checked).
        ticket_service.transition(ticket.id, Action.CANCEL, actor=world.users["requester"], now=T0,
                                  reason="Fixed it myself.")
        assert _stored(ticket.id)[1][TICKET_COLUMNS.index("is_open")] is False
    finally:
        _db.session().expire_on_commit = True


def test_filing_in_one_statement_writes_what_the_separate_statements_write(db, world, monkeypatch):
    """PostgreSQL files in one statement (docs/api.md, "Filing CPU, third pass"); SQLite and a filing
    with a photo or an automatic dispatch write the rows one table at a time. Same rows, either way."""
    from tracker.services.requests import tickets as ticket_service

    dispatcher = world.users["dispatcher"]
    outbox.set_preferences(dispatcher, {("ticket_filed", Channel.EMAIL): True})
    _db.session.commit()
    webhooks.create_webhook(name="Repairs group", url="https://example.org/hook", format="generic",
                            centre_id=world.centres["repairs"].id, kinds=["ticket_filed"], actor=None, now=T0)
    category = world.categories["water"]
    request = ticket_service.NewTicket(centre_id=category.centre_id, category_id=category.id,
                                       location_id=world.locations["room"].id, description="The tap is leaking.")

    def written(ticket_id: int) -> dict:
        def rows(model, *skip):
            table = model.__table__
            found = _db.session.connection().execute(
                select(table).where(table.c.ticket_id == ticket_id).order_by(table.c.id)).mappings()
            return sorted(str({k: v for k, v in r.items() if k not in ("id", "ticket_id", *skip)}) for r in found)
        ticket = _db.session.connection().execute(
            select(Ticket.__table__).where(Ticket.__table__.c.id == ticket_id)).mappings().one()
        keys = _db.session.execute(select(Notification.idempotency_key).where(
            Notification.ticket_id == ticket_id)).scalars().all()
        assert keys and all(k.startswith(f"ticket:{ticket_id}:filed:") for k in keys)
        return {
            "ticket": {k: v for k, v in ticket.items() if k not in ("id", "reference")},
            "events": rows(TicketEvent),
            "targets": rows(TicketSla),
            "notices": rows(Notification, "idempotency_key", "payload", "subject", "link"),
        }

    def marks() -> dict:
        return dict(_db.session.execute(select(StatsDirty.centre_id, StatsDirty.version)).all())

    folded = ticket_service.file_ticket(request, requester=world.users["requester"], now=T0)
    after_folded = marks()
    monkeypatch.setattr(ticket_service, "_folds_writes", lambda: False)
    separate = ticket_service.file_ticket(request, requester=world.users["requester"], now=T0)
    assert written(folded.id) == written(separate.id)
    # The reference taken in the catalogue's statement (PostgreSQL) and by the counter's own: one after the other.
    prefix, year, number = folded.reference.rsplit("-", 2)
    assert separate.reference == f"{prefix}-{year}-{int(number) + 1:06d}"
    assert len(written(folded.id)["notices"]) == 3  # the dispatcher in-app and by e-mail, the webhook
    # Each filing marked its day once (the second raised the mark's version).
    assert {c: v + 1 for c, v in after_folded.items()} == marks()


def test_a_refused_filing_takes_no_reference_number(db, world):
    """The number is taken with the catalogue (on PostgreSQL in the same statement): a filing refused
    after it, for a category of another centre or a place that is gone, gives it back."""
    from tracker.services.requests import tickets as ticket_service

    category, requester = world.categories["water"], world.users["requester"]
    first = ticket_service.file_ticket(ticket_service.NewTicket(
        centre_id=category.centre_id, category_id=category.id, description="The tap is leaking."),
        requester=requester, now=T0)
    for refused in (
        ticket_service.NewTicket(centre_id=category.centre_id, category_id=world.categories["keys"].id,
                                 description="Lost my key."),
        ticket_service.NewTicket(centre_id=category.centre_id, category_id=category.id, location_id=999_999,
                                 description="The tap is leaking."),
    ):
        with pytest.raises(ValidationFailed):
            ticket_service.file_ticket(refused, requester=requester, now=T0)
    second = ticket_service.file_ticket(ticket_service.NewTicket(
        centre_id=category.centre_id, category_id=category.id, description="The tap is leaking again."),
        requester=requester, now=T0)
    prefix, year, number = first.reference.rsplit("-", 2)
    assert second.reference == f"{prefix}-{year}-{int(number) + 1:06d}"
    assert _db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 2
