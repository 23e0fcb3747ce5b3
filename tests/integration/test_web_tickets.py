"""Filing and working requests through the pages, as users do."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration.api_helpers import bearer, make_token
from tracker.domain.workflow import Status
from tracker.errors import ValidationFailed
from tracker.models import Ticket, TicketEvent
from tracker.services.requests import tickets as ticket_service


def _count(db, model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _form(world, **overrides):
    data = {
        "category_id": world.categories["water"].id,
        "location_id": world.locations["room"].id,
        "description": "Water is leaking under the sink in room 301.",
        "priority": "",
    }
    data.update(overrides)
    return data


def test_requester_files_a_request_and_sees_it_with_its_history(client, db, world, login_as):
    login_as("requester")
    response = post_form(client, "/tickets/new/repairs", _form(world))
    assert response.status_code == 302
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert response.headers["Location"].endswith(f"/tickets/{ticket.reference}")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert ticket.reference in page and "Water is leaking" in page and "filed the request" in page
    assert (ticket.status, ticket.requester_id) == (Status.NEW, world.users["requester"].id)
    mine = client.get("/tickets/mine").get_data(as_text=True)
    assert ticket.reference in mine


def test_form_errors_are_shown_and_nothing_is_saved(client, db, world, login_as):
    login_as("requester")
    response = post_form(client, "/tickets/new/repairs", _form(world, description="", location_id=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Describe the problem." in page
    assert "Choose a place or describe it." in page
    assert "nothing was saved" in page
    assert _count(db, Ticket) == 0


def test_a_category_of_another_centre_is_refused(client, db, world, login_as):
    login_as("requester")
    response = post_form(client, "/tickets/new/repairs", _form(world, category_id=world.categories["keys"].id))
    assert response.status_code == 200
    # Checked by id in the filing's catalogue statement (issue 20), said on the field.
    assert "Choose a category of this service centre." in response.get_data(as_text=True)
    assert _count(db, Ticket) == 0


def _act(client, ticket, action, **data):
    return post_form(client, f"/tickets/{ticket.reference}/{action}", {"version": ticket.version, **data})


def _reload(db, ticket):
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def test_whole_life_through_the_pages(client, db, world, login_as):
    ticket = make_ticket(world)
    u = world.users
    steps = [
        ("dispatcher", "assign", {"assignee_id": u["technician"].id}, Status.ASSIGNED),
        ("technician", "accept", {}, Status.ACCEPTED),
        ("technician", "arrive", {}, Status.IN_PROGRESS),
        ("technician", "hold", {"hold_reason": "waiting_parts", "reason": "Ordered a valve"}, Status.ON_HOLD),
        ("technician", "resume", {}, Status.IN_PROGRESS),
        ("technician", "resolve", {"resolution_note": "Valve replaced", "materials_used": "1 valve"}, Status.RESOLVED),
        ("requester", "confirm", {}, Status.CLOSED),
    ]
    for who, action, data, expected in steps:
        post_form(client, "/logout")
        login_as(who)
        response = _act(client, ticket, action, **data)
        assert response.status_code == 302
        ticket = _reload(db, ticket)
        assert ticket.status is expected, f"{who} {action}"
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    for text in ("assigned it to", "Accept", "Arrived on site", "Put on hold", "Waiting for parts",
                 "Ordered a valve", "Resume", "Valve replaced", "1 valve", "Confirm the fix"):
        assert text in page, text
    assert _count(db, TicketEvent) == 8


def test_a_forged_post_without_csrf_token_changes_nothing(client, db, world, login_as):
    ticket = make_ticket(world, status=Status.ASSIGNED)
    login_as("technician")
    response = client.post(f"/tickets/{ticket.reference}/accept", data={"version": ticket.version})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert _reload(db, ticket).status is Status.ASSIGNED
    response = client.post("/tickets/new/repairs", data=_form(world))
    assert response.status_code == 400 and _count(db, Ticket) == 1


def test_wrong_role_and_wrong_state_are_refused_with_a_message(client, db, world, login_as):
    ticket = make_ticket(world, status=Status.ASSIGNED)
    login_as("requester")
    response = _act(client, ticket, "accept")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You are not allowed to do “Accept” on this request." in page
    assert _reload(db, ticket).status is Status.ASSIGNED

    post_form(client, "/logout")
    login_as("technician")
    response = _act(client, ticket, "resolve", resolution_note="done")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This request is “Assigned”: “Resolve” is not possible now." in page
    assert _reload(db, ticket).status is Status.ASSIGNED


def test_another_centre_cannot_see_or_touch_a_request(client, db, world, login_as):
    ticket = make_ticket(world)
    login_as("dorm_head")
    assert client.get(f"/tickets/{ticket.reference}").status_code == 404
    response = _act(client, ticket, "cancel", reason="not ours")
    assert response.status_code == 404
    assert _reload(db, ticket).status is Status.NEW


def test_a_stale_page_does_not_overwrite_a_newer_change(client, db, world, login_as):
    ticket = make_ticket(world, status=Status.ASSIGNED)
    stale_version = ticket.version
    login_as("technician")
    _act(client, ticket, "accept")
    post_form(client, "/logout")
    login_as("dispatcher")
    response = post_form(client, f"/tickets/{ticket.reference}/assign",
                         {"version": stale_version, "assignee_id": world.users["other_technician"].id})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Someone else changed this request" in page
    ticket = _reload(db, ticket)
    assert (ticket.status, ticket.assignee_id) == (Status.ACCEPTED, world.users["technician"].id)


def test_technician_queue_lists_my_work_and_the_centre_pool(client, db, world, login_as):
    mine = make_ticket(world, status=Status.ASSIGNED)
    pool = make_ticket(world)
    dorm = make_ticket(world, category="keys")
    login_as("technician")
    page = client.get("/queue/").get_data(as_text=True)
    assert mine.reference in page and pool.reference in page and dorm.reference not in page
    response = post_form(client, f"/tickets/{pool.reference}/take", {"version": pool.version, "next": "/queue/"})
    assert response.headers["Location"].endswith("/queue/")
    assert _reload(db, pool).status is Status.ACCEPTED


def test_long_queues_page_through_the_requests_most_urgent_first(client, db, world, login_as):
    # 53 assigned to the technician and 52 waiting: filed a minute apart, so
    # the earlier filed is due earlier and more urgent.
    assigned = [make_ticket(world, status=Status.ASSIGNED, now=T0 + timedelta(minutes=n)) for n in range(53)]
    waiting = [make_ticket(world, now=T0 + timedelta(hours=2, minutes=n)) for n in range(52)]
    login_as("technician")

    def references(page, tickets):
        return [t.reference for t in tickets if f">{t.reference}<" in page]

    first = client.get("/queue/").get_data(as_text=True)
    assert '<span class="badge">53</span>' in first and '<span class="badge">52</span>' in first
    assert "1–50 of 53, most urgent first" in first and "1–50 of 52, most urgent first" in first
    assert references(first, assigned) == [t.reference for t in assigned[:50]]
    assert references(first, waiting) == [t.reference for t in waiting[:50]]
    # The second page of my requests keeps the waiting list where it was.
    second = client.get("/queue/?page=2&pool=1").get_data(as_text=True)
    assert "51–53 of 53" in second
    assert references(second, assigned) == [t.reference for t in assigned[50:]]
    assert references(second, waiting) == [t.reference for t in waiting[:50]]
    assert 'name="next" value="/queue/?page=2&amp;pool=1"' in second
    # Past the end: the last page; nonsense: the first.
    assert "51–52 of 52" in client.get("/queue/?pool=9").get_data(as_text=True)
    assert "1–50 of 53" in client.get("/queue/?page=x").get_data(as_text=True)

    post_form(client, "/logout")
    login_as("dispatcher")
    dispatch = client.get("/queue/dispatch?page=2").get_data(as_text=True)
    assert '<span class="badge">52</span>' in dispatch and "51–52 of 52" in dispatch
    assert references(dispatch, waiting) == [t.reference for t in waiting[50:]]


def test_login_does_not_redirect_off_site(client, world):
    response = post_form(client, "/login?next=https://evil.example/x",
                         {"username": "requester", "password": world.password})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_wrong_password_is_refused_with_a_message(client, world):
    response = post_form(client, "/login", {"username": "requester", "password": "nope"})
    assert response.status_code == 200
    assert "Wrong user name or password." in response.get_data(as_text=True)
    assert client.get("/tickets/mine").status_code == 302


def test_language_switch_is_remembered(client, db, world, login_as):
    user = login_as("requester")
    post_form(client, "/language", {"locale": "en", "next": "/tickets/mine"})
    assert 'lang="en"' in client.get("/tickets/mine").get_data(as_text=True)
    post_form(client, "/language", {"locale": "zh_CN"})
    assert 'lang="zh-CN"' in client.get("/tickets/mine").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).locale == "zh_CN"


def test_long_lists_page_through_the_requests(client, db, world, login_as):
    tickets = [make_ticket(world) for _ in range(55)]
    login_as("requester")
    first = client.get("/tickets/mine").get_data(as_text=True)
    assert "55 requests" in first and "Page 1 of 2" in first
    second = client.get("/tickets/mine?page=2&state=open").get_data(as_text=True)
    assert "Page 2 of 2" in second and "Previous" in second
    # Newest first: the oldest five are on page two.
    assert all(t.reference in second for t in tickets[:5])
    assert tickets[-1].reference not in second


def test_a_long_list_is_counted_up_to_a_cap_and_pages_on_past_it(client, db, world, login_as, monkeypatch):
    from sqlalchemy import event

    from tracker.web import tickets as views

    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 5)
    monkeypatch.setattr(views, "LIST_COUNT_CAP", 10)
    tickets = [make_ticket(world) for _ in range(12)]
    make_ticket(world, status=Status.CLOSED)  # not open: not counted
    login_as("leadership")
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        first = client.get("/tickets/").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    # The count reads at most cap + 1 rows: it stops growing with the backlog (issue 20).
    assert any("count(" in s and "LIMIT" in s for s in seen), seen
    assert "More than 10 requests" in first and "Page 1 of more than 2" in first and "Next →" in first
    assert tickets[-1].reference in first and tickets[0].reference not in first
    # Paging on past the cap counts a little further: the last page knows it is the last.
    last = client.get("/tickets/?page=3").get_data(as_text=True)
    assert "12 requests" in last and "Page 3 of 3" in last and "Next →" not in last
    assert all(t.reference in last for t in tickets[:2])


@pytest.mark.parametrize("who", ["leadership", "dispatcher"])
def test_the_list_reads_its_page_in_the_same_statements_however_many_people_it_shows(client, db, world, login_as,
                                                                                     who):
    from sqlalchemy import event

    from tests.factories import make_user
    from tracker.domain.roles import Role

    def statements() -> tuple[str, list[str]]:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = client.get("/tickets/")
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert page.status_code == 200
        return page.get_data(as_text=True), [s for s in seen if not s.startswith("BEGIN")]  # SQLite's own

    make_ticket(world)
    login_as(who)
    client.get("/tickets/")  # the session's first use
    _page, before = statements()
    # Requesters, technicians, categories: each new one was read on its own (issue 20: 138
    # statements for 50 rows). Now the page's tickets come with them in one statement.
    people = [make_user(f"student-{n}", [(Role.REQUESTER, None)], display_name=f"Student No{n}") for n in range(4)]
    for n, person in enumerate(people):
        make_ticket(world, requester=person, category=("water", "power")[n % 2],
                    status=(Status.NEW, Status.ASSIGNED)[n % 2])
    make_ticket(world, category="keys", requester=people[0])  # dorm: not the dispatcher's centre
    page, after = statements()
    assert len(after) == len(before), "\n---\n".join(after)
    assert all(f"Student No{n}" in page for n in range(4)) and "Technician" in page and "Electricity" in page
    assert ("Keys and locks" in page) is (who == "leadership")
    # The open filter is the partial indexes' own predicate ("is_open IS 1/true" matches none of them).
    assert any("count(" in s and re.search(r"AND tickets\.is_open\b(?! IS)|WHERE tickets\.is_open\b(?! IS)", s)
               for s in after), after
    # The signed-in user, the centres, the count, the page with its people, the SLA rows, the unread notices;
    # a dispatcher's count is in two parts: their centres', then their own requests elsewhere.
    assert len(after) <= (6 if who == "leadership" else 7), "\n---\n".join(after)


def test_a_dispatchers_list_counts_their_centres_requests_and_their_own_elsewhere_once(client, db, world,
                                                                                       login_as):
    from tracker.domain.roles import Role
    from tracker.models import UserRole

    dispatcher = world.users["dispatcher"]
    db.session.add(UserRole(user_id=dispatcher.id, role=Role.REQUESTER, centre_id=None))
    db.session.commit()
    make_ticket(world)  # the repair centre's
    make_ticket(world, requester=dispatcher)  # their own, in their centre: counted once
    own_elsewhere = make_ticket(world, category="keys", requester=dispatcher)
    make_ticket(world, category="keys")  # another centre's, someone else's: not theirs to see
    login_as("dispatcher")
    page = client.get("/tickets/").get_data(as_text=True)
    assert "3 requests" in page and own_elsewhere.reference in page


def test_my_requests_shows_resolved_ones_waiting_for_my_confirmation(client, db, world, login_as):
    resolved = make_ticket(world, status=Status.RESOLVED)
    open_one = make_ticket(world)
    login_as("requester")
    page = client.get("/tickets/mine").get_data(as_text=True)
    waiting = page[page.index("Waiting for your confirmation"):page.index('class="filters"')]
    assert resolved.reference in waiting and open_one.reference not in waiting


def test_a_user_changes_their_password_stays_logged_in_and_logs_in_with_it(client, db, world, login_as):
    login_as("requester")
    response = post_form(client, "/account", {"current": world.password, "new": "another-secret-42",
                                              "repeat": "another-secret-42"})
    assert response.status_code == 302
    assert "Your password is changed." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/tickets/mine").status_code == 200  # this session goes on
    post_form(client, "/logout")
    refused = post_form(client, "/login", {"username": "requester", "password": world.password})
    assert refused.status_code == 200
    accepted = post_form(client, "/login", {"username": "requester", "password": "another-secret-42"})
    assert accepted.status_code == 302


@pytest.mark.parametrize(
    ("field", "length", "page_says", "service_says"),
    [
        ("description", ticket_service.DESCRIPTION_MAX + 1, "Write between 5 and 5000 characters.",
         "The description is longer than 5000 characters."),
        ("location_note", ticket_service.LOCATION_NOTE_MAX + 1, "Write at most 200 characters.",
         "The place details are longer than 200 characters."),
        ("contact_phone", ticket_service.CONTACT_PHONE_MAX + 1, "Write at most 40 characters.",
         "The phone number is longer than 40 characters."),
    ],
)
def test_the_page_the_api_and_the_service_refuse_the_same_over_long_text(
    client, db, world, login_as, field, length, page_says, service_says
):
    text = "x" * length
    login_as("requester")
    page = post_form(client, "/tickets/new/repairs", _form(world, **{field: text}))
    assert page.status_code == 200 and page_says in page.get_data(as_text=True)
    body = {"centre_id": world.centres["repairs"].id, "category_id": world.categories["water"].id,
            "location_id": world.locations["room"].id, "description": "The tap is leaking.", field: text}
    api = client.post("/api/v1/tickets", json=body, headers=bearer(make_token(world, "requester")))
    assert api.status_code == 400 and api.get_json()["error"]["fields"][field] == [f"Longer than maximum length {length - 1}."]
    # A third path (an import, a worker, a script) meets the same limit in the service.
    request = ticket_service.NewTicket(**{k: v for k, v in body.items()})
    with pytest.raises(ValidationFailed) as refused:
        ticket_service.file_ticket(request, requester=world.users["requester"], now=T0)
    assert str(refused.value) == service_says
    assert _count(db, Ticket) == 0 and _count(db, TicketEvent) == 0


def _assign_select(page: str, ticket_id: int | None = None) -> str:
    start = page.index(f'id="assignee-{ticket_id}"' if ticket_id else 'name="assignee_id"')
    return page[start:page.index("</select>", start)]


def test_no_technician_is_preselected_and_each_choice_shows_the_load(client, db, world, login_as):
    make_ticket(world, status=Status.IN_PROGRESS)  # the technician's: open and on site
    make_ticket(world, status=Status.ASSIGNED)  # the technician's: open
    waiting = make_ticket(world)
    login_as("dispatcher")
    dispatch = client.get("/queue/dispatch").get_data(as_text=True)
    detail = client.get(f"/tickets/{waiting.reference}").get_data(as_text=True)
    for choices in (_assign_select(dispatch, waiting.id), _assign_select(detail)):
        assert re.findall(r"<option[^>]*>([^<]*)</option>", choices) == [
            "Choose…", "Other-Technician · off · any category · 0 open, 0 on site · last job: —",
            "Technician · off · any category · 2 open, 1 on site · last job: Main campus › Building 3 › Room 301"]
        assert re.search(r'<option value="">Choose…', choices.replace("selected ", ""))
        assert not re.search(r'<option[^>]*selected[^>]*value="\d', choices)  # no technician preselected
    # Assign pressed without a choice: refused with a message, nothing assigned.
    refused = post_form(client, f"/tickets/{waiting.reference}/assign",
                        {"version": waiting.version, "assignee_id": "", "next": "/queue/dispatch"})
    assert refused.status_code == 302
    assert "Choose a technician." in client.get("/queue/dispatch").get_data(as_text=True)
    db.session.refresh(waiting)
    assert (waiting.status, waiting.assignee_id) == (Status.NEW, None)


def test_the_dispatch_board_reads_the_load_in_a_fixed_number_of_queries(client, db, world, login_as, app):
    from sqlalchemy import event

    from tests.factories import make_user
    from tracker.domain.roles import Role

    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/queue/dispatch").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    make_ticket(world)
    login_as("dispatcher")
    before = statements()
    for n in range(4):
        make_user(f"tech-{n}", [(Role.TECHNICIAN, world.centres["repairs"].id)])
        make_ticket(world)
    assert statements() == before
