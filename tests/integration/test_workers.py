"""SLA sweeps and notifications through real Celery workers, beat and broker.

Each test runs its own system (``tests/integration/workers.py``): a fresh
database, the broker of the run (TEST_BROKER_URL's Redis, else the filesystem
transport) or a private Redis, workers as subprocesses, an SMTP sink and a
webhook receiver on 127.0.0.1. Waits poll the database against a deadline;
the figures measured are printed and kept in test-artifacts/workers/<test>/.
"""

import hashlib
import hmac
import json
import logging
import statistics
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import build_world, make_ticket
from tests.integration import workers
from tests.integration.workers import LogRecords, copy_tickets
from tracker.clock import utcnow
from tracker.domain.sla_clock import Target
from tracker.domain.workflow import Action, Priority, Status
from tracker.extensions import db
from tracker.models import (
    Channel,
    DeliveryStatus,
    Escalation,
    EventKind,
    Notification,
    Ticket,
    TicketEvent,
    TicketSla,
    Webhook,
    WebhookFormat,
)
from tracker.services.notify import outbox
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import config as sla_config
from tracker.services.sla import sweep as sla_sweep

pytestmark = pytest.mark.worker

# The fixtures of workers.py, by name: pytest finds them here.
artifacts, make_system, private_redis = workers.artifacts, workers.make_system, workers.private_redis
smtp_sink, webhook_receiver = workers.smtp_sink, workers.webhook_receiver

SECRET = "webhook-secret"
EVENTS, NOTICES, ESCALATIONS = TicketEvent.__table__, Notification.__table__, Escalation.__table__


# ---------------------------------------------------------------- data


def world_with_mail():
    """The test world, every user with an e-mail address."""
    world = build_world()
    for user in world.users.values():
        user.email = f"{user.username}@campus.test"
    db.session.commit()
    return world


def quick_policy(world, code: str, targets: dict[str, tuple[str, float]], *, category: str = "water"):
    """Create a policy (target -> (calendar, minutes) for every priority) and give it to ``category``."""
    definition = {"targets": {
        target: {"calendar": calendar, "minutes": {p.value: minutes for p in Priority}, "at_risk": 0.75}
        for target, (calendar, minutes) in targets.items()
    }}
    now = utcnow()
    policy = sla_config.create_policy(code=code, name_en=code, name_zh=code, definition=definition, actor=None,
                                      now=now)
    sla_config.assign_policy(world.categories[category].id, policy.id, actor=None, now=now)
    return policy


def add_webhook(url: str, kinds: list[str]) -> int:
    hook = Webhook(name="operations", url=url, format=WebhookFormat.GENERIC, secret=SECRET, centre_id=None,
                   kinds=kinds, is_active=True, created_at=utcnow())
    db.session.add(hook)
    db.session.commit()
    return hook.id


def no_email(user, kind: str) -> None:
    outbox.set_preferences(user, {(kind, Channel.EMAIL): False})


def sweep_results(worker) -> list[dict]:
    return [t["result"] for t in worker.tasks("sla.sweep_due") if t["what"] == "succeeded"]


def succeeded(worker, task_name: str) -> int:
    return sum(1 for t in worker.tasks(task_name) if t["what"] == "succeeded")


def escalation_keys(system) -> Counter:
    return Counter(
        (r.ticket_id, str(r.target), r.level)
        for r in system.rows(select(ESCALATIONS.c.ticket_id, ESCALATIONS.c.target, ESCALATIONS.c.level))
    )


def sla_event_keys(system) -> Counter:
    rows = system.rows(select(EVENTS.c.ticket_id, EVENTS.c.kind, EVENTS.c.data).where(
        EVENTS.c.kind.in_([EventKind.SLA_AT_RISK, EventKind.SLA_BREACHED, EventKind.SLA_ESCALATED])))
    return Counter((r.ticket_id, r.data["target"], r.data["level"]) for r in rows)


def notice_keys(system) -> Counter:
    # The dispatchers' "new request" notices of filing are not the sweep's.
    rows = system.rows(select(NOTICES.c.ticket_id, NOTICES.c.kind, NOTICES.c.user_id, NOTICES.c.channel)
                       .where(NOTICES.c.kind != "ticket_filed"))
    return Counter((r.ticket_id, r.kind, r.user_id, str(r.channel)) for r in rows)


