"""Filing tickets and moving them through their life.

Every public function is one transaction: it checks, changes rows, appends
TicketEvent rows and commits; on a refusal nothing is written. Services take
the actor (None for the application itself) and ``now``; they never read the
request or the login.
"""

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    Integer,
    Select,
    String,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, make_transient_to_detached

from tracker.domain import workflow
from tracker.domain.i18n import N_, Label
from tracker.domain.roles import Role
from tracker.domain.workflow import (
    Action,
    HoldReason,
    Priority,
    Relation,
    Status,
    TransitionForbidden,
    TransitionRefused,
)
from tracker.errors import ActionForbidden, Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Category,
    CategoryDispatch,
    Centre,
    EventKind,
    Location,
    Notification,
    ReferenceCounter,
    SlaPolicy,
    Ticket,
    TicketEvent,
    TicketSla,
    User,
)
from tracker.services import audit, bulk, idempotency
from tracker.services.dispatch import auto as auto_dispatch
from tracker.services.insight.scorecards.summary import rework_window
from tracker.services.notify import outbox
from tracker.services.sla import clocks as sla

# The limits of a request's text, in characters: the web form, the API schema
# and file_ticket all read these, so no path accepts what another refuses.
TITLE_MAX = 200
DESCRIPTION_MIN = 5
DESCRIPTION_MAX = 5000
REASON_MAX = 1000
LOCATION_NOTE_MAX = 200  # the width of tickets.location_note
CONTACT_PHONE_MAX = 40


# ---------------------------------------------------------------- visibility


def visible_tickets(user: User) -> Select:
    """Return a select of the tickets ``user`` may read."""
    query = select(Ticket)
    parts = visible_parts(user)
    return query if parts is None else query.where(or_(*parts))


def visible_parts(user: User) -> list | None:
    """Return conditions, no two true of one ticket, whose union ``user`` may read; None: every ticket.

    Counted apart, each part is one index range read as far as the count's cap
    (the centres' open requests, then the user's own elsewhere); counted as
    one OR, the planner read a centre's whole open backlog or the table from
    its start (issue 20).
    """
    if user.has_any_role(Role.LEADERSHIP, Role.ADMIN):
        return None
    own = Ticket.requester_id == user.id
    centres = sorted(user.centre_ids())
    if not centres:
        return [own]
    return [Ticket.centre_id.in_(centres), and_(own, Ticket.centre_id.not_in(centres))]


# Lists count their tickets up to this many (and to the end of the page after the one shown):
# past it they say "more than 1,000". A full count grew with the open backlog (issue 20:
# 150,000 open tickets at 1,000,000), and nobody pages through more than a thousand requests.
COUNT_CAP = 1000


def capped_count(parts: list | None, conditions: list, cap: int) -> int:
    """Count the tickets matching ``conditions`` in the union of ``parts`` (``visible_parts``), up to ``cap + 1``.

    Each part is counted on its own as far as what is left of the cap: one
    index range read each, where an OR made the planner read a centre's
    whole backlog. A result above ``cap`` means "more than ``cap``".
    """
    counted = 0
    for part in [None] if parts is None else parts:
        counting = select(Ticket.id).where(*conditions) if part is None else select(Ticket.id).where(
            part, *conditions
        )
        counted += db.session.execute(
            select(func.count()).select_from(counting.limit(cap + 1 - counted).subquery())
        ).scalar_one()
        if counted > cap:
            break
    return counted


def can_view(user: User, ticket: Ticket) -> bool:
    """Return whether ``user`` may read ``ticket``."""
    return (
        user.has_any_role(Role.LEADERSHIP, Role.ADMIN)
        or ticket.requester_id == user.id
        or ticket.centre_id in user.centre_ids()
    )


def get_visible(reference: str, user: User) -> Ticket:
    """Return the ticket by reference; NotFound also when ``user`` may not see it.

    Not distinguishing "absent" from "hidden" keeps references unguessable.
    """
    ticket = db.session.execute(
        select(Ticket).where(Ticket.reference == reference.strip().upper())
    ).scalar_one_or_none()
    if ticket is None or not can_view(user, ticket):
        raise NotFound(N_("No request %(reference)s that you can see."), reference=reference)
    return ticket


def relations(user: User | None, ticket: Ticket) -> frozenset[Relation]:
    """Return how ``user`` stands to ``ticket``; None is the application itself."""
    if user is None:
        return frozenset({Relation.SYSTEM})
    found = set()
    if ticket.requester_id == user.id:
        found.add(Relation.REQUESTER)
    if ticket.assignee_id == user.id and user.has_role(Role.TECHNICIAN, ticket.centre_id):
        found.add(Relation.ASSIGNEE)
    if user.has_role(Role.TECHNICIAN, ticket.centre_id):
        found.add(Relation.TECHNICIAN)
    if user.has_role(Role.DISPATCHER, ticket.centre_id) or user.has_role(Role.CENTRE_HEAD, ticket.centre_id):
        found.add(Relation.DISPATCHER)
    if user.has_role(Role.CENTRE_HEAD, ticket.centre_id):
        found.add(Relation.HEAD)
    return frozenset(found)


def available_actions(user: User, ticket: Ticket) -> list[Action]:
    """Return the actions ``user`` may take on ``ticket`` now."""
    if not user.is_active:
        return []
    return workflow.allowed_actions(
        ticket.status, relations(user, ticket), status_before_hold=ticket.status_before_hold
    )


def assignable_technicians(centre_id: int) -> list[User]:
    """Return the active technicians of a centre, by name."""
    from tracker.models import UserRole

    return list(
        db.session.execute(
            select(User)
            .join(UserRole)
            .where(
                UserRole.role == Role.TECHNICIAN,
                UserRole.centre_id == centre_id,
                User.is_active.is_(True),
            )
            .order_by(User.display_name)
        ).scalars()
    )


# ---------------------------------------------------------------- filing


@dataclass
class NewTicket:
    """What a requester submits."""

    centre_id: int
    category_id: int
    description: str
    location_id: int | None = None
    location_note: str = ""
    title: str = ""
    priority: Priority | None = None
    contact_phone: str = ""
    source: str = "web"
    extra: dict = field(default_factory=dict)
    # The web form names its centre by code (its address): the catalogue
    # statement finds it by code, and ``centre_id`` may be None.
    centre_code: str | None = None


