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
    "health.healthz": ("GET", "/healthz", everyone(OK)),
    "health.readyz": ("GET", "/readyz", everyone(OK)),
    # Neither a token nor an allowed address is configured in tests: no one, logged in or not
    # (tests/integration/test_operations.py reads it with them).
    "metrics": ("GET", "/metrics", everyone(FORBIDDEN)),
    "home.index": ("GET", "/", {"anonymous": LOGIN, **{r: REDIRECT for r in LOGGED_IN}}),
    "auth.login": ("GET", "/login", {"anonymous": OK, **{r: REDIRECT for r in LOGGED_IN}}),
    "auth.logout": ("POST", "/logout", everyone(REDIRECT)),
    "auth.language": ("POST", "/language", everyone(REDIRECT)),
    "auth.account": ("GET", "/account", only(LOGGED_IN)),
    # Sign-on is off here: its pages are not found for anyone (on: tests/integration/test_signon.py).
    "signon.cas_start": ("GET", "/login/cas", everyone(MISSING)),
    "signon.cas_done": ("GET", "/login/cas/done?ticket=ST-1", everyone(MISSING)),
    "signon.oidc_start": ("GET", "/login/oidc", everyone(MISSING)),
    "signon.oidc_done": ("GET", "/login/oidc/done?code=x&state=y", everyone(MISSING)),
    "tickets.index": ("GET", "/tickets/", only(STAFF | {"leadership", "admin"})),
    "tickets.mine": ("GET", "/tickets/mine", only(REQUESTERS)),
    # The list's files, with its filters: whoever reads the list.
    "tickets.export": ("GET", "/tickets/export.json?state=all", only(STAFF | {"leadership", "admin"})),
    "tickets.events_export": ("GET", "/tickets/events.csv?state=all", only(STAFF | {"leadership", "admin"})),
    "tickets.new": ("GET", "/tickets/new", only(REQUESTERS)),
    # The request form's place picker: every signed-in role may read the catalogue's places.
    "tickets.places": ("GET", "/tickets/places?area=1", only(LOGGED_IN)),
    "tickets.file": ("GET", "/tickets/new/repairs", only(REQUESTERS)),
    # The ticket is the requester's, in repairs: every repairs role and the
    # campus-wide readers see it; the dorm head is tested in test_web_tickets.
    "tickets.detail": ("GET", "/tickets/{reference}", only(LOGGED_IN)),
    "tickets.act": ("POST", "/tickets/{reference}/comment", only(LOGGED_IN - {"leadership", "admin"}, REDIRECT, REDIRECT)),
    "queue.mine": ("GET", "/queue/", only(STAFF)),
    "queue.dispatch": ("GET", "/queue/dispatch", only(MANAGERS)),
    "admin.index": ("GET", "/admin/", only({"admin"})),
    "admin.history": ("GET", "/admin/history", only({"admin"})),
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
    # Posted without a day or a file: the admin gets the page back with the errors.
    "admin.calendar_enter_days": ("POST", "/admin/calendars/{calendar_id}/days", only({"admin"})),
    "admin.calendar_days_file": ("POST", "/admin/calendars/{calendar_id}/days-file", only({"admin"})),
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


# Imports of historical tickets: administrators only. Mapping 1 is the
# built-in Boston 311 one and run 1 a dry run of a small file
# (``_import_run``). The forms posted lack their fields: the administrator
# gets the page back (400) with the errors; a dry run made real and a
# mapping's copy redirect.
ROUTES.update({
    "imports.index": ("GET", "/admin/imports/", only({"admin"})),
    "imports.start": ("POST", "/admin/imports/", only({"admin"}, BAD)),
    "imports.run": ("GET", "/admin/imports/runs/1", only({"admin"})),
    "imports.run_status": ("GET", "/admin/imports/runs/1.json", only({"admin"})),
    "imports.run_again": ("POST", "/admin/imports/runs/1/again", only({"admin"}, REDIRECT)),
    "imports.errors_export": ("GET", "/admin/imports/runs/1/errors.csv", only({"admin"})),
    "imports.mapping_new": ("GET", "/admin/imports/mappings/new", only({"admin"})),
    "imports.mapping_edit": ("GET", "/admin/imports/mappings/1", only({"admin"})),
    "imports.mapping_duplicate": ("POST", "/admin/imports/mappings/1/duplicate", only({"admin"}, REDIRECT)),
})


