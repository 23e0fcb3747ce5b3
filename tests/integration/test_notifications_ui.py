"""The in-app side of notices and escalations, and the operations pages, as users see them."""

import html
import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tracker.clock import utcnow
from tracker.domain.workflow import Action, Status
from tracker.models import (
    Channel,
    DeliveryStatus,
    Escalation,
    EventKind,
    Notification,
    TicketEvent,
    Webhook,
)
from tracker.services.notify import outbox
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import sweep as sla_sweep

BADGE_RE = re.compile(r'id="unread-count">(\d+)<')


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return html.unescape(response.get_data(as_text=True))


def _badge(client) -> int:
    """Return the unread count in the header (0 when no badge shows)."""
    match = BADGE_RE.search(client.get("/account").get_data(as_text=True))
    return int(match.group(1)) if match else 0


def _count(db, model, *where) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _notices(db, user, *, kind=None, channel=None) -> list[Notification]:
    db.session.expire_all()
    query = select(Notification).where(Notification.user_id == user.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    return list(db.session.execute(query.order_by(Notification.id)).scalars())


# ---------------------------------------------------------------- inbox


def test_unread_badge_counts_new_notices_and_drops_after_reading(client, db, world, login_as):
    technician = world.users["technician"]
    first = make_ticket(world, status=Status.ASSIGNED)
    make_ticket(world, status=Status.ASSIGNED, now=T0 + timedelta(hours=1))
    login_as("technician")
    assert _badge(client) == 2

    [notice, _second] = _notices(db, technician, channel=Channel.IN_APP)
    response = client.get(f"/notifications/{notice.id}/open")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tickets/{first.reference}")
    assert _badge(client) == 1

    response = post_form(client, "/notifications/read")
    assert response.status_code == 302
    assert _badge(client) == 0
    assert all(n.read_at is not None for n in _notices(db, technician, channel=Channel.IN_APP))


def test_notifications_page_shows_a_breach_in_the_viewers_language(client, db, world, login_as):
    ticket = make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=31))  # response breached: the centre head hears
    head = world.users["centre_head"]
    [notice] = _notices(db, head, kind="sla_breached", channel=Channel.IN_APP)
    assert notice.locale == "zh_CN"  # stored in the recipient's default language ...
    login_as("centre_head")
    page = _page(client, "/notifications")
    # ... and shown in the language the page is read in.
    assert f"[{ticket.reference}] Response deadline passed" in page
    assert f"/notifications/{notice.id}/open" in page
    assert 'class="notice-item unread"' in page

    post_form(client, "/language", {"locale": "zh_CN"})
    response = client.get("/notifications")
    assert response.status_code == 200
    assert ticket.reference in response.get_data(as_text=True)


def test_opening_another_users_notice_is_not_found_and_marks_nothing(client, db, world, login_as):
    make_ticket(world, status=Status.ASSIGNED)
    [notice] = _notices(db, world.users["technician"], channel=Channel.IN_APP)
    login_as("other_technician")
    assert client.get(f"/notifications/{notice.id}/open").status_code == 404
    # An e-mail notice is not an in-app one, even for its own recipient.
    [email] = _notices(db, world.users["technician"], channel=Channel.EMAIL)
    assert client.get(f"/notifications/{email.id}/open").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, notice.id).read_at is None


# ---------------------------------------------------------------- preferences


def _is_ticked(page: str, name: str) -> bool:
    [tag] = re.findall(rf'<input[^>]*\bid="{name}"[^>]*>', page)
    return re.search(r"\schecked[\s>]", tag) is not None


def test_preferences_show_the_defaults_and_turning_email_off_stops_email_only(client, db, world, login_as):
    technician = world.users["technician"]
    login_as("technician")
    page = client.get("/account/notifications").get_data(as_text=True)
    assert _is_ticked(page, "ticket_assigned__email") and _is_ticked(page, "ticket_assigned__in_app")
    assert not _is_ticked(page, "ticket_commented__email")  # off by default
    assert "/account/notifications" in client.get("/account").get_data(as_text=True)

    chosen = {
        f"{kind}__{channel.value}": "y"
        for kind, defaults in outbox.KINDS.items()
        for channel, on in defaults.items()
        if on
    }
    del chosen["ticket_assigned__email"]
    response = post_form(client, "/account/notifications", chosen)
    assert response.status_code == 302
    assert outbox.choices_for(technician)[("ticket_assigned", Channel.EMAIL)] is False
    page = client.get("/account/notifications").get_data(as_text=True)
    assert not _is_ticked(page, "ticket_assigned__email") and _is_ticked(page, "ticket_assigned__in_app")

    make_ticket(world, status=Status.ASSIGNED)
    assigned = _notices(db, technician, kind="ticket_assigned")
    assert [n.channel for n in assigned] == [Channel.IN_APP]


