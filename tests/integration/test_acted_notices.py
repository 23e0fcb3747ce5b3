"""Issue 15, item 8: the ledger's verification, and notices marked read once their reader acted on the subject.

- A verified item is done: 100 %, whatever progress was last reported.
- Verifying while linked requests are still open needs an explicit "verify anyway"; without it nothing changes.
- A notice about something its reader has since acted on (verified the item, accepted the request,
  acknowledged the escalation) is read; other readers' notices and other subjects' stay unread.
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration import test_migrations
from tests.integration.test_rectification import act, events, new_item, snapshot
from tracker.domain.rectification import ItemStatus
from tracker.domain.workflow import Action, Status
from tracker.errors import ValidationFailed
from tracker.extensions import db as _db
from tracker.models import Escalation, Notification, RectificationItem, User, UserRole
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import sweep as sla_sweep

DAY = timedelta(days=1)
# The migration tests' fixture, by name: pytest finds it here.
empty_database_url = test_migrations.empty_database_url


def unread(user, kind: str | None = None) -> list[Notification]:
    _db.session.expire_all()
    query = select(Notification).where(Notification.user_id == user.id, Notification.channel == "in_app",
                                       Notification.read_at.is_(None))
    if kind:
        query = query.where(Notification.kind == kind)
    return list(_db.session.execute(query).scalars())


def _submitted(world, *, tickets=(), percent=40):
    item = new_item(world, tickets=tickets)
    item = act(world, item, "update", "technician", at=T0 + DAY, text="Asked for a 17:45 run.", percent=percent)
    return act(world, item, "submit", "technician", at=T0 + 2 * DAY, text="The bus leaves at 17:45 now.")


def _second_leader(world):
    other = User(username="leader2", display_name="Second leader", email="leader2@example.edu", locale="en")
    other.set_password(world.password)
    other.roles.append(UserRole(role="leadership"))
    _db.session.add(other)
    _db.session.commit()
    return other


# ---------------------------------------------------------------- progress


def test_a_verified_item_is_done_whatever_progress_was_reported(db, world, client, login_as):
    item = act(world, _submitted(world, percent=40), "verify", "leadership", at=T0 + 3 * DAY)
    assert (item.status, item.progress_percent) == (ItemStatus.VERIFIED, 100)
    login_as("leadership")
    page = client.get(f"/rectification/{item.reference}").get_data(as_text=True)
    progress = page.split('id="item-progress">', 1)[1].split("</dd>", 1)[0]
    assert "100 %" in progress and "40" not in progress
    listing = client.get("/rectification/?state=verified").get_data(as_text=True)
    assert "100 %" in listing and "40 %" not in listing


def test_the_migration_marks_items_verified_before_done(app_config, empty_database_url):
    from flask_migrate import downgrade, upgrade

    from tests.factories import build_world
    from tracker import create_app

    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="heads")
        world = build_world()
        verified = act(world, _submitted(world, percent=40), "verify", "leadership", at=T0 + 3 * DAY)
        working = _submitted(world, percent=60)
        ids = verified.id, working.id
        # As the old code left them: verified at the last reported progress.
        _db.session.execute(update(RectificationItem).where(RectificationItem.id == verified.id)
                            .values(progress_percent=40))
        _db.session.commit()
        _db.session.remove()
        downgrade(revision="0019_ledger-1")
        upgrade(revision="heads")
        progress = dict(_db.session.execute(select(RectificationItem.id, RectificationItem.progress_percent)).all())
        assert progress == {ids[0]: 100, ids[1]: 60}
        _db.session.remove()
        _db.engine.dispose()


# ---------------------------------------------------------------- open linked requests


def test_verifying_with_open_linked_requests_changes_nothing_without_verify_anyway(db, world):
    open_ticket = make_ticket(world, description="The 17:30 bus left at 17:20 again.")
    done_ticket = make_ticket(world, status=Status.CLOSED, description="The 17:30 bus left early.")
    item = _submitted(world, tickets=[open_ticket, done_ticket])
    before = snapshot(item.id)

    with pytest.raises(ValidationFailed) as refused:
        act(world, item, "verify", "leadership", at=T0 + 3 * DAY, text="Seen at the gate.")

    assert open_ticket.reference in str(refused.value) and done_ticket.reference not in str(refused.value)
    assert "Verify anyway" in str(refused.value) and "Nothing was changed" in str(refused.value)
    assert snapshot(item.id) == before
    item = act(world, item, "verify", "leadership", at=T0 + 3 * DAY, text="Seen.", verify_anyway=True)
    assert item.status is ItemStatus.VERIFIED
    assert events(item)[-1].data["open_requests"] == [open_ticket.reference]


def test_verifying_when_every_linked_request_is_done_needs_no_confirmation(db, world):
    done = make_ticket(world, status=Status.CLOSED)
    cancelled = make_ticket(world, status=Status.CANCELLED)
    item = act(world, _submitted(world, tickets=[done, cancelled]), "verify", "leadership", at=T0 + 3 * DAY)
    assert item.status is ItemStatus.VERIFIED
    assert "open_requests" not in events(item)[-1].data


def test_the_page_lists_the_open_requests_and_verifies_only_when_ticked(db, world, client, login_as):
    open_ticket = make_ticket(world, description="The 17:30 bus left at 17:20 again.")
    item = _submitted(world, tickets=[open_ticket])
    login_as("leadership")
    page = html.unescape(client.get(f"/rectification/{item.reference}").get_data(as_text=True))
    warning = page.split('id="verify-open-requests"', 1)[1].split("</form>", 1)[0]
    assert "1 linked request is still open" in warning
    assert f'href="/tickets/{open_ticket.reference}"' in warning
    assert 'name="verify_anyway"' in warning
    assert "Verify anyway: 1 linked request is still open" in warning

    version = item.version
    answer = post_form(client, f"/rectification/{item.reference}/verify", {"version": version, "text": "Fine."})
    shown = html.unescape(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert f"Requests linked to this item are still open: {open_ticket.reference}" in shown
    _db.session.expire_all()
    assert _db.session.get(RectificationItem, item.id).status is ItemStatus.AWAITING_VERIFICATION

    post_form(client, f"/rectification/{item.reference}/verify",
              {"version": version, "text": "Fine.", "verify_anyway": "y"})
    _db.session.expire_all()
    item = _db.session.get(RectificationItem, item.id)
    assert (item.status, item.progress_percent) == (ItemStatus.VERIFIED, 100)
    history = html.unescape(client.get(f"/rectification/{item.reference}").get_data(as_text=True))
    assert f"{open_ticket.reference} still open" in history.split('id="item-history"')[1]


def test_the_page_in_chinese_words_the_warning_in_chinese(db, world, client, login_as):
    item = _submitted(world, tickets=[make_ticket(world)])
    login_as("leadership")
    page = html.unescape(client.get(f"/rectification/{item.reference}",
                                    headers={"Accept-Language": "zh-CN"}).get_data(as_text=True))
    warning = page.split('id="verify-open-requests"', 1)[1].split("</form>", 1)[0]
    assert "仍未完成" in warning and "still open" not in warning


# ---------------------------------------------------------------- notices read once acted on


def test_verifying_marks_the_verifiers_awaiting_verification_notice_read(db, world):
    other_leader = _second_leader(world)
    leader = world.users["leadership"]
    item = _submitted(world)
    assert len(unread(leader, "rectification_submitted")) == 1
    assert len(unread(other_leader, "rectification_submitted")) == 1
    unrelated = _submitted(world)

    act(world, item, "verify", "leadership", at=T0 + 3 * DAY)

    [left] = unread(leader, "rectification_submitted")
    assert left.link == f"/rectification/{unrelated.reference}"  # another item's notice stays
    assert len(unread(other_leader, "rectification_submitted")) == 2  # another reader's too
    read = _db.session.execute(select(Notification).where(
        Notification.user_id == leader.id, Notification.channel == "in_app",
        Notification.link == f"/rectification/{item.reference}")).scalar_one()
    assert read.read_at == T0 + 3 * DAY


def test_the_responsible_person_starting_work_reads_the_given_to_you_notice(db, world):
    technician = world.users["technician"]
    item = new_item(world)
    assert len(unread(technician, "rectification_assigned")) == 1
    act(world, item, "start", "technician", at=T0 + DAY)
    assert unread(technician, "rectification_assigned") == []


def test_accepting_a_request_reads_the_assigned_notice(db, world):
    technician = world.users["technician"]
    ticket = make_ticket(world, status=Status.ASSIGNED)
    other = make_ticket(world, status=Status.ASSIGNED)
    assert {n.ticket_id for n in unread(technician, "ticket_assigned")} == {ticket.id, other.id}
    ticket_service.transition(ticket.id, Action.ACCEPT, actor=technician, now=T0 + timedelta(hours=1))
    assert {n.ticket_id for n in unread(technician, "ticket_assigned")} == {other.id}


def test_acknowledging_an_escalation_reads_its_notice(db, world):
    head = world.users["centre_head"]
    make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=31))  # response breached: level 2, to the centre head
    escalation = _db.session.execute(select(Escalation).where(Escalation.level == 2)).scalar_one()
    about = [n for n in unread(head) if n.escalation_id == escalation.id]
    assert about
    sla_sweep.acknowledge(escalation.id, actor=head, now=T0 + timedelta(minutes=35))
    assert [n for n in unread(head) if n.escalation_id == escalation.id] == []
