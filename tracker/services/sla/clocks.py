"""SLA policies and calendars as stored, and each ticket's clocks.

The clock itself is pure (``tracker.domain.sla_clock``); this module turns
stored versions into domain values, a ticket's events into facts, and the
result into ``ticket_slas`` rows. ``_recompute`` runs inside the caller's
transaction after every change to a ticket, so the stored state is never
behind the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, case, delete, func, select, update

from tracker.domain.calendar import BusinessCalendar
from tracker.domain.sla_clock import Clock, Fact, PauseRule, Policy, Target, TargetRule, TargetState, evaluate
from tracker.domain.workflow import OPEN_STATUSES, HoldReason, Priority, Status
from tracker.extensions import db
from tracker.models import (
    Calendar,
    CalendarVersion,
    Escalation,
    EventKind,
    SlaPolicy,
    SlaPolicyVersion,
    Ticket,
    TicketEvent,
    TicketSla,
    VersionStatus,
)
from tracker.models.types import UTCDateTime

_OPEN_STATES = (TargetState.RUNNING, TargetState.PAUSED)


# ---------------------------------------------------------------- versions


# Calendar versions never change, so their BusinessCalendar (with its laid
# out working time) is built once per process. Ids are per database: a test
# run that recreates the database clears this (``forget_calendars``).
_calendars: dict[int, BusinessCalendar] = {}


def calendar_version(version_id: int) -> BusinessCalendar:
    """Return the BusinessCalendar of a stored calendar version."""
    calendar = _calendars.get(version_id)
    if calendar is None:
        version = db.session.get(CalendarVersion, version_id)
        calendar = BusinessCalendar.from_dict(version.definition)
        if len(_calendars) > 512:
            _calendars.clear()
        _calendars[version_id] = calendar
    return calendar


def calendar_definition(version_id: int) -> dict:
    """Return the definition of a stored calendar version (read once per process)."""
    return _stored_definition(_calendar_definitions, CalendarVersion, version_id)


# The database's address by engine, written out once: an engine's URL hashes
# by rendering itself as text, which cost a filing about 1 % of its CPU (issue 20).
_database_names: WeakKeyDictionary = WeakKeyDictionary()


def _database() -> str:
    """Return the address of the session's database (without its password), as the key of what is kept per database."""
    engine = db.session.get_bind()
    name = _database_names.get(engine)
    if name is None:
        name = _database_names[engine] = engine.url.render_as_string(hide_password=True)
    return name


def _stored_definition(kept: dict, model, version_id: int) -> dict:
    """Return ``model``'s definition for ``version_id`` from ``kept``, read from the database the first time.

    Stored versions never change: the key is the database and the id.
    """
    key = (_database(), version_id)
    definition = kept.get(key)
    if definition is None:
        definition = db.session.execute(select(model.definition).where(model.id == version_id)).scalar_one()
        if len(kept) > 512:
            kept.clear()
        kept[key] = definition
    return definition


_calendar_definitions: dict[tuple, dict] = {}


def forget_calendars() -> None:
    """Drop cached calendars and policy versions (tests that recreate the database)."""
    global _current_calendars
    _calendars.clear()
    _calendar_definitions.clear()
    _policy_definitions.clear()
    _current_calendars = ((), {})


def current_calendar_version_id(code: str) -> int:
    """Return the current version id of the calendar with ``code``."""
    calendar = db.session.execute(select(Calendar).where(Calendar.code == code)).scalar_one()
    return calendar.current_version_id


# Filing a ticket needs its policy's current version and, per target, the
# current version of a calendar named by code. Versions never change, so
# their definitions are kept per process by id. Which version is current
# changes when an administrator saves a calendar (sla_config), in any
# process: that always adds a version row and never deletes one, so the
# number of calendar versions, read with each filing (CALENDAR_GENERATION),
# tells whether the codes' current versions kept here still hold. Both are
# kept per database (its URL): ids and counts mean nothing in another one.
_policy_definitions: dict[tuple, dict] = {}
_current_calendars: tuple[tuple, dict[str, int]] = ((), {})