@pytest.fixture(autouse=True)
def _import_run(request):
    """Install the built-in mappings and record a dry run (run 1) for the import routes."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or not callspec.params.get("endpoint", "").startswith("imports."):
        return
    from tests.factories import T0
    from tracker.services.requests import importer

    request.getfixturevalue("world")
    source = request.getfixturevalue("tmp_path") / "cases.csv"
    source.write_text("id,opened\n1,2026-01-05 09:00\n")
    importer.ensure_builtin_mappings(now=T0)
    importer.create_run(mapping=importer.mapping_by_code("boston-311"), files=[{"name": "cases.csv",
                        "path": str(source)}], dry_run=True, actor=None, now=T0)

@pytest.fixture(autouse=True)
def _weekly_report(request):
    """Store the report of the week of 2026-02-23 for the weekly report's routes."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or not callspec.params.get("endpoint", "").startswith("weekly."):
        return
    from datetime import date

    from tests.factories import T0
    from tracker.services.insight import weekly

    request.getfixturevalue("world")
    weekly.generate(date(2026, 2, 23), actor=None, now=T0)


# Dashboards: leadership and administrators read the campus; dispatchers and
# centre heads their centre (the test world's have one each, so nothing has
# to be chosen); every staff member reads how the figures are counted.
DASHBOARD_READERS = MANAGERS | {"leadership", "admin"}
ROUTES.update({
    "dashboards.index": ("GET", "/dashboard", only({"leadership", "admin"})),
    "dashboards.details": ("GET", "/dashboard/details", only({"leadership", "admin"})),
    "dashboards.centre": ("GET", "/dashboard/centre", only(DASHBOARD_READERS)),
    "dashboards.tickets": ("GET", "/dashboard/tickets?figure=received", only(DASHBOARD_READERS)),
    "dashboards.tickets_export": ("GET", "/dashboard/tickets.csv?figure=backlog", only(DASHBOARD_READERS)),
    "dashboards.export": ("GET", "/dashboard/export/centres.xlsx", only(DASHBOARD_READERS)),
    "dashboards.definitions": ("GET", "/dashboard/definitions", only(STAFF | {"leadership", "admin"})),
})

# Ratings and follow-ups. The rating link is public, like the login page:
# whoever holds a valid link opens it, logged in or not (``_feedback_ids``
# signs one for a resolved request). Rating on the page: the form posted
# lacks the rating, so everyone who sees the request is sent back to it with
# the message. Follow-ups: heads read their centres', leadership and
# administrators all; only a head of the request's centre records one (the
# form posted lacks the result: back to the list with the message).
ROUTES.update({
    "feedback.give": ("POST", "/tickets/{reference}/feedback", only(LOGGED_IN, REDIRECT)),
    "feedback.link": ("GET", "/feedback/{feedback_token}", everyone(OK)),
    "follow_ups.index": ("GET", "/follow-ups", only({"centre_head", "leadership", "admin"})),
    "follow_ups.record": ("POST", "/follow-ups/{follow_up_id}/record", only({"centre_head"}, REDIRECT)),
    "scorecards.index": ("GET", "/scorecards", only({"technician", "centre_head", "leadership", "admin"})),
    "scorecards.export": ("GET", "/scorecards/export.xlsx",
                          only({"technician", "centre_head", "leadership", "admin"})),
})


# Follow-up rules and contractors (docs/scorecards.md). A head sets their
# centre's rules (one centre: straight to it), an administrator every
# centre's. Contractors are the administrators' to keep; a head reads which
# of their technicians works for which. Posts without fields go back.
ROUTES.update({
    "follow_up_rules.index": ("GET", "/follow-up-rules/", {**only({"admin"}), "centre_head": REDIRECT}),
    "follow_up_rules.centre": ("GET", "/follow-up-rules/repairs", only({"centre_head", "admin"})),
    "contractors.index": ("GET", "/contractors/", only({"centre_head", "admin"})),
    "contractors.edit": ("POST", "/contractors/{contractor_id}", only({"admin"}, REDIRECT)),
    "contractors.assign": ("POST", "/contractors/assign", only({"admin"}, REDIRECT)),
})


