"""Administration of service centres, their categories and campus places.

It also reads the business calendars and SLA policies for their pages;
``tracker.services.sla.config`` changes them.

Every public function that changes data is one transaction: it checks
everything first, changes rows and commits; on a refusal nothing is written.
Nothing is ever deleted: rows are deactivated (``is_active``) so that tickets
filed against them keep their history. ``actor`` None is the command line.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tracker.domain.i18n import N_
from tracker.domain.workflow import Priority
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Calendar,
    CalendarVersion,
    Category,
    Centre,
    Location,
    LocationKind,
    SlaPolicy,
    SlaPolicyVersion,
    Ticket,
    User,
)
from tracker.services.audit import require_admin as _require_admin

# Codes appear in addresses and QR links: lower-case ASCII, no spaces.
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
REF_PREFIX_RE = re.compile(r"^[A-Z]{2,4}$")
CENTRE_CODE_MAX = 32
CATEGORY_CODE_MAX = 48
LOCATION_CODE_MAX = 64
CENTRE_NAME_MAX = 120
CATEGORY_NAME_MAX = 120
LOCATION_NAME_MAX = 160
DESCRIPTION_MAX = 2000

# The default of an optional change to ``update_*``: leave the value as it is.
UNCHANGED = object()


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Overview:
    users: int
    active_users: int
    centres: int
    active_centres: int
    categories: int
    active_categories: int
    locations: int
    active_locations: int
    calendars: int
    active_calendars: int
    policies: int
    active_policies: int


def overview() -> Overview:
    """Return how many users, centres, categories and places exist (and are active)."""

    def counts(model) -> tuple[int, int]:
        total, active = db.session.execute(
            select(func.count(model.id), func.count(model.id).filter(model.is_active.is_(True)))
        ).one()
        return total, active

    users, centres, categories, locations, calendars, policies = (
        counts(m) for m in (User, Centre, Category, Location, Calendar, SlaPolicy)
    )
    return Overview(
        users=users[0],
        active_users=users[1],
        centres=centres[0],
        active_centres=centres[1],
        categories=categories[0],
        active_categories=categories[1],
        locations=locations[0],
        active_locations=locations[1],
        calendars=calendars[0],
        active_calendars=calendars[1],
        policies=policies[0],
        active_policies=policies[1],
    )


def all_centres() -> list[Centre]:
    """Return every centre, active ones first, in display order."""
    return list(
        db.session.execute(
            select(Centre).order_by(Centre.is_active.desc(), Centre.sort_order, Centre.id)
        ).scalars()
    )


def get_centre(centre_id: int) -> Centre:
    """Return the centre; raises NotFound."""
    centre = db.session.get(Centre, centre_id)
    if centre is None:
        raise NotFound(N_("No such service centre."))
    return centre


def all_categories(centre_id: int | None = None) -> list[Category]:
    """Return the categories (of one centre when given), by centre then display order."""
    query = select(Category).join(Category.centre)
    if centre_id is not None:
        query = query.where(Category.centre_id == centre_id)
    return list(
        db.session.execute(
            query.order_by(Centre.sort_order, Centre.id, Category.sort_order, Category.id)
        ).scalars()
    )


def get_category(category_id: int) -> Category:
    """Return the category; raises NotFound."""
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFound(N_("No such category."))
    return category


def location_tree() -> list[tuple[Location, int]]:
    """Return every place depth-first from the campuses, each with its depth.

    Children come in code order. A row whose parent chain is broken (which the
    services prevent) is still listed, at depth 0, so nothing hides from admins.
    """
    rows = list(db.session.execute(select(Location).order_by(Location.code, Location.id)).scalars())
    ids = {row.id for row in rows}
    children: dict[int | None, list[Location]] = {}
    for row in rows:
        parent = row.parent_id if row.parent_id in ids else None
        children.setdefault(parent, []).append(row)
    result: list[tuple[Location, int]] = []
    seen: set[int] = set()

    def walk(parent_id: int | None, depth: int) -> None:
        for row in children.get(parent_id, []):
            if row.id in seen:
                continue
            seen.add(row.id)
            result.append((row, depth))
            walk(row.id, depth + 1)

    walk(None, 0)
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            result.append((row, 0))
            walk(row.id, 1)
    return result


def get_location(location_id: int) -> Location:
    """Return the place; raises NotFound."""
    location = db.session.get(Location, location_id)
    if location is None:
        raise NotFound(N_("No such place."))
    return location


def descendant_ids(location_id: int) -> set[int]:
    """Return the ids of every place below ``location_id`` (not itself)."""
    found: set[int] = set()
    frontier = {location_id}
    while frontier:
        below = set(db.session.execute(select(Location.id).where(Location.parent_id.in_(frontier))).scalars())
        frontier = below - found - {location_id}
        found |= frontier
    return found


def all_calendars() -> list[Calendar]:
    """Return every business calendar, active ones first, by code."""
    return list(
        db.session.execute(select(Calendar).order_by(Calendar.is_active.desc(), Calendar.code)).scalars()
    )


def get_calendar(calendar_id: int) -> Calendar:
    """Return the calendar; raises NotFound."""
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        raise NotFound(N_("No such calendar."))
    return calendar


def calendar_versions(calendar_id: int) -> list[CalendarVersion]:
    """Return the versions of a calendar, newest first."""
    return list(
        db.session.execute(
            select(CalendarVersion)
            .where(CalendarVersion.calendar_id == calendar_id)
            .order_by(CalendarVersion.number.desc())
        ).scalars()
    )


def get_calendar_version(calendar_id: int, number: int) -> CalendarVersion:
    """Return version ``number`` of a calendar; raises NotFound."""
    version = db.session.execute(
        select(CalendarVersion).where(CalendarVersion.calendar_id == calendar_id, CalendarVersion.number == number)
    ).scalar_one_or_none()
    if version is None:
        raise NotFound(N_("No such version."))
    return version


def all_policies() -> list[SlaPolicy]:
    """Return every SLA policy, active ones first, by code."""
    return list(
        db.session.execute(select(SlaPolicy).order_by(SlaPolicy.is_active.desc(), SlaPolicy.code)).scalars()
    )


def get_policy(policy_id: int) -> SlaPolicy:
    """Return the SLA policy; raises NotFound."""
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(N_("No such SLA policy."))
    return policy


def policy_versions(policy_id: int) -> list[SlaPolicyVersion]:
    """Return the versions of a policy, newest first."""
    return list(
        db.session.execute(
            select(SlaPolicyVersion)
            .where(SlaPolicyVersion.policy_id == policy_id)
            .order_by(SlaPolicyVersion.number.desc())
        ).scalars()
    )


def get_policy_version(policy_id: int, number: int) -> SlaPolicyVersion:
    """Return version ``number`` of a policy; raises NotFound."""
    version = db.session.execute(
        select(SlaPolicyVersion).where(SlaPolicyVersion.policy_id == policy_id, SlaPolicyVersion.number == number)
    ).scalar_one_or_none()
    if version is None:
        raise NotFound(N_("No such version."))
    return version


def categories_by_policy() -> dict[int, list[Category]]:
    """Return the categories of each policy id, by centre then display order."""
    result: dict[int, list[Category]] = {}
    for category in all_categories():
        if category.sla_policy_id is not None:
            result.setdefault(category.sla_policy_id, []).append(category)
    return result


def policies_by_calendar() -> dict[str, list[SlaPolicy]]:
    """Return, per calendar code, the policies whose current version has a target on it."""
    result: dict[str, list[SlaPolicy]] = {}
    for policy in all_policies():
        version = policy.current_version
        targets = (version.definition.get("targets") or {}) if version else {}
        codes = {rule.get("calendar") for rule in targets.values()}
        for code in sorted(c for c in codes if c):
            result.setdefault(code, []).append(policy)
    return result


def users_by_id(ids) -> dict[int, User]:
    """Return the users with these ids (unknown and None ids are left out)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {user.id: user for user in db.session.execute(select(User).where(User.id.in_(wanted))).scalars()}