CALENDAR_GENERATION = (
    select(func.count()).select_from(CalendarVersion).scalar_subquery().label("calendar_generation")
)


def _in_force(policy_id, filed_at, *, first_before: bool = True):
    """Return the select of the version a request filed at ``filed_at`` runs under.

    The most recently published version whose ``effective_from`` is at or
    before ``filed_at``: publishing never reaches back before its date, and a
    later publication replaces an earlier one still waiting for its date.
    Drafts never count. Before the first published version's date there is
    nothing older to measure by: with ``first_before``, that first version
    applies; without, the select finds nothing then (the filing statement's
    form: cheaper, and filing falls back itself). A policy has a handful of
    versions, read through ``ix_sla_policy_versions_in_force``.
    """
    version = SlaPolicyVersion
    started = version.effective_from <= filed_at
    query = select(version.id).where(
        version.policy_id == policy_id, version.status == VersionStatus.PUBLISHED
    )
    if not first_before:
        return query.where(started).order_by(version.published_at.desc(), version.id.desc()).limit(1)
    return query.order_by(
        case((started, 0), else_=1),
        case((started, version.published_at), else_=None).desc(),
        version.effective_from.asc(),
        version.id.desc(),
    ).limit(1)


# For the filing statement (tickets._CATALOGUE): correlated with its SlaPolicy row, ``filed_at`` bound.
POLICY_IN_FORCE = (
    _in_force(SlaPolicy.id, bindparam("filed_at", type_=UTCDateTime()), first_before=False)
    .correlate(SlaPolicy)
    .scalar_subquery()
)


def policy_in_force_at(at: datetime):
    """Return the version of the correlated SlaPolicy row in force at ``at``, as a scalar subquery."""
    return _in_force(SlaPolicy.id, at).correlate(SlaPolicy).scalar_subquery()


def policy_version_in_force(policy_id: int, at: datetime) -> int | None:
    """Return the id of the version of a policy that a request filed at ``at`` runs under (None: none)."""
    return db.session.execute(_in_force(policy_id, at)).scalar()


def policy_definition(version_id: int) -> dict:
    """Return the definition of a stored policy version (read once per process)."""
    return _stored_definition(_policy_definitions, SlaPolicyVersion, version_id)


def current_calendar_versions(generation: int) -> dict[str, int]:
    """Return every calendar's current version id by code, given CALENDAR_GENERATION read just before.

    Read again only when the generation moved. The read comes after the
    generation's, so what is kept is never older than the generation it is
    kept under.
    """
    global _current_calendars
    key = (_database(), generation)
    kept_key, kept = _current_calendars
    if kept_key != key:
        kept = dict(db.session.execute(select(Calendar.code, Calendar.current_version_id)).all())
        _current_calendars = (key, kept)
    return kept


@dataclass(frozen=True)
class CurrentPolicy:
    """What a ticket filed now runs under: a policy's current version and its calendars' current versions."""

    version_id: int
    policy_code: str
    definition: dict
    calendar_versions: dict[Target, int]


def current_policy(version_id: int | None, policy_code: str, generation: int) -> CurrentPolicy | None:
    """Return the CurrentPolicy of a policy version read with CALENDAR_GENERATION (None for none)."""
    if version_id is None:
        return None
    definition = policy_definition(version_id)
    currents = current_calendar_versions(generation)
    calendars = {
        Target(name): currents[rule["calendar"]] for name, rule in definition.get("targets", {}).items()
    }
    for calendar_id in calendars.values():
        calendar_version(calendar_id)  # read now, before the caller adds rows to the session
    return CurrentPolicy(version_id, policy_code, definition, calendars)


def policy_now(version_id: int | None) -> CurrentPolicy | None:
    """Return the CurrentPolicy of a stored policy version with today's calendars (None for none)."""
    if version_id is None:
        return None
    version = db.session.get(SlaPolicyVersion, version_id)
    generation = db.session.execute(select(CALENDAR_GENERATION)).scalar_one()
    return current_policy(version.id, version.policy.code, generation)


def policy_of(version: SlaPolicyVersion, calendar_versions: dict[Target, int]) -> Policy:
    """Return the domain Policy of a stored version with the given calendar versions."""
    return _policy_from(version.definition, calendar_versions)