def file_ticket(request: NewTicket, *, requester: User, now: datetime,
                before_commit: Callable[[Ticket], None] | None = None) -> Ticket:
    """File a new ticket for ``requester`` and return it (committed).

    ``before_commit(ticket)`` adds to the same transaction (no commit):
    services.attachments stores the photo sent with the request there.
    Raises ValidationFailed for an unknown or inactive centre, category or
    location, a category of another centre, an unusable description, or a
    text longer than its limit (the *_MAX constants above).
    """
    try:
        ticket, policy = new_ticket(request, requester=requester, now=now)
        # Assigned before the first write, when its category says so (docs/dispatch.md).
        dispatched = auto_dispatch.dispatch_new(ticket, now)
        # The deadlines go in with the ticket's first write (no UPDATE after it).
        sla.start_clocks(ticket, ticket.events, policy, now)
        if dispatched is None and before_commit is None and _folds_writes():
            # PostgreSQL: the ticket, its event, targets, notices and summary marks in one statement.
            _write_filed_at_once(ticket, now=now)
        else:
            _write_filed(ticket)
            # With the technician's notice when dispatched: one read of the people, one write.
            _notify_filed(ticket, now=now, dispatched=dispatched)
        sla.note_deferred(ticket.id)
        if before_commit is not None:
            before_commit(ticket)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def new_ticket(request: NewTicket, *, requester: User, now: datetime,
               catalogue: dict | None = None) -> tuple[Ticket, sla.CurrentPolicy | None]:
    """Check a request and build its ticket with the filing event, in memory; return it and its SLA policy.

    Takes the reference number (no commit). Raises as ``file_ticket``.
    The ticket has no id: changes ``apply``-ed to it append their events
    to ``ticket.events``, and ``write_replayed`` writes it. ``catalogue``
    keeps each centre and category read for the next requests of a caller
    filing many in one transaction; their policy version is read at the
    first request's instant, so such a caller files within a span where no
    new version takes effect (the demo's past year, before its policies).
    """
    if not requester.is_active or not requester.has_role(Role.REQUESTER):
        raise PermissionDenied(N_("Your account may not file requests."))
    filing = None
    if catalogue is None and _folds_writes():
        centre, category, location, policy_row, filing = _catalogue(request, now, filing=True)
    elif catalogue is None:
        centre, category, location, policy_row = _catalogue(request, now)
    else:
        key = (_as_id(request.centre_id), _as_id(request.category_id))
        if key not in catalogue:
            catalogue[key] = _catalogue(replace(request, location_id=None), now)
        centre, category, _, policy_row = catalogue[key]
        location_id = _as_id(request.location_id)
        location = db.session.get(Location, location_id) if location_id is not None else None
    if centre is None or not centre.is_active:
        raise ValidationFailed(N_("Choose a service centre."))
    if category is None or not category.is_active or category.centre_id != centre.id:
        raise ValidationFailed(N_("Choose a category of this service centre."))
    if request.location_id is not None:
        if location is None or not location.is_active:
            raise ValidationFailed(N_("Choose a place from the list."))
    description = (request.description or "").strip()
    if len(description) < DESCRIPTION_MIN:
        raise ValidationFailed(
            N_("Describe the problem in at least %(min)d characters."), min=DESCRIPTION_MIN
        )
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            N_("The description is longer than %(max)d characters."), max=DESCRIPTION_MAX
        )
    priority = Priority(request.priority) if request.priority else category.default_priority
    title = (request.title or "").strip() or _title_from(description)
    if len(title) > TITLE_MAX:
        raise ValidationFailed(N_("The title is longer than %(max)d characters."), max=TITLE_MAX)
    location_note = (request.location_note or "").strip()
    if len(location_note) > LOCATION_NOTE_MAX:
        raise ValidationFailed(
            N_("The place details are longer than %(max)d characters."), max=LOCATION_NOTE_MAX
        )
    contact_phone = (request.contact_phone or "").strip()
    if len(contact_phone) > CONTACT_PHONE_MAX:
        raise ValidationFailed(N_("The phone number is longer than %(max)d characters."), max=CONTACT_PHONE_MAX)

    version_id, is_active, policy_code, generation, is_auto_dispatch, *repeated = policy_row
    if version_id is None and is_active and category.sla_policy_id is not None:
        # Filed before the policy's first version took effect (a back-dated
        # import or test): that first version (sla.policy_version_in_force).
        version_id = sla.policy_version_in_force(category.sla_policy_id, now)
    # As sla.current_policy_version_id: no policy, or a switched-off one, means no SLA.
    policy = sla.current_policy(version_id if is_active else None, policy_code, generation)
    ticket = Ticket(
        reference=(_next_reference(centre.ref_prefix, now) if filing is None or filing.number is None
                   else format_reference(centre.ref_prefix, filing.year, filing.number)),
        # The objects, not only their ids: the ticket holds them, so
        # naming them afterwards (the API's answer) loads nothing.
        centre=centre,
        category=category,
        location=location,
        centre_id=centre.id,
        category_id=category.id,
        location_id=location.id if location else None,
        location_note=location_note,
        priority=priority,
        status=Status.NEW,
        title=title,
        description=description,
        contact_phone=contact_phone,
        source=request.source,
        requester_id=requester.id,
        created_at=now,
        updated_at=now,
        sla_policy_version_id=policy.version_id if policy else None,
    )
    ticket.is_auto_dispatch = bool(is_auto_dispatch)
    if catalogue is None:  # a cached catalogue row is another request's place
        ticket.repeated_resolutions = tuple(repeated)
    if filing is not None:
        ticket.filing_people = filing.people
    _record(
        ticket,
        EventKind.FILED,
        actor=requester,
        now=now,
        to_status=Status.NEW,
        data={"priority": priority.value, "category_id": category.id, "source": request.source},
    )
    return ticket, policy


def _as_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Requests at the same place and category resolved within the rework window
# before this filing (services.scorecards.summary.repeat_days): the first and
# last such resolution, read with the catalogue.
_EARLIER = aliased(Ticket)
_REPEATED = select(func.min(_EARLIER.resolved_at)).where(
    _EARLIER.location_id == bindparam("location_id", type_=Integer),
    _EARLIER.category_id == bindparam("category_id", type_=Integer),
    _EARLIER.resolved_at >= bindparam("rework_since"),
    _EARLIER.resolved_at <= bindparam("filed_at"),
)

