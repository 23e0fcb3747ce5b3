"""The rectification ledger: items through the services and the pages, the sweep, the backlog figures, hotspots.

Times are UTC; the campus is in Shanghai (UTC+8). T0 is Monday 2026-03-02
09:00 local. An item due on a local date is due at the next local midnight.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration import workers
from tracker.domain.rectification import ItemStatus, Source
from tracker.domain.workflow import Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    Notification,
    RectificationAlert,
    RectificationEvent,
    RectificationEventKind,
    RectificationItem,
    RectificationItemTicket,
)
from tracker.services.insight import rectification_reports as figures
from tracker.services.insight import weekly
from tracker.services.ledger import rectification as svc

# The worker fixtures of workers.py, by name: pytest finds them here.
artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink

Kind = RectificationEventKind
DUE = date(2026, 3, 12)  # due at 2026-03-12 16:00 UTC (Mar 13 00:00 local)
DUE_AT = datetime(2026, 3, 12, 16, 0, tzinfo=UTC)


def local(text: str) -> datetime:
    """Return a Shanghai wall-clock time ("2026-03-02 09:00") as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=8)


def new_item(world, *, actor="dispatcher", responsible="technician", centre="repairs", due_on=DUE, now=T0,
             tickets=(), on_created=None, **extra) -> RectificationItem:
    return svc.create_item(
        svc.NewItem(
            centre_id=world.centres[centre].id,
            title=extra.pop("title", "Shuttle bus 17:30 leaves too early"),
            description=extra.pop("description", "Many staff miss the 17:30 departure from the east gate."),
            responsible_id=world.users[responsible].id,
            due_on=due_on,
            source=extra.pop("source", Source.COMPLAINT_CLUSTER),
            ticket_references=extra.pop("ticket_references", [t.reference for t in tickets]),
            **extra,
        ),
        actor=world.users[actor],
        now=now,
        on_created=on_created,
    )


def act(world, item, action, who, *, at, **change):
    return svc.transition(item.id, action, actor=world.users[who], now=at, change=svc.Change(**change))


def events(item) -> list[RectificationEvent]:
    return list(_db.session.execute(
        select(RectificationEvent).where(RectificationEvent.item_id == item.id).order_by(RectificationEvent.id)
    ).scalars())


def notices(kind: str) -> list[Notification]:
    return list(_db.session.execute(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id)).scalars())


def recipients(kind: str) -> set[int]:
    return {n.user_id for n in notices(kind) if n.user_id is not None}


def count(model) -> int:
    return _db.session.execute(select(func.count()).select_from(model)).scalar_one()


def snapshot(item_id: int) -> tuple:
    """What a refused action must leave as it was: the row, its history, its links and the outbox."""
    _db.session.expire_all()
    item = _db.session.get(RectificationItem, item_id)
    return (item.status, item.version, item.responsible_id, item.due_on, item.progress_percent,
            item.rejection_count, item.fix_summary, count(RectificationEvent), count(RectificationItemTicket),
            count(Notification))


# ---------------------------------------------------------------- opening an item


def test_a_cluster_of_requests_becomes_one_item_linked_to_each(db, world):
    cluster = [make_ticket(world, now=T0 - timedelta(hours=h), description=f"Bus left early, complaint {h}")
               for h in (3, 2, 1)]
    item = new_item(world, tickets=cluster, priority="high")
    assert item.reference == "RC-2026-0001"
    assert (item.status, item.source, item.priority.value) == (ItemStatus.OPEN, Source.COMPLAINT_CLUSTER, "high")
    assert (item.centre_id, item.responsible_id, item.created_by_id) == (
        world.centres["repairs"].id, world.users["technician"].id, world.users["dispatcher"].id)
    assert (item.due_on, item.due_at) == (DUE, DUE_AT)
    # 75 % of the time from opening to the deadline.
    assert item.at_risk_at == T0 + (DUE_AT - T0) * 0.75
    assert [t.reference for t in svc.linked_tickets(item)] == [t.reference for t in cluster]
    history = events(item)
    assert [(e.kind, e.actor_id, e.created_at, e.to_status) for e in history] == [
        (Kind.CREATED, world.users["dispatcher"].id, T0, ItemStatus.OPEN)]
    assert history[0].data["references"] == [t.reference for t in cluster]
    assert recipients("rectification_assigned") == {world.users["technician"].id}
    # Each request's page lists the item for its staff, not for its requester.
    assert svc.items_for_ticket(cluster[0], world.users["centre_head"]) == [item]
    assert svc.items_for_ticket(cluster[0], world.users["requester"]) == []
    assert new_item(world).reference == "RC-2026-0002"


def test_an_item_from_scratch_and_the_survey_entry_point(db, world):
    seen = []
    item = svc.create_item(
        svc.NewItem(centre_id=world.centres["dorm"].id, title="Laundry machines left broken",
                    description="Survey: machines in dorm 3 stay broken for weeks.",
                    responsible_id=world.users["dorm_technician"].id, due_on=DUE, source="survey",
                    source_ref="Student survey, autumn 2026"),
        actor=world.users["leadership"], now=T0,
        on_created=lambda created: seen.append((created.reference, count(RectificationItem))),
    )
    assert seen == [(item.reference, 1)]  # called inside the transaction, before the commit
    assert (item.source, item.source_ref, svc.linked_tickets(item)) == (
        Source.SURVEY, "Student survey, autumn 2026", [])


def test_a_failing_creation_hook_stores_nothing(db, world):
    def refuse(item):
        raise Conflict("Response #1 belongs to item RC-2026-0009 already.")

    with pytest.raises(Conflict):
        new_item(world, tickets=[make_ticket(world)], on_created=refuse)
    assert (count(RectificationItem), count(RectificationEvent), count(RectificationItemTicket)) == (0, 0, 0)
    assert notices("rectification_assigned") == []


