"""Realistic demo data in one command: a campus, its people and a year of tickets.

``seed`` fills an empty database. Centres, categories and places are written
as rows (no service creates them yet); users come from
``accounts.create_user``; every ticket is filed with ``tickets.file_ticket``
and moved with ``tickets.transition`` at simulated past instants, so the
history obeys the same rules as real use: one service call, one transaction.

The simulation writes each ticket's story first (who does what, when), then
plays every step of every story in time order, up to now. Steps a story
plans after now are left out, so recent tickets are still open.
"""

import math
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from tracker.clock import utcnow
from tracker.demo_text import (
    CATEGORIES,
    CENTRES,
    CONFIRM_TEXTS,
    DECLINE_TEXTS,
    DESCRIPTION_ENDINGS,
    DISPATCH_COMMENTS,
    HOLD_TEXTS,
    INTERNATIONAL,
    LOWER_TEXTS,
    PASSWORD_WORDS,
    RAISE_TEXTS,
    REOPEN_TEXTS,
    REQUESTER_CANCEL_TEXTS,
    REQUESTER_COMMENTS,
    RESUME_TEXTS,
    SHOWCASE_NAMES,
    STAFF_CANCEL_TEXTS,
    STAFF_COMMENTS,
    STAFF_GIVEN,
    STUDENT_GIVEN,
    SURNAMES,
    CategorySpec,
    CentreSpec,
    Text,
)
from tracker.domain.roles import Role
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.extensions import db
from tracker.models import Category, Centre, Location, LocationKind, Source, Ticket, TicketEvent, User
from tracker.services import accounts, outbox, sla, sla_config, stats
from tracker.services import tickets as ticket_service

# Tickets per day before the term and weekday factors: about 13 a day over a
# year, 25-30 on a Monday at the start of the autumn term, a handful during
# the Spring Festival.
BASE_PER_DAY = 12.0
# Demo users are recognised by their e-mail domain (demo-password resets them).
DEMO_EMAIL_DOMAIN = "campus.example.edu.cn"
# Share of the tickets filed in the last BACKLOG_PERIOD still waiting for their next step.
BACKLOG_SHARE = 0.4
BACKLOG_PERIOD = timedelta(days=3)
# A resolved ticket nobody confirms is confirmed by the application after this long
# (DESIGN: "confirmed, or auto-confirmed after N days").
AUTO_CONFIRM_AFTER = timedelta(days=7)
# Local hour -> relative share of requests filed then.
HOUR_WEIGHTS = (
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.7, 1.6, 2.2, 2.2, 1.9,
    1.0, 1.2, 1.9, 2.0, 1.9, 1.6, 1.0, 1.1, 1.3, 1.3, 0.9, 0.45,
)
WEEKDAY_FACTORS = (1.15, 1.05, 1.0, 1.0, 0.9, 0.55, 0.5)
HOLD_MINUTES = {
    HoldReason.WAITING_PARTS: (240, 8640),
    HoldReason.REQUESTER_UNAVAILABLE: (60, 2880),
    HoldReason.THIRD_PARTY: (1440, 14400),
    HoldReason.ACCESS_DENIED: (30, 1440),
    HoldReason.SCHEDULED: (720, 5760),
    HoldReason.OTHER: (120, 4320),
}
OFFICE_OPENS = clock_time(8, 30)
LUNCH = (clock_time(12, 0), clock_time(13, 30))
OFFICE_CLOSES = clock_time(17, 30)
FLOOR_NOTES: tuple[Text, ...] = (
    ("男卫生间", "Men's washroom"),
    ("女卫生间", "Women's washroom"),
    ("楼梯间", "Stairwell"),
    ("开水间", "Boiler room"),
    ("走廊尽头", "End of the corridor"),
)


class SeedRefused(Exception):
    """The demo data cannot be loaded; the message says why."""


class NotEmpty(SeedRefused):
    """The database has data already; the demo goes only into an empty one."""


@dataclass
class SeedResult:
    """What ``seed`` did; ``password`` is the only copy of the demo password in clear."""

    skipped: bool = False
    password: str | None = None
    # (role, username) of the accounts worth showing in a demo.
    showcase: list[tuple[str, str]] = field(default_factory=list)
    centres: int = 0
    categories: int = 0
    locations: int = 0
    users: int = 0
    tickets: int = 0
    events: int = 0
    service_calls: int = 0
    statuses: dict[Status, int] = field(default_factory=dict)
    seconds: float = 0.0


