"""Replay a period of requests under a draft: the outcomes they would have had, beside the stored ones.

Nothing is written: the stored events are read in chunks (keyset over the
ticket id, events and stored targets fetched per chunk) and each request's
clocks are rebuilt with the live code: ``sla.facts_from`` for the facts,
``sla.build_policy`` for the policy, ``sla_clock.evaluate`` for the
clocks. The memory used does not grow with the period: only the counters
and a bounded list of flips are kept.

Which requests, and where an outcome counts (docs/standards.md): the
figures are the dashboard's. A target counts in the period when its outcome
falls in it (met: its milestone; late: its deadline). Every request that
can have an outcome in the period is replayed: filed before its end, and
not closed or cancelled before its start. "Still open" counts the targets
of requests filed in the period that have no outcome yet.

Which rules: a request is replayed under the draft's definition for its
final category, else for its final policy (the one its category uses now),
else under the version it ran under. A priority change is measured as live:
each target against the priority the request had at its milestone (or now).
Each target's calendar is the draft's calendar of that code if the draft
has one, else the calendar version the request pinned for it when that
version is of the same calendar, else the calendar's current version. With
no draft (``Draft()``), each request runs under exactly the versions it ran
under, and the result equals the stored outcomes: ``differences`` is empty.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import DateTime, String, and_, func, or_, select, type_coerce

from tracker.collector import collector_paused
from tracker.domain.calendar import BusinessCalendar
from tracker.domain.i18n import N_
from tracker.domain.sla_clock import Target, TargetState, evaluate
from tracker.domain.workflow import Priority, Status
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Calendar,
    CalendarVersion,
    Category,
    Centre,
    EventKind,
    SlaPolicy,
    SlaPolicyVersion,
    Ticket,
    TicketEvent,
    TicketSla,
)
from tracker.services.insight import reports
from tracker.services.insight.reports import Filters
from tracker.services.sla import clocks as sla
from tracker.services.sla.standards import promises
from tracker.services.sla.standards.draft import Draft
from tracker.services.sla.sweep import escalation_rules

# The events the clock reads (sla.facts_from); comments and the like are not fetched.
CLOCK_EVENTS = (EventKind.FILED, EventKind.ASSIGNED, EventKind.STATUS_CHANGED, EventKind.PRIORITY_CHANGED,
                EventKind.PAUSE_EXTENDED)
# The keys of TicketEvent.data that sla.facts_from and the source-deadline policy read.
_DATA_KEYS = ("priority", "hold_reason", "automatic", "to", "minutes", "source_due_at")
CHUNK_SIZE = 2000
FLIPS_KEPT = 500
DIFFERENCES_KEPT = 20
_COUNTED = (TargetState.MET, TargetState.BREACHED)
_OPEN = (TargetState.RUNNING, TargetState.PAUSED)


class _Event:
    """The columns of a TicketEvent that facts_from and the source-deadline policy read."""

    __slots__ = ("kind", "created_at", "to_status", "data")

    def __init__(self, kind, created_at, to_status, data):
        self.kind, self.created_at, self.to_status, self.data = kind, created_at, to_status, data


def candidates(filters: Filters):
    """Return the WHERE clause of the requests that can have an outcome in the period."""
    start, end = filters.bounds
    finished = or_(
        and_(Ticket.status == Status.CLOSED, Ticket.closed_at < start),
        and_(Ticket.status == Status.CANCELLED, Ticket.cancelled_at < start),
    )
    return and_(Ticket.created_at < end, ~finished, reports.ticket_where(filters))


def count_candidates(filters: Filters) -> int:
    return db.session.execute(select(func.count()).select_from(Ticket).where(candidates(filters))).scalar_one()


class Rules:
    """The stored versions and calendars, read once per replay, and the draft: which Policy a request runs under."""

    def __init__(self, draft: Draft):
        self.draft = draft
        self.versions = {
            version_id: (code, definition)
            for version_id, code, definition in db.session.execute(
                select(SlaPolicyVersion.id, SlaPolicy.code, SlaPolicyVersion.definition).join(
                    SlaPolicy, SlaPolicy.id == SlaPolicyVersion.policy_id
                )
            )
        }
        self.category_policy = dict(db.session.execute(select(Category.id, Category.sla_policy_id)).all())
        self.policy_codes = dict(db.session.execute(select(SlaPolicy.id, SlaPolicy.code)).all())
        self.calendar_code_of_version = dict(
            db.session.execute(
                select(CalendarVersion.id, Calendar.code).join(Calendar, Calendar.id == CalendarVersion.calendar_id)
            ).all()
        )
        self.current_calendar = dict(db.session.execute(select(Calendar.code, Calendar.current_version_id)).all())
        self._policies: dict[tuple, object] = {}

    def resolve(self, key) -> BusinessCalendar:
        if isinstance(key, tuple):  # ("draft", code)
            return self.draft.calendars[key[1]]
        return sla.calendar_version(key)

    def stored(self, version_id: int, rows: dict[Target, tuple]):
        """Return (policy code, definition, Policy) of a request's own version, calendars as sla._calendar_versions."""
        code, definition = self.versions[version_id]
        calendars = {}
        for name, rule in definition.get("targets", {}).items():
            target = Target(name)
            pinned = rows.get(target)
            calendars[target] = (
                pinned[0] if pinned is not None and pinned[1] == version_id else self.current_calendar[rule["calendar"]]
            )
        return code, definition, self._policy(("stored", version_id), definition, calendars)

    def drafted(self, category_id: int, version_id: int | None, rows: dict[Target, tuple]):
        """Return (policy code, definition, Policy) under the draft; None when the request has no policy."""
        definition = self.draft.categories.get(category_id)
        code = None
        if definition is None:
            policy_id = self.category_policy.get(category_id)
            code = self.policy_codes.get(policy_id) if policy_id is not None else None
            if code is None and version_id is not None:
                code = self.versions[version_id][0]
            definition = self.draft.policies.get(code)
            if definition is None:
                return self.stored(version_id, rows) if version_id is not None else None
            key = ("policy", code)
        else:
            key = ("category", category_id)
            policy_id = self.category_policy.get(category_id)
            code = self.policy_codes.get(policy_id) if policy_id is not None else (
                self.versions[version_id][0] if version_id is not None else "")
        calendars = {}
        for name, rule in definition.get("targets", {}).items():
            target, calendar_code = Target(name), rule["calendar"]
            if calendar_code in self.draft.calendars:
                calendars[target] = ("draft", calendar_code)
                continue
            pinned = rows.get(target)
            if pinned is not None and self.calendar_code_of_version.get(pinned[0]) == calendar_code:
                calendars[target] = pinned[0]
            else:
                calendars[target] = self.current_calendar[calendar_code]
        return code, definition, self._policy(key, definition, calendars)

    def _policy(self, key: tuple, definition: dict, calendars: dict):
        cache_key = (key, tuple(sorted((t.value, str(c)) for t, c in calendars.items())))
        policy = self._policies.get(cache_key)
        if policy is None:
            policy = self._policies[cache_key] = sla.build_policy(definition, calendars, resolve=self.resolve)
        return policy


