"""The administration area, driven through the web as an administrator does."""

import html

import pytest
from sqlalchemy import func, select

from tests.conftest import IsolatedClient, post_form
from tracker.domain.roles import Role
from tracker.domain.workflow import Priority
from tracker.extensions import db
from tracker.models import Category, Centre, Location, User

NON_ADMINS = [
    "requester",
    "other_requester",
    "technician",
    "other_technician",
    "dorm_technician",
    "dispatcher",
    "centre_head",
    "dorm_head",
    "leadership",
]


def _count(model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count(model.id))).scalar_one()


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _login(app, user, password):
    """Return a new test client (its own cookie jar) logged in as ``user``."""
    other = IsolatedClient(app, app.response_class, use_cookies=True)
    response = post_form(other, "/login", {"username": user.username, "password": password})
    assert response.status_code == 302, _page(response)[:500]
    return other


def _user_form(**overrides) -> dict:
    data = {
        "username": "new-tech",
        "display_name": "New Technician",
        "email": "new.tech@example.edu",
        "phone": "",
        "password": "a long password",
    }
    data.update(overrides)
    return data


def _centre_form(**overrides) -> dict:
    data = {
        "code": "gardens",
        "name_en": "Landscaping and gardens",
        "name_zh": "园林绿化中心",
        "ref_prefix": "GD",
        "description_zh": "",
        "description_en": "",
        "sort_order": "3",
    }
    data.update(overrides)
    return data


