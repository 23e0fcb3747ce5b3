"""Allowed status moves, who may make them, and which statuses count as open.

This is the one place a transition is checked. Services compute the actor's
relations to a ticket (requester, assignee, centre staff) and ask
``decide``; it returns the status to move to or raises ``TransitionRefused``
with a translatable message. Pure: no Flask, no database.
"""

from dataclasses import dataclass
from enum import StrEnum

from tracker.domain.i18n import N_, Label


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

# Work is still owed on these; "resolved" waits only for the requester.
OPEN_STATUSES = frozenset(
    {
        Status.NEW,
        Status.ASSIGNED,
        Status.ACCEPTED,
        Status.IN_PROGRESS,
        Status.ON_HOLD,
        Status.REOPENED,
    }
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})


class HoldReason(StrEnum):
    WAITING_PARTS = "waiting_parts"
    REQUESTER_UNAVAILABLE = "requester_unavailable"
    THIRD_PARTY = "third_party"
    ACCESS_DENIED = "access_denied"
    SCHEDULED = "scheduled"
    OTHER = "other"
    # A paid repair waits for the requester to accept or decline its quote.
    # Only a quote starts it and only the answer (or withdrawing the quote)
    # ends it: services/materials/quotes.py.
    AWAITING_CONSENT = "awaiting_consent"


class Relation(StrEnum):
    """How an actor stands to one ticket."""

    REQUESTER = "requester"  # filed it
    ASSIGNEE = "assignee"  # currently assigned to it
    TECHNICIAN = "technician"  # technician of the ticket's centre
    DISPATCHER = "dispatcher"  # dispatcher or head of the ticket's centre
    HEAD = "head"  # head of the ticket's centre
    SYSTEM = "system"  # the application itself (auto-confirm, imports)


class Action(StrEnum):
    ASSIGN = "assign"
    TAKE = "take"
    ACCEPT = "accept"
    DECLINE = "decline"
    ARRIVE = "arrive"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    CANCEL = "cancel"
    COMMENT = "comment"
    REPRIORITISE = "reprioritise"
    RECATEGORISE = "recategorise"
    EXTEND_HOLD = "extend_hold"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[Status]
    # None: the status does not change (comments, reassignment of priority);
    # RESUME goes back to the status the ticket had before the hold.
    target: Status | None
    allowed: frozenset[Relation]


def _s(*statuses: Status) -> frozenset[Status]:
    return frozenset(statuses)


def _r(*relations: Relation) -> frozenset[Relation]:
    return frozenset(relations)


_STAFF = _r(Relation.DISPATCHER)
_WORKER = _r(Relation.ASSIGNEE)

RULES: dict[Action, Rule] = {
    Action.ASSIGN: Rule(
        _s(Status.NEW, Status.REOPENED, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD),
        Status.ASSIGNED,
        _STAFF | _r(Relation.SYSTEM),  # automatic dispatch (services/dispatch)
    ),
    Action.TAKE: Rule(_s(Status.NEW, Status.REOPENED), Status.ACCEPTED, _r(Relation.TECHNICIAN)),
    Action.ACCEPT: Rule(_s(Status.ASSIGNED), Status.ACCEPTED, _WORKER),
    Action.DECLINE: Rule(_s(Status.ASSIGNED), Status.NEW, _WORKER),
    Action.ARRIVE: Rule(_s(Status.ACCEPTED), Status.IN_PROGRESS, _WORKER),
    Action.HOLD: Rule(_s(Status.ACCEPTED, Status.IN_PROGRESS), Status.ON_HOLD, _WORKER | _STAFF),
    Action.RESUME: Rule(_s(Status.ON_HOLD), None, _WORKER | _STAFF),
    Action.RESOLVE: Rule(_s(Status.ACCEPTED, Status.IN_PROGRESS), Status.RESOLVED, _WORKER),
    Action.CONFIRM: Rule(_s(Status.RESOLVED), Status.CLOSED, _r(Relation.REQUESTER, Relation.SYSTEM)),
    Action.REOPEN: Rule(_s(Status.RESOLVED), Status.REOPENED, _r(Relation.REQUESTER)),
    Action.CANCEL: Rule(OPEN_STATUSES, Status.CANCELLED, _r(Relation.REQUESTER) | _STAFF),
    Action.COMMENT: Rule(
        frozenset(Status),
        None,
        _r(Relation.REQUESTER, Relation.ASSIGNEE, Relation.TECHNICIAN, Relation.DISPATCHER),
    ),
    Action.REPRIORITISE: Rule(OPEN_STATUSES, None, _STAFF),
    Action.RECATEGORISE: Rule(OPEN_STATUSES, None, _STAFF),
    # Past a hold reason's cap the clock runs again unless the head approves more.
    Action.EXTEND_HOLD: Rule(_s(Status.ON_HOLD), None, _r(Relation.HEAD)),
}