# Built once: filing is the hot path (docs/api.md, "Intake speed"). An id
# given as None matches nothing (``= NULL``), as a missing row would.
_CATALOGUE_ROWS = (
    select(Centre, Category, Location, sla.POLICY_IN_FORCE, SlaPolicy.is_active, SlaPolicy.code,
           sla.CALENDAR_GENERATION, CategoryDispatch.is_auto_dispatch,
           _REPEATED.with_only_columns(func.min(_EARLIER.resolved_at)).scalar_subquery(),
           _REPEATED.with_only_columns(func.max(_EARLIER.resolved_at)).scalar_subquery())
    .select_from(Centre)
    .outerjoin(Category, Category.id == bindparam("category_id", type_=Integer))
    .outerjoin(Location, Location.id == bindparam("location_id", type_=Integer))
    .outerjoin(SlaPolicy, SlaPolicy.id == Category.sla_policy_id)
    # Whether the category dispatches automatically (services.dispatch.auto), in the same statement.
    .outerjoin(CategoryDispatch, CategoryDispatch.category_id == Category.id)
)
_BY_ID = Centre.id == bindparam("centre_id", type_=Integer)
_BY_CODE = Centre.code == bindparam("centre_code", type_=String)
_CATALOGUE = _CATALOGUE_ROWS.where(_BY_ID)
_CATALOGUE_BY_CODE = _CATALOGUE_ROWS.where(_BY_CODE)


def _filing_catalogue(centre_named) -> Select:
    """Return the catalogue statement of one filing on PostgreSQL: ``_CATALOGUE_ROWS`` and two statements' work more.

    The centre's reference counter is bumped in a CTE (``_BUMP``'s UPDATE;
    its new value, or NULL on the year's first filing, which
    ``next_reference`` then makes), and the people to tell with the centre's
    webhooks come as JSON (``outbox.filing_people_columns``). A filing that
    is refused rolls back, and the bump with it (``file_ticket``). Issue 20:
    two statements fewer a filing.
    """
    bump = _bump(select(Centre.ref_prefix).where(centre_named).scalar_subquery()).cte("bump")
    people, hooks = outbox.filing_people_columns(Centre.id)
    return _CATALOGUE_ROWS.add_columns(select(bump.c.last_value).scalar_subquery(), people, hooks).where(centre_named)


_COUNTERS = ReferenceCounter.__table__


def _bump(counter) -> Update:
    """Return the counter's bump: ``UPDATE … SET last_value = last_value + 1 … RETURNING last_value``.

    ``counter`` is the counter row's name (a parameter, or the centre's prefix
    read in SQL); the year is the parameter ``b_year``. No row: the year's first.
    """
    return (
        update(_COUNTERS)
        .where(_COUNTERS.c.prefix == counter, _COUNTERS.c.year == bindparam("b_year", type_=Integer))
        .values(last_value=_COUNTERS.c.last_value + 1)
        .returning(_COUNTERS.c.last_value)
    )


_FILING = _filing_catalogue(_BY_ID)
_FILING_BY_CODE = _filing_catalogue(_BY_CODE)


@dataclass(frozen=True)
class _Filing:
    """What the filing catalogue statement reads beyond the catalogue: the counter's new value and the people to tell."""

    year: int  # the campus year the counter counts (local_year)
    number: int | None  # None: the year's first, no counter row yet
    people: outbox.People


def _catalogue(request: NewTicket, filed_at: datetime, *, filing: bool = False):
    """Return the request's centre, category and place (None when absent) in one statement.

    With them: the category's policy's version in force at ``filed_at``, whether the policy
    is active, its code, and sla.CALENDAR_GENERATION (all None without a
    category or policy), then whether the category dispatches automatically and
    the first and last resolution the filing makes rework (None without).
    ``filing`` (PostgreSQL): the statement also bumps the centre's counter and
    reads the people to tell (``_filing_catalogue``); a fifth value, a
    ``_Filing`` (None without a centre), is returned.
    """
    by_code = request.centre_id is None and request.centre_code is not None
    params = {
        "centre_id": _as_id(request.centre_id),
        "centre_code": request.centre_code,
        "category_id": _as_id(request.category_id),
        "location_id": _as_id(request.location_id),
        "filed_at": filed_at,
        "rework_since": filed_at - rework_window(),
    }
    if filing:
        params["b_year"] = year = local_year(filed_at)
        statement = _FILING_BY_CODE if by_code else _FILING
    else:
        statement = _CATALOGUE_BY_CODE if by_code else _CATALOGUE
    row = db.session.execute(statement, params).first()
    if row is None:
        return (None, None, None, (None,) * 7) + ((None,) if filing else ())
    if not filing:
        return row[0], row[1], row[2], tuple(row[3:])
    number, people, hooks = row[-3:]
    return (row[0], row[1], row[2], tuple(row[3:-3]),
            _Filing(year, number, outbox.filing_people(row[0].id, people, hooks)))


_TICKETS, _EVENTS, _TARGETS = Ticket.__table__, TicketEvent.__table__, TicketSla.__table__
# Core statements, built once. sort_by_parameter_order: the ids come back in
# the rows' order, so each object gets its own.
_INSERT_TICKET = insert(_TICKETS).returning(_TICKETS.c.id)
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)
_INSERT_TARGETS = insert(_TARGETS).returning(_TARGETS.c.id, sort_by_parameter_order=True)


def _write_filed(ticket: Ticket) -> None:
    """Insert a ticket being filed, its events and its SLA rows, then keep them in the session as loaded; no commit.

    They are built as every change builds them (``_record``,
    ``sla.start_clocks``) but written by Core statements: the unit of
    work's flush (dependency sorting, history, bookkeeping) took about a
    fifth of a filing's CPU (docs/api.md, "Intake speed"). Afterwards the
    objects are what a query would have loaded, so a later change in the
    same transaction (a photo's event) flushes as usual.
    """
    ticket.id = db.session.execute(_INSERT_TICKET, _column_values(ticket)).scalar_one()
    for children, statement in ((ticket.events, _INSERT_EVENTS), (ticket.slas, _INSERT_TARGETS)):
        if not children:
            continue
        for child in children:
            child.ticket_id = ticket.id
        ids = db.session.execute(statement, [_column_values(child) for child in children]).scalars().all()
        for child, new_id in zip(children, ids, strict=True):
            child.id = new_id
            make_transient_to_detached(child)
    make_transient_to_detached(ticket)
    db.session.add(ticket)  # with its events and SLA rows (cascade), as persistent objects
    idempotency.note_created(ticket)  # no flush saw it: a form's one-time key records it here


def _folds_writes() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# Stands for the ticket's id in its notices' keys until the one statement gives it.
_ID_GAP = "{ticket}"


