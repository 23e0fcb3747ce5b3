"""A scorecard: one technician's or one contractor's figures over a period, read from the daily summary.

Who sees what: leadership and administrators every card; a centre head the
figures earned in their centres; a technician their own card and nothing
more. Definitions: ``summary`` and docs/scorecards.md. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, false, func, or_, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Contractor,
    ContractorMember,
    DailyTechnicianHold,
    DailyTechnicianStat,
    Ticket,
    User,
)
from tracker.models.scorecards import FOLLOW_UP_COLUMNS, SCORED_TARGETS
from tracker.services.insight import reports
from tracker.services.insight.scorecards.summary import COUNT_COLUMNS
from tracker.services.sla.standards import promises

# A scorecard reads whole local days; longer than this is refused (the summary
# is sized for assessments: a month, a term, a year).
MAX_YEARS = 3
GROUPS = ("technician", "contractor")
READERS = (Role.TECHNICIAN, Role.CENTRE_HEAD, Role.LEADERSHIP, Role.ADMIN)


@dataclass
class Card:
    """The figures of one technician or contractor (``key``), or of everyone in view (key None)."""

    key: int | None = None
    name: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    holds: dict[str, int] = field(default_factory=dict)  # seconds by reason
    centres: set[int] = field(default_factory=set)
    promised: dict[str, float | None] = field(default_factory=dict)  # share per target, fraction

    @property
    def handled(self) -> int:
        return self.counts["handled"]

    def on_time_percent(self, target: str) -> float | None:
        met, breached = self.counts[f"{target}_met"], self.counts[f"{target}_breached"]
        return None if met + breached == 0 else 100.0 * met / (met + breached)

    def promised_percent(self, target: str) -> float | None:
        share = self.promised.get(target)
        return None if share is None else 100.0 * share

    def gap(self, target: str) -> float | None:
        actual, promised = self.on_time_percent(target), self.promised_percent(target)
        return None if actual is None or promised is None else actual - promised

    @property
    def rework_percent(self) -> float | None:
        return None if self.handled == 0 else 100.0 * self.counts["reworked"] / self.handled

    @property
    def auto_closed_percent(self) -> float | None:
        return None if self.handled == 0 else 100.0 * self.counts["auto_closed"] / self.handled

    @property
    def rating(self) -> float | None:
        count = self.counts["rating_count"]
        return None if count == 0 else self.counts["rating_sum"] / count

    @property
    def follow_ups(self) -> int:
        return sum(self.counts[f"fu_{r}"] for r in FOLLOW_UP_COLUMNS)

    def hold_hours(self, reason: str) -> float:
        return self.holds.get(reason, 0) / 3600.0

    @property
    def total_hold_hours(self) -> float:
        return sum(self.holds.values()) / 3600.0

    def add(self, other: Card) -> None:
        for name, value in other.counts.items():
            self.counts[name] += value
        for reason, seconds in other.holds.items():
            self.holds[reason] = self.holds.get(reason, 0) + seconds
        self.centres |= other.centres


def check_period(first: date, last: date) -> None:
    """Refuse a period that ends before it starts or spans more than MAX_YEARS years (ValidationFailed)."""
    if last < first:
        raise ValidationFailed(N_("The period ends before it starts."))
    try:
        limit = first.replace(year=first.year + MAX_YEARS)
    except ValueError:  # 29 February
        limit = date(first.year + MAX_YEARS, 3, 1)
    if last >= limit:
        raise ValidationFailed(
            N_(
                "A scorecard covers at most %(years)d years: choose a shorter period (from %(first)s, "
                "up to %(last)s)."
            ),
            years=MAX_YEARS,
            first=first.isoformat(),
            last=date.fromordinal(limit.toordinal() - 1).isoformat(),
        )


def may_read(user: User | None) -> bool:
    return user is not None and user.is_active and user.has_any_role(*READERS)


def sees_all(user: User) -> bool:
    return user.has_any_role(Role.LEADERSHIP, Role.ADMIN)


def _scope(user: User, stat):
    """Return the WHERE clause of the summary rows ``user`` may read."""
    if sees_all(user):
        return and_(True)
    parts = []
    heads = sorted(user.centre_ids(Role.CENTRE_HEAD))
    if heads:
        parts.append(stat.centre_id.in_(heads))
    if user.has_role(Role.TECHNICIAN):
        parts.append(stat.technician_id == user.id)
    return or_(*parts) if parts else false()


def technician_cards(
    user: User,
    first: date,
    last: date,
    *,
    now: datetime,
    centre_id: int | None = None,
    technician_id: int | None = None,
) -> tuple[list[Card], Card]:
    """Return the cards per technician in ``user``'s view, named and sorted by name, and their total.

    Raises PermissionDenied for a user who reads no scorecard, ValidationFailed for a bad period.
    """
    if not may_read(user):
        raise PermissionDenied(N_("Scorecards are for technicians, centre heads and leadership."))
    check_period(first, last)
    cards = _cards(
        user,
        first,
        last,
        centre_id,
        technician_id,
        DailyTechnicianStat.technician_id,
        DailyTechnicianHold.technician_id,
    )
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(list(cards)))).all())
    for key, card in cards.items():
        card.name = names.get(key, "?")
    return _finish(cards, first, last, now)


def contractor_cards(
    user: User, first: date, last: date, *, now: datetime, centre_id: int | None = None
) -> tuple[list[Card], Card]:
    """Return the cards per contractor (its technicians' figures summed) in ``user``'s view, and their total.

    A technician sees no contractor card (their own card only): PermissionDenied.
    """
    if not may_read(user):
        raise PermissionDenied(N_("Scorecards are for technicians, centre heads and leadership."))
    if not (sees_all(user) or user.has_role(Role.CENTRE_HEAD)):
        raise PermissionDenied(N_("Contractors' scorecards are for centre heads and leadership."))
    check_period(first, last)
    stat_key = ContractorMember.contractor_id
    cards = _cards(user, first, last, centre_id, None, stat_key, stat_key, member_join=True)
    names = {c.id: (c.name_en, c.name_zh) for c in db.session.execute(select(Contractor)).scalars()}
    for key, card in cards.items():
        card.name = _localised(*names.get(key, ("?", "?")))
    return _finish(cards, first, last, now)


def _localised(english: str, chinese: str) -> str:
    from flask import has_request_context
    from flask_babel import get_locale

    locale = str(get_locale() or "en") if has_request_context() else "en"
    return chinese if locale.startswith("zh") and chinese else english


def _cards(
    user: User,
    first: date,
    last: date,
    centre_id: int | None,
    technician_id: int | None,
    key,
    hold_key,
    *,
    member_join: bool = False,
) -> dict[int, Card]:
    stat, hold = DailyTechnicianStat, DailyTechnicianHold
    where = [stat.day >= first, stat.day <= last, _scope(user, stat)]
    hold_where = [hold.day >= first, hold.day <= last, _scope(user, hold)]
    if centre_id is not None:
        where.append(stat.centre_id == centre_id)
        hold_where.append(hold.centre_id == centre_id)
    if technician_id is not None:
        where.append(stat.technician_id == technician_id)
        hold_where.append(hold.technician_id == technician_id)
    query = select(key, stat.centre_id, *(func.sum(getattr(stat, c)) for c in COUNT_COLUMNS))
    holds = select(hold_key, hold.reason, func.sum(hold.seconds))
    if member_join:
        query = query.join(ContractorMember, ContractorMember.user_id == stat.technician_id)
        holds = holds.join(ContractorMember, ContractorMember.user_id == hold.technician_id)
    cards: dict[int, Card] = {}
    for row_key, row_centre, *values in db.session.execute(query.where(*where).group_by(key, stat.centre_id)):
        card = cards.setdefault(row_key, Card(key=row_key))
        card.centres.add(row_centre)
        for name, value in zip(COUNT_COLUMNS, values, strict=True):
            card.counts[name] += int(value or 0)
    for row_key, reason, seconds in db.session.execute(
        holds.where(*hold_where).group_by(hold_key, hold.reason)
    ):
        card = cards.setdefault(row_key, Card(key=row_key))
        card.holds[reason] = card.holds.get(reason, 0) + int(seconds or 0)
    return cards


def _finish(cards: dict[int, Card], first: date, last: date, now: datetime) -> tuple[list[Card], Card]:
    """Put each card's promised shares beside it (the strictest standard of its centres), sort, total."""
    total = Card()
    for card in cards.values():
        total.add(card)
    at = promises.standard_instant(reports.Filters(first=first, last=last), now)
    standards = promises._standards(sorted(total.centres), None, at) if total.centres else {}
    for card in [*cards.values(), total]:
        for target in SCORED_TARGETS:
            shares = [
                standards[(c, target)]["share"]
                for c in card.centres
                if (c, target) in standards and standards[(c, target)]["share"] is not None
            ]
            card.promised[target] = max(shares) if shares else None
    return sorted(cards.values(), key=lambda c: (c.name.lower(), c.key)), total


def handled_jobs(
    user: User, technician_id: int, first: date, last: date, *, limit: int = 200
) -> list[Ticket]:
    """Return the requests behind a technician's "handled" figure (newest first, at most ``limit``).

    Raises PermissionDenied when ``user`` may not read that technician's card.
    """
    if not may_read(user):
        raise PermissionDenied(N_("Scorecards are for technicians, centre heads and leadership."))
    check_period(first, last)
    start, end = reports.day_bounds(first, last)
    query = select(Ticket).where(
        Ticket.assignee_id == technician_id, reports.period_condition("resolved", start, end)
    )
    if not sees_all(user) and technician_id != user.id:
        heads = sorted(user.centre_ids(Role.CENTRE_HEAD))
        if not heads:
            raise PermissionDenied(N_("You can read your own scorecard only."))
        query = query.where(Ticket.centre_id.in_(heads))
    return list(db.session.execute(query.order_by(Ticket.resolved_at.desc()).limit(limit)).scalars())