def _location_form(location: Location, **overrides) -> dict:
    data = {
        "parent_id": location.parent_id or "",
        "kind": location.kind,
        "code": location.code,
        "name_en": location.name_en,
        "name_zh": location.name_zh,
        "centre_id": location.centre_id or "",
        "category_id": location.category_id or "",
        "is_active": "y" if location.is_active else "",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- users


def test_admin_creates_technician_of_repairs_who_can_log_in(app, client, world, login_as):
    login_as("admin")
    repairs = world.centres["repairs"]

    response = post_form(
        client,
        "/admin/users/new",
        _user_form(global_roles=["requester"], centres_technician=[str(repairs.id)]),
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/users")
    user = db.session.execute(select(User).where(User.username == "new-tech")).scalar_one()
    assert user.has_role(Role.TECHNICIAN, repairs.id)
    assert user.has_role(Role.REQUESTER)
    assert not user.has_role(Role.TECHNICIAN, world.centres["dorm"].id)
    assert user.email == "new.tech@example.edu"

    tech = _login(app, user, "a long password")
    assert tech.get("/queue/").status_code == 200
    assert tech.get("/admin/").status_code == 403


def test_duplicate_user_name_is_refused_with_a_message_and_nothing_is_created(client, world, login_as):
    login_as("admin")
    before = _count(User)

    response = post_form(client, "/admin/users/new", _user_form(username="Technician"), follow_redirects=True)

    assert response.status_code == 200
    assert "The user name technician is taken." in _page(response)
    assert _count(User) == before


def test_a_centre_role_without_a_centre_that_exists_is_refused(client, world, login_as):
    login_as("admin")
    before = _count(User)

    response = post_form(client, "/admin/users/new", _user_form(centres_dispatcher=["99999"]))

    assert response.status_code == 200
    assert "nothing was saved" in _page(response)
    assert _count(User) == before


def test_admin_edits_roles_and_details_of_a_user(client, world, login_as):
    login_as("admin")
    user = world.users["dorm_technician"]
    repairs, dorm = world.centres["repairs"], world.centres["dorm"]

    page = _page(client.get(f"/admin/users/{user.id}"))
    assert (
        f'<input checked id="centres_technician-1" name="centres_technician" type="checkbox" value="{dorm.id}">'
        in page
    )
    assert page.count("checked") == 2  # that role, and "active"

    response = post_form(
        client,
        f"/admin/users/{user.id}",
        {
            "display_name": "Dorm Tech",
            "email": "",
            "phone": "13800000000",
            "is_active": "y",
            "centres_technician": [str(dorm.id)],
            "centres_dispatcher": [str(repairs.id)],
        },
    )

    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.display_name == "Dorm Tech"
    assert user.phone == "13800000000"
    assert {(r.role, r.centre_id) for r in user.roles} == {
        (Role.TECHNICIAN, dorm.id),
        (Role.DISPATCHER, repairs.id),
    }


def test_deactivating_a_user_ends_their_session(app, client, world, login_as):
    victim = world.users["technician"]
    tech = _login(app, victim, world.password)
    assert tech.get("/queue/").status_code == 200
    login_as("admin")

    response = post_form(
        client,
        f"/admin/users/{victim.id}",
        {
            "display_name": victim.display_name,
            "global_roles": ["requester"],
            "centres_technician": [str(world.centres["repairs"].id)],
            # is_active left unticked
        },
    )

    assert response.status_code == 302
    following = tech.get("/queue/")
    assert following.status_code == 302
    assert "/login" in following.headers["Location"]
    refused = post_form(tech, "/login", {"username": victim.username, "password": world.password})
    assert refused.status_code == 200
    assert "Wrong user name or password." in _page(refused)


def test_a_session_from_before_a_deactivation_stays_ended_after_reactivation(app, client, world, login_as):
    victim = world.users["requester"]
    login_as("admin")

    def set_active(active: bool):
        data = {"display_name": victim.display_name, "global_roles": ["requester"]}
        if active:
            data["is_active"] = "y"
        assert post_form(client, f"/admin/users/{victim.id}", data).status_code == 302

    set_active(False)
    set_active(True)
    old = _login(app, victim, world.password)  # logged in after the first round
    set_active(False)
    set_active(True)

    assert "/login" in old.get("/tickets/mine").headers["Location"]
    assert _login(app, victim, world.password).get("/tickets/mine").status_code == 200


def test_admin_changing_own_password_stays_logged_in(app, client, world, login_as):
    admin = login_as("admin")

    response = post_form(
        client,
        f"/admin/users/{admin.id}",
        {
            "display_name": "Admin",
            "is_active": "y",
            "global_roles": ["admin"],
            "new_password": "another secret",
        },
    )

    assert response.status_code == 302
    assert client.get("/admin/users").status_code == 200
    _login(app, admin, "another secret")


def test_a_new_password_set_by_the_admin_ends_the_users_sessions(app, client, world, login_as):
    victim = world.users["requester"]
    own = _login(app, victim, world.password)
    login_as("admin")

    response = post_form(
        client,
        f"/admin/users/{victim.id}",
        {
            "display_name": victim.display_name,
            "is_active": "y",
            "global_roles": ["requester"],
            "new_password": "a brand new secret",
        },
    )

    assert response.status_code == 302
    assert "/login" in own.get("/tickets/mine").headers["Location"]
    _login(app, victim, "a brand new secret")


def test_admin_cannot_remove_own_admin_role(client, world, login_as):
    admin = login_as("admin")

    response = post_form(
        client,
        f"/admin/users/{admin.id}",
        {"display_name": "Admin", "is_active": "y", "global_roles": ["leadership"]},
        follow_redirects=True,
    )

    assert "You cannot remove your own administrator role." in _page(response)
    db.session.expire_all()
    admin = db.session.get(User, admin.id)
    assert {r.role for r in admin.roles} == {Role.ADMIN}
    assert client.get("/admin/").status_code == 200


def test_admin_cannot_deactivate_own_account(client, world, login_as):
    admin = login_as("admin")

    response = post_form(
        client,
        f"/admin/users/{admin.id}",
        {"display_name": "Admin", "global_roles": ["admin"]},
    )

    assert "You cannot deactivate your own account." in _page(response)
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_active
    assert client.get("/admin/").status_code == 200


def test_users_list_searches_filters_and_pages(client, world, login_as):
    from tests.factories import make_user

    for number in range(55):
        make_user(f"student{number:02d}", [(Role.REQUESTER, None)])
    login_as("admin")

    found = _page(client.get("/admin/users?q=dorm"))
    assert "dorm-technician" in found and "dorm-head" in found
    assert "student00" not in found

    repairs_techs = _page(client.get(f"/admin/users?role=technician&centre={world.centres['repairs'].id}"))
    assert "other-technician" in repairs_techs and "dorm-technician" not in repairs_techs

    first = _page(client.get("/admin/users?q=student"))
    assert "55 users" in first
    assert "Page 1 of 2" in first
    assert "student49" in first and "student50" not in first
    second = _page(client.get("/admin/users?q=student&page=2"))
    assert "student50" in second and "student49" not in second
    assert "Previous" in second


def test_typed_percent_sign_is_not_a_wildcard(client, world, login_as):
    login_as("admin")
    assert "No users match." in _page(client.get("/admin/users?q=%25"))


# ---------------------------------------------------------------- centres


def test_admin_creates_a_centre(client, world, login_as):
    login_as("admin")

    response = post_form(client, "/admin/centres/new", _centre_form())

    assert response.status_code == 302
    centre = db.session.execute(select(Centre).where(Centre.code == "gardens")).scalar_one()
    assert (centre.ref_prefix, centre.name_zh, centre.sort_order, centre.is_active) == (
        "GD",
        "园林绿化中心",
        3,
        True,
    )
    assert "园林绿化中心" in _page(client.get("/admin/centres"))


def test_centre_with_a_taken_reference_prefix_is_refused(client, world, login_as):
    login_as("admin")
    before = _count(Centre)

    response = post_form(client, "/admin/centres/new", _centre_form(ref_prefix="RP"))

    assert response.status_code == 200
    assert "The reference prefix RP is used by another service centre." in _page(response)
    assert _count(Centre) == before


def test_centre_edit_cannot_take_another_centres_prefix(client, world, login_as):
    login_as("admin")
    dorm = world.centres["dorm"]

    response = post_form(
        client,
        f"/admin/centres/{dorm.id}",
        {"name_en": dorm.name_en, "name_zh": dorm.name_zh, "ref_prefix": "RP", "is_active": "y"},
    )

    assert "The reference prefix RP is used by another service centre." in _page(response)
    db.session.expire_all()
    assert db.session.get(Centre, dorm.id).ref_prefix == "DM"


@pytest.mark.parametrize("prefix", ["R", "RPXYZ", "rp", "R1", "货币"])
def test_centre_prefix_must_be_two_to_four_capital_letters(client, world, login_as, prefix):
    login_as("admin")
    before = _count(Centre)

    response = post_form(client, "/admin/centres/new", _centre_form(ref_prefix=prefix))

    assert response.status_code == 200
    assert "2 to 4 capital letters" in _page(response)
    assert _count(Centre) == before


def test_centre_needs_a_name_and_a_free_code(client, world, login_as):
    login_as("admin")
    before = _count(Centre)

    # One language is enough (the other falls back to it); none is refused.
    missing = post_form(client, "/admin/centres/new", _centre_form(name_zh="  ", name_en=""))
    taken = post_form(client, "/admin/centres/new", _centre_form(code="Repairs"))

    assert "Give the name in Chinese, in English or in both." in _page(missing)
    assert "The code repairs is taken by another service centre." in _page(taken)
    assert _count(Centre) == before


def test_deactivated_centre_keeps_its_tickets_and_takes_no_new_ones(client, world, login_as, make_ticket):
    ticket = make_ticket()
    login_as("admin")
    repairs = world.centres["repairs"]

    response = post_form(
        client,
        f"/admin/centres/{repairs.id}",
        {"name_en": repairs.name_en, "name_zh": repairs.name_zh, "ref_prefix": "RP", "sort_order": "0"},
    )

    assert response.status_code == 302
    assert f"Service centre {repairs.name_en} saved." in _page(client.get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Centre, repairs.id).is_active is False
    assert _page(client.get(f"/tickets/{ticket.reference}")).count(ticket.reference) >= 1
    post_form(client, "/logout")
    login_as("requester")
    assert client.get("/tickets/new/repairs").status_code == 404
    assert client.get(f"/tickets/new/{world.centres['dorm'].code}").status_code == 200


# ---------------------------------------------------------------- categories


def test_admin_creates_a_category_under_a_centre(client, world, login_as):
    login_as("admin")
    dorm = world.centres["dorm"]

    response = post_form(
        client,
        "/admin/categories/new",
        {
            "centre_id": str(dorm.id),
            "code": "moves",
            "name_en": "Room moves",
            "name_zh": "调换宿舍",
            "default_priority": "low",
            "sort_order": "",
        },
    )

    assert response.status_code == 302
    category = db.session.execute(select(Category).where(Category.code == "moves")).scalar_one()
    assert category.centre_id == dorm.id
    assert category.default_priority is Priority.LOW
    listed = _page(client.get(f"/admin/categories?centre={dorm.id}"))
    assert "调换宿舍" in listed and "钥匙门锁" in listed and "水暖" not in listed


def test_category_needs_an_existing_centre_and_a_code_free_in_that_centre(client, world, login_as):
    login_as("admin")
    before = _count(Category)
    repairs = world.centres["repairs"]
    data = {"code": "water", "name_en": "Water", "name_zh": "水", "default_priority": "normal"}

    no_centre = post_form(client, "/admin/categories/new", {**data, "centre_id": "99999"})
    taken = post_form(client, "/admin/categories/new", {**data, "centre_id": str(repairs.id)})
    elsewhere = post_form(
        client, "/admin/categories/new", {**data, "centre_id": str(world.centres["dorm"].id)}
    )

    assert no_centre.status_code == 200 and "nothing was saved" in _page(no_centre)
    assert "This service centre already has a category water." in _page(taken)
    assert elsewhere.status_code == 302  # the same code in another centre is fine
    assert _count(Category) == before + 1


def test_deactivating_a_category_keeps_it_listed(client, world, login_as):
    login_as("admin")
    keys = world.categories["keys"]

    response = post_form(
        client,
        f"/admin/categories/{keys.id}",
        {"code": "keys", "name_en": keys.name_en, "name_zh": keys.name_zh, "default_priority": "high"},
    )

    assert response.status_code == 302
    assert f"Category {keys.name_en} saved." in _page(client.get(response.headers["Location"]))
    db.session.expire_all()
    keys = db.session.get(Category, keys.id)
    assert (keys.is_active, keys.default_priority) == (False, Priority.HIGH)
    assert "钥匙门锁" in _page(client.get("/admin/categories"))


# ---------------------------------------------------------------- locations


def test_admin_adds_a_room_with_a_qr_category(client, world, login_as):
    login_as("admin")
    building = world.locations["building"]
    power = world.categories["power"]

    response = post_form(
        client,
        "/admin/locations/new",
        {
            "parent_id": str(building.id),
            "kind": "room",
            "code": "Main-B3-302",
            "name_en": "Room 302",
            "name_zh": "302室",
            "centre_id": "",
            "category_id": str(power.id),
        },
    )

    assert response.status_code == 302
    room = db.session.execute(select(Location).where(Location.code == "main-b3-302")).scalar_one()
    assert (room.parent_id, room.centre_id, room.category_id) == (building.id, power.centre_id, power.id)
    tree = _page(client.get("/admin/locations")).split("<table", 1)[1]
    assert (
        tree.index("Main campus") < tree.index("Building 3") < tree.index("Room 301") < tree.index("Room 302")
    )
    assert "Repair and maintenance · Electricity" in tree  # where the QR code goes


def test_location_cycle_is_refused(client, world, login_as):
    login_as("admin")
    campus, room = world.locations["campus"], world.locations["room"]

    response = post_form(
        client, f"/admin/locations/{campus.id}", _location_form(campus, parent_id=str(room.id))
    )

    assert response.status_code == 200
    assert "A place cannot be inside itself or inside one of its own places." in _page(response)
    db.session.expire_all()
    assert db.session.get(Location, campus.id).parent_id is None

    itself = post_form(client, f"/admin/locations/{room.id}", _location_form(room, parent_id=str(room.id)))
    assert "A place cannot be inside itself" in _page(itself)


def test_location_category_must_belong_to_its_centre(client, world, login_as):
    login_as("admin")
    room = world.locations["room"]

    response = post_form(
        client,
        f"/admin/locations/{room.id}",
        _location_form(
            room, centre_id=str(world.centres["dorm"].id), category_id=str(world.categories["water"].id)
        ),
    )

    assert "The category belongs to another service centre." in _page(response)
    db.session.expire_all()
    assert db.session.get(Location, room.id).category_id is None


def test_location_kind_must_be_known_and_code_free(client, world, login_as):
    login_as("admin")
    before = _count(Location)
    data = {"parent_id": "", "code": "east", "name_en": "East campus", "name_zh": "东校区"}

    odd_kind = post_form(client, "/admin/locations/new", {**data, "kind": "galaxy"})
    taken = post_form(client, "/admin/locations/new", {**data, "kind": "campus", "code": "main"})

    assert "nothing was saved" in _page(odd_kind)
    assert "The code main is taken by another place." in _page(taken)
    assert _count(Location) == before


def test_a_place_with_active_places_inside_cannot_be_deactivated(client, world, login_as):
    login_as("admin")
    building, room = world.locations["building"], world.locations["room"]

    refused = post_form(client, f"/admin/locations/{building.id}", _location_form(building, is_active=""))
    assert "active places are inside this one" in _page(refused)

    assert (
        post_form(client, f"/admin/locations/{room.id}", _location_form(room, is_active="")).status_code
        == 302
    )
    assert (
        post_form(
            client, f"/admin/locations/{building.id}", _location_form(building, is_active="")
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert not db.session.get(Location, building.id).is_active
    assert _count(Location) == 3


# ---------------------------------------------------------------- who may


def _admin_pages(world) -> list[str]:
    return [
        "/admin/",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{world.users['requester'].id}",
        "/admin/centres",
        "/admin/centres/new",
        f"/admin/centres/{world.centres['repairs'].id}",
        "/admin/categories",
        "/admin/categories/new",
        f"/admin/categories/{world.categories['water'].id}",
        "/admin/locations",
        "/admin/locations/new",
        f"/admin/locations/{world.locations['room'].id}",
    ]


def _admin_posts(world) -> list[tuple[str, dict]]:
    repairs = world.centres["repairs"]
    room = world.locations["room"]
    return [
        ("/admin/users/new", _user_form(username="sneaky", global_roles=["admin"])),
        (
            f"/admin/users/{world.users['requester'].id}",
            {"display_name": "Changed", "global_roles": ["admin"]},
        ),
        ("/admin/centres/new", _centre_form()),
        (f"/admin/centres/{repairs.id}", {"name_en": "X", "name_zh": "X", "ref_prefix": "XX"}),
        (
            "/admin/categories/new",
            {
                "centre_id": str(repairs.id),
                "code": "sneaky",
                "name_en": "S",
                "name_zh": "S",
                "default_priority": "low",
            },
        ),
        (
            f"/admin/categories/{world.categories['water'].id}",
            {"code": "water", "name_en": "X", "name_zh": "X", "default_priority": "low"},
        ),
        (
            "/admin/locations/new",
            {"kind": "campus", "code": "sneaky", "name_en": "S", "name_zh": "S"},
        ),
        (f"/admin/locations/{room.id}", _location_form(room, name_en="Changed", is_active="")),
    ]


def _snapshot():
    db.session.expire_all()
    rows = []
    for model in (User, Centre, Category, Location):
        for row in db.session.execute(select(model).order_by(model.id)).scalars():
            columns = {
                c.key: getattr(row, c.key) for c in model.__table__.columns if c.key != "last_login_at"
            }
            rows.append((model.__name__, tuple(sorted(columns.items(), key=lambda kv: kv[0]))))
    roles = db.session.execute(select(User.id, func.count()).join(User.roles).group_by(User.id)).all()
    return rows, sorted(roles)


def test_the_non_admin_list_covers_every_other_role(world):
    assert set(NON_ADMINS) == set(world.users) - {"admin"}


@pytest.mark.parametrize("who", NON_ADMINS)
def test_non_admin_gets_403_on_every_admin_page_and_changes_nothing(client, world, login_as, who):
    login_as(who)
    for url in _admin_pages(world):
        assert client.get(url).status_code == 403, url
    before = _snapshot()

    for url, data in _admin_posts(world):
        assert post_form(client, url, data).status_code == 403, url

    assert _snapshot() == before


def test_anonymous_visitor_is_sent_to_login(client, world):
    for url in _admin_pages(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_admin_opens_every_admin_page(client, world, login_as):
    login_as("admin")
    for url in _admin_pages(world):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/users/99999").status_code == 404
    assert client.get("/admin/locations/99999").status_code == 404


def test_overview_counts_and_links(client, world, login_as):
    login_as("admin")
    page = _page(client.get("/admin/"))
    for endpoint in ("/admin/users", "/admin/centres", "/admin/categories", "/admin/locations"):
        assert f'href="{endpoint}"' in page
    assert "10 active" in page  # users
    assert "3 active" in page  # categories, places


def test_post_without_csrf_token_is_refused_and_changes_nothing(client, world, login_as):
    login_as("admin")
    before = _snapshot()

    for url, data in _admin_posts(world):
        response = client.post(url, data=data)
        assert response.status_code == 400, url

    assert _snapshot() == before


# ---------------------------------------------------------------- history


def _history(entity=None, entity_id=None):
    from tracker.services import audit

    db.session.expire_all()
    return list(db.session.execute(audit.events(entity, entity_id)).scalars())


def test_every_admin_change_is_in_the_history_with_who_and_what(client, world, login_as):
    admin = login_as("admin")
    user = world.users["dorm_technician"]
    repairs, dorm = world.centres["repairs"], world.centres["dorm"]
    before = len(_history())

    post_form(client, "/admin/centres/new", _centre_form())
    centre = db.session.execute(select(Centre).where(Centre.code == "gardens")).scalar_one()
    post_form(client, f"/admin/centres/{centre.id}", _centre_form(name_en="Grounds", sort_order="4", is_active="y"))
    post_form(client, f"/admin/users/{user.id}", {
        "display_name": user.display_name, "email": "", "phone": "", "is_active": "y",
        "centres_technician": [str(dorm.id)], "centres_dispatcher": [str(repairs.id)],
        "new_password": "a-new-password-9",
    })

    created, renamed = _history("centre", centre.id)[::-1]
    assert (created.action, created.actor_id, created.changes["code"]) == ("created", admin.id, [None, "gardens"])
    assert renamed.action == "changed" and renamed.actor_id == admin.id
    assert renamed.changes == {"name_en": ["Landscaping and gardens", "Grounds"], "sort_order": [3, 4]}
    [edit] = [e for e in _history("user", user.id) if e.action == "changed"]
    assert edit.changes["roles"] == {"added": ["dispatcher@repairs"], "removed": []}
    assert edit.changes["password"] == ["", "changed"]  # never the hash
    assert not any("pbkdf2" in str(value) or "scrypt" in str(value) for value in edit.changes.values())
    assert len(_history()) == before + 3

    page = _page(client.get("/admin/history"))
    assert "Grounds" in page and "dispatcher@repairs" in page and "Landscaping and gardens → Grounds" in page
    users_only = _page(client.get("/admin/history?kind=user"))
    assert "dispatcher@repairs" in users_only and "Grounds" not in users_only
    users = len(world.users)  # each created, then the one change
    assert users_only.count("<tr>") == 1 + users + 1
    assert "Landscaping and gardens → Grounds" in _page(client.get(f"/admin/centres/{centre.id}"))


def test_a_refused_change_leaves_no_history(client, world, login_as):
    login_as("admin")
    before = len(_history())
    response = post_form(client, "/admin/centres/new", _centre_form(code="Repairs"))  # the code is taken
    assert response.status_code == 200
    assert len(_history()) == before


def test_a_user_changing_their_own_password_is_named_in_the_history(client, world, login_as):
    user = login_as("requester")
    response = post_form(client, "/account", {"current": world.password, "new": "my-new-secret-77",
                                              "repeat": "my-new-secret-77"})
    assert response.status_code == 302
    [entry] = [e for e in _history("user", user.id) if e.action == "changed"]
    assert (entry.actor_id, entry.changes) == (user.id, {"password": ["", "changed"]})