def once_each(counter: Counter) -> bool:
    return all(n == 1 for n in counter.values())


# ---------------------------------------------------------------- tests


def test_a_breach_is_flagged_mailed_and_posted_once_by_worker_and_beat(make_system, smtp_sink, webhook_receiver):
    system = make_system()
    worker = system.start_worker(concurrency=2, beat=True, ready=False)  # starts while the data is made
    world = world_with_mail()
    # Response within 3 seconds, round the clock: at risk after 2.25 s, late after 3.
    quick_policy(world, "three-seconds", {"response": ("always", 0.05)})
    hook_id = add_webhook(webhook_receiver.url, ["sla_breached"])
    head = world.users["centre_head"]
    head_id, head_email = head.id, head.email
    worker.wait_ready()

    ticket = make_ticket(world, now=utcnow())
    ticket_id, reference = ticket.id, ticket.reference
    breach = f"sla:{ticket_id}:response:2"
    mail_key, hook_key = f"{breach}:email:u{head_id}", f"{breach}:webhook:w{hook_id}"

    system.wait_until(
        "the breach flagged, mailed to the centre head and posted to the webhook",
        lambda: system.count(Notification, Notification.idempotency_key.in_([mail_key, hook_key]),
                             Notification.status == DeliveryStatus.SENT) == 2,
        timeout=30,
    )
    # Two more rounds of both sweeps: a second breach or delivery would happen now.
    worker.wait_for_log(r"Task sla\.sweep_due\[[^\]]+\] succeeded", count=succeeded(worker, "sla.sweep_due") + 2)
    worker.wait_for_log(r"Task notifications\.deliver_pending\[[^\]]+\] succeeded",
                        count=succeeded(worker, "notifications.deliver_pending") + 2)

    [event] = system.rows(select(EVENTS).where(EVENTS.c.ticket_id == ticket_id,
                                               EVENTS.c.kind == EventKind.SLA_BREACHED))
    [(due_at,)] = system.rows(select(TicketSla.due_at).where(TicketSla.ticket_id == ticket_id,
                                                             TicketSla.target == Target.RESPONSE))
    assert event.data["target"] == "response" and event.actor_id is None
    assert system.count(Escalation, Escalation.ticket_id == ticket_id, Escalation.level == 2) == 1

    [mail] = smtp_sink.received(mail_key)
    assert mail["to"] == head_email and mail["rcpt_tos"] == [head_email]
    assert reference in mail["subject"]

    [request] = webhook_receiver.received(hook_key)
    assert len(webhook_receiver.requests) == 1  # it asked for breaches only
    expected = "sha256=" + hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["x-tracker-signature"], expected)
    body = json.loads(request["raw"])
    assert (body["kind"], body["idempotency_key"], body["payload"]["reference"]) == ("sla_breached", hook_key,
                                                                                     reference)

    detected = (event.created_at - due_at).total_seconds()
    system.figure("breach recorded after the deadline", f"{detected:.2f} s")
    system.figure("breach mail received after the deadline", f"{mail['at'] - due_at.timestamp():.2f} s")
    system.figure("breach webhook received after the deadline", f"{request['at'] - due_at.timestamp():.2f} s")
    # Not a timing test: a bound that only a broken beat or sweep misses.
    assert 0 < detected < 15
    assert worker.errors() == []