@pytest.mark.parametrize(
    "who, change, error, message",
    [
        ("technician", {}, PermissionDenied, "may not open rectification items"),
        ("dorm_head", {}, PermissionDenied, "may not open rectification items"),
        ("requester", {}, PermissionDenied, "may not open rectification items"),
        ("admin", {}, PermissionDenied, "may not open rectification items"),
        ("dispatcher", {"responsible": "dorm_technician"}, ValidationFailed, "responsible person"),
        ("dispatcher", {"due_on": date(2026, 3, 1)}, ValidationFailed, "cannot be in the past"),
        ("dispatcher", {"title": "  "}, ValidationFailed, "title"),
        ("dispatcher", {"description": "bad"}, ValidationFailed, "at least 5"),
        ("dispatcher", {"source": "rumour"}, ValidationFailed, "where the problem was raised"),
        ("dispatcher", {"hidden_ticket": True}, ValidationFailed, "No request"),
        ("dispatcher", {"ticket_references": ["RP-2026-999999"]}, ValidationFailed, "No request RP-2026-999999"),
    ],
)
def test_opening_is_refused_with_a_message_and_stores_nothing(db, world, who, change, error, message):
    change = dict(change)
    if change.pop("hidden_ticket", False):
        # A dorm request: the repairs dispatcher cannot see it.
        change["tickets"] = [make_ticket(world, category="keys")]
    before = count(Notification)
    with pytest.raises(error) as refused:
        new_item(world, actor=who, **change)
    assert message in str(refused.value)
    assert (count(RectificationItem), count(RectificationEvent), count(RectificationItemTicket)) == (0, 0, 0)
    assert count(Notification) == before


# ---------------------------------------------------------------- the life of an item


def test_an_item_is_worked_rejected_once_and_verified_with_every_step_in_its_history(db, world):
    u = world.users
    item = new_item(world)
    at = [T0 + timedelta(days=d) for d in range(1, 8)]
    steps = [
        ("start", "technician", {}, ItemStatus.IN_PROGRESS, Kind.STARTED),
        ("update", "technician", {"text": "Asked the bus company for a 17:45 run.", "percent": 40},
         ItemStatus.IN_PROGRESS, Kind.PROGRESS_UPDATED),
        ("submit", "technician", {"text": "The 17:30 bus now leaves at 17:45."}, ItemStatus.AWAITING_VERIFICATION,
         Kind.SUBMITTED),
        ("reject", "leadership", {"text": "Staff still report the old time on the sign."}, ItemStatus.IN_PROGRESS,
         Kind.REJECTED),
        ("update", "dispatcher", {"text": "New timetable posted at the gate.", "percent": 90},
         ItemStatus.IN_PROGRESS, Kind.PROGRESS_UPDATED),
        ("submit", "technician", {"text": "Timetable and sign both show 17:45."}, ItemStatus.AWAITING_VERIFICATION,
         Kind.SUBMITTED),
        ("verify", "leadership", {"text": "Checked at the gate."}, ItemStatus.VERIFIED, Kind.VERIFIED),
    ]
    for when, (action, who, change, status, _kind) in zip(at, steps, strict=True):
        before = item.status
        item = act(world, item, action, who, at=when, **change)
        assert item.status is status, action
        last = events(item)[-1]
        assert (last.from_status, last.to_status) == ((before, status) if before is not status else (None, None)) \
            or last.kind is Kind.PROGRESS_UPDATED
    history = events(item)
    assert [e.kind for e in history] == [Kind.CREATED] + [s[4] for s in steps]
    assert [e.actor_id for e in history] == [u["dispatcher"].id] + [u[s[1]].id for s in steps]
    assert [e.created_at for e in history] == [T0, *at]
    assert history[4].body == "Staff still report the old time on the sign."
    assert (history[4].from_status, history[4].to_status) == (ItemStatus.AWAITING_VERIFICATION,
                                                              ItemStatus.IN_PROGRESS)
    assert history[-1].data["on_time"] is True
    # Verified is done: 100 %, not the 90 % last reported.
    assert (item.progress_percent, item.rejection_count, item.fix_summary) == (
        100, 1, "Timetable and sign both show 17:45.")
    assert (item.started_at, item.submitted_at, item.verified_at, item.verified_by_id) == (
        at[0], at[5], at[6], u["leadership"].id)
    assert item.next_check_at is None  # verified: the sweep never looks at it again
    # Leadership is asked to verify; the responsible person and the centre head hear the verdicts.
    assert recipients("rectification_submitted") == {u["leadership"].id}
    assert recipients("rectification_rejected") == {u["technician"].id, u["centre_head"].id}
    assert recipients("rectification_verified") == {u["technician"].id, u["centre_head"].id}
    assert [n.payload.get("comment") for n in notices("rectification_rejected")][0] == \
        "Staff still report the old time on the sign."


def test_a_first_progress_update_starts_the_work(db, world):
    item = act(world, new_item(world), "update", "technician", at=T0 + timedelta(hours=1), text="Called them.")
    assert (item.status, item.started_at, item.progress_percent) == (
        ItemStatus.IN_PROGRESS, T0 + timedelta(hours=1), None)
    last = events(item)[-1]
    assert (last.kind, last.from_status, last.to_status) == (Kind.PROGRESS_UPDATED, ItemStatus.OPEN,
                                                            ItemStatus.IN_PROGRESS)


def test_a_verification_after_the_deadline_is_late(db, world):
    item = act(world, new_item(world), "submit", "technician", at=T0 + timedelta(days=3), text="Done.")
    item = act(world, item, "verify", "leadership", at=DUE_AT)  # the first instant past the deadline day
    assert events(item)[-1].data["on_time"] is False


def test_managers_reassign_leadership_reschedules_owners_link_and_comment(db, world):
    u = world.users
    item = new_item(world)
    item = act(world, item, "reassign", "centre_head", at=T0 + timedelta(hours=1),
               responsible_id=u["other_technician"].id, text="Knows the bus company.")
    assert item.responsible_id == u["other_technician"].id
    assert u["other_technician"].id in recipients("rectification_assigned")
    item = act(world, item, "reschedule", "leadership", at=T0 + timedelta(hours=2), due_on=date(2026, 3, 20),
               text="The bus company answers on the 18th.")
    assert (item.due_on, item.due_at) == (date(2026, 3, 20), datetime(2026, 3, 20, 16, tzinfo=UTC))
    ticket = make_ticket(world)
    item = act(world, item, "link", "other_technician", at=T0 + timedelta(hours=3), references=[ticket.reference])
    assert svc.linked_tickets(item) == [ticket]
    item = act(world, item, "comment", "leadership", at=T0 + timedelta(hours=4), text="Keep me posted.")
    item = act(world, item, "cancel", "centre_head", at=T0 + timedelta(hours=5), text="Merged into RC-2026-0009.")
    assert (item.status, item.cancelled_at, item.next_check_at) == (
        ItemStatus.CANCELLED, T0 + timedelta(hours=5), None)
    assert [(e.kind, e.data) for e in events(item)][1:5] == [
        (Kind.REASSIGNED, {"from": u["technician"].id, "to": u["other_technician"].id}),
        (Kind.DEADLINE_CHANGED, {"from": "2026-03-12", "to": "2026-03-20"}),
        (Kind.TICKETS_LINKED, {"ticket_ids": [ticket.id], "references": [ticket.reference]}),
        (Kind.COMMENTED, {}),
    ]
    assert events(item)[-1].kind is Kind.CANCELLED


