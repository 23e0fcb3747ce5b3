"""The wall display: its links (made, opened, revoked, scoped), its data, and who may do what."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import T0
from tracker.domain.workflow import Action, Status
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.models import AdminEvent, DisplayLink
from tracker.services.insight import display, stats
from tracker.services.requests import tickets as ticket_service

NOW = T0 + timedelta(hours=3)
ADDRESS = re.compile(r'id="new-display-link"[^>]*>([^<]+)<')


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setattr("tracker.web.display.utcnow", lambda: NOW)


def _make(client, login_as, *, name="Office wall", centre_id=""):
    login_as("admin")
    response = post_form(client, "/admin/display-links/", {"name": name, "centre_id": centre_id})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    address = ADDRESS.search(response.get_data(as_text=True)).group(1)
    client.post("/logout", data={"csrf_token": _csrf(client)})
    return address[address.index("/display/") :]


def _csrf(client):
    from tests.conftest import csrf_token

    return csrf_token(client)


def _link(path: str) -> DisplayLink:
    secret = path.rsplit("/", 1)[1]
    return db.session.execute(
        select(DisplayLink).where(DisplayLink.token_hash == display.hash_secret(secret))
    ).scalar_one()


def test_an_administrator_makes_a_link_that_opens_the_display_without_a_login(
    client, world, login_as, make_ticket
):
    make_ticket(now=T0)
    stats.refresh_all()
    path = _make(client, login_as)
    secret = path.rsplit("/", 1)[1]
    assert secret.startswith("disp_") and len(secret) > 40
    # Nobody is logged in now: the address alone opens the page and its data.
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-url="' + path + "/data?lang=" in html
    assert "display.js" in html and "<script>" not in html and "style=" not in html
    data = client.get(path + "/data")
    assert data.status_code == 200 and data.headers["Cache-Control"] == "no-store"
    figures = data.get_json()
    assert figures["kpis"]["received"]["value"] == 1
    assert figures["kpis"]["backlog"]["value"] == 1
    assert {c["code"] for c in figures["centres"]} == {"repairs", "dorm"}
    # Only the hash is stored; the list shows the prefix; the history names the administrator.
    link = _link(path)
    assert secret not in json.dumps([str(getattr(link, c.key)) for c in DisplayLink.__table__.columns])
    event = db.session.execute(select(AdminEvent).where(AdminEvent.entity == "display_link")).scalar_one()
    assert event.action == "created" and event.actor_id == world.users["admin"].id
    assert event.changes["secret"] == ["", "set"] and link.token_hash not in json.dumps(event.changes)
    login_as("admin")
    listing = client.get("/admin/display-links/").get_data(as_text=True)
    assert link.prefix in listing and secret not in listing


def test_an_altered_or_unknown_secret_opens_nothing(client, world, login_as):
    path = _make(client, login_as)
    altered = path[:-1] + ("A" if path[-1] != "A" else "B")
    for wrong in (altered, "/display/disp_nothing", "/display/nothing"):
        assert client.get(wrong).status_code == 404
        answer = client.get(wrong + "/data")
        assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
        assert "kpis" not in answer.get_json()


def test_a_revoked_link_stops_at_the_next_refresh_with_a_message_in_its_language(client, world, login_as):
    path = _make(client, login_as)
    assert client.get(path + "/data").status_code == 200
    link = _link(path)
    login_as("admin")
    response = post_form(client, f"/admin/display-links/{link.id}/revoke")
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": _csrf(client)})
    english = client.get(path + "/data?lang=en")
    assert english.status_code == 410
    assert english.get_json() == {
        "error": "revoked",
        "message": "This display link was revoked. Ask an administrator for a new one.",
    }
    chinese = client.get(path + "/data?lang=zh_CN")
    assert chinese.status_code == 410 and "撤销" in chinese.get_json()["message"]
    page = client.get(path + "?lang=en")
    assert page.status_code == 410 and "This display link was revoked" in page.get_data(as_text=True)
    db.session.expire_all()
    revoked = db.session.get(DisplayLink, link.id)
    assert revoked.revoked_by_id == world.users["admin"].id
    changes = (
        db.session.execute(
            select(AdminEvent).where(AdminEvent.entity == "display_link", AdminEvent.action == "changed")
        )
        .scalar_one()
        .changes
    )
    assert set(changes) == {"revoked_at", "revoked_by_id"}


def test_a_centre_link_shows_its_centre_only(client, world, login_as, make_ticket):
    make_ticket(now=T0)
    make_ticket(category="keys", now=T0)
    stats.refresh_all()
    repairs = world.centres["repairs"]
    path = _make(client, login_as, name="Repairs workshop", centre_id=str(repairs.id))
    figures = client.get(path + "/data").get_json()
    assert [c["code"] for c in figures["centres"]] == ["repairs"]
    assert figures["scope"] == "repairs" and figures["kpis"]["received"]["value"] == 1
    assert client.get(path + "/data?centre=repairs").status_code == 200
    for other in ("dorm", "nowhere"):
        refused = client.get(path + f"/data?centre={other}")
        assert refused.status_code == 403 and "kpis" not in refused.get_json()
        assert client.get(path + f"?centre={other}").status_code == 403
    # A link of every centre may be narrowed to one.
    every = _make(client, login_as, name="Lobby")
    dorm = client.get(every + "/data?centre=dorm").get_json()
    assert [c["code"] for c in dorm["centres"]] == ["dorm"] and dorm["kpis"]["received"]["value"] == 1


def test_the_data_carries_no_personal_data(client, world, login_as, make_ticket):
    from tests.factories import make_user
    from tracker.domain.roles import Role

    phone = "13912345678"
    student = make_user("li-hua-2026", [(Role.REQUESTER, None)], display_name="李华 Li Hua")
    student.phone, student.email = "13700001111", "lihua@example.edu.cn"
    fixer = make_user(
        "wang-qiang-tech", [(Role.TECHNICIAN, world.centres["repairs"].id)], display_name="王强 Wang Qiang"
    )
    db.session.commit()
    ticket = make_ticket(
        now=T0, requester=student, contact_phone=phone, description="Leak in Zhang Wei's room"
    )
    ticket_service.transition(ticket.id, Action.TAKE, actor=fixer, now=T0 + timedelta(minutes=5))
    make_ticket(status=Status.RESOLVED, now=T0, requester=student)
    stats.refresh_all()
    path = _make(client, login_as)
    body = client.get(path + "/data").get_data(as_text=True)
    page = client.get(path).get_data(as_text=True)
    for text in (body, page):
        for personal in (
            phone,
            "Zhang Wei",
            ticket.reference,
            "李华",
            "Li Hua",
            "li-hua-2026",
            "13700001111",
            "lihua@example.edu.cn",
            "王强",
            "Wang Qiang",
            "wang-qiang-tech",
        ):
            assert personal not in text
    # Counts and shares only, per centre and target: the whole shape, checked.
    data = json.loads(body)
    assert set(data) == {"as_of", "now_counted_at", "period", "scope", "kpis", "targets", "centres", "trend"}
    for centre in data["centres"]:
        assert set(centre) == {
            "code",
            "name",
            "received",
            "resolved",
            "backlog",
            "breached_now",
            "at_risk_now",
            "satisfaction",
            "targets",
        }


def test_only_administrators_make_and_revoke_links(client, world, login_as):
    for role in ("leadership", "centre_head", "requester"):
        login_as(role)
        assert (
            post_form(client, "/admin/display-links/", {"name": "Mine", "centre_id": ""}).status_code == 403
        )
        client.post("/logout", data={"csrf_token": _csrf(client)})
    assert db.session.execute(select(DisplayLink)).first() is None
    with pytest.raises(PermissionDenied):
        display.create_link(name="Mine", centre_id=None, actor=world.users["leadership"], now=T0)
    link, _secret = display.create_link(name="Office", centre_id=None, actor=world.users["admin"], now=T0)
    login_as("leadership")
    assert post_form(client, f"/admin/display-links/{link.id}/revoke").status_code == 403
    with pytest.raises(PermissionDenied):
        display.revoke_link(link.id, actor=world.users["leadership"], now=T0)
    db.session.expire_all()
    assert db.session.get(DisplayLink, link.id).revoked_at is None


def test_a_bad_link_form_says_why_and_makes_nothing(client, world, login_as):
    login_as("admin")
    empty = post_form(client, "/admin/display-links/", {"name": "  ", "centre_id": ""})
    assert empty.status_code == 400
    long = post_form(client, "/admin/display-links/", {"name": "x" * 81, "centre_id": ""})
    assert long.status_code == 400
    unknown = post_form(client, "/admin/display-links/", {"name": "Hall", "centre_id": "99999"})
    assert unknown.status_code == 400
    assert db.session.execute(select(DisplayLink)).first() is None


def test_the_figures_are_the_dashboards(client, world, login_as, make_ticket):
    """Received, backlog and met % per centre: the leadership dashboard's services give the same numbers."""
    from tracker.services.insight import reports

    make_ticket(now=T0)
    make_ticket(status=Status.RESOLVED, now=T0)
    make_ticket(status=Status.CLOSED, now=T0 - timedelta(days=1))
    make_ticket(category="keys", now=T0)
    stats.refresh_all()
    path = _make(client, login_as)
    data = client.get(path + "/data").get_json()
    today = reports.local_day(NOW)
    rows, total = reports.figures_by(
        reports.Filters(first=today - timedelta(days=6), last=today), "centre", NOW
    )
    assert data["kpis"]["received"]["value"] == total.received == 4
    assert data["kpis"]["backlog"]["value"] == total.backlog
    assert data["kpis"]["resolved"]["value"] == total.resolved
    by_code = {c["code"]: c for c in data["centres"]}
    for row in rows:
        code = next(c.code for c in world.centres.values() if c.id == row.key)
        assert by_code[code]["received"] == row.received and by_code[code]["backlog"] == row.backlog
        response = row.met_percent("response")
        shown = by_code[code]["targets"].get("response")
        if response is not None:
            assert shown["met_percent"] == round(response, 1)
    assert sum(p["received"] for p in data["trend"]) == 4