# Enum members bound once: reading ``TargetState.MET`` on the class costs
# about as much as the comparison it feeds, eight times a request.
_MET, _BREACHED, _PENDING, _CANCELLED, _PAUSED = (TargetState.MET, TargetState.BREACHED, TargetState.PENDING,
                                                  TargetState.CANCELLED, TargetState.PAUSED)


class _Side:
    """The counters of one side (stored or replayed)."""

    def __init__(self):
        # (centre_id, category_id, priority) -> {target: [met, late, open, promised share]}: one
        # lookup a request and side, not one a target (the groups are as many as the catalogue's).
        self.groups: dict[tuple, dict[Target, list]] = {}
        self.workload = {"at_risk": 0, "level_2": 0, "level_3": 0}

    def group(self, key: tuple) -> dict[Target, list]:
        cells = self.groups.get(key)
        if cells is None:
            cells = self.groups[key] = {}
        return cells

    def cells(self):
        """Yield ((centre_id, category_id, priority, target value), [met, late, open, share])."""
        for group, cells in self.groups.items():
            for target, cell in cells.items():
                yield (*group, target.value), cell


def _count(side: _Side, cells: dict[Target, list], target: Target, outcome, counting: tuple, filed_in_period: bool,
           start: datetime, end: datetime, now: datetime) -> None:
    """Count one target's outcome (a stored row or a replayed Clock); ``counting``: (share, leadership delay)."""
    share, leadership_delay = counting
    cell = cells.get(target)
    if cell is None:
        cell = cells[target] = [0, 0, 0, share]
    elif cell[3] is None:
        cell[3] = share  # the first promised share counted for the cell
    state, due_at, milestone_at = outcome.state, outcome.due_at, outcome.milestone_at
    if state is _MET:
        if milestone_at is not None and start <= milestone_at < end:
            cell[0] += 1
    elif state is _BREACHED:
        if due_at is not None and start <= due_at < end:
            cell[1] += 1
    elif state in _OPEN and filed_in_period:
        cell[2] += 1
    # The notices the sweep raises while a target is open (sla_sweep): at
    # risk (level 1), breached (level 2), still breached after the
    # leadership delay (level 3); acknowledgements are not replayed.
    if state is _PENDING or due_at is None:
        return
    stop = milestone_at or now
    at_risk_at = outcome.at_risk_at
    if at_risk_at is not None and start <= at_risk_at < end and at_risk_at < stop and state is not _CANCELLED:
        side.workload["at_risk"] += 1
    if state is _BREACHED:
        if start <= due_at < end:
            side.workload["level_2"] += 1
        leadership = due_at + leadership_delay
        if start <= leadership < end and leadership < stop:
            side.workload["level_3"] += 1