def _policy_from(definition: dict, calendar_versions: dict[Target, int], *, resolve=None) -> Policy:
    """Build the domain Policy; ``resolve`` turns a calendar key into a BusinessCalendar (stored version ids).

    A replay (services/sla/standards) passes its own ``resolve`` for a draft's calendars.
    """
    resolve = resolve or calendar_version
    targets = {}
    defined = definition.get("targets", {})
    # In chain order (dispatch, response, …) whatever order the definition lists them in.
    for target in Target:
        rule = defined.get(target.value)
        if rule is None or target not in calendar_versions:
            continue
        targets[target] = TargetRule(
            minutes={Priority(p): float(m) for p, m in rule["minutes"].items() if m is not None},
            calendar=resolve(calendar_versions[target]),
            at_risk_share=float(rule.get("at_risk", 0.75)),
        )
    pauses = {
        reason: PauseRule(
            targets=frozenset(Target(t) for t in rule.get("targets", [])),
            cap_minutes=None if rule.get("cap_minutes") is None else float(rule["cap_minutes"]),
        )
        for reason, rule in definition.get("pauses", {}).items()
    }
    if HoldReason.AWAITING_CONSENT.value not in pauses:
        pauses[HoldReason.AWAITING_CONSENT.value] = PauseRule(
            targets=frozenset(t for t in CONSENT_HOLD_TARGETS if t in targets),
            cap_minutes=CONSENT_HOLD_CAP_MINUTES,
        )
    return Policy(targets=targets, pauses=pauses)


# The wait for a requester's consent to a paid repair's quote is a governed
# hold by rule of the product (issue 18, docs/materials.md): a policy that
# has no rule for it (every version published before quotes existed, or one
# whose editor left it unticked) pauses these targets, capped so. A policy
# may set its own targets and cap, not pause nothing. No hold of this reason
# can predate the feature, so replays of past periods are unchanged.
CONSENT_HOLD_TARGETS = (Target.ARRIVAL, Target.RESOLUTION)
CONSENT_HOLD_CAP_MINUTES = 3 * 1440.0


# Imported tickets measured against their source's own due time
# (services/requests/importer.py) run under this policy; their filing event carries
# the due time as ``data["source_due_at"]`` (ISO 8601, UTC).
SOURCE_DEADLINE_POLICY = "source-deadline"


def source_deadline_policy(policy: Policy, filed_at: datetime, due_at: datetime | None) -> Policy:
    """Return ``policy`` with one resolution target due exactly at ``due_at`` (none without one).

    The source's deadline is a wall-clock instant: its minutes are the real
    minutes from filing to it, on the policy's round-the-clock calendar.
    """
    rule = policy.targets.get(Target.RESOLUTION)
    if rule is None or due_at is None or due_at < filed_at:
        return Policy(targets={}, pauses=policy.pauses)
    minutes = (due_at - filed_at).total_seconds() / 60
    resolution = TargetRule(
        minutes=dict.fromkeys(_PRIORITY_MEMBERS, minutes), calendar=rule.calendar, at_risk_share=rule.at_risk_share
    )
    return Policy(targets={Target.RESOLUTION: resolution}, pauses=policy.pauses)


def ticket_policy(
    version: SlaPolicyVersion, calendar_versions: dict[Target, int], events: Sequence[TicketEvent]
) -> Policy:
    """Return the Policy a ticket runs under: its version's, or its source's own deadline."""
    return _ticket_policy(version.definition, version.policy.code, calendar_versions, events)


def _ticket_policy(
    definition: dict,
    policy_code: str,
    calendar_versions: dict[Target, int],
    events: Sequence[TicketEvent],
    *,
    resolve=None,
    policy: Policy | None = None,
) -> Policy:
    """Return the Policy a ticket runs under (``policy``: the definition's, already built by the caller)."""
    if policy is None:
        policy = _policy_from(definition, calendar_versions, resolve=resolve)
    if policy_code != SOURCE_DEADLINE_POLICY:
        return policy
    filed = events[0] if events and events[0].kind is EventKind.FILED else None
    due = (filed.data or {}).get("source_due_at") if filed is not None else None
    return source_deadline_policy(
        policy, filed.created_at if filed else None, datetime.fromisoformat(due) if due else None
    )


