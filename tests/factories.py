"""Builders for test data. They go through the services, as users do."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tracker.domain.roles import Role
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.extensions import db
from tracker.models import Category, Centre, Location, User
from tracker.services.admin import accounts
from tracker.services.requests import tickets as ticket_service

PASSWORD = "correct horse 42"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@dataclass
class World:
    password: str
    centres: dict[str, Centre] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    policies: dict = field(default_factory=dict)


def make_user(username: str, roles, *, password: str = PASSWORD, display_name: str | None = None) -> User:
    return accounts.create_user(
        username=username,
        display_name=display_name or username.title(),
        password=password,
        roles=roles,
        now=T0,
    )


def build_world() -> World:
    world = World(password=PASSWORD)
    from tracker.services.sla.config import install_defaults

    world.policies = install_defaults(actor=None, now=T0, china_years=range(2025, 2027))
    for code, prefix, en, zh in (
        ("repairs", "RP", "Repair and maintenance", "维修服务中心"),
        ("dorm", "DM", "Dormitory management", "宿舍管理中心"),
    ):
        centre = Centre(code=code, ref_prefix=prefix, name_en=en, name_zh=zh)
        db.session.add(centre)
        world.centres[code] = centre
    db.session.flush()
    for key, centre, en, zh, priority in (
        ("water", "repairs", "Water and plumbing", "水暖", Priority.HIGH),
        ("power", "repairs", "Electricity", "电力", Priority.URGENT),
        ("keys", "dorm", "Keys and locks", "钥匙门锁", Priority.NORMAL),
    ):
        category = Category(
            centre_id=world.centres[centre].id, code=key, name_en=en, name_zh=zh, default_priority=priority,
            sla_policy_id=world.policies["repairs" if centre == "repairs" else "standard"].id,
        )
        db.session.add(category)
        world.categories[key] = category
    campus = Location(kind="campus", code="main", name_en="Main campus", name_zh="主校区")
    db.session.add(campus)
    db.session.flush()
    building = Location(kind="building", code="main-b3", name_en="Building 3", name_zh="3号楼", parent_id=campus.id)
    db.session.add(building)
    db.session.flush()
    room = Location(kind="room", code="main-b3-301", name_en="Room 301", name_zh="301室", parent_id=building.id)
    db.session.add(room)
    db.session.commit()
    world.locations.update(campus=campus, building=building, room=room)

    repairs, dorm = world.centres["repairs"].id, world.centres["dorm"].id
    for name, roles in (
        ("requester", [(Role.REQUESTER, None)]),
        ("other_requester", [(Role.REQUESTER, None)]),
        ("technician", [(Role.TECHNICIAN, repairs), (Role.REQUESTER, None)]),
        ("other_technician", [(Role.TECHNICIAN, repairs)]),
        ("dorm_technician", [(Role.TECHNICIAN, dorm)]),
        ("dispatcher", [(Role.DISPATCHER, repairs)]),
        ("centre_head", [(Role.CENTRE_HEAD, repairs)]),
        ("dorm_head", [(Role.CENTRE_HEAD, dorm)]),
        ("leadership", [(Role.LEADERSHIP, None)]),
        ("admin", [(Role.ADMIN, None)]),
    ):
        world.users[name] = make_user(name.replace("_", "-"), roles)
    return world


def world_of() -> World:
    """Return the World that ``build_world`` wrote, read back from the database."""
    from sqlalchemy import select

    from tracker.models import SlaPolicy

    world = World(password=PASSWORD)
    world.policies = {p.code: p for p in db.session.execute(select(SlaPolicy).order_by(SlaPolicy.id)).scalars()}
    world.centres = {c.code: c for c in db.session.execute(select(Centre).order_by(Centre.id)).scalars()}
    world.categories = {c.code: c for c in db.session.execute(select(Category).order_by(Category.id)).scalars()}
    places = {p.code: p for p in db.session.execute(select(Location).order_by(Location.id)).scalars()}
    world.locations.update(campus=places["main"], building=places["main-b3"], room=places["main-b3-301"])
    # Its users only, in the order it made them, by the names it gave (``other-requester``: ``other_requester``).
    world.users = {u.username.replace("-", "_"): u for u in db.session.execute(select(User).order_by(User.id)).scalars()}
    return world


# Actions that take a ticket from NEW to each status, and who does them.
_PATHS = {
    Status.NEW: [],
    Status.ASSIGNED: [("dispatcher", Action.ASSIGN)],
    Status.ACCEPTED: [("dispatcher", Action.ASSIGN), ("technician", Action.ACCEPT)],
    Status.IN_PROGRESS: [("dispatcher", Action.ASSIGN), ("technician", Action.ACCEPT), ("technician", Action.ARRIVE)],
    Status.ON_HOLD: [
        ("dispatcher", Action.ASSIGN),
        ("technician", Action.ACCEPT),
        ("technician", Action.ARRIVE),
        ("technician", Action.HOLD),
    ],
    Status.RESOLVED: [
        ("dispatcher", Action.ASSIGN),
        ("technician", Action.ACCEPT),
        ("technician", Action.ARRIVE),
        ("technician", Action.RESOLVE),
    ],
    Status.CLOSED: [
        ("dispatcher", Action.ASSIGN),
        ("technician", Action.ACCEPT),
        ("technician", Action.ARRIVE),
        ("technician", Action.RESOLVE),
        ("requester", Action.CONFIRM),
    ],
    Status.REOPENED: [
        ("dispatcher", Action.ASSIGN),
        ("technician", Action.ACCEPT),
        ("technician", Action.ARRIVE),
        ("technician", Action.RESOLVE),
        ("requester", Action.REOPEN),
    ],
    Status.CANCELLED: [("requester", Action.CANCEL)],
}


def make_ticket(world: World, *, status: Status = Status.NEW, category: str = "water", requester="requester",
                now: datetime = T0, step: timedelta = timedelta(minutes=10), **overrides):
    """File a ticket (repairs/water by default) and walk it to ``status`` through the services."""
    category_row = world.categories[category]
    requester_user = world.users[requester] if isinstance(requester, str) else requester
    request = ticket_service.NewTicket(
        centre_id=category_row.centre_id,
        category_id=category_row.id,
        location_id=overrides.pop("location_id", world.locations["room"].id),
        description=overrides.pop("description", "The tap in the washroom is leaking."),
        **overrides,
    )
    ticket = ticket_service.file_ticket(request, requester=requester_user, now=now)
    for index, (who, action) in enumerate(_PATHS[status], start=1):
        actor = requester_user if who == "requester" else world.users[who]
        ticket = ticket_service.transition(
            ticket.id,
            action,
            actor=actor,
            now=now + step * index,
            assignee_id=world.users["technician"].id if action is Action.ASSIGN else None,
            hold_reason=HoldReason.WAITING_PARTS if action is Action.HOLD else None,
            resolution_note="Replaced the washer." if action is Action.RESOLVE else "",
            reason="Still dripping." if action in (Action.REOPEN, Action.CANCEL) else "",
        )
    return ticket