def _contractor_ids(template: str) -> dict:
    """Add a contractor when the route needs one."""
    from tests.factories import T0
    from tracker.services.insight.scorecards import contractors

    if "{contractor_id}" not in template:
        return {}
    return {"contractor_id": contractors.create(code="hx", name_en="Huaxin", name_zh="华信", now=T0).id}


# Materials and paid repairs (docs/materials.md). Staff of a single centre
# land on their centre's catalogue; heads and administrators keep it
# (stock-in posted without a quantity: back with the message); the job's
# staff quote and anyone who sees the request may post an answer, which the
# service refuses unless it is the requester's (back to the request).
ROUTES.update({
    "materials.index": ("GET", "/materials/", {"anonymous": LOGIN, "requester": FORBIDDEN,
                                               **{r: REDIRECT for r in STAFF}, "leadership": OK, "admin": OK}),
    "materials.centre": ("GET", "/materials/repairs", only(STAFF | {"leadership", "admin"})),
    "materials.item": ("GET", "/materials/item/{material_id}", only(STAFF | {"leadership", "admin"})),
    "materials.stock_in": ("POST", "/materials/item/{material_id}/stock-in", only({"centre_head", "admin"}, REDIRECT)),
    "materials.quote": ("POST", "/materials/quote/{reference}", only(STAFF, REDIRECT)),
    "materials.answer": ("POST", "/materials/quotes/{quote_id}/accept", only(LOGGED_IN, REDIRECT)),
    "materials.export": ("GET", "/materials/charges.csv", only(MANAGERS | {"leadership", "admin"})),
})


def _material_ids(template: str, world, ticket) -> dict:
    """Make a material, or a quote on a chargeable request, when the route needs one."""
    from datetime import timedelta

    from tests.factories import T0
    from tracker.domain.workflow import Status
    from tracker.extensions import db
    from tracker.services.materials import catalogue, quotes

    ids = {}
    if "{material_id}" in template:
        ids["material_id"] = catalogue.create_material(
            world.centres["repairs"].id,
            catalogue.MaterialInput(code="fuse", name_en="Fuse", name_zh="保险丝", unit="pcs", unit_cost="2",
                                    low_stock_threshold="1"),
            actor=world.users["centre_head"], now=T0,
        ).id
    if "{quote_id}" in template:
        world.categories["water"].is_chargeable = True
        db.session.commit()
        working = make_ticket(world, status=Status.IN_PROGRESS)
        ids["quote_id"] = quotes.send_quote(working.id, labour="50", actor=world.users["technician"],
                                            now=T0 + timedelta(hours=1)).id
    return ids


def _feedback_ids(template: str, world) -> dict:
    """Sign a rating link, or open a follow-up (a rating of 1), when the route needs one."""
    from datetime import timedelta

    from tests.factories import T0
    from tracker.clock import utcnow
    from tracker.domain.workflow import Status
    from tracker.services.ledger import feedback, follow_ups

    ids = {}
    if "{feedback_token}" in template:
        resolved = make_ticket(world, status=Status.RESOLVED)
        ids["feedback_token"] = feedback.link_token(resolved.id, resolved.requester_id, issued_at=utcnow())
    if "{follow_up_id}" in template:
        resolved = make_ticket(world, status=Status.RESOLVED)
        feedback.give(resolved.id, rating=1, actor=world.users["requester"], now=T0 + timedelta(hours=2))
        ids["follow_up_id"] = follow_ups.for_ticket(resolved.id)[0].id
    return ids


def _ops_ids(template: str, world, ticket) -> dict:
    """Make the rows the notification, escalation and operations routes need, when they need them."""
    from datetime import timedelta

    from sqlalchemy import select

    from tests.factories import T0
    from tracker.extensions import db
    from tracker.models import Channel, Escalation, Notification
    from tracker.services.notify import webhooks
    from tracker.services.sla import sweep as sla_sweep

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


