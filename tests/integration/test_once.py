"""Every creating form creates once: Back and submit again lands on what was created (issue 15, item 1)."""

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tracker.models import IdempotencyKey, Ticket, TicketEvent
from tracker.models.ticket import EventKind


def once_key(page: str) -> str:
    """Return the one-time key a page's creating form carries."""
    match = re.search(r'name="once"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="once"', page)
    assert match, "the form carries no one-time key"
    return match.group(1)


def _count(db, model, *where):
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _twice(client, url, data):
    """Submit the same form (same one-time key) twice, as Back and submit again does; return both answers."""
    first = post_form(client, url, data)
    second = post_form(client, url, data)
    return first, second


def _filing(world, key):
    return {
        "category_id": world.categories["water"].id,
        "location_id": world.locations["room"].id,
        "description": "Water is leaking under the sink in room 301.",
        "priority": "",
        "once": key,
    }


@pytest.mark.parametrize("form", ["/tickets/new/repairs", "/tickets/new/repairs?source=qr"], ids=["web", "qr"])
def test_a_request_submitted_again_with_its_form_key_is_filed_once(client, db, world, login_as, form):
    login_as("requester")
    key = once_key(client.get(form).get_data(as_text=True))
    first, second = _twice(client, form, _filing(world, key))
    assert _count(db, Ticket) == 1
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/tickets/{ticket.reference}"
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "This request was already filed; here it is." in page
    # A new form is a new key: a second, different request is filed.
    again = once_key(client.get("/tickets/new/repairs").get_data(as_text=True))
    assert again != key
    post_form(client, "/tickets/new/repairs", _filing(world, again))
    assert _count(db, Ticket) == 2


def test_a_refused_filing_keeps_its_key_free_for_the_corrected_form(client, db, world, login_as):
    login_as("requester")
    key = once_key(client.get("/tickets/new/repairs").get_data(as_text=True))
    refused = post_form(client, "/tickets/new/repairs", {**_filing(world, key), "description": "Leak"})
    assert refused.status_code == 200 and once_key(refused.get_data(as_text=True)) == key
    assert _count(db, Ticket) == 0 and _count(db, IdempotencyKey) == 0
    post_form(client, "/tickets/new/repairs", _filing(world, key))
    assert _count(db, Ticket) == 1


def test_the_same_key_sent_by_another_user_files_their_own_request(client, db, world, login_as):
    login_as("requester")
    post_form(client, "/tickets/new/repairs", _filing(world, "shared-key"))
    post_form(client, "/logout")
    login_as("other_requester")
    response = post_form(client, "/tickets/new/repairs", _filing(world, "shared-key"))
    assert _count(db, Ticket) == 2
    mine = db.session.execute(select(Ticket).where(Ticket.requester_id == world.users["other_requester"].id)).scalar_one()
    assert response.headers["Location"] == f"/tickets/{mine.reference}"


def test_two_submissions_with_one_key_at_the_same_instant_file_one_request(app, db, world):
    from tests.factories import T0
    from tests.integration.test_races import race
    from tracker.extensions import db as _db
    from tracker.models import User
    from tracker.services import idempotency
    from tracker.services.requests import tickets as ticket_service

    user_id = world.users["requester"].id
    request = ticket_service.NewTicket(centre_id=world.centres["repairs"].id, category_id=world.categories["water"].id,
                                       location_id=world.locations["room"].id, description="Leak under the sink.")

    def submit():
        user = _db.session.get(User, user_id)
        user.centre_ids()

        def go():
            earlier = idempotency.claim(user, "the-same-key", "ticket", now=T0)
            if earlier is not None:
                _db.session.rollback()
                return earlier.object_id
            return ticket_service.file_ticket(request, requester=user, now=T0).id

        return go

    results = race(app, [submit, submit, submit])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert _count(db, Ticket) == 1
    assert set(results) == {db.session.execute(select(Ticket.id)).scalar_one()}


