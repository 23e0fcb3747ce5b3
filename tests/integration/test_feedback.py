"""Requesters' ratings, the signed rating link, follow-ups, the weekly sample and automatic closure.

Times are fixed instants around the week of Monday 2026-03-02 in Shanghai
(UTC+8); the worker tests at the end use the real clock, as beat does.
"""

import csv
import io
import re
import threading
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeTimedSerializer
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, build_world, make_ticket
from tests.integration import workers
from tests.integration.test_dashboards import by_row, list_count, page, tables_of
from tracker.clock import utcnow
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import (
    Channel,
    EventKind,
    Feedback,
    FeedbackChannel,
    FollowUp,
    FollowUpKind,
    FollowUpSample,
    FollowUpStatus,
    Notification,
    Ticket,
    TicketEvent,
    TicketSla,
)
from tracker.services.insight import reports, stats, weekly
from tracker.services.ledger import feedback, follow_ups
from tracker.services.notify import channels
from tracker.services.requests import closure
from tracker.services.requests import tickets as svc
from tracker.services.sla import config as sla_config
from tracker.services.sla import sweep as sla_sweep

SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)
WEEK = "from=2026-03-02&to=2026-03-08"


def at(text: str) -> datetime:
    return datetime.strptime(text, "%m-%d %H:%M").replace(year=2026, tzinfo=SH)


def count(model, *where) -> int:
    return _db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def events(ticket_id: int, kind: EventKind) -> list[TicketEvent]:
    return list(_db.session.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
        .order_by(TicketEvent.id)
    ).scalars())


def technician_of(world, category: str):
    return world.users["dorm_technician" if category == "keys" else "technician"]


def resolved(world, *, category: str = "water", now: datetime = T0, requester="requester") -> Ticket:
    """File a request at ``now``; the centre's technician takes it at +5 min and resolves it at +30 min."""
    ticket = make_ticket(world, category=category, requester=requester, now=now)
    tech = technician_of(world, category)
    svc.transition(ticket.id, Action.TAKE, actor=tech, now=now + timedelta(minutes=5))
    return svc.transition(ticket.id, Action.RESOLVE, actor=tech, now=now + timedelta(minutes=30),
                          resolution_note="Fixed.")


def closed(world, *, category: str = "water", now: datetime, requester="requester") -> Ticket:
    """A request resolved as ``resolved`` does and confirmed by its requester at +1 h."""
    ticket = resolved(world, category=category, now=now, requester=requester)
    who = world.users[requester] if isinstance(requester, str) else requester
    return svc.transition(ticket.id, Action.CONFIRM, actor=who, now=now + timedelta(hours=1))


RESOLVED_AT = T0 + timedelta(minutes=30)


# ---------------------------------------------------------------- settings


def test_the_settings_are_read_and_checked(tmp_path):
    from tracker.config import ConfigError, Environment, load

    config = load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path), "TRACKER_FEEDBACK_EDIT_MINUTES": "15",
                               "TRACKER_AUTO_CLOSE_DAYS": "10", "TRACKER_FOLLOW_UP_SAMPLE_PER_CENTRE": "0"}))
    assert (config["FEEDBACK_EDIT_MINUTES"], config["AUTO_CLOSE_DAYS"], config["FOLLOW_UP_SAMPLE_PER_CENTRE"],
            config["FEEDBACK_LINK_DAYS"]) == (15, 10, 0, 14)
    for variable, value in (("TRACKER_AUTO_CLOSE_DAYS", "0"), ("TRACKER_FEEDBACK_LINK_DAYS", "two"),
                            ("TRACKER_FEEDBACK_EDIT_MINUTES", "-1")):
        with pytest.raises(ConfigError, match=variable):
            load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path), variable: value}))


# ---------------------------------------------------------------- rating once, edit window


