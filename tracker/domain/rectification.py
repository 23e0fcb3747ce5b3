"""Rectification items: their statuses, who may do what from which status, and their deadlines.

The one place a move of an item is checked (as ``workflow`` is for
tickets). Services compute how the actor stands to an item (its
responsible person, a manager or the head of its centre, leadership) and
ask ``decide``; it returns the status to move to or raises
``TransitionRefused`` with a translatable message. Pure: no Flask, no
database.

Deadlines are local dates: an item is due at the end of that day in the
campus time zone (the next day's 00:00), so "by Friday" means all of
Friday. It is overdue from that instant on, and verified on time when
verified before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tracker.domain.i18n import N_, Label, pN_
from tracker.domain.workflow import TransitionRefused


class ItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


# On the backlog until leadership verifies it (DESIGN.md).
ACTIVE_STATUSES = frozenset({ItemStatus.OPEN, ItemStatus.IN_PROGRESS, ItemStatus.AWAITING_VERIFICATION})
# The owner still has to act: an at-risk warning is worth sending.
WORKING_STATUSES = frozenset({ItemStatus.OPEN, ItemStatus.IN_PROGRESS})
FINAL_STATUSES = frozenset({ItemStatus.VERIFIED, ItemStatus.CANCELLED})


class Source(StrEnum):
    """Where the problem was raised."""

    SURVEY = "survey"
    VISIT = "visit"
    INSPECTION = "inspection"
    MEETING = "meeting"
    COMPLAINT_CLUSTER = "complaint_cluster"
    OTHER = "other"


class Relation(StrEnum):
    """How an actor stands to one item."""

    RESPONSIBLE = "responsible"  # the item's responsible person
    MANAGER = "manager"  # dispatcher or head of the item's centre
    HEAD = "head"  # head of the item's centre
    LEADERSHIP = "leadership"
    SYSTEM = "system"  # the application itself (the deadline sweep)


class Action(StrEnum):
    START = "start"
    UPDATE = "update"  # a progress update
    SUBMIT = "submit"  # for verification, with a summary of the fix
    VERIFY = "verify"
    REJECT = "reject"
    CANCEL = "cancel"
    REASSIGN = "reassign"  # another responsible person
    RESCHEDULE = "reschedule"  # another deadline
    COMMENT = "comment"
    LINK = "link"  # link more requests
    ATTACH = "attach"  # evidence


@dataclass(frozen=True)
class Rule:
    sources: frozenset[ItemStatus]
    target: ItemStatus | None  # None: the status does not change
    allowed: frozenset[Relation]


def _s(*statuses: ItemStatus) -> frozenset[ItemStatus]:
    return frozenset(statuses)


def _r(*relations: Relation) -> frozenset[Relation]:
    return frozenset(relations)


S = ItemStatus
OWNERS = _r(Relation.RESPONSIBLE, Relation.MANAGER)

RULES: dict[Action, Rule] = {
    Action.START: Rule(_s(S.OPEN), S.IN_PROGRESS, OWNERS),
    # A progress update on an open item means work has started.
    Action.UPDATE: Rule(WORKING_STATUSES, S.IN_PROGRESS, OWNERS),
    Action.SUBMIT: Rule(WORKING_STATUSES, S.AWAITING_VERIFICATION, OWNERS),
    Action.VERIFY: Rule(_s(S.AWAITING_VERIFICATION), S.VERIFIED, _r(Relation.LEADERSHIP)),
    # A rejected fix goes back to work, with the reason in the history.
    Action.REJECT: Rule(_s(S.AWAITING_VERIFICATION), S.IN_PROGRESS, _r(Relation.LEADERSHIP)),
    Action.CANCEL: Rule(ACTIVE_STATUSES, S.CANCELLED, _r(Relation.HEAD, Relation.LEADERSHIP)),
    Action.REASSIGN: Rule(ACTIVE_STATUSES, None, _r(Relation.MANAGER, Relation.LEADERSHIP)),
    # The deadline is leadership's promise to the campus: only leadership moves it.
    Action.RESCHEDULE: Rule(ACTIVE_STATUSES, None, _r(Relation.LEADERSHIP)),
    Action.COMMENT: Rule(frozenset(ItemStatus), None, OWNERS | _r(Relation.LEADERSHIP)),
    Action.LINK: Rule(ACTIVE_STATUSES, None, OWNERS | _r(Relation.LEADERSHIP)),
    Action.ATTACH: Rule(ACTIVE_STATUSES, None, OWNERS | _r(Relation.LEADERSHIP)),
}

# Who may open an item for a centre: its managers, or leadership for any centre.
CREATORS = _r(Relation.MANAGER, Relation.LEADERSHIP)

# Actions whose free text is required, and what it is called.
NEEDS_TEXT = frozenset({Action.UPDATE, Action.SUBMIT, Action.REJECT, Action.CANCEL, Action.RESCHEDULE,
                        Action.COMMENT})

STATUS_LABELS = {
    S.OPEN: pN_("rectification item", "Open"),  # not yet started: 待整改, not just "not done"
    S.IN_PROGRESS: N_("In progress"),
    S.AWAITING_VERIFICATION: N_("Awaiting verification"),
    S.VERIFIED: N_("Verified"),
    S.CANCELLED: N_("Cancelled"),
}

SOURCE_LABELS = {
    Source.SURVEY: N_("Survey"),
    Source.VISIT: N_("Visit"),
    Source.INSPECTION: N_("Inspection"),
    Source.MEETING: N_("Meeting"),
    Source.COMPLAINT_CLUSTER: N_("Complaint cluster"),
    Source.OTHER: N_("Other"),
}

ACTION_LABELS = {
    Action.START: N_("Start work"),
    Action.UPDATE: N_("Report progress"),
    Action.SUBMIT: N_("Submit for verification"),
    Action.VERIFY: N_("Verify"),
    Action.REJECT: N_("Reject"),
    Action.CANCEL: N_("Cancel item"),
    Action.REASSIGN: N_("Change responsible person"),
    Action.RESCHEDULE: N_("Change deadline"),
    Action.COMMENT: N_("Comment"),
    Action.LINK: N_("Link requests"),
    Action.ATTACH: N_("Add evidence"),
}


def decide(action: Action, status: ItemStatus, relations: frozenset[Relation]) -> ItemStatus:
    """Return the status ``action`` moves an item in ``status`` to.

    Raises TransitionRefused when the actor's relations or the item's
    status do not allow the action.
    """
    rule = RULES[action]
    if not rule.allowed & relations:
        raise TransitionRefused(
            N_("You are not allowed to do “%(action)s” on this rectification item."),
            action=Label(ACTION_LABELS[action]),
        )
    if status not in rule.sources:
        raise TransitionRefused(
            N_("This rectification item is “%(status)s”: “%(action)s” is not possible now."),
            status=Label(STATUS_LABELS[status]),
            action=Label(ACTION_LABELS[action]),
        )
    return rule.target if rule.target is not None else status


def allowed_actions(status: ItemStatus, relations: frozenset[Relation]) -> list[Action]:
    """Return the actions ``decide`` would allow, in the order of ``Action``."""
    result = []
    for action in Action:
        try:
            decide(action, status, relations)
        except TransitionRefused:
            continue
        result.append(action)
    return result


def may_create(relations: frozenset[Relation]) -> bool:
    """Return whether an actor standing so to a centre may open an item for it."""
    return bool(CREATORS & relations)


# ---------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class AtRiskRule:
    """When an item becomes at risk: a share of the time from creation to the deadline, or days before it.

    Exactly one of ``share`` (0 < share < 1) and ``days`` (> 0) is set.
    """

    share: float | None = 0.75
    days: int | None = None

    def __post_init__(self):
        if (self.share is None) == (self.days is None):
            raise ValueError("give either a share or a number of days")
        if self.share is not None and not 0 < self.share < 1:
            raise ValueError(f"the at-risk share must be between 0 and 1, not {self.share}")
        if self.days is not None and self.days <= 0:
            raise ValueError(f"the at-risk days must be positive, not {self.days}")


def due_instant(due_on: date, zone: ZoneInfo) -> datetime:
    """Return the instant an item due on the local date ``due_on`` is late: the next local midnight."""
    return datetime.combine(due_on + timedelta(days=1), time.min, zone)


def at_risk_instant(created_at: datetime, due_at: datetime, rule: AtRiskRule) -> datetime:
    """Return when an item created at ``created_at`` and due at ``due_at`` becomes at risk.

    Never before its creation nor after its deadline.
    """
    if rule.days is not None:
        found = due_at - timedelta(days=rule.days)
    else:
        found = created_at + (due_at - created_at) * rule.share
    return min(max(found, created_at), due_at)


def is_overdue(status: ItemStatus, due_at: datetime, now: datetime) -> bool:
    """Return whether an item is late at ``now``: still on the backlog at or after its due instant."""
    return status in ACTIVE_STATUSES and now >= due_at


def is_at_risk(status: ItemStatus, at_risk_at: datetime, due_at: datetime, now: datetime) -> bool:
    """Return whether the owner's time is running out: still to act, past the at-risk instant, not late."""
    return status in WORKING_STATUSES and at_risk_at <= now < due_at
