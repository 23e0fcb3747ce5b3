"""What history supports: the limit a period actually achieved for a chosen share.

For each centre, category, priority and target, the targets whose milestone
falls in the period (met or late; cancelled and open ones are left out) are
sorted by the business time they used: the stored ``elapsed_minutes``, on
the target's own calendar, pauses that counted left out (the clock's own
figure). The limit that ``share`` of them met is the smallest limit L with
at least ``share`` of them at or under L: to promise 95 %, L is what 95 %
of the requests actually took. It is set beside the limit they were
measured against and, with a draft, the limit the draft promises.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date

from sqlalchemy import and_, select

from tracker.domain.i18n import N_
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Priority
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.models import Category, Centre, Ticket, TicketSla
from tracker.services.insight.reports import Filters
from tracker.services.sla.standards.draft import Draft
from tracker.services.sla.standards.replay import Rules


def needed_minutes(values: list[float], share: float) -> float | None:
    """Return the smallest limit that at least ``share`` of ``values`` stay within (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered) - 1e-9))
    return ordered[rank - 1]


def supported(filters: Filters, share: float, *, draft: Draft | None = None) -> list[dict]:
    """Return, per centre, category, priority and target, the limit the period achieved for ``share``.

    Raises ValidationFailed for a share outside (0, 1] or a period with no
    measured target.
    """
    if not 0 < share <= 1:
        raise ValidationFailed(N_("Give a share above 0 and at most 1, e.g. 0.95."))
    start, end = filters.bounds
    query = (
        select(Ticket.centre_id, Ticket.category_id, Ticket.priority, TicketSla.target, TicketSla.elapsed_minutes,
               TicketSla.target_minutes, Ticket.sla_policy_version_id)
        .join(Ticket, Ticket.id == TicketSla.ticket_id)
        .where(TicketSla.state.in_([TargetState.MET, TargetState.BREACHED]), TicketSla.milestone_at >= start,
               TicketSla.milestone_at < end)
    )
    if filters.centre_id is not None:
        query = query.where(Ticket.centre_id == filters.centre_id)
    if filters.category_id is not None:
        query = query.where(and_(Ticket.category_id == filters.category_id))
    elapsed: dict[tuple, list[float]] = defaultdict(list)
    limits: dict[tuple, Counter] = defaultdict(Counter)
    versions: dict[tuple, int | None] = {}
    for centre_id, category_id, priority, target, used, limit, version_id in db.session.execute(query):
        key = (centre_id, category_id, Priority(priority).value, Target(target).value)
        elapsed[key].append(float(used))
        limits[key][float(limit)] += 1
        versions.setdefault(key, version_id)
    if not elapsed:
        raise ValidationFailed(N_("No request was filed or measured in this period."))
    rules = Rules(draft) if draft is not None and not draft.is_current else None
    centres = dict(db.session.execute(select(Centre.id, Centre.code)).all())
    categories = dict(db.session.execute(select(Category.id, Category.code)).all())
    rows = []
    for key in sorted(elapsed, key=lambda k: (centres.get(k[0], ""), categories.get(k[1], ""),
                                              list(Priority).index(Priority(k[2])), list(Target).index(Target(k[3])))):
        centre_id, category_id, priority, target = key
        draft_minutes = draft_share = None
        if rules is not None:
            chosen = rules.drafted(category_id, versions[key], {})
            if chosen is not None:
                rule = chosen[1].get("targets", {}).get(target) or {}
                draft_minutes = (rule.get("minutes") or {}).get(priority)
                draft_share = rule.get("share")
        wanted = draft_share or share
        rows.append({
            "centre": centres.get(centre_id), "category": categories.get(category_id), "priority": priority,
            "target": target, "measured": len(elapsed[key]), "share": wanted,
            "needed_minutes": _rounded(needed_minutes(elapsed[key], wanted)),
            "current_minutes": limits[key].most_common(1)[0][0],
            "draft_minutes": draft_minutes,
            "within_current": round(sum(1 for v in elapsed[key] if v <= limits[key].most_common(1)[0][0])
                                    / len(elapsed[key]), 4),
        })
    return rows


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def weeks_back(today: date, weeks: int) -> tuple[date, date]:
    """Return the last ``weeks`` whole weeks up to and including ``today`` (local dates)."""
    from datetime import timedelta

    if not 1 <= weeks <= 520:
        raise ValidationFailed(N_("Choose between 1 and 520 weeks."))
    return today - timedelta(days=7 * weeks - 1), today