# ---------------------------------------------------------------- centres


def create_centre(
    *,
    code: str,
    name_en: str,
    name_zh: str,
    ref_prefix: str,
    description_zh: str = "",
    description_en: str = "",
    sort_order: int = 0,
    actor: User | None,
    now: datetime,
) -> Centre:
    """Create an active service centre and commit.

    Raises ValidationFailed for a malformed or taken code or reference
    prefix, or a missing name.
    """
    _require_admin(actor)
    code = _code(code, CENTRE_CODE_MAX)
    if _exists(select(Centre.id).where(func.lower(Centre.code) == code)):
        raise ValidationFailed(N_("The code %(code)s is taken by another service centre."), code=code)
    prefix = _ref_prefix(ref_prefix, centre_id=None)
    name_en, name_zh = _names(name_en, name_zh, CENTRE_NAME_MAX)
    centre = Centre(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        ref_prefix=prefix,
        description_zh=_description(description_zh),
        description_en=_description(description_en),
        sort_order=_sort_order(sort_order),
        is_active=True,
        created_at=now,
    )
    db.session.add(centre)
    _commit()
    return centre


def update_centre(
    centre_id: int,
    *,
    name_en: str,
    name_zh: str,
    ref_prefix: str,
    description_zh: str,
    description_en: str,
    sort_order: int,
    is_active: bool,
    actor: User | None,
    now: datetime,
) -> Centre:
    """Change a centre's names, reference prefix, order or active flag; commit.

    The code stays: it is in printed request links. A new prefix applies to
    requests filed from now on. Raises NotFound, ValidationFailed.
    """
    _require_admin(actor)
    centre = get_centre(centre_id)
    prefix = _ref_prefix(ref_prefix, centre_id=centre.id)
    name_en, name_zh = _names(name_en, name_zh, CENTRE_NAME_MAX)
    description_zh, description_en = _description(description_zh), _description(description_en)
    sort_order = _sort_order(sort_order)
    centre.name_en, centre.name_zh = name_en, name_zh
    centre.ref_prefix = prefix
    centre.description_zh, centre.description_en = description_zh, description_en
    centre.sort_order = sort_order
    centre.is_active = bool(is_active)
    _commit()
    return centre