def test_two_sweeps_at_once_in_workers_and_threads_escalate_and_notify_once(make_system, smtp_sink):
    # Small batches: each sweep commits many times, and the sweeps interleave.
    system = make_system(settings={"TRACKER_SLA_SWEEP_BATCH": "25"})
    worker = system.start_worker(concurrency=2, ready=False)  # starts while the data is made
    world = world_with_mail()
    # Filed 3.5 hours ago: response (30 min) is late, and late for longer than
    # the 2 hours after which leadership hears of it; resolution (4 h) is at risk.
    quick_policy(world, "half-hour", {"response": ("always", 30), "resolution": ("always", 240)})
    users = {name: world.users[name].id for name in ("centre_head", "leadership", "dispatcher")}
    no_email(world.users["leadership"], "sla_escalated")
    no_email(world.users["dispatcher"], "sla_at_risk")
    filed_at = utcnow() - timedelta(minutes=210)
    count = 300
    started = time.perf_counter()
    ticket_ids = [make_ticket(world, now=filed_at + timedelta(seconds=i)).id for i in range(count)]
    system.figure("tickets filed through the services", f"{count} in {time.perf_counter() - started:.1f} s")
    system.release()
    worker.wait_ready()

    # Two sweeps in the worker's two processes, then two threads here, all at once.
    system.send("sla.sweep_due")
    system.send("sla.sweep_due")
    worker.wait_for_log(r"Task sla\.sweep_due\[[^\]]+\] received", count=2)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def sweep(index: int) -> None:
        with system.app.app_context():
            try:
                barrier.wait(timeout=10)
                results[index] = sla_sweep.sweep_due(utcnow(), batch_size=25)
            except BaseException as error:  # re-raised below, in the test's thread
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep, args=(i,), name=f"sweep-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a sweep in this process did not finish within 60 s"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    worker.wait_for_log(r"Task sla\.sweep_due\[[^\]]+\] succeeded", count=2, timeout=60)
    system.wait_until(f"{count} breach mails", lambda: len(smtp_sink.received(prefix="sla:")) >= count, timeout=60)
    system.wait_until("the worker idle", worker.is_idle, timeout=30)

    in_worker = sweep_results(worker)
    system.figure("clocks taken by each sweep (worker, worker, thread, thread)",
                  ", ".join(str(r["clocks"]) for r in in_worker) + ", "
                  + ", ".join(str(r.clocks) for r in results))
    # Each clock is taken by exactly one sweep: none waits for or redoes another's rows.
    assert sum(r["clocks"] for r in in_worker) + sum(r.clocks for r in results) == 2 * count
    assert system.count(TicketSla, TicketSla.next_check_at <= utcnow()) == 0

    expected = {(t, "response", 2) for t in ticket_ids} | {(t, "response", 3) for t in ticket_ids} | {
        (t, "resolution", 1) for t in ticket_ids}
    escalations, events = escalation_keys(system), sla_event_keys(system)
    assert set(escalations) == expected and once_each(escalations)
    assert set(events) == expected and once_each(events)
    notices = notice_keys(system)
    assert set(notices) == {
        (t, kind, users[who], channel)
        for t in ticket_ids
        for kind, who, channels in (("sla_breached", "centre_head", ("in_app", "email")),
                                    ("sla_escalated", "leadership", ("in_app",)),
                                    ("sla_at_risk", "dispatcher", ("in_app",)))
        for channel in channels
    }
    assert once_each(notices)
    mails = smtp_sink.received(prefix="sla:")
    assert len(mails) == count
    assert len({m["message_id"] for m in mails}) == count and len({m["key"] for m in mails}) == count
    assert system.count(Notification, Notification.status != DeliveryStatus.SENT) == 0
    assert worker.errors() == []


