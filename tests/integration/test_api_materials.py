"""Paid repairs and materials through the JSON API: the same services and rules as the request page."""

from datetime import timedelta

from sqlalchemy import func, select

from tests.factories import T0
from tests.integration.api_helpers import bearer, make_token
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import Charge, EventKind, Material, Quote, QuoteStatus, StockMovement, Ticket, TicketEvent
from tracker.services.materials import catalogue, quotes

API = "/api/v1"
LATER = T0 + timedelta(hours=2)


def _paid_request(world, make_ticket):
    world.categories["water"].is_chargeable = True
    db.session.commit()
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = quotes.send_quote(
        ticket.id,
        labour="80",
        materials="120",
        note="New mixer tap.",
        actor=world.users["technician"],
        now=LATER,
    )
    return ticket, quote


def _material(world, stock_in=10):
    material = catalogue.create_material(
        world.centres["repairs"].id,
        catalogue.MaterialInput(
            code="pipe-20",
            name_en="PPR pipe 20 mm",
            name_zh="PPR水管20毫米",
            unit="m",
            unit_cost="12.50",
            low_stock_threshold="3",
        ),
        actor=world.users["centre_head"],
        now=T0,
    )
    catalogue.stock_in(material.id, str(stock_in), actor=world.users["centre_head"], now=T0)
    return material


def _kinds(ticket_id):
    return (
        db.session.execute(
            select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        .scalars()
        .all()
    )


def test_the_requester_reads_the_pending_quote_and_accepts_it_once(client, world, make_ticket):
    ticket, quote = _paid_request(world, make_ticket)
    requester = make_token(world, "requester")
    listed = client.get(f"{API}/tickets/{ticket.reference}/quotes", headers=bearer(requester))
    assert listed.status_code == 200, listed.get_json()
    [item] = listed.get_json()["items"]
    assert (item["id"], item["status"], item["total_fen"], item["total"]) == (
        quote.id,
        "pending",
        20000,
        "200.00",
    )
    assert item["actions"] == ["accept", "decline"]
    # The technician sees the quote too, but may not answer it.
    technician = make_token(world, "technician")
    assert (
        client.get(f"{API}/tickets/{ticket.reference}/quotes", headers=bearer(technician)).get_json()[
            "items"
        ][0]["actions"]
        == []
    )
    accepted = client.post(f"{API}/quotes/{quote.id}/accept", headers=bearer(requester))
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "accepted" and accepted.get_json()["actions"] == []
    assert accepted.get_json()["decided_by"]["id"] == world.users["requester"].id
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS
    events = len(_kinds(ticket.id))
    again = client.post(f"{API}/quotes/{quote.id}/decline", headers=bearer(requester))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status is QuoteStatus.ACCEPTED
    assert len(_kinds(ticket.id)) == events and EventKind.QUOTE_ACCEPTED in _kinds(ticket.id)


def test_only_the_requester_answers_and_others_change_nothing(client, world, make_ticket):
    ticket, quote = _paid_request(world, make_ticket)
    refused = client.post(f"{API}/quotes/{quote.id}/accept", headers=bearer(make_token(world, "technician")))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == "Only the requester can accept or decline a quote."
    stranger = client.post(
        f"{API}/quotes/{quote.id}/accept",
        headers=bearer(make_token(world, "other_requester"), **{"Accept-Language": "zh-CN"}),
    )
    assert stranger.status_code == 404
    assert stranger.get_json()["error"]["message"] == "没有您可查看的报价。"
    assert (
        client.post(f"{API}/quotes/999999/accept", headers=bearer(make_token(world, "requester"))).status_code
        == 404
    )
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status is QuoteStatus.PENDING
    declined = client.post(f"{API}/quotes/{quote.id}/decline", headers=bearer(make_token(world, "requester")))
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"


def test_a_quote_of_a_cancelled_request_is_refused_in_both_languages(client, world, make_ticket):
    ticket, quote = _paid_request(world, make_ticket)
    requester = make_token(world, "requester")
    # Work had started: the centre cancels (the requester may not any more).
    cancelled = client.post(
        f"{API}/tickets/{ticket.reference}/actions/cancel",
        json={"note": "Moved out."},
        headers=bearer(make_token(world, "dispatcher")),
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    events = len(_kinds(ticket.id))
    refused = client.post(f"{API}/quotes/{quote.id}/accept", headers=bearer(requester))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == (
        "This request is “Cancelled”: its quote can no longer be accepted or declined."
    )
    chinese = client.post(
        f"{API}/quotes/{quote.id}/accept", headers=bearer(requester, **{"Accept-Language": "zh-CN"})
    )
    assert chinese.status_code == 409 and "已取消" in chinese.get_json()["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status is not QuoteStatus.ACCEPTED
    assert len(_kinds(ticket.id)) == events
    assert db.session.execute(select(func.count()).select_from(Charge)).scalar_one() == 0


def test_resolving_takes_catalogue_materials_and_the_consented_charge(client, world, make_ticket):
    ticket, quote = _paid_request(world, make_ticket)
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=LATER + timedelta(hours=1))
    material = _material(world)
    technician = make_token(world, "technician")
    path = f"{API}/tickets/{ticket.reference}/actions/resolve"
    events = len(_kinds(ticket.id))
    for body, status, message in [
        (
            {"materials": [{"material_id": material.id, "quantity": -2}]},
            400,
            "Line 1: A quantity cannot be negative.",
        ),
        (
            {"materials": [{"material_id": 999999, "quantity": 1}]},
            400,
            "There is no such material in this centre's catalogue.",
        ),
        ({"materials": [{"material_id": material.id, "quantity": 11}]}, None, None),
        ({"final_charge": "250"}, None, None),
        ({"final_charge": "1.234,50"}, 400, None),
    ]:
        refused = client.post(path, json={"resolution_note": "Done.", **body}, headers=bearer(technician))
        assert refused.status_code in ((status,) if status else (400, 409)), (body, refused.get_json())
        if message:
            assert refused.get_json()["error"]["message"] == message
    db.session.expire_all()
    assert db.session.get(Material, material.id).stock == 10 and len(_kinds(ticket.id)) == events
    resolved = client.post(
        path,
        json={
            "resolution_note": "New tap fitted.",
            "final_charge": "¥180",
            "materials": [
                {"material_id": material.id, "quantity": 2},
                {"material_id": material.id, "quantity": 1},
            ],
        },
        headers=bearer(technician),
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["status"] == "resolved"
    db.session.expire_all()
    assert db.session.get(Material, material.id).stock == 7
    used = db.session.execute(
        select(StockMovement.quantity).where(StockMovement.ticket_id == ticket.id)
    ).scalars()
    assert list(used) == [-3]
    charge = db.session.execute(select(Charge)).scalar_one()
    assert (charge.amount_fen, charge.quote_id) == (18000, quote.id)
    assert _kinds(ticket.id)[-2:] == [EventKind.MATERIALS_USED, EventKind.CHARGE_RECORDED]


def test_a_quantity_that_is_not_a_whole_number_is_refused_per_field(client, world, make_ticket):
    ticket = make_ticket(status=Status.IN_PROGRESS)
    material = _material(world)
    response = client.post(
        f"{API}/tickets/{ticket.reference}/actions/resolve",
        json={"resolution_note": "Done.", "materials": [{"material_id": material.id, "quantity": 1.5}]},
        headers=bearer(make_token(world, "technician")),
    )
    assert response.status_code == 400, response.get_json()
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS
    assert db.session.get(Material, material.id).stock == 10
