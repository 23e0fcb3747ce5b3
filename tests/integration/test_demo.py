"""The demo seed: a campus, its people and tickets, all through the services."""

from collections import defaultdict

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tracker import demo
from tracker.clock import utcnow
from tracker.domain.rectification import ACTIVE_STATUSES, ItemStatus, Source
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.domain.workflow import Status
from tracker.extensions import db as database
from tracker.models import (
    Category,
    Centre,
    DailyStat,
    EventKind,
    Feedback,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Location,
    LocationKind,
    Notification,
    RectificationEvent,
    RectificationEventKind,
    RectificationItem,
    RectificationItemTicket,
    SurveyResponse,
    SurveyTopic,
    Ticket,
    TicketEvent,
    User,
    UserRole,
)
from tracker.services.admin import accounts

PASSWORD = "demo password 2026"
CENTRE_CODES = {"general", "finance", "dorm", "gardens", "catering", "property", "projects", "business", "repairs"}
SHOWCASE = {"student", "staff", "tech.repairs", "dispatch.repairs", "head.repairs", "leader", "admin"}


def seed(days=1, **options):
    lines = []
    options.setdefault("password", PASSWORD)
    result = demo.seed(days=days, random_seed=7, echo=lines.append, **options)
    return result, lines


def row_counts() -> dict:
    return {
        model.__name__: database.session.scalar(select(func.count()).select_from(model))
        for model in (Centre, Category, Location, User, UserRole, Ticket, TicketEvent)
    }


def test_seed_creates_the_nine_centres_with_bilingual_categories(db):
    seed()

    centres = db.session.execute(select(Centre)).scalars().all()
    assert {c.code for c in centres} == CENTRE_CODES
    assert {c.code: c.ref_prefix for c in centres}["repairs"] == "RP"
    for centre in centres:
        assert len(centre.ref_prefix) == 2 and centre.ref_prefix.isupper()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in centre.name_zh), centre.name_zh
        # Each language on its own: the centre chooser shows one, never "中文 / English" together.
        assert any("\u4e00" <= ch <= "\u9fff" for ch in centre.description_zh), centre.code
        assert centre.description_en and not any("\u4e00" <= ch <= "\u9fff" for ch in centre.description_en)
        assert 4 <= len(centre.categories) <= 8, centre.code
        for category in centre.categories:
            assert category.name_en and any("\u4e00" <= ch <= "\u9fff" for ch in category.name_zh)


def test_seed_builds_two_campuses_with_machines_that_prefill_requests(db):
    result, _ = seed()

    locations = db.session.execute(select(Location)).scalars().all()
    assert len(locations) == result.locations >= 200
    assert {loc.code for loc in locations if loc.kind == LocationKind.CAMPUS} == {"main", "east"}
    machines = [loc for loc in locations if loc.kind == LocationKind.MACHINE]
    assert machines
    for machine in machines:
        category = db.session.get(Category, machine.category_id)
        assert category is not None and category.centre_id == machine.centre_id
    room = next(loc for loc in locations if loc.code == "main-d5-3-315")
    assert room.path("zh_CN") == "主校区 › 学生公寓5号楼 › 3层 › 315宿舍"


def test_seed_gives_every_role_a_user_and_centre_staff_the_requester_role(db):
    seed()

    held = set(db.session.scalars(select(UserRole.role).distinct()))
    assert held == set(Role)
    for user in db.session.execute(select(User)).scalars():
        assert user.username.isascii()
        if user.role_set & CENTRE_ROLES:
            assert user.has_role(Role.REQUESTER), user.username
    for code in CENTRE_CODES:
        centre = db.session.execute(select(Centre).where(Centre.code == code)).scalar_one()
        staff = {r.role for r in db.session.execute(select(UserRole).where(UserRole.centre_id == centre.id)).scalars()}
        assert staff == CENTRE_ROLES, code
        technicians = db.session.scalar(
            select(func.count()).where(UserRole.centre_id == centre.id, UserRole.role == Role.TECHNICIAN)
        )
        assert 2 <= technicians <= (6 if code == "repairs" else 4)


