"""Tickets through the API: list, file, read, act, comment.

Each view parses (schema), authorises (token, services), calls one service
and dumps the answer (schema; filing, the hot path, with ``dumped``, which a
test keeps equal to the schema's dump); like the pages, it never commits
itself.
"""

import re
from datetime import datetime
from http import HTTPStatus
from math import ceil
from urllib.parse import urlencode

from flask import jsonify, request, url_for
from flask_babel import get_locale
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from tracker import logs
from tracker.api import bp
from tracker.api.auth import caller
from tracker.api.once import IDEMPOTENCY_PARAMETER, REPLAYED_HEADER, earlier_creation
from tracker.api.schemas import (
    ActionSchema,
    CommentSchema,
    EventListSchema,
    EventSchema,
    NewTicketSchema,
    TicketDetailSchema,
    TicketPageSchema,
    TicketQuery,
    TicketSchema,
)
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.workflow import FINAL_STATUSES, OPEN_STATUSES, Action, Status
from tracker.errors import NotFound
from tracker.extensions import db
from tracker.models import EventKind, Source, Ticket, TicketEvent
from tracker.services.insight import reports
from tracker.services.materials import stock as material_stock
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla

STATUS_GROUPS = {
    "all": None,
    "open": OPEN_STATUSES,
    "resolved": frozenset({Status.RESOLVED}),
    "done": FINAL_STATUSES,
}
# References read RP-2026-000123; anything else cannot be one (and never reaches the database).
REFERENCE_PATTERN = r"^[A-Za-z]{1,4}-[0-9]{4}-[0-9]{1,12}$"
_REFERENCE_RE = re.compile(REFERENCE_PATTERN)
REFERENCE_PARAMETER = {
    "in": "path", "name": "reference", "required": True,
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN, "example": "RP-2026-000123"},
}


def documents(*codes: int):
    """Document the error answers an operation may give (the common ones are added by ``operation``)."""

    def decorate(view):
        for code in sorted(set(codes), reverse=True):
            view = bp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate


def operation(*codes: int, body: bool = False):
    """Document the errors of an authenticated operation: 401, 429, and 400/413/415 for a body."""
    extra = (400, 413, 415) if body else ()
    return documents(401, 429, *codes, *extra)


def _ticket(reference: str) -> Ticket:
    if not _REFERENCE_RE.match(reference):
        raise NotFound(N_("No request %(reference)s that you can see."), reference=reference)
    return ticket_service.get_visible(reference, caller())


# ---------------------------------------------------------------- serialising


def _ref(row, locale: str) -> dict | None:
    if row is None:
        return None
    return {"id": row.id, "code": row.code, "name": row.name_for(locale)}


def _person(user) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.display_name}


def _summary(summary) -> dict:
    return {
        "state": summary.state,
        "target": summary.target,
        "due_at": summary.due_at,
        "remaining_minutes": summary.remaining_minutes,
    }


def ticket_data(ticket: Ticket, summary, locale: str) -> dict:
    """Return a ticket as TicketSchema dumps it."""
    return {
        "reference": ticket.reference,
        "title": ticket.title,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "centre": _ref(ticket.centre, locale),
        "category": _ref(ticket.category, locale),
        "location": _ref(ticket.location, locale),
        "location_note": ticket.location_note or "",
        "contact_phone": ticket.contact_phone or "",
        "source": ticket.source,
        "requester": _person(ticket.requester),
        "assignee": _person(ticket.assignee),
        "hold_reason": ticket.hold_reason,
        "resolution_note": ticket.resolution_note or "",
        "materials_used": ticket.materials_used or "",
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "accepted_at": ticket.accepted_at,
        "arrived_at": ticket.arrived_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "cancelled_at": ticket.cancelled_at,
        "version": ticket.version,
        "sla": _summary(summary),
        "actions": ticket_service.available_actions(caller(), ticket),
        "url": url_for("api.ticket_read", reference=ticket.reference),
    }