# QR codes (issue 7): those who put up the stickers print them.
QR_PRINTERS = MANAGERS | {"admin"}
ROUTES.update({
    "qr.index": ("GET", "/qr/", only(QR_PRINTERS)),
    "qr.sheet": ("GET", "/qr/sheets/{building_id}", only(QR_PRINTERS)),
    "qr.png": ("GET", "/qr/places/{location_id}.png", only(QR_PRINTERS)),
})


# The rectification ledger (docs/rectification.md). The item is of repairs
# (``_api_ids`` opens it): the repairs staff and the campus-wide readers see
# it, requesters see no item. Dispatchers, centre heads and leadership open
# items; the backlog dashboard and repeat faults are for managers and the
# campus-wide readers. The comment posted lacks its text and the upload its
# file: whoever may read the item is sent back to it with the message
# (tests/integration/test_rectification.py checks who may act).
RECTIFICATION_READERS = STAFF | {"leadership", "admin"}
RECTIFICATION_MANAGERS = MANAGERS | {"leadership", "admin"}
ROUTES.update({
    "rectification.index": ("GET", "/rectification/", only(RECTIFICATION_READERS)),
    "rectification.export": ("GET", "/rectification/items.csv?figure=active", only(RECTIFICATION_READERS)),
    "rectification.new": ("GET", "/rectification/new", only(MANAGERS | {"leadership"})),
    "rectification.detail": ("GET", "/rectification/{item_reference}", only(RECTIFICATION_READERS)),
    "rectification.act": ("POST", "/rectification/{item_reference}/comment",
                          only(RECTIFICATION_READERS, REDIRECT)),
    "rectification.evidence": ("POST", "/rectification/{item_reference}/evidence",
                               only(RECTIFICATION_READERS, REDIRECT)),
    "rectification.dashboard": ("GET", "/rectification/dashboard", only(RECTIFICATION_MANAGERS)),
    "rectification.dashboard_export": ("GET", "/rectification/dashboard/export/backlog.xlsx",
                                       only(RECTIFICATION_MANAGERS)),
    "rectification.hotspot": ("GET", "/rectification/hotspot?location={location_id}&category={category_id}",
                              only(RECTIFICATION_MANAGERS)),
})


# Attachments (docs/attachments.md): a file is seen by whoever sees its
# record; anyone else gets 404, as for no file at all (the attachment is the
# requester's photo on their repairs ticket, ``_attachment_ids``; the dorm
# roles' 404s are in test_attachments.py). The upload posted lacks its file:
# everyone who sees the ticket is sent back to it with the message.
ROUTES.update({
    "attachments.download": ("GET", "/attachments/{attachment_id}", only(LOGGED_IN)),
    "attachments.thumbnail": ("GET", "/attachments/{attachment_id}/thumbnail", only(LOGGED_IN)),
    "attachments.add_to_ticket": ("POST", "/tickets/{reference}/attachments", only(LOGGED_IN, REDIRECT)),
})


def _attachment_ids(template: str, world, ticket) -> dict:
    """Attach a photo to the ticket, as its requester, when the route needs one."""
    if "{attachment_id}" not in template:
        return {}
    import io

    from werkzeug.datastructures import FileStorage

    from tests.factories import T0
    from tests.integration.test_attachments import jpeg
    from tracker.services.requests import attachments

    photo = FileStorage(io.BytesIO(jpeg(size=(64, 64))), filename="tap.jpg")
    saved = attachments.save_upload(photo, owner_type="ticket", owner_id=ticket.id,
                                    actor=world.users["requester"], now=T0)
    return {"attachment_id": saved.id}