def _counting(definition: dict) -> dict[Target, tuple]:
    """Return per target of a definition what counting reads: (promised share, leadership delay)."""
    delay = timedelta(minutes=float(escalation_rules(definition).get("leadership_after_minutes", 120)))
    targets = definition.get("targets", {})
    return {target: (targets.get(target.value, {}).get("share"), delay) for target in Target}


def _differs(stored, replayed) -> bool:
    """Return whether a stored row and a replayed Clock (or two outcomes) differ."""
    if (stored.state != replayed.state or stored.milestone_at != replayed.milestone_at
            or stored.priority != replayed.priority or stored.target_minutes != replayed.target_minutes):
        return True
    # A paused clock's due_at is a projection from the instant it was computed
    # (resumed then, it would be due then): it moves on with the calendar while
    # the clock stands still, so it is no outcome to compare.
    return stored.state != _PAUSED and stored.due_at != replayed.due_at


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(column, type_):
    """Return ``column`` read without its Python-side type processing on PostgreSQL (converted here).

    Per row the enum and UTC decorators cost more than the clock itself;
    psycopg already returns aware datetimes. SQLite returns text: keep the
    column's own processing there.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return type_coerce(column, type_)
    return column


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)


_KINDS = {kind.value: kind for kind in EventKind}
_STATUSES = {status.value: status for status in Status}
_TARGETS = {target.value: target for target in Target}
_STATES = {state.value: state for state in TargetState}
_PRIORITIES = {priority.value: priority for priority in Priority}


class _Ticket:
    __slots__ = ("id", "reference", "centre_id", "category_id", "priority", "sla_policy_version_id", "created_at")

    def __init__(self, row):
        (self.id, self.reference, self.centre_id, self.category_id, priority, self.sla_policy_version_id,
         created_at) = row
        self.priority = _PRIORITIES[priority]
        self.created_at = _utc(created_at)


class _Stored:
    """A stored ticket_slas row, as the replay reads it."""

    __slots__ = ("target", "policy_version_id", "calendar_version_id", "state", "priority", "target_minutes",
                 "due_at", "at_risk_at", "milestone_at")

    def __init__(self, row):
        (target, self.policy_version_id, self.calendar_version_id, state, priority, self.target_minutes,
         due_at, at_risk_at, milestone_at) = row
        self.target, self.state, self.priority = _TARGETS[target], _STATES[state], _PRIORITIES[priority]
        self.due_at, self.at_risk_at, self.milestone_at = _utc(due_at), _utc(at_risk_at), _utc(milestone_at)


def chunks(where, chunk_size: int = CHUNK_SIZE):
    """Yield (tickets, their clock events by id, their stored targets by id) in id order, a chunk at a time.

    Keyset over the ticket id: each chunk is one query for the tickets, one
    for their events (ordered by ticket) and one for their stored targets;
    nothing is kept between chunks. On PostgreSQL the events and targets
    are read as plain tuples from the driver's cursor (no SQLAlchemy row
    processing: it cost more than the clock).
    """
    string, when = String(), DateTime(timezone=True)
    ticket_columns = (Ticket.id, Ticket.reference, Ticket.centre_id, Ticket.category_id,
                      _plain(Ticket.priority, string), Ticket.sla_policy_version_id, _plain(Ticket.created_at, when))
    is_postgres = db.session.get_bind().dialect.name == "postgresql"
    if not is_postgres:
        yield from _chunks_portable(where, ticket_columns, chunk_size)
        return
    # ``data`` as text, decoded here only when facts_from or the source-deadline
    # policy reads it: on PostgreSQL each ->> on a json column parses the whole
    # document again, which cost more than the clock itself.
    events_sql = (
        f"SELECT ticket_id, kind, created_at, to_status, data::text FROM {TicketEvent.__tablename__}"
        " WHERE ticket_id = ANY(%s::integer[]) AND kind = ANY(%s) ORDER BY ticket_id, id"
    )
    slas_sql = (
        "SELECT ticket_id, target, policy_version_id, calendar_version_id, state, priority, target_minutes,"
        f" due_at, at_risk_at, milestone_at FROM {TicketSla.__tablename__} WHERE ticket_id = ANY(%s::integer[])"
        " ORDER BY ticket_id, target"
    )
    kinds = [kind.value for kind in CLOCK_EVENTS]
    kinds_of, statuses, targets, states, priorities = _KINDS, _STATUSES, _TARGETS, _STATES, _PRIORITIES
    status_kinds, on_hold, no_data, loads = (EventKind.ASSIGNED, EventKind.STATUS_CHANGED), Status.ON_HOLD, {}, json.loads
    last_id = 0
    while True:
        connection = db.session.connection()
        # psycopg then returns datetime.UTC instants, compared and computed in
        # UTC (converting each from the server's zone cost more than the clock's
        # own reads; the events' and targets' instants are used as read).
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        tickets = [
            _Ticket(row)
            for row in connection.execute(
                select(*ticket_columns).where(where, Ticket.id > last_id).order_by(Ticket.id).limit(chunk_size)
            )
        ]
        if not tickets:
            return
        ids = [t.id for t in tickets]
        last_id = ids[-1]
        # The ids as one array literal: psycopg dumps a list of ints element by element, in Python.
        id_array = "{" + ",".join(map(str, ids)) + "}"
        # Binary results: the instants and integers are read without parsing text.
        cursor = connection.connection.cursor(binary=True)
        try:
            events: dict[int, list[_Event]] = {}
            current_id, current = None, None
            for ticket_id, kind, created_at, to_status, data in cursor.execute(events_sql, (id_array, kinds)).fetchall():
                if ticket_id != current_id:
                    current_id, current = ticket_id, []
                    events[ticket_id] = current
                kind = kinds_of[kind]
                status = None if to_status is None else statuses[to_status]
                # A status change's data is read for its hold reason (on hold) and
                # whether it was automatic (the services write {"automatic": false}
                # for a requester's confirmation: no data to read); other kinds' data always.
                if kind not in status_kinds or status is on_hold or (
                        "automatic" in data and '"automatic": false' not in data):
                    data = loads(data)
                else:
                    data = no_data
                current.append(_Event(kind, created_at, status, data))
            rows: dict[int, dict[Target, _Stored]] = {}
            for (ticket_id, target, policy_version_id, calendar_version_id, state, priority, target_minutes,
                 due_at, at_risk_at, milestone_at) in cursor.execute(slas_sql, (id_array,)).fetchall():
                row = _Stored.__new__(_Stored)
                row.target, row.policy_version_id, row.calendar_version_id = (targets[target], policy_version_id,
                                                                              calendar_version_id)
                row.state, row.priority, row.target_minutes = states[state], priorities[priority], target_minutes
                row.due_at, row.at_risk_at, row.milestone_at = due_at, at_risk_at, milestone_at
                per_ticket = rows.get(ticket_id)
                if per_ticket is None:
                    per_ticket = rows[ticket_id] = {}
                per_ticket[row.target] = row
        finally:
            cursor.close()
        yield tickets, events, rows


def _chunks_portable(where, ticket_columns, chunk_size: int):
    """``chunks`` through SQLAlchemy's own types (SQLite returns instants as text)."""
    event_columns = (TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.created_at, TicketEvent.to_status,
                     *(TicketEvent.data[key].as_string() for key in _DATA_KEYS))
    sla_columns = (TicketSla.ticket_id, TicketSla.target, TicketSla.policy_version_id,
                   TicketSla.calendar_version_id, TicketSla.state, TicketSla.priority,
                   TicketSla.target_minutes, TicketSla.due_at, TicketSla.at_risk_at, TicketSla.milestone_at)
    last_id = 0
    while True:
        tickets = [
            _Ticket(row)
            for row in db.session.execute(
                select(*ticket_columns).where(where, Ticket.id > last_id).order_by(Ticket.id).limit(chunk_size)
            )
        ]
        if not tickets:
            return
        ids = [t.id for t in tickets]
        last_id = ids[-1]
        events: dict[int, list[_Event]] = defaultdict(list)
        for ticket_id, kind, created_at, to_status, *values in db.session.execute(
            select(*event_columns)
            .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(CLOCK_EVENTS))
            .order_by(TicketEvent.ticket_id, TicketEvent.id)
        ):
            data = {key: value for key, value in zip(_DATA_KEYS, values, strict=True) if value is not None}
            if "automatic" in data:
                data["automatic"] = data["automatic"] in ("true", "1", 1, True)
            events[ticket_id].append(_Event(kind, _utc(created_at), to_status, data))
        rows: dict[int, dict[Target, _Stored]] = defaultdict(dict)
        for ticket_id, *values in db.session.execute(
            select(*sla_columns).where(TicketSla.ticket_id.in_(ids)).order_by(TicketSla.ticket_id, TicketSla.target)
        ):
            row = _Stored(values)
            rows[ticket_id][row.target] = row
        yield tickets, events, rows


