"""Delivery under faults, through real workers: a worker killed mid-send, slow sends, the mail server down.

The worker tests' system (``tests/integration/workers.py``): a fresh
database, real Celery workers as subprocesses, an SMTP sink and a webhook
receiver on 127.0.0.1. docs/workers.md, "Delivery guarantees", states what
these tests prove per channel.
"""

import json
from collections import Counter

import pytest
from sqlalchemy import select

from tests.factories import build_world, make_ticket
from tests.integration import workers
from tests.integration.test_workers import quick_policy
from tracker.clock import utcnow
from tracker.domain.sla_clock import Target
from tracker.extensions import db
from tracker.models import (
    Channel,
    DeliveryStatus,
    EventKind,
    Notification,
    TicketEvent,
    TicketSla,
    Webhook,
    WebhookFormat,
)
from tracker.services.notify import outbox

pytestmark = pytest.mark.worker

artifacts, make_system = workers.artifacts, workers.make_system
smtp_sink, webhook_receiver = workers.smtp_sink, workers.webhook_receiver

NOTICES = Notification.__table__


def add_hook(url: str, format: WebhookFormat) -> int:
    hook = Webhook(name="operations", url=url, format=format, secret="", centre_id=None, kinds=["ticket_filed"],
                   is_active=True, created_at=utcnow())
    db.session.add(hook)
    db.session.commit()
    return hook.id


def queue_notices(count: int, *, recipients: list[int] = (), kind: str = "ticket_filed") -> list[str]:
    """Queue ``count`` notices in one transaction (one delivery task for all); return their titles."""
    titles = [f"notice-{number:02d}" for number in range(1, count + 1)]
    notices = [outbox.Notice(kind=kind, key=f"fault:{title}", subject=title,
                             payload={"reference": title, "title": title}) for title in titles]
    outbox.queue(notices, {notice.key: list(recipients) for notice in notices}, now=utcnow())
    db.session.commit()
    return titles


def states(system, *where) -> Counter:
    return Counter(str(r.status) for r in system.rows(select(NOTICES.c.status).where(*where)))


def settled(system, *where) -> bool:
    found = states(system, *where)
    return sum(found.values()) > 0 and found["pending"] == found["sending"] == 0


def delivery_results(worker) -> list[dict]:
    return [t["result"] for t in worker.tasks() if t["name"].startswith("notifications.")
            and t["what"] == "succeeded" and isinstance(t["result"], dict)]


def test_a_worker_killed_mid_post_to_a_robot_posts_no_notice_twice(make_system, webhook_receiver):
    # Each post takes 1.5 s to answer; a claim lasts 2 s unless renewed.
    webhook_receiver.delay_seconds = 1.5
    system = make_system(settings={"TRACKER_OUTBOX_CLAIM_SECONDS": "2", "TRACKER_WEBHOOK_TIMEOUT": "10"})
    build_world()
    hook_id = add_hook(webhook_receiver.url, WebhookFormat.WECOM)
    # Queued before the worker starts: the filesystem transport can hand a
    # worker a message file that is still being written.
    titles = queue_notices(4)
    system.release()
    doomed = system.start_worker("doomed")

    # The first post answered, the second received and not answered yet: kill.
    system.wait_until("the second post received", lambda: len(webhook_receiver.received()) >= 2, timeout=30,
                      interval=0.02)
    doomed.kill()
    cut_off = titles[1]

    rescuer = system.start_worker("rescuer", beat=True)
    hook_rows = (NOTICES.c.webhook_id == hook_id,)
    system.wait_until("every notice sent or failed", lambda: settled(system, *hook_rows), timeout=30)
    rescuer.wait_for_log(r"Task notifications\.deliver_pending\[[^\]]+\] succeeded", count=len(
        [t for t in rescuer.tasks("notifications.deliver_pending") if t["what"] == "succeeded"]) + 2)

    posted = Counter()
    for request in webhook_receiver.received():
        content = json.loads(request["raw"])["markdown"]["content"]
        posted.update(title for title in titles if title in content)
    assert posted == Counter(titles)  # each exactly once: the cut-off one arrived before the kill
    rows = {r.subject: r for r in system.rows(select(NOTICES).where(*hook_rows))}
    assert {title: str(rows[title].status) for title in titles} == {
        title: "failed" if title == cut_off else "sent" for title in titles}
    assert rows[cut_off].last_error == outbox.CUT_OFF
    system.figure("posts per notice after the kill", dict(posted))