# ---------------------------------------------------------------- escalations


def _escalation(db, ticket) -> Escalation:
    db.session.expire_all()
    return db.session.execute(select(Escalation).where(Escalation.ticket_id == ticket.id)).scalar_one()


def test_the_receiver_acknowledges_an_escalation_from_the_ticket_page(client, db, world, login_as):
    ticket = make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=23))  # response at risk, unassigned: the dispatcher
    escalation = _escalation(db, ticket)
    action = f"/escalations/{escalation.id}/acknowledge"
    login_as("dispatcher")
    page = _page(client, f"/tickets/{ticket.reference}")
    assert "Level 1: assignee" in page and "Deadline at risk" in page and "Sent to Dispatcher" in page
    assert action in page
    assert ticket.reference in _page(client, "/escalations/")

    response = post_form(client, action, {"next": f"/tickets/{ticket.reference}"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tickets/{ticket.reference}")
    escalation = _escalation(db, ticket)
    assert escalation.acknowledged_by_id == world.users["dispatcher"].id
    [event] = (
        db.session.execute(select(TicketEvent).where(TicketEvent.kind == EventKind.ESCALATION_ACKNOWLEDGED))
        .scalars()
        .all()
    )
    assert event.actor_id == world.users["dispatcher"].id
    page = _page(client, f"/tickets/{ticket.reference}")
    assert action not in page
    assert "acknowledged the escalation of Response" in page
    assert ticket.reference not in _page(client, "/escalations/")


def test_a_non_receiver_cannot_acknowledge_and_nothing_changes(client, db, world, login_as):
    ticket = make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=23))
    escalation = _escalation(db, ticket)
    login_as("centre_head")  # sees the ticket, but level 1 went to the dispatcher
    page = _page(client, f"/tickets/{ticket.reference}")
    assert f"/escalations/{escalation.id}/acknowledge" not in page
    assert ticket.reference not in _page(client, "/escalations/")
    response = post_form(client, f"/escalations/{escalation.id}/acknowledge")
    assert response.status_code == 403
    assert _escalation(db, ticket).acknowledged_at is None
    assert _count(db, TicketEvent, TicketEvent.kind == EventKind.ESCALATION_ACKNOWLEDGED) == 0
    assert post_form(client, "/escalations/999999/acknowledge").status_code == 404


def test_escalations_page_lists_what_each_level_receives(client, db, world, login_as):
    assigned = make_ticket(world, status=Status.ASSIGNED)
    late = make_ticket(world)
    # Response breached on both (level 2, heads); nobody acknowledges: leadership after 2 h.
    sla_sweep.sweep_due(T0 + timedelta(minutes=31))
    sla_sweep.sweep_due(T0 + timedelta(hours=3))
    login_as("centre_head")
    page = _page(client, "/escalations/")
    assert assigned.reference in page and late.reference in page and "Level 2: centre head" in page
    post_form(client, "/logout")
    login_as("leadership")
    page = _page(client, "/escalations/")
    assert "Level 3: leadership" in page and late.reference in page
    # A cancelled request has nothing left to chase.
    ticket_service.transition(
        late.id,
        Action.CANCEL,
        actor=world.users["requester"],
        now=T0 + timedelta(hours=4),
        reason="Fixed it myself.",
    )
    assert late.reference not in _page(client, "/escalations/")


def test_requesters_do_not_see_escalations(client, db, world, login_as):
    ticket = make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=23))
    login_as("requester")
    page = _page(client, f"/tickets/{ticket.reference}")
    assert 'id="escalations"' not in page
    assert "/escalations/" not in page  # not in the menu either