# (status the item is brought to, action, actor, change, error, message)
REFUSALS = [
    # Roles: only owners work it, only leadership verifies, rejects and reschedules.
    ("open", "start", "other_technician", {}, Conflict, "not allowed"),
    ("open", "start", "leadership", {}, Conflict, "not allowed"),
    ("in_progress", "submit", "other_technician", {"text": "done"}, Conflict, "not allowed"),
    ("awaiting_verification", "verify", "technician", {}, Conflict, "not allowed"),
    ("awaiting_verification", "verify", "centre_head", {}, Conflict, "not allowed"),
    ("awaiting_verification", "reject", "dispatcher", {"text": "no"}, Conflict, "not allowed"),
    ("awaiting_verification", "verify", "admin", {}, Conflict, "not allowed"),
    ("open", "reschedule", "centre_head", {"due_on": date(2026, 4, 1), "text": "later"}, Conflict, "not allowed"),
    ("open", "cancel", "dispatcher", {"text": "no"}, Conflict, "not allowed"),
    ("open", "reassign", "technician", {"responsible_id": "other_technician"}, Conflict, "not allowed"),
    # Who may not see it at all: as if it did not exist.
    ("open", "comment", "dorm_head", {"text": "hello"}, NotFound, ""),
    ("open", "comment", "requester", {"text": "hello"}, NotFound, ""),
    # States.
    ("open", "verify", "leadership", {}, Conflict, "is “Open”"),
    ("in_progress", "reject", "leadership", {"text": "no"}, Conflict, "is “In progress”"),
    ("awaiting_verification", "submit", "technician", {"text": "again"}, Conflict, "is “Awaiting verification”"),
    ("awaiting_verification", "update", "technician", {"text": "more"}, Conflict, "is “Awaiting verification”"),
    ("verified", "reject", "leadership", {"text": "no"}, Conflict, "is “Verified”"),
    ("verified", "link", "technician", {"references": ["x"]}, Conflict, "is “Verified”"),
    ("in_progress", "start", "technician", {}, Conflict, "is “In progress”"),
    # Missing or bad details.
    ("awaiting_verification", "reject", "leadership", {"text": "  "}, ValidationFailed, "Say why"),
    ("in_progress", "submit", "technician", {"text": ""}, ValidationFailed, "Summarise the fix"),
    ("in_progress", "update", "technician", {"text": "x", "percent": 101}, ValidationFailed, "0 to 100"),
    ("open", "reschedule", "leadership", {"due_on": date(2026, 3, 1), "text": "x"}, ValidationFailed, "past"),
    ("open", "reschedule", "leadership", {"due_on": DUE, "text": "x"}, ValidationFailed, "already due"),
    ("open", "reassign", "dispatcher", {"responsible_id": "dorm_technician"}, ValidationFailed, "responsible"),
    ("open", "reassign", "dispatcher", {"responsible_id": "technician"}, ValidationFailed, "responsible already"),
    ("open", "link", "technician", {"references": ["RP-2026-000404"]}, ValidationFailed, "No request"),
]

_TO = {
    "open": [],
    "in_progress": [("start", "technician", {})],
    "awaiting_verification": [("submit", "technician", {"text": "Done."})],
    "verified": [("submit", "technician", {"text": "Done."}), ("verify", "leadership", {})],
}


@pytest.mark.parametrize("status, action, who, change, error, message", REFUSALS,
                         ids=[f"{r[1]}-by-{r[2]}-when-{r[0]}" for r in REFUSALS])
def test_a_refused_action_says_why_and_changes_nothing(db, world, status, action, who, change, error, message):
    item = new_item(world)
    for step, (a, w, c) in enumerate(_TO[status], start=1):
        item = act(world, item, a, w, at=T0 + timedelta(hours=step), **c)
    assert item.status.value == status
    change = dict(change)
    if isinstance(change.get("responsible_id"), str):
        change["responsible_id"] = world.users[change["responsible_id"]].id
    before = snapshot(item.id)
    with pytest.raises(error) as refused:
        act(world, item, action, who, at=T0 + timedelta(days=1), **change)
    assert message in str(refused.value)
    assert snapshot(item.id) == before


def test_a_form_opened_before_someone_else_acted_is_refused(db, world):
    item = new_item(world)
    version = item.version
    act(world, item, "start", "technician", at=T0 + timedelta(hours=1))
    before = snapshot(item.id)
    with pytest.raises(Conflict, match="Someone else changed"):
        svc.transition(item.id, "submit", actor=world.users["dispatcher"], now=T0 + timedelta(hours=2),
                       change=svc.Change(text="Done."), expected_version=version)
    assert snapshot(item.id) == before


def test_who_sees_which_items(db, world):
    repairs = new_item(world)
    dorm = new_item(world, actor="dorm_head", centre="dorm", responsible="dorm_technician")
    visible = {
        who: sorted(i.reference for i in _db.session.execute(svc.visible_items(world.users[who])).scalars())
        for who in ("technician", "dorm_head", "leadership", "admin", "requester")
    }
    assert visible == {
        "technician": [repairs.reference],
        "dorm_head": [dorm.reference],
        "leadership": [repairs.reference, dorm.reference],
        "admin": [repairs.reference, dorm.reference],
        "requester": [],
    }


# ---------------------------------------------------------------- the deadline sweep


def alerts() -> list[tuple]:
    return sorted(_db.session.execute(
        select(RectificationAlert.item_id, RectificationAlert.kind, RectificationAlert.due_at)).all())


