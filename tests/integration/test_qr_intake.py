"""QR intake: a place's code, decoded from its PNG, leads through login to the filled-in form."""

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from tests.conftest import post_form
from tracker.models import Location, Ticket

SELECTED = r'<option selected value="{value}">|<option value="{value}" selected>'


def _machine(world, db, *, centre="repairs", category="water", code="main-b3-vm1"):
    machine = Location(
        kind="machine", code=code, name_en="Vending machine 1", name_zh="自动售货机 1号",
        parent_id=world.locations["building"].id,
        centre_id=world.centres[centre].id if centre else None,
        category_id=world.categories[category].id if category else None,
    )
    db.session.add(machine)
    db.session.commit()
    return machine


def _decode(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, f"{len(found)} codes found in the PNG"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def _selected(page: str, select_name: str) -> str | None:
    block = re.search(rf'<select[^>]*name="{select_name}".*?</select>', page, re.S)
    assert block, f"no select {select_name}"
    chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', block.group())
    return (chosen.group(1) or chosen.group(2)) if chosen else None


def _login(client, world, who, next_url):
    return post_form(client, "/login", {"username": world.users[who].username, "password": world.password,
                                        "next": next_url})


def test_a_machine_code_decoded_from_its_png_leads_through_login_to_the_filled_form(app, client, db, world,
                                                                                  login_as):
    machine = _machine(world, db)
    login_as("dispatcher")
    response = client.get(f"/qr/places/{machine.id}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    url = _decode(response.data)

    parts = urlsplit(url)
    assert url.startswith(app.config["TRACKER_BASE_URL"].rstrip("/") + "/")
    assert parts.path == "/tickets/new/repairs"
    assert parse_qs(parts.query) == {
        "category": [str(world.categories["water"].id)], "location": [str(machine.id)], "source": ["qr"],
    }

    # A requester scans it on a phone that is not logged in.
    post_form(client, "/logout")
    local = f"{parts.path}?{parts.query}"
    first = client.get(local)
    assert first.status_code == 302
    login_page = urlsplit(first.headers["Location"])
    assert login_page.path == "/login"
    next_url = parse_qs(login_page.query)["next"][0]
    assert next_url == local, "the login must bring the requester back with the query string"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert f'name="next" value="{next_url.replace("&", "&amp;")}"' in page

    landed = _login(client, world, "requester", next_url)
    assert landed.status_code == 302 and landed.headers["Location"] == local
    form = client.get(landed.headers["Location"]).get_data(as_text=True)
    assert _selected(form, "category_id") == str(world.categories["water"].id)
    assert _selected(form, "location_id") == str(machine.id)

    filed = post_form(client, local, {"category_id": world.categories["water"].id, "location_id": machine.id,
                                      "description": "Paid by card but no drink came out."})
    assert filed.status_code == 302
    ticket = db.session.query(Ticket).order_by(Ticket.id.desc()).first()
    assert (ticket.location_id, ticket.category_id, str(ticket.source)) == (
        machine.id, world.categories["water"].id, "qr")


def test_a_room_without_a_centre_leads_to_the_centre_chooser_carrying_the_place(client, db, world, login_as):
    room = world.locations["room"]
    login_as("admin")
    url = _decode(client.get(f"/qr/places/{room.id}.png").data)
    parts = urlsplit(url)
    assert parts.path == "/tickets/new"
    assert parse_qs(parts.query) == {"location": [str(room.id)], "source": ["qr"]}
    post_form(client, "/logout")
    login_as("requester")
    chooser = client.get(f"{parts.path}?{parts.query}").get_data(as_text=True)
    assert f'href="/tickets/new/dorm?location={room.id}&amp;source=qr"' in chooser
    form = client.get(f"/tickets/new/dorm?location={room.id}&source=qr").get_data(as_text=True)
    assert _selected(form, "location_id") == str(room.id)
    assert _selected(form, "category_id") in (None, "None", "")


def test_a_room_inherits_the_centre_of_its_building(client, db, world, login_as):
    building = world.locations["building"]
    building.centre_id = world.centres["dorm"].id
    db.session.commit()
    login_as("centre_head")
    url = _decode(client.get(f"/qr/places/{world.locations['room'].id}.png").data)
    assert urlsplit(url).path == "/tickets/new/dorm"
    assert "category" not in parse_qs(urlsplit(url).query)


def test_a_category_of_another_centre_or_an_unknown_place_is_not_filled_in(client, db, world, login_as):
    login_as("requester")
    page = client.get(f"/tickets/new/repairs?category={world.categories['keys'].id}&location=999999")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert _selected(text, "category_id") in (None, "None", "")
    assert _selected(text, "location_id") in (None, "None", "")


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "/\t/evil.example", "/\\evil.example", "javascript:alert(1)",
    "/%0a/evil.example".replace("%0a", "\n"),
])
def test_login_refuses_to_send_anyone_off_the_site(client, world, target):
    landed = _login(client, world, "requester", target)
    assert landed.status_code == 302
    location = landed.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost") and "evil" not in location


def test_the_sheet_of_a_building_shows_every_place_in_both_languages(client, db, world, login_as):
    machine = _machine(world, db)
    login_as("dispatcher")
    index = client.get("/qr/").get_data(as_text=True)
    sheet_link = f'/qr/sheets/{world.locations["building"].id}'
    assert sheet_link in index
    page = client.get(sheet_link).get_data(as_text=True)
    for place in (world.locations["building"], world.locations["room"], machine):
        assert f'id="qr-{place.id}"' in page
        assert place.name_zh in page and place.name_en in page
    assert page.count("<svg") == 3
    assert "维修服务中心 · 水暖" in page and "Repair and maintenance · Water and plumbing" in page
    assert 'href="/static/qr.css' in page
    # A room is printed on its building's sheet, not on a sheet of its own.
    assert client.get(f'/qr/sheets/{world.locations["room"].id}').status_code == 404
