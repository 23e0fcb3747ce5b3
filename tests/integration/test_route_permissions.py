"""Every route, as every role and anonymous: the answer each one gets.

A route that is not in ROUTES fails ``test_every_route_has_a_rule``: whoever
adds a page must say here who may open it.
"""

import pytest

from tests.conftest import post_form
from tests.factories import make_ticket

ROLES = ["anonymous", "requester", "technician", "dispatcher", "centre_head", "leadership", "admin"]

OK, LOGIN, FORBIDDEN, MISSING, REDIRECT, BAD = 200, "login", 403, 404, 302, 400


def everyone(status):
    return {role: status for role in ROLES}


def only(allowed: set[str], status=OK, others=FORBIDDEN):
    return {role: ("login" if role == "anonymous" else status if role in allowed else others) for role in ROLES}


STAFF = {"technician", "dispatcher", "centre_head"}
MANAGERS = {"dispatcher", "centre_head"}
REQUESTERS = {"requester", "technician"}  # the test technician also files requests
LOGGED_IN = set(ROLES) - {"anonymous"}

# endpoint: (method, path template, {role: expected})
ROUTES = {
    "static": ("GET", "/static/app.css", everyone(OK)),
    "home.index": ("GET", "/", {"anonymous": LOGIN, **{r: REDIRECT for r in LOGGED_IN}}),
    "auth.login": ("GET", "/login", {"anonymous": OK, **{r: REDIRECT for r in LOGGED_IN}}),
    "auth.logout": ("POST", "/logout", everyone(REDIRECT)),
    "auth.language": ("POST", "/language", everyone(REDIRECT)),
    "auth.account": ("GET", "/account", only(LOGGED_IN)),
    "tickets.index": ("GET", "/tickets/", only(STAFF | {"leadership", "admin"})),
    "tickets.mine": ("GET", "/tickets/mine", only(REQUESTERS)),
    "tickets.new": ("GET", "/tickets/new", only(REQUESTERS)),
    "tickets.file": ("GET", "/tickets/new/repairs", only(REQUESTERS)),
    # The ticket is the requester's, in repairs: every repairs role and the
    # campus-wide readers see it; the dorm head is tested in test_web_tickets.
    "tickets.detail": ("GET", "/tickets/{reference}", only(LOGGED_IN)),
    "tickets.act": ("POST", "/tickets/{reference}/comment", only(LOGGED_IN - {"leadership", "admin"}, REDIRECT, REDIRECT)),
    "queue.mine": ("GET", "/queue/", only(STAFF)),
    "queue.dispatch": ("GET", "/queue/dispatch", only(MANAGERS)),
    "admin.index": ("GET", "/admin/", only({"admin"})),
    "admin.users": ("GET", "/admin/users", only({"admin"})),
    "admin.user_new": ("GET", "/admin/users/new", only({"admin"})),
    "admin.user_edit": ("GET", "/admin/users/{user_id}", only({"admin"})),
    "admin.centres": ("GET", "/admin/centres", only({"admin"})),
    "admin.centre_new": ("GET", "/admin/centres/new", only({"admin"})),
    "admin.centre_edit": ("GET", "/admin/centres/{centre_id}", only({"admin"})),
    "admin.categories": ("GET", "/admin/categories", only({"admin"})),
    "admin.category_new": ("GET", "/admin/categories/new", only({"admin"})),
    "admin.category_edit": ("GET", "/admin/categories/{category_id}", only({"admin"})),
    "admin.locations": ("GET", "/admin/locations", only({"admin"})),
    "admin.location_new": ("GET", "/admin/locations/new", only({"admin"})),
    "admin.location_edit": ("GET", "/admin/locations/{location_id}", only({"admin"})),
}


def test_every_route_has_a_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTES))
    assert not missing, f"routes without a permission rule in {__file__}: {missing}"
    stale = sorted(set(ROUTES) - endpoints)
    assert not stale, f"rules for routes that no longer exist: {stale}"


CASES = [(endpoint, role) for endpoint in sorted(ROUTES) for role in ROLES]


@pytest.mark.parametrize("endpoint, role", CASES)
def test_route_answers_each_role_as_its_rule_says(client, db, world, login_as, endpoint, role):
    method, template, expected = ROUTES[endpoint]
    ticket = make_ticket(world)
    path = template.format(
        reference=ticket.reference,
        user_id=world.users["requester"].id,
        centre_id=world.centres["repairs"].id,
        category_id=world.categories["water"].id,
        location_id=world.locations["room"].id,
    )
    if role != "anonymous":
        login_as(role)
    if method == "GET":
        response = client.get(path)
    else:
        response = post_form(client, path, {"reason": "a comment"})
    response.close()  # static files stream from an open file
    db.session.expire_all()
    want = expected[role]
    if want == LOGIN:
        assert response.status_code == 302 and "/login" in response.headers["Location"], (
            f"{role} on {endpoint}: {response.status_code} {response.headers.get('Location')}"
        )
    else:
        assert response.status_code == want, f"{role} on {endpoint}: got {response.status_code}, want {want}"
    if endpoint == "tickets.act":
        # Both answers redirect back to the ticket; what differs is the history.
        from tracker.models import EventKind

        comments = [e for e in ticket.events if e.kind is EventKind.COMMENTED]
        may_comment = role in {"requester", "technician", "dispatcher", "centre_head"}
        assert len(comments) == (1 if may_comment else 0), f"{role} commenting"
