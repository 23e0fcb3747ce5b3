"""The catalogue (centres, categories, places), the SLA figures and the description itself."""

from datetime import timedelta
from math import ceil

from flask import jsonify
from flask_babel import get_locale
from flask_smorest import current_api
from sqlalchemy import func, select

from tracker.api import bp
from tracker.api.auth import caller, require_role
from tracker.api.schemas import (
    CategoryListSchema,
    CategoryQuery,
    CentreListSchema,
    FiguresQuery,
    FiguresSchema,
    LocationPageSchema,
    PageQuery,
)
from tracker.api.tickets import documents, operation, page_links
from tracker.auth.decorators import public
from tracker.auth.roles import CENTRE_MANAGERS, READ_ALL
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Location
from tracker.models.stats import TARGET_COLUMNS
from tracker.services.insight import reports
from tracker.services.requests import catalog

# As the dashboards: longer periods make the summary scan long.
MAX_DAYS = 3 * 366


@bp.route("/openapi.json", methods=["GET"])
@bp.response(200, {"type": "object"}, description="This OpenAPI 3 description.")
@bp.doc(security=[])
@documents(429)
@public
def openapi():
    """Describe the API (OpenAPI 3); needs no token"""
    return jsonify(current_api.spec.to_dict())


# ---------------------------------------------------------------- catalogue


def _bilingual(row, locale: str, field: str = "name") -> dict:
    """Return a text in the reader's language (the other one when empty) and as written in each."""
    return {field: row.text_for(field, locale), f"{field}_en": getattr(row, f"{field}_en") or "",
            f"{field}_zh": getattr(row, f"{field}_zh") or ""}


@bp.route("/centres", methods=["GET"])
@bp.response(200, CentreListSchema)
@operation()
def centres_list():
    """List the service centres that take requests"""
    locale = str(get_locale())
    return {
        "items": [
            {"id": c.id, "code": c.code, "ref_prefix": c.ref_prefix,
             **_bilingual(c, locale), **_bilingual(c, locale, "description")}
            for c in catalog.active_centres()
        ]
    }


@bp.route("/categories", methods=["GET"])
@bp.arguments(CategoryQuery, location="query")
@bp.response(200, CategoryListSchema)
@operation(400)
def categories_list(args):
    """List the request categories that take requests, per centre in display order"""
    locale = str(get_locale())
    centres = [c for c in catalog.active_centres() if args.get("centre") in (None, c.id)]
    return {
        "items": [
            {"id": c.id, "centre_id": c.centre_id, "code": c.code, "default_priority": c.default_priority,
             **_bilingual(c, locale)}
            for centre in centres
            for c in catalog.active_categories(centre.id)
        ]
    }


@bp.route("/locations", methods=["GET"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, LocationPageSchema)
@operation(400)
def locations_list(args):
    """List the places a request can be filed for, by code"""
    locale = str(get_locale())
    page, per_page = args["page"], args["per_page"]
    query = select(Location).where(Location.is_active.is_(True))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(
        db.session.execute(query.order_by(Location.code).limit(per_page).offset((page - 1) * per_page)).scalars()
    )
    pages = max(ceil(total / per_page), 1)
    return {
        "items": [
            {"id": row.id, "parent_id": row.parent_id, "kind": row.kind, "code": row.code, "path": row.path(locale),
             "centre_id": row.centre_id, "category_id": row.category_id, **_bilingual(row, locale)}
            for row in rows
        ],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": pages,
        "links": page_links("api.locations_list", page, pages),
    }


# ---------------------------------------------------------------- figures


def _readable_centres():
    """Return the centres whose figures the caller may read (None: all), as the dashboards decide."""
    user = caller()
    if user.has_any_role(*READ_ALL):
        return None
    mine = user.centre_ids(*CENTRE_MANAGERS)
    return [c for c in catalog.all_centres() if c.id in mine]


def _row(figures: reports.Figures, names: dict) -> dict:
    code, name = names.get(figures.key, (None, None))
    return {
        "key": figures.key,
        "code": code,
        "name": name,
        "received": figures.received,
        "resolved": figures.resolved,
        "closed": figures.closed,
        "cancelled": figures.cancelled,
        "met": dict(figures.met),
        "breached": dict(figures.breached),
        "met_percent": {target: figures.met_percent(target) for target in TARGET_COLUMNS},
        "backlog": figures.backlog,
        "ageing": dict(figures.ageing),
        "awaiting_confirmation": figures.awaiting_confirmation,
        "breached_now": figures.breached_now,
        "at_risk_now": figures.at_risk_now,
        "rating_count": figures.rating_count,
        "satisfaction": figures.satisfaction,
    }


@bp.route("/figures", methods=["GET"])
@bp.arguments(FiguresQuery, location="query")
@bp.response(200, FiguresSchema)
@operation(400, 403, 404)
@require_role(*READ_ALL, *CENTRE_MANAGERS)
def figures(args):
    """SLA figures per centre or per category of a centre, for a period

    The dashboards' figures (see /dashboard/definitions): leadership and
    administrators read every centre, dispatchers and centre heads their own.
    The period is campus-local days, at most three years; by default the
    last 30 days.
    """
    now = utcnow()
    today = reports.local_day(now)
    last = args.get("last") or today
    first = args.get("first") or last - timedelta(days=29)
    if first > last:
        raise ValidationFailed(N_("The last day is before the first day."))
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(N_("Choose a period of at most three years."))
    allowed = _readable_centres()
    known = catalog.all_centres() if allowed is None else allowed
    by_id = {c.id: c for c in known}
    centre = None
    if args.get("centre") is not None:
        centre = by_id.get(args["centre"])
        if centre is None:
            raise NotFound(N_("No centre %(centre)s that you can see."), centre=args["centre"])
    elif allowed is not None:
        # A manager's figures are always of one of their centres.
        if len(allowed) != 1:
            raise ValidationFailed(N_("Choose a centre."))
        centre = allowed[0]
    if args["group"] == "category" and centre is None:
        raise ValidationFailed(N_("Choose a centre."))
    filters = reports.Filters(first=first, last=last, centre_id=centre.id if centre else None,
                              priority=args.get("priority"))
    locale = str(get_locale())
    if args["group"] == "category":
        rows_of = catalog.all_categories(centre.id)
    else:
        rows_of = [centre] if centre is not None else known
    names = {row.id: (row.code, row.name_for(locale)) for row in rows_of}
    rows, total = reports.figures_by(filters, args["group"], now, keys=[row.id for row in rows_of if row.is_active])
    return {
        "first": first,
        "last": last,
        "group": args["group"],
        "centre": centre.id if centre else None,
        "priority": args.get("priority"),
        "rows": [_row(row, names) for row in rows if row.key in names],
        "total": _row(total, {}),
    }