def test_the_sweep_flags_at_risk_then_overdue_once_each_and_queues_notices(db, world):
    u = world.users
    item = new_item(world)
    at_risk_at = item.at_risk_at
    assert item.next_check_at == at_risk_at
    # Just before the at-risk instant: nothing.
    result = svc.sweep_due(at_risk_at - timedelta(seconds=1))
    assert (result.items, result.at_risk, alerts()) == (0, 0, [])
    # At it: one alert, one history row by the application, notices to the responsible person and the head.
    result = svc.sweep_due(at_risk_at)
    assert (result.items, result.at_risk, result.overdue) == (1, 1, 0)
    assert alerts() == [(item.id, "at_risk", DUE_AT)]
    assert recipients("rectification_at_risk") == {u["technician"].id, u["centre_head"].id}
    flagged = events(item)[-1]
    assert (flagged.kind, flagged.actor_id, flagged.created_at) == (Kind.AT_RISK, None, at_risk_at)
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).next_check_at == DUE_AT
    # Running again changes nothing.
    before = (count(RectificationEvent), count(Notification))
    assert svc.sweep_due(at_risk_at + timedelta(hours=1)).at_risk == 0
    assert (count(RectificationEvent), count(Notification)) == before
    # The first instant past the deadline day: overdue, leadership told too.
    assert svc.sweep_due(DUE_AT - timedelta(seconds=1)).overdue == 0
    result = svc.sweep_due(DUE_AT)
    assert result.overdue == 1
    assert alerts() == [(item.id, "at_risk", DUE_AT), (item.id, "overdue", DUE_AT)]
    assert recipients("rectification_overdue") == {u["technician"].id, u["centre_head"].id, u["leadership"].id}
    assert events(item)[-1].kind is Kind.OVERDUE
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).next_check_at is None
    assert svc.sweep_due(DUE_AT + timedelta(days=3)).items == 0
    # In-app and e-mail notices, each once, linked to the item's page.
    overdue = notices("rectification_overdue")
    assert {n.channel.value for n in overdue} == {"in_app", "email"}
    assert {n.link for n in overdue} == {f"/rectification/{item.reference}"}


def test_a_new_deadline_is_watched_again(db, world):
    item = new_item(world)
    svc.sweep_due(DUE_AT)
    assert [a[1] for a in alerts()] == ["overdue"]
    item = act(world, item, "reschedule", "leadership", at=DUE_AT + timedelta(hours=1), due_on=date(2026, 3, 31),
               text="Waiting for the new timetable.")
    new_due = datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert item.next_check_at == min(item.at_risk_at, new_due)
    svc.sweep_due(new_due)
    # Past both instants at once: overdue only, the at-risk warning is moot.
    assert [(a[1], a[2]) for a in alerts()] == [("overdue", DUE_AT), ("overdue", new_due)]


def test_an_item_awaiting_verification_is_not_at_risk_but_can_be_overdue(db, world):
    item = act(world, new_item(world), "submit", "technician", at=T0 + timedelta(days=1), text="Done.")
    assert item.next_check_at == DUE_AT
    assert svc.sweep_due(item.at_risk_at + timedelta(hours=1)).items == 0
    assert svc.sweep_due(DUE_AT).overdue == 1
    # Rejected after the deadline: back in progress, still overdue, not warned twice.
    item = act(world, item, "reject", "leadership", at=DUE_AT + timedelta(hours=2), text="Not fixed.")
    result = svc.sweep_due(DUE_AT + timedelta(hours=3))
    assert (result.at_risk, result.overdue) == (0, 0)
    assert [a[1] for a in alerts()] == ["overdue"]


def test_verified_and_cancelled_items_are_never_flagged(db, world):
    verified = act(world, new_item(world), "submit", "technician", at=T0 + timedelta(days=1), text="Done.")
    verified = act(world, verified, "verify", "leadership", at=T0 + timedelta(days=2))
    cancelled = act(world, new_item(world), "cancel", "centre_head", at=T0 + timedelta(days=1), text="Duplicate.")
    assert (verified.next_check_at, cancelled.next_check_at) == (None, None)
    assert svc.sweep_due(DUE_AT + timedelta(days=30)).items == 0
    assert alerts() == []


def test_the_at_risk_rule_can_be_days_before_the_deadline(app, db, world):
    app.config.update(RECTIFICATION_AT_RISK_DAYS=3)
    try:
        item = new_item(world)
    finally:
        app.config.update(RECTIFICATION_AT_RISK_DAYS=None)
    assert item.at_risk_at == DUE_AT - timedelta(days=3)


@pytest.mark.worker
def test_the_sweep_task_runs_in_a_real_worker_and_the_notices_are_mailed(make_system, smtp_sink):
    """Beat schedules ``rectification.sweep_due``; a worker flags an item due today at once (at risk 30 days before)."""
    from tests.factories import build_world
    from tracker.clock import utcnow
    from tracker.services.insight import reports

    # The filesystem broker takes about one message per poll: only this sweep runs every second, the others
    # (due in 30 s) would make the queue grow until its tasks expire unrun.
    system = make_system(settings={"TRACKER_RECTIFICATION_SWEEP_SECONDS": "1", "TRACKER_RECTIFICATION_AT_RISK": "30d",
                                   "TRACKER_SLA_SWEEP_SECONDS": "30", "TRACKER_OUTBOX_SWEEP_SECONDS": "30"})
    worker = system.start_worker(beat=True, ready=False)
    world = build_world()
    for user in world.users.values():
        user.email = f"{user.username}@campus.test"
    _db.session.commit()
    now = utcnow()
    item = new_item(world, due_on=reports.local_day(now), now=now)
    item_id, reference = item.id, item.reference
    worker.wait_ready()
    system.wait_until("the at-risk warning mailed to the responsible person and the centre head",
                      lambda: len(smtp_sink.received(prefix=f"rectification:{item_id}:at_risk")) == 2, timeout=60)
    # Two more sweeps: a second warning would be written now.
    done = sum(1 for t in worker.tasks("rectification.sweep_due") if t["what"] == "succeeded")
    worker.wait_for_log(r"Task rectification\.sweep_due\[[^\]]+\] succeeded", count=done + 2)
    assert system.count(RectificationAlert, RectificationAlert.item_id == item_id) == 1
    assert system.count(RectificationEvent, RectificationEvent.item_id == item_id,
                        RectificationEvent.kind == Kind.AT_RISK) == 1
    mails = smtp_sink.received(prefix=f"rectification:{item_id}:at_risk")
    assert sorted(m["to"] for m in mails) == ["centre-head@campus.test", "technician@campus.test"]
    assert all(reference in m["subject"] for m in mails)
    assert worker.errors() == []


# ---------------------------------------------------------------- the backlog figures

NOW = local("2026-05-20 12:00")
PERIOD = figures.Scope(first=date(2026, 3, 1), last=date(2026, 5, 20))


def _walk(world, item, steps):
    for when, action, who, change in steps:
        item = act(world, item, action, who, at=local(when), **change)
    return item


