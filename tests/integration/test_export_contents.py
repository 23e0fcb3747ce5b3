"""What each reader gets in each export: the rows and the columns, not only the status code.

Three requests: the requester's in repairs (accepted by the technician),
and the other requester's, one in the dormitories and one in repairs; a
rectification item in each centre. Requesters read their own through the
API and nobody else's; centre A's staff read centre A in every file,
centre B's staff centre B, leadership and administrators both.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from tests.conftest import IsolatedClient, post_form
from tests.factories import T0, make_ticket
from tests.integration.api_helpers import bearer, make_token
from tracker.domain.rectification import Source
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.services.insight import stats, weekly
from tracker.services.ledger import rectification as rectification_service
from tracker.services.requests import tickets as ticket_service

REPAIRS, DORM = "Repair and maintenance", "Dormitory management"
TICKET_HEADERS = ["Reference", "Request", "Centre", "Category", "Priority", "Status", "Requester", "Technician",
                  "Place", "Channel", "Source row id", "Filed", "Accepted", "Resolved", "Closed", "Cancelled",
                  "Next deadline", "Deadline passed"]
ITEM_HEADERS = ["Reference", "Title", "Centre", "Status", "Priority", "Source", "Source reference",
                "Responsible", "Deadline", "Overdue", "Progress %", "Rejections", "Opened", "Verified",
                "Verified on time", "Cancelled"]
PERIOD = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def records(world):
    """Requests a (requester, repairs), b (other requester, dorm), c (other requester, repairs); items r and d."""
    a = make_ticket(world, status=Status.ACCEPTED, title="Tap drips", location_note="Under the sink")
    b = make_ticket(world, category="keys", requester="other_requester", title="Lost key")
    c = make_ticket(world, category="power", requester="other_requester", title="Socket sparks")
    ticket_service.add_comment(a.id, actor=world.users["technician"], body="Washer ordered.",
                               now=T0 + timedelta(hours=1))
    ticket_service.add_comment(b.id, actor=world.users["other_requester"], body="Room 12, please.",
                               now=T0 + timedelta(hours=1))

    def item(centre, actor, responsible, title):
        return rectification_service.create_item(
            rectification_service.NewItem(
                centre_id=world.centres[centre].id, title=title, description="Seen in the March survey.",
                responsible_id=world.users[responsible].id, due_on=date(2026, 3, 20), source=Source.SURVEY,
                source_ref="March survey"),
            actor=world.users[actor], now=T0).reference

    db.session.commit()
    stats.refresh_all()  # the dashboards read the daily summary
    return {
        "a": a.reference, "b": b.reference, "c": c.reference,
        "r": item("repairs", "dispatcher", "technician", "Taps leak in building 3"),
        "d": item("dorm", "dorm_head", "dorm_technician", "Locks fail in dorm 2"),
    }


@pytest.fixture
def reader(app, world, records):
    """Return a browser logged in as ``role``: one per role, so one test reads as every role."""

    def log_in(role: str) -> IsolatedClient:
        browser = IsolatedClient(app, app.response_class, use_cookies=True)
        response = post_form(browser, "/login", {"username": world.users[role].username, "password": world.password})
        assert response.status_code == 302
        return browser

    return log_in


def rows_of(response) -> list[list]:
    """Return the first sheet of a CSV or xlsx download as lists of values (header row first)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    if response.mimetype == "text/csv":
        return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def by_header(rows: list[list]) -> list[dict]:
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]


# ---------------------------------------------------------------- requesters, through the API


