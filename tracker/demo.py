"""Realistic demo data in one command: a campus, its people and a year of tickets.

``seed`` fills an empty database. Centres, categories and places are written
as rows (no service creates them yet); users come from
``accounts.create_user``; every ticket is filed with ``tickets.file_ticket``
and moved with ``tickets.transition`` at simulated past instants, so the
history obeys the same rules as real use: one service call, one transaction.

The simulation writes each ticket's story first (who does what, when), then
plays every step of every story in time order, up to now. Steps a story
plans after now are left out, so recent tickets are still open. A story
may end with the requester's rating (``feedback``) and, after a low one,
the head's record of the follow-up visit (``follow_ups``). Rectification
items come last, after the demo survey some are opened from: each is
written out in ``ITEMS`` and played through ``rectification`` the same way.
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
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from flask import current_app
from sqlalchemy import case, func, select
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
from tracker.domain.rectification import ACTIVE_STATUSES, ItemStatus
from tracker.domain.rectification import Action as ItemAction
from tracker.domain.rectification import Source as ItemSource
from tracker.domain.roles import Role
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.extensions import db
from tracker.models import (
    Category,
    Centre,
    Feedback,
    FollowUp,
    FollowUpKind,
    FollowUpResult,
    FollowUpStatus,
    Location,
    LocationKind,
    RectificationItem,
    RectificationItemTicket,
    Source,
    SurveyResponse,
    Ticket,
    TicketEvent,
    User,
)
from tracker.services.admin import accounts
from tracker.services.insight import reports, stats
from tracker.services.ledger import feedback, follow_ups, rectification, surveys
from tracker.services.notify import outbox
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config

# Tickets per day before the term and weekday factors: about 13 a day over a
# year, 25-30 on a Monday at the start of the autumn term, a handful during
# the Spring Festival.
BASE_PER_DAY = 12.0
# Demo users are recognised by their e-mail domain (demo-password resets them).
DEMO_EMAIL_DOMAIN = "campus.example.edu.cn"
# (role, username) of the accounts worth showing in a demo: echoed by the
# seed as "Demo login: ..." lines, which ``desk.py run`` shows in its banner.
SHOWCASE = (
    ("requester (student)", "student"),
    ("requester (staff)", "staff"),
    ("requester (English)", "student.en"),
    ("technician, repairs", "tech.repairs"),
    ("dispatcher, repairs", "dispatch.repairs"),
    ("centre head, repairs", "head.repairs"),
    ("leadership", "leader"),
    ("administrator", "admin"),
)
LOGIN_LINE = "Demo login: "
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

# Requesters' ratings (services/ledger/feedback.py). About two in five resolved
# requests get one: half of those who confirm the fix themselves rate it,
# a few of those who let it be confirmed automatically rate from the link
# in the "resolved" e-mail. Weights of the ratings 1-5 by how it went.
RATE_AFTER_CONFIRM = 0.45
RATE_UNCONFIRMED = 0.15
RATING_WEIGHTS = {
    "smooth": (1.5, 2.5, 9, 31, 56),
    "slow": (3, 5, 17, 36, 39),  # put on hold, or a slow technician
    "reopened": (12, 16, 27, 27, 18),
}
COMMENT_SHARE = {1: 0.9, 2: 0.9, 3: 0.6, 4: 0.4, 5: 0.3}
RATING_COMMENTS: dict[int, tuple[Text, ...]] = {
    5: (
        ("师傅很专业，处理又快又好！", "Very professional, quick and tidy!"),
        ("响应非常及时，点赞！", "A very quick response, thumbs up!"),
        ("态度很好，还顺便检查了其他设备。", "Friendly, and checked the other equipment too."),
        ("不到半小时就到了，效率很高。", "Came within half an hour, very efficient."),
    ),
    4: (
        ("问题解决了，就是等得有点久。", "Fixed, though it took a while."),
        ("总体满意，希望上门前先打个电话。", "Satisfied overall; please call before coming."),
        ("处理得不错，现场没有完全清理干净。", "Good work, but the place was not quite cleaned up."),
    ),
    3: (
        ("解决了，但跑了两趟才修好。", "Fixed, but it took two visits."),
        ("等了一天多才有人来。", "Waited more than a day for someone to come."),
        ("能用了，不过感觉只是临时处理。", "It works now, but it feels like a temporary fix."),
    ),
    2: (
        ("拖了很久，中间也没人告知进度。", "It dragged on and nobody told me what was happening."),
        ("修完没几天又出现同样的问题。", "The same problem came back a few days later."),
        ("约好的时间没来，也没打电话说明。", "Nobody came at the agreed time, and nobody called."),
    ),
    1: (
        ("问题根本没解决就被标记为已解决。", "Marked as resolved although nothing was fixed."),
        ("态度很差，敷衍了事。", "Rude and careless."),
        ("同一个问题报修三次了，还是老样子。", "Third report of the same problem, and still the same."),
    ),
}
# A low rating opens a follow-up visit (services/ledger/follow_ups.py); the centre's
# head records it, mostly within the due working days, sometimes later.
# Some of the last RECENT_FOLLOW_UPS' visits have not happened yet.
RECENT_FOLLOW_UPS = timedelta(days=12)
# One visit older than this is left undone: the follow-up page has an overdue one
# (3 working days, and a week of National Day holidays, fit in it).
OVERDUE_FOLLOW_UP = timedelta(days=16)
FOLLOW_UP_OUTCOMES: tuple[tuple[FollowUpResult, float, tuple[str, ...]], ...] = (
    (FollowUpResult.REACHED, 35, (
        "已上门回访，报修人表示理解，问题已经解决。",
        "已电话回访，报修人对处理结果基本认可，提醒技术员注意沟通。",
    )),
    (FollowUpResult.RESOLVED, 35, (
        "回访后安排技术员再次上门，彻底修复，报修人满意。",
        "向报修人道歉并说明原因，已调整排班，避免再次失约。",
    )),
    (FollowUpResult.NOT_REACHED, 15, (
        "两次电话未接通，已发短信留言。",
        "",
    )),
    (FollowUpResult.ESCALATED, 15, (
        "同类问题多次出现，已提交整改事项跟进。",
        "已报分管领导，纳入周例会督办。",
    )),
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
    # Requesters' ratings by value (1-5), and the follow-ups of the low ones.
    ratings: dict[int, int] = field(default_factory=dict)
    follow_ups: int = 0
    follow_ups_open: int = 0
    follow_ups_overdue: int = 0
    # Rectification items by status; how many are overdue now, how many link requests.
    items: dict[ItemStatus, int] = field(default_factory=dict)
    items_overdue: int = 0
    items_linked: int = 0
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
            result = SeedResult(skipped=True, showcase=_existing_showcase())
            db.session.rollback()
            echo_logins(result.showcase, echo)
            return result
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
        # Replaying a year of history notifies nobody: the workers' first
        # sweep flags what is late now, as it would in real use.
        with outbox.suppressed():
            later = _write_history(plans, now, zone, echo, started)
            # The clocks depend on the events only: compute each ticket's once,
            # at the present, instead of after each of its steps.
            # Likewise the summary's marks: all days are rebuilt below.
            with sla.deferred() as touched, stats.collected_marks():
                result.service_calls = _play(later, now, echo, started)
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
        echo(f"survey responses: {surveys.seed_demo(now)}")
        # After the survey: some items are opened from its responses. Their
        # deadlines are left to the workers' first sweep, like the tickets' clocks.
        with outbox.suppressed():
            result.service_calls += _play_items(_open_items(world, now - timedelta(days=days)), now)

    result.showcase = people.showcase
    result.centres, result.categories = len(catalog.centres), len(catalog.categories)
    result.locations, result.users = places.count, people.count
    result.tickets = db.session.scalar(select(func.count()).select_from(Ticket))
    result.events = db.session.scalar(select(func.count()).select_from(TicketEvent))
    result.statuses = dict(db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    _count_follow_through(result, now)
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


def echo_logins(showcase, echo) -> None:
    """Echo one ``Demo login: <username> — <role>`` line per showcase account."""
    for role, username in showcase:
        echo(f"{LOGIN_LINE}{username} — {role}")


def _existing_showcase() -> list[tuple[str, str]]:
    """Return the showcase accounts that exist as demo users (none in a database of real users)."""
    emails = [f"{username}@{DEMO_EMAIL_DOMAIN}" for _, username in SHOWCASE]
    found = set(db.session.scalars(select(User.username).where(User.email.in_(emails))))
    return [entry for entry in SHOWCASE if entry[1] in found]


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
            description_zh=spec.description[0],
            description_en=spec.description[1],
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
    from tracker.services.sla.holidays import known_years

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

    # No saved language: the pages follow the browser until the user picks
    # one with the switch (the international students picked English).
    def make(username, display_name, roles, locale=None):
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

    people.showcase = [entry for entry in SHOWCASE if entry[1] in people.by_name]
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


class _Extra(StrEnum):
    """Steps of a ticket's story that are not moves of the ticket."""

    RATE = "rate"  # the requester rates it (services/ledger/feedback.py)
    VISIT = "visit"  # a head records the low rating's follow-up (services/ledger/follow_ups.py)


