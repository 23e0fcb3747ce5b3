"""Exports of the ticket list: tickets and their history as CSV, xlsx, JSON and NDJSON, streamed.

Each file is read back and compared with the database: the same events,
no more (the list's filters, the reader's visibility), no fewer.
"""

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.factories import make_ticket
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import Centre, Ticket, TicketEvent


@pytest.fixture
def tickets(world):
    """Five tickets: repairs new, resolved, closed and cancelled; one in the dorms, new."""
    made = {
        "new": make_ticket(world, title="Tap drips"),
        "resolved": make_ticket(world, status=Status.RESOLVED, title="Sink blocked"),
        "closed": make_ticket(world, status=Status.CLOSED, title="Shower cold"),
        "cancelled": make_ticket(world, status=Status.CANCELLED, title="Filed twice"),
        "dorm": make_ticket(world, category="keys", title="Lost key"),
    }
    db.session.commit()
    return {name: t.reference for name, t in made.items()}


def db_events(*references) -> set[tuple]:
    rows = db.session.execute(
        select(Ticket.reference, TicketEvent.id, TicketEvent.kind, TicketEvent.to_status)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id).where(Ticket.reference.in_(references))
    ).all()
    return {(r.reference, r.id, r.kind.value, r.to_status.value if r.to_status else None) for r in rows}


def body(response) -> bytes:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data()


def test_events_csv_has_every_event_of_the_listed_tickets(client, world, login_as, tickets):
    login_as("leadership")
    response = client.get("/tickets/events.csv?state=all")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
    got = {(r["Reference"], int(r["Event"]), r["What happened"]) for r in rows}
    want = {(ref, event_id, kind) for ref, event_id, kind, _status in db_events(*tickets.values())}
    assert got == want
    closed = [r for r in rows if r["Reference"] == tickets["closed"] and r["What happened"] == "status_changed"]
    assert closed[-1]["To status"] == "Closed"  # a label in the reader's language
    assert [int(r["Event"]) for r in rows] == sorted(int(r["Event"]) for r in rows)  # by ticket, then time


def test_events_json_is_an_array_matching_the_database(client, world, login_as, tickets):
    login_as("leadership")
    events = json.loads(body(client.get("/tickets/events.json?state=all")))
    assert {(e["ticket"], e["id"], e["kind"], e["to_status"]) for e in events} == db_events(*tickets.values())
    filed = next(e for e in events if e["ticket"] == tickets["new"] and e["kind"] == "filed")
    stored = db.session.get(TicketEvent, filed["id"])
    assert filed["created_at"] == stored.created_at.isoformat() and filed["actor"] == "requester"
    assert filed["data"] == stored.data


def test_events_ndjson_has_one_event_per_line(client, world, login_as, tickets):
    login_as("leadership")
    lines = body(client.get("/tickets/events.ndjson?state=all")).decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len(db_events(*tickets.values()))


def test_events_xlsx_matches_the_database(client, world, login_as, tickets):
    login_as("leadership")
    book = load_workbook(io.BytesIO(body(client.get("/tickets/events.xlsx?state=all"))), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("Reference", "Event", "What happened")
    assert {(r[0], r[1], r[2]) for r in rows[1:]} == {(a, b, c) for a, b, c, _d in db_events(*tickets.values())}


def test_exports_respect_the_lists_filters(client, world, login_as, tickets):
    login_as("leadership")
    open_only = json.loads(body(client.get("/tickets/events.json?state=open")))
    assert {e["ticket"] for e in open_only} == {tickets["new"], tickets["dorm"]}
    done = json.loads(body(client.get("/tickets/export.json?state=done")))
    assert {t["reference"] for t in done} == {tickets["closed"], tickets["cancelled"]}
    dorm = json.loads(body(client.get("/tickets/events.json?state=all&centre=dorm")))
    assert {(e["ticket"], e["id"], e["kind"], e["to_status"]) for e in dorm} == db_events(tickets["dorm"])
    searched = json.loads(body(client.get("/tickets/export.json?state=all&q=Sink")))
    assert [t["reference"] for t in searched] == [tickets["resolved"]]


def test_exports_hold_only_what_the_reader_may_see(client, world, login_as, tickets):
    login_as("dorm_head")
    visible = json.loads(body(client.get("/tickets/export.json?state=all")))
    assert {t["reference"] for t in visible} == {tickets["dorm"]}
    events = json.loads(body(client.get("/tickets/events.json?state=all")))
    assert {e["ticket"] for e in events} == {tickets["dorm"]}


def test_tickets_export_matches_the_database(client, world, login_as, tickets):
    login_as("leadership")
    exported = {t["reference"]: t for t in json.loads(body(client.get("/tickets/export.json?state=all")))}
    assert set(exported) == set(tickets.values())
    for ticket in db.session.execute(select(Ticket)).scalars():
        row = exported[ticket.reference]
        assert row["status"] == ticket.status.value and row["priority"] == ticket.priority.value
        assert row["centre"] == db.session.get(Centre, ticket.centre_id).code
        assert row["created_at"] == ticket.created_at.isoformat()
        assert row["closed_at"] == (ticket.closed_at.isoformat() if ticket.closed_at else None)
    sheet = load_workbook(io.BytesIO(body(client.get("/tickets/export.xlsx?state=all"))), read_only=True).worksheets[0]
    assert {row[0] for row in list(sheet.iter_rows(values_only=True))[1:]} == set(tickets.values())
    rows = list(csv.reader(io.StringIO(body(client.get("/tickets/export.csv?state=all")).decode("utf-8-sig"))))
    assert rows[0][0] == "Reference" and {r[0] for r in rows[1:]} == set(tickets.values())


@pytest.mark.parametrize("path", ["/tickets/events.csv", "/tickets/events.json", "/tickets/events.ndjson",
                                  "/tickets/export.csv", "/tickets/export.json"])
def test_exports_are_streamed_in_pieces(client, world, login_as, tickets, path):
    login_as("leadership")
    response = client.get(path + "?state=all", buffered=False)
    assert response.is_streamed
    pieces = [piece for piece in response.response if piece]
    response.close()
    assert len(pieces) > 2  # written as it is read, not built whole first


def test_xlsx_is_streamed_from_a_spooled_file(client, world, login_as, tickets):
    login_as("leadership")
    response = client.get("/tickets/events.xlsx?state=all", buffered=False)
    assert response.is_streamed
    data = b"".join(response.response)
    response.close()
    assert data[:2] == b"PK"  # a zip: the xlsx container


def test_an_unknown_format_is_not_found(client, world, login_as, tickets):
    login_as("leadership")
    assert client.get("/tickets/events.pdf").status_code == 404