@pytest.fixture
def ledger(db, world):
    """Nine items with known figures at NOW (see each comment)."""
    def make(key, created, due, centre="repairs", steps=()):
        head, person = ("dispatcher", "technician") if centre == "repairs" else ("dorm_head", "dorm_technician")
        item = new_item(world, actor=head, responsible=person, centre=centre, due_on=date.fromisoformat(due),
                        now=local(created), title=f"Item {key}")
        return _walk(world, item, steps)

    done = {"text": "Done."}
    items = {
        # repairs
        "A": make("A", "2026-03-02 09:00", "2026-03-12", steps=[("2026-03-10 10:00", "submit", "technician", done),
                                                                  ("2026-03-11 10:00", "verify", "leadership", {})]),
        "B": make("B", "2026-03-02 10:00", "2026-03-12", steps=[("2026-03-14 10:00", "submit", "technician", done),
                                                                  ("2026-03-16 10:00", "verify", "leadership", {})]),
        "H": make("H", "2026-03-03 09:00", "2026-03-31", steps=[("2026-03-20 09:00", "cancel", "centre_head",
                                                                   {"text": "Duplicate."})]),
        "C": make("C", "2026-04-01 09:00", "2026-04-30", steps=[("2026-04-02 09:00", "start", "technician", {})]),
        "I": make("I", "2026-04-03 09:00", "2026-05-30", steps=[("2026-04-20 09:00", "submit", "technician", done),
                                                                  ("2026-04-21 09:00", "reject", "leadership",
                                                                   {"text": "Not fixed."})]),
        "E": make("E", "2026-05-01 09:00", "2026-05-21"),
        "D": make("D", "2026-05-12 09:00", "2026-06-30"),
        # dorm
        "F": make("F", "2026-03-05 09:00", "2026-04-10", centre="dorm",
                  steps=[("2026-04-05 09:00", "submit", "dorm_technician", done)]),
        "G": make("G", "2026-04-02 09:00", "2026-04-30", centre="dorm",
                  steps=[("2026-04-10 09:00", "submit", "dorm_technician", done),
                         ("2026-04-20 09:00", "verify", "leadership", {})]),
    }
    return items


def refs(items, keys: str) -> list[str]:
    return [items[k].reference for k in keys]


def test_the_backlog_figures_per_centre_have_known_answers(ledger, world):
    rows, total = figures.figures_by_centre(PERIOD, NOW)
    by = {r.key: r for r in rows}
    repairs, dorm = by[world.centres["repairs"].id], by[world.centres["dorm"].id]
    assert repairs.by_status == {"open": 2, "in_progress": 2, "awaiting_verification": 0}  # D E / C I
    assert (repairs.active, repairs.overdue, repairs.at_risk) == (4, 1, 2)  # C overdue; E, I at risk
    assert repairs.ageing == {"0-30": 2, "30-90": 2, "90-180": 0, "180+": 0}
    assert (repairs.opened, repairs.verified, repairs.on_time, repairs.late) == (7, 2, 1, 1)
    assert repairs.on_time_percent == 50.0
    assert dorm.by_status == {"open": 0, "in_progress": 0, "awaiting_verification": 1}
    assert (dorm.active, dorm.overdue, dorm.at_risk, dorm.ageing["30-90"]) == (1, 1, 0, 1)
    assert (dorm.opened, dorm.verified, dorm.on_time, dorm.on_time_percent) == (2, 1, 1, 100.0)
    assert (total.active, total.overdue, total.at_risk, total.opened, total.verified, total.on_time) == (
        5, 2, 2, 9, 3, 2)
    assert total.on_time_percent == pytest.approx(200 / 3)


@pytest.mark.parametrize(
    "figure, options, expected",
    [
        ("active", {}, "FCEID"),  # by deadline
        ("active", {"status": "open"}, "ED"),
        ("overdue", {}, "FC"),
        ("at_risk", {}, "EI"),
        ("aged", {"age": "30-90"}, "FCI"),
        ("aged", {"age": "0-30"}, "ED"),
        ("due_soon", {}, "EI"),
        ("verified", {}, "GBA"),  # the latest first
        ("on_time", {}, "GA"),
        ("late", {}, "B"),
        ("rejected", {}, "I"),
        ("open_at", {}, "FCEID"),
    ],
)
def test_every_figure_is_the_length_of_its_list(ledger, figure, options, expected):
    query = figures.drilldown(figure, PERIOD, NOW, **options)
    assert [i.reference for i in _db.session.execute(query).scalars()] == refs(ledger, expected)
    assert figures.count(query) == len(expected)


def test_the_burn_down_counts_opened_verified_and_open_per_month(ledger):
    points = figures.burndown(PERIOD, NOW)
    assert [(p.start, p.opened, p.verified, p.open_at_end) for p in points] == [
        (date(2026, 3, 1), 4, 2, 1),  # A B H F opened; A B verified; F open at the end (H cancelled)
        (date(2026, 4, 1), 3, 1, 3),  # C G I opened; G verified; F C I open
        (date(2026, 5, 1), 2, 0, 5),  # E D opened; F C I E D open now
    ]


def test_the_weekly_progress_gives_the_week_and_the_state_at_generation(ledger, world):
    progress = weekly.rectification_progress(date(2026, 4, 20), now=NOW)
    by = {c["code"]: c for c in progress["centres"]}
    assert {k: by["repairs"][k] for k in ("opened", "verified", "on_time", "rejected", "active", "overdue")} == {
        "opened": 0, "verified": 0, "on_time": 0, "rejected": 1, "active": 4, "overdue": 1}
    assert {k: by["dorm"][k] for k in ("opened", "verified", "on_time", "rejected", "active", "overdue")} == {
        "opened": 0, "verified": 1, "on_time": 1, "rejected": 0, "active": 1, "overdue": 1}
    assert [i["reference"] for i in progress["overdue_items"]["items"]] == refs(ledger, "FC")
    assert [i["reference"] for i in progress["due_soon_items"]["items"]] == refs(ledger, "EI")
    assert progress["due_soon_items"]["items"][1]["rejections"] == 1


# ---------------------------------------------------------------- repeat faults (hotspots)

HNOW = T0 + timedelta(days=40)  # window: the 30 days before, from HNOW - 30 d on


def _faults(world, *ages: timedelta, category="water", **extra):
    return [make_ticket(world, category=category, now=HNOW - age, **extra) for age in ages]