@dataclass
class _Step:
    at: datetime
    action: Action | _Extra | None  # None: file the ticket
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
        self._leave_one_visit_overdue(plans)
        return plans

    def _leave_one_visit_overdue(self, plans: list[_Plan]) -> None:
        """Undo the visit of the latest low rating older than OVERDUE_FOLLOW_UP, unless one is undone already.

        The follow-up page then has an overdue visit however the dice fell.
        """
        latest = None
        for plan in plans:
            rates = [i for i, step in enumerate(plan.steps) if step.action is _Extra.RATE]
            if not rates:
                continue
            rated = plan.steps[rates[0]]
            if rated.options["rating"] > follow_ups.LOW_RATING_MAX or rated.at > self.now - OVERDUE_FOLLOW_UP:
                continue
            visits = [i for i, step in enumerate(plan.steps) if step.action is _Extra.VISIT]
            if not visits or plan.steps[visits[0]].at > self.now:
                return
            if latest is None or rated.at > latest[0]:
                latest = (rated.at, plan, visits[0])
        if latest is not None:
            del latest[1].steps[latest[2]]

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
        mood = "smooth"
        held = any(step.action is Action.HOLD for step in story.plan.steps)
        if held or self.people.pace[technician.id] > 1.5:
            mood = "slow"
        if roll < 0.045:
            story.step(Action.REOPEN, requester, self.minutes(60, 2880), "waking",
                       reason=story.text(REOPEN_TEXTS))
            if rng.random() < 0.3:
                technician = self.technician(code, other_than=technician)
            story.step(Action.ASSIGN, dispatcher, self.minutes(5, 90), answer_hours, assignee_id=technician.id)
            story.step(Action.ACCEPT, technician, self.minutes(2, 30), answer_hours)
            self._work(story, centre, spec, technician, dispatcher, work_hours, first_visit=False)
            roll = rng.random() * 0.9 + 0.1  # no second reopening
            mood = "reopened"
        resolved_at = story.t
        rating = None
        if roll < 0.2:
            # Nobody confirms: a few rate from the e-mail's link before the application confirms.
            if rng.random() < RATE_UNCONFIRMED:
                rating = self._rate(story, mood, self.minutes(30, 4320), "waking", issued_at=resolved_at)
            story.step(Action.CONFIRM, None, resolved_at + AUTO_CONFIRM_AFTER - story.t)
        else:
            story.step(Action.CONFIRM, requester, self.minutes(20, 4320), "waking",
                       reason=story.text(CONFIRM_TEXTS))
            if rng.random() < RATE_AFTER_CONFIRM:
                # The page offers the rating right after confirming; some use the e-mail's link instead.
                rating = self._rate(story, mood, self.minutes(0.5, 30), "any",
                                    issued_at=resolved_at if rng.random() < 0.25 else None)
        if rating is not None and rating <= follow_ups.LOW_RATING_MAX:
            self._visit(story, code)

    def _rate(self, story: _Story, mood: str, after: timedelta, hours: str, *,
              issued_at: datetime | None) -> int:
        """Add the requester's rating (from the e-mail's link issued at ``issued_at``, if any); return it."""
        rng = self.rng
        rating = rng.choices((1, 2, 3, 4, 5), RATING_WEIGHTS[mood])[0]
        comment = story.text(RATING_COMMENTS[rating]) if rng.random() < COMMENT_SHARE[rating] else ""
        story.step(_Extra.RATE, story.plan.requester, after, hours, rating=rating, comment=comment,
                   issued_at=issued_at)
        return rating

    def _visit(self, story: _Story, code: str) -> None:
        """Add the head's record of the low rating's follow-up visit, unless it has not happened yet."""
        rng = self.rng
        if story.t > self.now - RECENT_FOLLOW_UPS and rng.random() < 0.3:
            return
        # Mostly within the due working days; some slip past them.
        after = self.minutes(4500, 10000) if rng.random() < 0.12 else self.minutes(90, 3000)
        results, weights, outcomes = zip(*FOLLOW_UP_OUTCOMES, strict=True)
        index = rng.choices(range(len(results)), weights)[0]
        story.step(_Extra.VISIT, self.people.heads[code], after, "office", result=results[index],
                   outcome=rng.choice(outcomes[index]))

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
              (300, (Action.CONFIRM, student, {"reason": "师傅很负责，谢谢！"})),
              (302, (_Extra.RATE, student, {"rating": 5, "comment": "半小时就上门了，效率很高。",
                                            "issued_at": None}))]),
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


