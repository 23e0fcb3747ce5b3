"""Bad input in addresses and fields: 400 or 404 with the app's page, never a 500.

Ids beyond an INTEGER column, page numbers beyond any list and text the
database cannot store (NUL, lone surrogates) used to reach the queries,
where PostgreSQL and SQLite refuse them with an error. The walks go over
every route of app.url_map, so a route added later is covered too.
"""

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing.converters import AnyConverter

from tests.conftest import csrf_token, post_form
from tests.factories import make_ticket, make_user
from tracker.domain.limits import ID_MAX, PAGE_MAX
from tracker.domain.roles import Role
from tracker.models import ApiToken, Ticket, TicketEvent
from tracker.web.routing import IdConverter

NOT_FOUND_PAGE = "There is nothing at this address, or you may not see it."
NUL_MESSAGE = "Text may not contain NUL characters."


def _count(db, model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _fill(rule, value) -> str:
    """Return the rule's address with ``value`` for every id and "x" for any other part."""
    path = rule.rule
    for name, converter in rule._converters.items():
        if isinstance(converter, IdConverter):
            part = str(value)
        elif isinstance(converter, AnyConverter):  # e.g. /api/v1/quotes/<id>/<any(accept, decline)>
            part = sorted(converter.items)[0]
        else:
            part = "x"
        path = re.sub(rf"<[^<>]*\b{name}>", part, path)
    return path


def _id_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if any(isinstance(c, IdConverter) for c in rule._converters.values())]


@pytest.fixture
def everyone(world):
    """A user holding every role (the centre roles in repairs): every page lets them in."""
    repairs = world.centres["repairs"].id
    return make_user("everyone", [(Role.REQUESTER, None), (Role.TECHNICIAN, repairs), (Role.DISPATCHER, repairs),
                                  (Role.CENTRE_HEAD, repairs), (Role.LEADERSHIP, None), (Role.ADMIN, None)])


def test_every_int_in_an_address_is_an_id_bounded_by_the_integer_column(app):
    rules = _id_rules(app)
    assert len(rules) >= 30, "the walk found too few routes with an id"
    adapter = app.url_map.bind("localhost")
    for rule in rules:
        method = "GET" if "GET" in rule.methods else "POST"
        assert adapter.match(_fill(rule, ID_MAX), method=method)[0] == rule.endpoint
        assert adapter.test(_fill(rule, ID_MAX + 1), method=method) is False or \
            adapter.match(_fill(rule, ID_MAX + 1), method=method)[0] != rule.endpoint


def test_an_id_beyond_the_integer_column_is_not_found_on_every_route(client, db, world, login_as, everyone):
    make_ticket(world)
    login_as(everyone)
    for rule in _id_rules(client.application):
        for method in sorted({"GET", "POST"} & rule.methods):
            path = _fill(rule, ID_MAX + 1)
            response = client.get(path) if method == "GET" else post_form(client, path, {"version": "1"})
            assert response.status_code == 404, (rule.endpoint, method, path, response.status_code)
            if rule.rule.startswith("/api/"):
                # The API answers in JSON, its own way.
                assert response.get_json()["error"]["code"] == "not_found", rule.endpoint
            else:
                assert NOT_FOUND_PAGE in response.get_data(as_text=True), rule.endpoint
    for value in (2**63, "9" * 5000):  # beyond a BIGINT; beyond Python's int() of a string
        assert client.get(f"/attachments/{value}").status_code == 404


def _plain_get_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api/", "/static"))]


PAGED_LISTS = {"/tickets/", "/tickets/mine", "/queue/", "/admin/users", "/admin/history", "/follow-ups",
               "/surveys/", "/rectification/"}