def _written_columns(table) -> tuple[str, ...]:
    """Return the columns ``_column_values`` gives for a row of ``table`` (all but the primary key), in its order."""
    mapper = next(m for m in (Ticket, TicketEvent, TicketSla, Notification) if m.__table__ is table).__mapper__
    return tuple(name for _key, name, _is_callable, _default in _column_plan(mapper))


@functools.cache
def _json_converters(table) -> tuple[tuple[str, Callable], ...]:
    """Return the columns of ``table`` whose values change on the way into its JSON record for PostgreSQL, with how.

    The column's own bind processing first (UTC instants, enums' values), as
    SQLAlchemy would send it, then what JSON holds (``audit.plain``). JSON
    columns keep their value (nested in the record), and so do plain text,
    number and flag columns: ``json.dumps`` writes them as they are (a str
    enum as its value). Only the others are listed: a filing's records hold
    about a hundred values, and most need nothing.
    """
    from sqlalchemy.dialects.postgresql.psycopg import dialect
    from sqlalchemy.types import JSON, TypeDecorator

    pg = dialect()
    converters = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, JSON):
            continue
        if isinstance(kind, TypeDecorator):
            converters.append((column.key, lambda v, kind=kind: audit.plain(kind.process_bind_param(v, pg))))
            continue
        try:
            python_type = kind.python_type
        except NotImplementedError:
            python_type = None
        if python_type not in (str, int, bool, float):
            converters.append((column.key, audit.plain))
    return tuple(converters)


def _json_record(table, values: dict) -> dict:
    record = dict(values)
    for name, convert in _json_converters(table):
        value = record.get(name)
        if value is not None:  # None stays None through every conversion
            record[name] = convert(value)
    return record


@functools.cache
def _filing_statement(notices: bool, marks: bool):
    """Return the one statement writing a filing on PostgreSQL (built once per shape).

    Each table's rows come as one JSON parameter (``json_populate_record(set)``
    into the table's row type): a short statement with five parameters, which
    SQLAlchemy and psycopg keep parsed (psycopg parses again any statement
    longer than 4 KB or with more than 50 parameters: a statement with a
    parameter per column cost more than the four it replaced). Data-modifying
    CTEs: the ticket (``t``), its events (``e``), targets (``s``) and notices
    (``n``, their key taking the ticket's id at ``_ID_GAP``) inserted from
    ``t`` in the order given, then the summary marks (``m``) in
    ``write_marks``' order. Returns the ticket's id and the events', targets'
    and notices' ids, each in the order given (ids of one insert ascend in
    its rows' order).
    """
    def columns(table, *skip):
        return [c for c in _written_columns(table) if c not in skip]

    def children(table, name, param, *, first=(), values=(), tail=""):
        names = columns(table, "ticket_id", *first)
        return (
            f"{name} AS (INSERT INTO {table.name} (ticket_id, {', '.join([*first, *names])}) "
            f"SELECT t.id, {', '.join([*values, *(f'r.{c}' for c in names)])} "
            f"FROM t, json_populate_recordset(NULL::{table.name}, CAST(:{param} AS json)) WITH ORDINALITY AS r "
            f"ORDER BY r.ordinality{tail} RETURNING id)"
        )

    ticket_columns = ", ".join(columns(_TICKETS))
    parts = [
        f"t AS (INSERT INTO tickets ({ticket_columns}) SELECT {ticket_columns} "
        "FROM json_populate_record(NULL::tickets, CAST(:ticket AS json)) RETURNING id)",
        children(_EVENTS, "e", "events"),
        children(_TARGETS, "s", "targets"),
    ]
    if notices:
        parts.append(children(
            Notification.__table__, "n", "notices", first=("idempotency_key",),
            values=(f"replace(r.idempotency_key, '{_ID_GAP}', t.id::text)",),
            tail=" ON CONFLICT (idempotency_key) DO NOTHING",
        ))
    if marks:
        parts.append(
            "m AS (INSERT INTO stats_dirty (day, centre_id, version) SELECT r.day, r.centre_id, 1 "
            "FROM json_to_recordset(CAST(:marks AS json)) AS r(day date, centre_id integer) "
            "ORDER BY r.day, r.centre_id "
            "ON CONFLICT (day, centre_id) DO UPDATE SET version = stats_dirty.version + 1 RETURNING day)"
        )
    ids = ["(SELECT id FROM t)", "(SELECT array_agg(id ORDER BY id) FROM e)",
           "(SELECT array_agg(id ORDER BY id) FROM s)"]
    ids.append("(SELECT array_agg(id ORDER BY id) FROM n)" if notices else "NULL")
    return text("WITH " + ",\n".join(parts) + "\nSELECT " + ", ".join(ids))


def _write_filed_at_once(ticket: Ticket, *, now: datetime) -> None:
    """On PostgreSQL, write a filing in one statement: ``_write_filed``, ``_notify_filed`` and the marks' own; no commit.

    The same rows as those three write (test_intake.py compares them): the
    people to tell and the webhooks are read first (they need no id), then
    one statement (``_filing_statement``) writes the ticket, its events, its
    targets, its notices (their keys take the ticket's id in SQL) and the
    summary marks ``stats.write_marks`` would have written at the commit,
    in the same order. Afterwards the objects are in the session as loaded,
    as ``_write_filed`` leaves them.
    """
    from tracker.services.insight import stats

    notice_rows: list[dict] = []
    filed = _filed_notices(ticket, key_id=_ID_GAP)
    if filed is not None:
        notices, recipients, staff = filed
        notice_rows = outbox.notice_rows(notices, recipients, now=now, people=staff)
    marks = stats.take_marks()
    params = {
        "ticket": json.dumps(_json_record(_TICKETS, _column_values(ticket))),
        "events": json.dumps([_json_record(_EVENTS, _column_values(e)) for e in ticket.events]),
        "targets": json.dumps([_json_record(_TARGETS, _column_values(s)) for s in ticket.slas]),
    }
    if notice_rows:
        outbox_table = Notification.__table__
        params["notices"] = json.dumps([_json_record(outbox_table, row) for row in notice_rows])
    if marks:
        params["marks"] = json.dumps([{"day": day.isoformat(), "centre_id": centre_id} for day, centre_id in marks])
    statement = _filing_statement(bool(notice_rows), bool(marks))
    ticket_id, event_ids, target_ids, notice_ids = db.session.execute(statement, params).one()
    ticket.id = ticket_id
    for children, ids in ((ticket.events, event_ids), (ticket.slas, target_ids)):
        for child, child_id in zip(children, ids or (), strict=True):
            child.ticket_id, child.id = ticket_id, child_id
            make_transient_to_detached(child)
    make_transient_to_detached(ticket)
    db.session.add(ticket)  # with its events and SLA rows (cascade), as persistent objects
    idempotency.note_created(ticket)  # no flush saw it: a form's one-time key records it here
    outbox.publish_inserted(notice_rows, list(notice_ids or ()))