def _write_history(plans: list[_Plan], now: datetime, zone: ZoneInfo, echo, started: float) -> list[tuple]:
    """Build every ticket's moves up to ``now`` in memory and write them in bulk; return the steps left to play.

    The moves go through the ticket service's own checks and changes
    (``new_ticket``, ``apply``) in time order, and ``write_replayed`` stores
    the tickets, their events and their clocks in one transaction: one
    transaction per move took two minutes for a year. A ticket's steps from
    its first rating or follow-up visit on need the written request: they
    are returned, in time order, for ``_play``.
    """
    steps = sorted(
        ((step.at, plan.seq, index, plan, step)
         for plan in plans for index, step in enumerate(plan.steps) if step.at <= now),
        key=lambda item: item[:3],
    )
    first_extra = {
        plan.seq: next((i for i, step in enumerate(plan.steps) if isinstance(step.action, _Extra)), len(plan.steps))
        for plan in plans
    }
    built: dict[int, tuple] = {}
    catalogue: dict = {}
    later = []
    months: dict[str, int] = {}
    for item in steps:
        at, seq, index, plan, step = item
        if index >= first_extra[seq]:
            later.append(item)
        elif step.action is None:
            built[seq] = ticket_service.new_ticket(plan.request, requester=step.actor, now=at, catalogue=catalogue)
            label = at.astimezone(zone).strftime("%Y-%m")
            months[label] = months.get(label, 0) + 1
        else:
            ticket_service.apply(built[seq][0], step.action, actor=step.actor, now=at, **step.options)
    by_seq = {plan.seq: plan for plan in plans}
    ids = ticket_service.write_replayed(list(built.values()), now)
    for seq, ticket_id in zip(built, ids, strict=True):
        by_seq[seq].ticket_id = ticket_id
    db.session.commit()
    echo(f"tickets: {len(ids):,} filed ({', '.join(f'{m} {n:,}' for m, n in months.items())}), "
         f"{len(steps) - len(later):,} steps written ({time.perf_counter() - started:.0f} s)")
    return later


def _play(steps: list[tuple], now: datetime, echo, started: float) -> int:
    """Play ratings, follow-up visits and what follows them through the services, in time order; return the calls."""
    rated = calls = 0
    for at, _, _, plan, step in steps:
        if step.action is _Extra.RATE:
            _rate(plan, step)
            rated += 1
        elif step.action is _Extra.VISIT:
            follow_up_id = db.session.execute(
                select(FollowUp.id)
                .where(FollowUp.ticket_id == plan.ticket_id, FollowUp.kind == FollowUpKind.LOW_RATING)
            ).scalar_one()
            follow_ups.record(follow_up_id, actor=step.actor, now=at, result=step.options["result"],
                              outcome=step.options["outcome"])
        else:
            ticket_service.transition(plan.ticket_id, step.action, actor=step.actor, now=at, **step.options)
        calls += 1
    echo(f"ratings: {rated:,}; {calls:,} service calls after them ({time.perf_counter() - started:.0f} s)")
    return calls


def _rate(plan: _Plan, step: _Step) -> None:
    """Give a planned rating: on the request's page, or through the "resolved" e-mail's link."""
    options = step.options
    if options["issued_at"] is None:
        feedback.give(plan.ticket_id, rating=options["rating"], comment=options["comment"], actor=step.actor,
                      now=step.at)
    else:
        token = feedback.link_token(plan.ticket_id, plan.requester.id, issued_at=options["issued_at"])
        feedback.give_by_link(token, rating=options["rating"], comment=options["comment"], now=step.at)


# ---------------------------------------------------------------- rectification items

# Days before an item is opened whose requests may belong to its cluster.
CLUSTER_WINDOW = timedelta(days=60)
CLUSTER_MAX = 8


@dataclass(frozen=True)
class _ItemSpec:
    """A rectification item's story, written out: opened ``ago`` days before now, due ``due`` days later.

    ``steps`` are (days after opening, action, who, text[, extra]): who is
    "resp" (the responsible person at that moment), "head", "dispatch",
    "tech" (of the item's centre), "leader" or "leader2"; extra is the
    progress percentage of an update, the days a reschedule adds, or who a
    reassignment hands the item to. A complaint cluster links the requests
    of its category at its place (location codes starting with ``place``;
    of several, the one with the most, named in the texts' ``{place}``)
    filed in the CLUSTER_WINDOW before it; a link step, those filed since.
    An item opened from the demo survey's responses on ``survey_topic`` is
    opened the day after the latest of them (``ago`` is not used).
    """

    centre: str
    source: ItemSource
    title: str
    description: str
    ago: float
    due: int
    steps: tuple[tuple, ...] = ()
    responsible: str = "dispatch"
    creator: str = "head"
    source_ref: str = ""
    category: str | None = None
    place: str | tuple[str, ...] | None = None
    priority: Priority = Priority.NORMAL
    survey_topic: str | None = None