def test_a_requester_reads_only_their_own_requests_and_comments_through_the_api(client, world, records):
    mine, theirs = bearer(make_token(world, "requester")), bearer(make_token(world, "other_requester"))
    listed = client.get("/api/v1/tickets?status=all", headers=mine).get_json()
    assert [t["reference"] for t in listed["items"]] == [records["a"]] and listed["total"] == 1
    own = listed["items"][0]
    assert (own["title"], own["location_note"], own["requester"]["name"], own["assignee"]["name"]) == (
        "Tap drips", "Under the sink", "Requester", "Technician")
    listed = client.get("/api/v1/tickets?status=all", headers=theirs).get_json()
    assert {t["reference"] for t in listed["items"]} == {records["b"], records["c"]} and listed["total"] == 2
    assert {t["requester"]["name"] for t in listed["items"]} == {"Other-Requester"}

    for headers, hidden in ((mine, records["b"]), (theirs, records["a"])):
        assert client.get(f"/api/v1/tickets/{hidden}", headers=headers).status_code == 404
        assert client.get(f"/api/v1/tickets/{hidden}/comments", headers=headers).status_code == 404
    comments = client.get(f"/api/v1/tickets/{records['a']}/comments", headers=mine).get_json()["items"]
    assert [c["body"] for c in comments] == ["Washer ordered."]
    comments = client.get(f"/api/v1/tickets/{records['b']}/comments", headers=theirs).get_json()["items"]
    assert [c["body"] for c in comments] == ["Room 12, please."]
    # Requesters read no rectification item, and no staff export.
    items = client.get("/api/v1/rectification-items?status=all", headers=mine)
    assert items.status_code == 200 and items.get_json()["items"] == []


def test_requesters_get_no_staff_export(client, login_as, records):
    login_as("requester")
    for path in ("/tickets/export.csv", "/tickets/events.xlsx", "/rectification/items.csv",
                 "/rectification/dashboard/export/backlog.csv", "/dashboard/tickets.csv",
                 "/dashboard/export/centres.csv", "/weekly/2026-03-02/report.xlsx"):
        assert client.get(path).status_code == 403, path


# ---------------------------------------------------------------- the request list and its history

# Who reads which requests: centre staff their centre's, the others all.
TICKET_READERS = {
    "technician": "ac", "dispatcher": "ac", "centre_head": "ac",
    "dorm_technician": "b", "dorm_head": "b",
    "leadership": "abc", "admin": "abc",
}


def test_the_request_list_files_hold_the_readers_requests_with_every_column(reader, records):
    for role, keys in TICKET_READERS.items():
        _check_request_files(reader(role), records, keys)


def _check_request_files(client, records, keys: str):
    want = {records[key] for key in keys}
    for fmt in ("csv", "xlsx"):
        rows = rows_of(client.get(f"/tickets/export.{fmt}?state=all"))
        assert rows[0] == TICKET_HEADERS
        got = {row["Reference"]: row for row in by_header(rows)}
        assert set(got) == want
        if records["a"] in got:
            row = got[records["a"]]
            assert (row["Request"], row["Centre"], row["Category"], row["Status"], row["Requester"],
                    row["Technician"], row["Place"]) == ("Tap drips", REPAIRS, "Water and plumbing", "Accepted",
                                                         "requester", "technician", "Under the sink")
    events = by_header(rows_of(client.get("/tickets/events.csv?state=all")))
    assert {e["Reference"] for e in events} == want
    comments = {e["Text"] for e in events if e["What happened"] == "commented"}
    assert comments == {text for key, text in (("a", "Washer ordered."), ("b", "Room 12, please.")) if key in keys}


# ---------------------------------------------------------------- dashboards: centre A and centre B


def test_a_centres_managers_get_only_their_centre_in_dashboard_files(reader, world, records):
    for role, centre, keys in (("centre_head", REPAIRS, "ac"), ("dispatcher", REPAIRS, "ac"),
                               ("dorm_head", DORM, "b")):
        _check_centre_dashboard_files(reader(role), world, records, centre, keys)