# ---------------------------------------------------------------- operations


def _failed_email(db, world) -> Notification:
    """Queue an e-mail to the technician, who has no address: delivery fails for good."""
    make_ticket(world, status=Status.ASSIGNED)
    result = outbox.deliver(utcnow)
    assert result.failed == 1
    [email] = _notices(db, world.users["technician"], channel=Channel.EMAIL)
    assert email.status is DeliveryStatus.FAILED
    return email


def test_admin_outbox_lists_a_failure_and_retry_puts_it_back(client, db, world, login_as):
    email = _failed_email(db, world)
    login_as("admin")
    page = _page(client, "/admin/ops/")
    assert f'id="notice-{email.id}"' in page
    assert "the recipient has no e-mail address" in page
    assert re.search(r'id="count-failed">\s*<strong>Failed</strong>\s*<span class="figure">1<', page)
    assert "/admin/ops/" in page and "Operations" in page  # in the menu

    response = post_form(client, f"/admin/ops/notifications/{email.id}/retry")
    assert response.status_code == 302
    db.session.expire_all()
    email = db.session.get(Notification, email.id)
    assert (email.status, email.attempts) == (DeliveryStatus.PENDING, 0)
    assert f'id="notice-{email.id}"' not in _page(client, "/admin/ops/")


def test_webhook_form_refuses_a_bad_address_and_a_missing_name(client, db, world, login_as):
    login_as("admin")
    response = post_form(
        client,
        "/admin/ops/webhooks/new",
        {"name": "", "url": "ftp://x", "format": "generic", "kinds": ["sla_breached"]},
    )
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Give the webhook a name." in page
    assert "A webhook's address starts with http:// or https://" in page
    assert "nothing was saved" in page
    assert _count(db, Webhook) == 0


def test_admin_creates_tests_and_switches_off_a_webhook(client, db, world, login_as):
    login_as("admin")
    response = post_form(
        client,
        "/admin/ops/webhooks/new",
        {
            "name": "Repairs duty group",
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1",
            "format": "wecom",
            "centre_id": world.centres["repairs"].id,
            "kinds": ["sla_breached", "sla_escalated"],
        },
    )
    assert response.status_code == 302
    hook = db.session.execute(select(Webhook)).scalar_one()
    assert (hook.format.value, hook.centre_id, hook.kinds) == (
        "wecom",
        world.centres["repairs"].id,
        ["sla_breached", "sla_escalated"],
    )
    page = _page(client, "/admin/ops/webhooks")
    assert "qyapi.weixin.qq.com" in page and "key=k1" not in page  # the key is a secret

    assert post_form(client, f"/admin/ops/webhooks/{hook.id}/test").status_code == 302
    [notice] = (
        db.session.execute(select(Notification).where(Notification.webhook_id == hook.id)).scalars().all()
    )
    assert (notice.kind, notice.channel, notice.status) == (
        "webhook_test",
        Channel.WEBHOOK,
        DeliveryStatus.PENDING,
    )

    assert post_form(client, f"/admin/ops/webhooks/{hook.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(Webhook, hook.id).is_active is False
    response = post_form(client, f"/admin/ops/webhooks/{hook.id}/test")
    assert "switch it on before sending a test message" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert _count(db, Notification, Notification.webhook_id == hook.id) == 1


# ---------------------------------------------------------------- command line


def test_cli_reports_delivers_and_sweeps(app, db, world):
    runner = app.test_cli_runner()
    email = _failed_email(db, world)
    result = runner.invoke(args=["outbox-status"])
    assert result.exit_code == 0, result.output
    assert "failed: 1" in result.output and "pending: 0" in result.output
    assert f"#{email.id} ticket_assigned email to user technician, 1 attempts" in result.output
    assert "no e-mail address" in result.output

    outbox.retry_now(email.id, now=utcnow())
    result = runner.invoke(args=["outbox-deliver"])
    assert result.exit_code == 0, result.output
    assert "outbox: 0 sent, 0 to retry, 1 failed" in result.output

    make_ticket(world)  # filed in March: its response is long late now
    result = runner.invoke(args=["sla-sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SLA sweep: ") and " breached" in result.output
    assert _count(db, Escalation) >= 1