Do = ItemAction
ITEMS: tuple[_ItemSpec, ...] = (
    _ItemSpec(
        "dorm", ItemSource.COMPLAINT_CLUSTER, "学生公寓3号楼晚间热水供应不足",
        "近一个月3号楼多间宿舍反映晚上10点后热水不热、水压低，报修集中在3至6层。需排查锅炉运行时间和循环泵，"
        "拿出长期解决办法。",
        ago=228, due=30, category="hot_water", place="main-d3", priority=Priority.HIGH,
        steps=(
            (1, Do.START, "resp", "已联系锅炉房，今晚安排夜间水温检测。"),
            (6, Do.UPDATE, "resp", "检测发现2号循环泵老化，出水压力不足，已申请更换。", 30),
            (15, Do.UPDATE, "resp", "新循环泵已安装，锅炉运行时间延长至23:30。", 70),
            (22, Do.SUBMIT, "resp", "更换循环泵，锅炉运行时间延长至23:30；连续一周夜间抽检3至6层水温均在45℃以上。"),
            (25, Do.VERIFY, "leader", "抽查3个楼层，晚间水温正常，同意销号。"),
        ),
    ),
    _ItemSpec(
        "business", ItemSource.COMPLAINT_CLUSTER, "{place}自动售货机频繁吞币、不出货",
        "{place}一楼售货机两周内多次报修：投币后不出货，扫码支付扣款后不出货。需督促供应商彻底检修，并建立退款渠道。",
        ago=205, due=14, category="vending", responsible="tech",
        place=("main-lib", "main-t1", "main-t2", "main-t3", "main-d1", "main-d2", "main-d4"),
        steps=(
            (2, Do.UPDATE, "resp", "已通知供应商上门检修，临时张贴退款联系电话。", 20),
            (10, Do.UPDATE, "resp", "供应商更换出货电机，纸币器需从厂家调货。", 50),
            (13, Do.COMMENT, "leader", "请在周例会上说明退款处理情况。"),
            (19, Do.SUBMIT, "resp", "更换出货电机和纸币器，开通扫码支付自动退款；连续五天无故障报修。"),
            (21, Do.VERIFY, "leader2", "现场测试投币和扫码购买均正常。逾期一周，请供应商书面说明原因。"),
        ),
    ),
    _ItemSpec(
        "catering", ItemSource.COMPLAINT_CLUSTER, "第一食堂午餐高峰刷卡机故障",
        "第一食堂一楼两台刷卡机在11:50至12:30高峰时段经常读不出卡，排队时间过长，学生投诉集中。",
        ago=186, due=21, category="card_readers", place="main-c1",
        steps=(
            (1, Do.START, "resp", "已安排技术员午餐时段现场值守。"),
            (6, Do.UPDATE, "resp", "更换了两台刷卡机的读卡模块。", 60),
            (11, Do.SUBMIT, "resp", "更换读卡模块，高峰时段增派一名收银员。"),
            (13, Do.REJECT, "leader", "午餐时段抽查仍有一台刷卡机反应缓慢，请查明网络原因后再提交。"),
            (19, Do.UPDATE, "resp", "查明交换机端口故障，已更换端口并重新布线。", 85),
            (23, Do.SUBMIT, "resp", "更换交换机端口并重新布线；连续一周高峰时段无读卡故障。"),
            (25, Do.VERIFY, "leader", "复查通过。"),
        ),
    ),
    _ItemSpec(
        "repairs", ItemSource.INSPECTION, "第二教学楼消防通道应急照明灯损坏",
        "消防安全检查发现第二教学楼2至4层消防通道共7盏应急照明灯不亮，须限期更换。",
        ago=171, due=10, category="lighting", place="main-t2", responsible="tech", priority=Priority.URGENT,
        source_ref="春季消防安全检查",
        steps=(
            (1, Do.START, "resp", "已统计损坏灯具型号，申领备件。"),
            (4, Do.UPDATE, "resp", "已更换5盏，剩余2盏等备件。", 70),
            (7, Do.SUBMIT, "resp", "7盏应急照明灯全部更换，逐一断电测试正常，检查记录已上传。"),
            (8, Do.VERIFY, "leader", "同意。"),
        ),
    ),
    _ItemSpec(
        "property", ItemSource.COMPLAINT_CLUSTER, "{place}电梯运行中异常停顿",
        "{place}电梯近期多次在3、4层之间短暂停顿，虽未困人，但师生担心安全。需联系维保单位全面检测。",
        ago=160, due=30, category="lifts", place=("main-t1", "main-admin", "main-lab", "main-lib"),
        responsible="tech", priority=Priority.HIGH,
        steps=(
            (1, Do.START, "resp", "已通知电梯维保单位上门检测。"),
            (5, Do.UPDATE, "resp", "维保单位判断为主控板故障，需要厂家供货。", 30),
            (9, Do.REASSIGN, "head", "涉及与厂家协调，改由调度员跟进。", "dispatch"),
            (24, Do.RESCHEDULE, "leader", "主控板厂家供货周期约三周，同意延期。", 21),
            (41, Do.UPDATE, "resp", "主控板已更换，等待特种设备检验机构复检。", 80),
            (46, Do.SUBMIT, "resp", "更换主控板，经特种设备检验机构复检合格，运行两周无异常。"),
            (48, Do.VERIFY, "leader", "复检报告已查看，同意销号。"),
        ),
    ),
    _ItemSpec(
        "general", ItemSource.MEETING, "会议室预约审核结果通知不及时",
        "周例会通报：会议室预约审核后没有及时通知申请人，多次出现临近开会才得知未获批准的情况。"
        "要求审核结果当天通知。",
        ago=150, due=30, category="meeting_rooms", creator="leader", source_ref="后勤工作周例会",
        steps=(
            (2, Do.START, "resp", "梳理预约审核流程，拟增加短信通知。"),
            (12, Do.UPDATE, "resp", "短信通知功能已上线试用。", 60),
            (20, Do.SUBMIT, "resp", "预约审核结果改为当天短信和系统消息双通知，试运行两周无投诉。"),
            (22, Do.VERIFY, "leader2", ""),
        ),
    ),
    _ItemSpec(
        "gardens", ItemSource.VISIT, "东区花园灌溉管网漏水",
        "走访中师生反映东区花园步道常年积水，经查为地下灌溉管网老化漏水。",
        ago=139, due=21, category="irrigation", place="east-garden", responsible="tech",
        steps=(
            (3, Do.START, "resp", "已关闭该区域灌溉阀门，开挖排查。"),
            (9, Do.UPDATE, "resp", "更换漏水管段约30米。", 70),
            (14, Do.SUBMIT, "resp", "更换老化管段，恢复灌溉，步道积水消失。"),
            (16, Do.VERIFY, "leader", "现场查看，已无积水。"),
        ),
    ),
    _ItemSpec(
        "finance", ItemSource.MEETING, "报销进度不透明，师生无法查询办理状态",
        "教职工座谈会上多名老师反映报销单据交上去以后不知道办到哪一步，只能反复打电话询问。"
        "要求提供进度查询，并公布办理时限。",
        ago=128, due=60, responsible="head", creator="leader", source_ref="教职工座谈会",
        steps=(
            (3, Do.START, "resp", "与信息中心商定在财务系统中增加进度查询。"),
            (20, Do.UPDATE, "resp", "进度查询页面开发完成，内部测试中。", 50),
            (40, Do.UPDATE, "resp", "各类报销的办理时限已在财务处网站公示。", 80),
            (54, Do.SUBMIT, "resp", "上线报销进度查询，公布办理时限（一般报销10个工作日）；试运行一个月，咨询电话减少约四成。"),
            (57, Do.VERIFY, "leader", "效果明显，同意。"),
        ),
    ),
    _ItemSpec(
        "projects", ItemSource.INSPECTION, "实验楼改造施工噪音影响教学",
        "巡查发现实验楼改造工程在上课时段进行切割作业，噪音影响相邻教室上课。要求调整施工时间并加装隔音围挡。",
        ago=118, due=14, category="site_impact", place="main-lab",
        steps=(
            (1, Do.START, "resp", "已约谈施工单位，要求上课时段停止高噪音作业。"),
            (8, Do.UPDATE, "resp", "隔音围挡材料已进场。", 40),
            (12, Do.COMMENT, "leader", "考试周临近，请务必按期完成。"),
            (24, Do.SUBMIT, "resp", "施工时间调整至课后和周末，加装隔音围挡；两周内未再接到噪音投诉。"),
            (27, Do.VERIFY, "leader", "逾期完成。请施工单位在后续工程中提前做好隔音措施。"),
        ),
    ),
    _ItemSpec(
        "business", ItemSource.COMPLAINT_CLUSTER, "校车末班时间与实验室下班时间不匹配",
        "多条意见反映东校区开往主校区的末班校车17:30发车，实验室老师和研究生18:00以后下班无车可乘。",
        ago=108, due=30, category="shuttle_timetable", place="east-stop-",
        steps=(
            (2, Do.START, "resp", "统计各时段乘车人数，征求各学院意见。"),
            (14, Do.UPDATE, "resp", "拟新增18:15班次，已报车队排班。", 60),
            (27, Do.SUBMIT, "resp", "工作日新增18:15东校区至主校区班次，时刻表已在网上预约平台更新。"),
            (29, Do.VERIFY, "leader2", ""),
        ),
    ),
    _ItemSpec(
        "dorm", ItemSource.VISIT, "东区公寓2号楼公共卫生间保洁频次不足",
        "宿舍走访时学生反映公共卫生间每周只保洁两次，异味较重。",
        ago=94, due=14, category="hygiene", place="east-d2",
        steps=(
            (1, Do.START, "resp", "与保洁公司沟通增加保洁频次。"),
            (6, Do.UPDATE, "resp", "保洁频次已调整为每天一次。", 70),
            (11, Do.SUBMIT, "resp", "公共卫生间改为每天保洁一次，并张贴保洁记录表，接受学生监督。"),
            (13, Do.VERIFY, "leader", ""),
        ),
    ),
    _ItemSpec(
        "general", ItemSource.INSPECTION, "校园宣传栏内容陈旧、玻璃破损",
        "巡查发现主干道两侧宣传栏多处玻璃破损，张贴的还是上学期的过期通知。",
        ago=84, due=30, category="publicity", place="main-avenue",
        steps=(
            (3, Do.START, "resp", "已清理过期内容。"),
            (10, Do.CANCEL, "leader", "主干道改造工程将整体拆除旧宣传栏，由项目管理中心统一新建，本事项取消。"),
        ),
    ),
    _ItemSpec(
        "catering", ItemSource.VISIT, "第二食堂12:30以后菜品温度偏低",
        "走访就餐学生时，多人反映第二食堂12:30以后菜品普遍偏凉，下课晚的学生吃不到热饭。",
        ago=72, due=45, category="food_quality", place="main-c2", responsible="head",
        steps=(
            (2, Do.START, "resp", "已要求各档口分批出餐。"),
            (9, Do.UPDATE, "resp", "保温售饭台已下单采购。", 40),
            (20, Do.SUBMIT, "resp", "各档口改为分批少量出餐，12:30以后由厨师长抽测菜品温度。"),
            (22, Do.REJECT, "leader", "保温售饭台尚未到位，仅靠分批出餐不能长期保证，请到位后再提交。"),
            (30, Do.UPDATE, "resp", "保温售饭台已安装使用。", 90),
            (34, Do.SUBMIT, "resp", "新装保温售饭台6组，配合分批出餐；抽测13:00菜品温度均在60℃以上。"),
            (37, Do.VERIFY, "leader", "同意销号。"),
        ),
    ),
    _ItemSpec(
        "property", ItemSource.INSPECTION, "行政楼地下车库照明不足、监控存在盲区",
        "安全检查发现行政楼地下车库东侧照明灯损坏较多，且有两处监控盲区。",
        ago=61, due=20, category="security", place="main-admin", priority=Priority.HIGH, source_ref="秋季安全大检查",
        steps=(
            (2, Do.START, "resp", "已更换损坏的照明灯具。"),
            (9, Do.UPDATE, "resp", "照明已恢复；新增摄像头已报采购。", 50),
            (28, Do.UPDATE, "resp", "摄像头供货延迟，供应商预计下月初到货。", 60),
            (35, Do.COMMENT, "leader", "已逾期，请在周例会上说明原因和完成时间。"),
        ),
    ),
    _ItemSpec(
        "repairs", ItemSource.COMPLAINT_CLUSTER, "{place}卫生间下水管道反复堵塞",
        "{place}多个宿舍卫生间一个月内反复报修下水堵塞，疏通后不久又堵，需查明主管道原因。",
        ago=50, due=21, category="water", place=("main-d5", "main-d2", "main-d4", "main-d6", "main-d1"),
        responsible="tech", priority=Priority.HIGH,
        steps=(
            (1, Do.START, "resp", "已用管道内窥镜检查立管。"),
            (6, Do.UPDATE, "resp", "发现3层立管弯头处沉积严重，计划周末停水改造。", 40),
            (9, Do.LINK, "resp", ""),
            (14, Do.UPDATE, "resp", "立管弯头已更换。", 85),
            (18, Do.SUBMIT, "resp", "更换3层立管弯头，全面疏通主管道；两周内无新的堵塞报修。"),
            (20, Do.VERIFY, "leader", ""),
        ),
    ),
    _ItemSpec(
        "dorm", ItemSource.COMPLAINT_CLUSTER, "东区公寓门禁卡频繁失效",
        "东区公寓近期多名学生反映门禁卡刷不开门，需要反复到宿管站重新写卡。",
        ago=43, due=14, category="keys_locks", place="east-d",
        steps=(
            (2, Do.START, "resp", "已联系门禁厂家排查。"),
            (8, Do.UPDATE, "resp", "厂家确认门禁控制器固件有缺陷，需要升级。", 50),
            (12, Do.SUBMIT, "resp", "东区各楼门禁控制器固件已升级。"),
            (14, Do.REJECT, "leader", "抽查东区3号楼仍有学生刷卡失败，请逐栋核实后再提交。"),
            (17, Do.UPDATE, "resp", "逐栋核查：3号楼两台读卡器老化，已更换。", 85),
            (20, Do.SUBMIT, "resp", "东区各楼门禁控制器固件已升级，3号楼更换两台读卡器，并为反映问题的学生统一补写门禁卡。"),
        ),
    ),
    _ItemSpec(
        "gardens", ItemSource.COMPLAINT_CLUSTER, "主干道行道树枯枝存在坠落隐患",
        "大风天气后主干道多处报告断枝，部分行道树有较大枯枝，存在砸伤行人和车辆的隐患。",
        ago=38, due=10, category="fallen_trees", place="main-", responsible="tech", priority=Priority.HIGH,
        steps=(
            (1, Do.START, "resp", "已拉设警示带，安排高空作业车。"),
            (4, Do.UPDATE, "resp", "主干道北段枯枝已修剪完毕。", 60),
            (7, Do.SUBMIT, "resp", "完成主干道全段行道树枯枝修剪，共清理枯枝约2吨。"),
            (8, Do.VERIFY, "leader2", ""),
        ),
    ),
    _ItemSpec(
        "projects", ItemSource.COMPLAINT_CLUSTER, "{place}新装窗户雨天渗水（保修期内）",
        "暑期改造更换的窗户在雨天多处渗水，属保修范围，需督促施工单位维修。",
        ago=33, due=30, category="defects", place=("main-t3", "main-t1", "main-t2", "east-t1"),
        steps=(
            (2, Do.START, "resp", "已书面通知施工单位履行保修义务。"),
            (12, Do.UPDATE, "resp", "施工单位已对2层窗户重新打胶。", 40),
            (24, Do.UPDATE, "resp", "3至5层窗户维修中，待下次降雨检验效果。", 65),
        ),
    ),
    _ItemSpec(
        "repairs", ItemSource.MEETING, "网络端口报修响应超时偏多",
        "周例会通报：上月网络端口类报修的30分钟响应达标率明显低于其他类别，要求分析原因并整改。",
        ago=22, due=30, category="network", responsible="head", creator="leader", source_ref="后勤工作周例会",
        steps=(
            (1, Do.START, "resp", "分析上月超时工单：主要集中在夜间和周末。"),
            (8, Do.UPDATE, "resp", "调整夜间值班安排，增加一名熟悉网络的值班技术员。", 50),
        ),
    ),
    _ItemSpec(
        "general", ItemSource.OTHER, "公文流转系统缺少操作指引",
        "新入职教职工反映公文流转系统没有操作说明，经常提交出错，需编写图文指引并组织培训。",
        ago=19, due=45, category="documents",
    ),
    _ItemSpec(
        "property", ItemSource.COMPLAINT_CLUSTER, "{place}卫生间保洁不及时",
        "近期多条报修反映{place}各层卫生间课间无人保洁，纸巾、洗手液经常用完没有补充。",
        ago=9, due=21, category="cleaning", place=("main-t1", "main-t2", "main-t3", "east-t1"),
    ),
    # From the autumn satisfaction survey (surveys.seed_demo): opened after it.
    _ItemSpec(
        "business", ItemSource.SURVEY, "根据问卷意见调整早晚校车发车时间",
        "秋季后勤满意度问卷中多名师生反映东门首班车7:50发车、晚间缺少17:45以后的班次，与上下班时间不匹配。",
        ago=0, due=30, survey_topic="Shuttle bus timetable",
        steps=(
            (1, Do.START, "resp", "统计早晚高峰乘车需求。"),
            (2, Do.UPDATE, "resp", "拟将首班车提前至7:30，正在征求各学院意见。", 30),
        ),
    ),
    _ItemSpec(
        "business", ItemSource.SURVEY, "自助洗衣机、售货机故障长期未修复",
        "问卷反映5号楼洗衣机刷卡后不启动、图书馆售货机坏了一个月没人修。",
        ago=0, due=14, survey_topic="Self-service machines", responsible="tech",
        steps=(
            (0.2, Do.START, "resp", "已通知设备供应商。"),
            (2, Do.SUBMIT, "resp", "5号楼洗衣机更换读卡器，图书馆售货机更换主板；建立每周巡检制度。"),
            (3, Do.VERIFY, "leader", "现场试用正常。"),
        ),
    ),
    _ItemSpec(
        "dorm", ItemSource.SURVEY, "学生公寓3号楼22点后无热水问题复发",
        "问卷中3号楼学生反映22点以后又没有热水了，晚上洗澡水是凉的。春季整改过的问题复发，需尽快处理。",
        ago=0, due=5, survey_topic="Hot water", category="hot_water", place="main-d3", priority=Priority.HIGH,
        steps=(
            (1, Do.START, "resp", "锅炉房排查中。"),
            (4, Do.UPDATE, "resp", "发现锅炉定时器被误调回22:00，已恢复；循环泵仍需检修。", 40),
            (9, Do.COMMENT, "leader", "已逾期，请尽快完成循环泵检修并报告。"),
        ),
    ),
    _ItemSpec(
        "catering", ItemSource.SURVEY, "第一食堂午间刷卡机故障（问卷反馈）",
        "问卷反映第一食堂刷卡机午饭时段又经常刷不上，需检查春季整改后的设备状况。",
        ago=0, due=20, survey_topic="Canteen service", category="card_readers", place="main-c1",
    ),
    _ItemSpec(
        "property", ItemSource.SURVEY, "教学楼电梯停顿问题复查",
        "问卷反映教学楼电梯仍有停在两层之间的情况，需联系维保单位复查。",
        ago=0, due=21, survey_topic="Lifts", responsible="tech",
        steps=(
            (1, Do.START, "resp", "已约维保单位复查。"),
            (6, Do.UPDATE, "resp", "复查发现平层感应器偏移，已校正。", 60),
            (12, Do.SUBMIT, "resp", "校正平层感应器并更换一处门机皮带，连续观察一周运行正常。"),
        ),
    ),
    _ItemSpec(
        "finance", ItemSource.SURVEY, "报销周期过长（问卷反馈）",
        "问卷反映报销仍需一个多月，办理中也没有人告知进度。",
        ago=0, due=40, survey_topic="Reimbursements", responsible="head",
        steps=((3, Do.COMMENT, "leader", "请结合上半年报销进度整改的效果一并分析。"),),
    ),
    _ItemSpec(
        "repairs", ItemSource.SURVEY, "行政楼报告厅空调冷凝水滴落座位",
        "问卷反映报告厅空调滴水到座位上，开会时只能空着几排座位。",
        ago=0, due=14, survey_topic="Air-conditioning", category="air_conditioning", place="main-admin-4-401",
        responsible="tech",
        steps=(
            (1, Do.START, "resp", "已到现场查看，冷凝水管保温层老化。"),
            (5, Do.UPDATE, "resp", "已更换冷凝水管保温层，待下周开会时验证效果。", 60),
        ),
    ),
)
del Do