# Surveys (docs/surveys.md): centre heads for their centres, leadership and
# administrators for all; no one else sees survey data. The import is the
# repairs head's and the response is of repairs (``_survey_ids``). Opening
# an item from responses is for those who open items: not administrators.
SURVEY_READERS = {"centre_head", "leadership", "admin"}
ROUTES.update({
    "surveys.index": ("GET", "/surveys/", only(SURVEY_READERS)),
    "surveys.response": ("GET", "/surveys/responses/{survey_response_id}", only(SURVEY_READERS)),
    "surveys.upload": ("GET", "/surveys/import", only(SURVEY_READERS)),
    "surveys.imports": ("GET", "/surveys/imports", only(SURVEY_READERS)),
    "surveys.topics": ("GET", "/surveys/topics", only({"admin"})),
    "surveys.mapping": ("GET", "/surveys/imports/{survey_import_id}/mapping", only(SURVEY_READERS)),
    "surveys.run": ("GET", "/surveys/imports/{survey_import_id}", only(SURVEY_READERS)),
    "surveys.new_item": ("GET", "/surveys/to-item?response={survey_response_id}",
                         only({"centre_head", "leadership"})),
})


def _survey_ids(template: str, world) -> dict:
    """Import one response of repairs, as the repairs head, when the route needs it."""
    if "{survey_" not in template:
        return {}
    import io

    from tests.factories import T0
    from tracker.services.ledger import surveys

    data = b"Centre,Score,Comment\nrepairs,2,The lift in building 3 stops between floors.\n"
    item = surveys.upload(io.BytesIO(data), "survey.csv", "Route survey", actor=world.users["centre_head"], now=T0)
    surveys.start_run(item.id, columns={"centre": "Centre", "score": "Score", "comment": "Comment"},
                      settings={}, dry_run=False, actor=world.users["centre_head"], now=T0, inline=True)
    response = surveys.filtered(world.users["leadership"], surveys.Filters())
    from tracker.extensions import db

    return {"survey_import_id": item.id, "survey_response_id": db.session.execute(response).scalars().first().id}


# The JSON API (docs/api.md), called with a personal access token of the
# role's user carrying all its roles; anonymous sends none (401). The page
# session never authenticates it. The ticket is the requester's, in repairs;
# the rectification item is of repairs (requesters read none).
NO_TOKEN = 401
API_READERS = STAFF | {"leadership", "admin"}


def by_token(allowed: set[str], status=OK, others=FORBIDDEN):
    return {role: (NO_TOKEN if role == "anonymous" else status if role in allowed else others) for role in ROLES}


ROUTES.update({
    "api.openapi": ("GET", "/api/v1/openapi.json", everyone(OK)),
    "api.centres_list": ("GET", "/api/v1/centres", by_token(LOGGED_IN)),
    "api.categories_list": ("GET", "/api/v1/categories", by_token(LOGGED_IN)),
    "api.locations_list": ("GET", "/api/v1/locations", by_token(LOGGED_IN)),
    "api.tickets_list": ("GET", "/api/v1/tickets", by_token(LOGGED_IN)),
    "api.ticket_file": ("POST", "/api/v1/tickets", by_token(REQUESTERS, 201)),
    "api.ticket_read": ("GET", "/api/v1/tickets/{reference}", by_token(LOGGED_IN)),
    # Taking from the pool is a technician's move; the others see the ticket but may not.
    "api.ticket_act": ("POST", "/api/v1/tickets/{reference}/actions/take", by_token({"technician"})),
    "api.ticket_comments": ("GET", "/api/v1/tickets/{reference}/comments", by_token(LOGGED_IN)),
    "api.ticket_comment": ("POST", "/api/v1/tickets/{reference}/comments",
                           by_token(LOGGED_IN - {"leadership", "admin"}, 201)),
    # Whoever reads the request reads its quotes; only its requester answers one (docs/materials.md).
    "api.ticket_quotes": ("GET", "/api/v1/tickets/{reference}/quotes", by_token(LOGGED_IN)),
    "api.quote_answer": ("POST", "/api/v1/quotes/{quote_id}/accept", by_token({"requester"})),
    "api.figures": ("GET", "/api/v1/figures", by_token(MANAGERS | {"leadership", "admin"})),
    "api.rectification_list": ("GET", "/api/v1/rectification-items", by_token(LOGGED_IN)),
    "api.rectification_read": ("GET", "/api/v1/rectification-items/{item_reference}",
                               by_token(API_READERS, OK, MISSING)),
    "tokens.index": ("GET", "/account/tokens/", only(LOGGED_IN)),
    # The requester's token: anyone else is sent back with "no such token" (and it stays valid).
    "tokens.revoke": ("POST", "/account/tokens/{token_id}/revoke", only(LOGGED_IN, REDIRECT)),
})
API_BODIES = {
    "api.ticket_file": lambda world: {"centre_id": world.centres["repairs"].id,
                                      "category_id": world.categories["water"].id,
                                      "description": "The tap in room 301 drips."},
    "api.ticket_comment": lambda world: {"body": "a comment"},
}