def run(filters: Filters, draft: Draft, now: datetime, *, progress: Callable[[int, int], None] | None = None,
        chunk_size: int = CHUNK_SIZE, id_range: tuple[int, int] | None = None, total: int | None = None) -> dict:
    """Replay the period under ``draft`` at ``now``; return the result (docs/standards.md). Writes nothing.

    ``id_range`` (first, last ticket id, inclusive) restricts the replay to a
    slice of the requests (one process's share). Raises ValidationFailed
    when no request can have an outcome in the period.
    """
    with collector_paused():
        return _run(filters, draft, now, progress=progress, chunk_size=chunk_size, id_range=id_range, total=total)


def _run(filters: Filters, draft: Draft, now: datetime, *, progress, chunk_size: int,
         id_range: tuple[int, int] | None, total: int | None) -> dict:
    start, end = filters.bounds
    where = candidates(filters)
    if id_range is not None:
        where = and_(where, Ticket.id >= id_range[0], Ticket.id <= id_range[1])
    if total is None:
        total = db.session.execute(select(func.count()).select_from(Ticket).where(where)).scalar_one()
        if total == 0 and id_range is None:
            raise ValidationFailed(N_("No request was filed or measured in this period."))
    # The same instants in UTC, the zone of the instants read and computed:
    # comparing datetimes of two zones asks each for its offset, every time.
    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    rules = Rules(draft)
    stored_side, draft_side = _Side(), _Side()
    flips: list[dict] = []
    flip_counts = {"met_to_late": 0, "late_to_met": 0}
    differences: list[dict] = []
    changed = 0
    done = 0
    # Per stored version: what counting reads. Per (category, version, pinned
    # calendars): the rules a request runs under, with what counting reads.
    # Both stay as small as the catalogue: they do not grow with the period.
    stored_counting: dict[int, dict[Target, tuple]] = {}
    chosen_rules: dict[tuple, tuple | None] = {}
    no_rows: dict = {}
    for tickets, events, rows in chunks(where, chunk_size):
        for ticket in tickets:
            done += 1
            stored_rows = rows.get(ticket.id, no_rows)
            filed_in_period = start <= ticket.created_at < end
            category_id = ticket.category_id
            group = (ticket.centre_id, category_id, ticket.priority.value)
            cells = stored_side.group(group)
            for target, row in stored_rows.items():
                counting = stored_counting.get(row.policy_version_id)
                if counting is None:
                    counting = stored_counting[row.policy_version_id] = _counting(
                        rules.versions[row.policy_version_id][1])
                _count(stored_side, cells, target, row, counting[target], filed_in_period, start, end, now)
            ticket_events = events.get(ticket.id)
            replayed: dict = no_rows
            if ticket_events:
                rules_key = (category_id, ticket.sla_policy_version_id,
                             tuple([(t, r.calendar_version_id, r.policy_version_id) for t, r in stored_rows.items()]))
                if rules_key in chosen_rules:
                    chosen = chosen_rules[rules_key]
                else:
                    chosen = rules.drafted(category_id, ticket.sla_policy_version_id,
                                           {t: (r.calendar_version_id, r.policy_version_id)
                                            for t, r in stored_rows.items()})
                    if chosen is not None:
                        chosen = (chosen[0], chosen[2], _counting(chosen[1]))
                    if len(chosen_rules) > 10000:
                        chosen_rules.clear()
                    chosen_rules[rules_key] = chosen
                if chosen is not None:
                    code, policy, counting = chosen
                    policy = sla.policy_for_ticket(policy, code, ticket_events)
                    replayed = evaluate(policy, sla.facts_from(ticket_events), now)
                    cells = draft_side.group(group)
                    for target, clock in replayed.items():
                        _count(draft_side, cells, target, clock, counting[target], filed_in_period, start, end, now)
            # What changed against the stored outcomes, and which outcomes flip.
            if stored_rows.keys() == replayed.keys():
                for target, row in stored_rows.items():
                    if _differs(row, replayed[target]):
                        break
                else:
                    continue
            changed += 1
            for target in sorted(stored_rows.keys() | replayed.keys()):
                before, outcome = stored_rows.get(target), replayed.get(target)
                if before is None or outcome is None or _differs(before, outcome):
                    if len(differences) < DIFFERENCES_KEPT:
                        differences.append({"ticket_id": ticket.id, "reference": ticket.reference,
                                            "target": target.value, "stored": _outcome_dict(before),
                                            "replayed": _outcome_dict(outcome)})
                if before is None or outcome is None:
                    continue
                if before.state in _COUNTED and outcome.state in _COUNTED and before.state is not outcome.state:
                    direction = "met_to_late" if before.state is TargetState.MET else "late_to_met"
                    flip_counts[direction] += 1
                    if len(flips) < FLIPS_KEPT:
                        flips.append({"ticket_id": ticket.id, "reference": ticket.reference, "target": target.value,
                                      "direction": direction, "milestone_at": _iso(outcome.milestone_at),
                                      "stored_due_at": _iso(before.due_at), "draft_due_at": _iso(outcome.due_at)})
        if progress is not None:
            progress(done, total)
    return {
        "requests": done,
        "changed_requests": changed,
        "differences": differences,
        "flips": {**flip_counts, "items": flips},
        "stored": _side_dict(stored_side),
        "draft": _side_dict(draft_side),
    }