def _check_centre_dashboard_files(client, world, records, centre: str, keys: str):
    backlog = by_header(rows_of(client.get(f"/dashboard/tickets.xlsx?figure=backlog&{PERIOD}")))
    assert {row["Reference"] for row in backlog} == {records[k] for k in keys}
    assert {row["Centre"] for row in backlog} == {centre}
    table = rows_of(client.get(f"/dashboard/export/centres.csv?{PERIOD}"))
    assert [row[0] for row in table] == ["Centre", centre, "All centres"]  # the centre, then its total
    received = table[0].index("Received")
    assert table[1][received] == table[2][received] == str(len(keys))
    other = world.centres["dorm" if centre == REPAIRS else "repairs"].id
    assert client.get(f"/dashboard/tickets.csv?figure=backlog&centre={other}&{PERIOD}").status_code == 404
    assert client.get(f"/dashboard/export/centres.csv?centre={other}&{PERIOD}").status_code == 404


def test_leadership_gets_every_centre_in_dashboard_files(client, login_as, records):
    login_as("leadership")
    backlog = by_header(rows_of(client.get(f"/dashboard/tickets.csv?figure=backlog&{PERIOD}")))
    assert {row["Reference"] for row in backlog} == {records["a"], records["b"], records["c"]}
    table = rows_of(client.get(f"/dashboard/export/centres.xlsx?{PERIOD}"))
    received = table[0].index("Received")
    assert [(row[0], row[received]) for row in table[1:]] == [(REPAIRS, 2), (DORM, 1), ("All centres", 3)]


# ---------------------------------------------------------------- rectification: centre A and centre B

# Who reads which items: a centre's staff their centre's, the others both.
ITEM_READERS = {
    "technician": ("r", [REPAIRS]), "dispatcher": ("r", [REPAIRS]), "centre_head": ("r", [REPAIRS]),
    "dorm_technician": ("d", [DORM]), "dorm_head": ("d", [DORM]),
    "leadership": ("rd", [REPAIRS, DORM]), "admin": ("rd", [REPAIRS, DORM]),
}


def test_the_rectification_files_hold_the_readers_centres(reader, world, records):
    for role, (keys, centres) in ITEM_READERS.items():
        _check_rectification_files(reader(role), world, records, role, keys, centres)


def _check_rectification_files(client, world, records, role: str, keys: str, centres: list[str]):
    for fmt in ("csv", "xlsx"):
        rows = rows_of(client.get(f"/rectification/items.{fmt}"))
        assert rows[0] == ITEM_HEADERS
        items = by_header(rows)
        assert {row["Reference"] for row in items} == {records[k] for k in keys}
        assert sorted(row["Centre"] for row in items) == sorted(centres)
        assert {row["Source reference"] for row in items} == {"March survey"}
    if role in ("technician", "dorm_technician"):
        assert client.get("/rectification/dashboard/export/backlog.csv").status_code == 403
        return
    backlog = rows_of(client.get("/rectification/dashboard/export/backlog.xlsx"))
    assert backlog[0][:5] == ["Centre", "Open", "In progress", "Awaiting verification", "On the backlog"]
    assert [(row[0], row[4]) for row in backlog[1:]] == [
        *((name, 1) for name in centres), ("All centres", len(centres))]
    if len(centres) == 1:
        other = world.centres["dorm" if centres == [REPAIRS] else "repairs"].id
        assert client.get(f"/rectification/items.csv?centre={other}").status_code == 404
        assert client.get(f"/rectification/dashboard/export/backlog.csv?centre={other}").status_code == 404


# ---------------------------------------------------------------- the weekly report


def test_every_weekly_report_reader_gets_every_centre(reader, records):
    weekly.generate(date(2026, 3, 2), actor=None, now=T0 + timedelta(days=8))
    seen = {}
    for role in ("centre_head", "dorm_head", "leadership", "admin"):
        response = reader(role).get("/weekly/2026-03-02/report.xlsx")
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
        seen[role] = {sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    assert all(sheets == seen["leadership"] for sheets in seen.values())  # the meeting reviews every centre
    summary = seen["leadership"]["Summary"]
    received = summary[0].index("Received")
    assert [(row[0], row[received]) for row in summary[1:]] == [(REPAIRS, 2), (DORM, 1), ("Campus total", 3)]
    oldest = by_header(seen["leadership"]["Oldest open"])
    assert {row["Reference"] for row in oldest} == {records["a"], records["b"], records["c"]}