@dataclass
class _ItemPlan:
    spec: _ItemSpec
    new: rectification.NewItem
    creator: User
    opened_at: datetime
    response_ids: list[int] = field(default_factory=list)
    # (when, action, who, details, days a reschedule adds)
    steps: list[tuple[datetime, ItemAction, User, rectification.Change, int]] = field(default_factory=list)
    item_id: int | None = None


def _open_items(world: "_Simulation", start: datetime) -> list[_ItemPlan]:
    """Plan the rectification items: those opened since ``start``, and those from the demo survey."""
    plans = []
    for spec in ITEMS:
        responses = []
        if spec.survey_topic is not None:
            centre_id = world.catalog.centres[spec.centre].id
            responses = list(db.session.execute(
                select(SurveyResponse.id, SurveyResponse.submitted_on)
                .where(SurveyResponse.survey == surveys.DEMO_SURVEY, SurveyResponse.centre_id == centre_id,
                       SurveyResponse.topic == spec.survey_topic,
                       SurveyResponse.rectification_item_id.is_(None))
                .order_by(SurveyResponse.id)
            ).all())
            if not responses:
                continue
            latest = max(submitted for _, submitted in responses)
            opened_at = world.shift(world._local(latest + timedelta(days=1), clock_time(8, 30)), "office")
        else:
            opened_at = world.shift(world.now - timedelta(days=spec.ago), "office")
            if opened_at < start:
                continue
        opened_at += world.minutes(5, 120)
        if opened_at >= world.now:
            continue
        plans.append(_plan_item(world, spec, opened_at, [r for r, _ in responses]))
    return plans