def target_calendar_codes(version: SlaPolicyVersion) -> dict[Target, str]:
    return {Target(name): rule["calendar"] for name, rule in version.definition.get("targets", {}).items()}


# ---------------------------------------------------------------- facts


_PRIORITIES = {priority.value: priority for priority in Priority}
# Iterating an enum class walks its members anew: an import builds this policy per row.
_PRIORITY_MEMBERS = tuple(Priority)
_STATUS_KINDS = (EventKind.ASSIGNED, EventKind.STATUS_CHANGED)


def _priority(value) -> Priority:
    # A dict lookup: calling the enum costs more than the rest of a fact.
    priority = _PRIORITIES.get(value)
    return priority if priority is not None else Priority(value)


def facts_from(events: Sequence[TicketEvent]) -> list[Fact]:
    """Return the clock's facts from a ticket's events (in id order)."""
    facts = []
    append = facts.append
    for event in events:
        kind = event.kind
        if kind in _STATUS_KINDS:
            to_status = event.to_status
            data = event.data
            if data:
                append(
                    Fact(
                        event.created_at,
                        to_status,
                        None,
                        data.get("hold_reason") if to_status is Status.ON_HOLD else None,
                        None,
                        bool(data.get("automatic")),
                    )
                )
            else:
                append(Fact(event.created_at, to_status))
        elif kind is EventKind.FILED:
            append(Fact(event.created_at, event.to_status or Status.NEW, _priority(event.data["priority"])))
        elif kind is EventKind.PRIORITY_CHANGED:
            append(Fact(event.created_at, priority=_priority(event.data["to"])))
        elif kind is EventKind.PAUSE_EXTENDED:
            append(
                Fact(event.created_at, extension=(event.data["hold_reason"], float(event.data["minutes"])))
            )
    return facts


def _events(ticket: Ticket) -> list[TicketEvent]:
    return list(
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).scalars()
    )


# ---------------------------------------------------------------- clocks


def _stored_rows(ticket: Ticket) -> dict[Target, TicketSla]:
    return {
        row.target: row
        for row in db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id)).scalars()
    }


def _calendar_versions(
    ticket: Ticket, version: SlaPolicyVersion, rows: dict[Target, TicketSla] | None = None
) -> dict[Target, int]:
    """Return the calendar version per target: pinned on the ticket's rows, else current."""
    rows = _stored_rows(ticket) if rows is None else rows
    pinned = {
        target: row.calendar_version_id for target, row in rows.items() if row.policy_version_id == version.id
    }
    result = {}
    for target, code in target_calendar_codes(version).items():
        result[target] = pinned.get(target) or current_calendar_version_id(code)
    return result


def clocks_for(ticket: Ticket, now: datetime, *, with_segments: bool = False) -> dict[Target, Clock]:
    """Return the ticket's clocks at ``now`` without storing them (ticket pages)."""
    if ticket.sla_policy_version_id is None:
        return {}
    version = db.session.get(SlaPolicyVersion, ticket.sla_policy_version_id)
    events = _events(ticket)
    policy = ticket_policy(version, _calendar_versions(ticket, version), events)
    return evaluate(policy, facts_from(events), now, with_segments=with_segments)


_deferred: ContextVar[set[int] | None] = ContextVar("sla_deferred", default=None)


@contextmanager
def deferred():
    """Within the block, note the tickets to recompute instead of recomputing them.

    For bulk writers (demo data, imports) that replay many steps per ticket:
    the clocks depend only on the events, so computing them once at the end
    (``recompute_many``) stores exactly what step-by-step computing would.
    Yields the set of noted ticket ids.
    """
    touched: set[int] = set()
    token = _deferred.set(touched)
    try:
        yield touched
    finally:
        _deferred.reset(token)