# Service standards: replays. Administrators any, centre heads their own
# centre's (replay 1 is of repairs, ``_replay``); leadership reads a shared
# link only. The page's form posted lacks its fields (400); the API's body
# is valid (202).
ROUTES.update({
    "standards.index": ("GET", "/standards/", only({"centre_head", "admin"})),
    "standards.start": ("POST", "/standards/", only({"centre_head", "admin"}, BAD)),
    "standards.detail": ("GET", "/standards/replays/1", only({"centre_head", "admin"})),
    "standards.status": ("GET", "/standards/replays/1.json", only({"centre_head", "admin"})),
    "standards.request_timelines": ("GET", "/standards/replays/1/requests/{reference}",
                                    only({"centre_head", "admin"})),
    "standards.history_page": ("GET", "/standards/history", only({"centre_head", "admin"})),
    "standards.shared": ("GET", "/standards/shared/route-test-link", only({"centre_head", "leadership", "admin"})),
    "api.standards_replay_list": ("GET", "/api/v1/standards/replays", by_token({"centre_head", "admin"})),
    "api.standards_replay_read": ("GET", "/api/v1/standards/replays/1", by_token({"centre_head", "admin"})),
    "api.standards_replay_start": ("POST", "/api/v1/standards/replays", by_token({"centre_head", "admin"}, 202)),
})
API_BODIES["api.standards_replay_start"] = lambda world: {
    "name": "route test", "first": "2026-03-02", "last": "2026-03-02", "centre_id": world.centres["repairs"].id}


@pytest.fixture(autouse=True)
def _replay(request):
    """Record replay 1 (of repairs, on T0's day, queued) with a known shared link, for the standards routes."""
    callspec = getattr(request.node, "callspec", None)
    endpoint = callspec.params.get("endpoint", "") if callspec is not None else ""
    if not endpoint.startswith(("standards.", "api.standards_")):
        return
    from datetime import date

    from tests.factories import T0
    from tracker.extensions import db
    from tracker.services.sla.standards import saved

    world = request.getfixturevalue("world")
    make_ticket(world)
    row = saved.start_replay(name="route test", first=date(2026, 3, 2), last=date(2026, 3, 2),
                             centre_id=world.centres["repairs"].id, draft=None, actor=None, now=T0)
    row.share_token = "route-test-link"
    db.session.commit()


# Supervision orders (docs/supervision.md): leadership and administrators
# issue (the form posted lacks its fields: sent back to the page with the
# message); the order is the centre head's on a repairs ticket, seen by the
# repairs staff; closing an unanswered order is refused with 409.
ISSUERS = {"leadership", "admin"}
ROUTES.update({
    "supervision.index": ("GET", "/supervision/", only(STAFF | ISSUERS)),
    "supervision.issue_on_ticket": ("POST", "/supervision/tickets/{reference}", only(ISSUERS, REDIRECT)),
    "supervision.issue_on_item": ("POST", "/supervision/rectification/{item_reference}",
                                  only(ISSUERS, REDIRECT)),
    "supervision.answer": ("POST", "/supervision/{order_id}/answer", only(STAFF | ISSUERS, REDIRECT, MISSING)),
    "supervision.close": ("POST", "/supervision/{order_id}/close", only(ISSUERS, 409)),
})