def test_a_comment_sent_again_is_added_once(client, db, world, login_as, make_ticket):
    ticket = make_ticket()
    login_as("requester")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    key = once_key(page)
    first, second = _twice(client, f"/tickets/{ticket.reference}/comment",
                           {"reason": "Still leaking this morning.", "once": key})
    assert first.headers["Location"] == second.headers["Location"] == f"/tickets/{ticket.reference}"
    assert _count(db, TicketEvent, TicketEvent.kind == EventKind.COMMENTED) == 1
    assert "This comment was already added; here it is." in client.get(second.headers["Location"]).get_data(
        as_text=True)


def test_an_item_from_a_cluster_of_requests_sent_again_is_opened_once(client, db, world, login_as, make_ticket):
    from tracker.models import RectificationItem

    cluster = [make_ticket(description=f"Shuttle bus 17:30 left at 17:20, complaint {n}.") for n in range(2)]
    login_as("dispatcher")
    page = client.get("/rectification/new?" + "&".join(f"ticket={t.reference}" for t in cluster))
    data = {
        "centre_id": world.centres["repairs"].id, "title": "Shuttle bus 17:30 leaves early",
        "description": "Staff miss the bus after work.", "source": "complaint_cluster",
        "responsible_id": world.users["technician"].id, "due_on": "2026-12-31", "priority": "normal",
        "tickets": " ".join(t.reference for t in cluster), "once": once_key(page.get_data(as_text=True)),
    }
    first, second = _twice(client, "/rectification/new", data)
    assert _count(db, RectificationItem) == 1
    item = db.session.execute(select(RectificationItem)).scalar_one()
    assert first.headers["Location"] == second.headers["Location"] == f"/rectification/{item.reference}"
    assert "This rectification item was already opened; here it is." in client.get(
        second.headers["Location"]).get_data(as_text=True)


def test_an_item_from_survey_responses_sent_again_is_opened_once(app, db, world):
    from datetime import date, timedelta

    from tests.integration.test_surveys import _imported, client_for
    from tracker.models import RectificationItem

    ids = _imported(world)
    head = client_for(app, world, "dorm_head")
    chosen = [ids["Q-1003"], ids["Q-1004"]]
    page = head.get(f"/surveys/to-item?response={chosen[0]}&response={chosen[1]}").get_data(as_text=True)
    first, second = _twice(head, "/surveys/to-item", {
        "response": chosen, "centre_id": world.centres["dorm"].id, "title": "Evening hot water in building 3",
        "description": "Students report no hot water after 22:00.", "responsible_id": world.users["dorm_head"].id,
        "due_on": (date.today() + timedelta(days=20)).isoformat(), "priority": "high", "source_ref": "",
        "once": once_key(page),
    })
    assert _count(db, RectificationItem) == 1
    item = db.session.execute(select(RectificationItem)).scalar_one()
    assert first.headers["Location"] == second.headers["Location"] == f"/rectification/{item.reference}"


def test_a_rating_sent_again_lands_on_the_rating_and_changes_nothing(client, db, world, login_as):
    from tests.integration.test_feedback import resolved
    from tracker.models import Feedback

    ticket = resolved(world)
    login_as("requester")
    key = once_key(client.get(f"/tickets/{ticket.reference}").get_data(as_text=True).split('id="feedback"')[1])
    first = post_form(client, f"/tickets/{ticket.reference}/feedback", {"rating": "4", "once": key})
    # Back, another star, and the same form sent again: the rating given stays.
    second = post_form(client, f"/tickets/{ticket.reference}/feedback", {"rating": "1", "once": key})
    assert first.headers["Location"] == second.headers["Location"] == f"/tickets/{ticket.reference}#feedback"
    assert [f.rating for f in db.session.execute(select(Feedback)).scalars()] == [4]
    assert _count(db, TicketEvent, TicketEvent.kind.in_([EventKind.FEEDBACK_GIVEN, EventKind.FEEDBACK_EDITED])) == 1
    assert "This rating was already saved; here it is." in client.get(second.headers["Location"]).get_data(
        as_text=True)