def _ref_prefix(value: str, *, centre_id: int | None) -> str:
    prefix = (value or "").strip()
    if not REF_PREFIX_RE.match(prefix):
        raise ValidationFailed(N_("A reference prefix is 2 to 4 capital letters A–Z, e.g. RP."))
    others = select(Centre.id).where(Centre.ref_prefix == prefix)
    if centre_id is not None:
        others = others.where(Centre.id != centre_id)
    if _exists(others):
        raise ValidationFailed(
            N_("The reference prefix %(prefix)s is used by another service centre."), prefix=prefix
        )
    # A prefix another centre used before would make old and new references
    # look alike: RP-2026-000123 must always name one centre.
    used = select(Ticket.id).where(Ticket.reference.like(f"{prefix}-%"))
    if centre_id is not None:
        used = used.where(Ticket.centre_id != centre_id)
    if _exists(used):
        raise ValidationFailed(
            N_("The reference prefix %(prefix)s was used by another service centre's requests."),
            prefix=prefix,
        )
    return prefix


# ---------------------------------------------------------------- categories


def create_category(
    *,
    centre_id: int,
    code: str,
    name_en: str,
    name_zh: str,
    default_priority: Priority | str = Priority.NORMAL,
    sort_order: int = 0,
    sla_policy_id: int | None = None,
    is_chargeable: bool = False,
    actor: User | None,
    now: datetime,
) -> Category:
    """Create an active category of a centre and commit.

    ``sla_policy_id`` None: its requests run without an SLA. Raises
    ValidationFailed for an unknown centre, a malformed code or one the
    centre already has, a missing name, an unknown priority or policy.
    """
    _require_admin(actor)
    centre = db.session.get(Centre, centre_id) if centre_id is not None else None
    if centre is None:
        raise ValidationFailed(N_("Choose the service centre of the category."))
    code = _category_code(code, centre_id=centre.id, category_id=None)
    name_en, name_zh = _names(name_en, name_zh, CATEGORY_NAME_MAX)
    category = Category(
        centre_id=centre.id,
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        default_priority=_priority(default_priority),
        sort_order=_sort_order(sort_order),
        sla_policy_id=_policy_id(sla_policy_id),
        is_active=True,
        is_chargeable=bool(is_chargeable),
    )
    db.session.add(category)
    _commit()
    return category