def _supervision_ids(template: str, world, ticket) -> dict:
    if "{order_id}" not in template:
        return {}
    from datetime import timedelta

    from tracker.clock import utcnow
    from tracker.services import supervision

    order = supervision.issue(ticket_id=ticket.id, instruction="Report on this request.",
                              responsible_id=world.users["centre_head"].id,
                              deadline_at=utcnow() + timedelta(days=1), actor=world.users["leadership"],
                              now=utcnow())
    return {"order_id": order.id}


def _api_ids(template: str, world, ticket) -> dict:
    """Open a rectification item or make the requester a token, when the route needs one."""
    from datetime import date, timedelta

    from tests.factories import T0
    from tracker.services.admin import api_tokens
    from tracker.services.ledger import rectification

    ids = {}
    if "{item_reference}" in template:
        item = rectification.create_item(
            rectification.NewItem(centre_id=world.centres["repairs"].id, title="Broken vending machines",
                                  description="Raised at the spring inspection.",
                                  responsible_id=world.users["centre_head"].id, due_on=date(2026, 6, 30)),
            actor=world.users["centre_head"], now=T0 + timedelta(hours=1))
        ids["item_reference"] = item.reference
    if "{token_id}" in template:
        token, _secret = api_tokens.create_token(world.users["requester"], name="portal", scopes=["requester"],
                                                 now=T0)
        ids["token_id"] = token.id
    return ids


# Service standards (docs/standards.md): administrators and centre heads
# (of the centre whose categories alone use the policy: repairs here) draft,
# publish and link; leadership reads. The publish form posted lacks its day:
# back to the draft with the message. A benchmark made by a command is
# removed by an administrator only.
STANDARDS_READERS = {"centre_head", "leadership", "admin"}
STANDARDS_WRITERS = {"centre_head", "admin"}
ROUTES.update({
    "standards_admin.centres": ("GET", "/standards/centres", only(STANDARDS_READERS)),
    "standards_admin.draft_new": ("POST", "/standards/policies/{policy_id}/drafts",
                                  only(STANDARDS_WRITERS, REDIRECT)),
    "standards_admin.draft_edit": ("GET", "/standards/drafts/{draft_id}", only(STANDARDS_WRITERS)),
    "standards_admin.draft_discard": ("POST", "/standards/drafts/{draft_id}/discard",
                                      only(STANDARDS_WRITERS, REDIRECT)),
    "standards_admin.draft_publish": ("POST", "/standards/drafts/{draft_id}/publish",
                                      only(STANDARDS_WRITERS, REDIRECT)),
    "standards_admin.benchmark_list": ("GET", "/standards/benchmarks", only(STANDARDS_READERS)),
    "standards_admin.benchmark_import": ("POST", "/standards/benchmarks/import", only(STANDARDS_WRITERS, REDIRECT)),
    "standards_admin.benchmark_delete": ("POST", "/standards/benchmarks/{benchmark_id}/delete",
                                         only({"admin"}, REDIRECT)),
    "standards_admin.links": ("GET", "/standards/links", only(STANDARDS_READERS)),
    "standards_admin.link_delete": ("POST", "/standards/links/{link_id}/delete", only(STANDARDS_WRITERS, REDIRECT)),
})


def _standards_ids(template: str, world) -> dict:
    """Make a draft of the repairs policy, a benchmark and a link, when the route needs them."""
    from tests.factories import T0
    from tracker.services.sla.standards import benchmarks, drafts

    ids = {}
    if "{draft_id}" in template:
        ids["draft_id"] = drafts.create_draft(world.policies["repairs"].id, actor=None, now=T0).id
    if "{benchmark_id}" in template or "{link_id}" in template:
        benchmark = benchmarks.create({"source": "Campus A", "year": 2026, "service": "repairs",
                                       "target": "response", "limit": "2 h"}, actor=None, now=T0)
        ids["benchmark_id"] = benchmark.id
        ids["link_id"] = benchmarks.link(world.policies["repairs"].id, "response", benchmark.id, actor=None,
                                         now=T0).id
    return ids