def test_a_sweep_killed_mid_way_loses_and_repeats_nothing(make_system):
    system = make_system(settings={"TRACKER_SLA_SWEEP_BATCH": "50"})
    first = system.start_worker("doomed", ready=False)  # starts while the data is made; no beat
    world = world_with_mail()
    quick_policy(world, "half-hour", {"response": ("always", 30)})
    no_email(world.users["centre_head"], "sla_breached")  # in the application only: the sweep is the subject
    head_id = world.users["centre_head"].id
    filed_at = utcnow() - timedelta(minutes=60)  # late, not yet for leadership
    templates = [make_ticket(world, now=filed_at + timedelta(seconds=i)).id for i in range(10)]
    total = 5000
    for template in templates:
        copy_tickets(template, total // len(templates) - 1)
    assert system.count(TicketSla, TicketSla.next_check_at <= utcnow()) == total
    system.release()

    system.send("sla.sweep_due")
    done = system.wait_until(
        "the sweep half-way",
        lambda: (n := system.count(Escalation)) >= 10 * 50 and n,
        timeout=60, interval=0.02,
    )
    first.kill()
    partial = system.count(Escalation)
    system.figure("escalations when the worker was killed", f"{done} seen, {partial} after the kill, of {total}")
    assert 0 < partial < total, "the kill did not land mid-way: make the sweep longer"
    # Whole batches or nothing: each escalation has its event and notice, each
    # clock without one is still due.
    assert system.count(TicketEvent, TicketEvent.kind == EventKind.SLA_BREACHED) == partial
    assert system.count(Notification, Notification.kind != "ticket_filed") == partial
    assert system.count(TicketSla, TicketSla.next_check_at <= utcnow()) == total - partial

    second = system.start_worker("survivor", ready=False)
    system.send("sla.sweep_due")
    second.wait_for_log(r"Task sla\.sweep_due\[[^\]]+\] succeeded", timeout=60)
    [result] = sweep_results(second)
    system.figure("clocks swept after the restart", str(result["clocks"]))

    ticket_ids = [r.id for r in system.rows(select(Ticket.id))]
    assert len(ticket_ids) == total
    escalations, events = escalation_keys(system), sla_event_keys(system)
    assert set(escalations) == {(t, "response", 2) for t in ticket_ids} and once_each(escalations)
    assert set(events) == set(escalations) and once_each(events)
    notices = notice_keys(system)
    assert set(notices) == {(t, "sla_breached", head_id, "in_app") for t in ticket_ids} and once_each(notices)
    assert system.count(TicketSla, TicketSla.next_check_at <= utcnow()) == 0
    assert system.count(Ticket, Ticket.is_sla_breached.is_(False)) == 0
    assert first.errors() == [] and second.errors() == []


def test_notices_queued_while_redis_is_down_are_delivered_once_when_it_is_back(private_redis, make_system, smtp_sink):
    system = make_system(broker_url=private_redis.url)
    world = world_with_mail()
    technician, dispatcher = world.users["technician"], world.users["dispatcher"]
    technician_id, technician_email = technician.id, technician.email
    count = 100
    worker = system.start_worker(concurrency=2, beat=True, ready=False)
    # Filing queues no notice: done first, it keeps Redis's downtime short (the
    # worker reconnects after 2, 6, 12, 20 ... s).
    ticket_ids = [make_ticket(world, now=utcnow()).id for _ in range(count)]
    system.release()
    worker.wait_ready()

    private_redis.stop()
    warnings = LogRecords("tracker.queueing", logging.WARNING).attach()
    durations = []
    try:
        for ticket_id in ticket_ids:
            started = time.perf_counter()
            ticket_service.transition(ticket_id, Action.ASSIGN, actor=dispatcher, now=utcnow(),
                                      assignee_id=technician_id)
            durations.append(time.perf_counter() - started)
    finally:
        warnings.detach()
    system.release()
    system.figure("assignment with the broker down",
                  f"mean {statistics.mean(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms")
    # Committed, and not held up by the broker: kombu retrying would take 2 s
    # each. The median, not the slowest: on a loaded machine (CI's two halves
    # side by side) one assignment in a hundred took 5 s, retry or not.
    assert system.count(Ticket, Ticket.status == Status.ASSIGNED) == count
    assert statistics.median(durations) < 1.0
    assert len([m for m in warnings.messages() if "could not publish notifications.deliver" in m]) == count
    assert smtp_sink.received(prefix="ticket:") == []

    private_redis.start()
    back = time.perf_counter()
    email_rows = (Notification.kind == "ticket_assigned", Notification.channel == Channel.EMAIL)
    system.wait_until(
        f"{count} assignment mails after Redis came back",
        lambda: system.count(Notification, *email_rows, Notification.status == DeliveryStatus.SENT) == count,
        timeout=60, interval=0.2,
    )
    system.figure("all delivered after Redis came back", f"{time.perf_counter() - back:.1f} s")
    worker.wait_for_log(r"Task notifications\.deliver_pending\[[^\]]+\] succeeded",
                        count=succeeded(worker, "notifications.deliver_pending") + 2, timeout=30)

    mails = smtp_sink.received(prefix="ticket:")
    assert len(mails) == count
    assert len({m["message_id"] for m in mails}) == count and len({m["key"] for m in mails}) == count
    assert {m["to"] for m in mails} == {technician_email}
    assert [r.attempts for r in system.rows(select(NOTICES.c.attempts).where(*email_rows))] == [1] * count
    # In the application they were there all along.
    assert system.count(Notification, Notification.kind == "ticket_assigned", Notification.channel == Channel.IN_APP,
                        Notification.status == DeliveryStatus.SENT) == count


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(make_system, webhook_receiver):
    webhook_receiver.fail_first = 2
    system = make_system(settings={"TRACKER_OUTBOX_BACKOFF_SECONDS": "1"})
    worker = system.start_worker(concurrency=2, beat=True, ready=False)  # the first attempt waits in the queue
    world = world_with_mail()
    hook_id = add_webhook(webhook_receiver.url, ["ticket_assigned"])

    ticket = make_ticket(world, now=utcnow())
    ticket_service.transition(ticket.id, Action.ASSIGN, actor=world.users["dispatcher"], now=utcnow(),
                              assignee_id=world.users["technician"].id)
    hook_row = (Notification.channel == Channel.WEBHOOK, Notification.webhook_id == hook_id)
    seen = []

    def sent():
        rows = system.rows(select(NOTICES.c.status, NOTICES.c.attempts, NOTICES.c.last_error).where(*hook_row))
        seen.extend((str(r.status), r.attempts, r.last_error) for r in rows)
        return rows and rows[0].status == DeliveryStatus.SENT and rows[0]

    row = system.wait_until("the webhook notice sent", sent, timeout=30, interval=0.05)
    assert worker.errors() == []
    assert row.attempts == 3
    requests = webhook_receiver.received()
    assert [r["status"] for r in requests] == [500, 500, 200]
    assert len({r["headers"]["idempotency-key"] for r in requests}) == 1
    assert len({r["raw"] for r in requests}) == 1  # the same notice each time
    # Between attempts it waited, pending, with the failure recorded.
    failures = {attempts for status, attempts, error in seen if status == "pending" and "500" in error}
    assert failures, f"never saw the notice pending after a failure: {sorted(set(seen))}"
    gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:], strict=False)]
    system.figure("waits between attempts (backoff 1 s, then 2 s, ±20 %)", ", ".join(f"{gap:.1f} s" for gap in gaps))
    assert gaps[0] >= 0.8 and gaps[1] >= 1.6  # never before its backoff ran out