def test_showcase_users_log_in_with_the_demo_password(client, db):
    result, _ = seed()

    assert SHOWCASE <= {username for _, username in result.showcase}
    for username in sorted(SHOWCASE):
        response = post_form(client, "/login", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, username
        # Each lands on a page with demo data on it.
        assert client.get("/", follow_redirects=True).status_code == 200, username
        post_form(client, "/logout")
    refused = post_form(client, "/login", {"username": "student", "password": "not the password"})
    assert refused.status_code == 200


def test_generated_password_is_shown_once_and_stored_only_hashed(db):
    result, lines = seed(password=None)

    assert len(result.password) >= accounts.PASSWORD_MIN
    assert sum(result.password in line for line in lines) == 1
    users = db.session.execute(select(User)).scalars().all()
    assert all(user.check_password(result.password) for user in users[:3])
    assert all(result.password not in user.password_hash for user in users)


def test_seeded_history_has_every_status_and_ordered_past_events(db):
    result, lines = seed(days=21)
    now = utcnow()

    statuses = set(db.session.scalars(select(Ticket.status).distinct()))
    assert statuses == set(Status)
    assert result.tickets == db.session.scalar(select(func.count()).select_from(Ticket)) > 21 * 5
    assert any(line.startswith("tickets: ") for line in lines)

    events = defaultdict(list)
    for event in db.session.execute(select(TicketEvent).order_by(TicketEvent.ticket_id, TicketEvent.id)).scalars():
        events[event.ticket_id].append(event)
    tickets = db.session.execute(select(Ticket)).scalars().all()
    assert len(events) == len(tickets)
    for ticket in tickets:
        history = events[ticket.id]
        assert history[0].kind == EventKind.FILED, ticket.reference
        assert history[0].created_at == ticket.created_at
        times = [event.created_at for event in history]
        assert times == sorted(times), ticket.reference
        assert times[-1] <= now
        last_status = [e.to_status for e in history if e.to_status is not None][-1]
        assert last_status == ticket.status, ticket.reference
    # References count up in filing order within each centre.
    by_prefix = defaultdict(list)
    for ticket in sorted(tickets, key=lambda t: (t.created_at, t.id)):
        by_prefix[ticket.reference[:2]].append(ticket.reference)
    assert all(refs == sorted(refs) for refs in by_prefix.values())


@pytest.mark.parametrize("existing", ["user", "centre"])
def test_seed_refuses_a_database_with_users_or_centres(db, existing):
    if existing == "user":
        accounts.create_user(username="first.admin", display_name="Admin", password=PASSWORD,
                             roles=[(Role.ADMIN, None)], now=utcnow())
    else:
        db.session.add(Centre(code="repairs", ref_prefix="RP", name_en="Repairs", name_zh="维修服务中心"))
        db.session.commit()
    before = row_counts()

    with pytest.raises(demo.NotEmpty, match="empty database"):
        seed()

    assert row_counts() == before


def test_seeding_twice_raises_and_changes_nothing(db):
    seed()
    before = row_counts()

    with pytest.raises(demo.NotEmpty):
        seed()

    assert row_counts() == before


def test_if_empty_skips_a_database_with_data(db):
    seed()
    before = row_counts()

    result, lines = seed(if_empty=True)

    assert result.skipped and result.password is None
    assert "skipped" in lines[0]
    # The demo logins still go to desk.py's banner; no password.
    assert lines[1:] == [f"Demo login: {username} — {role}" for role, username in demo.SHOWCASE]
    assert row_counts() == before


def test_recomputing_the_stored_clocks_from_the_events_changes_nothing(db):
    from tracker.domain.sla_clock import TargetState
    from tracker.services.sla import clocks as sla

    seed(days=21)

    tickets = db.session.execute(select(Ticket).where(Ticket.sla_policy_version_id.is_not(None))).scalars().all()
    stored = sla.stored_clocks([t.id for t in tickets])
    assert len(stored) == len(tickets) > 50
    for ticket in tickets:
        rows = {row.target: row for row in stored[ticket.id]}
        (computed_at,) = {row.computed_at for row in rows.values()}
        clocks = sla.clocks_for(ticket, computed_at)
        assert clocks.keys() == rows.keys(), ticket.reference
        for target, clock in clocks.items():
            row = rows[target]
            assert (row.state, row.priority, row.started_at, row.due_at, row.at_risk_at, row.milestone_at) == (
                clock.state, clock.priority, clock.started_at, clock.due_at, clock.at_risk_at, clock.milestone_at
            ), (ticket.reference, target)
            assert row.elapsed_minutes == round(clock.elapsed_minutes, 4), (ticket.reference, target)
            assert row.paused_minutes == round(sum(clock.paused_minutes.values()), 4), (ticket.reference, target)
        assert ticket.is_sla_breached == any(c.state is TargetState.BREACHED for c in clocks.values())


def test_run_banner_lists_every_demo_login_the_seed_printed(db):
    import desk

    result, lines = seed()
    printed = desk.Demo()
    for line in lines:
        printed.read(line)

    banner = "\n".join(desk.banner_lines("127.0.0.1", "8000", printed))
    assert printed.password == PASSWORD and PASSWORD in banner
    assert [username for username, _ in printed.logins] == [username for _, username in demo.SHOWCASE]
    for role, username in demo.SHOWCASE:
        assert f" {username} " in banner and role in banner
    assert "student.en" in banner


def test_demo_users_have_no_saved_language_and_pages_follow_the_browser(client, db):
    seed()

    chosen = dict(db.session.execute(select(User.username, User.locale)).all())
    # Only the international students chose a language (English).
    assert {name for name, locale in chosen.items() if locale is not None} == {
        username for username, _ in demo.INTERNATIONAL}
    assert chosen["student.en"] == "en"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    assert post_form(client, "/login", {"username": "student", "password": PASSWORD}).status_code == 302
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_demo_password_gives_every_demo_user_a_new_one(client, db):
    from tracker import demo

    demo.seed(days=2, password="first-password-1", echo=lambda *_: None)
    count, password = demo.reset_password("second-password-2")
    assert count > 50 and password == "second-password-2"
    assert post_form(client, "/login", {"username": "leader", "password": "first-password-1"}).status_code == 200
    assert post_form(client, "/login", {"username": "leader", "password": "second-password-2"}).status_code == 302


def test_replaying_history_notifies_nobody(db):
    from tracker.models import Notification

    demo.seed(days=3, password="quiet-password-1", echo=lambda *_: None)
    assert database.session.execute(select(func.count()).select_from(Notification)).scalar_one() == 0


def test_demo_has_ratings_follow_ups_and_a_rectification_ledger(client, db):
    result, lines = seed(days=45)
    now = utcnow()
    session = db.session

    # Two in five resolved requests are rated, mostly 4 or 5, a few 1 or 2.
    ratings = session.execute(select(Feedback)).scalars().all()
    rateable = session.scalar(
        select(func.count()).where(Ticket.status.in_([Status.RESOLVED, Status.CLOSED]))
    )
    assert 0.3 <= len(ratings) / rateable <= 0.5, (len(ratings), rateable)
    counts = {value: sum(f.rating == value for f in ratings) for value in range(1, 6)}
    assert {value: n for value, n in counts.items() if n} == result.ratings
    assert counts[4] + counts[5] >= 0.7 * len(ratings)
    assert counts[5] > counts[4] > counts[3] > 0
    assert 0 < counts[1] + counts[2] <= 0.15 * len(ratings)
    assert sum(bool(f.comment) for f in ratings) >= 0.2 * len(ratings)
    assert any("\u4e00" <= ch <= "\u9fff" for f in ratings for ch in f.comment)
    for rating in ratings:
        ticket = session.get(Ticket, rating.ticket_id)
        assert ticket.status in (Status.RESOLVED, Status.CLOSED) and rating.given_at >= ticket.resolved_at
        assert rating.given_at <= now
    assert session.scalar(
        select(func.count()).where(TicketEvent.kind == EventKind.FEEDBACK_GIVEN)
    ) == len(ratings)

    # Every low rating has its follow-up visit, recorded by the centre's head; an old one is overdue.
    low = {f.ticket_id for f in ratings if f.rating <= 2}
    visits = session.execute(select(FollowUp).where(FollowUp.kind == FollowUpKind.LOW_RATING)).scalars().all()
    assert {v.ticket_id for v in visits} == low
    assert result.follow_ups == len(visits)
    done = [v for v in visits if v.status is FollowUpStatus.DONE]
    assert done and all(v.result is not None and v.done_at >= v.created_at for v in done)
    for visit in done:
        assert session.get(User, visit.done_by_id).username.startswith("head.")
    overdue_visits = [v for v in visits if v.status is FollowUpStatus.OPEN and v.due_at < now]
    assert result.follow_ups_overdue == len(overdue_visits)
    if any(f.rating <= 2 and f.given_at <= now - demo.OVERDUE_FOLLOW_UP for f in ratings):
        assert overdue_visits

    # The dashboards' summary counts every rating on its day.
    assert session.scalar(select(func.sum(DailyStat.rating_count))) == len(ratings)
    assert session.scalar(select(func.sum(DailyStat.rating_sum))) == sum(f.rating for f in ratings)

    # Rectification items in every state of their life, from clusters of requests and the survey.
    items = session.execute(select(RectificationItem)).scalars().all()
    statuses = {item.status for item in items}
    assert {ItemStatus.OPEN, ItemStatus.IN_PROGRESS, ItemStatus.AWAITING_VERIFICATION,
            ItemStatus.VERIFIED} <= statuses
    assert result.items == {s: sum(i.status == s for i in items) for s in statuses}
    overdue = [i for i in items if i.status in ACTIVE_STATUSES and i.due_at <= now]
    assert overdue and result.items_overdue == len(overdue)
    assert any(i.status is ItemStatus.VERIFIED and i.verified_at < i.due_at for i in items)
    assert any(i.rejection_count and i.status in ACTIVE_STATUSES for i in items)
    # A verified item is done (issue 15, item 8): never its last reported 40-90 %.
    assert {i.progress_percent for i in items if i.status is ItemStatus.VERIFIED} == {100}
    for item in items:
        history = session.execute(
            select(RectificationEvent)
            .where(RectificationEvent.item_id == item.id)
            .order_by(RectificationEvent.id)
        ).scalars().all()
        assert history[0].kind == RectificationEventKind.CREATED and history[0].created_at == item.created_at
        times = [event.created_at for event in history]
        assert times == sorted(times) and times[-1] <= now, item.reference
        assert item.title and any("\u4e00" <= ch <= "\u9fff" for ch in item.title)
    updated = set(session.scalars(
        select(RectificationEvent.item_id)
        .where(RectificationEvent.kind == RectificationEventKind.PROGRESS_UPDATED)
    ))
    assert len(updated) >= 3
    links = session.execute(select(RectificationItemTicket)).scalars().all()
    assert links and result.items_linked == len({link.item_id for link in links})
    for link in links:
        assert session.get(Ticket, link.ticket_id).created_at <= link.linked_at
    from_survey = session.execute(
        select(SurveyResponse).where(SurveyResponse.rectification_item_id.is_not(None))
    ).scalars().all()
    assert len({r.rectification_item_id for r in from_survey}) >= 3
    for response in from_survey:
        item = session.get(RectificationItem, response.rectification_item_id)
        assert item.source is Source.SURVEY and item.created_at.date() > response.submitted_on
    # Every topic the demo survey uses has its name in both languages.
    named = {t.key: t for t in session.execute(select(SurveyTopic)).scalars()}
    used = set(session.execute(select(SurveyResponse.topic).distinct()).scalars()) - {""}
    assert used and used <= named.keys()
    assert all(named[k].name_en and any("\u4e00" <= ch <= "\u9fff" for ch in named[k].name_zh) for k in used)
    references = [i.reference for i in sorted(items, key=lambda i: i.created_at)]
    assert references == sorted(references)

    # Replaying the history told nobody anything; the summary says what is there.
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert any(line.startswith("ratings: ") for line in lines)
    assert any(line.startswith("rectification items: ") for line in lines)

    # Leadership finds it all on the pages.
    assert post_form(client, "/login", {"username": "leader", "password": PASSWORD}).status_code == 302
    page = client.get("/follow-ups?state=overdue")
    assert page.status_code == 200
    item = overdue[0]
    assert item.reference in client.get("/rectification/").get_data(as_text=True)
    assert client.get(f"/rectification/{item.reference}").status_code == 200
    assert client.get("/rectification/dashboard").status_code == 200


def test_run_empties_the_metrics_folder_from_the_python_that_runs_desk_py(tmp_path):
    """desk.py runs on the machine's own Python, which has none of the app's packages.

    Its ``run`` empties the metrics folder before starting the processes; that
    step once imported tracker.config there and stopped ``run`` with
    "No module named 'flask_babel'". Run it as ``python3 desk.py`` does: the
    interpreter below the virtual environment, isolated (-I: no site-packages
    of the user, no PYTHONPATH).
    """
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    metrics = tmp_path / "metrics"
    (metrics / "sub").mkdir(parents=True)
    (metrics / "counter_1.db").write_bytes(b"old figures")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(metrics),
           "TRACKER_INSTANCE_PATH": str(tmp_path / "instance")}
    base_python = getattr(sys, "_base_executable", sys.executable)
    finished = subprocess.run(
        [base_python, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import desk; desk._empty_metrics_folder()",
         str(root)],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert not metrics.exists()