def _plan_item(world: "_Simulation", spec: _ItemSpec, opened_at: datetime,
               response_ids: list[int]) -> _ItemPlan:
    people, code = world.people, spec.centre
    who = {
        "head": people.heads[code],
        "dispatch": people.dispatchers[code],
        "tech": people.technicians[code][0],
        "leader": people.by_name["leader"],
        "leader2": people.by_name["leader2"],
    }
    category = world.catalog.categories[code, spec.category] if spec.category else None
    place, cluster = None, []
    if spec.place:
        candidates = (spec.place,) if isinstance(spec.place, str) else spec.place
        for candidate in candidates:
            found = _cluster(category, candidate, opened_at - CLUSTER_WINDOW, opened_at) if category else []
            if place is None or len(found) > len(cluster):
                place, cluster = candidate, found
        cluster = cluster[:CLUSTER_MAX]
    location = None
    if place is not None:
        location = db.session.execute(select(Location).where(Location.code == place)).scalar_one_or_none()
    name = location.name_zh if location is not None else ""
    responsible = who[spec.responsible]
    new = rectification.NewItem(
        centre_id=world.catalog.centres[code].id,
        title=spec.title.replace("{place}", name),
        description=spec.description.replace("{place}", name),
        responsible_id=responsible.id,
        due_on=reports.local_day(opened_at) + timedelta(days=spec.due),
        source=spec.source,
        source_ref=spec.source_ref,
        priority=spec.priority,
        ticket_ids=[ticket_id for ticket_id, _ in cluster],
        location_id=location.id if location is not None else None,
        category_id=category.id if category is not None else None,
    )
    plan = _ItemPlan(spec, new, who[spec.creator], opened_at, response_ids)
    at = opened_at
    for day, action, actor, text, *extra in spec.steps:
        at = max(world.shift(opened_at + timedelta(days=day), "office"), at + world.minutes(10, 90))
        change = rectification.Change(text=text)
        add_days = 0
        if action is ItemAction.UPDATE:
            change.percent = extra[0]
        elif action is ItemAction.RESCHEDULE:
            add_days = extra[0]
        elif action is ItemAction.REASSIGN:
            change.responsible_id = who[extra[0]].id
        elif action is ItemAction.VERIFY:
            # The written-out verdicts stand even where a request of the cluster is still open.
            change.verify_anyway = True
        elif action is ItemAction.LINK:
            linked = {ticket_id for ticket_id, _ in cluster}
            later = [ref for ticket_id, ref in _cluster(category, place, opened_at, at)
                     if ticket_id not in linked]
            if not later:
                continue
            change.references = later[:CLUSTER_MAX]
        plan.steps.append((at, action, responsible if actor == "resp" else who[actor], change, add_days))
        if action is ItemAction.REASSIGN:
            responsible = who[extra[0]]
    return plan