def _outcome_dict(outcome) -> dict | None:
    if outcome is None:
        return None
    return {"state": outcome.state.value, "priority": outcome.priority.value,
            "target_minutes": outcome.target_minutes, "due_at": _iso(outcome.due_at),
            "milestone_at": _iso(outcome.milestone_at)}


def _side_dict(side: _Side) -> dict:
    cells = list(side.cells())
    return {
        "figures": [[*key, met, late, still_open] for key, (met, late, still_open, _share) in cells],
        "shares": [[*key, share] for key, (_met, _late, _open, share) in cells if share is not None],
        "workload": dict(side.workload),
    }


def merge(parts: list[dict]) -> dict:
    """Return one raw result from the results of slices of the requests (``run`` with ``id_range``)."""
    result = {"requests": 0, "changed_requests": 0, "differences": [],
              "flips": {"met_to_late": 0, "late_to_met": 0, "items": []}}
    for name in ("stored", "draft"):
        figures: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
        shares: dict[tuple, float] = {}
        workload = {"at_risk": 0, "level_2": 0, "level_3": 0}
        for part in parts:
            for *key, met, late, still_open in part[name]["figures"]:
                counts = figures[tuple(key)]
                counts[0] += met
                counts[1] += late
                counts[2] += still_open
            for *key, share in part[name]["shares"]:
                shares.setdefault(tuple(key), share)
            for level, number in part[name]["workload"].items():
                workload[level] += number
        result[name] = {"figures": [[*k, *v] for k, v in figures.items()],
                        "shares": [[*k, s] for k, s in shares.items()], "workload": workload}
    for part in parts:
        result["requests"] += part["requests"]
        result["changed_requests"] += part["changed_requests"]
        result["differences"] = (result["differences"] + part["differences"])[:DIFFERENCES_KEPT]
        for direction in ("met_to_late", "late_to_met"):
            result["flips"][direction] += part["flips"][direction]
        result["flips"]["items"] = (result["flips"]["items"] + part["flips"]["items"])[:FLIPS_KEPT]
    return result