def test_a_follow_up_recorded_again_lands_on_it(client, db, world, login_as):
    from datetime import timedelta

    from tests.factories import T0
    from tests.integration.test_feedback import resolved
    from tracker.services.ledger import feedback, follow_ups

    ticket = resolved(world)
    feedback.give(ticket.id, rating=1, comment="Rude", actor=world.users["requester"], now=T0 + timedelta(hours=1))
    [row] = follow_ups.for_ticket(ticket.id)
    login_as("centre_head")
    key = once_key(client.get(f"/tickets/{ticket.reference}").get_data(as_text=True).split('id="follow-ups"')[1])
    back = f"/tickets/{ticket.reference}#follow-ups"
    first, second = _twice(client, f"/follow-ups/{row.id}/record",
                           {"result": "resolved", "outcome": "Visited.", "next": back, "once": key})
    assert first.headers["Location"] == second.headers["Location"] == back
    assert _count(db, TicketEvent, TicketEvent.kind == EventKind.FOLLOW_UP_RECORDED) == 1
    page = client.get(back).get_data(as_text=True)
    assert "This follow-up was already recorded; here it is." in page
    assert "Look at it again" not in page  # no refusal: the repeat is recognised


def test_a_photo_uploaded_again_is_attached_once(client, db, world, login_as, make_ticket, tmp_path, monkeypatch):
    import io

    from tests.integration.test_attachments import jpeg, post_files
    from tracker.models import Attachment

    monkeypatch.setitem(client.application.config, "ATTACHMENTS_DIR", str(tmp_path / "files"))
    ticket = make_ticket()
    login_as("requester")
    key = once_key(client.get(f"/tickets/{ticket.reference}").get_data(as_text=True).split('id="attachments"')[1])
    photo = jpeg()
    answers = [post_files(client, f"/tickets/{ticket.reference}/attachments",
                          {"file": (io.BytesIO(photo), "leak.jpg", "image/jpeg"), "once": key}) for _ in range(2)]
    assert answers[0].headers["Location"] == answers[1].headers["Location"] == (
        f"/tickets/{ticket.reference}#attachments")
    assert _count(db, Attachment) == 1
    assert "This file was already attached; here it is." in client.get(answers[1].headers["Location"]).get_data(
        as_text=True)


# ---------------------------------------------------------------- the API's Idempotency-Key


def _api_body(world, **extra):
    return {"centre_id": world.centres["repairs"].id, "category_id": world.categories["water"].id,
            "location_id": world.locations["room"].id, "description": "The radiator in room 301 is cold.", **extra}


def test_an_api_filing_sent_again_with_its_key_files_once_and_answers_the_same(client, db, world):
    from tests.integration.api_helpers import bearer, make_token

    secret = make_token(world, "requester")
    headers = bearer(secret, **{"Idempotency-Key": "4f1c7a52-0b8e-4a8e-9d43-5f7b2a1c9e11"})
    first = client.post("/api/v1/tickets", json=_api_body(world), headers=headers)
    # Key order is no difference of body.
    second = client.post("/api/v1/tickets", json=dict(reversed(list(_api_body(world).items()))), headers=headers)
    assert first.status_code == second.status_code == 201, second.get_json()
    assert _count(db, Ticket) == 1
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    same = {k: v for k, v in first.get_json().items() if k != "sla"}
    assert same == {k: v for k, v in second.get_json().items() if k != "sla"}

    # The same key with another body: refused, nothing filed.
    other = client.post("/api/v1/tickets", json=_api_body(world, description="Another radiator is cold."),
                        headers=headers)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert "already used for another request" in other.get_json()["error"]["message"]
    assert _count(db, Ticket) == 1
    # Another key, or none: another request.
    assert client.post("/api/v1/tickets", json=_api_body(world),
                       headers=bearer(secret, **{"Idempotency-Key": "another"})).status_code == 201
    assert client.post("/api/v1/tickets", json=_api_body(world), headers=bearer(secret)).status_code == 201
    assert _count(db, Ticket) == 3


