"""Follow-ups: visits after low ratings, calls for a weekly sample of closed requests.

A rating of 2 or less opens a "low rating" follow-up; every week a sample of
the requests each centre closed the week before is drawn for "sample call"
follow-ups. Either kind is assigned to the heads of the request's centre
(everyone holding the centre head role there), is due at the close of
FOLLOW_UP_DUE_WORKING_DAYS working days (on the FOLLOW_UP_CALENDAR business
calendar) after it opens, and is done when a head records the contact: when,
the result and what was said. Opening and recording are events of the
request's history; the heads get a ``follow_up_due`` notice.

The weekly sample (FOLLOW_UP_SAMPLE_PER_CENTRE per centre, 0 for none) is
random but reproducible: seeded by the week and the centre's code, drawn
from the centre's requests closed in that local week (Monday to Sunday)
that have no follow-up yet, so no request is drawn twice. A centre's draw
for a week happens once: ``follow_up_samples`` has one row per week and
centre, inserted in the draw's own transaction, and a second draw finds it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import Select, and_, case, exists, func, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.workflow import Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Centre,
    EventKind,
    FollowUp,
    FollowUpKind,
    FollowUpResult,
    FollowUpSample,
    FollowUpStatus,
    Ticket,
    TicketEvent,
    User,
)
from tracker.services import bulk
from tracker.services.insight import reports, stats
from tracker.services.notify import outbox
from tracker.services.sla import clocks as sla

# Ratings at or below this open a follow-up visit.
LOW_RATING_MAX = 2
OUTCOME_MAX = 2000
NOTICE_KIND = "follow_up_due"
# Who reads the follow-ups page: heads their centres', leadership and administrators all.
READERS = (Role.CENTRE_HEAD, Role.LEADERSHIP, Role.ADMIN)

KIND_LABELS = {
    FollowUpKind.LOW_RATING: N_("Visit after a low rating"),
    FollowUpKind.SAMPLE_CALL: N_("Call of the weekly sample"),
}
STATUS_LABELS = {
    FollowUpStatus.OPEN: N_("Open"),
    FollowUpStatus.DONE: N_("Done"),
}
RESULT_LABELS = {
    FollowUpResult.REACHED: N_("Reached: nothing more to do"),
    FollowUpResult.NOT_REACHED: N_("Could not reach the requester"),
    FollowUpResult.RESOLVED: N_("The requester's concern was settled"),
    FollowUpResult.ESCALATED: N_("Passed on (rectification item, leadership, new request)"),
}
# The list's filters: the "now" states and everything.
STATES = ("open", "overdue", "done", "all")


# ---------------------------------------------------------------- due dates


def due_after(opened_at: datetime) -> datetime:
    """Return the close of the FOLLOW_UP_DUE_WORKING_DAYS-th working day after the day ``opened_at`` is in.

    Working days are those of the FOLLOW_UP_CALENDAR calendar; without it,
    Monday to Friday in the campus time zone (due at midnight after the day).
    """
    days = current_app.config["FOLLOW_UP_DUE_WORKING_DAYS"]
    zone = reports.campus_zone()
    first = opened_at.astimezone(zone).date()
    try:
        calendar = sla.calendar_version(sla.current_calendar_version_id(current_app.config["FOLLOW_UP_CALENDAR"]))
    except Exception:  # no such calendar: weekdays
        calendar = None
    counted = 0
    for offset in range(1, 366):
        day = first + timedelta(days=offset)
        start = datetime.combine(day, time.min, zone)
        end = datetime.combine(day + timedelta(days=1), time.min, zone)
        if calendar is not None:
            periods = calendar.working_periods(start, end)
            closing = periods[-1][1] if periods else None
        else:
            closing = end if day.weekday() < 5 else None
        if closing is not None:
            counted += 1
            if counted == days:
                return closing.astimezone(opened_at.tzinfo)
    return opened_at + timedelta(days=days)  # a calendar with no working time in a year


# ---------------------------------------------------------------- opening


def _open_low_rating(ticket: Ticket, rating: int, *, now: datetime) -> FollowUp | None:
    """Open the request's low-rating follow-up unless it has one; event and notice (no commit)."""
    existing = db.session.execute(
        select(FollowUp.id).where(FollowUp.ticket_id == ticket.id, FollowUp.kind == FollowUpKind.LOW_RATING)
    ).scalar_one_or_none()
    if existing is not None:
        return None  # a rating changed within its window: one visit is enough
    follow_up = FollowUp(ticket_id=ticket.id, centre_id=ticket.centre_id, kind=FollowUpKind.LOW_RATING,
                         status=FollowUpStatus.OPEN, created_at=now, due_at=due_after(now))
    db.session.add(follow_up)
    db.session.flush()
    _opened_event(ticket.id, follow_up, now)
    notice = outbox.Notice(
        kind=NOTICE_KIND,
        key=f"follow_up:{follow_up.id}",
        subject=f"{ticket.reference} rated {rating}: follow-up",
        payload={"reference": ticket.reference, "title": ticket.title, "rating": rating,
                 "due_at": follow_up.due_at.isoformat()},
        ticket_id=ticket.id,
        centre_id=ticket.centre_id,
        link=f"/tickets/{ticket.reference}#follow-ups",
    )
    outbox.queue([notice], {notice.key: outbox.users_with_role(Role.CENTRE_HEAD, ticket.centre_id)}, now=now)
    return follow_up


