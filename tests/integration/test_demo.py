"""The demo seed: a campus, its people and tickets, all through the services."""

from collections import defaultdict

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tracker import demo
from tracker.clock import utcnow
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.domain.workflow import Status
from tracker.extensions import db as database
from tracker.models import (
    Category,
    Centre,
    EventKind,
    Location,
    LocationKind,
    Ticket,
    TicketEvent,
    User,
    UserRole,
)
from tracker.services import accounts

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
        assert centre.description
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
    assert len(lines) == 1 and "skipped" in lines[0]
    assert row_counts() == before


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
