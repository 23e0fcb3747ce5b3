"""Materials (耗材) and paid repairs (有偿维修): catalogue, stock, quotes, consent, charges.

Real database (SQLite, or PostgreSQL with TEST_DATABASE_URL). The race
test runs two processes, each with its own app and connection.
"""

import copy
import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import T0
from tracker.domain.workflow import Action, HoldReason, Status
from tracker.errors import ActionForbidden, Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    Charge,
    EventKind,
    Material,
    MovementKind,
    Notification,
    Quote,
    QuoteStatus,
    StockMovement,
    Ticket,
    TicketEvent,
)
from tracker.services.materials import catalogue, quotes, stock
from tracker.services.materials.stock import UsedLine
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config

LATER = T0 + timedelta(hours=2)


def _material(world, *, code="pipe-20", stock_in=10, threshold=3, cost="12.50", centre="repairs"):
    material = catalogue.create_material(
        world.centres[centre].id,
        catalogue.MaterialInput(
            code=code,
            name_en="PPR pipe 20 mm",
            name_zh="PPR水管20毫米",
            unit="m",
            unit_cost=cost,
            low_stock_threshold=str(threshold),
        ),
        actor=world.users["centre_head"],
        now=T0,
    )
    if stock_in:
        catalogue.stock_in(
            material.id, str(stock_in), actor=world.users["centre_head"], now=T0, note="first delivery"
        )
    return material


def _stock(material_id) -> int:
    _db.session.expire_all()
    return _db.session.get(Material, material_id).stock


def _counts():
    return (
        _db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one(),
        _db.session.execute(select(func.count()).select_from(TicketEvent)).scalar_one(),
        _db.session.execute(select(func.count()).select_from(Quote)).scalar_one(),
    )


# ---------------------------------------------------------------- catalogue


def test_a_head_keeps_the_catalogue_and_stock_in_goes_to_the_ledger(world):
    material = _material(world)
    assert _stock(material.id) == 10
    [line] = catalogue.ledger(material.id)
    assert (line.kind, line.quantity, line.stock_after, line.note) == (
        MovementKind.STOCK_IN,
        10,
        10,
        "first delivery",
    )
    assert material.unit_cost_fen == 1250


@pytest.mark.parametrize("who", ["technician", "dorm_head", "requester", "dispatcher"])
def test_only_the_centres_heads_and_admins_keep_its_catalogue(world, who):
    with pytest.raises(PermissionDenied):
        catalogue.create_material(
            world.centres["repairs"].id,
            catalogue.MaterialInput(
                code="x", name_en="X", name_zh="", unit="pcs", unit_cost="1", low_stock_threshold="0"
            ),
            actor=world.users[who],
            now=T0,
        )
    material = _material(world)
    with pytest.raises(PermissionDenied):
        catalogue.stock_in(material.id, "5", actor=world.users[who], now=T0)
    assert _stock(material.id) == 10


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("-5", "A quantity cannot be negative."),
        ("0", "A quantity must be at least 1."),
        ("2.5", "“%(text)s” is not a whole number."),
        ("", "Give a quantity."),
    ],
)
def test_a_bad_stock_in_is_refused_and_changes_nothing(world, quantity, message):
    material = _material(world)
    before = _counts()
    with pytest.raises(ValidationFailed) as refused:
        catalogue.stock_in(material.id, quantity, actor=world.users["centre_head"], now=T0)
    assert refused.value.message == message
    assert _stock(material.id) == 10 and _counts() == before


def test_a_unit_cost_in_another_locales_format_is_refused(world):
    with pytest.raises(ValidationFailed) as refused:
        catalogue.create_material(
            world.centres["repairs"].id,
            catalogue.MaterialInput(
                code="tap",
                name_en="Tap",
                name_zh="水龙头",
                unit="pcs",
                unit_cost="1.234,50",
                low_stock_threshold="1",
            ),
            actor=world.users["centre_head"],
            now=T0,
        )
    assert "ambiguous" in refused.value.message
    assert _db.session.execute(select(func.count()).select_from(Material)).scalar_one() == 0


# ---------------------------------------------------------------- resolving with materials


