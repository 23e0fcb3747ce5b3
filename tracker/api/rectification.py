"""Rectification items through the API: read-only list and detail.

Who sees which item is the ledger's rule (tracker.services.ledger.rectification):
leadership and administrators every item, a centre's staff that centre's,
the responsible person their own; requesters none (an empty list).
"""

import re
from math import ceil

from flask import url_for
from flask_babel import get_locale
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker.api import bp
from tracker.api.auth import caller
from tracker.api.schemas import RectificationDetailSchema, RectificationPageSchema, RectificationQuery
from tracker.api.tickets import operation, page_links
from tracker.domain.i18n import N_
from tracker.domain.rectification import ACTIVE_STATUSES, FINAL_STATUSES
from tracker.errors import NotFound
from tracker.extensions import db
from tracker.models import RectificationItem
from tracker.services.ledger import rectification as ledger
from tracker.services.requests import tickets as ticket_service

# RC-2026-0012; anything else cannot be one (and never reaches the database).
ITEM_REFERENCE_PATTERN = r"^[A-Za-z]{1,4}-[0-9]{4}-[0-9]{1,12}$"
_ITEM_RE = re.compile(ITEM_REFERENCE_PATTERN)
ITEM_REFERENCE_PARAMETER = {
    "in": "path", "name": "reference", "required": True,
    "schema": {"type": "string", "pattern": ITEM_REFERENCE_PATTERN, "example": "RC-2026-0012"},
}
STATUS_GROUPS = {"all": None, "active": ACTIVE_STATUSES, "done": FINAL_STATUSES}


def _person(user) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.display_name}


def _ref(row, locale: str) -> dict | None:
    return None if row is None else {"id": row.id, "code": row.code, "name": row.name_for(locale)}


def item_data(item: RectificationItem, locale: str) -> dict:
    """Return an item as RectificationSchema dumps it."""
    return {
        "reference": item.reference,
        "title": item.title,
        "description": ledger.description_for(item, locale),
        "source": item.source,
        "source_ref": item.source_ref or "",
        "status": item.status,
        "priority": item.priority,
        "centre": _ref(item.centre, locale),
        "category": _ref(item.category, locale),
        "location": _ref(item.location, locale),
        "responsible": _person(item.responsible),
        "due_on": item.due_on,
        "due_at": item.due_at,
        "at_risk_at": item.at_risk_at,
        "progress_percent": item.progress_percent,
        "fix_summary": item.fix_summary or "",
        "rejection_count": item.rejection_count or 0,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "started_at": item.started_at,
        "submitted_at": item.submitted_at,
        "verified_at": item.verified_at,
        "cancelled_at": item.cancelled_at,
        "url": url_for("api.rectification_read", reference=item.reference),
    }


@bp.route("/rectification-items", methods=["GET"])
@bp.arguments(RectificationQuery, location="query")
@bp.response(200, RectificationPageSchema)
@operation(400)
def rectification_list(args):
    """List the rectification items the token may read, newest first

    Leadership and administrators read every item; a centre's staff their
    centres' items; the responsible person their own. Requesters read none.
    """
    query = ledger.visible_items(caller())
    statuses = STATUS_GROUPS[args["status"]]
    if statuses is not None:
        query = query.where(RectificationItem.status.in_(statuses))
    if args.get("centre"):
        query = query.where(RectificationItem.centre_id == args["centre"])
    page, per_page = args["page"], args["per_page"]
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = list(
        db.session.execute(
            query.options(
                selectinload(RectificationItem.centre), selectinload(RectificationItem.category),
                selectinload(RectificationItem.location), selectinload(RectificationItem.responsible),
            )
            .order_by(RectificationItem.created_at.desc(), RectificationItem.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).scalars()
    )
    locale = str(get_locale())
    pages = max(ceil(total / per_page), 1)
    return {
        "items": [item_data(item, locale) for item in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": pages,
        "links": page_links("api.rectification_list", page, pages),
    }


@bp.route("/rectification-items/<reference>", methods=["GET"], parameters=[ITEM_REFERENCE_PARAMETER])
@bp.response(200, RectificationDetailSchema)
@operation(404)
def rectification_read(reference):
    """Read a rectification item with its history and linked requests"""
    if not _ITEM_RE.match(reference):
        raise NotFound(N_("No rectification item %(reference)s that you can see."), reference=reference)
    user = caller()
    item = ledger.get_visible(reference, user)
    locale = str(get_locale())
    events = ledger.events_of(item)
    names = ticket_service.user_names(e.actor_id for e in events)
    data = item_data(item, locale)
    data["history"] = [
        {
            "id": e.id,
            "kind": e.kind.value,
            "actor": None if e.actor_id is None else {"id": e.actor_id, "name": names.get(e.actor_id, "")},
            "created_at": e.created_at,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "body": e.body or "",
            "data": e.data or {},
        }
        for e in events
    ]
    # Linked requests the caller may read themselves; the others are only counted.
    linked = ledger.linked_tickets(item)
    readable = [t for t in linked if ticket_service.can_view(user, t)]
    data["tickets"] = [
        {"reference": t.reference, "title": t.title, "status": t.status,
         "url": url_for("api.ticket_read", reference=t.reference)}
        for t in readable
    ]
    data["hidden_tickets"] = len(linked) - len(readable)
    return data
