"""The transition table: who may move a ticket from which status to which."""

import pytest

from tracker.domain.workflow import (
    OPEN_STATUSES,
    Action,
    Relation,
    Status,
    TransitionRefused,
    allowed_actions,
    decide,
)

R = Relation
S = Status
A = Action

ALLOWED = [
    # action, from, relations, to
    (A.ASSIGN, S.NEW, {R.DISPATCHER}, S.ASSIGNED),
    (A.ASSIGN, S.REOPENED, {R.DISPATCHER}, S.ASSIGNED),
    (A.ASSIGN, S.IN_PROGRESS, {R.DISPATCHER}, S.ASSIGNED),
    (A.TAKE, S.NEW, {R.TECHNICIAN}, S.ACCEPTED),
    (A.TAKE, S.REOPENED, {R.TECHNICIAN}, S.ACCEPTED),
    (A.ACCEPT, S.ASSIGNED, {R.ASSIGNEE, R.TECHNICIAN}, S.ACCEPTED),
    (A.DECLINE, S.ASSIGNED, {R.ASSIGNEE}, S.NEW),
    (A.ARRIVE, S.ACCEPTED, {R.ASSIGNEE}, S.IN_PROGRESS),
    (A.HOLD, S.IN_PROGRESS, {R.ASSIGNEE}, S.ON_HOLD),
    (A.HOLD, S.ACCEPTED, {R.DISPATCHER}, S.ON_HOLD),
    (A.RESOLVE, S.IN_PROGRESS, {R.ASSIGNEE}, S.RESOLVED),
    (A.RESOLVE, S.ACCEPTED, {R.ASSIGNEE}, S.RESOLVED),
    (A.CONFIRM, S.RESOLVED, {R.REQUESTER}, S.CLOSED),
    (A.CONFIRM, S.RESOLVED, {R.SYSTEM}, S.CLOSED),
    (A.REOPEN, S.RESOLVED, {R.REQUESTER}, S.REOPENED),
    (A.CANCEL, S.NEW, {R.REQUESTER}, S.CANCELLED),
    (A.CANCEL, S.ACCEPTED, {R.REQUESTER}, S.CANCELLED),
    (A.CANCEL, S.ON_HOLD, {R.DISPATCHER}, S.CANCELLED),
    (A.COMMENT, S.CLOSED, {R.REQUESTER}, S.CLOSED),
    (A.REPRIORITISE, S.ASSIGNED, {R.DISPATCHER}, S.ASSIGNED),
]


@pytest.mark.parametrize("action, source, relations, target", ALLOWED)
def test_allowed_move_reaches_its_status(action, source, relations, target):
    assert decide(action, source, frozenset(relations)) is target


REFUSED = [
    # wrong relation
    (A.ASSIGN, S.NEW, {R.TECHNICIAN, R.REQUESTER}, "not allowed"),
    (A.ACCEPT, S.ASSIGNED, {R.TECHNICIAN}, "not allowed"),  # not the assignee
    (A.RESOLVE, S.IN_PROGRESS, {R.DISPATCHER}, "not allowed"),
    (A.CONFIRM, S.RESOLVED, {R.ASSIGNEE, R.TECHNICIAN}, "not allowed"),
    (A.REOPEN, S.RESOLVED, {R.DISPATCHER}, "not allowed"),
    (A.TAKE, S.NEW, {R.DISPATCHER}, "not allowed"),
    (A.COMMENT, S.NEW, frozenset(), "not allowed"),
    (A.CONFIRM, S.RESOLVED, frozenset(), "not allowed"),
    # wrong status
    (A.ACCEPT, S.NEW, {R.ASSIGNEE}, "not possible now"),
    (A.ARRIVE, S.ASSIGNED, {R.ASSIGNEE}, "not possible now"),
    (A.RESOLVE, S.ON_HOLD, {R.ASSIGNEE}, "not possible now"),
    (A.RESOLVE, S.NEW, {R.ASSIGNEE}, "not possible now"),
    (A.CONFIRM, S.IN_PROGRESS, {R.REQUESTER}, "not possible now"),
    (A.REOPEN, S.CLOSED, {R.REQUESTER}, "not possible now"),
    (A.CANCEL, S.CLOSED, {R.DISPATCHER}, "not possible now"),
    (A.CANCEL, S.RESOLVED, {R.DISPATCHER}, "not possible now"),
    (A.TAKE, S.ASSIGNED, {R.TECHNICIAN}, "not possible now"),
    (A.RESUME, S.IN_PROGRESS, {R.ASSIGNEE}, "not possible now"),
    (A.HOLD, S.ON_HOLD, {R.ASSIGNEE}, "not possible now"),
    # the requester cannot cancel once work is on site
    (A.CANCEL, S.IN_PROGRESS, {R.REQUESTER}, "ask the service centre"),
    (A.CANCEL, S.ON_HOLD, {R.REQUESTER}, "ask the service centre"),
]


@pytest.mark.parametrize("action, source, relations, message", REFUSED)
def test_refused_move_says_why(action, source, relations, message):
    with pytest.raises(TransitionRefused) as refused:
        decide(action, source, frozenset(relations))
    assert message in str(refused.value)


@pytest.mark.parametrize("before", [S.ACCEPTED, S.IN_PROGRESS])
def test_resume_returns_to_the_status_before_the_hold(before):
    assert decide(A.RESUME, S.ON_HOLD, frozenset({R.ASSIGNEE}), status_before_hold=before) is before


def test_final_statuses_allow_nothing_but_comments():
    everyone = frozenset(Relation)
    for status in (S.CLOSED, S.CANCELLED):
        assert allowed_actions(status, everyone) == [A.COMMENT]


def test_every_open_status_can_be_cancelled_by_the_centre():
    for status in OPEN_STATUSES:
        assert decide(A.CANCEL, status, frozenset({R.DISPATCHER})) is S.CANCELLED


def test_requester_sees_only_requester_actions_on_a_resolved_ticket():
    assert allowed_actions(S.RESOLVED, frozenset({R.REQUESTER})) == [A.CONFIRM, A.REOPEN, A.COMMENT]


def test_every_status_is_reachable_from_new():
    reached, frontier = {S.NEW}, [S.NEW]
    everyone = frozenset(Relation)
    while frontier:
        status = frontier.pop()
        for action in allowed_actions(status, everyone, status_before_hold=S.IN_PROGRESS):
            target = decide(action, status, everyone, status_before_hold=S.IN_PROGRESS)
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Status)


def test_the_wait_for_a_quotes_consent_is_not_offered_on_the_hold_form():
    from tracker.domain.workflow import HOLD_REASON_LABELS, MANUAL_HOLD_REASONS, HoldReason

    assert HoldReason.AWAITING_CONSENT not in MANUAL_HOLD_REASONS
    assert set(MANUAL_HOLD_REASONS) | {HoldReason.AWAITING_CONSENT} == set(HoldReason)
    assert set(HOLD_REASON_LABELS) == set(HoldReason)