def test_resolving_takes_the_materials_from_stock_and_records_them(world, make_ticket):
    material = _material(world, threshold=3)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    stock.resolve(
        ticket.id,
        actor=world.users["technician"],
        now=LATER,
        resolution_note="Replaced the pipe.",
        materials_used="two clamps from the van",
        lines=[UsedLine(material.id, "4"), UsedLine("", "")],
    )
    assert _stock(material.id) == 6
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket.id)
    assert ticket.status is Status.RESOLVED and ticket.materials_used == "two clamps from the van"
    used = _db.session.execute(
        select(TicketEvent).where(TicketEvent.kind == EventKind.MATERIALS_USED)
    ).scalar_one()
    assert used.data["total_fen"] == 5000 and used.data["lines"][0]["quantity"] == 4
    movement = _db.session.execute(
        select(StockMovement).where(StockMovement.ticket_id == ticket.id)
    ).scalar_one()
    assert (movement.quantity, movement.stock_after, movement.cost_fen) == (-4, 6, 5000)


def test_falling_to_the_threshold_tells_the_centre_heads_once(world, make_ticket):
    material = _material(world, stock_in=5, threshold=3)
    first, second = make_ticket(status=Status.IN_PROGRESS), make_ticket(status=Status.IN_PROGRESS)
    stock.resolve(
        first.id,
        actor=world.users["technician"],
        now=LATER,
        resolution_note="Fixed.",
        lines=[UsedLine(material.id, "2")],
    )
    stock.resolve(
        second.id,
        actor=world.users["technician"],
        now=LATER,
        resolution_note="Fixed.",
        lines=[UsedLine(material.id, "1")],
    )
    notices = (
        _db.session.execute(select(Notification).where(Notification.kind == "material_low_stock"))
        .scalars()
        .all()
    )
    assert {n.user_id for n in notices if n.user_id} == {world.users["centre_head"].id}
    assert len([n for n in notices if n.channel.value == "in_app"]) == 1  # one crossing, one notice
    assert notices[0].payload["stock"] == 3


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([UsedLine("1", "-2")], "Line %(line)d: %(problem)s"),
        ([UsedLine("999", "1")], "There is no such material in this centre's catalogue."),
        ([UsedLine("tap", "1")], "Line %(line)d: there is no such material in this centre's catalogue."),
        ([UsedLine("", "3")], "Line %(line)d: choose a material from the catalogue."),
    ],
)
def test_bad_material_lines_are_refused_and_change_nothing(world, make_ticket, lines, message):
    material = _material(world)
    lines = [
        UsedLine(str(material.id) if line.material_id == "1" else line.material_id, line.quantity)
        for line in lines
    ]
    ticket = make_ticket(status=Status.IN_PROGRESS)
    before = _counts()
    with pytest.raises(ValidationFailed) as refused:
        stock.resolve(
            ticket.id, actor=world.users["technician"], now=LATER, resolution_note="Fixed.", lines=lines
        )
    assert refused.value.message == message
    _db.session.expire_all()
    assert _db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS
    assert _stock(material.id) == 10 and _counts() == before


def test_a_material_of_another_centre_is_refused(world, make_ticket):
    theirs = _material(world, code="key-blank", centre="repairs")
    ticket = make_ticket(status=Status.IN_PROGRESS)
    mine_elsewhere = catalogue.create_material(
        world.centres["dorm"].id,
        catalogue.MaterialInput(
            code="lock", name_en="Lock", name_zh="门锁", unit="pcs", unit_cost="30", low_stock_threshold="0"
        ),
        actor=world.users["dorm_head"],
        now=T0,
    )
    with pytest.raises(ValidationFailed):
        stock.resolve(
            ticket.id,
            actor=world.users["technician"],
            now=LATER,
            resolution_note="Fixed.",
            lines=[UsedLine(mine_elsewhere.id, "1")],
        )
    assert _stock(theirs.id) == 10


def test_short_stock_is_refused_with_what_is_left(world, make_ticket):
    material = _material(world, stock_in=2)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    with pytest.raises(Conflict) as refused:
        stock.resolve(
            ticket.id,
            actor=world.users["technician"],
            now=LATER,
            resolution_note="Fixed.",
            lines=[UsedLine(material.id, "3")],
        )
    assert refused.value.params["stock"] == 2
    assert _stock(material.id) == 2


def _resolve_in_a_process(config, ticket_id, technician_id, material_id, start, results):
    """Run in a child process: an app of its own, then resolve when both are ready."""
    from tracker import create_app
    from tracker.extensions import db as database
    from tracker.models import User as UserModel

    app = create_app(config)
    with app.app_context():
        actor = database.session.get(UserModel, technician_id)
        database.session.commit()
        start.wait(60)
        try:
            stock.resolve(
                ticket_id,
                actor=actor,
                now=LATER,
                resolution_note="Fixed.",
                lines=[UsedLine(material_id, "3")],
            )
            results.put("resolved")
        except Conflict as refused:
            results.put(f"refused:{refused.params.get('stock')}")
        finally:
            database.session.remove()
            database.engine.dispose()