def update_category(
    category_id: int,
    *,
    code: str,
    name_en: str,
    name_zh: str,
    default_priority: Priority | str,
    sort_order: int,
    is_active: bool,
    sla_policy_id=UNCHANGED,
    is_chargeable=UNCHANGED,
    actor: User | None,
    now: datetime,
) -> Category:
    """Change a category (not its centre: its tickets stay with it); commit.

    ``sla_policy_id`` (None: no SLA) applies to requests filed from now on;
    those filed before keep the policy version they run under. Raises
    NotFound, ValidationFailed.
    """
    _require_admin(actor)
    category = get_category(category_id)
    code = _category_code(code, centre_id=category.centre_id, category_id=category.id)
    name_en, name_zh = _names(name_en, name_zh, CATEGORY_NAME_MAX)
    priority = _priority(default_priority)
    sort_order = _sort_order(sort_order)
    policy_id = category.sla_policy_id if sla_policy_id is UNCHANGED else _policy_id(sla_policy_id)
    category.code = code
    category.name_en, category.name_zh = name_en, name_zh
    category.default_priority = priority
    category.sort_order = sort_order
    category.sla_policy_id = policy_id
    category.is_active = bool(is_active)
    if is_chargeable is not UNCHANGED:
        # Paid repairs (docs/materials.md): requests filed or quoted from now on.
        category.is_chargeable = bool(is_chargeable)
    _commit()
    return category


def _category_code(value: str, *, centre_id: int, category_id: int | None) -> str:
    code = _code(value, CATEGORY_CODE_MAX)
    others = select(Category.id).where(Category.centre_id == centre_id, func.lower(Category.code) == code)
    if category_id is not None:
        others = others.where(Category.id != category_id)
    if _exists(others):
        raise ValidationFailed(N_("This service centre already has a category %(code)s."), code=code)
    return code