def report(raw: dict, filters: Filters, draft: Draft, now: datetime) -> dict:
    """Return the replay's result as written (JSON): figures per centre, category, priority and target, both sides."""
    centres = dict(db.session.execute(select(Centre.id, Centre.code)).all())
    categories = dict(db.session.execute(select(Category.id, Category.code)).all())
    stored = {tuple(f[:4]): f[4:] for f in raw["stored"]["figures"]}
    drafted = {tuple(f[:4]): f[4:] for f in raw["draft"]["figures"]}
    stored_shares = {tuple(s[:4]): s[4] for s in raw["stored"]["shares"]}
    draft_shares = {tuple(s[:4]): s[4] for s in raw["draft"]["shares"]}
    rows = []
    totals: dict[str, dict] = {}
    for key in sorted(set(stored) | set(drafted), key=lambda k: (centres.get(k[0], ""), categories.get(k[1], ""),
                                                                    list(Priority).index(Priority(k[2])),
                                                                    list(Target).index(Target(k[3])))):
        centre_id, category_id, priority, target = key
        row = {"centre": centres.get(centre_id), "category": categories.get(category_id), "priority": priority,
               "target": target, "stored": _figures(stored.get(key, [0, 0, 0])),
               "draft": _figures(drafted.get(key, [0, 0, 0])),
               "stored_share": stored_shares.get(key), "draft_share": draft_shares.get(key)}
        rows.append(row)
        for name in ("stored", "draft"):
            total = totals.setdefault(target, {"stored": [0, 0, 0], "draft": [0, 0, 0]})[name]
            for index, field in enumerate(("met", "late", "open")):
                total[index] += row[name][field]
    return {
        "as_of": now.isoformat(),
        "period": {"first": filters.first.isoformat(), "last": filters.last.isoformat(),
                   "centre": centres.get(filters.centre_id), "category": categories.get(filters.category_id),
                   "priority": filters.priority},
        "mode": "current" if draft.is_current else "draft",
        "requests": raw["requests"],
        "changed_requests": raw["changed_requests"],
        "differences": raw["differences"],
        "rows": rows,
        "totals": {target: {name: _figures(values) for name, values in sides.items()}
                   for target, sides in totals.items()},
        "flips": raw["flips"],
        "workload": {"stored": raw["stored"]["workload"], "draft": raw["draft"]["workload"]},
        "benchmarks": _against_benchmarks(drafted, filters, draft, now),
    }


