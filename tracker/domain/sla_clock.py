"""The SLA clock: each target's deadline, state and timeline, from a ticket's history.

DESIGN.md, "SLA clock semantics". A policy has a chain of targets; each is
measured on its own business calendar from its start to its milestone:

- dispatch: from filing to the first assignment to a technician (or a
  technician taking it from the pool, which skips dispatch);
- response: from filing to the first acceptance (accept or take);
- arrival: from filing to the first arrival on site (or a resolution
  without a visit, e.g. advice by phone);
- resolution: from filing to the last resolution, not counting the time a
  resolved ticket waited for its requester before a reopen;
- confirmation: from the last resolution to the closure (the requester's
  confirmation, or the automatic one when the target runs out).

Holds pause the targets their reason's rule names, up to the rule's cap of
wall-clock minutes per ticket; an approved extension raises the cap from
the moment it is approved (nothing earlier changes). Past the cap the clock
runs again. A target is met when its milestone is at or before its deadline.

Everything is rebuilt from the facts every time: no state is carried over,
so the same history always gives the same result. Pure: no Flask, no
SQLAlchemy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from tracker.domain.calendar import BusinessCalendar
from tracker.domain.i18n import N_
from tracker.domain.workflow import Priority, Status

__all__ = [
    "Clock",
    "Fact",
    "PauseRule",
    "Policy",
    "Segment",
    "Target",
    "TargetRule",
    "TargetState",
    "evaluate",
]


class Target(StrEnum):
    # Chain order: dispatch comes before response (issue 17).
    DISPATCH = "dispatch"
    RESPONSE = "response"
    ARRIVAL = "arrival"
    RESOLUTION = "resolution"
    CONFIRMATION = "confirmation"


TARGET_LABELS = {
    Target.DISPATCH: N_("Dispatch"),
    Target.RESPONSE: N_("Response"),
    Target.ARRIVAL: N_("Arrival on site"),
    Target.RESOLUTION: N_("Resolution"),
    Target.CONFIRMATION: N_("Confirmation"),
}


class TargetState(StrEnum):
    PENDING = "pending"  # its clock has not started (confirmation before resolution)
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # milestone late, or still open past the deadline
    CANCELLED = "cancelled"  # the ticket was cancelled before the milestone


STATE_LABELS = {
    TargetState.PENDING: N_("Not started"),
    TargetState.RUNNING: N_("Running"),
    TargetState.PAUSED: N_("Paused"),
    TargetState.MET: N_("Met"),
    TargetState.BREACHED: N_("Breached"),
    TargetState.CANCELLED: N_("Cancelled"),
}

# Why a resolved ticket's resolution clock stood still before a reopen.
AWAITING_REQUESTER = "awaiting_requester"


@dataclass(frozen=True)
class TargetRule:
    """One target of a policy: minutes per priority on a calendar."""

    minutes: Mapping[Priority, float]  # a priority missing here has no such target
    calendar: BusinessCalendar
    at_risk_share: float = 0.75


@dataclass(frozen=True)
class PauseRule:
    """What a hold reason stops, and for how long at most."""

    targets: frozenset[Target]
    cap_minutes: float | None = None  # wall-clock minutes per ticket; None: no cap


@dataclass(frozen=True)
class Policy:
    targets: Mapping[Target, TargetRule]
    pauses: Mapping[str, PauseRule] = field(default_factory=dict)


class Fact(NamedTuple):
    """One step of a ticket's history, reduced to what the clock needs.

    The first fact is the filing: its ``status`` and ``priority`` are set.
    Later facts set what changed (None: unchanged). Immutable; a NamedTuple
    because a replay builds millions of them (a frozen dataclass costs
    several times as much to build).
    """

    at: datetime
    status: Status | None = None
    priority: Priority | None = None
    hold_reason: str | None = None  # with status ON_HOLD
    extension: tuple[str, float] | None = None  # (hold reason, extra minutes) approved
    is_automatic: bool = False  # closed by the application (auto-confirmation)


@dataclass(frozen=True)
class Segment:
    """A stretch of a target's timeline: running, paused (with reason), outside hours."""

    start: datetime
    end: datetime
    kind: str  # "running" | "paused" | "outside_hours"
    reason: str | None = None