def _policy_id(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        policy = db.session.get(SlaPolicy, int(value))
    except (TypeError, ValueError):
        policy = None
    if policy is None:
        raise ValidationFailed(N_("Choose an SLA policy from the list."))
    return policy.id


def _priority(value) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise ValidationFailed(N_("Choose a priority from the list.")) from None


# ---------------------------------------------------------------- locations


def create_location(
    *,
    kind: str,
    code: str,
    name_en: str,
    name_zh: str,
    parent_id: int | None = None,
    centre_id: int | None = None,
    category_id: int | None = None,
    is_chargeable: bool = False,
    actor: User | None,
    now: datetime,
) -> Location:
    """Create an active place and commit.

    ``centre_id``/``category_id`` pre-fill requests filed from the place's QR
    code; a category alone implies its centre. Raises ValidationFailed for an
    unknown kind, a malformed or taken code, a missing name, an unknown or
    inactive parent, or a category of another centre.
    """
    _require_admin(actor)
    kind = _kind(kind)
    code = _location_code(code, location_id=None)
    name_en, name_zh = _names(name_en, name_zh, LOCATION_NAME_MAX)
    parent = _parent(parent_id, location_id=None, is_active=True)
    centre_id, category_id = _prefill(centre_id, category_id)
    location = Location(
        kind=kind,
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        parent_id=parent.id if parent else None,
        centre_id=centre_id,
        category_id=category_id,
        is_active=True,
        is_chargeable=bool(is_chargeable),
    )
    db.session.add(location)
    _commit()
    return location


def update_location(
    location_id: int,
    *,
    kind: str,
    code: str,
    name_en: str,
    name_zh: str,
    parent_id: int | None,
    centre_id: int | None,
    category_id: int | None,
    is_active: bool,
    is_chargeable=UNCHANGED,
    actor: User | None,
    now: datetime,
) -> Location:
    """Change a place, move it under another parent, or (de)activate it; commit.

    Raises NotFound; ValidationFailed as ``create_location``, and for a move
    under itself or one of its own places (a cycle), an active place under an
    inactive parent, or deactivating a place that still has active places.
    """
    _require_admin(actor)
    location = get_location(location_id)
    kind = _kind(kind)
    code = _location_code(code, location_id=location.id)
    name_en, name_zh = _names(name_en, name_zh, LOCATION_NAME_MAX)
    is_active = bool(is_active)
    parent = _parent(parent_id, location_id=location.id, is_active=is_active)
    centre_id, category_id = _prefill(centre_id, category_id)
    if not is_active and location.is_active:
        active_children = db.session.execute(
            select(func.count(Location.id)).where(
                Location.parent_id == location.id, Location.is_active.is_(True)
            )
        ).scalar_one()
        if active_children:
            raise ValidationFailed(
                N_("%(count)d active places are inside this one: deactivate or move them first."),
                count=active_children,
            )
    location.kind = kind
    location.code = code
    location.name_en, location.name_zh = name_en, name_zh
    location.parent_id = parent.id if parent else None
    location.centre_id = centre_id
    location.category_id = category_id
    location.is_active = is_active
    if is_chargeable is not UNCHANGED:
        location.is_chargeable = bool(is_chargeable)
    _commit()
    return location


def _kind(value: str) -> str:
    kind = (value or "").strip()
    if kind not in LocationKind.ALL:
        raise ValidationFailed(N_("Choose the kind of place from the list."))
    return kind


def _location_code(value: str, *, location_id: int | None) -> str:
    code = _code(value, LOCATION_CODE_MAX)
    others = select(Location.id).where(func.lower(Location.code) == code)
    if location_id is not None:
        others = others.where(Location.id != location_id)
    if _exists(others):
        raise ValidationFailed(N_("The code %(code)s is taken by another place."), code=code)
    return code


def _parent(parent_id: int | None, *, location_id: int | None, is_active: bool) -> Location | None:
    if parent_id in (None, ""):
        return None
    parent = db.session.get(Location, int(parent_id))
    if parent is None:
        raise ValidationFailed(N_("The parent place does not exist."))
    if location_id is not None:
        # Walk up from the new parent: meeting the place itself means a cycle.
        node, seen = parent, set()
        while node is not None and node.id not in seen:
            if node.id == location_id:
                raise ValidationFailed(N_("A place cannot be inside itself or inside one of its own places."))
            seen.add(node.id)
            node = db.session.get(Location, node.parent_id) if node.parent_id is not None else None
    if is_active and not parent.is_active:
        raise ValidationFailed(N_("The parent place is inactive: activate it first or choose another."))
    return parent


def _prefill(centre_id: int | None, category_id: int | None) -> tuple[int | None, int | None]:
    centre = None
    if centre_id not in (None, ""):
        centre = db.session.get(Centre, int(centre_id))
        if centre is None:
            raise ValidationFailed(N_("Choose a service centre from the list."))
    if category_id in (None, ""):
        return (centre.id if centre else None), None
    category = db.session.get(Category, int(category_id))
    if category is None:
        raise ValidationFailed(N_("Choose a category from the list."))
    if centre is not None and category.centre_id != centre.id:
        raise ValidationFailed(N_("The category belongs to another service centre."))
    return category.centre_id, category.id


# ---------------------------------------------------------------- shared


def _exists(query) -> bool:
    return db.session.execute(query.limit(1)).first() is not None


def _code(value: str, max_length: int) -> str:
    code = (value or "").strip().lower()
    if not code or len(code) > max_length or not CODE_RE.match(code):
        raise ValidationFailed(
            N_("A code has up to %(max)d lower-case letters a–z, digits, dots, dashes or underscores."),
            max=max_length,
        )
    return code


def _names(name_en: str, name_zh: str, max_length: int) -> tuple[str, str]:
    # One language is enough: readers of the other fall back to it (Bilingual.text_for).
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en and not name_zh:
        raise ValidationFailed(N_("Give the name in Chinese, in English or in both."))
    if len(name_en) > max_length or len(name_zh) > max_length:
        raise ValidationFailed(N_("A name has at most %(max)d characters."), max=max_length)
    return name_en, name_zh


def _description(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(N_("The description is longer than %(max)d characters."), max=DESCRIPTION_MAX)
    return text


def _sort_order(value) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        raise ValidationFailed(N_("The display order is a whole number.")) from None
    if not -100000 <= number <= 100000:
        raise ValidationFailed(N_("The display order is a whole number."))
    return number


def _commit() -> None:
    # The checks above read first; a concurrent admin may still take the same
    # code between the read and the write: the unique constraint answers.
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed(
            N_("Someone else saved the same code or prefix at the same moment; nothing was saved.")
        ) from None
