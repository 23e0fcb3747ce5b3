"""Which technician should take a request: the centre's technicians ranked, the best one marked.

The rule, shared by the assign list and automatic dispatch: among the
technicians **on duty** now who have the **skill** (the request's category
among theirs; a technician with no skills listed takes any category of
their centre), the one with the **least load** (open requests), then the
one whose last automatic dispatch is **longest ago** (round robin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, case, exists, func, or_, select

from tracker.domain.roles import Role
from tracker.domain.workflow import OPEN_STATUSES, Status
from tracker.extensions import db
from tracker.models import (
    Category,
    DispatchTurn,
    Location,
    Shift,
    ShiftKind,
    TechnicianSkill,
    Ticket,
    User,
    UserRole,
)

_NEVER = datetime.min


@dataclass
class Candidate:
    user: Person
    duty: ShiftKind | None  # the shift running now, if any
    skills: list[Category] = field(default_factory=list)  # empty: any category of the centre
    open_count: int = 0
    on_site: int = 0
    last_area: Location | None = None
    last_dispatched_at: datetime | None = None
    is_best: bool = False

    def has_skill(self, category_id: int | None) -> bool:
        return category_id is None or not self.skills or any(c.id == category_id for c in self.skills)


def skills_by_user(user_ids) -> dict[int, list[Category]]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(TechnicianSkill.user_id, Category)
        .join(Category, Category.id == TechnicianSkill.category_id)
        .where(TechnicianSkill.user_id.in_(ids))
        .order_by(Category.sort_order, Category.id)
    ).all()
    found: dict[int, list[Category]] = {}
    for user_id, category in rows:
        found.setdefault(user_id, []).append(category)
    return found


@dataclass(frozen=True)
class Person:
    """A technician as the ranking needs them: plain values, no ORM object (filing is the hot path)."""

    id: int
    display_name: str


def _technicians(centre_id: int, now: datetime) -> list[tuple[Person, ShiftKind | None, datetime | None]]:
    """Return the centre's active technicians by name, each with the kind of their shift now and their last turn.

    One query: one person never has two shifts at once (roster refuses overlaps).
    """
    shift = (
        select(Shift.user_id, Shift.kind)
        .where(Shift.centre_id == centre_id, Shift.starts_at <= now, Shift.ends_at > now)
        .subquery()
    )
    rows = db.session.execute(
        select(User.id, User.display_name, shift.c.kind, DispatchTurn.last_dispatched_at)
        .join(UserRole, UserRole.user_id == User.id)
        .outerjoin(shift, shift.c.user_id == User.id)
        .outerjoin(DispatchTurn, DispatchTurn.user_id == User.id)
        .where(UserRole.role == Role.TECHNICIAN, UserRole.centre_id == centre_id, User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    ).all()
    seen, found = set(), []
    for user_id, name, kind, turn in rows:
        if user_id not in seen:
            seen.add(user_id)
            found.append((Person(user_id, name), ShiftKind(kind) if kind else None, turn))
    return found


def _loads(ids: list[int]) -> dict[int, tuple[int, int]]:
    rows = db.session.execute(
        select(
            Ticket.assignee_id,
            func.count(),
            func.sum(case((Ticket.status == Status.IN_PROGRESS, 1), else_=0)),
        )
        .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id)
    ).all()
    return {user_id: (count, on_site or 0) for user_id, count, on_site in rows}


def _last_areas(ids: list[int]) -> dict[int, Location]:
    """Return each technician's place of their latest request that names one (one query for the latest ids)."""
    latest = db.session.execute(
        select(Ticket.assignee_id, func.max(Ticket.id))
        .where(Ticket.assignee_id.in_(ids), Ticket.location_id.is_not(None))
        .group_by(Ticket.assignee_id)
    ).all()
    if not latest:
        return {}
    rows = db.session.execute(
        select(Ticket.assignee_id, Location)
        .join(Location, Location.id == Ticket.location_id)
        .where(Ticket.id.in_([ticket_id for _, ticket_id in latest]))
    ).all()
    return dict(rows)


