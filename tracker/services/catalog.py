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