def _against_benchmarks(drafted: dict, filters: Filters, draft: Draft, now: datetime) -> list[dict]:
    """Return the draft's met % per centre and target beside the benchmarks linked to the centre's standard.

    The dashboards' comparison (promises.compare_draft), with the draft's
    policies standing in for the versions in force at the period's end.
    """
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    for (centre_id, _category_id, _priority, target), (met, late, _open) in drafted.items():
        before = counts.get((centre_id, target), (0, 0))
        counts[(centre_id, target)] = (before[0] + met, before[1] + late)
    centre_ids = sorted({key[0] for key in counts} | ({filters.centre_id} if filters.centre_id else set()))
    comparisons = promises.compare_draft(counts, centre_ids, promises.standard_instant(filters, now),
                                         draft.policies)
    return [comparison.as_dict() for comparison in comparisons]


def _figures(counts) -> dict:
    met, late, still_open = counts
    measured = met + late
    return {"measured": measured, "met": met, "late": late, "open": still_open,
            "met_percent": round(100.0 * met / measured, 2) if measured else None}


def filters_for(first: date, last: date, *, centre_code: str | None = None, centre_id: int | None = None) -> Filters:
    """Return the replay's period and centre as dashboard Filters; ValidationFailed for a bad period or centre."""
    if last < first:
        raise ValidationFailed(N_("The period ends before it starts."))
    if centre_code:
        centre_id = db.session.execute(select(Centre.id).where(Centre.code == centre_code)).scalar_one_or_none()
        if centre_id is None:
            raise ValidationFailed(N_("There is no centre %(code)s."), code=centre_code)
    return Filters(first=first, last=last, centre_id=centre_id)


