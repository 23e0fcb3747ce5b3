"""Filing is the hot path: the statements of one filing are counted, so a regression fails here.

Counted, not timed (docs/api.md, "Intake speed"). The counts are the same on
SQLite and PostgreSQL once SQLite's own BEGIN IMMEDIATE and its one-row-per-
statement executemany are folded (see ``_sent``).
"""

from sqlalchemy import event, func, select

from tests.conftest import csrf_token
from tests.integration.api_helpers import bearer, make_token
from tracker.extensions import db as _db
from tracker.models import Location, Notification, Ticket, TicketEvent, TicketSla

API = "/api/v1"


def _sent(statements: list[str]) -> list[str]:
    """Return the statements as PostgreSQL receives them (SQLite's BEGIN and repeated inserts folded)."""
    return [
        s for i, s in enumerate(statements) if s != "BEGIN IMMEDIATE" and (i == 0 or s != statements[i - 1])
    ]


def _counted(send) -> tuple[object, list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        answer = send()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return answer, _sent(statements)


def _filing(separate: int) -> int:
    """Return a filing's statements: ``separate`` where the writes go one table at a time (SQLite), six
    fewer on PostgreSQL, where the ticket, event, targets, notices and summary mark are one statement
    and the catalogue's statement also takes the reference and reads the people to tell."""
    return separate - 6 if _db.engine.dialect.name == "postgresql" else separate


def _many_places(world, n: int) -> None:
    """Add ``n`` rooms under the world's building: a catalogue the size of a real campus."""
    building = world.locations["building"]
    _db.session.add_all(
        Location(
            code=f"B1-R{i:05d}", name_zh=f"{i}室", name_en=f"Room {i}", kind="room", parent_id=building.id
        )
        for i in range(n)
    )
    _db.session.commit()


def _filed_in_full(reference: str) -> None:
    ticket = _db.session.execute(select(Ticket).where(Ticket.reference == reference)).scalar_one()
    events = select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    targets = select(func.count()).select_from(TicketSla).where(TicketSla.ticket_id == ticket.id)
    notices = select(func.count()).select_from(Notification).where(Notification.ticket_id == ticket.id)
    assert _db.session.execute(events).scalar_one() == 1
    assert _db.session.execute(targets).scalar_one() >= 1
    assert _db.session.execute(notices).scalar_one() >= 1


def _form(client, world) -> dict:
    return {
        "csrf_token": csrf_token(client),
        "category_id": world.categories["water"].id,
        "location_id": world.locations["room"].id,
        "description": "Water is leaking under the sink in room 301.",
        "priority": "",
    }


def test_filing_through_the_web_form_takes_as_few_statements_as_the_api(client, world, login_as):
    _many_places(world, 300)
    login_as("requester")
    form = _form(client, world)
    client.post("/tickets/new/repairs", data=form)  # the session's first use
    answer, sent = _counted(lambda: client.post("/tickets/new/repairs", data=form))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    # No list of places or categories is read to check the choice: the catalogue's size costs nothing.
    assert not any("FROM locations" in s or "FROM categories" in s for s in sent), "\n---\n".join(sent)
    _filed_in_full(answer.headers["Location"].rsplit("/", 1)[-1])
    # User and roles, catalogue, reference, summary mark, ticket, event,
    # targets, dispatchers, webhooks, notices: 15 before (issue 20), then 10. The
    # dispatchers and webhooks are one statement; on PostgreSQL the ticket, event,
    # targets, notices and mark are one more (docs/api.md, "Filing CPU, third pass").
    assert len(sent) <= _filing(9), "\n---\n".join(sent)


def test_a_web_form_with_its_one_time_key_adds_two_statements(client, world, login_as):
    login_as("requester")
    form = _form(client, world)
    client.post("/tickets/new/repairs", data={**form, "once": "warm"})
    answer, sent = _counted(lambda: client.post("/tickets/new/repairs", data={**form, "once": "counted"}))
    assert answer.status_code == 302
    _filed_in_full(answer.headers["Location"].rsplit("/", 1)[-1])
    # The expired keys' purge, the claim (one insert), and the key's object at the commit.
    assert len(sent) <= _filing(9) + 3, "\n---\n".join(sent)
    # Sent again: lands on the same request, files nothing.
    again = client.post("/tickets/new/repairs", data={**form, "once": "counted"})
    assert again.headers["Location"] == answer.headers["Location"]
    assert _db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 2


def test_filing_through_the_api_with_an_idempotency_key_takes_few_statements(client, world):
    secret = make_token(world, "requester")
    body = {
        "centre_id": world.centres["repairs"].id,
        "category_id": world.categories["water"].id,
        "location_id": world.locations["room"].id,
        "description": "Water is leaking under the sink.",
    }
    client.post(f"{API}/tickets", json=body, headers=bearer(secret))
    answer, sent = _counted(
        lambda: client.post(f"{API}/tickets", json=body, headers=bearer(secret, **{"Idempotency-Key": "k-1"}))
    )
    assert answer.status_code == 201, answer.get_json()
    _filed_in_full(answer.get_json()["reference"])
    # test_intake's nine (five on PostgreSQL), plus the purge, the claim and the key's object.
    assert len(sent) <= _filing(9) + 3, "\n---\n".join(sent)


# ---------------------------------------------------------------- the place picker


def _options(page: str, name: str) -> list[str]:
    import re

    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S).group(0)
    return re.findall(r'<option[^>]*value="(\d+)"', select)


