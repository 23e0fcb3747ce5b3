"""QR codes for places and machines: where each one leads, as PNG and on print sheets.

A code holds an absolute address of the request form (``TRACKER_BASE_URL``,
the public address, not whichever host the printing user came through)
with the centre, category and place filled in and ``source=qr``. The
centre and category are the place's own or, failing that, its nearest
ancestor's (a machine is set up with both; a room inherits its building's
centre if the building has one). A place with no centre up its tree leads
to the centre chooser with the place carried along.

Sheets are per building: the building and every active place inside it.
Places outside any building (a campus's grounds, a sports field) form
the sheet of their campus.
"""

import io
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from flask import current_app, url_for
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Category, Centre, Location, LocationKind

# Medium error correction survives a scratched sticker; a border of 4
# modules is the quiet zone the standard asks for.
ERROR_LEVEL = "m"
PNG_SCALE = 8
BORDER = 4


@dataclass(frozen=True)
class Target:
    """What a place's code fills in: the centre (None: the chooser), category and place."""

    location: Location
    centre: Centre | None
    category: Category | None


@dataclass(frozen=True)
class SheetEntry:
    location: Location
    target: Target
    url: str
    svg: str


@dataclass(frozen=True)
class Sheet:
    group: Location
    entries: list[SheetEntry]


def _places() -> dict[int, Location]:
    rows = db.session.execute(select(Location).where(Location.is_active.is_(True))).scalars()
    return {row.id: row for row in rows}


def _ancestry(location: Location, places: dict[int, Location]):
    """Yield the place, then its parents up to the top (cycles stop the walk)."""
    seen = set()
    node = location
    while node is not None and node.id not in seen:
        seen.add(node.id)
        yield node
        node = places.get(node.parent_id) if node.parent_id is not None else None


def target_of(location: Location, places: dict[int, Location] | None = None) -> Target:
    """Return what ``location``'s code fills in, inheriting the centre from the nearest ancestor."""
    places = places if places is not None else _places()
    for node in _ancestry(location, places):
        if node.centre_id is None:
            continue
        centre = db.session.get(Centre, node.centre_id)
        if centre is None or not centre.is_active:
            break
        category = db.session.get(Category, node.category_id) if node.category_id else None
        if category is not None and (category.centre_id != centre.id or not category.is_active):
            category = None
        return Target(location=location, centre=centre, category=category)
    return Target(location=location, centre=None, category=None)


def form_url(target: Target) -> str:
    """Return the absolute address of the filled-in request form (needs a request or app context)."""
    query = {}
    if target.category is not None:
        query["category"] = target.category.id
    query["location"] = target.location.id
    query["source"] = "qr"
    if target.centre is not None:
        path = url_for("tickets.file", centre_code=target.centre.code)
    else:
        path = url_for("tickets.new")
    base = current_app.config["TRACKER_BASE_URL"].rstrip("/")
    return f"{base}{path}?{urlencode(query)}"


def _code(url: str):
    return segno.make(url, error=ERROR_LEVEL, micro=False)


def png(location: Location) -> bytes:
    """Return the place's code as a PNG image."""
    buffer = io.BytesIO()
    _code(form_url(target_of(location))).save(buffer, kind="png", scale=PNG_SCALE, border=BORDER)
    return buffer.getvalue()


def group_of(location: Location, places: dict[int, Location]) -> Location:
    """Return the sheet a place is printed on: its building, else the top of its tree."""
    top = location
    for node in _ancestry(location, places):
        if node.kind == LocationKind.BUILDING:
            return node
        top = node
    return top


def sheets_index(locale: str) -> list[tuple[Location, int]]:
    """Return every sheet (its building or campus) with how many codes it holds, by name."""
    places = _places()
    counts: dict[int, int] = {}
    for place in places.values():
        if place.kind == LocationKind.CAMPUS:
            continue
        group = group_of(place, places)
        counts[group.id] = counts.get(group.id, 0) + 1
    groups = [(places[group_id], count) for group_id, count in counts.items()]
    return sorted(groups, key=lambda pair: (pair[0].path(locale), pair[0].code))


def sheet(group_id: int) -> Sheet | None:
    """Return the print sheet of a building (or campus grounds), None when there is none."""
    places = _places()
    group = places.get(group_id)
    if group is None or (group.kind != LocationKind.BUILDING and group_of(group, places).id != group.id):
        return None
    members = [
        place for place in places.values()
        if place.kind != LocationKind.CAMPUS and group_of(place, places).id == group.id
    ]
    if not members:
        return None
    entries = []
    for place in sorted(members, key=lambda p: (p.id != group.id, p.code)):
        target = target_of(place, places)
        url = form_url(target)
        # The SVG is drawn by segno: paths with presentation attributes, no
        # inline style, so the page's CSP (style-src 'self') allows it.
        # aria-hidden: the page names the picture once, on its wrapper.
        svg = _code(url).svg_inline(scale=3, border=BORDER, omitsize=True).replace("<svg ", '<svg aria-hidden="true" ', 1)
        entries.append(SheetEntry(location=place, target=target, url=url, svg=svg))
    return Sheet(group=group, entries=entries)


def location(location_id: int) -> Location | None:
    """Return an active place by id."""
    place = db.session.get(Location, location_id)
    return place if place is not None and place.is_active else None