def replay(filters: Filters, draft: Draft, now: datetime, *, progress=None, chunk_size: int = CHUNK_SIZE,
           processes: int = 1) -> dict:
    """Replay the period under ``draft`` and return the written result.

    ``processes`` > 1 splits the requests by id into slices replayed by
    forked processes, each on its own connection (the caller's session is
    closed first: uncommitted rows are not seen). Raises ValidationFailed
    when no request can have an outcome in the period.
    """
    if processes <= 1:
        return report(run(filters, draft, now, progress=progress, chunk_size=chunk_size), filters, draft, now)
    where = candidates(filters)
    total, low, high = db.session.execute(select(func.count(), func.min(Ticket.id), func.max(Ticket.id))
                                          .where(where)).one()
    if total == 0:
        raise ValidationFailed(N_("No request was filed or measured in this period."))
    # Equal shares of the requests, not of the id range: cut at the ids that split them.
    cuts = [low]
    for index in range(1, processes):
        cut = db.session.execute(select(Ticket.id).where(where).order_by(Ticket.id)
                                 .offset(total * index // processes).limit(1)).scalar_one()
        cuts.append(cut)
    ranges = [(cuts[i], (cuts[i + 1] - 1) if i + 1 < len(cuts) else high) for i in range(len(cuts))]
    raw = _in_processes(filters, draft, now, ranges, total, progress, chunk_size)
    return report(raw, filters, draft, now)


def _in_processes(filters, draft, now, ranges, total, progress, chunk_size) -> dict:
    import multiprocessing
    import os
    import queue as queues

    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    db.session.close()  # no connection is shared with the children
    workers = [context.Process(target=_slice, args=(index, filters, draft, now, rng, chunk_size, messages),
                               daemon=True)
               for index, rng in enumerate(ranges)]
    for worker in workers:
        worker.start()
    done = dict.fromkeys(range(len(ranges)), 0)
    parts: list[dict] = []
    failed = None
    try:
        while len(parts) < len(workers) and failed is None:
            try:
                index, kind, value = messages.get(timeout=5)
            except queues.Empty:
                if not any(w.is_alive() for w in workers) and messages.empty():
                    failed = "a replay process ended without its result"
                continue
            if kind == "progress":
                done[index] = value
                if progress is not None:
                    progress(sum(done.values()), total)  # may raise: the children are stopped below
            elif kind == "done":
                parts.append(value)
            else:
                failed = value
    finally:
        for worker in workers:
            worker.join(timeout=5 if failed is None and len(parts) == len(workers) else 0)
            if worker.is_alive():
                os.kill(worker.pid, 15)
    if failed is not None:
        raise RuntimeError(failed)
    return merge(parts)


def _slice(index, filters, draft, now, rng, chunk_size, messages) -> None:
    """Replay one slice of the requests in a forked process; put its raw result on ``messages``."""
    try:
        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        raw = run(filters, draft, now, id_range=rng, total=0, chunk_size=chunk_size,
                  progress=lambda done, _total: messages.put((index, "progress", done)))
        messages.put((index, "done", raw))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        messages.put((index, "error", f"{type(error).__name__}: {error}"))
    finally:
        db.session.remove()
