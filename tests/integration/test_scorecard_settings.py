"""The follow-up rules and contractors pages: who may, bad input changing nothing, the history."""

from sqlalchemy import func, select

from tests.conftest import post_form
from tracker.extensions import db as _db
from tracker.models import AdminEvent, Contractor, ContractorMember, FollowUpRule


def _rules():
    return {
        (r.centre_id, r.category_id): (r.share_percent, r.is_complaint)
        for r in _db.session.execute(select(FollowUpRule)).scalars()
    }


def _history(entity):
    return list(_db.session.execute(select(AdminEvent).where(AdminEvent.entity == entity)).scalars())


def test_a_head_sets_a_category_share_and_the_default_with_history(client, login_as, world):
    head = login_as("centre_head")
    water = world.categories["water"]
    page = post_form(
        client, "/follow-up-rules/repairs", {"category": str(water.id), "share": "30"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Follow-up share set: 30 %." in page
    post_form(client, "/follow-up-rules/repairs", {"category": "", "share": "10 %"})
    repairs = world.centres["repairs"].id
    assert _rules() == {(repairs, water.id): (30, False), (repairs, None): (10, False)}
    events = _history("follow_up_rule")
    assert len(events) == 2 and all(e.actor_id == head.id for e in events)
    assert {e.changes["share_percent"][1] for e in events} == {30, 10}
    assert client.get("/admin/history").status_code == 403  # a head doesn't read it; an admin does
    post_form(client, "/logout")
    login_as("admin")
    assert "Follow-up rule" in client.get("/admin/history?kind=follow_up_rule").get_data(as_text=True)


def test_a_complaints_category_shows_100_fixed(client, login_as, world):
    login_as("centre_head")
    power = world.categories["power"]
    post_form(client, "/follow-up-rules/repairs", {"category": str(power.id), "share": "", "complaint": "y"})
    assert _rules()[(world.centres["repairs"].id, power.id)] == (100, True)
    page = post_form(
        client, "/follow-up-rules/repairs", {"category": str(power.id), "share": "20"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "their share is fixed" in page
    assert _rules()[(world.centres["repairs"].id, power.id)] == (100, True)
    row = page.split('id="rule-power"')[1].split("</tr>")[0]
    assert "100 %" in row and 'name="share"' not in row


def test_bad_shares_are_refused_in_the_readers_language_and_change_nothing(client, login_as, world):
    login_as("centre_head")
    water = world.categories["water"]
    for share in ("abc", "101", "-5", "12.5"):
        page = post_form(
            client,
            "/follow-up-rules/repairs",
            {"category": str(water.id), "share": share},
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "The follow-up share is a whole percent from 0 to 100" in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = post_form(
        client, "/follow-up-rules/repairs", {"category": str(water.id), "share": "150"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "0 到 100" in page
    # Another centre's category, through this centre's page.
    keys = world.categories["keys"]
    page = post_form(
        client, "/follow-up-rules/repairs", {"category": str(keys.id), "share": "40"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "该类别属于其他中心" in page
    assert _rules() == {}
    assert _history("follow_up_rule") == []


def test_a_head_cannot_set_another_centres_rules_and_a_technician_sees_neither_page(client, login_as, world):
    login_as("centre_head")
    keys = world.categories["keys"]
    assert client.get("/follow-up-rules/dorm").status_code == 403
    assert (
        post_form(client, "/follow-up-rules/dorm", {"category": str(keys.id), "share": "40"}).status_code
        == 403
    )
    assert client.get("/follow-up-rules/").headers["Location"].endswith("/follow-up-rules/repairs")
    post_form(client, "/logout")
    login_as("technician")
    assert client.get("/follow-up-rules/repairs").status_code == 403
    assert client.get("/contractors/").status_code == 403
    assert _rules() == {}


def test_an_admin_creates_renames_deactivates_and_assigns(client, login_as, world):
    admin = login_as("admin")
    page = client.get("/contractors/").get_data(as_text=True)
    key = page.split('name="once" type="hidden" value="')[1].split('"')[0]
    data = {"once": key, "code": "hx-fm", "name_en": "Huaxin FM", "name_zh": "华信物业"}
    assert post_form(client, "/contractors/", data).status_code == 302
    again = post_form(client, "/contractors/", data, follow_redirects=True).get_data(as_text=True)
    assert "already" in again
    assert _db.session.execute(select(func.count()).select_from(Contractor)).scalar_one() == 1
    contractor = _db.session.execute(select(Contractor)).scalar_one()
    technician = world.users["technician"]
    post_form(client, "/contractors/assign", {"technician": str(technician.id), "contractor": "hx-fm"})
    assert _db.session.get(ContractorMember, technician.id).contractor_id == contractor.id
    post_form(
        client, f"/contractors/{contractor.id}", {"name_en": "Huaxin Facilities", "name_zh": "华信物业"}
    )
    _db.session.expire_all()
    assert contractor.name_en == "Huaxin Facilities" and contractor.is_active is False  # unchecked: inactive
    # An inactive contractor takes no technician: refused, nothing changes.
    other = world.users["other_technician"]
    page = post_form(
        client,
        "/contractors/assign",
        {"technician": str(other.id), "contractor": "hx-fm"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "no longer active" in page
    assert _db.session.get(ContractorMember, other.id) is None
    # A requester is not a technician.
    page = post_form(
        client,
        "/contractors/assign",
        {"technician": str(world.users["requester"].id), "contractor": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Only technicians work for a contractor." in page
    post_form(client, "/contractors/assign", {"technician": str(technician.id), "contractor": ""})
    assert _db.session.get(ContractorMember, technician.id) is None
    changes = [e.changes for e in _history("contractor")]
    assert {"name_en": [None, "Huaxin FM"]}.items() <= changes[0].items() or any(
        c.get("name_en") == [None, "Huaxin FM"] for c in changes
    )
    assert any(c.get("is_active") == [True, False] for c in changes)
    member_changes = [
        e.changes.get("contractor_id") for e in _history("user") if e.entity_id == technician.id
    ]
    assert [None, contractor.id] in member_changes and [contractor.id, None] in member_changes
    assert all(e.actor_id == admin.id for e in _history("contractor"))


def test_a_head_sees_their_technicians_contractors_but_changes_nothing(client, login_as, world):
    from tracker.clock import utcnow
    from tracker.services.insight.scorecards import contractors

    contractor = contractors.create(code="hx", name_en="Huaxin", name_zh="华信", now=utcnow())
    contractors.assign(world.users["technician"].id, contractor.id, now=utcnow())
    login_as("centre_head")
    page = client.get("/contractors/").get_data(as_text=True)
    row = page.split('id="technician-technician"')[1].split("</tr>")[0]
    assert "Huaxin" in row and "<form" not in row
    assert 'id="technician-dorm-technician"' not in page  # another centre's technician
    assert (
        post_form(client, "/contractors/", {"code": "x", "name_en": "X", "name_zh": "X"}).status_code == 403
    )
    assert (
        post_form(
            client,
            "/contractors/assign",
            {"technician": str(world.users["other_technician"].id), "contractor": "hx"},
        ).status_code
        == 403
    )
    assert _db.session.get(ContractorMember, world.users["other_technician"].id) is None


def test_the_dashboards_coverage_links_to_the_rules_for_those_who_set_them(client, login_as, world):
    from tests.factories import T0
    from tracker.services.insight.scorecards import rules

    repairs = world.centres["repairs"].id
    rules.set_rule(repairs, None, "50", actor=None, now=T0)
    address = f"/dashboard/details?from=2026-03-01&to=2026-03-31&centre={repairs}"
    login_as("leadership")
    assert "/follow-up-rules/repairs" not in client.get(address).get_data(as_text=True)
    post_form(client, "/logout")
    login_as("admin")
    assert 'href="/follow-up-rules/repairs"' in client.get(address).get_data(as_text=True)