def seed(
    *,
    days: int = 365,
    random_seed: int = 2026,
    password: str | None = None,
    if_empty: bool = False,
    echo: Callable[[str], object] = print,
) -> SeedResult:
    """Fill an empty database with demo centres, places, users and ``days`` of tickets.

    Raises NotEmpty when any user, centre or location exists (``if_empty``:
    echo and return a skipped result instead), SeedRefused for a password
    shorter than the accounts' minimum or ``days`` below 1. The password is
    echoed once at the end and returned; only its hash is stored. Every
    step commits on its own: a failure part-way leaves what was done, and
    the next try needs an empty database again.
    """
    started = time.perf_counter()
    existing = _existing_rows()
    # End the read transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE).
    db.session.rollback()
    if existing:
        message = (
            f"The database already has {existing}; demo data goes only into an empty database. "
            "Use a new database (e.g. another TRACKER_INSTANCE_PATH or DATABASE_URL)."
        )
        if if_empty:
            echo(f"Demo data skipped: the database already has {existing}.")
            return SeedResult(skipped=True)
        raise NotEmpty(message)
    if days < 1:
        raise SeedRefused("Generate at least one day of tickets (days >= 1).")
    if password is not None and len(password) < accounts.PASSWORD_MIN:
        raise SeedRefused(f"The demo password needs at least {accounts.PASSWORD_MIN} characters.")
    password = password or generate_password()

    now = utcnow()
    rng = random.Random(random_seed)
    zone = ZoneInfo(current_app.config["TRACKER_TIMEZONE"])
    setup_at = now - timedelta(days=days + 30)
    result = SeedResult(password=password)
    with _keep_loaded():
        catalog = _create_catalog(setup_at)
        policies = _create_service_levels(catalog, setup_at, now)
        echo(f"centres: {len(catalog.centres)}, categories: {len(catalog.categories)}, "
             f"SLA policies: {', '.join(policies)}")
        places = _create_locations(catalog)
        echo(f"locations: {places.count}")
        people = _create_users(rng, catalog, password, setup_at)
        echo(f"users: {people.count} ({time.perf_counter() - started:.0f} s)")
        world = _Simulation(rng, zone, now, catalog, places, people)
        plans = world.natural_plans(now - timedelta(days=days)) + world.showcase_plans()
        # The clocks depend on the events only: compute each ticket's once,
        # at the present, instead of after each of its steps.
        # Replaying a year of history notifies nobody: the workers' first
        # sweep flags what is late now, as it would in real use.
        with sla.deferred() as touched, outbox.suppressed():
            result.service_calls = _play(plans, now, zone, echo, started)
        sla.recompute_many(
            touched, utcnow(),
            progress=lambda done, total: done % 2000 < 500 or done == total and echo(
                f"SLA clocks: {done:,} of {total:,} tickets ({time.perf_counter() - started:.0f} s)"
            ),
        )
        # The replay went around the dashboards' day marks: build them all.
        stats.mark_everything()
        stats.refresh_all()
        echo(f"dashboard summary built ({time.perf_counter() - started:.0f} s)")
        from tracker.services import surveys

        echo(f"survey responses: {surveys.seed_demo(now)}")

    result.showcase = people.showcase
    result.centres, result.categories = len(catalog.centres), len(catalog.categories)
    result.locations, result.users = places.count, people.count
    result.tickets = db.session.scalar(select(func.count()).select_from(Ticket))
    result.events = db.session.scalar(select(func.count()).select_from(TicketEvent))
    result.statuses = dict(db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    db.session.rollback()
    result.seconds = time.perf_counter() - started
    _echo_summary(result, catalog, echo)
    return result


def reset_password(password: str | None = None) -> tuple[int, str]:
    """Give every demo user (e-mail on the demo domain) a new password; return (count, password).

    One hash for all of them, as when seeding; their sessions end.
    """
    if password is not None and len(password) < accounts.PASSWORD_MIN:
        raise SeedRefused(f"The demo password needs at least {accounts.PASSWORD_MIN} characters.")
    password = password or generate_password()
    users = list(db.session.execute(select(User).where(User.email.like(f"%@{DEMO_EMAIL_DOMAIN}"))).scalars())
    if not users:
        raise SeedRefused("There are no demo users (run seed-demo first).")
    shared_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    for user in users:
        user.password_hash = shared_hash
        user.end_sessions()
    db.session.commit()
    return len(users), password


def generate_password() -> str:
    """Return a readable random password: three words and two digits."""
    words = [secrets.choice(PASSWORD_WORDS) for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


# ---------------------------------------------------------------- setup


def _existing_rows() -> str:
    counts = {
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "centres": db.session.scalar(select(func.count()).select_from(Centre)),
        "locations": db.session.scalar(select(func.count()).select_from(Location)),
    }
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


@contextmanager
def _keep_loaded():
    """Keep loaded rows across commits while seeding.

    Each service call still commits on its own; only the session's reload
    of every object after a commit is switched off. Profiling showed half
    the time went to reloading the actor and its roles on every call. The
    seed is the only writer of users and places while it runs, and the
    services lock and re-read the ticket themselves, so nothing goes stale.
    """
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before
        session.expire_all()


@dataclass
class _Catalog:
    centres: dict[str, Centre] = field(default_factory=dict)
    specs: dict[str, CentreSpec] = field(default_factory=dict)
    # (centre code, category code) -> row and spec
    categories: dict[tuple[str, str], Category] = field(default_factory=dict)
    category_specs: dict[tuple[str, str], CategorySpec] = field(default_factory=dict)


def _create_catalog(setup_at: datetime) -> _Catalog:
    catalog = _Catalog()
    for order, spec in enumerate(CENTRES, start=1):
        centre = Centre(
            code=spec.code,
            ref_prefix=spec.prefix,
            name_en=spec.name_en,
            name_zh=spec.name_zh,
            description="\n\n".join(spec.description),
            sort_order=order * 10,
            created_at=setup_at,
        )
        db.session.add(centre)
        catalog.centres[spec.code] = centre
        catalog.specs[spec.code] = spec
    db.session.flush()
    for code, specs in CATEGORIES.items():
        for order, spec in enumerate(specs, start=1):
            category = Category(
                centre_id=catalog.centres[code].id,
                code=spec.code,
                name_en=spec.name_en,
                name_zh=spec.name_zh,
                default_priority=spec.priority,
                sort_order=order * 10,
            )
            db.session.add(category)
            catalog.categories[code, spec.code] = category
            catalog.category_specs[code, spec.code] = spec
    db.session.commit()
    return catalog


def _create_service_levels(catalog: _Catalog, setup_at: datetime, now: datetime) -> list[str]:
    """Install the default calendars and policies; repairs answers round the clock."""
    from tracker.services.holidays import known_years

    years = range(setup_at.year, now.year + 2)
    policies = sla_config.install_defaults(
        actor=None, now=setup_at, china_years=[y for y in years if y in known_years()]
    )
    for (centre_code, _), category in catalog.categories.items():
        category.sla_policy_id = policies["repairs" if centre_code == "repairs" else "standard"].id
    db.session.commit()
    return list(policies)


class _Places:
    """Builds the campus tree; ``groups`` name the places a category is about."""

    def __init__(self, catalog: _Catalog):
        self.catalog = catalog
        self.groups: dict[str, list[Location]] = defaultdict(list)
        self.count = 0

    def add(self, code, kind, zh, en, parent=None, groups=(), machine_of=None) -> Location:
        row = Location(code=code, kind=kind, name_zh=zh, name_en=en, parent=parent)
        if machine_of is not None:
            category = self.catalog.categories[machine_of]
            row.centre_id, row.category_id = category.centre_id, category.id
        db.session.add(row)
        for group in groups:
            self.groups[group].append(row)
        self.count += 1
        return row

    def building(self, code, zh, en, parent, floors, rooms, room_names, groups, floor_groups=("floors",),
                 room_groups=()) -> tuple[Location, dict[int, Location]]:
        """Add a building, its floors and rooms numbered ``<floor><nn>``."""
        building = self.add(code, LocationKind.BUILDING, zh, en, parent, ("buildings", *groups))
        levels = {}
        for floor in range(1, floors + 1):
            level = self.add(f"{code}-{floor}", LocationKind.FLOOR, f"{floor}层", f"Floor {floor}", building,
                             floor_groups)
            levels[floor] = level
            for number in rooms:
                room = f"{floor}{number:02d}"
                self.add(f"{code}-{floor}-{room}", LocationKind.ROOM, room_names[0].format(room),
                         room_names[1].format(room), level, room_groups)
        return building, levels

    def machines(self, prefix, level, kind, count, zh, en, group, category):
        for n in range(1, count + 1):
            self.add(f"{prefix}-{kind}{n}", LocationKind.MACHINE, f"{zh} {n}号", f"{en} {n}", level, (group,),
                     machine_of=category)


ORDINALS_ZH = "一二三四五六七八九"


def _create_locations(catalog: _Catalog) -> _Places:
    places = _Places(catalog)
    vending, laundry = ("business", "vending"), ("business", "laundry")
    printing, pos = ("business", "printing"), ("catering", "card_readers")
    classroom = ("{}教室", "Room {}")

    main = places.add("main", LocationKind.CAMPUS, "主校区", "Main campus")
    for n in (1, 2, 3):
        _, levels = places.building(
            f"main-t{n}", f"第{ORDINALS_ZH[n - 1]}教学楼", f"Teaching Building {n}", main, 5, (1, 5, 10),
            classroom, ("lift_buildings",), room_groups=("teaching_rooms",),
        )
        places.machines(f"main-t{n}", levels[1], "vm", 1, "自动售货机", "Vending machine", "vending", vending)
        if n < 3:
            places.machines(f"main-t{n}", levels[1], "pr", 1, "自助打印机", "Printer", "printers", printing)
    places.building("main-lab", "实验楼", "Laboratory Building", main, 4, (1, 3, 5), ("实验室{}", "Lab {}"),
                    ("lift_buildings",), room_groups=("labs",))
    library = places.add("main-lib", LocationKind.BUILDING, "图书馆", "Library", main, ("buildings", "lift_buildings"))
    for floor, rooms in (
        (1, (("hall", "借还书大厅", "Circulation hall"),)),
        (2, (("read1", "第一阅览室", "Reading room 1"),)),
        (3, (("read2", "第二阅览室", "Reading room 2"), ("digital", "电子阅览室", "Digital reading room"))),
        (4, (("study", "自习室", "Study room"), ("seminar", "研讨间", "Seminar rooms"))),
    ):
        level = places.add(f"main-lib-{floor}", LocationKind.FLOOR, f"{floor}层", f"Floor {floor}", library,
                           ("floors",))
        for code, zh, en in rooms:
            places.add(f"main-lib-{floor}-{code}", LocationKind.ROOM, zh, en, level, ("library_rooms",))
        if floor == 1:
            places.machines("main-lib", level, "pr", 2, "自助打印机", "Printer", "printers", printing)
            places.machines("main-lib", level, "vm", 1, "自动售货机", "Vending machine", "vending", vending)
    admin = places.add("main-admin", LocationKind.BUILDING, "行政楼", "Administration Building", main,
                       ("buildings", "lift_buildings"))
    for floor, rooms in (
        (1, (("101", "服务大厅", "Service hall"),)),
        (2, (("201", "第一会议室", "Meeting room 1"), ("205", "205办公室", "Office 205"))),
        (3, (("301", "第二会议室", "Meeting room 2"), ("308", "308办公室", "Office 308"))),
        (4, (("401", "报告厅", "Lecture hall"), ("410", "410办公室", "Office 410"))),
    ):
        level = places.add(f"main-admin-{floor}", LocationKind.FLOOR, f"{floor}层", f"Floor {floor}", admin,
                           ("floors",))
        for code, zh, en in rooms:
            places.add(f"main-admin-{floor}-{code}", LocationKind.ROOM, zh, en, level, ("office_rooms",))
    for n, zh in ((1, "第一食堂"), (2, "第二食堂")):
        _, levels = places.building(f"main-c{n}", zh, f"Canteen {n}", main, 2, (), ("", ""), ("canteens",),
                                    floor_groups=("canteens",))
        places.machines(f"main-c{n}-1", levels[1], "pos", 2, "刷卡机", "Card reader", "pos", pos)
        places.machines(f"main-c{n}-2", levels[2], "pos", 1, "刷卡机", "Card reader", "pos", pos)
    for n in range(1, 7):
        _, levels = places.building(
            f"main-d{n}", f"学生公寓{n}号楼", f"Dormitory {n}", main, 6, (1, 8, 15), ("{}宿舍", "Room {}"),
            (), floor_groups=("floors", "dorm_floors"), room_groups=("dorm_rooms",),
        )
        places.machines(f"main-d{n}", levels[1], "wm", 2, "自助洗衣机", "Washing machine", "laundry", laundry)
        places.machines(f"main-d{n}", levels[1], "vm", 1, "自动售货机", "Vending machine", "vending", vending)
    for code, zh, en in (("main-gym", "体育馆", "Gymnasium"), ("main-clinic", "校医院", "Campus clinic")):
        places.add(code, LocationKind.BUILDING, zh, en, main, ("buildings",))
    for code, zh, en in (
        ("main-gate", "北门", "North gate"),
        ("main-square", "中心广场", "Central square"),
        ("main-lake", "镜湖", "Mirror Lake"),
        ("main-field", "田径场", "Sports ground"),
        ("main-avenue", "主干道", "Main avenue"),
    ):
        places.add(code, LocationKind.AREA, zh, en, main, ("areas",))
    for code, zh, en in (
        ("main-stop-gate", "校车站·北门", "Shuttle stop: North gate"),
        ("main-stop-lib", "校车站·图书馆", "Shuttle stop: Library"),
        ("main-stop-dorm", "校车站·宿舍区", "Shuttle stop: Dormitories"),
    ):
        places.add(code, LocationKind.AREA, zh, en, main, ("stops",))

    east = places.add("east", LocationKind.CAMPUS, "东校区", "East campus")
    _, levels = places.building("east-t1", "东区教学楼", "East Teaching Building", east, 4, (1, 6, 12), classroom,
                                ("lift_buildings",), room_groups=("teaching_rooms",))
    places.machines("east-t1", levels[1], "vm", 1, "自动售货机", "Vending machine", "vending", vending)
    places.machines("east-t1", levels[1], "pr", 1, "自助打印机", "Printer", "printers", printing)
    places.building("east-lab", "实训楼", "Training Building", east, 3, (1, 5), ("{}实训室", "Workshop {}"), (),
                    room_groups=("labs",))
    for n in range(1, 5):
        _, levels = places.building(
            f"east-d{n}", f"东区公寓{n}号楼", f"East Dormitory {n}", east, 5, (1, 10, 18), ("{}宿舍", "Room {}"),
            (), floor_groups=("floors", "dorm_floors"), room_groups=("dorm_rooms",),
        )
        places.machines(f"east-d{n}", levels[1], "wm", 2, "自助洗衣机", "Washing machine", "laundry", laundry)
        if n % 2:
            places.machines(f"east-d{n}", levels[1], "vm", 1, "自动售货机", "Vending machine", "vending", vending)
    _, levels = places.building("east-c1", "东区食堂", "East Canteen", east, 2, (), ("", ""), ("canteens",),
                                floor_groups=("canteens",))
    places.machines("east-c1-1", levels[1], "pos", 2, "刷卡机", "Card reader", "pos", pos)
    for code, zh, en, group in (
        ("east-gate", "南门", "South gate", "areas"),
        ("east-garden", "东区花园", "East garden", "areas"),
        ("east-stop-gate", "校车站·东校区南门", "Shuttle stop: East campus South gate", "stops"),
        ("east-stop-dorm", "校车站·东区宿舍", "Shuttle stop: East dormitories", "stops"),
    ):
        places.add(code, LocationKind.AREA, zh, en, east, (group,))
    db.session.commit()
    return places


@dataclass
class _People:
    students: list[User] = field(default_factory=list)
    student_weights: list[float] = field(default_factory=list)
    staff: list[User] = field(default_factory=list)
    staff_weights: list[float] = field(default_factory=list)
    technicians: dict[str, list[User]] = field(default_factory=dict)
    dispatchers: dict[str, User] = field(default_factory=dict)
    heads: dict[str, User] = field(default_factory=dict)
    by_name: dict[str, User] = field(default_factory=dict)
    # Technician id -> factor on their working times (above 1: slower).
    pace: dict[int, float] = field(default_factory=dict)
    showcase: list[tuple[str, str]] = field(default_factory=list)
    count: int = 0


def _create_users(rng: random.Random, catalog: _Catalog, password: str, now: datetime) -> _People:
    people = _People()
    shared_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    taken = set(SHOWCASE_NAMES.values())

    def name(given: tuple[str, ...]) -> str:
        while True:
            candidate = rng.choice(SURNAMES) + rng.choice(given)
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    def make(username, display_name, roles, locale="zh_CN"):
        user = accounts.create_user(
            username=username,
            display_name=display_name,
            password=password,
            password_hash=shared_hash,
            roles=roles,
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
            locale=locale,
            now=now,
        )
        people.by_name[username] = user
        people.count += 1
        return user

    requester = [(Role.REQUESTER, None)]
    people.students.append(make("student", SHOWCASE_NAMES["student"], requester))
    people.student_weights.append(6)
    for n in range(2, 25):
        people.students.append(make(f"student{n}", name(STUDENT_GIVEN), requester))
        people.student_weights.append(1)
    for username, display_name in INTERNATIONAL:
        people.students.append(make(username, display_name, requester, locale="en"))
        people.student_weights.append(0.6)
    people.staff.append(make("staff", SHOWCASE_NAMES["staff"], requester))
    people.staff_weights.append(5)
    for n in range(2, 13):
        people.staff.append(make(f"staff{n}", name(STAFF_GIVEN), requester))
        people.staff_weights.append(1)

    for code, centre in catalog.centres.items():
        spec = catalog.specs[code]
        techs = []
        for n in range(1, spec.technicians + 1):
            username = f"tech.{code}" if n == 1 else f"tech{n}.{code}"
            display_name = SHOWCASE_NAMES.get(username) or name(STAFF_GIVEN)
            tech = make(username, display_name, [(Role.TECHNICIAN, centre.id), (Role.REQUESTER, None)])
            techs.append(tech)
            people.pace[tech.id] = rng.uniform(0.75, 1.3)
        people.technicians[code] = techs
        for role, prefix, into in (
            (Role.DISPATCHER, "dispatch", people.dispatchers),
            (Role.CENTRE_HEAD, "head", people.heads),
        ):
            username = f"{prefix}.{code}"
            into[code] = make(username, SHOWCASE_NAMES.get(username) or name(STAFF_GIVEN),
                              [(role, centre.id), (Role.REQUESTER, None)])
    # One repair technician is slow: the weekly meeting should find who is behind.
    people.pace[people.technicians["repairs"][-1].id] = 2.2
    make("leader", SHOWCASE_NAMES["leader"], [(Role.LEADERSHIP, None)])
    make("leader2", name(STAFF_GIVEN), [(Role.LEADERSHIP, None)])
    make("admin", SHOWCASE_NAMES["admin"], [(Role.ADMIN, None)])

    people.showcase = [
        ("requester (student)", "student"),
        ("requester (staff)", "staff"),
        ("requester (English)", "student.en"),
        ("technician, repairs", "tech.repairs"),
        ("dispatcher, repairs", "dispatch.repairs"),
        ("centre head, repairs", "head.repairs"),
        ("leadership", "leader"),
        ("administrator", "admin"),
    ]
    return people


# ---------------------------------------------------------------- calendar


@lru_cache(maxsize=2048)
def _is_workday(day: date) -> bool:
    """Return whether ``day`` is a working day in mainland China."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # the package knows only the years published so far
        return day.weekday() < 5


@lru_cache(maxsize=2048)
def _is_holiday(day: date) -> bool:
    """Return whether ``day`` is a statutory holiday (not merely a weekend)."""
    try:
        return chinese_calendar.get_holiday_detail(day)[1] is not None and not _is_workday(day)
    except NotImplementedError:
        return (day.month, day.day) in {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}


def _term_factor(day: date) -> float:
    """Return how busy the campus is in the academic year, around 1."""
    md = (day.month, day.day)
    if (1, 15) <= md < (2, 22):
        return 0.3  # winter holiday, Spring Festival
    if (2, 22) <= md < (3, 20):
        return 1.4  # spring term starts
    if (6, 20) <= md < (7, 10):
        return 1.1  # exams, graduates move out
    if (7, 10) <= md < (8, 25):
        return 0.35  # summer holiday
    if (8, 25) <= md < (9, 25):
        return 1.5  # autumn term, freshmen move in
    return 1.0


def _day_factor(day: date) -> float:
    if _is_holiday(day):
        return 0.4
    if not _is_workday(day):
        return 0.55
    if day.weekday() >= 5:  # a weekend made a working day
        return 0.95
    return WEEKDAY_FACTORS[day.weekday()]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# ---------------------------------------------------------------- stories


@dataclass
class _Step:
    at: datetime
    action: Action | None  # None: file the ticket
    actor: User | None
    options: dict


@dataclass
class _Plan:
    seq: int
    request: ticket_service.NewTicket
    requester: User
    steps: list[_Step] = field(default_factory=list)
    ticket_id: int | None = None


class _Story:
    """Writes one ticket's steps, each after the one before."""

    def __init__(self, sim: "_Simulation", plan: _Plan, at: datetime, lang: int):
        self.sim, self.plan, self.t, self.lang = sim, plan, at, lang
        plan.steps.append(_Step(at, None, plan.requester, {}))

    def text(self, choices: tuple[Text, ...]) -> str:
        return self.sim.rng.choice(choices)[self.lang]

    def step(self, action: Action, actor: User | None, after: timedelta, hours: str = "any", **options) -> None:
        at = self.sim.shift(self.t + after, hours)
        if at <= self.t:
            at = self.t + timedelta(seconds=self.sim.rng.randint(20, 90))
        self.plan.steps.append(_Step(at, action, actor, options))
        self.t = at


class _Simulation:
    def __init__(self, rng, zone, now, catalog: _Catalog, places: _Places, people: _People):
        self.rng, self.zone, self.now = rng, zone, now
        self.catalog, self.places, self.people = catalog, places, people
        self.seq = 0

    # -- time

    def minutes(self, low: float, high: float, pace: float = 1.0) -> timedelta:
        """Return a log-uniform duration between ``low`` and ``high`` minutes, times ``pace``."""
        value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return timedelta(minutes=value * pace)

    def shift(self, at: datetime, hours: str) -> datetime:
        """Move ``at`` into the hours people act in: "any", "waking" or "office"."""
        if hours == "any":
            return at
        local = at.astimezone(self.zone)
        if hours == "waking":
            if 7 <= local.hour < 23:
                return at
            day = local.date() if local.hour < 7 else local.date() + timedelta(days=1)
            return self._local(day, clock_time(7, 0)) + self.minutes(10, 180)
        moment = local.time()
        if _is_workday(local.date()):
            if OFFICE_OPENS <= moment < LUNCH[0] or LUNCH[1] <= moment < OFFICE_CLOSES:
                return at
            if LUNCH[0] <= moment < LUNCH[1]:
                return self._local(local.date(), LUNCH[1]) + self.minutes(1, 40)
            if moment < OFFICE_OPENS:
                return self._local(local.date(), OFFICE_OPENS) + self.minutes(1, 75)
        day = local.date() + timedelta(days=1)
        while not _is_workday(day):
            day += timedelta(days=1)
        return self._local(day, OFFICE_OPENS) + self.minutes(1, 75)

    def _local(self, day: date, moment: clock_time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone).astimezone(self.now.tzinfo)

    # -- who and where

    def requester_for(self, audience: str) -> User:
        people = self.people
        if audience == "any":
            audience = "student" if self.rng.random() < 0.6 else "staff"
        if audience == "student":
            return self.rng.choices(people.students, people.student_weights)[0]
        return self.rng.choices(people.staff, people.staff_weights)[0]

    def dispatcher(self, code: str) -> User:
        people = self.people
        return people.heads[code] if self.rng.random() < 0.1 else people.dispatchers[code]

    def technician(self, code: str, other_than: User | None = None) -> User:
        techs = [t for t in self.people.technicians[code] if t is not other_than]
        # The first technician of each centre is the showcase one: give them a full queue.
        weights = [2.0 if i == 0 and other_than is None else 1.0 for i in range(len(techs))]
        return self.rng.choices(techs, weights)[0]

    def _plan(self, category: Category, requester: User, template, lang: int, location: Location | None,
              priority: Priority | None = None, source: str | None = None, note: str = "") -> _Plan:
        self.seq += 1
        title = template[2 * lang]
        description = template[2 * lang + 1]
        if self.rng.random() < 0.4:
            description += ("" if lang == 0 else " ") + self.rng.choice(DESCRIPTION_ENDINGS)[lang]
        if source is None:
            roll = self.rng.random()
            if location is not None and location.kind == LocationKind.MACHINE:
                source = Source.QR if roll < 0.75 else Source.WEB
            elif location is not None and location.kind == LocationKind.ROOM and roll < 0.1:
                source = Source.QR
            else:
                source = Source.PHONE if roll > 0.85 else Source.WEB
        request = ticket_service.NewTicket(
            centre_id=category.centre_id,
            category_id=category.id,
            description=description,
            title=title,
            location_id=location.id if location is not None else None,
            location_note=note,
            priority=priority,
            contact_phone=requester.phone if self.rng.random() < 0.5 else "",
            source=str(source),
        )
        return _Plan(self.seq, request, requester)

    # -- natural tickets

    def natural_plans(self, start: datetime) -> list[_Plan]:
        """Return stories for tickets filed from ``start`` to now, busier in term time."""
        plans = []
        day = start.astimezone(self.zone).date()
        last = self.now.astimezone(self.zone).date()
        mixes = {month: self._mix(month) for month in range(1, 13)}
        while day <= last:
            mix = mixes[day.month]
            count = _poisson(self.rng, BASE_PER_DAY * _term_factor(day) * _day_factor(day))
            for _ in range(count):
                hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
                at = self._local(day, clock_time(hour, self.rng.randrange(60), self.rng.randrange(60)))
                if start <= at < self.now:
                    plans.append(self._natural(at, *self.rng.choices(mix[0], mix[1])[0]))
            day += timedelta(days=1)
        self._backlog(plans)
        return plans

    def _backlog(self, plans: list[_Plan]) -> None:
        """Hold back some of the last few days' tickets at a random step.

        Their next step has simply not happened yet, so queues, holds and
        tickets awaiting confirmation have something in them now.
        """
        recent = self.now - BACKLOG_PERIOD
        for plan in plans:
            if plan.steps[0].at < recent or len(plan.steps) < 2 or self.rng.random() >= BACKLOG_SHARE:
                continue
            waits = [i for i, step in enumerate(plan.steps) if step.action in (Action.HOLD, Action.REOPEN)]
            if waits and self.rng.random() < 0.6:
                cut = waits[0] + 1  # still on hold, or reopened and not yet reassigned
            else:
                cut = self.rng.randrange(1, len(plan.steps))
            del plan.steps[cut:]

    def _mix(self, month: int):
        keys, weights = [], []
        for code, spec in self.catalog.specs.items():
            specs = [self.catalog.category_specs[key] for key in self.catalog.category_specs if key[0] == code]
            total = sum(s.weight for s in specs)
            for category in specs:
                keys.append((code, category))
                weights.append(spec.weight * category.weight / total * category.season.get(month, 1.0))
        return keys, weights

    def _natural(self, filed_at: datetime, code: str, spec: CategorySpec) -> _Plan:
        rng = self.rng
        centre = self.catalog.specs[code]
        category = self.catalog.categories[code, spec.code]
        requester = self.requester_for(spec.audience)
        lang = 1 if requester.locale == "en" else 0
        location, note = None, ""
        if spec.places:
            group = rng.choice(spec.places)
            location = rng.choice(self.places.groups[group])
            if location.kind == LocationKind.FLOOR and rng.random() < 0.6:
                note = rng.choice(FLOOR_NOTES)[lang]
        priority = None
        if rng.random() < 0.08 and spec.priority is not Priority.URGENT:
            priority = Priority.URGENT if spec.priority is Priority.HIGH else Priority.HIGH
        plan = self._plan(category, requester, rng.choice(spec.templates), lang, location, priority, note=note)
        story = _Story(self, plan, filed_at, lang)
        self._tell(story, centre, spec, priority or spec.priority)
        return plan

    def _tell(self, story: _Story, centre: CentreSpec, spec: CategorySpec, priority: Priority) -> None:
        rng, code, requester = self.rng, centre.code, story.plan.requester
        urgent = priority is Priority.URGENT
        # Repairs answer round the clock; an emergency gets an answer anywhere.
        answer_hours = "any" if centre.round_clock or urgent else "office"
        work_hours = "any" if urgent or (centre.round_clock and priority is Priority.HIGH) else "office"
        dispatcher = self.dispatcher(code)

        if rng.random() < 0.05:
            story.step(Action.COMMENT, requester, self.minutes(3, 120), "waking",
                       reason=story.text(REQUESTER_COMMENTS))
        if rng.random() < 0.04:
            if urgent or (priority is Priority.HIGH and rng.random() < 0.6):
                new, texts = (Priority.HIGH if urgent else Priority.NORMAL), LOWER_TEXTS
            else:
                new, texts = (Priority.URGENT if priority is Priority.HIGH else Priority.HIGH), RAISE_TEXTS
            story.step(Action.REPRIORITISE, dispatcher, self.minutes(3, 60), answer_hours,
                       priority=new, reason=story.text(texts))
            priority = new
        if rng.random() < 0.035:  # the requester withdraws early
            if rng.random() < 0.4:
                story.step(Action.ASSIGN, dispatcher, self.minutes(2, 60), answer_hours,
                           assignee_id=self.technician(code).id)
            story.step(Action.CANCEL, requester, self.minutes(5, 600), "waking",
                       reason=story.text(REQUESTER_CANCEL_TEXTS))
            return
        if rng.random() < 0.01:  # a duplicate or not this centre's business
            story.step(Action.CANCEL, dispatcher, self.minutes(5, 240), answer_hours,
                       reason=story.text(STAFF_CANCEL_TEXTS))
            return

        technician = self._respond(story, centre, dispatcher, answer_hours)
        self._work(story, centre, spec, technician, dispatcher, work_hours, first_visit=True)

        roll = rng.random()
        if roll < 0.045:
            story.step(Action.REOPEN, requester, self.minutes(60, 2880), "waking",
                       reason=story.text(REOPEN_TEXTS))
            if rng.random() < 0.3:
                technician = self.technician(code, other_than=technician)
            story.step(Action.ASSIGN, dispatcher, self.minutes(5, 90), answer_hours, assignee_id=technician.id)
            story.step(Action.ACCEPT, technician, self.minutes(2, 30), answer_hours)
            self._work(story, centre, spec, technician, dispatcher, work_hours, first_visit=False)
            roll = rng.random() * 0.9 + 0.1  # no second reopening
        if roll < 0.2:
            story.step(Action.CONFIRM, None, AUTO_CONFIRM_AFTER)
        else:
            story.step(Action.CONFIRM, requester, self.minutes(20, 4320), "waking",
                       reason=story.text(CONFIRM_TEXTS))

    def _respond(self, story: _Story, centre: CentreSpec, dispatcher: User, hours: str) -> User:
        rng, code = self.rng, centre.code
        technician = self.technician(code)
        # Most answers meet the promise; some do not, and the figures should show it.
        late = rng.random() < (0.07 if centre.round_clock else 0.12)
        if centre.round_clock:
            answer = self.minutes(25, 150) if late else self.minutes(1, 16)
        else:
            answer = self.minutes(240, 1800) if late else self.minutes(5, 120)
        if rng.random() < centre.dispatch_share:
            story.step(Action.ASSIGN, dispatcher, answer * 0.4, hours, assignee_id=technician.id)
            if rng.random() < 0.025:
                story.step(Action.DECLINE, technician, self.minutes(2, 20), hours,
                           reason=story.text(DECLINE_TEXTS))
                technician = self.technician(code, other_than=technician)
                story.step(Action.ASSIGN, dispatcher, self.minutes(2, 15), hours, assignee_id=technician.id)
            story.step(Action.ACCEPT, technician, answer * 0.6, hours)
        else:
            story.step(Action.TAKE, technician, answer, hours)
        return technician

    def _work(self, story: _Story, centre: CentreSpec, spec: CategorySpec, technician: User, dispatcher: User,
              hours: str, *, first_visit: bool) -> None:
        rng = self.rng
        pace = self.people.pace[technician.id]
        if rng.random() < 0.06:
            story.step(Action.COMMENT, technician, self.minutes(2, 60), hours, reason=story.text(STAFF_COMMENTS))
        if spec.on_site:
            story.step(Action.ARRIVE, technician, self.minutes(*centre.arrive_minutes, pace), hours)
        if first_visit and rng.random() < centre.hold_share:
            reasons, weights = zip(*centre.hold_reasons, strict=True)
            reason = rng.choices(reasons, weights)[0]
            holder = dispatcher if rng.random() < 0.15 else technician
            story.step(Action.HOLD, holder, self.minutes(5, 60), hours, hold_reason=reason,
                       reason=story.text(HOLD_TEXTS[reason]))
            if rng.random() < 0.3:
                story.step(Action.COMMENT, story.plan.requester, self.minutes(60, 1440), "waking",
                           reason=story.text(REQUESTER_COMMENTS))
            story.step(Action.RESUME, technician, self.minutes(*HOLD_MINUTES[reason]), "office",
                       reason=story.text(RESUME_TEXTS))
        if rng.random() < 0.03:
            story.step(Action.COMMENT, dispatcher, self.minutes(30, 600), "office",
                       reason=story.text(DISPATCH_COMMENTS))
        note = story.text(spec.resolutions)
        materials = ""
        if spec.materials and rng.random() < 0.6:
            materials = "，".join(rng.sample(spec.materials, k=min(len(spec.materials), rng.choice((1, 1, 2)))))
        fix = spec.fix_minutes or centre.fix_minutes
        story.step(Action.RESOLVE, technician, self.minutes(*fix, pace), hours,
                   resolution_note=note, materials_used=materials)

    # -- showcase

    def showcase_plans(self) -> list[_Plan]:
        """Return today's tickets of the showcase accounts, one in every status.

        They are written step by step (not drawn at random), so every status
        occurs however short the period, and ``student``, ``tech.repairs``
        and ``dispatch.repairs`` find something on every page. All of them
        start within the last 20 hours (``seed`` covers at least a day).
        """
        people = self.people
        student, staff = people.by_name["student"], people.by_name["staff"]
        tech, dispatcher = people.by_name["tech.repairs"], people.by_name["dispatch.repairs"]

        def place(group, index):
            rows = self.places.groups[group]
            return rows[index % len(rows)]

        def resolve(key):
            spec = self.catalog.category_specs["repairs", key]
            return Action.RESOLVE, tech, {"resolution_note": spec.resolutions[0][0],
                                          "materials_used": spec.materials[0] if spec.materials else ""}

        assign = (Action.ASSIGN, dispatcher, {"assignee_id": tech.id})
        accept, arrive = (Action.ACCEPT, tech, {}), (Action.ARRIVE, tech, {})
        stories = (
            # (filed minutes ago, requester, repairs category, place, [(minutes after filing, step)])
            (1200, student, "water", place("dorm_rooms", 40),
             [(6, assign), (15, accept), (43, arrive), (98, resolve("water")),
              (300, (Action.CONFIRM, student, {"reason": "师傅很负责，谢谢！"}))]),
            (1080, staff, "lighting", place("office_rooms", 2),
             [(35, (Action.CANCEL, staff, {"reason": "灯又亮了，可能是接触不良，先取消。"}))]),
            (960, student, "air_conditioning", place("dorm_rooms", 41),
             [(4, assign), (12, accept), (52, arrive), (122, resolve("air_conditioning")),
              (900, (Action.REOPEN, student, {"reason": "空调还是不制冷，吹的是热风。"}))]),
            (480, staff, "network", place("office_rooms", 3),
             [(9, (Action.TAKE, tech, {})), (54, arrive), (104, resolve("network"))]),
            (360, student, "doors_windows", place("dorm_rooms", 7),
             [(5, assign), (17, accept), (52, arrive),
              (72, (Action.HOLD, tech, {"hold_reason": HoldReason.WAITING_PARTS,
                                        "reason": "需更换窗户执手，已申请配件，到货后安排维修。"}))]),
            (120, student, "electricity", place("dorm_rooms", 12), [(3, assign), (10, accept), (32, arrive)]),
            (70, staff, "water", place("teaching_rooms", 5), [(5, assign), (16, accept)]),
            (25, student, "furniture", place("teaching_rooms", 9), [(6, assign)]),
            (10, student, "lighting", place("dorm_rooms", 13), []),
        )
        plans = []
        for ago, requester, key, location, steps in stories:
            spec = self.catalog.category_specs["repairs", key]
            plan = self._plan(self.catalog.categories["repairs", key], requester, spec.templates[0], 0, location,
                              source=Source.WEB)
            filed_at = self.now - timedelta(minutes=ago)
            _Story(self, plan, filed_at, 0)
            plan.steps.extend(_Step(filed_at + timedelta(minutes=after), action, actor, options)
                              for after, (action, actor, options) in steps)
            plans.append(plan)
        # An international student's laundry machine, scanned from its QR code, still new.
        laundry = self.catalog.category_specs["business", "laundry"]
        plan = self._plan(self.catalog.categories["business", "laundry"], people.by_name["student.en"],
                          laundry.templates[0], 1, self.places.groups["laundry"][0], source=Source.QR)
        _Story(self, plan, self.now - timedelta(minutes=40), 1)
        plans.append(plan)
        return plans


# ---------------------------------------------------------------- playing


def _play(plans: list[_Plan], now: datetime, zone: ZoneInfo, echo, started: float) -> int:
    """Play every step up to ``now`` in time order through the services; return the number of calls."""
    steps = [
        (step.at, plan.seq, index, plan, step)
        for plan in plans
        for index, step in enumerate(plan.steps)
        if step.at <= now
    ]
    steps.sort(key=lambda item: item[:3])
    filed = calls = 0
    month = None

    def progress():
        echo(f"tickets: {month} … {filed:,} filed so far ({calls:,} service calls, "
             f"{time.perf_counter() - started:.0f} s)")

    for at, _, _, plan, step in steps:
        label = at.astimezone(zone).strftime("%Y-%m")
        if label != month:
            if month is not None:
                progress()
            month = label
        if step.action is None:
            plan.ticket_id = ticket_service.file_ticket(plan.request, requester=step.actor, now=at).id
            filed += 1
        else:
            ticket_service.transition(plan.ticket_id, step.action, actor=step.actor, now=at, **step.options)
        calls += 1
    if month is not None:
        progress()
    return calls


def _echo_summary(result: SeedResult, catalog: _Catalog, echo) -> None:
    echo(
        f"done in {result.seconds:.0f} s: {result.tickets:,} tickets, {result.events:,} events, "
        f"{result.users} users, {result.locations} locations"
    )
    echo("tickets by status: " + ", ".join(f"{s} {result.statuses.get(s, 0):,}" for s in Status))
    echo("")
    echo("Demo logins (one password for every demo user):")
    width = max(len(role) for role, _ in result.showcase)
    for role, username in result.showcase:
        echo(f"  {role:<{width}}  {username}")
    echo(f"  Every centre also has tech.<centre>, dispatch.<centre> and head.<centre>; "
         f"centres: {', '.join(catalog.centres)}.")
    echo(f"Password: {result.password}")
    echo("It is shown only now and stored only as a hash.")