def _cluster(category: Category, place: str, since: datetime, until: datetime) -> list[tuple[int, str]]:
    """Return (id, reference) of the requests of ``category`` filed in the period, newest first.

    Only those at a place whose code starts with ``place``.
    """
    return list(db.session.execute(
        select(Ticket.id, Ticket.reference)
        .join(Location, Location.id == Ticket.location_id)
        .where(Ticket.category_id == category.id, Ticket.created_at >= since, Ticket.created_at < until,
               Ticket.status != Status.CANCELLED, Location.code.startswith(place, autoescape=True))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    ).all())


def _play_items(plans: list[_ItemPlan], now: datetime) -> int:
    """Open the items and play their steps up to ``now`` in time order; return the number of service calls."""
    steps = [(plan.opened_at, order, -1, plan, None) for order, plan in enumerate(plans)]
    steps += [(step[0], order, index, plan, step) for order, plan in enumerate(plans)
              for index, step in enumerate(plan.steps)]
    steps.sort(key=lambda item: item[:3])
    calls = 0
    for at, _, _, plan, step in steps:
        if at > now:
            continue
        if step is None:
            if plan.response_ids:
                item = surveys.create_item(plan.response_ids, plan.new, actor=plan.creator, now=at)
            else:
                item = rectification.create_item(plan.new, actor=plan.creator, now=at)
            plan.item_id = item.id
        else:
            _, action, actor, change, add_days = step
            if action is ItemAction.RESCHEDULE:
                item = db.session.get(RectificationItem, plan.item_id)
                # Leadership moves the deadline later, never into the past.
                change.due_on = max(item.due_on + timedelta(days=add_days),
                                    reports.local_day(at) + timedelta(days=1))
            rectification.transition(plan.item_id, action, actor=actor, now=at, change=change)
        calls += 1
    return calls