def test_two_technicians_resolving_at_once_cannot_take_the_last_items_twice(app_config, world, make_ticket):
    material = _material(world, stock_in=4, threshold=0)
    first = make_ticket(status=Status.IN_PROGRESS)
    second = make_ticket(status=Status.IN_PROGRESS, requester="other_requester")
    ticket_service.transition(
        second.id,
        Action.ASSIGN,
        actor=world.users["dispatcher"],
        now=T0 + timedelta(hours=1),
        assignee_id=world.users["other_technician"].id,
    )
    ticket_service.transition(
        second.id, Action.ACCEPT, actor=world.users["other_technician"], now=T0 + timedelta(hours=1)
    )
    jobs = [(first.id, world.users["technician"].id), (second.id, world.users["other_technician"].id)]
    material_id = material.id
    _db.session.commit()  # on SQLite an open transaction holds the write lock: none while they race
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(
            target=_resolve_in_a_process,
            args=(app_config, ticket_id, technician_id, material_id, start, results),
        )
        for ticket_id, technician_id in jobs
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert outcomes == ["refused:1", "resolved"]
    assert _stock(material_id) == 1
    taken = _db.session.execute(
        select(func.sum(StockMovement.quantity)).where(StockMovement.kind == MovementKind.USED)
    ).scalar_one()
    assert taken == -3


# ---------------------------------------------------------------- paid repairs


def _chargeable(world):
    world.categories["water"].is_chargeable = True
    _db.session.commit()


def _quote(world, ticket, labour="80", materials="¥1,234.50", who="technician", at=LATER):
    return quotes.send_quote(
        ticket.id, labour=labour, materials=materials, note="New mixer tap.", actor=world.users[who], now=at
    )


def test_a_quote_holds_the_request_for_consent_and_pauses_the_clock(world, make_ticket):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = _quote(world, ticket)
    assert (quote.labour_fen, quote.materials_fen, quote.total_fen) == (8000, 123450, 131450)
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket.id)
    assert (ticket.status, ticket.hold_reason) == (Status.ON_HOLD, HoldReason.AWAITING_CONSENT)
    clocks = sla.clocks_for(ticket, LATER + timedelta(hours=1))
    assert clocks["resolution"].state.value == "paused"
    notice = (
        _db.session.execute(select(Notification).where(Notification.kind == "quote_sent")).scalars().first()
    )
    assert notice.user_id == world.users["requester"].id
    # Work waits: the technician cannot resume, nor resolve, before the answer.
    with pytest.raises(Conflict):
        ticket_service.transition(ticket.id, Action.RESUME, actor=world.users["technician"], now=LATER)
    with pytest.raises(Conflict):
        stock.resolve(ticket.id, actor=world.users["technician"], now=LATER, resolution_note="Done.")


def test_the_consent_wait_pauses_the_clock_under_a_policy_that_predates_quotes(world, make_ticket):
    """An installation's policy version with no ``awaiting_consent`` rule still stops the clock."""
    policy = world.policies["repairs"]
    older = copy.deepcopy(policy.current_version.definition)
    older["pauses"].pop(HoldReason.AWAITING_CONSENT.value)
    version = sla_config.save_policy_version(
        policy.id, definition=older, note="as before paid repairs", actor=world.users["admin"], now=T0
    )
    assert HoldReason.AWAITING_CONSENT.value not in version.definition["pauses"]
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    assert ticket.sla_policy_version_id == version.id
    quote = _quote(world, ticket)
    answered = LATER + timedelta(hours=3)  # Monday 14:00 in Shanghai: office hours
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=answered)
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket.id)
    clock = sla.clocks_for(ticket, answered)["resolution"]
    assert clock.paused_minutes == {HoldReason.AWAITING_CONSENT.value: 180.0}
    # Two office hours ran from filing to the quote; the three of the wait did not.
    assert clock.elapsed_minutes == pytest.approx(120.0)