def test_a_batch_slower_than_its_claim_is_shared_without_a_repeat(make_system, webhook_receiver):
    # Eight posts of 0.5 s in one batch whose claim lasts 1 s: the other worker
    # takes over what is still waiting, and no post is made twice.
    webhook_receiver.delay_seconds = 0.5
    system = make_system(settings={"TRACKER_OUTBOX_CLAIM_SECONDS": "1"})
    build_world()
    hook_id = add_hook(webhook_receiver.url, WebhookFormat.GENERIC)
    titles = queue_notices(8)
    system.release()
    first = system.start_worker("first", ready=False)
    second = system.start_worker("second", beat=True, ready=False)
    first.wait_ready()
    second.wait_ready()

    system.wait_until("every notice sent", lambda: states(system, NOTICES.c.webhook_id == hook_id)
                      == Counter({"sent": len(titles)}), timeout=30)

    keys = Counter(r["headers"]["idempotency-key"] for r in webhook_receiver.received())
    assert len(keys) == len(titles) and set(keys.values()) == {1}
    results = delivery_results(first) + delivery_results(second)
    skipped = sum(r.get("skipped", 0) for r in results)
    system.figure("notices taken over by the other worker before their turn", skipped)
    assert skipped >= 1
    assert first.errors() == [] and second.errors() == []


def test_mail_waits_while_the_smtp_server_is_down_and_goes_once_when_it_is_back(make_system, smtp_sink):
    system = make_system(settings={"TRACKER_OUTBOX_BACKOFF_SECONDS": "1"})
    world = build_world()
    technician = world.users["technician"]
    technician.email = "technician@campus.test"
    db.session.commit()

    smtp_sink.stop()
    titles = queue_notices(20, recipients=[technician.id], kind="ticket_assigned")
    technician_id = technician.id
    system.release()
    worker = system.start_worker(beat=True)
    mail_rows = (NOTICES.c.channel == Channel.EMAIL,)

    def all_failed_once():
        rows = system.rows(select(NOTICES.c.status, NOTICES.c.attempts, NOTICES.c.last_error).where(*mail_rows))
        return len(rows) == len(titles) and all(r.attempts >= 1 and r.last_error for r in rows)

    system.wait_until("every mail tried and refused", all_failed_once, timeout=30)
    assert smtp_sink.received(prefix="fault:") == []
    assert states(system, *mail_rows)["sent"] == 0 and states(system, *mail_rows)["failed"] == 0

    smtp_sink.start()
    system.wait_until("every mail sent after the server came back",
                      lambda: states(system, *mail_rows) == Counter({"sent": len(titles)}), timeout=60)
    worker.wait_for_log(r"Task notifications\.deliver_pending\[[^\]]+\] succeeded", count=len(
        [t for t in worker.tasks("notifications.deliver_pending") if t["what"] == "succeeded"]) + 2)

    mails = smtp_sink.received(prefix="fault:")
    assert Counter(m["key"] for m in mails) == Counter(f"fault:{t}:email:u{technician_id}" for t in titles)
    assert {m["to"] for m in mails} == {"technician@campus.test"}
    attempts = [r.attempts for r in system.rows(select(NOTICES.c.attempts).where(*mail_rows))]
    system.figure("attempts per mail", dict(Counter(attempts)))
    assert min(attempts) >= 2
    assert system.count(Notification, Notification.status == DeliveryStatus.FAILED) == 0


def test_a_breach_is_flagged_on_time_while_the_notice_worker_drains_a_backlog(make_system, webhook_receiver):
    # 60 posts of 0.25 s keep the notice worker busy for 15 s; the sweep has
    # its own queue and worker (desk.py run, README "Production").
    webhook_receiver.delay_seconds = 0.25
    system = make_system()
    world = build_world()
    quick_policy(world, "three-seconds", {"response": ("always", 0.05)})  # late 3 s after filing
    hook_id = add_hook(webhook_receiver.url, WebhookFormat.GENERIC)
    queue_notices(60)
    system.release()
    notices = system.start_worker("notify", queues="celery", ready=False)
    sla = system.start_worker("sla", queues="sla", beat=True, ready=False)
    notices.wait_ready()
    sla.wait_ready()
    system.wait_until("the backlog being posted", lambda: webhook_receiver.received(), timeout=30)

    ticket_id = make_ticket(world, now=utcnow()).id
    events = TicketEvent.__table__
    breached = (events.c.ticket_id == ticket_id, events.c.kind == EventKind.SLA_BREACHED)
    system.wait_until("the breach flagged", lambda: system.count(events, *breached), timeout=30, interval=0.05)
    waiting = states(system, NOTICES.c.webhook_id == hook_id)

    [event] = system.rows(select(events).where(*breached))
    [(due_at,)] = system.rows(select(TicketSla.due_at).where(TicketSla.ticket_id == ticket_id,
                                                             TicketSla.target == Target.RESPONSE))
    detected = (event.created_at - due_at).total_seconds()
    system.figure("breach recorded after the deadline, backlog waiting", f"{detected:.2f} s, {dict(waiting)}")
    assert waiting["pending"] + waiting["sending"] > 0  # the backlog was still being drained
    assert 0 < detected < 5
    assert [t for t in notices.tasks() if t["name"].startswith("sla.")] == []
    assert notices.errors() == [] and sla.errors() == []