STATUS_LABELS = {
    Status.NEW: N_("New"),
    Status.ASSIGNED: N_("Assigned"),
    Status.ACCEPTED: N_("Accepted"),
    Status.IN_PROGRESS: N_("On site"),
    Status.ON_HOLD: N_("On hold"),
    Status.RESOLVED: N_("Resolved"),
    Status.CLOSED: N_("Closed"),
    Status.REOPENED: N_("Reopened"),
    Status.CANCELLED: N_("Cancelled"),
}

PRIORITY_LABELS = {
    Priority.URGENT: N_("Urgent"),
    Priority.HIGH: N_("High"),
    Priority.NORMAL: N_("Normal"),
    Priority.LOW: N_("Low"),
}

HOLD_REASON_LABELS = {
    HoldReason.WAITING_PARTS: N_("Waiting for parts"),
    HoldReason.REQUESTER_UNAVAILABLE: N_("Requester not available"),
    HoldReason.THIRD_PARTY: N_("Waiting for a third party"),
    HoldReason.ACCESS_DENIED: N_("No access to the site"),
    HoldReason.SCHEDULED: N_("Scheduled for a later date"),
    HoldReason.OTHER: N_("Other"),
    HoldReason.AWAITING_CONSENT: N_("Waiting for the requester to accept a quote"),
}

# Holds that people choose on the hold form; the others are started by the application.
MANUAL_HOLD_REASONS = tuple(r for r in HoldReason if r is not HoldReason.AWAITING_CONSENT)

ACTION_LABELS = {
    Action.ASSIGN: N_("Assign"),
    Action.TAKE: N_("Take"),
    Action.ACCEPT: N_("Accept"),
    Action.DECLINE: N_("Decline"),
    Action.ARRIVE: N_("Arrived on site"),
    Action.HOLD: N_("Put on hold"),
    Action.RESUME: N_("Resume"),
    Action.RESOLVE: N_("Resolve"),
    Action.CONFIRM: N_("Confirm the fix"),
    Action.REOPEN: N_("Reopen"),
    Action.CANCEL: N_("Cancel request"),
    Action.COMMENT: N_("Comment"),
    Action.REPRIORITISE: N_("Change priority"),
    Action.RECATEGORISE: N_("Change category"),
    Action.EXTEND_HOLD: N_("Approve a longer hold"),
}

# The requester may cancel only before work has started on site.
REQUESTER_CANCEL_SOURCES = _s(Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED)

# Actions that need a free-text reason from the actor.
NEEDS_REASON = frozenset({Action.DECLINE, Action.REOPEN, Action.CANCEL})


class TransitionRefused(Exception):
    """The action is not allowed; ``message`` is a msgid, ``params`` fill it."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class TransitionForbidden(TransitionRefused):
    """The actor's relations to the ticket do not allow the action, whatever its status."""


def decide(
    action: Action,
    status: Status,
    relations: frozenset[Relation],
    *,
    status_before_hold: Status | None = None,
) -> Status:
    """Return the status ``action`` moves a ticket in ``status`` to.

    Raises TransitionRefused when the actor's relations do not allow the
    action or the ticket's status does not.
    """
    rule = RULES[action]
    allowed = rule.allowed & relations
    if action is Action.CANCEL and allowed == {Relation.REQUESTER} and status not in REQUESTER_CANCEL_SOURCES:
        raise TransitionRefused(
            N_("Work has started on site; ask the service centre to cancel this request.")
        )
    if not allowed:
        raise TransitionForbidden(
            N_("You are not allowed to do “%(action)s” on this request."),
            action=Label(ACTION_LABELS[action]),
        )
    if status not in rule.sources:
        raise TransitionRefused(
            N_("This request is “%(status)s”: “%(action)s” is not possible now."),
            status=Label(STATUS_LABELS[status]),
            action=Label(ACTION_LABELS[action]),
        )
    if action is Action.RESUME:
        return status_before_hold or Status.ACCEPTED
    return rule.target if rule.target is not None else status


def allowed_actions(
    status: Status, relations: frozenset[Relation], *, status_before_hold: Status | None = None
) -> list[Action]:
    """Return the actions ``decide`` would allow, in the order of ``Action``."""
    result = []
    for action in Action:
        try:
            decide(action, status, relations, status_before_hold=status_before_hold)
        except TransitionRefused:
            continue
        result.append(action)
    return result
