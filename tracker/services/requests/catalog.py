"""Read access to centres, categories and locations for forms and pages."""

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Category, Centre, Location, LocationKind


def active_centres() -> list[Centre]:
    """Return the active centres in display order."""
    return list(
        db.session.execute(
            select(Centre).where(Centre.is_active.is_(True)).order_by(Centre.sort_order, Centre.id)
        ).scalars()
    )


def centre_by_code(code: str) -> Centre | None:
    return db.session.execute(select(Centre).where(Centre.code == code)).scalar_one_or_none()


def active_categories(centre_id: int) -> list[Category]:
    return list(
        db.session.execute(
            select(Category)
            .where(Category.centre_id == centre_id, Category.is_active.is_(True))
            .order_by(Category.sort_order, Category.id)
        ).scalars()
    )


def location_choices(locale: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """Return selectable places grouped by building: [(group label, [(id, label)])].

    Campuses and buildings group; rooms, floors, areas and machines are chosen,
    and a building itself can be chosen too (outside, whole building).
    """
    rows = list(
        db.session.execute(
            select(Location).where(Location.is_active.is_(True)).order_by(Location.code)
        ).scalars()
    )
    by_id = {row.id: row for row in rows}
    groups: dict[int, list[tuple[int, str]]] = {}
    labels: dict[int, str] = {}
    for row in rows:
        if row.kind == LocationKind.CAMPUS:
            continue
        building = row
        while building is not None and building.kind != LocationKind.BUILDING:
            building = by_id.get(building.parent_id)
        key = building.id if building is not None else 0
        labels.setdefault(key, building.path(locale) if building is not None else "—")
        label = row.name_for(locale) if row is not building else f"{row.name_for(locale)} ({_whole(locale)})"
        if row.kind != LocationKind.BUILDING and row.parent_id and row.parent_id != key:
            parent = by_id.get(row.parent_id)
            if parent is not None and parent.kind != LocationKind.BUILDING:
                label = f"{parent.name_for(locale)} › {label}"
        groups.setdefault(key, []).append((row.id, label))
    return [(labels[key], items) for key, items in sorted(groups.items(), key=lambda kv: labels[kv[0]])]


def _whole(locale: str) -> str:
    from flask_babel import gettext

    return gettext("whole building")


def all_centres() -> list[Centre]:
    """Return every centre, the active ones first in display order (reports name past ones too)."""
    return list(
        db.session.execute(
            select(Centre).order_by(Centre.is_active.desc(), Centre.sort_order, Centre.id)
        ).scalars()
    )


def all_categories(centre_id: int) -> list[Category]:
    """Return every category of a centre, the active ones first in display order."""
    return list(
        db.session.execute(
            select(Category)
            .where(Category.centre_id == centre_id)
            .order_by(Category.is_active.desc(), Category.sort_order, Category.id)
        ).scalars()
    )


# ---------------------------------------------------------------- the place picker
#
# A catalogue may hold thousands of places: the request form lists the
# buildings (and campuses, for their outdoor places) first, then the places
# of the one chosen (services read by id, never the whole catalogue).


def place_areas(locale: str) -> list[tuple[int, str]]:
    """Return the active buildings and campuses as (id, "Campus › Building"), in code order."""
    rows = list(
        db.session.execute(
            select(Location)
            .where(Location.is_active.is_(True),
                   Location.kind.in_((LocationKind.CAMPUS, LocationKind.BUILDING)))
            .order_by(Location.code)
        ).scalars()
    )
    by_id = {row.id: row for row in rows}
    result = []
    for row in rows:
        names, node = [row.name_for(locale)], row
        while node.parent_id in by_id and len(names) < 8:
            node = by_id[node.parent_id]
            names.append(node.name_for(locale))
        result.append((row.id, " › ".join(reversed(names))))
    return sorted(result, key=lambda pair: pair[1])


def places_in(area_id: int, locale: str) -> list[tuple[int, str]]:
    """Return the active places of a building or campus as (id, label); [] for an unknown area.

    A building's list starts with the building itself (the whole building);
    a campus lists its places outside the buildings. A place below a floor
    or area is named "Floor 3 › Room 301".
    """
    area = db.session.get(Location, area_id)
    if area is None or not area.is_active or area.kind not in (LocationKind.CAMPUS, LocationKind.BUILDING):
        return []
    below = (
        select(Location.id, Location.kind)
        .where(Location.parent_id == area_id, Location.kind != LocationKind.BUILDING)
        .cte("below", recursive=True)
    )
    below = below.union_all(
        select(Location.id, Location.kind)
        .join(below, Location.parent_id == below.c.id)
        .where(Location.kind != LocationKind.BUILDING)
    )
    rows = list(
        db.session.execute(
            select(Location).where(Location.id.in_(select(below.c.id)), Location.is_active.is_(True))
            .order_by(Location.code)
        ).scalars()
    )
    by_id = {row.id: row for row in rows}
    places = []
    for row in rows:
        label = row.name_for(locale)
        parent = by_id.get(row.parent_id)
        if parent is not None:
            label = f"{parent.name_for(locale)} › {label}"
        places.append((row.id, label))
    places.sort(key=lambda pair: pair[1])
    if area.kind == LocationKind.BUILDING:
        places.insert(0, (area.id, f"{area.name_for(locale)} ({_whole(locale)})"))
    return places


def area_of(location_id: int) -> int | None:
    """Return the building (or else campus) a place is in, itself if it is one; None when unknown."""
    node, seen = db.session.get(Location, location_id), set()
    while node is not None and node.id not in seen:
        if node.kind == LocationKind.BUILDING:
            return node.id
        seen.add(node.id)
        if node.parent is None and node.kind == LocationKind.CAMPUS:
            return node.id
        node = node.parent
    return None