def recompute_many(ticket_ids, now: datetime, *, batch_size: int = 500, progress=None) -> int:
    """Recompute and store the clocks of many tickets at ``now``; commit per batch."""
    ids = sorted(ticket_ids)
    for offset in range(0, len(ids), batch_size):
        chunk = ids[offset : offset + batch_size]
        for ticket in db.session.execute(select(Ticket).where(Ticket.id.in_(chunk))).scalars():
            _recompute(ticket, now)
        db.session.commit()
        if progress is not None:
            progress(min(offset + batch_size, len(ids)), len(ids))
    return len(ids)


def note_deferred(ticket_id: int) -> None:
    """Within ``deferred``, note a ticket to recompute (a filing written without its clocks); else nothing."""
    noted = _deferred.get()
    if noted is not None:
        noted.add(ticket_id)


def _recompute(ticket: Ticket, now: datetime) -> dict[Target, Clock]:
    """Rebuild and store the ticket's clocks; the caller commits."""
    noted = _deferred.get()
    if noted is not None:
        noted.add(ticket.id)
        return {}
    from tracker.services.insight import reports, stats

    # The days the ticket's figures count on, before and after this change
    # (read before the flush, which forgets the old values).
    days = stats.ticket_days(ticket)
    was_open = ticket.is_open
    ticket.is_open = ticket.status in OPEN_STATUSES
    if was_open is not None and was_open != ticket.is_open:
        # Its escalations follow (ix_escalations_unacknowledged holds only those of open requests).
        db.session.execute(
            update(Escalation).where(Escalation.ticket_id == ticket.id).values(request_open=ticket.is_open)
        )
    db.session.flush()
    rows = _stored_rows(ticket)
    days |= {reports.target_outcome_day(r.state, r.milestone_at, r.due_at) for r in rows.values()}
    if ticket.sla_policy_version_id is None:
        if rows:
            db.session.execute(delete(TicketSla).where(TicketSla.ticket_id == ticket.id))
        ticket.next_due_at = None
        ticket.is_sla_breached = False
        ticket.is_sla_at_risk = False
        stats.mark((day, ticket.centre_id) for day in days)
        return {}
    version = db.session.get(SlaPolicyVersion, ticket.sla_policy_version_id)
    calendars = _calendar_versions(ticket, version, rows)
    events = _events(ticket)
    clocks = evaluate(ticket_policy(version, calendars, events), facts_from(events), now)
    _store(ticket, rows, version.id, calendars, clocks, now, days)
    return clocks


def start_clocks(
    ticket: Ticket, events: Sequence[TicketEvent], policy: CurrentPolicy | None, now: datetime
) -> dict[Target, Clock]:
    """Compute the clocks of a ticket being filed, before it is first written; mark the summary's days.

    The same rows, flags and summary marks as ``_recompute`` gives the
    ticket once written, from what is in hand: ``events`` (its filing) and
    ``policy`` (what ``sla_policy_version_id`` names; None for no policy).
    A brand-new ticket has no stored targets and no rating to read back.
    The rows go in ``ticket.slas`` and the flags on the ticket, for the
    caller to write (services.tickets writes them with the ticket). Within
    ``deferred`` nothing is computed: the caller notes the written ticket
    with ``note_deferred``.
    """
    if _deferred.get() is not None:
        return {}
    from tracker.services.insight import stats

    days = stats.ticket_days(ticket)
    ticket.is_open = ticket.status in OPEN_STATUSES
    if policy is None:
        ticket.next_due_at = None
        ticket.is_sla_breached = False
        ticket.is_sla_at_risk = False
        stats.mark((day, ticket.centre_id) for day in days)
        return {}
    calendars = policy.calendar_versions
    clocks = evaluate(
        _ticket_policy(policy.definition, policy.policy_code, calendars, events), facts_from(events), now
    )
    _store(ticket, {}, policy.version_id, calendars, clocks, now, days)
    return clocks


