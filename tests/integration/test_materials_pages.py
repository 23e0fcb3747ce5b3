"""The materials pages and paid-repair forms: permissions, messages, and what they change."""

from sqlalchemy import func, select

from tests.conftest import post_form
from tracker.domain.workflow import Status
from tracker.extensions import db as _db
from tracker.models import Charge, Material, Quote, StockMovement, Ticket


def _catalogue(client, login_as, world, **overrides):
    login_as("centre_head")
    data = {
        "code": "tap-1",
        "name_zh": "水龙头",
        "name_en": "Mixer tap",
        "unit": "pcs",
        "unit_cost": "¥85.50",
        "low_stock_threshold": "2",
        "is_active": "y",
        **overrides,
    }
    return post_form(client, "/materials/repairs", data)


def test_a_head_adds_a_material_and_records_a_stock_in(client, login_as, world):
    response = _catalogue(client, login_as, world)
    assert response.status_code == 302
    material = _db.session.execute(select(Material)).scalar_one()
    assert material.unit_cost_fen == 8550
    response = post_form(
        client,
        f"/materials/item/{material.id}/stock-in",
        {"quantity": "5", "note": "PO 778"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Stock-in recorded: 5 pcs in stock now." in page
    assert "PO 778" in page


def test_a_stock_in_with_a_negative_quantity_says_why_in_chinese(client, login_as, world):
    _catalogue(client, login_as, world)
    material = _db.session.execute(select(Material)).scalar_one()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = post_form(
        client, f"/materials/item/{material.id}/stock-in", {"quantity": "-3"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "数量不能为负数" in page
    assert _db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one() == 0


def test_a_technician_reads_the_catalogue_but_cannot_change_it(client, login_as, world):
    _catalogue(client, login_as, world)
    post_form(client, "/logout")
    login_as("technician")
    assert client.get("/materials/repairs").status_code == 200
    assert _catalogue_as(client, "technician").status_code == 403


def _catalogue_as(client, _who):
    return post_form(
        client, "/materials/repairs", {"code": "x", "name_en": "X", "unit": "pcs", "unit_cost": "1"}
    )


def test_a_requester_cannot_open_the_catalogue(client, login_as, world):
    login_as("requester")
    assert client.get("/materials/repairs").status_code == 403


def test_the_resolution_form_takes_materials_and_the_request_page_shows_their_cost(
    client, login_as, world, make_ticket
):
    _catalogue(client, login_as, world)
    material = _db.session.execute(select(Material)).scalar_one()
    post_form(client, f"/materials/item/{material.id}/stock-in", {"quantity": "5"})
    post_form(client, "/logout")
    ticket = make_ticket(status=Status.IN_PROGRESS)
    login_as("technician")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert 'name="material-1"' in page and "Mixer tap" in page
    response = post_form(
        client,
        f"/tickets/{ticket.reference}/resolve",
        {
            "version": ticket.version,
            "resolution_note": "Replaced the tap.",
            "materials_used": "tape",
            "lines": "3",
            "material-1": str(material.id),
            "quantity-1": "2",
            "material-2": "",
            "quantity-2": "",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Resolved" in page and "¥171.00" in page
    _db.session.expire_all()
    assert _db.session.get(Material, material.id).stock == 3


def test_an_unknown_material_on_the_form_is_refused_and_nothing_changes(client, login_as, world, make_ticket):
    ticket = make_ticket(status=Status.IN_PROGRESS)
    login_as("technician")
    page = post_form(
        client,
        f"/tickets/{ticket.reference}/resolve",
        {
            "version": ticket.version,
            "resolution_note": "Replaced the tap.",
            "lines": "1",
            "material-1": "4242",
            "quantity-1": "1",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "There is no such material in this centre" in page
    _db.session.expire_all()
    assert _db.session.get(Ticket, ticket.id).status is Status.IN_PROGRESS


def test_quote_consent_and_charge_through_the_pages(client, login_as, world, make_ticket):
    world.categories["water"].is_chargeable = True
    _db.session.commit()
    ticket = make_ticket(status=Status.IN_PROGRESS)
    login_as("technician")
    page = post_form(
        client,
        f"/materials/quote/{ticket.reference}",
        {"labour": "1.234,50", "materials": "", "version": ticket.version},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "ambiguous" in page
    assert _db.session.execute(select(func.count()).select_from(Quote)).scalar_one() == 0
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket.id)
    post_form(
        client,
        f"/materials/quote/{ticket.reference}",
        {"labour": "¥100", "materials": "23.50", "note": "New valve", "version": ticket.version},
    )
    quote = _db.session.execute(select(Quote)).scalar_one()
    post_form(client, "/logout")
    login_as("requester")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "Accept the quote of ¥123.50" in page
    post_form(client, f"/materials/quotes/{quote.id}/accept")
    post_form(client, "/logout")
    login_as("technician")
    _db.session.expire_all()
    ticket = _db.session.get(Ticket, ticket.id)
    assert ticket.status is Status.IN_PROGRESS
    post_form(
        client,
        f"/tickets/{ticket.reference}/resolve",
        {"version": ticket.version, "resolution_note": "Valve replaced.", "final_charge": ""},
    )
    charge = _db.session.execute(select(Charge)).scalar_one()
    assert charge.amount_fen == 12350
    post_form(client, "/logout")
    login_as("leadership")
    csv_text = client.get("/materials/charges.csv?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert ticket.reference in csv_text and "123.50" in csv_text
    assert client.get("/materials/charges.xlsx?from=2026-01-01&to=2026-12-31").status_code == 200


def test_the_requester_cannot_export_charges(client, login_as, world):
    login_as("requester")
    assert client.get("/materials/charges.csv").status_code == 403


def _used_and_charged(client, login_as, world, make_ticket):
    """A chargeable request in the week of 2026-03-02 that used two taps and was charged ¥123.50."""
    from datetime import timedelta

    from tests.factories import T0
    from tracker.services.materials import catalogue, quotes, stock

    world.categories["water"].is_chargeable = True
    _db.session.commit()
    material = catalogue.create_material(
        world.centres["repairs"].id,
        catalogue.MaterialInput(
            code="tap-1",
            name_en="Mixer tap",
            name_zh="水龙头",
            unit="pcs",
            unit_cost="85.50",
            low_stock_threshold="1",
        ),
        actor=world.users["centre_head"],
        now=T0,
    )
    catalogue.stock_in(material.id, "5", actor=world.users["centre_head"], now=T0)
    ticket = make_ticket(status=Status.IN_PROGRESS)
    quote = quotes.send_quote(
        ticket.id,
        labour="100",
        materials="23.50",
        actor=world.users["technician"],
        now=T0 + timedelta(hours=1),
    )
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=T0 + timedelta(hours=2))
    stock.resolve(
        ticket.id,
        actor=world.users["technician"],
        now=T0 + timedelta(hours=3),
        resolution_note="Done.",
        lines=[stock.UsedLine(material.id, "2")],
    )
    return ticket


def test_the_dashboards_show_materials_cost_and_charges_of_the_period(client, login_as, world, make_ticket):
    _used_and_charged(client, login_as, world, make_ticket)
    login_as("leadership")
    page = client.get("/dashboard/details?from=2026-03-02&to=2026-03-08").get_data(as_text=True)
    assert 'id="materials-figures"' in page
    assert "¥171.00" in page and "¥123.50" in page and "Mixer tap ×2" in page
    empty = client.get("/dashboard/details?from=2026-02-02&to=2026-02-08").get_data(as_text=True)
    assert "No materials used and nothing charged in this period." in empty
    post_form(client, "/logout")
    login_as("centre_head")
    page = client.get(f"/dashboard/centre?centre={world.centres['repairs'].id}&from=2026-03-02&to=2026-03-08")
    assert "¥171.00" in page.get_data(as_text=True)


def test_the_weekly_report_carries_the_weeks_materials_and_charges(client, login_as, world, make_ticket):
    from datetime import date, timedelta

    from tests.factories import T0
    from tracker.services.insight import weekly

    _used_and_charged(client, login_as, world, make_ticket)
    report = weekly.generate(date(2026, 3, 2), actor=None, now=T0 + timedelta(days=8))
    [row] = weekly.read(report.content).materials
    assert (row["jobs"], row["cost_fen"], row["charges"], row["charged_fen"]) == (1, 17100, 1, 12350)
    login_as("leadership")
    page = client.get("/weekly/2026-03-02").get_data(as_text=True)
    assert 'id="materials-summary"' in page and "¥171.00" in page


def test_an_administrator_marks_a_category_chargeable(client, login_as, world):
    login_as("admin")
    category = world.categories["keys"]
    page = client.get(f"/admin/categories/{category.id}").get_data(as_text=True)
    assert 'name="is_chargeable"' in page
    form = {
        "code": "keys",
        "name_en": "Keys and locks",
        "name_zh": "钥匙门锁",
        "default_priority": "normal",
        "sort_order": "0",
        "is_active": "y",
        "is_chargeable": "y",
        "version": "1",
        "sla_policy_id": str(world.policies["standard"].id),
    }
    post_form(client, f"/admin/categories/{category.id}", form)
    _db.session.expire_all()
    from tracker.models import Category

    assert _db.session.get(Category, category.id).is_chargeable is True