@pytest.mark.parametrize(
    "oldest, flagged",
    [
        (timedelta(days=30), True),  # the window's first instant counts
        (timedelta(days=30, seconds=1), False),  # one second earlier does not
    ],
)
def test_a_hotspot_needs_enough_requests_inside_the_window(db, world, oldest, flagged):
    tickets = _faults(world, oldest, timedelta(days=10), timedelta(hours=1))
    found = figures.hotspots(HNOW)
    if not flagged:
        assert found == []
        return
    [spot] = found
    assert (spot.location.id, spot.category.id, spot.centre_id, spot.tickets) == (
        world.locations["room"].id, world.categories["water"].id, world.centres["repairs"].id, 3)
    assert (spot.first_at, spot.last_at) == (HNOW - oldest, HNOW - timedelta(hours=1))
    assert spot.references == [t.reference for t in reversed(tickets)]  # the newest first
    assert spot.open_item is None


def test_cancelled_requests_other_categories_and_later_requests_do_not_count(db, world):
    _faults(world, timedelta(days=5), timedelta(days=4))
    _faults(world, timedelta(days=3), status=Status.CANCELLED)
    _faults(world, timedelta(days=2), category="power")
    make_ticket(world, now=HNOW + timedelta(minutes=1))  # after "now"
    assert figures.hotspots(HNOW) == []
    _faults(world, timedelta(days=1))
    assert [s.tickets for s in figures.hotspots(HNOW)] == [3]


def test_an_item_about_the_place_or_linked_to_its_requests_takes_care_of_a_hotspot(db, world):
    tickets = _faults(world, timedelta(days=5), timedelta(days=4), timedelta(days=3))
    due = date(2026, 5, 1)
    cancelled = new_item(world, tickets=tickets[:1], now=HNOW - timedelta(days=1), due_on=due)
    act(world, cancelled, "cancel", "centre_head", at=HNOW - timedelta(hours=20), text="Wrong centre.")
    assert figures.hotspots(HNOW)[0].open_item is None
    linked = new_item(world, tickets=tickets[1:2], now=HNOW - timedelta(hours=10), due_on=due)
    assert figures.hotspots(HNOW)[0].open_item == linked.reference
    about = new_item(world, location_id=world.locations["room"].id, category_id=world.categories["water"].id,
                     now=HNOW - timedelta(hours=5), due_on=due)
    assert figures.hotspots(HNOW)[0].open_item == about.reference  # the active item about the place first


def test_the_window_and_threshold_are_settings(app, db, world):
    _faults(world, timedelta(days=12), timedelta(days=11))
    app.config.update(HOTSPOT_WINDOW_DAYS=14, HOTSPOT_MIN_TICKETS=2)
    try:
        assert [s.tickets for s in figures.hotspots(HNOW)] == [2]
        app.config.update(HOTSPOT_WINDOW_DAYS=10)
        assert figures.hotspots(HNOW) == []
    finally:
        app.config.update(HOTSPOT_WINDOW_DAYS=30, HOTSPOT_MIN_TICKETS=3)


# ---------------------------------------------------------------- pages


@pytest.fixture
def login(client, login_as):
    """Log in as someone else: out first (the login page sends a logged-in user away)."""
    def switch(who):
        post_form(client, "/logout")
        return login_as(who)

    return switch


def at_now(monkeypatch, now):
    for module in ("rectification", "dashboards", "tickets", "weekly"):
        monkeypatch.setattr(f"tracker.web.{module}.utcnow", lambda: now, raising=False)


def test_a_hotspot_on_the_dashboard_proposes_a_prefilled_item_in_one_click(client, world, login, monkeypatch):
    at_now(monkeypatch, HNOW)
    tickets = _faults(world, timedelta(days=20), timedelta(days=10), timedelta(days=1))
    login("dispatcher")
    page = client.get("/rectification/dashboard").get_data(as_text=True)
    assert 'id="hotspots"' in page and "Room 301" in page and "Water and plumbing" in page
    propose = re.search(r'<a class="button" href="([^"]+)">Open a rectification item</a>', page).group(1)
    form = client.get(propose.replace("&amp;", "&")).get_data(as_text=True)
    assert "About repeated faults: Water and plumbing at" in form
    assert "Repeated faults: Water and plumbing at Room 301" in form
    for ticket in tickets:
        assert ticket.reference in form
    assert re.search(r'<option selected value="complaint_cluster">', form)
    data = dict(re.findall(r'<input[^>]*name="(location_id|category_id)"[^>]*value="([^"]*)"', form))
    assert data == {"location_id": str(world.locations["room"].id), "category_id": str(world.categories["water"].id)}
    answer = post_form(client, "/rectification/new", {
        "centre_id": world.centres["repairs"].id, "title": "Repeated faults: water in room 301",
        "description": "Three leaks in a month: replace the riser.", "source": "complaint_cluster",
        "responsible_id": world.users["technician"].id, "due_on": "2026-04-30", "priority": "high",
        "tickets": "\n".join(t.reference for t in tickets), **data,
    })
    assert answer.status_code == 302
    item = _db.session.execute(select(RectificationItem)).scalar_one()
    assert answer.headers["Location"].endswith(f"/rectification/{item.reference}")
    assert (item.location_id, item.category_id, len(svc.linked_tickets(item))) == (
        world.locations["room"].id, world.categories["water"].id, 3)
    # The hotspot now leads to its item instead of proposing another.
    page = client.get("/rectification/dashboard").get_data(as_text=True)
    assert f'>{item.reference}</a>' in page and "Open a rectification item</a>" not in page.split('id="hotspots"')[1]
    # Leadership's campus dashboard shows it too.
    login("leadership")
    assert item.reference in client.get("/dashboard/details").get_data(as_text=True)


def test_selected_requests_open_one_item_from_the_request_list(client, world, login):
    cluster = [make_ticket(world, description=f"Shuttle bus 17:30 left at 17:20, complaint {n}.") for n in range(3)]
    login("dispatcher")
    listing = client.get("/tickets/").get_data(as_text=True)
    assert 'id="rectify-form"' in listing
    form = client.get("/rectification/new?" + "&".join(f"ticket={t.reference}" for t in cluster))
    page = form.get_data(as_text=True)
    assert form.status_code == 200
    assert all(t.reference in page for t in cluster)
    assert "Requests behind this item:" in page