def _store(
    ticket: Ticket,
    rows: dict[Target, TicketSla],
    version_id: int,
    calendars: dict[Target, int],
    clocks: dict[Target, Clock],
    now: datetime,
    days: set,
) -> None:
    """Write ``clocks`` over the ticket's stored ``rows`` and flags; mark the summary's days."""
    from tracker.services.insight import reports, stats

    for target, row in rows.items():
        if target not in clocks:
            db.session.delete(row)
    for target, clock in clocks.items():
        row = rows.get(target)
        if row is None:
            row = TicketSla(target=target)
            if ticket.id is None:
                # Being filed: written with the ticket, and its answer finds
                # the rows in ticket.slas without reading them back.
                ticket.slas.append(row)
            else:
                row.ticket_id = ticket.id
                db.session.add(row)
        row.policy_version_id = version_id
        row.calendar_version_id = calendars[target]
        row.priority = clock.priority
        row.target_minutes = clock.target_minutes
        row.state = clock.state
        row.started_at = clock.started_at
        row.due_at = clock.due_at
        row.at_risk_at = clock.at_risk_at
        row.milestone_at = clock.milestone_at
        row.elapsed_minutes = round(clock.elapsed_minutes, 4)
        row.paused_minutes = round(sum(clock.paused_minutes.values()), 4)
        row.is_pause_capped = bool(clock.capped_reasons)
        row.next_check_at = clock.next_check_at
        row.computed_at = now
    # Open targets whose clock runs, late ones included: queues sort on this.
    due = [
        c.due_at
        for c in clocks.values()
        if c.milestone_at is None and c.state in (TargetState.RUNNING, TargetState.BREACHED) and c.due_at
    ]
    ticket.next_due_at = min(due) if due else None
    ticket.is_sla_breached = any(c.state is TargetState.BREACHED for c in clocks.values())
    ticket.is_sla_at_risk = any(c.is_at_risk(now) for c in clocks.values())
    days |= {reports.target_outcome_day(c.state, c.milestone_at, c.due_at) for c in clocks.values()}
    stats.mark((day, ticket.centre_id) for day in days)


def current_policy_version_id(policy_id: int | None, at: datetime | None = None) -> int | None:
    """Return the version of a policy in force at ``at`` (None for no policy, or a switched-off one).

    Without ``at``: the most recently published version (the importer's
    choice for past requests).
    """
    if policy_id is None:
        return None
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None or not policy.is_active:
        return None
    return policy.current_version_id if at is None else policy_version_in_force(policy_id, at)


def stored_clocks(ticket_ids: Sequence[int], *columns) -> dict[int, list]:
    """Return the stored SLA rows of many tickets at once, in id order per ticket (lists, queues).

    ``columns``: read only these (``ticket_id`` added), as plain rows, not
    TicketSla objects: a list's 50 tickets have about 200 rows, and building
    the objects cost more than the page's statements.
    """
    if not ticket_ids:
        return {}
    result: dict[int, list] = {}
    where = TicketSla.ticket_id.in_(list(ticket_ids))
    if columns:
        rows = db.session.execute(select(TicketSla.ticket_id, *columns).where(where).order_by(TicketSla.id))
    else:
        rows = db.session.execute(select(TicketSla).where(where).order_by(TicketSla.id)).scalars()
    for row in rows:
        result.setdefault(row.ticket_id, []).append(row)
    return result


# ---------------------------------------------------------------- summaries


class Summary:
    """The SLA at a glance for lists: the most urgent open target of a ticket."""

    __slots__ = ("state", "target", "due_at", "remaining_minutes", "at_risk_at")

    def __init__(
        self,
        state: str,
        target: Target | None,
        due_at: datetime | None,
        remaining_minutes: float | None,
        at_risk_at: datetime | None = None,
    ):
        self.state = state  # "breached" | "at_risk" | "running" | "paused" | "done" | "none"
        self.target = target
        self.due_at = due_at
        self.remaining_minutes = remaining_minutes
        # When a running target turns at risk (queues' live countdowns switch then).
        self.at_risk_at = at_risk_at


_RANK = {"breached": 0, "at_risk": 1, "running": 2, "paused": 3, "done": 4, "none": 5}


_SUMMARY_COLUMNS = (
    TicketSla.target,
    TicketSla.state,
    TicketSla.due_at,
    TicketSla.at_risk_at,
    TicketSla.milestone_at,
)