def test_accepting_resumes_the_work_and_the_charge_follows_the_quote(world, make_ticket):
    _chargeable(world)
    material = _material(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = _quote(world, ticket)
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=LATER + timedelta(hours=1))
    _db.session.expire_all()
    assert _db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS
    with pytest.raises(ValidationFailed):  # more than the consent covers
        stock.resolve(
            ticket.id,
            actor=world.users["technician"],
            now=LATER + timedelta(hours=2),
            resolution_note="Done.",
            final_charge="1400",
            lines=[UsedLine(material.id, "1")],
        )
    assert _stock(material.id) == 10
    stock.resolve(
        ticket.id,
        actor=world.users["technician"],
        now=LATER + timedelta(hours=2),
        resolution_note="Done.",
        final_charge="1,300.00",
        lines=[UsedLine(material.id, "1")],
    )
    charge = _db.session.execute(select(Charge)).scalar_one()
    assert (charge.amount_fen, charge.quote_id, charge.requester_id) == (
        130000,
        quote.id,
        world.users["requester"].id,
    )
    kinds = [
        e.kind
        for e in _db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).scalars()
    ]
    # quote, hold, consent, resume; then the resolution, its materials and its charge.
    assert kinds[-7:] == [
        EventKind.QUOTE_SENT,
        EventKind.STATUS_CHANGED,
        EventKind.QUOTE_ACCEPTED,
        EventKind.STATUS_CHANGED,
        EventKind.STATUS_CHANGED,
        EventKind.MATERIALS_USED,
        EventKind.CHARGE_RECORDED,
    ]


def test_nothing_is_charged_without_consent(world, make_ticket):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = _quote(world, ticket)
    quotes.answer_quote(quote.id, accept=False, actor=world.users["requester"], now=LATER)
    with pytest.raises(Conflict) as refused:
        stock.resolve(
            ticket.id, actor=world.users["technician"], now=LATER, resolution_note="Done.", final_charge="50"
        )
    assert refused.value.message == "Nothing can be charged without the requester's accepted quote."
    stock.resolve(ticket.id, actor=world.users["technician"], now=LATER, resolution_note="Free part only.")
    assert _db.session.execute(select(func.count()).select_from(Charge)).scalar_one() == 0


def test_only_the_requester_answers_a_quote(world, make_ticket):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = _quote(world, ticket)
    for who in ("technician", "centre_head", "other_requester"):
        with pytest.raises((PermissionDenied, NotFound)):
            quotes.answer_quote(quote.id, accept=True, actor=world.users[who], now=LATER)
    _db.session.expire_all()
    assert _db.session.get(Quote, quote.id).status is QuoteStatus.PENDING


def test_a_quote_accepted_after_the_request_was_cancelled_is_refused(world, make_ticket):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = _quote(world, ticket)
    ticket_service.transition(
        ticket.id,
        Action.CANCEL,
        actor=world.users["dispatcher"],
        now=LATER,
        reason="The requester moved out.",
    )
    before = _counts()
    with pytest.raises(Conflict) as refused:
        quotes.answer_quote(
            quote.id, accept=True, actor=world.users["requester"], now=LATER + timedelta(minutes=5)
        )
    assert "can no longer be accepted" in refused.value.message
    _db.session.expire_all()
    assert _db.session.get(Quote, quote.id).status is QuoteStatus.PENDING
    assert _db.session.get(Ticket, ticket.id).status is Status.CANCELLED and _counts() == before


@pytest.mark.parametrize("amount", ["1.234,50", "1234,50", "$12.00", "12.345", "-80", "EUR 10"])
def test_a_quote_in_another_locales_format_is_refused_and_changes_nothing(world, make_ticket, amount):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    before = _counts()
    with pytest.raises(ValidationFailed):
        _quote(world, ticket, labour=amount, materials="")
    _db.session.expire_all()
    assert _db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS and _counts() == before


def test_a_free_request_cannot_be_quoted(world, make_ticket):
    ticket = make_ticket(status=Status.IN_PROGRESS)
    with pytest.raises(Conflict):
        _quote(world, ticket)
    world.locations["room"].is_chargeable = True
    _db.session.commit()
    assert _quote(world, ticket).status is QuoteStatus.PENDING  # a chargeable place is enough


def test_only_the_job_or_dispatch_quotes_and_withdrawing_lets_work_go_on(world, make_ticket):
    _chargeable(world)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    with pytest.raises(ActionForbidden):
        _quote(world, ticket, who="other_technician")
    quote = _quote(world, ticket, who="dispatcher")
    quotes.withdraw_quote(quote.id, actor=world.users["technician"], now=LATER)
    _db.session.expire_all()
    assert _db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS
    with pytest.raises(Conflict):
        quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=LATER)


def test_a_manual_hold_cannot_pretend_to_wait_for_consent(world, make_ticket):
    ticket = make_ticket(status=Status.IN_PROGRESS)
    with pytest.raises(ValidationFailed):
        ticket_service.transition(
            ticket.id,
            Action.HOLD,
            actor=world.users["technician"],
            now=LATER,
            hold_reason=HoldReason.AWAITING_CONSENT,
        )