class Clock(NamedTuple):
    """Where one target stands at ``now``.

    Immutable; a NamedTuple, as Fact: a replay builds one per target and
    request, and a frozen dataclass's ``__init__`` cost 2.7 µs of the
    clock's 10 µs a target.
    """

    target: Target
    state: TargetState
    priority: Priority
    target_minutes: float
    started_at: datetime | None
    due_at: datetime | None  # the deadline as it stands (if resumed now, when paused)
    at_risk_at: datetime | None
    milestone_at: datetime | None
    elapsed_minutes: float  # business minutes accrued up to the milestone or now
    paused_minutes: Mapping[str, float]  # counted (within caps) wall-clock minutes per reason
    capped_reasons: frozenset[str]  # reasons whose allowance ran out: the clock ran again
    next_check_at: datetime | None  # when the state changes with no new fact
    segments: tuple[Segment, ...] = ()

    @property
    def remaining_minutes(self) -> float:
        return self.target_minutes - self.elapsed_minutes

    @property
    def is_open(self) -> bool:
        return self.state in (TargetState.RUNNING, TargetState.PAUSED)

    def is_at_risk(self, now: datetime) -> bool:
        """Return whether a running target has passed its at-risk share but not its deadline."""
        return (
            self.state is TargetState.RUNNING
            and self.at_risk_at is not None
            and self.at_risk_at <= now
            and (self.due_at is None or now <= self.due_at)
        )

    @property
    def breached_by(self) -> timedelta | None:
        """Return how late the milestone was (or is, if still open), in real time."""
        if self.state is not TargetState.BREACHED or self.due_at is None:
            return None
        end = self.milestone_at
        return (end - self.due_at) if end is not None else None


# ---------------------------------------------------------------- history


class _Span(NamedTuple):
    """The ticket was in ``status`` with ``priority`` over [start, end)."""

    start: datetime
    end: datetime | None  # None: still so at ``now``
    status: Status
    priority: Priority
    hold_reason: str | None


@dataclass
class _History:
    spans: list[_Span]
    extensions: list[tuple[datetime, str, float]]
    filed_at: datetime
    closed_automatically: bool
    has_holds: bool = True  # False: never on hold, so no target pauses for a hold


_DISPATCHED = frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED,
                         Status.CLOSED})
_WORKED = frozenset({Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED})
_DONE = frozenset({Status.RESOLVED, Status.CLOSED})
_ON_SITE = frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED})
# The statuses whose first instant is a target's milestone (resolution and confirmation have their own).
_REACHED_BY = {Target.DISPATCH: _DISPATCHED, Target.RESPONSE: _WORKED, Target.ARRIVAL: _ON_SITE}
# Enum members bound once: reading one on its class costs about as much as
# the comparison it feeds, and a replay compares millions.
_ON_HOLD, _RESOLVED, _CLOSED, _CANCELLED = Status.ON_HOLD, Status.RESOLVED, Status.CLOSED, Status.CANCELLED
_RESOLUTION, _CONFIRMATION = Target.RESOLUTION, Target.CONFIRMATION
_PENDING, _MET, _BREACHED = TargetState.PENDING, TargetState.MET, TargetState.BREACHED
_NO_REASONS: frozenset[str] = frozenset()


def _history(facts: Sequence[Fact]) -> _History:
    if not facts or facts[0].status is None or facts[0].priority is None:
        raise ValueError("the first fact is the filing and names its status and priority")
    first = facts[0]
    if first.at.tzinfo is None or first.at.utcoffset() is None:
        raise ValueError(f"facts must be timezone-aware, got naive {first.at.isoformat()}")
    spans: list[_Span] = []
    extensions = []
    status, priority, reason = first.status, first.priority, first.hold_reason
    since = previous = first.at
    closed_automatically = False
    has_holds = status is _ON_HOLD
    # One pass: the checks (aware, in order) and the spans.
    for fact in facts[1:]:
        at, fact_status = fact.at, fact.status
        if at.tzinfo is None:
            raise ValueError(f"facts must be timezone-aware, got naive {at.isoformat()}")
        if at < previous:
            raise ValueError(f"facts are out of order: {at.isoformat()} after {previous.isoformat()}")
        previous = at
        if fact.extension is not None:
            extensions.append((at, fact.extension[0], float(fact.extension[1])))
        new_priority = fact.priority if fact.priority is not None else priority
        if fact_status is None:
            new_status, new_reason = status, reason  # an extension or a priority change keeps the hold as it is
        else:
            new_status = fact_status
            if fact_status is _ON_HOLD:
                new_reason, has_holds = fact.hold_reason, True
            else:
                new_reason = None
            if fact_status is _CLOSED:
                closed_automatically = fact.is_automatic
        if new_status != status or new_priority != priority or new_reason != reason:
            if at > since:
                spans.append(_Span(since, at, status, priority, reason))
            status, priority, reason, since = new_status, new_priority, new_reason, at
    spans.append(_Span(since, None, status, priority, reason))
    return _History(spans, extensions, first.at, closed_automatically, has_holds)


def _first_instant(history: _History, statuses: frozenset[Status]) -> datetime | None:
    for span in history.spans:
        if span.status in statuses:
            return span.start
    return None