def summaries(ticket_ids: Sequence[int], now: datetime) -> dict[int, Summary]:
    """Return a Summary per ticket from the stored rows (no recomputation)."""
    clocks = stored_clocks(ticket_ids, *_SUMMARY_COLUMNS)  # what a summary reads, not the objects
    result = {ticket_id: summary_of(rows, now) for ticket_id, rows in clocks.items()}
    for ticket_id in ticket_ids:
        result.setdefault(ticket_id, Summary("none", None, None, None))
    return result


def summary_of(rows: Sequence[TicketSla], now: datetime) -> Summary:
    """Return the Summary of one ticket's stored rows (in id order); "none" without rows.

    A row is a TicketSla or anything with its target, state, due_at, at_risk_at and milestone_at.
    """
    if not rows:
        return Summary("none", None, None, None)
    best = Summary("done", None, None, None)
    for row in rows:
        if row.state is TargetState.BREACHED and row.milestone_at is None:
            state = "breached"
        elif row.state is TargetState.RUNNING:
            due = row.due_at
            state = (
                "breached"
                if due is not None and due < now
                else ("at_risk" if row.at_risk_at is not None and row.at_risk_at <= now else "running")
            )
        elif row.state is TargetState.PAUSED:
            state = "paused"
        else:
            continue
        remaining = None
        if row.due_at is not None and state != "paused":
            remaining = (row.due_at - now).total_seconds() / 60
        candidate = Summary(
            state,
            row.target,
            row.due_at,
            remaining,
            row.at_risk_at if state in ("running", "at_risk") else None,
        )
        if (_RANK[candidate.state], candidate.due_at or now) < (_RANK[best.state], best.due_at or now):
            best = candidate
    return best


def expected_answer(ticket: Ticket, clocks: dict[Target, Clock]) -> tuple[datetime, bool] | None:
    """Return (when a response is due, whether the ticket was filed outside its hours).

    None once the response target is no longer running (or there is none).
    """
    response = clocks.get(Target.RESPONSE)
    if response is None or response.state is not TargetState.RUNNING:
        return None
    row = db.session.execute(
        select(TicketSla).where(TicketSla.ticket_id == ticket.id, TicketSla.target == Target.RESPONSE)
    ).scalar_one_or_none()
    outside = row is not None and not calendar_version(row.calendar_version_id).is_working(ticket.created_at)
    return response.due_at, outside


# ---------------------------------------------------------------- refreshing


def refresh_due(now: datetime, *, batch_size: int = 500) -> int:
    """Recompute the tickets whose stored clocks change by ``now``; commit per batch.

    A target's state changes with no new event at its ``next_check_at``
    (at risk, due, a hold's allowance running out). Returns how many tickets
    were recomputed.
    """
    done = 0
    after = 0
    while True:
        # In id order, each ticket once: a target due exactly at ``now``
        # keeps its next check at ``now`` (it turns late just after), and
        # reading "next check <= now" again took the same ticket for ever.
        ticket_ids = list(
            db.session.execute(
                select(TicketSla.ticket_id)
                .where(TicketSla.next_check_at <= now, TicketSla.ticket_id > after)
                .group_by(TicketSla.ticket_id)
                .order_by(TicketSla.ticket_id)
                .limit(batch_size)
            ).scalars()
        )
        if not ticket_ids:
            return done
        for ticket in db.session.execute(select(Ticket).where(Ticket.id.in_(ticket_ids))).scalars():
            _recompute(ticket, now)
        db.session.commit()
        done += len(ticket_ids)
        after = ticket_ids[-1]


# ---------------------------------------------------------------- replays


def build_policy(definition: dict, calendar_keys: dict[Target, object], *, resolve) -> Policy:
    """Return the domain Policy of a definition, the calendars resolved by ``resolve`` (replays)."""
    return _policy_from(definition, calendar_keys, resolve=resolve)


def policy_for_ticket(policy: Policy, policy_code: str, events: Sequence[TicketEvent]) -> Policy:
    """Return ``policy`` as a ticket runs under it: its source's own deadline for imported ones (replays)."""
    return _ticket_policy({}, policy_code, {}, events, policy=policy)