def _count_follow_through(result: SeedResult, now: datetime) -> None:
    """Count the ratings, follow-ups and rectification items into ``result``."""
    result.ratings = dict(db.session.execute(
        select(Feedback.rating, func.count()).group_by(Feedback.rating)
    ).all())
    is_open = FollowUp.status == FollowUpStatus.OPEN
    counts = db.session.execute(
        select(func.count(), func.sum(case((is_open, 1), else_=0)),
               func.sum(case((is_open & (FollowUp.due_at < now), 1), else_=0)))
    ).one()
    result.follow_ups, result.follow_ups_open, result.follow_ups_overdue = (int(n or 0) for n in counts)
    result.items = dict(db.session.execute(
        select(RectificationItem.status, func.count()).group_by(RectificationItem.status)
    ).all())
    result.items_overdue = db.session.scalar(
        select(func.count())
        .where(RectificationItem.status.in_(list(ACTIVE_STATUSES)), RectificationItem.due_at <= now)
    )
    result.items_linked = db.session.scalar(select(func.count(RectificationItemTicket.item_id.distinct())))


def _echo_summary(result: SeedResult, catalog: _Catalog, echo) -> None:
    echo(
        f"done in {result.seconds:.0f} s: {result.tickets:,} tickets, {result.events:,} events, "
        f"{result.users} users, {result.locations} locations"
    )
    echo("tickets by status: " + ", ".join(f"{s} {result.statuses.get(s, 0):,}" for s in Status))
    rated = sum(result.ratings.values())
    average = sum(r * n for r, n in result.ratings.items()) / rated if rated else 0
    echo(f"ratings: {rated:,} (average {average:.2f}; "
         + ", ".join(f"{r}: {result.ratings.get(r, 0):,}" for r in (5, 4, 3, 2, 1))
         + f"); follow-ups of low ratings: {result.follow_ups} ({result.follow_ups_open} open, "
         f"{result.follow_ups_overdue} of them overdue)")
    echo(f"rectification items: {sum(result.items.values())} ("
         + ", ".join(f"{s} {result.items.get(s, 0)}" for s in ItemStatus)
         + f"; {result.items_overdue} overdue, {result.items_linked} linked to requests)")
    echo("")
    echo("Demo logins (one password for every demo user):")
    echo_logins(result.showcase, echo)
    echo(f"  Every centre also has tech.<centre>, dispatch.<centre> and head.<centre>; "
         f"centres: {', '.join(catalog.centres)}.")
    echo(f"Password: {result.password}")
    echo("It is shown only now and stored only as a hash.")