def _api_call(client, world, endpoint: str, method: str, path: str, role: str):
    """Call the API as ``role``'s user with a token of all their roles (none for anonymous)."""
    from tests.factories import T0
    from tracker.services.admin import api_tokens

    headers = {}
    if role != "anonymous":
        user = world.users[role]
        _token, secret = api_tokens.create_token(user, name="route test", now=T0,
                                                 scopes=sorted({r.role.value for r in user.roles}))
        headers["Authorization"] = f"Bearer {secret}"
    if method == "GET":
        return client.get(path, headers=headers)
    body = API_BODIES.get(endpoint, lambda world: {})(world)
    return client.post(path, json=body, headers=headers)


def _calendar_id(code: str) -> int:
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Calendar

    return db.session.execute(select(Calendar.id).where(Calendar.code == code)).scalar_one()


# The wall display (docs/dashboards.md): logged in, the dashboards' readers
# (a centre's managers see their one centre); by a display link, anyone who
# holds the address, logged in or not. The data answers JSON, 401 to nobody
# logged in. Only administrators make and revoke links.
DISPLAY_READERS = MANAGERS | {"leadership", "admin"}
ROUTES.update({
    "display.index": ("GET", "/display", only(DISPLAY_READERS)),
    "display.data": ("GET", "/display/data", {**only(DISPLAY_READERS), "anonymous": 401}),
    "display.shared": ("GET", "/display/{display_secret}", everyone(OK)),
    "display.shared_data": ("GET", "/display/{display_secret}/data", everyone(OK)),
    "display_links.index": ("GET", "/admin/display-links/", only({"admin"})),
    "display_links.revoke": ("POST", "/admin/display-links/{display_link_id}/revoke", only({"admin"}, REDIRECT)),
})


def _display_ids(template: str) -> dict:
    """Make a display link of every centre when the route needs one."""
    if "{display_secret}" not in template and "{display_link_id}" not in template:
        return {}
    from tests.factories import T0
    from tracker.services.insight import display

    link, secret = display.create_link(name="Office wall", centre_id=None, actor=None, now=T0)
    return {"display_secret": secret, "display_link_id": link.id}


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
        building_id=world.locations["building"].id,
        calendar_id=_calendar_id("office"),
        policy_id=world.policies["repairs"].id,
        **_ops_ids(template, world, ticket),
        **_feedback_ids(template, world),
        **_api_ids(template, world, ticket),
        **_survey_ids(template, world),
        **_attachment_ids(template, world, ticket),
        **_standards_ids(template, world),
        **_display_ids(template),
        **_material_ids(template, world, ticket),
        **_supervision_ids(template, world, ticket),
        **_contractor_ids(template),
    )
    if path.startswith("/api/"):
        response = _api_call(client, world, endpoint, method, path, role)
    else:
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


# Duty rosters (docs/dispatch.md): the centre's dispatchers and head keep them (administrators
# anywhere); its head alone sets skills and automatic dispatch; every technician reads their own shifts.
ROSTER_KEEPERS = MANAGERS | {"admin"}
ROUTES.update({
    "dispatch.roster": ("GET", "/dispatch/roster?centre={centre_id}", only(ROSTER_KEEPERS)),
    "dispatch.my_shifts": ("GET", "/dispatch/my-shifts", only(STAFF)),
    # Sent without the shift's fields, its file, or a week to copy: refused with a message, back to the roster.
    "dispatch.add_shift": ("POST", "/dispatch/roster/{centre_id}/shifts", only(ROSTER_KEEPERS, REDIRECT)),
    "dispatch.copy_week": ("POST", "/dispatch/roster/{centre_id}/copy", only(ROSTER_KEEPERS, REDIRECT)),
    "dispatch.import_roster": ("POST", "/dispatch/roster/{centre_id}/import", only(ROSTER_KEEPERS, REDIRECT)),
    "dispatch.delete_shift": ("POST", "/dispatch/shifts/999999/delete", only(ROSTER_KEEPERS, MISSING)),
    "dispatch.save_settings": ("POST", "/dispatch/roster/{centre_id}/settings",
                               only({"centre_head", "admin"}, REDIRECT)),
    # The requester is no technician: nobody's skills to set.
    "dispatch.save_skills": ("POST", "/dispatch/roster/{centre_id}/skills/{user_id}",
                             only({"centre_head", "admin"}, MISSING)),
})