def candidates(
    centre_id: int, category_id: int | None, now: datetime, *, with_areas: bool = True
) -> list[Candidate]:
    """Return the centre's active technicians: on duty first, then on call, then the rest; the best marked.

    Within each group: those with the skill first, then by load, then by name.
    """
    people = _technicians(centre_id, now)
    if not people:
        return []
    ids = [person.id for person, _, _ in people]
    skills = skills_by_user(ids)
    loads = _loads(ids)
    areas = _last_areas(ids) if with_areas else {}
    found = [
        Candidate(
            user=person,
            duty=kind,
            skills=skills.get(person.id, []),
            open_count=loads.get(person.id, (0, 0))[0],
            on_site=loads.get(person.id, (0, 0))[1],
            last_area=areas.get(person.id),
            last_dispatched_at=turn,
        )
        for person, kind, turn in people
    ]
    best = pick_best(found, category_id)
    if best is not None:
        best.is_best = True
    group = {ShiftKind.ON_DUTY: 0, ShiftKind.ON_CALL: 1, None: 2}
    found.sort(
        key=lambda c: (
            group[c.duty],
            not c.has_skill(category_id),
            c.open_count,
            c.user.display_name,
            c.user.id,
        )
    )
    return found


def fitting_now(centre_id: int, category_id: int, now: datetime) -> list[Candidate]:
    """Return the technicians automatic dispatch may choose, best first (``ranked``).

    The same rule and order as ``candidates`` + ``ranked``, in one statement
    of plain values for the filing path: only the centre's active
    technicians on duty now with the skill, each with their open requests
    and last turn (None: no turn row).
    """
    rows = db.session.execute(_FITTING, {"centre_id": centre_id, "category_id": category_id, "now": now}).all()
    seen, found = set(), []
    for user_id, name, turn, count in rows:
        if user_id not in seen:  # one shift at a time (roster refuses overlaps): no repeats, but be sure
            seen.add(user_id)
            found.append(Candidate(user=Person(user_id, name), duty=ShiftKind.ON_DUTY,
                                   open_count=count, last_dispatched_at=turn))
    return ranked(found, category_id)


def _fitting_statement():
    open_count = (
        select(func.count())
        .where(Ticket.assignee_id == User.id, Ticket.status.in_(OPEN_STATUSES))
        .correlate(User)
        .scalar_subquery()
    )
    has_skills = exists().where(TechnicianSkill.user_id == User.id)
    has_this = exists().where(
        TechnicianSkill.user_id == User.id, TechnicianSkill.category_id == bindparam("category_id")
    )
    now = bindparam("now", type_=Shift.starts_at.type)
    return (
        select(User.id, User.display_name, DispatchTurn.last_dispatched_at, open_count)
        .join(UserRole, UserRole.user_id == User.id)
        .join(
            Shift,
            and_(
                Shift.user_id == User.id,
                Shift.centre_id == bindparam("centre_id"),
                Shift.kind == ShiftKind.ON_DUTY,
                Shift.starts_at <= now,
                Shift.ends_at > now,
            ),
        )
        .outerjoin(DispatchTurn, DispatchTurn.user_id == User.id)
        .where(
            UserRole.role == Role.TECHNICIAN,
            UserRole.centre_id == bindparam("centre_id"),
            User.is_active.is_(True),
            or_(~has_skills, has_this),
        )
    )


# Built once: filing is the hot path.
_FITTING = _fitting_statement()


def ranked(found: list[Candidate], category_id: int | None) -> list[Candidate]:
    """Return the technicians on duty with the skill for ``category_id``, best first (least load, round robin)."""

    def turn(c: Candidate):
        at = c.last_dispatched_at
        return at.replace(tzinfo=None) if at is not None else _NEVER

    fitting = [c for c in found if c.duty is ShiftKind.ON_DUTY and c.has_skill(category_id)]
    return sorted(fitting, key=lambda c: (c.open_count, turn(c), c.user.id))


def pick_best(found: list[Candidate], category_id: int | None) -> Candidate | None:
    """Return the best technician on duty for ``category_id`` (skill, least load, round robin), or None."""
    fitting = ranked(found, category_id)
    return fitting[0] if fitting else None