@functools.cache
def _column_plan(mapper) -> tuple[tuple[str, str, bool, object], ...]:
    """Return, per column of ``mapper`` but the primary key: its attribute, its column and its default (callable?, arg)."""
    plan = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key:
            continue
        default = column.default
        plan.append((attribute.key, column.key, default is not None and default.is_callable,
                     None if default is None else default.arg))
    return tuple(plan)


def _column_values(row) -> dict:
    """Return a new object's column values by column name, its columns' defaults filled in (on the object too)."""
    values = {}
    state = row.__dict__
    for key, name, is_callable, default in _column_plan(type(row).__mapper__):
        if key in state:
            value = state[key]
        else:
            value = default(None) if is_callable else default
            setattr(row, key, value)
        values[name] = value
    return values


def _notify_filed(ticket: Ticket, *, now: datetime, dispatched: TicketEvent | None = None) -> None:
    """Tell the centre's dispatchers (its heads when it has none) that a request came in; no commit.

    ``dispatched``: the automatic assignment made at filing, whose notice to
    the technician (as ``_notify`` gives it) goes in with the same statements.
    """
    filed = _filed_notices(ticket, key_id=ticket.id, dispatched=dispatched)
    if filed is not None:
        notices, recipients, staff = filed
        outbox.queue(notices, recipients, now=now, people=staff)


def _filed_notices(ticket: Ticket, *, key_id, dispatched: TicketEvent | None = None):
    """Return a filing's notices, their recipients and the people read for them; None when notices are suppressed.

    ``key_id`` is the ticket's id in the notices' keys (``_ID_GAP`` before
    the ticket is written).
    """
    if outbox.is_suppressed():
        return None
    roles = (Role.DISPATCHER, Role.CENTRE_HEAD) + ((Role.TECHNICIAN,) if dispatched is not None else ())
    kinds = ("ticket_assigned",) if dispatched is not None else ()
    if dispatched is None and ticket.filing_people is not None:
        staff = ticket.filing_people  # read with the catalogue (_filing_catalogue)
    else:
        staff = outbox.centre_people(ticket.centre_id, roles, "ticket_filed", *kinds)
    people = staff.by_role[Role.DISPATCHER] or staff.by_role[Role.CENTRE_HEAD]
    key = f"ticket:{key_id}:filed"
    notices = [outbox.Notice(kind="ticket_filed", key=key, subject=f"{ticket.reference} ticket_filed",
                             payload={"reference": ticket.reference, "title": ticket.title},
                             ticket_id=ticket.id, centre_id=ticket.centre_id, link=f"/tickets/{ticket.reference}")]
    recipients = {key: [p for p in people if p != ticket.requester_id]}
    if dispatched is not None:
        assigned = _notice(ticket, Action.ASSIGN, dispatched, actor=None)
        if assigned is not None:
            notices.append(assigned[0])
            recipients[assigned[0].key] = assigned[1]
    return notices, recipients, staff


def _title_from(description: str) -> str:
    first_line = description.splitlines()[0].strip()
    return first_line if len(first_line) <= 80 else first_line[:79] + "…"


def local_year(now: datetime) -> int:
    """Return the year of ``now`` in the campus time zone."""
    return now.astimezone(ZoneInfo(current_app.config["TRACKER_TIMEZONE"])).year


def _next_reference(prefix: str, now: datetime) -> str:
    return next_reference(prefix, now)


# A Core statement, built once: the ORM's bulk-update bookkeeping is not needed here.
_BUMP = _bump(bindparam("b_counter"))


def next_reference(prefix: str, now: datetime, *, counter: str | None = None, digits: int = 6) -> str:
    """Return the next "<prefix>-<year>-<number>" of the campus year of ``now``.

    ``counter`` names the counter row when it differs from the prefix (the
    rectification ledger counts under "#RC" so no centre prefix can clash).
    Never commits: the number is taken in the caller's transaction.
    """
    counter = counter or prefix
    year = local_year(now)
    where = {"b_counter": counter, "b_year": year}
    value = db.session.execute(_BUMP, where).scalar_one_or_none()
    if value is None:
        # First of the year for this counter. Two filers may race to
        # create the counter: the loser's insert fails and it bumps instead.
        try:
            with db.session.begin_nested():
                db.session.add(ReferenceCounter(prefix=counter, year=year, last_value=1))
            value = 1
        except IntegrityError:
            value = db.session.execute(_BUMP, where).scalar_one()
    return format_reference(prefix, year, value, digits)


def format_reference(prefix: str, year: int, value: int, digits: int = 6) -> str:
    """Return the reference "<prefix>-<year>-<number>" of a counter's value."""
    return f"{prefix}-{year}-{value:0{digits}d}"


# ---------------------------------------------------------------- changes


def _lock(ticket_id: int, expected_version: int | None) -> Ticket:
    """Load the ticket for update; refuse when someone changed it meanwhile."""
    return lock_versioned(
        Ticket, ticket_id, expected_version,
        stale=N_("Someone else changed this request a moment ago. Look at it again and retry."),
    )


def lock_versioned(model, row_id: int, expected_version: int | None, *, stale: str):
    """Load a row with a ``version`` column for update (fresh from the database).

    Raises NotFound when it is gone and Conflict with ``stale`` when its
    version is no longer the one the form was built from. Never commits.
    """
    row = db.session.execute(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    if expected_version is not None and row.version != expected_version:
        raise Conflict(stale)
    return row


def _record(
    ticket: Ticket,
    kind: EventKind,
    *,
    actor: User | None,
    now: datetime,
    from_status: Status | None = None,
    to_status: Status | None = None,
    body: str = "",
    data: dict | None = None,
) -> TicketEvent:
    event = TicketEvent(
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        created_at=now,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )
    if ticket.id is None:
        ticket.events.append(event)  # being filed: written with it
    else:
        event.ticket_id = ticket.id
        db.session.add(event)
    return event


def _check(action: Action, ticket: Ticket, actor: User | None) -> Status:
    if actor is not None and not actor.is_active:
        raise PermissionDenied()
    if actor is not None and not can_view(actor, ticket):
        raise NotFound()
    try:
        return workflow.decide(
            action,
            ticket.status,
            relations(actor, ticket),
            status_before_hold=ticket.status_before_hold,
        )
    except TransitionForbidden as refused:
        raise ActionForbidden(refused.message, **refused.params) from None
    except TransitionRefused as refused:
        raise Conflict(refused.message, **refused.params) from None


def _clean_text(value: str | None, *, required_message: str | None, max_len: int = REASON_MAX) -> str:
    text = (value or "").strip()
    if required_message and not text:
        raise ValidationFailed(required_message)
    if len(text) > max_len:
        raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=max_len)
    return text


