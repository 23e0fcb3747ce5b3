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
    "admin.calendars": ("GET", "/admin/calendars", only({"admin"})),
    "admin.calendar_new": ("GET", "/admin/calendars/new", only({"admin"})),
    "admin.calendar_edit": ("GET", "/admin/calendars/{calendar_id}", only({"admin"})),
    # The form posted here lacks the years: the admin gets the page back with the errors.
    "admin.calendar_import_china": ("POST", "/admin/calendars/{calendar_id}/china-holidays", only({"admin"})),
    "admin.calendar_version": ("GET", "/admin/calendars/{calendar_id}/versions/1", only({"admin"})),
    "admin.policies": ("GET", "/admin/policies", only({"admin"})),
    "admin.policy_new": ("GET", "/admin/policies/new", only({"admin"})),
    "admin.policy_edit": ("GET", "/admin/policies/{policy_id}", only({"admin"})),
    "admin.policy_version": ("GET", "/admin/policies/{policy_id}/versions/1", only({"admin"})),
}


# Notifications, escalations and operations. The ticket's response is at
# risk (a sweep ran): level 1 went to the repairs dispatcher, unassigned
# ticket, with an in-app notice; an e-mail notice and a webhook exist too.
ESCALATION_RECEIVERS = {"technician", "dispatcher", "centre_head", "leadership"}
ROUTES.update({
    "notifications.index": ("GET", "/notifications", only(LOGGED_IN)),
    "notifications.read_all": ("POST", "/notifications/read", only(LOGGED_IN, REDIRECT)),
    # The dispatcher's own notice; everyone else gets 404, as for no notice at all.
    "notifications.open": ("GET", "/notifications/{notification_id}/open", only({"dispatcher"}, REDIRECT, MISSING)),
    "notifications.preferences": ("GET", "/account/notifications", only(LOGGED_IN)),
    "escalations.index": ("GET", "/escalations/", only(ESCALATION_RECEIVERS)),
    # Only its receivers acknowledge: the repairs dispatcher for an unassigned ticket.
    "escalations.acknowledge": ("POST", "/escalations/{escalation_id}/acknowledge", only({"dispatcher"}, REDIRECT)),
    "admin_ops.index": ("GET", "/admin/ops/", only({"admin"})),
    "admin_ops.retry": ("POST", "/admin/ops/notifications/{email_notification_id}/retry", only({"admin"}, REDIRECT)),
    "admin_ops.webhooks_list": ("GET", "/admin/ops/webhooks", only({"admin"})),
    "admin_ops.webhook_new": ("GET", "/admin/ops/webhooks/new", only({"admin"})),
    "admin_ops.webhook_edit": ("GET", "/admin/ops/webhooks/{webhook_id}", only({"admin"})),
    "admin_ops.webhook_deactivate": ("POST", "/admin/ops/webhooks/{webhook_id}/deactivate", only({"admin"}, REDIRECT)),
    "admin_ops.webhook_test": ("POST", "/admin/ops/webhooks/{webhook_id}/test", only({"admin"}, REDIRECT)),
})


# The weekly report: centre managers read it with leadership and administrators;
# leadership and administrators (re)generate. The week of 2026-02-23 has a
# stored report (``_weekly_report``); the form posted lacks the week, so the
# generators are sent back to the list with the message.
WEEKLY_READERS = MANAGERS | {"leadership", "admin"}
ROUTES.update({
    "weekly.index": ("GET", "/weekly/", only(WEEKLY_READERS)),
    "weekly.report": ("GET", "/weekly/2026-02-23", only(WEEKLY_READERS)),
    "weekly.download": ("GET", "/weekly/2026-02-23/report.xlsx", only(WEEKLY_READERS)),
    "weekly.regenerate": ("POST", "/weekly/regenerate", only({"leadership", "admin"}, REDIRECT)),
})


@pytest.fixture(autouse=True)
def _weekly_report(request):
    """Store the report of the week of 2026-02-23 for the weekly report's routes."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or not callspec.params.get("endpoint", "").startswith("weekly."):
        return
    from datetime import date

    from tests.factories import T0
    from tracker.services import weekly

    request.getfixturevalue("world")
    weekly.generate(date(2026, 2, 23), actor=None, now=T0)


# Dashboards: leadership and administrators read the campus; dispatchers and
# centre heads their centre (the test world's have one each, so nothing has
# to be chosen); every staff member reads how the figures are counted.
DASHBOARD_READERS = MANAGERS | {"leadership", "admin"}
ROUTES.update({
    "dashboards.index": ("GET", "/dashboard", only({"leadership", "admin"})),
    "dashboards.centre": ("GET", "/dashboard/centre", only(DASHBOARD_READERS)),
    "dashboards.tickets": ("GET", "/dashboard/tickets?figure=received", only(DASHBOARD_READERS)),
    "dashboards.tickets_export": ("GET", "/dashboard/tickets.csv?figure=backlog", only(DASHBOARD_READERS)),
    "dashboards.export": ("GET", "/dashboard/export/centres.xlsx", only(DASHBOARD_READERS)),
    "dashboards.definitions": ("GET", "/dashboard/definitions", only(STAFF | {"leadership", "admin"})),
})

def _ops_ids(template: str, world, ticket) -> dict:
    """Make the rows the notification, escalation and operations routes need, when they need them."""
    from datetime import timedelta

    from sqlalchemy import select

    from tests.factories import T0
    from tracker.extensions import db
    from tracker.models import Channel, Escalation, Notification
    from tracker.services import sla_sweep, webhooks

    ids = {}
    if "{webhook_id}" in template:
        hook = webhooks.create_webhook(name="Duty group", url="https://example.org/hook", format="generic",
                                       kinds=["sla_breached"], actor=None, now=T0)
        ids["webhook_id"] = hook.id
    if "notification_id}" in template or "{escalation_id}" in template:
        sla_sweep.sweep_due(T0 + timedelta(minutes=23))  # response at risk: level 1
        dispatcher = world.users["dispatcher"].id
        notices = {
            n.channel: n.id
            for n in db.session.execute(select(Notification).where(Notification.user_id == dispatcher)).scalars()
        }
        ids["notification_id"] = notices[Channel.IN_APP]
        ids["email_notification_id"] = notices[Channel.EMAIL]
        ids["escalation_id"] = db.session.execute(
            select(Escalation.id).where(Escalation.ticket_id == ticket.id)
        ).scalar_one()
    return ids


def _calendar_id(code: str) -> int:
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Calendar

    return db.session.execute(select(Calendar.id).where(Calendar.code == code)).scalar_one()


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
        calendar_id=_calendar_id("office"),
        policy_id=world.policies["repairs"].id,
        **_ops_ids(template, world, ticket),
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
