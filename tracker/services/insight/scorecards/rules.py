"""Follow-up rules: the share of each centre's closed requests, per category, that gets a follow-up call.

A rule names a centre and a category (or none: the centre's default) and a
share in percent; a category marked as complaints is always followed up in
full (100 %). Without any rule a centre keeps the fixed weekly sample
(FOLLOW_UP_SAMPLE_PER_CENTRE). The weekly draw follows the rules
(``follow_ups``); coverage compares the follow-ups held with what the rule asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, exists, func, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.workflow import Status
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Category, Centre, FollowUp, FollowUpRule, Ticket, User
from tracker.services import audit
from tracker.services.insight import reports


def clean_share(value) -> int:
    """Return a share in whole percent from 0 to 100; raise ValidationFailed for anything else."""
    text = str(value if value is not None else "").strip().rstrip("%").strip()
    try:
        share = int(text)
    except ValueError:
        share = None
    if share is None or not 0 <= share <= 100:
        raise ValidationFailed(N_("The follow-up share is a whole percent from 0 to 100, e.g. 30."))
    return share


def may_manage(user: User | None, centre_id: int) -> bool:
    """Administrators set every centre's rules; a centre head their own centre's."""
    if user is None or not user.is_active:
        return False
    return user.has_role(Role.ADMIN) or centre_id in user.centre_ids(Role.CENTRE_HEAD)


def managed_centres(user: User) -> list[Centre]:
    """Return the centres whose rules ``user`` sets, by code."""
    query = select(Centre).order_by(Centre.code)
    if not user.has_role(Role.ADMIN):
        query = query.where(Centre.id.in_(user.centre_ids(Role.CENTRE_HEAD)))
    return list(db.session.execute(query).scalars())


def rules_of(centre_id: int) -> dict[int | None, FollowUpRule]:
    """Return the centre's rules by category id (None: the default)."""
    return {
        rule.category_id: rule
        for rule in db.session.execute(
            select(FollowUpRule).where(FollowUpRule.centre_id == centre_id)
        ).scalars()
    }


def set_rule(
    centre_id: int,
    category_id: int | None,
    share,
    *,
    is_complaint: bool = False,
    actor: User | None,
    now: datetime,
) -> FollowUpRule:
    """Set the follow-up share of a centre's category (or its default); complaints are 100 %; commit.

    ``actor`` None is the command line; a user must manage the centre
    (``may_manage``). The change goes into the administration history.
    """
    if db.session.get(Centre, centre_id) is None:
        raise NotFound()
    if actor is not None and not may_manage(actor, centre_id):
        raise PermissionDenied()
    if category_id is not None:
        category = db.session.get(Category, category_id)
        if category is None or category.centre_id != centre_id:
            raise ValidationFailed(N_("That category belongs to another centre."))
    percent = 100 if is_complaint else clean_share(share)
    audit.act_as(actor)
    rule = db.session.execute(
        select(FollowUpRule).where(
            FollowUpRule.centre_id == centre_id,
            FollowUpRule.category_id.is_(None)
            if category_id is None
            else FollowUpRule.category_id == category_id,
        )
    ).scalar_one_or_none()
    if rule is None:
        rule = FollowUpRule(centre_id=centre_id, category_id=category_id)
        db.session.add(rule)
    rule.share_percent, rule.is_complaint = percent, bool(is_complaint)
    rule.updated_at, rule.updated_by_id = now, actor.id if actor is not None else None
    db.session.commit()
    return rule


def shares(centre_id: int) -> tuple[int | None, dict[int, int]]:
    """Return the centre's default share (None without one) and the share per category with a rule."""
    default, per_category = None, {}
    for category_id, percent in db.session.execute(
        select(FollowUpRule.category_id, FollowUpRule.share_percent).where(
            FollowUpRule.centre_id == centre_id
        )
    ):
        if category_id is None:
            default = percent
        else:
            per_category[category_id] = percent
    return default, per_category


def has_rules(centre_id: int) -> bool:
    return (
        db.session.execute(
            select(FollowUpRule.id).where(FollowUpRule.centre_id == centre_id).limit(1)
        ).first()
        is not None
    )


def wanted(share: int | None, closed: int) -> int:
    """Return how many of ``closed`` requests a share asks for (rounded up: 30 % of 1 is 1)."""
    return 0 if not share or closed <= 0 else math.ceil(closed * share / 100)


@dataclass
class Coverage:
    """One category's closed requests in a period, what the rule asks for, and what was followed up."""

    category_id: int | None
    share: int | None
    closed: int = 0
    wanted: int = 0
    followed: int = 0

    @property
    def percent(self) -> float | None:
        """Followed ÷ wanted in percent (capped at 100), None when the rule asks for none."""
        return None if self.wanted == 0 else min(100.0, 100.0 * self.followed / self.wanted)


def coverage(centre_id: int, first: date, last: date) -> tuple[list[Coverage], Coverage]:
    """Return, per category with closed requests in the period, its coverage against the rule, and the total.

    ``followed``: closed requests of the period that have a follow-up (either kind) recorded as done.
    """
    start, end = reports.day_bounds(first, last)
    default, per_category = shares(centre_id)
    done = exists().where(FollowUp.ticket_id == Ticket.id, FollowUp.status == "done")
    query = (
        select(Ticket.category_id, func.count(), func.sum(case((done, 1), else_=0)))
        .where(
            Ticket.centre_id == centre_id,
            Ticket.status == Status.CLOSED,
            Ticket.closed_at >= start,
            Ticket.closed_at < end,
        )
        .group_by(Ticket.category_id)
    )
    rows = []
    total = Coverage(category_id=None, share=default)
    for category_id, closed, followed in db.session.execute(query):
        share = per_category.get(category_id, default)
        row = Coverage(
            category_id=category_id,
            share=share,
            closed=closed,
            wanted=wanted(share, closed),
            followed=min(int(followed or 0), closed),
        )
        rows.append(row)
        total.closed += row.closed
        total.wanted += row.wanted
        total.followed += min(row.followed, row.wanted)
    return rows, total