def transition(
    ticket_id: int,
    action: Action,
    *,
    actor: User | None,
    now: datetime,
    reason: str = "",
    hold_reason: HoldReason | str | None = None,
    resolution_note: str = "",
    materials_used: str = "",
    assignee_id: int | None = None,
    priority: Priority | str | None = None,
    category_id: int | None = None,
    extra_minutes: float | None = None,
    expected_version: int | None = None,
    before_commit: Callable[[Ticket, TicketEvent], None] | None = None,
) -> Ticket:
    """Apply ``action`` to a ticket as ``actor`` (None: the application).

    ``before_commit(ticket, event)`` adds to the same transaction (no
    commit) before the clocks are recomputed: services.materials records
    what a resolution used there. Raises Conflict when the ticket's status
    or the actor's relation to it does not allow the action,
    ValidationFailed for missing or bad details, NotFound when the actor
    cannot see the ticket.
    """
    try:
        ticket = _lock(ticket_id, expected_version)
        event = apply(
            ticket,
            action,
            actor=actor,
            now=now,
            reason=reason,
            hold_reason=hold_reason,
            resolution_note=resolution_note,
            materials_used=materials_used,
            assignee_id=assignee_id,
            priority=priority,
            category_id=category_id,
            extra_minutes=extra_minutes,
        )
        if before_commit is not None:
            before_commit(ticket, event)
        if action is not Action.COMMENT:
            sla._recompute(ticket, now)
        _notify(ticket, action, event, actor=actor, now=now)
        # The actor has acted on the request: what they were told about it is read.
        outbox.mark_acted(actor, now=now, ticket_id=ticket.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def apply(
    ticket: Ticket,
    action: Action,
    *,
    actor: User | None,
    now: datetime,
    reason: str = "",
    hold_reason: HoldReason | str | None = None,
    resolution_note: str = "",
    materials_used: str = "",
    assignee_id: int | None = None,
    priority: Priority | str | None = None,
    category_id: int | None = None,
    extra_minutes: float | None = None,
) -> TicketEvent:
    """Check ``action`` and change the ticket and its history as ``transition`` does; return the event.

    No clocks, notices or commit: ``transition`` adds them, and replaying
    writers (``new_ticket`` … ``write_replayed``) apply whole histories in
    memory. Raises as ``transition``.
    """
    target = _check(action, ticket, actor)
    before = ticket.status
    event = _HANDLERS[action](
        ticket,
        target,
        actor=actor,
        now=now,
        reason=reason,
        hold_reason=hold_reason,
        resolution_note=resolution_note,
        materials_used=materials_used,
        assignee_id=assignee_id,
        priority=priority,
        category_id=category_id,
        extra_minutes=extra_minutes,
    )
    if action is not Action.COMMENT:
        ticket.updated_at = now
        if ticket.status != before:
            _set_milestones(ticket, before, now)
    return event


def write_replayed(tickets: Sequence[tuple[Ticket, sla.CurrentPolicy | None]], now: datetime) -> list[int]:
    """Write tickets built in memory (``new_ticket``, ``apply``) with their events and clocks; return their ids.

    For writers that replay history in bulk (the demo): the clocks are
    computed from each ticket's events at ``now`` by ``sla.start_clocks``,
    as a filing computes them, and the rows go in a few statements instead
    of one transaction per change. Queues no notices; no commit.
    """
    from tracker.services.insight import stats

    ticket_rows, children = [], []
    with stats.collected_marks():
        for ticket, policy in tickets:
            if (policy.version_id if policy else None) != ticket.sla_policy_version_id:
                policy = sla.policy_now(ticket.sla_policy_version_id)  # a category change moved it
            sla.start_clocks(ticket, ticket.events, policy, now)
            ticket_rows.append(_column_values(ticket))
    ids = db.session.execute(
        insert(_TICKETS).returning(_TICKETS.c.id, sort_by_parameter_order=True), ticket_rows
    ).scalars().all()
    for (ticket, _), ticket_id in zip(tickets, ids, strict=True):
        for child in (*ticket.events, *ticket.slas):
            child.ticket_id = ticket_id
        children.extend(ticket.events)
    # Events in the order they happened, as one at a time would have numbered them
    # (a ticket's own keep their order: the sort is stable).
    events = sorted(children, key=lambda e: e.created_at)
    bulk.insert(_EVENTS, [_enum_values(_column_values(e)) for e in events])
    bulk.insert(_TARGETS, [_enum_values(_column_values(row)) for ticket, _ in tickets for row in ticket.slas])
    return list(ids)


def _enum_values(values: dict) -> dict:
    # bulk.insert's COPY takes an enum's value only where the first row has an enum.
    return {key: value.value if isinstance(value, Enum) else value for key, value in values.items()}


def _set_milestones(ticket: Ticket, before: Status, now: datetime) -> None:
    status = ticket.status
    if status is Status.ACCEPTED and ticket.accepted_at is None:
        ticket.accepted_at = now
    elif status is Status.IN_PROGRESS and ticket.arrived_at is None:
        ticket.arrived_at = now
    elif status is Status.RESOLVED:
        ticket.resolved_at = now
    elif status is Status.CLOSED:
        ticket.closed_at = now
    elif status is Status.CANCELLED:
        ticket.cancelled_at = now


def _status_event(ticket, target, *, actor, now, action, body="", data=None):
    before = ticket.status
    ticket.status = target
    return _record(
        ticket,
        EventKind.STATUS_CHANGED,
        actor=actor,
        now=now,
        from_status=before,
        to_status=target,
        body=body,
        data={"action": action.value, **(data or {})},
    )


def _assign(ticket, target, *, actor, now, assignee_id, reason, **_):
    if assignee_id is None:
        raise ValidationFailed(N_("Choose a technician."))
    assignee = db.session.get(User, int(assignee_id))
    if assignee is None or not assignee.is_active or not assignee.has_role(Role.TECHNICIAN, ticket.centre_id):
        raise ValidationFailed(N_("Choose an active technician of this service centre."))
    if ticket.assignee_id == assignee.id and ticket.status is Status.ASSIGNED:
        raise Conflict(N_("This request is already assigned to %(name)s."), name=assignee.display_name)
    note = _clean_text(reason, required_message=None)
    previous = ticket.assignee_id
    before = ticket.status
    ticket.assignee_id = assignee.id
    ticket.status = target
    ticket.status_before_hold = None
    ticket.hold_reason = None
    return _record(
        ticket,
        EventKind.ASSIGNED,
        actor=actor,
        now=now,
        from_status=before,
        to_status=target,
        body=note,
        data={"action": Action.ASSIGN.value, "assignee_id": assignee.id, "previous_assignee_id": previous},
    )


def _take(ticket, target, *, actor, now, **_):
    before = ticket.status
    ticket.assignee_id = actor.id
    ticket.status = target
    return _record(
        ticket,
        EventKind.ASSIGNED,
        actor=actor,
        now=now,
        from_status=before,
        to_status=target,
        data={"action": Action.TAKE.value, "assignee_id": actor.id, "previous_assignee_id": None},
    )


def _plain(ticket, target, *, actor, now, **kwargs):
    action = kwargs["action"]
    return _status_event(ticket, target, actor=actor, now=now, action=action)


def _decline(ticket, target, *, actor, now, reason, **_):
    text = _clean_text(reason, required_message=N_("Say why you decline this request."))
    ticket.assignee_id = None
    return _status_event(ticket, target, actor=actor, now=now, action=Action.DECLINE, body=text)


def _hold(ticket, target, *, actor, now, hold_reason, reason, **_):
    try:
        code = HoldReason(hold_reason)
    except ValueError:
        raise ValidationFailed(N_("Choose why the request is put on hold.")) from None
    if code is HoldReason.AWAITING_CONSENT:
        raise ValidationFailed(N_("Send the requester a quote to wait for their consent; it puts the request on hold."))
    text = _clean_text(
        reason,
        required_message=N_("Describe what the request is waiting for.") if code is HoldReason.OTHER else None,
    )
    ticket.status_before_hold = ticket.status
    ticket.hold_reason = code
    return _status_event(
        ticket, target, actor=actor, now=now, action=Action.HOLD, body=text, data={"hold_reason": code.value}
    )


def _resume(ticket, target, *, actor, now, reason, **_):
    if ticket.hold_reason is HoldReason.AWAITING_CONSENT:
        # No work before the requester answers the quote (DESIGN.md, paid repairs).
        raise Conflict(N_("The requester has not answered the quote yet. Withdraw the quote to go on without it."))
    text = _clean_text(reason, required_message=None)
    reason_code = ticket.hold_reason.value if ticket.hold_reason else None
    ticket.status_before_hold = None
    ticket.hold_reason = None
    return _status_event(
        ticket, target, actor=actor, now=now, action=Action.RESUME, body=text, data={"hold_reason": reason_code}
    )


def _resolve(ticket, target, *, actor, now, resolution_note, materials_used, **_):
    note = _clean_text(
        resolution_note, required_message=N_("Say what was done to resolve the request."), max_len=DESCRIPTION_MAX
    )
    materials = _clean_text(materials_used, required_message=None)
    ticket.resolution_note = note
    ticket.materials_used = materials
    return _status_event(
        ticket,
        target,
        actor=actor,
        now=now,
        action=Action.RESOLVE,
        body=note,
        data={"materials_used": materials} if materials else {},
    )


def hold_for_consent(ticket: Ticket, *, actor: User, now: datetime, body: str, data: dict) -> TicketEvent:
    """Put a ticket on hold for the requester's consent to a quote; no commit, no clocks.

    The caller (services.materials.quotes) has locked the ticket and checked
    who may quote. Raises Conflict when the ticket is not being worked on.
    """
    if ticket.status not in (Status.ACCEPTED, Status.IN_PROGRESS):
        raise Conflict(
            N_("This request is “%(status)s”: a quote is possible only while it is being worked on."),
            status=Label(workflow.STATUS_LABELS[ticket.status]),
        )
    ticket.status_before_hold = ticket.status
    ticket.hold_reason = HoldReason.AWAITING_CONSENT
    ticket.updated_at = now
    return _status_event(ticket, Status.ON_HOLD, actor=actor, now=now, action=Action.HOLD, body=body,
                         data={"hold_reason": HoldReason.AWAITING_CONSENT.value, **data})


def end_consent_hold(ticket: Ticket, *, actor: User, now: datetime, data: dict) -> TicketEvent | None:
    """End a ticket's wait for consent (the quote was answered or withdrawn); no commit, no clocks.

    Returns None when the ticket is not waiting for consent (nothing to end).
    """
    if ticket.status is not Status.ON_HOLD or ticket.hold_reason is not HoldReason.AWAITING_CONSENT:
        return None
    target = ticket.status_before_hold or Status.ACCEPTED
    ticket.status_before_hold = None
    ticket.hold_reason = None
    ticket.updated_at = now
    return _status_event(ticket, target, actor=actor, now=now, action=Action.RESUME,
                         data={"hold_reason": HoldReason.AWAITING_CONSENT.value, **data})


def _confirm(ticket, target, *, actor, now, reason, **_):
    text = _clean_text(reason, required_message=None)
    data = {"automatic": actor is None}
    if actor is None and ticket.resolved_at is not None:
        # The history says how long the request waited: "closed automatically after 3 days".
        data["waited_minutes"] = round((now - ticket.resolved_at).total_seconds() / 60)
    return _status_event(
        ticket, target, actor=actor, now=now, action=Action.CONFIRM, body=text,
        data=data,
    )


def _reopen(ticket, target, *, actor, now, reason, **_):
    text = _clean_text(reason, required_message=N_("Say what is still wrong."))
    return _status_event(ticket, target, actor=actor, now=now, action=Action.REOPEN, body=text)


def _cancel(ticket, target, *, actor, now, reason, **_):
    text = _clean_text(reason, required_message=N_("Say why the request is cancelled."))
    ticket.status_before_hold = None
    ticket.hold_reason = None
    return _status_event(ticket, target, actor=actor, now=now, action=Action.CANCEL, body=text)


def _comment(ticket, target, *, actor, now, reason, **_):
    text = _clean_text(reason, required_message=N_("Write a comment first."), max_len=DESCRIPTION_MAX)
    return _record(ticket, EventKind.COMMENTED, actor=actor, now=now, body=text)


def _reprioritise(ticket, target, *, actor, now, priority, reason, **_):
    try:
        new = Priority(priority)
    except ValueError:
        raise ValidationFailed(N_("Choose a priority.")) from None
    if new == ticket.priority:
        raise ValidationFailed(
            N_("The request already has priority %(priority)s."),
            priority=Label(workflow.PRIORITY_LABELS[new]),
        )
    text = _clean_text(reason, required_message=N_("Say why the priority changes."))
    old = ticket.priority
    ticket.priority = new
    return _record(
        ticket,
        EventKind.PRIORITY_CHANGED,
        actor=actor,
        now=now,
        body=text,
        data={"from": old.value, "to": new.value},
    )


def _recategorise(ticket, target, *, actor, now, category_id, reason, **_):
    category = db.session.get(Category, int(category_id)) if category_id not in (None, "") else None
    if category is None or not category.is_active or category.centre_id != ticket.centre_id:
        raise ValidationFailed(N_("Choose a category of this service centre."))
    if category.id == ticket.category_id:
        raise ValidationFailed(N_("The request already has this category."))
    text = _clean_text(reason, required_message=N_("Say why the category changes."))
    old_category, old_version = ticket.category_id, ticket.sla_policy_version_id
    ticket.category_id = category.id
    old_policy = None
    if old_version is not None:
        from tracker.models import SlaPolicyVersion

        old_policy = db.session.get(SlaPolicyVersion, old_version).policy_id
    # The clock keeps its start and pauses; only a different policy changes
    # the targets it is measured against (DESIGN.md).
    if category.sla_policy_id != old_policy:
        ticket.sla_policy_version_id = sla.current_policy_version_id(category.sla_policy_id, now)
    return _record(
        ticket,
        EventKind.CATEGORY_CHANGED,
        actor=actor,
        now=now,
        body=text,
        data={
            "from": old_category,
            "to": category.id,
            "policy_version_from": old_version,
            "policy_version_to": ticket.sla_policy_version_id,
        },
    )


EXTENSION_MAX_MINUTES = 60 * 24 * 90


def _extend_hold(ticket, target, *, actor, now, extra_minutes, reason, **_):
    try:
        minutes = float(extra_minutes)
    except (TypeError, ValueError):
        minutes = 0.0
    if not 0 < minutes <= EXTENSION_MAX_MINUTES:
        raise ValidationFailed(
            N_("Give the extra hold time in minutes, between 1 and %(max)d."), max=EXTENSION_MAX_MINUTES
        )
    text = _clean_text(reason, required_message=N_("Say why the request may stay on hold longer."))
    return _record(
        ticket,
        EventKind.PAUSE_EXTENDED,
        actor=actor,
        now=now,
        body=text,
        data={"hold_reason": ticket.hold_reason.value, "minutes": minutes},
    )


def _with_action(action, handler):
    def run(ticket, target, **kwargs):
        return handler(ticket, target, action=action, **kwargs)

    return run


_HANDLERS = {
    Action.ASSIGN: _assign,
    Action.TAKE: _take,
    Action.ACCEPT: _with_action(Action.ACCEPT, _plain),
    Action.DECLINE: _decline,
    Action.ARRIVE: _with_action(Action.ARRIVE, _plain),
    Action.HOLD: _hold,
    Action.RESUME: _resume,
    Action.RESOLVE: _resolve,
    Action.CONFIRM: _confirm,
    Action.REOPEN: _reopen,
    Action.CANCEL: _cancel,
    Action.COMMENT: _comment,
    Action.REPRIORITISE: _reprioritise,
    Action.RECATEGORISE: _recategorise,
    Action.EXTEND_HOLD: _extend_hold,
}


def _notify(ticket: Ticket, action: Action, event: TicketEvent, *, actor: User | None, now: datetime) -> None:
    """Queue the notices a change causes, in its transaction (no commit)."""
    db.session.flush()
    found = _notice(ticket, action, event, actor=actor)
    if found is not None:
        notice, people = found
        outbox.queue([notice], {notice.key: people}, now=now)


def _notice(ticket: Ticket, action: Action, event: TicketEvent, *,
            actor: User | None) -> tuple[outbox.Notice, list[int]] | None:
    """Return the notice a change causes and its recipients, or None (the event has its id)."""
    people: list[int] = []
    kind = None
    if action is Action.ASSIGN:
        kind, people = "ticket_assigned", [ticket.assignee_id]
    elif action is Action.RESOLVE:
        kind, people = "ticket_resolved", [ticket.requester_id]
    elif action is Action.REOPEN:
        kind = "ticket_reopened"
        people = [ticket.assignee_id] if ticket.assignee_id else outbox.users_with_role(
            Role.DISPATCHER, ticket.centre_id)
    elif action is Action.DECLINE:
        kind, people = "ticket_declined", outbox.users_with_role(Role.DISPATCHER, ticket.centre_id)
    elif action is Action.COMMENT:
        kind = "ticket_commented"
        if actor is not None and actor.id == ticket.requester_id:
            people = [ticket.assignee_id] if ticket.assignee_id else []
        else:
            people = [ticket.requester_id]
            if ticket.assignee_id:
                people.append(ticket.assignee_id)
    people = sorted({p for p in people if p is not None and (actor is None or p != actor.id)})
    if kind is None or not people:
        return None
    key = f"ticket:{ticket.id}:event:{event.id}"
    payload = {"reference": ticket.reference, "title": ticket.title}
    if action is Action.COMMENT:
        payload["comment"] = event.body[:500]
    elif action is Action.DECLINE:
        payload["reason"] = event.body[:500]
    notice = outbox.Notice(kind=kind, key=key, subject=f"{ticket.reference} {kind}", payload=payload,
                           ticket_id=ticket.id, centre_id=ticket.centre_id, link=f"/tickets/{ticket.reference}")
    return notice, people


def add_comment(ticket_id: int, *, actor: User, body: str, now: datetime) -> Ticket:
    """Append a comment to a ticket's history."""
    return transition(ticket_id, Action.COMMENT, actor=actor, now=now, reason=body)


def user_names(user_ids) -> dict[int, str]:
    """Return display names for the given user ids (None ids are skipped)."""
    ids = {int(i) for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