def _last_resolution(history: _History) -> datetime | None:
    """Return when the ticket last became resolved, if it is resolved or closed now."""
    if history.spans[-1].status not in _DONE:
        return None
    resolved_at = None
    previous = None
    for span in history.spans:
        # Entering "done" from an open status; a priority change while
        # resolved splits a span without resolving it again.
        if span.status in _DONE and (previous is None or previous.status not in _DONE):
            resolved_at = span.start
        previous = span
    return resolved_at


def _priority_at(history: _History, instant: datetime) -> Priority:
    priority = history.spans[0].priority
    for span in history.spans:
        if span.start <= instant:
            priority = span.priority
    return priority


# ---------------------------------------------------------------- pauses


@dataclass
class _Pauses:
    """A target's counted pauses up to some instant."""

    spans: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    used: dict[str, float] = field(default_factory=dict)  # counted minutes per reason
    capped: set[str] = field(default_factory=set)  # reasons whose allowance ran out
    is_ongoing: bool = False  # a hold that pauses this target lasts until the instant
    expiry: datetime | None = None  # when the ongoing hold's allowance runs out (None: no cap)


# What a ticket that was never on hold pauses: nothing. Shared, so never changed.
_NO_PAUSES = _Pauses()


def _hold_pauses(history: _History, target: Target, policy: Policy, until: datetime) -> _Pauses:
    """Return the pauses of ``target`` that count, before ``until``, within each reason's cap."""
    if not history.has_holds:
        return _NO_PAUSES
    result = _Pauses()
    for span in history.spans:
        if span.status is not _ON_HOLD or span.hold_reason is None:
            continue
        rule = policy.pauses.get(span.hold_reason)
        if rule is None or target not in rule.targets:
            continue
        reason = span.hold_reason
        start = span.start
        end = min(span.end or until, until)
        is_last = span.end is None
        if end < start:
            continue
        # The allowance grows at each approved extension; split the hold there.
        # An approval at the very end of an ongoing hold starts a (still empty) piece.
        cuts = sorted(
            {at for at, why, _ in history.extensions if why == reason and start < at and (at < end or is_last and at == end)}
        )
        pieces = list(zip([start, *cuts], [*cuts, end], strict=True))
        for index, (piece_start, piece_end) in enumerate(pieces):
            length = (piece_end - piece_start).total_seconds() / 60
            last_piece = is_last and index == len(pieces) - 1
            if rule.cap_minutes is None:
                left = math.inf
            else:
                allowance = rule.cap_minutes + sum(
                    minutes for at, why, minutes in history.extensions if why == reason and at <= piece_start
                )
                left = allowance - result.used.get(reason, 0.0)
            if left <= 0:
                result.capped.add(reason)
                continue
            counted = min(length, left)
            if counted > 0:
                result.spans.append((piece_start, piece_start + timedelta(minutes=counted), reason))
                result.used[reason] = result.used.get(reason, 0.0) + counted
            if counted < length:
                result.capped.add(reason)
            elif last_piece:
                # Still on hold at ``until`` (maybe since this very instant)
                # with allowance left: paused, until the allowance runs out.
                result.is_ongoing = True
                if left != math.inf:
                    result.expiry = piece_start + timedelta(minutes=left)
    return result


def _awaiting_requester(history: _History, until: datetime) -> list[tuple[datetime, datetime, str]]:
    """Return the stretches a resolved ticket waited before being reopened."""
    result = []
    for index, span in enumerate(history.spans):
        if span.status is _RESOLVED and span.end is not None and span.end <= until:
            following = history.spans[index + 1] if index + 1 < len(history.spans) else None
            if following is not None and following.status not in _DONE:
                result.append((span.start, span.end, AWAITING_REQUESTER))
    return result


# ---------------------------------------------------------------- evaluation


def evaluate(
    policy: Policy, facts: Sequence[Fact], now: datetime, *, with_segments: bool = False
) -> dict[Target, Clock]:
    """Return each applicable target's clock at ``now``.

    A target is left out when the policy has none, or none for the ticket's
    priority. ``with_segments`` also builds the timelines (for ticket pages).
    Raises ValueError for facts out of order or without a filing first.
    """
    history = _history(facts)
    last = history.spans[-1]
    final = last.status
    resolution_at = _last_resolution(history)
    filed_at = history.filed_at
    filed_ts = filed_at.timestamp()
    cancelled_at = last.start if final is _CANCELLED else None
    clocks = {}
    for target, rule in policy.targets.items():
        # Each target's start and milestone, computed only for the policy's targets.
        if target is _CONFIRMATION:
            start, milestone = resolution_at, last.start if final is _CLOSED else None
            start_ts = None if start is None else start.timestamp()
        else:
            start, start_ts = filed_at, filed_ts
            milestone = resolution_at if target is _RESOLUTION else _first_instant(history, _REACHED_BY[target])
        clock = _evaluate_target(
            target, rule, policy, history, start, start_ts, milestone, cancelled_at, now, with_segments
        )
        if clock is not None:
            clocks[target] = clock
    return clocks