def _create_through_the_form(client, world, cluster=(), **extra):
    data = {
        "centre_id": world.centres["repairs"].id, "title": "Shuttle bus 17:30 leaves early",
        "description": "Staff miss the bus after work.", "source": "complaint_cluster",
        "responsible_id": world.users["technician"].id, "due_on": "2026-12-31", "priority": "normal",
        "tickets": " ".join(t.reference for t in cluster),
    }
    data.update(extra)
    return post_form(client, "/rectification/new", data)


def _post_action(client, item, action, **data):
    _db.session.expire_all()
    version = _db.session.get(RectificationItem, item.id).version
    return post_form(client, f"/rectification/{item.reference}/{action}", {"version": version, **data})


def test_the_pages_take_an_item_through_its_life_with_evidence(client, world, login):
    from tests.integration.test_attachments import png

    cluster = [make_ticket(world) for _ in range(2)]
    login("dispatcher")
    assert _create_through_the_form(client, world, cluster).status_code == 302
    item = _db.session.execute(select(RectificationItem)).scalar_one()
    login("technician")
    page = client.get(f"/rectification/{item.reference}").get_data(as_text=True)
    assert "Start work" in page and "Verify" not in page and 'id="attachments"' in page
    _post_action(client, item, "update", text="Asked the bus company.", percent="30")
    answer = client.post(f"/rectification/{item.reference}/evidence",
                         data={"csrf_token": _token(client), "file": (io.BytesIO(png()), "timetable.png", "image/png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 302
    page = client.get(f"/rectification/{item.reference}").get_data(as_text=True)
    assert "Attached: timetable.png." in page and "added evidence: timetable.png" in page
    assert re.search(r'/attachments/\d+/thumbnail', page)
    _post_action(client, item, "submit", text="New departure at 17:45.")
    login("leadership")
    page = client.get(f"/rectification/{item.reference}").get_data(as_text=True)
    assert "Awaiting verification" in page and "Verify" in page and "Reject" in page
    # Rejecting needs a reason: without one, nothing changes.
    answer = _post_action(client, item, "reject", text="")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Say why the fix is not accepted." in page
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).status is ItemStatus.AWAITING_VERIFICATION
    _post_action(client, item, "reject", text="The sign at the gate still says 17:30.")
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).status is ItemStatus.IN_PROGRESS
    login("technician")
    _post_action(client, item, "submit", text="Sign replaced too.")
    login("leadership")
    # The cluster's requests are still open: verifying needs "verify anyway".
    answer = _post_action(client, item, "verify", text="Seen at the gate.")
    assert "Requests linked to this item are still open" in client.get(answer.headers["Location"]).get_data(
        as_text=True)
    answer = _post_action(client, item, "verify", text="Seen at the gate.", verify_anyway="y")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Verified: the item is closed." in page
    _db.session.expire_all()
    item = _db.session.get(RectificationItem, item.id)
    assert (item.status, item.rejection_count, item.progress_percent) == (ItemStatus.VERIFIED, 1, 100)
    assert [e.kind for e in events(item)] == [Kind.CREATED, Kind.PROGRESS_UPDATED, Kind.EVIDENCE_ADDED,
                                             Kind.SUBMITTED, Kind.REJECTED, Kind.SUBMITTED, Kind.VERIFIED]
    history = page.split('id="item-history"')[1]
    for text in ("opened the item", "reported progress", "added evidence: timetable.png",
                 "submitted the fix for verification", "rejected the fix", "The sign at the gate still says 17:30.",
                 "verified the fix"):
        assert text in history, text
    # The request's page lists the item for the centre's staff.
    assert item.reference in client.get(f"/tickets/{cluster[0].reference}").get_data(as_text=True)


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client)


@pytest.mark.parametrize(
    "who, action, data, message",
    [
        ("technician", "verify", {}, "You are not allowed to do “Verify” on this rectification item."),
        ("leadership", "start", {}, "You are not allowed to do “Start work” on this rectification item."),
        ("centre_head", "verify", {}, "not allowed"),
        ("technician", "update", {"text": "x", "percent": "150"}, "Between 0 and 100."),
    ],
)
def test_a_refused_action_on_the_page_shows_why_and_changes_nothing(client, world, login, who, action, data,
                                                                     message):
    item = new_item(world)
    login(who)
    before = snapshot(item.id)
    answer = _post_action(client, item, action, **data)
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert snapshot(item.id) == before


def test_a_stale_form_is_refused_on_the_page(client, world, login):
    item = new_item(world)
    login("technician")
    version = item.version
    _post_action(client, item, "start")
    answer = post_form(client, f"/rectification/{item.reference}/submit", {"version": version, "text": "Done."})
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Someone else changed this rectification item a moment ago." in page
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).status is ItemStatus.IN_PROGRESS