@pytest.mark.parametrize("page", [PAGE_MAX + 1, 2**63])
def test_a_page_beyond_any_list_is_not_found_and_no_page_fails(client, db, world, login_as, everyone, page):
    make_ticket(world)
    login_as(everyone)
    seen = set()
    for rule in _plain_get_rules(client.application):
        response = client.get(f"{rule.rule}?page={page}&pool={page}")
        assert response.status_code < 500, (rule.rule, response.status_code)
        if rule.rule in PAGED_LISTS:
            seen.add(rule.rule)
            assert response.status_code == 404, rule.rule
            assert NOT_FOUND_PAGE in response.get_data(as_text=True)
    assert seen == PAGED_LISTS
    assert client.get(f"/dashboard/tickets?figure=received&page={page}").status_code == 404
    assert client.get("/queue/?pool=2").status_code == 200  # in range: the page, empty


def test_ids_in_the_query_string_beyond_the_integer_column_fail_no_page(client, db, world, login_as, everyone):
    make_ticket(world)
    login_as(everyone)
    big = 2**63
    names = ("centre", "category", "location", "assignee", "mapping", "parent", "item", "ticket")
    query = "&".join(f"{name}={big}" for name in names) + f"&score_max=-{big}"
    for rule in _plain_get_rules(client.application):
        response = client.get(f"{rule.rule}?{query}")
        assert response.status_code < 500, (rule.rule, response.status_code)
    assert client.get(f"/dashboard/tickets?centre={big}").status_code == 404
    assert client.get(f"/rectification/?centre={ID_MAX + 1}").status_code == 404


# ---------------------------------------------------------------- text the database cannot store


def test_a_search_with_a_nul_answers_400_with_the_page_in_the_readers_language(client, db, world, login_as):
    login_as("dispatcher")
    response = client.get("/tickets/?q=leak%00")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert NUL_MESSAGE in page and '<html lang="en">' in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    chinese = client.get("/tickets/?q=leak%00").get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese and NUL_MESSAGE not in chinese and "NUL" in chinese


@pytest.mark.parametrize("role, path", [
    ("dispatcher", "/tickets/?q=a%00b"),
    ("dispatcher", "/tickets/events.csv?state=all&q=%00"),
    ("dispatcher", "/tickets/export.json?state=all&q=%00"),
    ("admin", "/admin/users?q=x%00"),
    ("admin", "/admin/history?kind=%00"),
    ("leadership", "/dashboard/tickets?figure=%00"),
    ("dispatcher", "/tickets/RP-2026%00"),
])
def test_a_nul_in_an_address_or_query_answers_400_not_a_cut_off_file(client, db, world, login_as, role, path):
    make_ticket(world)
    login_as(role)
    response = client.get(path)
    assert response.status_code == 400, path
    assert response.mimetype == "text/html" and NUL_MESSAGE in response.get_data(as_text=True)


def test_filing_commenting_and_naming_a_token_with_a_nul_change_nothing(client, db, world, login_as):
    ticket = make_ticket(world)
    login_as("requester")
    tickets, events = _count(db, Ticket), _count(db, TicketEvent)
    filed = post_form(client, "/tickets/new/repairs", {
        "category_id": world.categories["water"].id, "location_id": world.locations["room"].id,
        "description": "Water is leaking\x00 under the sink.", "priority": ""})
    comment = post_form(client, f"/tickets/{ticket.reference}/comment", {"version": ticket.version, "note": "a\x00b"})
    token = post_form(client, "/account/tokens/", {"name": "portal\x00", "scopes": ["requester"]})
    for response in (filed, comment, token):
        assert response.status_code == 400
        assert NUL_MESSAGE in response.get_data(as_text=True)
    assert (_count(db, Ticket), _count(db, TicketEvent), _count(db, ApiToken)) == (tickets, events, 0)


def test_a_login_name_with_a_nul_answers_400(client, db, world):
    response = post_form(client, "/login", {"username": "requester\x00", "password": world.password})
    assert response.status_code == 400 and NUL_MESSAGE in response.get_data(as_text=True)


def test_a_json_body_with_a_lone_surrogate_on_a_page_route_answers_400(client, db, world, login_as):
    login_as("requester")
    response = client.post("/tickets/new/repairs", json={"description": "\ud800"},
                           headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 400
    assert "Text must be valid Unicode." in response.get_data(as_text=True)