def test_the_form_lists_buildings_and_only_the_chosen_buildings_places(client, world, login_as):
    _many_places(world, 300)
    login_as("requester")
    page = client.get("/tickets/new/repairs").get_data(as_text=True)
    building, campus, room = (world.locations[k].id for k in ("building", "campus", "room"))
    assert sorted(_options(page, "area_id")) == sorted([str(building), str(campus)])
    assert _options(page, "location_id") == []  # nothing before a building is chosen
    assert "Main campus › Building 3" in page and "Show its places" in page
    # A QR code's place: its building is chosen and the place with it.
    page = client.get(f"/tickets/new/repairs?location={room}").get_data(as_text=True)
    assert f'<option selected value="{room}">' in page or f'value="{room}" selected' in page
    assert len(_options(page, "location_id")) == 302  # the building itself, its room 301 and the 300 rooms


def test_without_script_show_its_places_sends_the_form_back_with_them_and_files_nothing(
    client, world, login_as
):
    login_as("requester")
    form = {**_form(client, world), "location_id": "", "area_id": world.locations["building"].id, "pick": "1"}
    answer = client.post("/tickets/new/repairs", data=form)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "nothing was saved" not in page
    assert str(world.locations["room"].id) in _options(page, "location_id")
    assert "Water is leaking under the sink" in page  # what was typed comes back
    assert _db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0


def test_the_places_of_a_building_come_as_json_in_the_readers_language(client, world, login_as):
    login_as("requester")
    building = world.locations["building"]
    floor = Location(code="main-b3-f4", name_zh="4层", name_en="Floor 4", kind="floor", parent_id=building.id)
    _db.session.add(floor)
    _db.session.flush()
    _db.session.add(
        Location(code="main-b3-401", name_zh="401室", name_en="Room 401", kind="room", parent_id=floor.id)
    )
    _db.session.add(
        Location(
            code="main-b3-402",
            name_zh="402室",
            name_en="Room 402",
            kind="room",
            parent_id=floor.id,
            is_active=False,
        )
    )
    _db.session.commit()
    places = client.get(f"/tickets/places?area={building.id}", headers={"Accept-Language": "en"}).get_json()
    assert [p["label"] for p in places["places"]] == [
        "Building 3 (whole building)",
        "Floor 4",
        "Floor 4 › Room 401",
        "Room 301",
    ]
    # A room is no area; an unknown one has no places.
    assert client.get(f"/tickets/places?area={world.locations['room'].id}").get_json() == {"places": []}
    assert client.get("/tickets/places?area=999999").get_json() == {"places": []}


def test_a_place_that_is_not_in_the_catalogue_is_refused_and_nothing_is_filed(client, world, login_as):
    login_as("requester")
    answer = client.post("/tickets/new/repairs", data={**_form(client, world), "location_id": "999999"})
    assert answer.status_code == 200
    assert "Choose a place from the list." in answer.get_data(as_text=True)
    assert _db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0