def test_a_replay_whose_worker_was_killed_is_run_again_by_another_worker(make_system):
    from tracker.models import ReplayStatus, SlaReplay
    from tracker.services.sla.standards import saved

    # Stalled after 3 s without a heartbeat, checked every second (production: 600 s and 60 s).
    system = make_system(settings={"TRACKER_REPLAY_STALLED_SECONDS": "3", "TRACKER_REPLAY_RECLAIM_SECONDS": "1"})
    first = system.start_worker("doomed", ready=False)  # no beat: nothing reclaims while it runs
    world = build_world()
    filed_at = utcnow() - timedelta(hours=2)
    template = make_ticket(world, status=Status.CLOSED, now=filed_at).id
    total = 12000  # six chunks of 2,000: the kill lands after the first
    copy_tickets(template, total - 1)
    first.wait_ready()
    row = saved.start_replay(name="killed", first=(filed_at - timedelta(days=1)).date(),
                             last=(utcnow() + timedelta(days=1)).date(), centre_id=None, draft=None,
                             actor=world.users["admin"], now=utcnow())
    replay_id = row.id
    system.release()

    def state():
        [found] = system.rows(select(SlaReplay.status, SlaReplay.progress_done, SlaReplay.attempts,
                                     SlaReplay.heartbeat_at).where(SlaReplay.id == replay_id))
        return found

    system.wait_until("the replay under way", lambda: state().progress_done > 0, timeout=120, interval=0.02)
    first.kill()
    status, done, attempts, heartbeat = state()
    system.figure("replay progress when its worker was killed", f"{done:,} of {total:,}")
    assert (status, attempts) == (ReplayStatus.RUNNING, 1) and 0 < done < total and heartbeat is not None

    # Nothing moves while no worker runs; then beat finds the silent replay and another worker runs it.
    second = system.start_worker("survivor", beat=True)
    system.wait_until("the replay done by the survivor", lambda: state().status is ReplayStatus.DONE,
                      timeout=180, interval=0.2)
    second.wait_for_log(rf"stalled replays: queued again \[{replay_id}\]", timeout=10)
    status, done, attempts, _heartbeat = state()
    assert (status, done, attempts) == (ReplayStatus.DONE, total, 2)
    [result] = system.rows(select(SlaReplay.result).where(SlaReplay.id == replay_id))
    assert result[0]["requests"] == total and result[0]["changed_requests"] == 0
    assert second.errors() == []