def test_an_api_key_is_per_user_and_forgotten_after_a_day(client, db, world):
    from datetime import timedelta

    from tests.integration.api_helpers import bearer, make_token
    from tracker.models import IdempotencyKey

    mine, theirs = make_token(world, "requester"), make_token(world, "other_requester")
    key = {"Idempotency-Key": "k-1"}
    assert client.post("/api/v1/tickets", json=_api_body(world), headers=bearer(mine, **key)).status_code == 201
    assert client.post("/api/v1/tickets", json=_api_body(world), headers=bearer(theirs, **key)).status_code == 201
    assert _count(db, Ticket) == 2
    # A day later the key is free again.
    for row in db.session.execute(select(IdempotencyKey)).scalars():
        row.created_at -= timedelta(hours=24, minutes=1)
    db.session.commit()
    again = client.post("/api/v1/tickets", json=_api_body(world), headers=bearer(mine, **key))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(db, Ticket) == 3


def test_a_bad_idempotency_key_is_refused_and_files_nothing(client, db, world):
    from tests.integration.api_helpers import bearer, make_token

    secret = make_token(world, "requester")
    response = client.post("/api/v1/tickets", json=_api_body(world), headers=bearer(secret, **{"Idempotency-Key": "x" * 101}))
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["error"]["message"]
    assert _count(db, Ticket) == 0


