"""The rectification items' rules alone: who may do what from which status, and their deadlines."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.domain.rectification import (
    Action,
    AtRiskRule,
    ItemStatus,
    Relation,
    allowed_actions,
    at_risk_instant,
    decide,
    due_instant,
    is_at_risk,
    is_overdue,
    may_create,
)
from tracker.domain.workflow import TransitionRefused

S, R, A = ItemStatus, Relation, Action
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "action, status, relation, target",
    [
        (A.START, S.OPEN, R.RESPONSIBLE, S.IN_PROGRESS),
        (A.UPDATE, S.OPEN, R.MANAGER, S.IN_PROGRESS),
        (A.UPDATE, S.IN_PROGRESS, R.RESPONSIBLE, S.IN_PROGRESS),
        (A.SUBMIT, S.OPEN, R.RESPONSIBLE, S.AWAITING_VERIFICATION),
        (A.SUBMIT, S.IN_PROGRESS, R.MANAGER, S.AWAITING_VERIFICATION),
        (A.VERIFY, S.AWAITING_VERIFICATION, R.LEADERSHIP, S.VERIFIED),
        (A.REJECT, S.AWAITING_VERIFICATION, R.LEADERSHIP, S.IN_PROGRESS),
        (A.CANCEL, S.AWAITING_VERIFICATION, R.HEAD, S.CANCELLED),
        (A.RESCHEDULE, S.IN_PROGRESS, R.LEADERSHIP, S.IN_PROGRESS),
        (A.COMMENT, S.VERIFIED, R.RESPONSIBLE, S.VERIFIED),
    ],
)
def test_allowed_moves_give_their_target(action, status, relation, target):
    assert decide(action, status, frozenset({relation})) is target


@pytest.mark.parametrize(
    "action, status, relations, says",
    [
        (A.VERIFY, S.AWAITING_VERIFICATION, {R.RESPONSIBLE, R.MANAGER, R.HEAD}, "not allowed"),
        (A.REJECT, S.AWAITING_VERIFICATION, {R.MANAGER}, "not allowed"),
        (A.START, S.OPEN, {R.LEADERSHIP}, "not allowed"),
        (A.CANCEL, S.OPEN, {R.RESPONSIBLE, R.MANAGER}, "not allowed"),
        (A.RESCHEDULE, S.OPEN, {R.HEAD}, "not allowed"),
        (A.START, S.OPEN, {R.SYSTEM}, "not allowed"),
        (A.VERIFY, S.IN_PROGRESS, {R.LEADERSHIP}, "is “%(status)s”"),
        (A.SUBMIT, S.AWAITING_VERIFICATION, {R.RESPONSIBLE}, "is “%(status)s”"),
        (A.UPDATE, S.VERIFIED, {R.RESPONSIBLE}, "is “%(status)s”"),
        (A.REJECT, S.VERIFIED, {R.LEADERSHIP}, "is “%(status)s”"),
        (A.LINK, S.CANCELLED, {R.MANAGER}, "is “%(status)s”"),
    ],
)
def test_refused_moves_say_why(action, status, relations, says):
    with pytest.raises(TransitionRefused) as refused:
        decide(action, status, frozenset(relations))
    assert says in refused.value.message


def test_allowed_actions_list_what_decide_allows():
    assert allowed_actions(S.AWAITING_VERIFICATION, frozenset({R.LEADERSHIP})) == [
        A.VERIFY, A.REJECT, A.CANCEL, A.REASSIGN, A.RESCHEDULE, A.COMMENT, A.LINK, A.ATTACH]
    assert allowed_actions(S.VERIFIED, frozenset({R.RESPONSIBLE})) == [A.COMMENT]
    assert allowed_actions(S.OPEN, frozenset()) == []
    assert may_create(frozenset({R.MANAGER})) and may_create(frozenset({R.LEADERSHIP}))
    assert not may_create(frozenset({R.RESPONSIBLE})) and not may_create(frozenset())


def test_an_item_is_due_at_the_end_of_its_local_day():
    assert due_instant(date(2026, 3, 12), SHANGHAI) == datetime(2026, 3, 12, 16, tzinfo=UTC)
    # The last day of a year ends in the next one.
    assert due_instant(date(2026, 12, 31), SHANGHAI) == datetime(2026, 12, 31, 16, tzinfo=UTC)


T = datetime(2026, 3, 2, 1, tzinfo=UTC)
DUE = T + timedelta(days=10)


@pytest.mark.parametrize(
    "rule, expected",
    [
        (AtRiskRule(share=0.75), T + timedelta(days=7, hours=12)),
        (AtRiskRule(share=0.5), T + timedelta(days=5)),
        (AtRiskRule(share=None, days=3), DUE - timedelta(days=3)),
        (AtRiskRule(share=None, days=30), T),  # never before the item was opened
    ],
)
def test_the_at_risk_instant(rule, expected):
    assert at_risk_instant(T, DUE, rule) == expected


@pytest.mark.parametrize("share, days", [(None, None), (0.5, 3), (1.0, None), (0.0, None), (None, 0)])
def test_a_bad_at_risk_rule_is_refused(share, days):
    with pytest.raises(ValueError):
        AtRiskRule(share=share, days=days)


@pytest.mark.parametrize(
    "status, now, at_risk, overdue",
    [
        (S.OPEN, DUE - timedelta(days=3, seconds=1), False, False),
        (S.OPEN, DUE - timedelta(days=3), True, False),
        (S.IN_PROGRESS, DUE - timedelta(seconds=1), True, False),
        (S.IN_PROGRESS, DUE, False, True),
        (S.AWAITING_VERIFICATION, DUE - timedelta(days=1), False, False),  # leadership's turn, not the owner's
        (S.AWAITING_VERIFICATION, DUE, False, True),
        (S.VERIFIED, DUE + timedelta(days=1), False, False),
        (S.CANCELLED, DUE + timedelta(days=1), False, False),
    ],
)
def test_at_risk_and_overdue_at_their_edges(status, now, at_risk, overdue):
    assert is_at_risk(status, DUE - timedelta(days=3), DUE, now) is at_risk
    assert is_overdue(status, DUE, now) is overdue