def test_items_of_other_centres_are_hidden_and_evidence_is_refused_to_readers(client, world, login):
    from tests.integration.test_attachments import png

    item = new_item(world)
    login("dorm_head")
    assert client.get(f"/rectification/{item.reference}").status_code == 404
    answer = client.post(f"/rectification/{item.reference}/evidence",
                         data={"csrf_token": _token(client), "file": (io.BytesIO(png()), "x.png", "image/png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 404
    login("admin")  # reads everything, changes nothing
    page = client.get(f"/rectification/{item.reference}").get_data(as_text=True)
    assert "Start work" not in page and "Add a photo or a PDF" not in page
    answer = client.post(f"/rectification/{item.reference}/evidence",
                         data={"csrf_token": _token(client), "file": (io.BytesIO(png()), "x.png", "image/png")},
                         content_type="multipart/form-data")
    assert "You may not add files here." in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert svc.evidence_of(item) == []


def test_the_new_item_form_refuses_bad_input_and_stores_nothing(client, world, login):
    login("dispatcher")
    answer = _create_through_the_form(client, world, due_on="2020-01-01")
    assert answer.status_code == 200 and "The deadline cannot be in the past." in answer.get_data(as_text=True)
    answer = _create_through_the_form(client, world, tickets="RP-2026-424242")
    assert "No request RP-2026-424242 that you can see." in answer.get_data(as_text=True)
    answer = _create_through_the_form(client, world, title="")
    assert "Give the item a title." in answer.get_data(as_text=True)
    assert count(RectificationItem) == 0
    login("technician")
    assert client.get("/rectification/new").status_code == 403


# ---------------------------------------------------------------- the dashboard and its files


def _cells(page: str, table: str, label: str) -> list[str]:
    body = page.split(f'id="figures-{table}"')[1].split("</table>")[0]
    row = re.search(r"<tr[^>]*>\s*<th scope=\"row\">" + re.escape(label) + r"</th>(.*?)</tr>", body, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


PERIOD_ARGS = "from=2026-03-01&to=2026-05-20"


def test_the_dashboard_shows_the_known_figures_and_links_each_to_its_list(ledger, client, world, login,
                                                                         monkeypatch):
    at_now(monkeypatch, NOW)
    login("leadership")
    page = client.get(f"/rectification/dashboard?{PERIOD_ARGS}").get_data(as_text=True)
    # open, in progress, awaiting, backlog, overdue, at risk, opened, verified, on time, on-time rate
    assert _cells(page, "backlog", "Repair and maintenance") == ["2", "2", "0", "4", "1", "2", "7", "2", "1", "50.0 %"]
    assert _cells(page, "backlog", "Dormitory management") == ["0", "0", "1", "1", "1", "0", "2", "1", "1", "100.0 %"]
    assert _cells(page, "backlog", "Total") == ["2", "2", "1", "5", "2", "2", "9", "3", "2", "66.7 %"]
    assert _cells(page, "ageing", "Total") == ["2", "3", "0", "0", "5"]
    months = ("Mar 1 – Mar 31, 2026", "Apr 1 – Apr 30, 2026", "May 1 – May 20, 2026")
    assert [_cells(page, "burndown", label) for label in months] == [
        ["4", "2", "1"], ["3", "1", "3"], ["2", "0", "5"]]
    # A figure's link lists exactly its items.
    overdue = re.search(r'href="(/rectification/\?[^"]*figure=overdue[^"]*)"', page).group(1).replace("&amp;", "&")
    listing = client.get(overdue).get_data(as_text=True)
    assert "2 items" in listing
    at_risk = client.get(f"/rectification/?{PERIOD_ARGS}&figure=at_risk").get_data(as_text=True)
    assert at_risk.count('class="sla-badge sla-badge-at_risk"') == 2 and "sla-badge-breached" not in at_risk
    assert all(ledger[k].reference in listing for k in "FC") and ledger["E"].reference not in listing
    # A centre head reads their own centre only.
    login("centre_head")
    page = client.get(f"/rectification/dashboard?{PERIOD_ARGS}").get_data(as_text=True)
    assert "Dormitory management" not in page.split('id="figures-backlog"')[1].split("</table>")[0]
    assert client.get(f"/rectification/dashboard?{PERIOD_ARGS}&centre={world.centres['dorm'].id}").status_code == 404


def test_the_dashboard_files_hold_the_page_figures(ledger, client, login, monkeypatch):
    at_now(monkeypatch, NOW)
    login("leadership")
    answer = client.get(f"/rectification/dashboard/export/backlog.csv?{PERIOD_ARGS}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "rectification_backlog_campus_2026-03-01_2026-05-20.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Centre", "Open", "In progress", "Awaiting verification", "On the backlog", "Overdue",
                       "At risk", "Opened", "Verified", "Verified on time", "On-time rate"]
    assert rows[1] == ["Repair and maintenance", "2", "2", "0", "4", "1", "2", "7", "2", "1", "50.0"]
    assert rows[-1] == ["All centres", "2", "2", "1", "5", "2", "2", "9", "3", "2", "66.7"]
    answer = client.get(f"/rectification/dashboard/export/burndown.xlsx?{PERIOD_ARGS}")
    sheet = load_workbook(io.BytesIO(answer.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["Month", "Last day", "Opened", "Verified", "Open at month end"]
    assert [v[2:] for v in values[1:]] == [[4, 2, 1], [3, 1, 3], [2, 0, 5]]
    assert [v[0].date() for v in values[1:]] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    answer = client.get(f"/rectification/items.xlsx?{PERIOD_ARGS}&figure=overdue")
    sheet = load_workbook(io.BytesIO(answer.data)).active
    listed = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [r[0] for r in listed[1:]] == refs(ledger, "FC")
    assert client.get("/rectification/dashboard/export/nothing.csv").status_code == 404
    assert client.get("/rectification/items.csv?figure=overdue&from=2026-05-01&to=2026-04-01").status_code == 400


def test_the_weekly_report_page_file_and_mail_show_the_ledger(ledger, client, world, login, monkeypatch):
    from tracker.services.notify import channels

    report = weekly.generate(date(2026, 4, 20), actor=None, now=NOW, notify=True)
    login("leadership")
    page = client.get("/weekly/2026-04-20").get_data(as_text=True)
    section = page.split('id="rectification-summary"')[1]
    row = re.search(r'<tr id="rectification-repairs">(.*?)</tr>', section, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["0", "0", "0", "1", "4", "1"]
    total = re.search(r'<tr class="total" id="rectification-total">(.*?)</tr>', section, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', total) == ["0", "1", "1", "1", "5", "2"]
    overdue = section.split('id="rectification-overdue-items"')[1].split("</table>")[0]
    assert [ledger[k].reference in overdue for k in "FCEID"] == [True, True, False, False, False]
    due_soon = section.split('id="rectification-due-soon-items"')[1].split("</table>")[0]
    assert ledger["I"].reference in due_soon and "rejected 1 time" in due_soon
    book = load_workbook(io.BytesIO(client.get("/weekly/2026-04-20/report.xlsx").data))
    sheet = [[c.value for c in row] for row in book["Rectification"].iter_rows()]
    assert sheet[0] == ["Centre", "Opened", "Verified", "Verified on time", "Rejected", "Active at generation",
                        "Overdue at generation"]
    assert sheet[1] == ["Repair and maintenance", 0, 0, 0, 1, 4, 1]
    assert sheet[3] == ["Campus total", 0, 1, 1, 1, 5, 2]
    listed = [r[1] for r in sheet[4:] if r and r[1] and str(r[1]).startswith("RC-")]
    assert listed == refs(ledger, "FCEI")
    [mail] = [n for n in notices("weekly_report") if n.channel.value == "email"]
    text = channels.render(mail, "en").text
    assert ("Rectification items: 0 opened, 1 verified (1 on time), 1 rejected; 5 on the backlog, 2 overdue"
            in text), text
    assert report.content["rectification"]["total"]["active"] == 5


def test_the_definitions_page_says_how_the_ledger_is_counted(client, world, login):
    login("technician")
    page = client.get("/dashboard/definitions").get_data(as_text=True)
    section = page.split('id="def-rectification"')[1].split("</section>")[0]
    assert "Items on the backlog whose deadline day is over" in section
    assert "at least 3 requests of one category filed in the last 30 days" in section