def _evaluate_target(
    target: Target,
    rule: TargetRule,
    policy: Policy,
    history: _History,
    start: datetime | None,
    start_ts: float | None,
    milestone: datetime | None,
    cancelled_at: datetime | None,
    now: datetime,
    with_segments: bool,
) -> Clock | None:
    # The clock stops at the milestone, or at a cancellation before it.
    end = milestone or cancelled_at or now
    # A finished target keeps the priority it had when it finished.
    priority = _priority_at(history, end)
    minutes = rule.minutes.get(priority)
    if minutes is None:
        return None
    minutes = float(minutes)
    if start is None:
        return Clock(target, _PENDING, priority, minutes, None, None, None, None, 0.0, {}, _NO_REASONS, None)

    held = _hold_pauses(history, target, policy, end)
    pauses = held.spans
    if target is _RESOLUTION:
        pauses = pauses + _awaiting_requester(history, end)
    # The calendar's epoch-second API, each instant converted once: the
    # datetime API converts the start and every pause on each of its calls.
    calendar = rule.calendar
    pause_ts = [(s.timestamp(), e.timestamp()) for s, e, _ in pauses] if pauses else ()
    due_at = _deadline(calendar, start, start_ts, minutes, pause_ts)
    at_risk_at = _deadline(calendar, start, start_ts, minutes * rule.at_risk_share, pause_ts)
    elapsed = calendar.business_seconds(start_ts, end.timestamp(), pause_ts) / 60.0 if end > start else 0.0
    paused_now = milestone is None and cancelled_at is None and held.is_ongoing

    next_check = None
    if milestone is not None:
        state = _MET if milestone <= due_at else _BREACHED
        if target is _CONFIRMATION and history.closed_automatically:
            state = _MET  # closed by the clock itself when it ran out
    elif cancelled_at is not None:
        # Cancelling a late ticket does not hide its breach.
        state = _BREACHED if due_at < cancelled_at else TargetState.CANCELLED
    elif due_at < now:
        state = _BREACHED
    elif paused_now:
        state = TargetState.PAUSED
        next_check = held.expiry  # None: paused with no cap, until someone resumes
    else:
        state = TargetState.RUNNING
        next_check = at_risk_at if at_risk_at > now else due_at

    segments = _segments(calendar, start, end, pauses) if with_segments else ()
    return Clock(
        target=target,
        state=state,
        priority=priority,
        target_minutes=minutes,
        started_at=start,
        due_at=due_at,
        at_risk_at=at_risk_at,
        milestone_at=milestone,
        elapsed_minutes=elapsed,
        paused_minutes=dict(held.used),
        capped_reasons=frozenset(held.capped) if held.capped else _NO_REASONS,
        next_check_at=next_check,
        segments=segments,
    )


def _deadline(calendar: BusinessCalendar, start: datetime, start_ts: float, minutes: float,
              pause_ts: list[tuple[float, float]]) -> datetime:
    """Return ``calendar.deadline(start, minutes, pauses)``, from ``start`` and the pauses as epoch seconds."""
    seconds = float(minutes) * 60.0
    if seconds == 0.0:
        return start
    return datetime.fromtimestamp(calendar.deadline_seconds(start_ts, seconds, pause_ts), start.tzinfo)


def _segments(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    pauses: Iterable[tuple[datetime, datetime, str]],
) -> tuple[Segment, ...]:
    """Split [start, end) into paused stretches, working time and time outside hours."""
    if end <= start:
        return ()
    cuts = sorted((max(s, start), min(e, end), reason) for s, e, reason in pauses if e > start and s < end)
    merged: list[list] = []
    for s, e, reason in cuts:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e, reason])
    result: list[Segment] = []
    cursor = start
    for s, e, reason in merged:
        if s > cursor:
            result.extend(_working_or_not(calendar, cursor, s))
        result.append(Segment(s, e, "paused", reason))
        cursor = max(cursor, e)
    if cursor < end:
        result.extend(_working_or_not(calendar, cursor, end))
    return tuple(result)


def _working_or_not(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Segment]:
    result = []
    cursor = start
    for open_at, close_at in calendar.working_periods(start, end):
        if open_at > cursor:
            result.append(Segment(cursor, open_at, "outside_hours"))
        result.append(Segment(open_at, close_at, "running"))
        cursor = close_at
    if cursor < end:
        result.append(Segment(cursor, end, "outside_hours"))
    return result