def test_the_requester_rates_a_resolved_request_once_on_its_page(client, world, login_as):
    ticket = resolved(world)
    requester = login_as("requester")
    html = page(client, f"/tickets/{ticket.reference}")
    assert 'id="feedback"' in html and "Send the rating" in html

    response = post_form(client, f"/tickets/{ticket.reference}/feedback", {"rating": "4", "comment": "Quick work"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#feedback")
    rating = feedback.get(ticket.id)
    assert (rating.rating, rating.comment, rating.channel, rating.given_by_id) == (4, "Quick work",
                                                                                   FeedbackChannel.WEB, requester.id)
    [event] = events(ticket.id, EventKind.FEEDBACK_GIVEN)
    assert event.actor_id == requester.id and event.data["rating"] == 4 and event.body == "Quick work"
    html = page(client, f"/tickets/{ticket.reference}")
    assert "4 of 5, given" in html and "Change the rating" in html and "rated the service 4 of 5" in html
    assert count(FollowUp) == 0  # a 4 needs no visit


@pytest.mark.parametrize("rating", ["0", "6", "x", ""])
def test_a_rating_outside_one_to_five_is_refused_and_nothing_is_stored(client, world, login_as, rating):
    ticket = resolved(world)
    login_as("requester")
    response = post_form(client, f"/tickets/{ticket.reference}/feedback", {"rating": rating}, follow_redirects=True)
    assert "Choose a rating from 1 to 5." in response.get_data(as_text=True)
    assert count(Feedback) == 0 and events(ticket.id, EventKind.FEEDBACK_GIVEN) == []
    with pytest.raises(ValidationFailed):
        feedback.give(ticket.id, rating=rating or None, actor=world.users["requester"], now=T0 + timedelta(hours=1))
    assert count(Feedback) == 0


def test_only_the_requester_rates_and_only_once_resolved(world):
    open_ticket = make_ticket(world, status=Status.IN_PROGRESS)
    with pytest.raises(Conflict, match="not resolved"):
        feedback.give(open_ticket.id, rating=5, actor=world.users["requester"], now=T0 + timedelta(hours=1))
    ticket = resolved(world)
    for who in ("other_requester", "technician", "centre_head", "leadership"):
        with pytest.raises(PermissionDenied):
            feedback.give(ticket.id, rating=5, actor=world.users[who], now=T0 + timedelta(hours=1))
    with pytest.raises(NotFound):
        feedback.give(999999, rating=5, actor=world.users["requester"], now=T0)
    assert count(Feedback) == 0 and count(TicketEvent, TicketEvent.kind == EventKind.FEEDBACK_GIVEN) == 0


def test_a_rating_can_be_changed_within_the_edit_window_only(app, world):
    ticket = resolved(world)
    requester = world.users["requester"]
    given = T0 + timedelta(hours=1)
    assert app.config["FEEDBACK_EDIT_MINUTES"] == 60
    feedback.give(ticket.id, rating=3, comment="OK", actor=requester, now=given)
    feedback.give(ticket.id, rating=5, comment="Better on reflection", actor=requester, now=given + timedelta(minutes=60))
    row = feedback.get(ticket.id)
    assert (row.rating, row.comment, row.given_at, row.edited_at) == (5, "Better on reflection", given,
                                                                      given + timedelta(minutes=60))
    [edited] = events(ticket.id, EventKind.FEEDBACK_EDITED)
    assert (edited.data["rating"], edited.data["previous_rating"]) == (5, 3)
    with pytest.raises(Conflict, match="can be changed only in the 60 minutes"):
        feedback.give(ticket.id, rating=1, actor=requester, now=given + timedelta(minutes=61))
    assert feedback.get(ticket.id).rating == 5 and len(events(ticket.id, EventKind.FEEDBACK_EDITED)) == 1
    assert count(Feedback) == 1


def test_the_edit_window_is_configurable(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "FEEDBACK_EDIT_MINUTES", 0)  # no change at all
    ticket = resolved(world)
    requester = world.users["requester"]
    given = T0 + timedelta(hours=1)
    feedback.give(ticket.id, rating=4, actor=requester, now=given)
    with pytest.raises(Conflict):
        feedback.give(ticket.id, rating=5, actor=requester, now=given + timedelta(seconds=1))
    assert feedback.get(ticket.id).rating == 4
    standing = feedback.standing(requester, svc_get(ticket.id), given + timedelta(seconds=1))
    assert standing.feedback is not None and not standing.may_rate and not standing.may_edit


def svc_get(ticket_id: int) -> Ticket:
    return _db.session.get(Ticket, ticket_id)


def test_the_page_hides_the_form_from_others_and_after_the_window(client, world, login_as):
    ticket = resolved(world)
    login_as("other_requester")
    assert client.get(f"/tickets/{ticket.reference}").status_code == 404
    post_form(client, "/logout")
    login_as("technician")
    html = page(client, f"/tickets/{ticket.reference}")
    assert "Send the rating" not in html
    response = post_form(client, f"/tickets/{ticket.reference}/feedback", {"rating": "5"}, follow_redirects=True)
    assert "Only the requester can rate this request." in response.get_data(as_text=True)
    assert count(Feedback) == 0
    # Rated long ago: the page shows the rating and no form.
    feedback.give(ticket.id, rating=4, actor=world.users["requester"], now=T0 + timedelta(hours=1))
    post_form(client, "/logout")
    login_as("requester")
    html = page(client, f"/tickets/{ticket.reference}")
    assert "4 of 5, given" in html and "Change the rating" not in html and "Send the rating" not in html


# ---------------------------------------------------------------- the signed link


def link_of(ticket, *, issued_at: datetime) -> str:
    return "/feedback/" + feedback.link_token(ticket.id, ticket.requester_id, issued_at=issued_at)


def test_the_resolved_email_carries_a_signed_link_that_rates_without_a_login(client, world, monkeypatch):
    requester = world.users["requester"]
    requester.email = "requester@campus.test"
    _db.session.commit()
    ticket = resolved(world)
    mail = _db.session.execute(select(Notification).where(
        Notification.ticket_id == ticket.id, Notification.kind == "ticket_resolved",
        Notification.channel == Channel.EMAIL)).scalar_one()
    in_app = _db.session.execute(select(Notification).where(
        Notification.ticket_id == ticket.id, Notification.kind == "ticket_resolved",
        Notification.channel == Channel.IN_APP)).scalar_one()
    text = channels.render(mail, "en").text
    assert "Rate the service from 1 to 5 (no login needed):" in text
    [url] = re.findall(r"https?://\S+/feedback/\S+", text)
    assert "Rate the service" not in channels.render(in_app, "en").text  # read logged in, beside the page's form
    # The same notice renders the same link (it is signed with the notice's instant).
    assert re.findall(r"https?://\S+/feedback/\S+", channels.render(mail, "en").text) == [url]

    path = urlsplit(url).path
    now = RESOLVED_AT + timedelta(hours=2)
    monkeypatch.setattr("tracker.web.feedback.utcnow", lambda: now)
    html = page(client, path)  # anonymous
    assert ticket.reference in html and "Send the rating" in html
    assert client.get(path).headers["Cache-Control"] == "no-store"
    response = post_form(client, path, {"rating": "2", "comment": "Took two visits"})
    assert response.status_code == 302
    row = feedback.get(ticket.id)
    assert (row.rating, row.channel, row.given_by_id, row.comment) == (2, FeedbackChannel.LINK, None,
                                                                      "Took two visits")
    [event] = events(ticket.id, EventKind.FEEDBACK_GIVEN)
    assert event.actor_id is None and event.data["channel"] == "link"
    html = page(client, path)
    assert "You rated this request 2 of 5." in html and "Change the rating" in html
    # Within the window the link changes it; the low rating opened one follow-up only.
    assert post_form(client, path, {"rating": "1"}).status_code == 302
    assert feedback.get(ticket.id).rating == 1
    assert count(FollowUp, FollowUp.ticket_id == ticket.id) == 1
    # After the window the link says so and changes nothing.
    now = RESOLVED_AT + timedelta(hours=4)
    response = post_form(client, path, {"rating": "5"})
    assert response.status_code == 409
    assert "A rating can be changed only in the 60 minutes" in response.get_data(as_text=True)
    assert feedback.get(ticket.id).rating == 1


def _refused(client, path: str, message: str, status: int = 400) -> None:
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == status, (path, response.status_code)
    assert 'id="link-refused"' in html and message in html, html[:2000]
    assert "Send the rating" not in html
    response = post_form(client, path, {"rating": "5"})
    assert response.status_code == status
    assert count(Feedback) == 0


def test_an_expired_link_is_refused_with_a_clear_page(client, world, app):
    ticket = resolved(world)
    issued = utcnow() - timedelta(days=app.config["FEEDBACK_LINK_DAYS"], minutes=1)
    _refused(client, link_of(ticket, issued_at=issued), "This rating link has expired: links work for 14 days.")
    # A day younger, it works.
    fresh = link_of(ticket, issued_at=utcnow() - timedelta(days=app.config["FEEDBACK_LINK_DAYS"] - 1))
    assert client.get(fresh).status_code == 200


def test_a_tampered_link_is_refused(client, world):
    ticket = resolved(world)
    token = link_of(ticket, issued_at=utcnow()).removeprefix("/feedback/")
    payload, timestamp, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    message = "This rating link is not valid."
    _refused(client, f"/feedback/{payload}.{timestamp}.{flipped}", message)
    _refused(client, f"/feedback/{token[:-5]}", message)
    _refused(client, "/feedback/not-a-token", message)
    # Signed with another key, or for another purpose (salt): refused too.
    other_key = URLSafeTimedSerializer("another-secret", salt=feedback.LINK_SALT).dumps(
        {"t": ticket.id, "u": ticket.requester_id})
    _refused(client, f"/feedback/{other_key}", message)
    other_salt = URLSafeTimedSerializer("test-secret", salt="another-purpose").dumps(
        {"t": ticket.id, "u": ticket.requester_id})
    _refused(client, f"/feedback/{other_salt}", message)


def test_a_link_rates_its_own_request_only(client, world):
    mine = resolved(world)
    theirs = resolved(world, requester="other_requester", now=T0 + timedelta(hours=1))
    # The signed payload names one request and its requester: a link made for
    # one request with another's requester (or a request that changed hands) fails.
    wrong = "/feedback/" + feedback.link_token(theirs.id, mine.requester_id, issued_at=utcnow())
    _refused(client, wrong, "This rating link is not valid.")
    missing = "/feedback/" + feedback.link_token(999999, mine.requester_id, issued_at=utcnow())
    _refused(client, missing, "This rating link is not valid.")
    # Its own link rates its own request, and nothing else.
    assert post_form(client, link_of(mine, issued_at=utcnow()), {"rating": "5"}).status_code == 302
    assert feedback.get(mine.id).rating == 5 and feedback.get(theirs.id) is None


def test_a_link_to_a_request_not_resolved_now_is_refused(client, world):
    ticket = make_ticket(world, status=Status.REOPENED)
    response = client.get(link_of(ticket, issued_at=utcnow()))
    assert response.status_code == 409
    assert "can be rated once it is resolved" in response.get_data(as_text=True)
    assert count(Feedback) == 0


# ---------------------------------------------------------------- follow-ups after low ratings


@pytest.mark.parametrize("rating, opens", [(1, True), (2, True), (3, False), (5, False)])
def test_a_rating_of_two_or_less_opens_a_follow_up_for_the_centre_heads(world, rating, opens):
    ticket = resolved(world)
    given = at("03-04 10:00")  # Wednesday
    feedback.give(ticket.id, rating=rating, actor=world.users["requester"], now=given)
    rows = follow_ups.for_ticket(ticket.id)
    if not opens:
        assert rows == [] and events(ticket.id, EventKind.FOLLOW_UP_OPENED) == []
        assert count(Notification, Notification.kind == "follow_up_due") == 0
        return
    [row] = rows
    assert (row.kind, row.status, row.centre_id) == (FollowUpKind.LOW_RATING, FollowUpStatus.OPEN, ticket.centre_id)
    # Due at the close of the third working day after Wednesday: Monday 9th, 17:30 (office calendar).
    assert row.due_at == at("03-09 17:30")
    [event] = events(ticket.id, EventKind.FOLLOW_UP_OPENED)
    assert event.data["kind"] == "low_rating" and event.data["follow_up_id"] == row.id
    heads = {n.user_id for n in _db.session.execute(
        select(Notification).where(Notification.kind == "follow_up_due")).scalars()}
    assert heads == {world.users["centre_head"].id}  # not the dorm head, not the technicians


def test_changing_a_rating_down_opens_one_follow_up_and_up_keeps_it(world):
    ticket = resolved(world)
    requester = world.users["requester"]
    given = T0 + timedelta(hours=1)
    feedback.give(ticket.id, rating=4, actor=requester, now=given)
    assert follow_ups.for_ticket(ticket.id) == []
    feedback.give(ticket.id, rating=1, actor=requester, now=given + timedelta(minutes=5))
    feedback.give(ticket.id, rating=2, actor=requester, now=given + timedelta(minutes=10))
    assert len(follow_ups.for_ticket(ticket.id)) == 1
    assert len(events(ticket.id, EventKind.FOLLOW_UP_OPENED)) == 1


def test_the_head_records_the_follow_up_visit(client, world, login_as):
    ticket = resolved(world)
    feedback.give(ticket.id, rating=1, comment="Rude", actor=world.users["requester"], now=T0 + timedelta(hours=1))
    [row] = follow_ups.for_ticket(ticket.id)
    head = login_as("centre_head")
    listing = page(client, "/follow-ups")
    assert ticket.reference in listing and "rated 1 of 5" in listing
    html = page(client, f"/tickets/{ticket.reference}")
    assert 'id="follow-ups"' in html and "Record the visit or call" in html

    # No result: a message, nothing recorded.
    response = post_form(client, f"/follow-ups/{row.id}/record", {"outcome": "Visited"}, follow_redirects=True)
    assert "Choose the result of the follow-up." in response.get_data(as_text=True)
    assert follow_ups.for_ticket(ticket.id)[0].status is FollowUpStatus.OPEN
    # A contact in the future: refused.
    response = post_form(client, f"/follow-ups/{row.id}/record", {
        "result": "resolved", "outcome": "Apologised", "contacted_at": "2099-01-01T10:00",
    }, follow_redirects=True)
    assert "between the opening of the follow-up and now" in response.get_data(as_text=True)
    assert count(TicketEvent, TicketEvent.kind == EventKind.FOLLOW_UP_RECORDED) == 0

    response = post_form(client, f"/follow-ups/{row.id}/record", {
        "result": "resolved", "outcome": "Visited, apologised; the technician will call first next time.",
        "next": f"/tickets/{ticket.reference}#follow-ups",
    })
    assert response.status_code == 302 and response.headers["Location"].endswith("#follow-ups")
    _db.session.expire_all()
    done = _db.session.get(FollowUp, row.id)
    assert (done.status, done.result.value, done.done_by_id) == (FollowUpStatus.DONE, "resolved", head.id)
    assert done.contacted_at is not None and done.outcome.startswith("Visited, apologised")
    [event] = events(ticket.id, EventKind.FOLLOW_UP_RECORDED)
    assert event.actor_id == head.id and event.data["result"] == "resolved"
    html = unescape(page(client, f"/tickets/{ticket.reference}"))
    assert "recorded the follow-up: The requester's concern was settled" in html
    # Once only.
    response = post_form(client, f"/follow-ups/{row.id}/record", {"result": "reached", "outcome": "Again"},
                         follow_redirects=True)
    assert "This follow-up is recorded already." in response.get_data(as_text=True)
    assert len(events(ticket.id, EventKind.FOLLOW_UP_RECORDED)) == 1


def test_other_centres_heads_and_other_roles_may_not_record_or_read_it(client, world, login_as):
    ticket = resolved(world)
    feedback.give(ticket.id, rating=2, actor=world.users["requester"], now=T0 + timedelta(hours=1))
    [row] = follow_ups.for_ticket(ticket.id)
    login_as("dorm_head")
    assert ticket.reference not in page(client, "/follow-ups?state=all")
    response = post_form(client, f"/follow-ups/{row.id}/record", {"result": "reached", "outcome": "x"})
    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        follow_ups.record(row.id, actor=world.users["dorm_head"], now=T0 + timedelta(hours=2), result="reached",
                          outcome="x")
    for who in ("leadership", "dispatcher", "technician"):
        with pytest.raises(PermissionDenied):
            follow_ups.record(row.id, actor=world.users[who], now=T0 + timedelta(hours=2), result="reached",
                              outcome="x")
    _db.session.expire_all()
    assert _db.session.get(FollowUp, row.id).status is FollowUpStatus.OPEN
    assert events(ticket.id, EventKind.FOLLOW_UP_RECORDED) == []
    # Leadership reads every centre's follow-ups, and records none.
    post_form(client, "/logout")
    login_as("leadership")
    html = page(client, "/follow-ups")
    assert ticket.reference in html and "Record the visit or call" not in html


# ---------------------------------------------------------------- the weekly sample


def sample_week_data(world) -> dict[str, list[int]]:
    """Requests closed in the week of March 2nd and around it, in both centres."""
    ids = {"repairs": [], "dorm": [], "outside": []}
    for n in range(8):
        ids["repairs"].append(closed(world, now=at("03-02 09:00") + timedelta(hours=n * 12)).id)
    for n in range(2):
        ids["dorm"].append(closed(world, category="keys", now=at("03-03 10:00") + timedelta(hours=n)).id)
    # Closed the Sunday before (local) and the Monday after: not the week's.
    ids["outside"].append(closed(world, now=at("03-01 20:00")).id)
    ids["outside"].append(closed(world, now=at("03-08 23:30")).id)  # closed 00:30 on the 9th
    # Resolved in the week, never confirmed: not closed, not drawn.
    ids["outside"].append(resolved(world, now=at("03-04 09:00")).id)
    return ids


def sampled(centre_id: int | None = None) -> list[int]:
    query = select(FollowUp.ticket_id).where(FollowUp.kind == FollowUpKind.SAMPLE_CALL)
    if centre_id is not None:
        query = query.where(FollowUp.centre_id == centre_id)
    return sorted(_db.session.execute(query).scalars())


def test_the_weekly_sample_draws_closed_requests_per_centre_once(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "FOLLOW_UP_SAMPLE_PER_CENTRE", 3)
    ids = sample_week_data(world)
    # A request with a low-rating visit already is not called again.
    visited = ids["repairs"][0]
    feedback.give(visited, rating=1, actor=world.users["requester"], now=at("03-05 09:00"))
    now = at("03-09 09:00")  # Monday: the week of the 2nd is over
    assert follow_ups.sample_week(now) == MONDAY

    drawn = follow_ups.run_schedule(now)
    repairs, dorm = world.centres["repairs"].id, world.centres["dorm"].id
    assert set(drawn) == {repairs, dorm}
    assert len(drawn[repairs]) == 3 and set(drawn[repairs]) <= set(ids["repairs"][1:])
    assert sorted(drawn[dorm]) == sorted(ids["dorm"])  # fewer than asked: all of them
    assert sampled(repairs) == sorted(drawn[repairs]) and sampled(dorm) == sorted(drawn[dorm])
    samples = {s.centre_id: (s.size, s.drawn) for s in _db.session.execute(select(FollowUpSample)).scalars()}
    assert samples == {repairs: (3, 3), dorm: (3, 2)}
    for ticket_id in drawn[repairs]:
        [event] = events(ticket_id, EventKind.FOLLOW_UP_OPENED)
        assert event.data["kind"] == "sample_call"
    row = _db.session.execute(select(FollowUp).where(FollowUp.kind == FollowUpKind.SAMPLE_CALL)).scalars().first()
    assert row.sample_week == MONDAY
    notices = _db.session.execute(select(Notification).where(Notification.kind == "follow_up_due",
                                                             Notification.ticket_id.is_(None))).scalars().all()
    assert {(n.user_id, n.payload["count"]) for n in notices} == {(world.users["centre_head"].id, 3),
                                                                   (world.users["dorm_head"].id, 2)}

    # Again, later the same week and the week after a restart: nothing new.
    before = count(FollowUp), count(TicketEvent), count(Notification)
    assert follow_ups.run_schedule(now + timedelta(hours=5)) == {}
    assert follow_ups.draw_sample(MONDAY, now=now + timedelta(days=2)) == {}
    assert (count(FollowUp), count(TicketEvent), count(Notification)) == before


def test_the_weekly_sample_is_reproducible(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "FOLLOW_UP_SAMPLE_PER_CENTRE", 3)
    ids = sample_week_data(world)
    repairs = world.centres["repairs"].id
    first = follow_ups.draw_sample(MONDAY, now=at("03-09 09:00"))[repairs]
    # Forget the draw (as a fresh copy of the same data would be) and draw again.
    _db.session.execute(TicketEvent.__table__.delete().where(TicketEvent.kind == EventKind.FOLLOW_UP_OPENED))
    _db.session.execute(FollowUp.__table__.delete())
    _db.session.execute(FollowUpSample.__table__.delete())
    _db.session.commit()
    second = follow_ups.draw_sample(MONDAY, now=at("03-10 15:00"))[repairs]
    assert first == second and len(first) == 3 and set(first) <= set(ids["repairs"])
    # A size of 0 draws nothing.
    monkeypatch.setitem(app.config, "FOLLOW_UP_SAMPLE_PER_CENTRE", 0)
    assert follow_ups.draw_sample(MONDAY - timedelta(days=7), now=at("03-10 15:00")) == {}


def test_two_draws_at_once_draw_each_centre_once(app, world, monkeypatch):
    # On SQLite the writers queue (BEGIN IMMEDIATE); on PostgreSQL they race on the unique key.
    monkeypatch.setitem(app.config, "FOLLOW_UP_SAMPLE_PER_CENTRE", 3)
    sample_week_data(world)
    _db.session.commit()
    results, errors = [], []

    def draw():
        try:
            with app.app_context():
                results.append(follow_ups.draw_sample(MONDAY, now=at("03-09 09:00")))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=draw) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(FollowUpSample) == 2 and len(sampled()) == 5
    assert sorted(c for r in results for c in r) == sorted(world.centres[c].id for c in ("repairs", "dorm"))


def test_the_sample_command_draws_a_chosen_week_once(app, world):
    ticket = closed(world, now=at("03-04 09:00"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["follow-up-sample", "--week", "2026-03-05"])
    assert result.exit_code == 0, result.output
    assert "week of 2026-03-02" in result.output and f"centre {world.centres['repairs'].id}: 1" in result.output
    assert sampled() == [ticket.id]
    again = runner.invoke(args=["follow-up-sample", "--week", "2026-03-02"])
    assert "drawn already" in again.output and sampled() == [ticket.id]


def test_the_head_records_a_sample_call(world):
    closed_ticket = closed(world, now=at("03-03 09:00"))
    follow_ups.draw_sample(MONDAY, now=at("03-09 09:00"))
    [row] = follow_ups.for_ticket(closed_ticket.id)
    with pytest.raises(ValidationFailed):  # "reached" needs what was said
        follow_ups.record(row.id, actor=world.users["centre_head"], now=at("03-09 11:00"), result="reached")
    follow_ups.record(row.id, actor=world.users["centre_head"], now=at("03-09 11:00"), result="not_reached",
                      contacted_at=at("03-09 10:30"))
    _db.session.expire_all()
    done = _db.session.get(FollowUp, row.id)
    assert (done.status, done.result.value, done.contacted_at) == (FollowUpStatus.DONE, "not_reached",
                                                                   at("03-09 10:30"))
    counts = follow_ups.counts(world.centres["repairs"].id, date(2026, 3, 9), date(2026, 3, 9), at("03-09 12:00"))
    assert (counts.open, counts.overdue, counts.done) == (0, 0, 1)


# ---------------------------------------------------------------- automatic closure


def confirm_events(ticket_id: int) -> list[TicketEvent]:
    return [e for e in events(ticket_id, EventKind.STATUS_CHANGED) if e.data.get("action") == "confirm"]


def test_a_request_closes_itself_when_its_confirmation_target_comes_due(world):
    ticket = resolved(world)  # repairs policy: confirmation within 3 days, round the clock
    [due_at] = _db.session.execute(select(TicketSla.due_at).where(
        TicketSla.ticket_id == ticket.id, TicketSla.target == Target.CONFIRMATION)).scalars()
    assert due_at == RESOLVED_AT + timedelta(days=3)

    assert sla_sweep.sweep_due(due_at - timedelta(minutes=1)).closed == 0
    assert svc_get(ticket.id).status is Status.RESOLVED
    result = sla_sweep.sweep_due(due_at)
    assert result.closed == 1 and result.breached == 0
    _db.session.expire_all()
    row = svc_get(ticket.id)
    assert (row.status, row.closed_at) == (Status.CLOSED, due_at)
    [event] = confirm_events(ticket.id)
    assert event.actor_id is None and event.data["automatic"] is True
    assert event.data["waited_minutes"] == 3 * 1440
    state = _db.session.execute(select(TicketSla.state).where(
        TicketSla.ticket_id == ticket.id, TicketSla.target == Target.CONFIRMATION)).scalar_one()
    assert state is TargetState.MET
    # Twice, and later: nothing more.
    assert closure.close_unconfirmed(due_at) == 0
    assert sla_sweep.sweep_due(due_at + timedelta(days=1)).closed == 0
    assert len(confirm_events(ticket.id)) == 1


def test_without_a_confirmation_target_a_request_closes_after_the_configured_days(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_CLOSE_DAYS", 5)
    # The water category without any policy; electricity under one without a confirmation target.
    sla_config.assign_policy(world.categories["water"].id, None, actor=None, now=T0)
    definition = {"targets": {"response": {"calendar": "always", "minutes": {p: 30 for p in
                                                                             ("urgent", "high", "normal", "low")},
                                           "at_risk": 0.75}}}
    policy = sla_config.create_policy(code="no-confirmation", name_en="x", name_zh="x", definition=definition,
                                      actor=None, now=T0)
    sla_config.assign_policy(world.categories["power"].id, policy.id, actor=None, now=T0)
    plain = resolved(world)
    measured = resolved(world, category="power")
    assert svc_get(plain.id).sla_policy_version_id is None
    assert count(TicketSla, TicketSla.ticket_id == measured.id, TicketSla.target == Target.CONFIRMATION) == 0

    assert closure.close_unconfirmed(RESOLVED_AT + timedelta(days=5, seconds=-1)) == 0
    assert closure.close_unconfirmed(RESOLVED_AT + timedelta(days=5)) == 2
    _db.session.expire_all()
    for ticket in (plain, measured):
        assert svc_get(ticket.id).status is Status.CLOSED
        [event] = confirm_events(ticket.id)
        assert event.data == {"action": "confirm", "automatic": True, "waited_minutes": 5 * 1440} or (
            event.data["automatic"] and event.data["waited_minutes"] == 5 * 1440)
    assert closure.close_unconfirmed(RESOLVED_AT + timedelta(days=6)) == 0


def test_the_sweep_looks_for_the_fixed_wait_once_a_minute(app, world, monkeypatch):
    # Requests without a confirmation target wait AUTO_CLOSE_DAYS; the sweep
    # looks for them at most every AUTO_CLOSE_SCAN_SECONDS per process.
    monkeypatch.setitem(app.config, "AUTO_CLOSE_DAYS", 5)
    monkeypatch.setitem(app.config, "AUTO_CLOSE_SCAN_SECONDS", 60)
    monkeypatch.setattr(closure, "_last_scan", {})
    sla_config.assign_policy(world.categories["water"].id, None, actor=None, now=T0)
    plain = [resolved(world) for _ in range(2)]
    day5 = RESOLVED_AT + timedelta(days=5)
    assert sla_sweep.sweep_due(day5 - timedelta(seconds=20)).closed == 0  # looked: not yet
    assert sla_sweep.sweep_due(day5 + timedelta(seconds=30)).closed == 0  # 50 s later: not looked
    _db.session.expire_all()
    assert {svc_get(t.id).status for t in plain} == {Status.RESOLVED}
    assert sla_sweep.sweep_due(day5 + timedelta(seconds=41)).closed == 2  # a minute after the last look
    _db.session.expire_all()
    assert {svc_get(t.id).status for t in plain} == {Status.CLOSED}


def test_automatic_closure_leaves_confirmed_reopened_and_fresh_requests_alone(world):
    requester = world.users["requester"]
    confirmed = resolved(world)
    svc.transition(confirmed.id, Action.CONFIRM, actor=requester, now=RESOLVED_AT + timedelta(hours=1))
    reopened = resolved(world)
    svc.transition(reopened.id, Action.REOPEN, actor=requester, now=RESOLVED_AT + timedelta(hours=1),
                   reason="Still leaking")
    fresh = resolved(world, now=T0 + timedelta(days=2))
    assert closure.close_unconfirmed(RESOLVED_AT + timedelta(days=3, hours=2)) == 0
    _db.session.expire_all()
    assert [svc_get(t.id).status for t in (confirmed, reopened, fresh)] == [Status.CLOSED, Status.REOPENED,
                                                                            Status.RESOLVED]
    assert [e.actor_id for e in confirm_events(confirmed.id)] == [requester.id]


def test_a_burst_of_due_requests_closes_a_batch_per_sweep(world):
    ids = [resolved(world, now=T0 + timedelta(minutes=n)).id for n in range(3)]
    later = RESOLVED_AT + timedelta(days=4)
    assert closure.close_unconfirmed(later, batch_size=1, limit=2) == 2
    _db.session.expire_all()
    assert [svc_get(i).status for i in ids] == [Status.CLOSED, Status.CLOSED, Status.RESOLVED]  # oldest first
    assert closure.close_unconfirmed(later) == 1


def test_the_automatic_closure_reads_in_the_history(client, world, login_as):
    ticket = resolved(world)
    sla_sweep.sweep_due(RESOLVED_AT + timedelta(days=3))
    login_as("requester")
    html = page(client, f"/tickets/{ticket.reference}")
    assert "closed automatically after 3 days without confirmation" in html


def test_a_rating_is_still_possible_after_the_automatic_closure(world):
    ticket = resolved(world)
    closure.close_unconfirmed(RESOLVED_AT + timedelta(days=3))
    feedback.give(ticket.id, rating=5, actor=world.users["requester"], now=RESOLVED_AT + timedelta(days=4))
    assert feedback.get(ticket.id).rating == 5


# ---------------------------------------------------------------- satisfaction figures


@pytest.fixture
def rated_week(world, monkeypatch):
    """Ratings worked out by hand: repairs 5, 4, 1 (changed from 2) in the week; the dorm 2; one the week after.

    Repairs: (5 + 4 + 1) / 3 = 3.33 -> 3.3; the dorm 2.0; all (5 + 4 + 1 + 2) / 4 = 3.0.
    """
    requester = world.users["requester"]
    tickets = {}
    for key, when, rating in (("a", "03-02 09:00", 5), ("b", "03-03 09:00", 4), ("c", "03-04 09:00", 2)):
        tickets[key] = resolved(world, now=at(when))
        feedback.give(tickets[key].id, rating=rating, actor=requester, now=at(when) + timedelta(hours=2))
    feedback.give(tickets["c"].id, rating=1, actor=requester, now=at("03-04 11:20"))  # within the window
    tickets["d"] = resolved(world, category="keys", now=at("03-05 10:00"))
    feedback.give(tickets["d"].id, rating=2, actor=requester, now=at("03-05 16:00"))
    # Resolved in the week, rated on Monday the 9th (local): next week's figure.
    tickets["e"] = resolved(world, now=at("03-06 10:00"))
    feedback.give(tickets["e"].id, rating=1, actor=requester, now=at("03-09 00:10"))
    now = at("03-20 12:00")
    for module in ("dashboards", "queue"):
        monkeypatch.setattr(f"tracker.web.{module}.utcnow", lambda: now)
    stats.refresh_all()
    return tickets


def test_satisfaction_agrees_on_dashboard_files_and_weekly_report(client, world, login_as, rated_week):
    now = at("03-20 12:00")
    filters = reports.Filters(first=MONDAY, last=date(2026, 3, 8))
    rows, total = reports.figures_by(filters, "centre", now)
    by_centre = {f.key: f for f in rows}
    repairs_id, dorm_id = world.centres["repairs"].id, world.centres["dorm"].id
    assert (by_centre[repairs_id].rating_sum, by_centre[repairs_id].rating_count) == (10, 3)
    assert (by_centre[dorm_id].rating_sum, by_centre[dorm_id].rating_count) == (2, 1)
    assert total.satisfaction == 3.0
    expected = {"Repair and maintenance": "3.3", "Dormitory management": "2.0", "Total": "3.0"}

    login_as("leadership")
    html = page(client, f"/dashboard/details?{WEEK}")
    shown = by_row(tables_of(html)["figures-centres"])
    assert {name: shown[name]["Satisfaction (1–5)"]["text"] for name in expected} == expected
    # The figure leads to the ratings behind it.
    assert list_count(client, shown["Repair and maintenance"]["Satisfaction (1–5)"]["href"]) == 3
    assert list_count(client, shown["Total"]["Satisfaction (1–5)"]["href"]) == 4

    text = client.get(f"/dashboard/export/centres.csv?{WEEK}").get_data(as_text=True).lstrip("\ufeff")
    in_csv = {r["Centre"]: r["Satisfaction (1–5)"] for r in csv.DictReader(io.StringIO(text))}
    assert in_csv == {"Repair and maintenance": "3.3", "Dormitory management": "2.0", "All centres": "3.0"}
    sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/export/centres.xlsx?{WEEK}").data)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    column = values[0].index("Satisfaction (1–5)")
    assert {r[0]: r[column] for r in values[1:]} == {"Repair and maintenance": 3.3, "Dormitory management": 2.0,
                                                      "All centres": 3.0}
    # The centre dashboard says the same for its centre, per category and in total.
    html = page(client, f"/dashboard/centre?centre={repairs_id}&{WEEK}")
    categories = by_row(tables_of(html)["figures-categories"])
    assert categories["Water and plumbing"]["Satisfaction (1–5)"]["text"] == "3.3"
    assert categories["Total"]["Satisfaction (1–5)"]["text"] == "3.3"

    report = weekly.generate(MONDAY, actor=world.users["leadership"], now=now)
    content = weekly.read(report.content)
    sections = {s.code: s for s in content.centres}
    assert sections["repairs"].figures.satisfaction == by_centre[repairs_id].satisfaction
    assert (sections["dorm"].figures.rating_count, content.total.figures.satisfaction) == (1, 3.0)
    assert sections["repairs"].figures.rating_count == 3
    html = page(client, f"/weekly/{MONDAY}")
    for code, want in (("repairs", "3.3"), ("dorm", "2.0"), ("total", "3.0")):
        row = re.search(rf'id="summary-{code}">(.*?)</tr>', html, re.S).group(1)
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        assert cells[7] == want, (code, cells)
    book = load_workbook(io.BytesIO(client.get(f"/weekly/{MONDAY}/report.xlsx").data))
    summary = list(book.worksheets[0].iter_rows(values_only=True))
    column = summary[0].index("Satisfaction")
    assert [r[column] for r in summary[1:]] == [3.3, 2.0, 3.0]


def test_the_summary_follows_a_rating_when_the_request_changes_category(world, rated_week):
    """A rating counts under its request's category now: the summary moves it, as a full recomputation would."""
    # Filed and resolved on Thursday, rated on Saturday: a day none of its own dates marks.
    ticket = resolved(world, now=at("03-05 10:00"))
    feedback.give(ticket.id, rating=3, actor=world.users["requester"], now=at("03-07 10:00"))
    stats.refresh_all()
    svc.transition(ticket.id, Action.REOPEN, actor=world.users["requester"], now=at("03-10 09:00"),
                   reason="Leaking again")
    svc.transition(ticket.id, Action.RECATEGORISE, actor=world.users["dispatcher"], now=at("03-10 09:30"),
                   category_id=world.categories["power"].id, reason="It is the wiring")
    stats.refresh()  # the marked days only, as the workers do
    now = at("03-20 12:00")
    filters = reports.Filters(first=MONDAY, last=date(2026, 3, 8), centre_id=world.centres["repairs"].id)

    def ratings():
        rows, _total = reports.figures_by(filters, "category", now)
        return {f.key: (f.rating_sum, f.rating_count) for f in rows if f.rating_count}

    kept = ratings()
    assert kept == {world.categories["water"].id: (10, 3), world.categories["power"].id: (3, 1)}
    stats.refresh_all()
    assert ratings() == kept


# ---------------------------------------------------------------- through a real worker

artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink


@pytest.mark.worker
def test_beat_closes_unconfirmed_requests_and_draws_the_sample_once(make_system):
    system = make_system(settings={"TRACKER_AUTO_CLOSE_DAYS": "5", "TRACKER_FOLLOW_UP_SAMPLE_PER_CENTRE": "2",
                                   "TRACKER_FOLLOW_UP_SAMPLE_CHECK_SECONDS": "1"})
    world = build_world()
    for user in world.users.values():  # the notices go by e-mail too
        user.email = f"{user.username}@campus.test"
    _db.session.commit()
    now = utcnow()
    # Auto-close: repairs' policy confirms after 3 days; water without a policy after 5.
    due = resolved(world, category="power", now=now - timedelta(days=3, hours=1))
    fresh = resolved(world, category="power", now=now - timedelta(days=1))
    sla_config.assign_policy(world.categories["water"].id, None, actor=None, now=now)
    plain_old = resolved(world, now=now - timedelta(days=5, hours=1))
    plain_young = resolved(world, now=now - timedelta(days=4))
    # The sample: last week's closed requests (local week of the real clock).
    week = follow_ups.sample_week(now)
    start = datetime.combine(week, datetime.min.time(), SH).astimezone(UTC) + timedelta(hours=9)
    repairs_closed = [closed(world, category="power", now=start + timedelta(hours=6 * n)).id for n in range(5)]
    dorm_closed = [closed(world, category="keys", now=start + timedelta(days=1)).id]
    ids = {"due": due.id, "fresh": fresh.id, "plain_old": plain_old.id, "plain_young": plain_young.id}
    system.release()
    # Beat starts once the data is there: the week's draw is final, whatever closes later.
    worker = system.start_worker(concurrency=2, beat=True)

    tickets = Ticket.__table__
    system.wait_until(
        "the two requests whose wait is over closed automatically",
        lambda: system.count(tickets, tickets.c.id.in_([ids["due"], ids["plain_old"]]),
                             tickets.c.status == "closed") == 2,
        timeout=30,
    )
    system.wait_until("the weekly sample drawn for both centres", lambda: system.count(FollowUpSample) == 2,
                      timeout=30)
    # Two more rounds of every beat task at once in two processes: nothing twice.
    for _ in range(2):
        system.send("sla.sweep_due")
        system.send("follow_ups.sample")
    worker.wait_for_log(r"Task sla\.sweep_due\[[^\]]+\] succeeded",
                        count=sum(1 for t in worker.tasks("sla.sweep_due") if t["what"] == "succeeded") + 3)
    worker.wait_for_log(r"Task follow_ups\.sample\[[^\]]+\] succeeded",
                        count=sum(1 for t in worker.tasks("follow_ups.sample") if t["what"] == "succeeded") + 3)

    status = dict(system.rows(select(tickets.c.id, tickets.c.status).where(tickets.c.id.in_(list(ids.values())))))
    assert {name: str(status[i]) for name, i in ids.items()} == {
        "due": "closed", "fresh": "resolved", "plain_old": "closed", "plain_young": "resolved"}
    events_table = TicketEvent.__table__
    confirms = system.rows(select(events_table.c.ticket_id, events_table.c.actor_id, events_table.c.data).where(
        events_table.c.kind == EventKind.STATUS_CHANGED, events_table.c.ticket_id.in_(list(ids.values()))))
    automatic = [r for r in confirms if r.data.get("action") == "confirm"]
    assert sorted(r.ticket_id for r in automatic) == sorted([ids["due"], ids["plain_old"]])
    assert all(r.actor_id is None and r.data["automatic"] for r in automatic)

    calls = system.rows(select(FollowUp.__table__.c.ticket_id, FollowUp.__table__.c.centre_id).where(
        FollowUp.__table__.c.kind == FollowUpKind.SAMPLE_CALL))
    by_centre = {}
    for ticket_id, centre_id in calls:
        by_centre.setdefault(centre_id, []).append(ticket_id)
    assert len(by_centre[world.centres["repairs"].id]) == 2
    assert set(by_centre[world.centres["repairs"].id]) <= set(repairs_closed)
    assert by_centre[world.centres["dorm"].id] == dorm_closed
    opened = system.count(events_table, events_table.c.kind == EventKind.FOLLOW_UP_OPENED)
    assert opened == 3
    assert worker.errors() == []