def dumped(value):
    """Return ``ticket_data`` (or a part of it) as TicketSchema dumps it, without running the schema.

    The data holds only what the schema passes through unchanged (strings,
    numbers, enums, None, dicts and lists of them) and aware datetimes, which
    it writes in ISO 8601. tests/integration/test_intake.py compares the two.
    """
    if isinstance(value, dict):
        return {key: dumped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [dumped(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def event_data(event: TicketEvent, names: dict[int, str]) -> dict:
    return {
        "id": event.id,
        "kind": event.kind,
        "actor": None if event.actor_id is None else {"id": event.actor_id, "name": names.get(event.actor_id, "")},
        "created_at": event.created_at,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "body": event.body or "",
        "data": event.data or {},
    }


def _detail(ticket: Ticket) -> dict:
    now = utcnow()
    locale = str(get_locale())
    events = list(
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).scalars()
    )
    names = ticket_service.user_names(e.actor_id for e in events)
    data = ticket_data(ticket, sla.summaries([ticket.id], now)[ticket.id], locale)
    data["sla_targets"] = [
        {
            "target": clock.target,
            "state": clock.state,
            "priority": clock.priority,
            "target_minutes": clock.target_minutes,
            "started_at": clock.started_at,
            "due_at": clock.due_at,
            "at_risk_at": clock.at_risk_at,
            "milestone_at": clock.milestone_at,
            "elapsed_minutes": clock.elapsed_minutes,
            "paused_minutes": dict(clock.paused_minutes),
            "capped_reasons": sorted(clock.capped_reasons),
        }
        for clock in sla.clocks_for(ticket, now).values()
    ]
    data["history"] = [event_data(e, names) for e in events]
    return data


def page_links(endpoint: str, page: int, pages: int, **values) -> dict:
    """Return self/first/last/prev/next paths of a paged list, keeping the other query arguments."""

    def link(number: int) -> str:
        query = {k: v for k, v in request.args.items(multi=True) if k != "page"}
        query["page"] = number
        return url_for(endpoint, **values) + "?" + urlencode(query, doseq=True)

    return {
        "self": link(page),
        "first": link(1),
        "last": link(pages),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }


# ---------------------------------------------------------------- list and file


@bp.route("/tickets", methods=["GET"])
@bp.arguments(TicketQuery, location="query")
@bp.response(200, TicketPageSchema)
@operation(400)
def tickets_list(args):
    """List the tickets the token may read, newest first

    Requesters see their own requests; centre staff their centres'; leadership
    and administrators every ticket. Filters combine; pages hold `per_page` tickets.
    """
    conditions = []
    statuses = STATUS_GROUPS[args["status"]]
    if statuses is not None:
        conditions.append(Ticket.status.in_(statuses))
    if args.get("centre"):
        conditions.append(Ticket.centre_id == args["centre"])
    if args.get("category"):
        conditions.append(Ticket.category_id == args["category"])
    if args.get("priority"):
        conditions.append(Ticket.priority == args["priority"])
    first, last = args.get("created_from"), args.get("created_to")
    if first or last:
        start, end = reports.day_bounds(first or last, last or first)
        if first:
            conditions.append(Ticket.created_at >= start)
        if last:
            conditions.append(Ticket.created_at < end)
    if args.get("q", "").strip():
        # Typed % and _ are letters, not wildcards.
        term = args["q"].strip().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        like = f"%{term}%"
        conditions.append(or_(Ticket.reference.ilike(like, escape="!"), Ticket.title.ilike(like, escape="!")))
    page, per_page = args["page"], args["per_page"]
    parts = ticket_service.visible_parts(caller())
    query = select(Ticket).where(*conditions) if parts is None else select(Ticket).where(or_(*parts), *conditions)
    # Counted as the web list counts: up to the cap, each visible part on its own (issue 20).
    cap = max(ticket_service.COUNT_CAP, page * per_page + per_page)
    counted = ticket_service.capped_count(parts, conditions, cap)
    total = min(counted, cap)
    rows = list(
        db.session.execute(
            query.options(
                selectinload(Ticket.centre), selectinload(Ticket.category), selectinload(Ticket.location),
                selectinload(Ticket.requester), selectinload(Ticket.assignee),
            )
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).scalars()
    )
    now = utcnow()
    summaries = sla.summaries([t.id for t in rows], now)
    locale = str(get_locale())
    pages = max(ceil(total / per_page), 1)
    return {
        "items": [ticket_data(t, summaries[t.id], locale) for t in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
        "more": counted > cap,
        "pages": pages,
        "links": page_links("api.tickets_list", page, pages),
    }


@bp.route("/tickets", methods=["POST"], parameters=[IDEMPOTENCY_PARAMETER])
@bp.arguments(NewTicketSchema)
@bp.response(201, TicketSchema, headers={"Location": {"schema": {"type": "string"}}, **REPLAYED_HEADER})
@operation(403, 422, body=True)
def ticket_file(args):
    """File a request, as the token's owner

    Needs the requester role. The ticket, its history, SLA clocks and notices
    are those a request filed on the web gets; its source reads `api`. The
    answer is the ticket with its most urgent SLA target; its SLA targets and
    history are at `Location` (the same as `url`). With an `Idempotency-Key`,
    a repeat files nothing and answers the request filed first.
    """
    earlier = earlier_creation("ticket")
    if earlier is not None:
        db.session.rollback()
        filed = db.session.get(Ticket, earlier.object_id)
        data = ticket_data(filed, sla.summaries([filed.id], utcnow())[filed.id], str(get_locale()))
        return jsonify(dumped(data)), 201, {"Location": data["url"], "Idempotent-Replayed": "true"}
    # The service loads the centre, category and place in one statement and
    # they stay in the session: the answer names them without loading them again.
    ticket = ticket_service.file_ticket(
        ticket_service.NewTicket(
            centre_id=args["centre_id"],
            category_id=args["category_id"],
            description=args["description"],
            location_id=args.get("location_id"),
            location_note=args.get("location_note", ""),
            title=args.get("title", ""),
            priority=args.get("priority"),
            contact_phone=args.get("contact_phone", ""),
            source=Source.API.value,
        ),
        requester=caller(),
        now=utcnow(),
    )
    logs.note_ticket(ticket.reference)
    # The SLA rows written with the ticket are in ticket.slas (intake path: docs/api.md).
    data = ticket_data(ticket, sla.summary_of(ticket.slas, utcnow()), str(get_locale()))
    # A response passes flask-smorest undumped: the schema's dump took three
    # times the CPU of ``dumped`` for the same JSON (docs/api.md, "Intake speed").
    return jsonify(dumped(data)), 201, {"Location": data["url"]}


# ---------------------------------------------------------------- one ticket


@bp.route("/tickets/<reference>", methods=["GET"], parameters=[REFERENCE_PARAMETER])
@bp.response(200, TicketDetailSchema)
@operation(404)
def ticket_read(reference):
    """Read a ticket with its SLA targets and history"""
    return _detail(_ticket(reference))


ACTION_CONVERTER = "any(" + ", ".join(a.value for a in Action if a is not Action.COMMENT) + ")"


@bp.route(f"/tickets/<reference>/actions/<{ACTION_CONVERTER}:action>", methods=["POST"],
          parameters=[REFERENCE_PARAMETER])
@bp.arguments(ActionSchema, required=False)
@bp.response(200, TicketDetailSchema)
@operation(403, 404, 409, body=True)
def ticket_act(args, reference, action):
    """Act on a ticket: assign, take, accept, … as on the ticket's page

    The same details as the page's forms: `assignee_id` (assign),
    `hold_reason` and `note` (hold), `resolution_note`, `materials_used`,
    `materials` (catalogue lines) and `final_charge` (resolve), `priority` (reprioritise), `category_id` (recategorise),
    `extra_hold_minutes` (extend_hold), `note` (the reason for decline, cancel,
    reopen, a priority or category change, a longer hold). Refusals are the
    page's: 403 when the token's roles may not take the action, 409 when the
    ticket's state does not allow it (or `expected_version` is stale).
    """
    ticket = _ticket(reference)
    chosen = Action(action)
    if chosen is Action.RESOLVE:
        # As the page's resolution form: catalogue materials and a paid repair's charge, one transaction.
        return _detail(material_stock.resolve(
            ticket.id,
            actor=caller(),
            now=utcnow(),
            resolution_note=args.get("resolution_note", ""),
            materials_used=args.get("materials_used", ""),
            lines=[material_stock.UsedLine(line["material_id"], str(line["quantity"]))
                   for line in args.get("materials") or []],
            final_charge=args.get("final_charge") or None,
            expected_version=args.get("expected_version"),
        ))
    ticket = ticket_service.transition(
        ticket.id,
        chosen,
        actor=caller(),
        now=utcnow(),
        reason=args.get("note", ""),
        hold_reason=args.get("hold_reason"),
        resolution_note=args.get("resolution_note", ""),
        materials_used=args.get("materials_used", ""),
        assignee_id=args.get("assignee_id"),
        priority=args.get("priority"),
        category_id=args.get("category_id"),
        extra_minutes=args.get("extra_hold_minutes"),
        expected_version=args.get("expected_version"),
    )
    return _detail(ticket)


# ---------------------------------------------------------------- comments


@bp.route("/tickets/<reference>/comments", methods=["GET"], parameters=[REFERENCE_PARAMETER])
@bp.response(200, EventListSchema)
@operation(404)
def ticket_comments(reference):
    """List a ticket's comments, oldest first"""
    ticket = _ticket(reference)
    events = list(
        db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.COMMENTED)
            .order_by(TicketEvent.id)
        ).scalars()
    )
    names = ticket_service.user_names(e.actor_id for e in events)
    return {"items": [event_data(e, names) for e in events]}


@bp.route("/tickets/<reference>/comments", methods=["POST"],
          parameters=[REFERENCE_PARAMETER, IDEMPOTENCY_PARAMETER])
@bp.arguments(CommentSchema)
@bp.response(201, EventSchema, headers=REPLAYED_HEADER)
@operation(403, 404, 422, body=True)
def ticket_comment(args, reference):
    """Comment on a ticket

    The requester, the assignee and the centre's staff may comment; the
    comment notifies the others, as on the page. With an `Idempotency-Key`, a
    repeat adds nothing and answers the comment added first.
    """
    ticket = _ticket(reference)
    user = caller()
    earlier = earlier_creation("comment")
    if earlier is not None:
        db.session.rollback()
        event = db.session.get(TicketEvent, earlier.object_id)
        return event_data(event, ticket_service.user_names([event.actor_id])), 201, {"Idempotent-Replayed": "true"}
    ticket = ticket_service.add_comment(ticket.id, actor=user, body=args["body"], now=utcnow())
    event = db.session.execute(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.COMMENTED,
               TicketEvent.actor_id == user.id)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).scalar_one()
    return event_data(event, ticket_service.user_names([event.actor_id])), 201