def test_an_api_comment_sent_again_with_its_key_is_added_once(client, db, world, make_ticket):
    from tests.integration.api_helpers import bearer, make_token

    ticket = make_ticket()
    headers = bearer(make_token(world, "requester"), **{"Idempotency-Key": "c-1"})
    url = f"/api/v1/tickets/{ticket.reference}/comments"
    first = client.post(url, json={"body": "Still leaking."}, headers=headers)
    second = client.post(url, json={"body": "Still leaking."}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert _count(db, TicketEvent, TicketEvent.kind == EventKind.COMMENTED) == 1
    assert client.post(url, json={"body": "Other words."}, headers=headers).status_code == 422


def test_the_openapi_document_describes_the_idempotency_key(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/tickets", "/api/v1/tickets/{reference}/comments"):
        post = spec["paths"][path]["post"]
        assert any(p.get("name") == "Idempotency-Key" and p["in"] == "header" for p in post.get("parameters", []) +
                   spec["paths"][path].get("parameters", []))
        assert "422" in post["responses"]


# ---------------------------------------------------------------- administrators' creating forms


def test_admin_creations_sent_again_land_on_what_they_created(client, db, world, login_as):
    from tracker.models import ApiToken, User, Webhook

    login_as("admin")
    key = once_key(client.get("/admin/ops/webhooks/new").get_data(as_text=True))
    hook = {"name": "Repairs duty group", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1",
            "format": "wecom", "centre_id": world.centres["repairs"].id, "kinds": ["sla_breached"], "once": key}
    first, second = _twice(client, "/admin/ops/webhooks/new", hook)
    assert _count(db, Webhook) == 1
    made = db.session.execute(select(Webhook)).scalar_one()
    assert second.status_code == 302 and second.headers["Location"] == f"/admin/ops/webhooks/{made.id}"

    # A user's name is unique anyway: the repeat lands on the user instead of "the name is taken".
    key = once_key(client.get("/admin/users/new").get_data(as_text=True))
    person = {"username": "new-tech", "display_name": "New Technician", "email": "new.tech@example.edu",
              "phone": "", "password": "a long password", "global_roles": ["requester"], "once": key}
    users = _count(db, User)
    first, second = _twice(client, "/admin/users/new", person)
    assert _count(db, User) == users + 1
    made = db.session.execute(select(User).where(User.username == "new-tech")).scalar_one()
    assert second.headers["Location"] == f"/admin/users/{made.id}"
    assert "This form was already sent; here is what it created." in client.get(second.headers["Location"]).get_data(
        as_text=True)

    # An API token: made once; the repeat shows the list, never the secret again.
    key = once_key(client.get("/account/tokens/").get_data(as_text=True))
    made = post_form(client, "/account/tokens/", {"name": "Sync", "scopes": ["admin"], "once": key})
    assert made.status_code == 200
    again = post_form(client, "/account/tokens/", {"name": "Sync", "scopes": ["admin"], "once": key})
    assert again.status_code == 302 and again.headers["Location"] == "/account/tokens/"
    assert _count(db, ApiToken) == 1


def test_a_replay_started_again_with_its_key_starts_once(client, db, world, login_as):
    from tests.integration.api_helpers import bearer, make_token
    from tests.integration.test_standards_saved import DAY, _two_requests
    from tracker.models import SlaReplay

    _two_requests(world)
    headers = bearer(make_token(world, "admin"), **{"Idempotency-Key": "replay-1"})
    body = {"name": "Published again", "first": DAY, "last": DAY}
    first = client.post("/api/v1/standards/replays", json=body, headers=headers)
    second = client.post("/api/v1/standards/replays", json=body, headers=headers)
    assert first.status_code == second.status_code == 202, second.get_json()
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _count(db, SlaReplay) == 1

    # The page's form: the same key twice lands on the replay started first.
    login_as("admin")
    key = once_key(client.get("/standards/").get_data(as_text=True))
    form = {"name": "From the page", "first": DAY, "last": DAY, "centre": "", "draft": "", "once": key}
    first, second = _twice(client, "/standards/", form)
    assert _count(db, SlaReplay) == 2
    newest = db.session.execute(select(SlaReplay).order_by(SlaReplay.id.desc())).scalars().first()
    assert first.headers["Location"] == second.headers["Location"] == f"/standards/replays/{newest.id}"


def test_an_import_run_and_a_survey_file_sent_again_are_recorded_once(app, client, db, world, login_as):
    import io

    from tests.conftest import csrf_token
    from tests.factories import T0
    from tests.integration.test_import import GOOD_ROWS, HEADER, campus_mapping
    from tests.integration.test_surveys import client_for, csv_bytes
    from tracker.models import ImportRun, SurveyImport
    from tracker.services.requests import importer

    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    mapping = importer.mapping_by_code("old-desk")
    login_as("admin")
    key = once_key(client.get("/admin/imports/").get_data(as_text=True))
    body = (HEADER + "".join(line + "\n" for line in GOOD_ROWS)).encode()
    answers = [client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(mapping.id), "time_zone": "", "dry_run": "y",
        "once": key, "files": (io.BytesIO(body), "old cases.csv")}, content_type="multipart/form-data")
        for _ in range(2)]
    assert _count(db, ImportRun) == 1
    run = db.session.execute(select(ImportRun)).scalar_one()
    assert answers[0].headers["Location"] == answers[1].headers["Location"] == f"/admin/imports/runs/{run.id}"

    leader = client_for(app, world, "leadership")
    key = once_key(leader.get("/surveys/import").get_data(as_text=True))
    answers = [post_form(leader, "/surveys/import", {"survey": "Autumn", "once": key,
                                                     "file": (io.BytesIO(csv_bytes()), "autumn.csv")},
                         content_type="multipart/form-data") for _ in range(2)]
    assert _count(db, SurveyImport) == 1
    made = db.session.execute(select(SurveyImport)).scalar_one()
    assert answers[0].headers["Location"] == answers[1].headers["Location"] == f"/surveys/imports/{made.id}/mapping"


def test_two_follow_ups_recorded_from_one_list_page_are_both_recorded(client, db, world, login_as):
    from datetime import timedelta

    from tests.factories import T0
    from tests.integration.test_feedback import resolved
    from tracker.models import FollowUp, FollowUpStatus
    from tracker.services.ledger import feedback, follow_ups

    rows = []
    for _ in range(2):
        ticket = resolved(world)
        feedback.give(ticket.id, rating=1, actor=world.users["requester"], now=T0 + timedelta(hours=1))
        rows += follow_ups.for_ticket(ticket.id)
    login_as("centre_head")
    key = once_key(client.get("/follow-ups").get_data(as_text=True))  # every form of the list carries it
    for row in rows:
        post_form(client, f"/follow-ups/{row.id}/record", {"result": "resolved", "outcome": "Called.", "once": key})
    assert _count(db, FollowUp, FollowUp.status == FollowUpStatus.DONE) == 2