def test_logged_in_viewers_open_their_display(client, world, login_as):
    assert client.get("/display/data").status_code == 401
    login_as("centre_head")
    assert client.get("/display").status_code == 200
    assert [c["code"] for c in client.get("/display/data").get_json()["centres"]] == ["repairs"]
    assert client.get("/display?centre=dorm").status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(client)})
    login_as("leadership")
    assert {c["code"] for c in client.get("/display/data").get_json()["centres"]} == {"repairs", "dorm"}


def test_the_link_pages_are_rate_limited(app, client, world, login_as, monkeypatch):
    path = _make(client, login_as)
    monkeypatch.setitem(app.config, "DISPLAY_RATE_LIMIT", "3/minute")
    answers = [client.get(path + "/data").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_screens_of_one_scope_share_figures_for_the_cache_time(
    app, client, world, login_as, make_ticket, monkeypatch
):
    """Within DISPLAY_CACHE_SECONDS a scope's figures are counted once; then again."""
    path = _make(client, login_as)
    monkeypatch.setattr(display, "_cache", {})
    monkeypatch.setitem(app.config, "DISPLAY_CACHE_SECONDS", 30)
    first = client.get(path + "/data").get_json()
    make_ticket(now=T0)
    shared = client.get(path + "/data").get_json()
    assert shared == first and shared["kpis"]["backlog"]["value"] == 0
    # Another language is another entry; an old entry is counted again.
    assert client.get(path + "/data?lang=zh_CN").get_json()["kpis"]["backlog"]["value"] == 1
    clock = display.time.monotonic()
    monkeypatch.setattr(display.time, "monotonic", lambda: clock + 31)
    assert client.get(path + "/data").get_json()["kpis"]["backlog"]["value"] == 1