def _opened_event(ticket_id: int, follow_up: FollowUp, now: datetime) -> None:
    db.session.add(TicketEvent(
        ticket_id=ticket_id, kind=EventKind.FOLLOW_UP_OPENED, actor_id=None, created_at=now,
        data={"follow_up_id": follow_up.id, "kind": follow_up.kind.value, "due_at": follow_up.due_at.isoformat()},
    ))


# ---------------------------------------------------------------- recording


def may_record(user: User | None, follow_up: FollowUp) -> bool:
    """Return whether ``user`` may record the follow-up: a head of its centre, while it is open."""
    return (user is not None and user.is_active and follow_up.status is FollowUpStatus.OPEN
            and user.has_role(Role.CENTRE_HEAD, follow_up.centre_id))


def record(follow_up_id: int, *, actor: User, now: datetime, result, outcome: str = "",
           contacted_at: datetime | None = None) -> FollowUp:
    """Record the visit or call of a follow-up as a head of its centre; it is done; commit.

    ``contacted_at`` (default ``now``) is when the requester was contacted:
    not before the follow-up opened (to the minute), not after ``now``.
    Raises NotFound, PermissionDenied (not a head of its centre), Conflict
    (recorded already), ValidationFailed (no result, no outcome where one
    is needed, a contact time out of range, a text too long).
    """
    try:
        follow_up = db.session.execute(
            select(FollowUp).where(FollowUp.id == follow_up_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if follow_up is None:
            raise NotFound()
        if not actor.is_active or not actor.has_role(Role.CENTRE_HEAD, follow_up.centre_id):
            raise PermissionDenied(N_("Only a head of the request's centre records its follow-up."))
        if follow_up.status is not FollowUpStatus.OPEN:
            raise Conflict(N_("This follow-up is recorded already."))
        try:
            code = FollowUpResult(result)
        except ValueError:
            raise ValidationFailed(N_("Choose the result of the follow-up.")) from None
        text = (outcome or "").strip()
        if not text and code is not FollowUpResult.NOT_REACHED:
            raise ValidationFailed(N_("Say what the requester said, or what was done."))
        if len(text) > OUTCOME_MAX:
            raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=OUTCOME_MAX)
        contacted = contacted_at or now
        if contacted > now or contacted < follow_up.created_at - timedelta(minutes=1):
            raise ValidationFailed(N_("The contact must be between the opening of the follow-up and now."))
        follow_up.status = FollowUpStatus.DONE
        follow_up.result = code
        follow_up.outcome = text
        follow_up.contacted_at = contacted
        follow_up.done_at = now
        follow_up.done_by_id = actor.id
        # The notes stay on the follow-up, which only the centre's heads and
        # leadership read; the history (the requester reads it) gets the result.
        db.session.add(TicketEvent(
            ticket_id=follow_up.ticket_id, kind=EventKind.FOLLOW_UP_RECORDED, actor_id=actor.id, created_at=now,
            data={"follow_up_id": follow_up.id, "kind": follow_up.kind.value, "result": code.value,
                  "contacted_at": contacted.isoformat()},
        ))
        # Follow-up outcomes count on the technicians' scorecards on the day recorded.
        centre_id = db.session.execute(select(Ticket.centre_id).where(Ticket.id == follow_up.ticket_id)).scalar_one()
        stats.mark([(reports.local_day(now), centre_id)])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return follow_up


# ---------------------------------------------------------------- reading


def may_read(user: User, centre_id: int) -> bool:
    """Return whether ``user`` reads a centre's follow-ups: its heads, leadership, administrators."""
    return user.is_active and (user.has_any_role(Role.LEADERSHIP, Role.ADMIN)
                               or user.has_role(Role.CENTRE_HEAD, centre_id))


def visible(user: User) -> Select:
    """Return a select of the follow-ups ``user`` may read: all for leadership, their centres' for heads."""
    query = select(FollowUp)
    if user.has_any_role(Role.LEADERSHIP, Role.ADMIN):
        return query
    return query.where(FollowUp.centre_id.in_(sorted(user.centre_ids(Role.CENTRE_HEAD)) or [-1]))


def state_condition(state: str, now: datetime):
    """Return the WHERE clause of a list filter (``STATES``); raise ValueError for another."""
    if state == "open":
        return FollowUp.status == FollowUpStatus.OPEN
    if state == "overdue":
        return and_(FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_at < now)
    if state == "done":
        return FollowUp.status == FollowUpStatus.DONE
    if state == "all":
        return and_(True)
    raise ValueError(f"unknown follow-up state {state!r}")


def for_ticket(ticket_id: int) -> list[FollowUp]:
    return list(db.session.execute(
        select(FollowUp).where(FollowUp.ticket_id == ticket_id).order_by(FollowUp.id)
    ).scalars())


@dataclass
class Counts:
    """A centre's follow-ups: open and overdue now, done in a period."""

    open: int = 0
    overdue: int = 0
    done: int = 0


def counts(centre_id: int, first: date, last: date, now: datetime) -> Counts:
    """Return the centre's follow-ups open and overdue at ``now``, and done in the local days ``first``–``last``."""
    start, end = reports.day_bounds(first, last)
    open_count, overdue = db.session.execute(
        select(func.count(), func.sum(case((FollowUp.due_at < now, 1), else_=0)))
        .where(FollowUp.centre_id == centre_id, FollowUp.status == FollowUpStatus.OPEN)
    ).one()
    done = db.session.execute(
        select(func.count()).select_from(FollowUp)
        .where(FollowUp.centre_id == centre_id, FollowUp.status == FollowUpStatus.DONE,
               FollowUp.done_at >= start, FollowUp.done_at < end)
    ).scalar_one()
    return Counts(open=open_count, overdue=int(overdue or 0), done=done)


# ---------------------------------------------------------------- the weekly sample


def sample_week(now: datetime) -> date:
    """Return the Monday of the last local week that is over at ``now``: the week the sample is drawn from."""
    return reports.period_start(reports.local_day(now), "week") - timedelta(days=7)


def draw_sample(week_start: date, *, now: datetime, size: int | None = None) -> dict[int, list[int]]:
    """Draw each centre's sample of the requests closed in ``week_start``'s week, once per week and centre.

    Returns the ticket ids drawn per centre by this call (centres drawn
    before are left out). Commits per centre: the draw, its follow-ups,
    their events and the heads' notice together.
    """
    week = reports.period_start(week_start, "week")
    size = current_app.config["FOLLOW_UP_SAMPLE_PER_CENTRE"] if size is None else size
    if size <= 0:
        return {}
    start, end = reports.day_bounds(week, week + timedelta(days=6))
    # The check runs often: centres drawn already are not tried again (the unique key would refuse).
    done = select(FollowUpSample.centre_id).where(FollowUpSample.week_start == week)
    centres = list(db.session.execute(
        select(Centre.id, Centre.code).where(Centre.id.not_in(done)).order_by(Centre.id)
    ).all())
    db.session.rollback()
    drawn: dict[int, list[int]] = {}
    for centre_id, code in centres:
        try:
            chosen = _draw_centre(week, centre_id, code, size, start, end, now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        if chosen is not None:
            drawn[centre_id] = chosen
    return drawn


def _draw_centre(week: date, centre_id: int, code: str, size: int, start: datetime, end: datetime,
                 now: datetime) -> list[int] | None:
    claimed = bulk.insert_ignoring_conflicts(
        FollowUpSample.__table__,
        [{"week_start": week, "centre_id": centre_id, "size": size, "drawn": 0, "drawn_at": now}],
        conflict=["week_start", "centre_id"],
        returning=["id"],
    )
    if not claimed:
        return None  # drawn already (by an earlier check, or another worker right now)
    candidates = list(db.session.execute(
        select(Ticket.id, Ticket.category_id)
        .where(Ticket.centre_id == centre_id, Ticket.status == Status.CLOSED,
               Ticket.closed_at >= start, Ticket.closed_at < end,
               ~exists().where(FollowUp.ticket_id == Ticket.id))
        .order_by(Ticket.id)
    ).all())
    # Reproducible: the same week, centre and candidates give the same draw.
    draw = random.Random(f"follow-up-sample:{week.isoformat()}:{code}")
    from tracker.services.insight.scorecards import rules

    if rules.has_rules(centre_id):
        # The centre's rules: a share of each category's closed requests (complaints all of them).
        default, per_category = rules.shares(centre_id)
        by_category: dict[int, list[int]] = {}
        for ticket_id, category_id in candidates:
            by_category.setdefault(category_id, []).append(ticket_id)
        chosen = []
        for category_id in sorted(by_category):
            ids = by_category[category_id]
            chosen += draw.sample(ids, min(len(ids), rules.wanted(per_category.get(category_id, default), len(ids))))
        chosen.sort()
    else:
        ids = [ticket_id for ticket_id, _ in candidates]
        chosen = sorted(draw.sample(ids, min(size, len(ids))))
    due = due_after(now)
    for ticket_id in chosen:
        follow_up = FollowUp(ticket_id=ticket_id, centre_id=centre_id, kind=FollowUpKind.SAMPLE_CALL,
                             status=FollowUpStatus.OPEN, created_at=now, due_at=due, sample_week=week)
        db.session.add(follow_up)
        db.session.flush()
        _opened_event(ticket_id, follow_up, now)
    db.session.execute(
        FollowUpSample.__table__.update()
        .where(FollowUpSample.__table__.c.id == claimed[0][0])
        .values(drawn=len(chosen))
    )
    if chosen:
        notice = outbox.Notice(
            kind=NOTICE_KIND,
            key=f"follow_up_sample:{week.isoformat()}:{centre_id}",
            subject=f"follow-up sample of the week of {week.isoformat()}: {len(chosen)} requests",
            payload={"count": len(chosen), "week_start": week.isoformat(), "due_at": due.isoformat()},
            centre_id=centre_id,
            link="/follow-ups?kind=sample_call",
        )
        outbox.queue([notice], {notice.key: outbox.users_with_role(Role.CENTRE_HEAD, centre_id)}, now=now)
    return chosen


def run_schedule(now: datetime) -> dict[int, list[int]]:
    """Draw last week's sample for the centres not drawn yet; safe to run any number of times at once."""
    return draw_sample(sample_week(now), now=now)
