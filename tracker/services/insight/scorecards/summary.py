"""The technicians' daily summary: computed from the source for marked (day, centre) pairs.

Definitions (docs/scorecards.md); N is SCORECARD_REWORK_DAYS:

- handled: requests whose last resolution falls on the day, resolved or
  closed now, by the request's assignee (the "resolved" figure of the
  dashboards, per technician). Everything below but ratings and follow-ups
  is of these requests, counted on the day they were handled.
- <target>_met / _breached: the response, arrival and resolution outcomes
  of the handled requests.
- reworked: handled requests reopened within N days of one of their
  resolutions, or followed by a new request at the same place and category
  filed within N days of their last resolution.
- auto_closed: handled requests closed by the application (no confirmation).
- rating_*: requesters' ratings first given on the day, of requests assigned
  to the technician (only real ratings exist: see docs/feedback.md).
- fu_<result>: follow-ups recorded on the day, of requests assigned to the
  technician, by result.
- holds: seconds on hold by reason of the handled requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Interval, and_, func, literal, or_, select
from sqlalchemy.orm import aliased

from tracker.domain.sla_clock import TargetState
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import EventKind, Feedback, FollowUp, FollowUpStatus, Ticket, TicketEvent, TicketSla
from tracker.models.scorecards import FOLLOW_UP_COLUMNS, SCORED_TARGETS
from tracker.services.insight import reports

COUNT_COLUMNS = (
    "handled",
    *(f"{t}_{o}" for t in SCORED_TARGETS for o in ("met", "breached")),
    "reworked",
    "auto_closed",
    "rating_sum",
    "rating_count",
    *(f"fu_{r}" for r in FOLLOW_UP_COLUMNS),
)


def rework_window() -> timedelta:
    return timedelta(days=current_app.config["SCORECARD_REWORK_DAYS"])


def repeat_days(ticket: Ticket) -> set[date]:
    """Return the days of earlier resolutions at the ticket's place and category that filing it makes rework."""
    if ticket.location_id is None or ticket.category_id is None or ticket.created_at is None:
        return set()
    if ticket.repeated_resolutions is not None:
        # Read with the catalogue at filing (services.tickets): the first and
        # last; every day between them is marked (a day too many is only
        # counted again).
        first, last = ticket.repeated_resolutions
        if first is None:
            return set()
        day, end = reports.local_day(first), reports.local_day(last)
        days = set()
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
        return days
    with db.session.no_autoflush:
        found = db.session.execute(
            select(Ticket.resolved_at).where(
                Ticket.location_id == ticket.location_id,
                Ticket.category_id == ticket.category_id,
                Ticket.resolved_at >= ticket.created_at - rework_window(),
                Ticket.resolved_at <= ticket.created_at,
            )
        ).scalars()
        return {reports.local_day(at) for at in found}


def pair_rows(pairs: Iterable[tuple[date, int]]) -> tuple[list[dict], list[dict]]:
    """Return the daily_technician_stats and daily_technician_holds rows of the pairs, from the source."""
    wanted = set(pairs)
    counts: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    holds: dict[tuple, int] = defaultdict(int)
    zone = reports.campus_zone()
    window = rework_window()
    for first, last in reports._day_runs(sorted({day for day, _ in wanted})):
        centres = sorted({centre for day, centre in wanted if first <= day <= last})
        start, end = reports.day_bounds(first, last)
        in_run = and_(
            reports.in_round_centres(centres),
            reports.period_condition("resolved", start, end),
            Ticket.assignee_id.is_not(None),
        )
        handled: dict[int, tuple] = {}
        for ticket_id, centre_id, assignee_id, at in db.session.execute(
            select(Ticket.id, Ticket.centre_id, Ticket.assignee_id, Ticket.resolved_at).where(in_run)
        ):
            day = at.astimezone(zone).date()
            if (day, centre_id) in wanted:
                handled[ticket_id] = (day, centre_id, assignee_id, at)
                counts[(day, centre_id, assignee_id)]["handled"] += 1
        if handled:
            _outcomes(in_run, handled, counts)
            _history(in_run, handled, counts, holds, window)
            _repeats(in_run, handled, counts, window)
        _ratings(centres, start, end, wanted, counts, zone)
        _follow_ups(centres, start, end, wanted, counts, zone)
    stat_rows = [
        {"day": day, "centre_id": centre_id, "technician_id": technician_id, **values}
        for (day, centre_id, technician_id), values in counts.items()
    ]
    hold_rows = [
        {
            "day": day,
            "centre_id": centre_id,
            "technician_id": technician_id,
            "reason": reason,
            "seconds": seconds,
        }
        for (day, centre_id, technician_id, reason), seconds in holds.items()
        if seconds > 0
    ]
    return stat_rows, hold_rows


def _outcomes(in_run, handled: dict, counts: dict) -> None:
    query = (
        select(TicketSla.ticket_id, TicketSla.target, TicketSla.state)
        .join(Ticket, Ticket.id == TicketSla.ticket_id)
        .where(
            in_run,
            TicketSla.target.in_(SCORED_TARGETS),
            TicketSla.state.in_((TargetState.MET, TargetState.BREACHED)),
        )
    )
    for ticket_id, target, state in db.session.execute(query):
        key = handled.get(ticket_id)
        if key is not None:
            outcome = "met" if state == TargetState.MET else "breached"
            counts[key[:3]][f"{target}_{outcome}"] += 1


def _history(in_run, handled: dict, counts: dict, holds: dict, window: timedelta) -> None:
    """Reopens within the window, automatic closure and hold time, from the handled requests' status events."""
    query = (
        select(
            TicketEvent.ticket_id,
            TicketEvent.created_at,
            TicketEvent.from_status,
            TicketEvent.to_status,
            TicketEvent.actor_id,
            TicketEvent.data,
        )
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            in_run,
            TicketEvent.kind == EventKind.STATUS_CHANGED,
            or_(
                TicketEvent.to_status.in_((Status.RESOLVED, Status.REOPENED, Status.ON_HOLD, Status.CLOSED)),
                TicketEvent.from_status == Status.ON_HOLD,
            ),
        )
        .order_by(TicketEvent.ticket_id, TicketEvent.id)
    )
    state: dict[int, dict] = {}
    for ticket_id, at, from_status, to_status, actor_id, data in db.session.execute(query):
        key = handled.get(ticket_id)
        if key is None:
            continue
        seen = state.setdefault(ticket_id, {"resolved": None, "reworked": False, "hold": None, "auto": False})
        if from_status == Status.ON_HOLD and seen["hold"] is not None:
            reason, since = seen["hold"]
            holds[(*key[:3], reason)] += int((at - since).total_seconds())
            seen["hold"] = None
        if to_status == Status.ON_HOLD:
            seen["hold"] = ((data or {}).get("hold_reason") or "other", at)
        elif to_status == Status.RESOLVED:
            seen["resolved"] = at
        elif to_status == Status.REOPENED:
            if seen["resolved"] is not None and at - seen["resolved"] <= window:
                seen["reworked"] = True
        elif to_status == Status.CLOSED:
            # Closed by the application: the automatic confirmation has no actor.
            seen["auto"] = actor_id is None
    for ticket_id, seen in state.items():
        key = handled[ticket_id][:3]
        if seen["reworked"]:
            counts[key]["reworked"] += 1
            handled[ticket_id] = (*handled[ticket_id][:3], None)  # counted: the repeat check skips it
        if seen["auto"]:
            counts[key]["auto_closed"] += 1


def _repeats(in_run, handled: dict, counts: dict, window: timedelta) -> None:
    """A new request at the same place and category within the window after the last resolution."""
    later = aliased(Ticket, name="later")
    query = (
        select(Ticket.id, Ticket.resolved_at, func.min(later.created_at))
        .join(
            later,
            and_(
                later.location_id == Ticket.location_id,
                later.category_id == Ticket.category_id,
                later.id != Ticket.id,
                later.created_at >= Ticket.resolved_at,
            ),
        )
        .where(
            in_run, Ticket.location_id.is_not(None), _soon_after(later.created_at, Ticket.resolved_at, window)
        )
        .group_by(Ticket.id, Ticket.resolved_at)
    )
    for ticket_id, resolved_at, first_later in db.session.execute(query):
        entry = handled.get(ticket_id)
        if entry is not None and entry[3] is not None and first_later - resolved_at <= window:
            counts[entry[:3]]["reworked"] += 1


def _soon_after(later, earlier, window: timedelta):
    """Return a coarse ``later <= earlier + window`` (a day's slack) that each dialect can use an index for.

    The exact window is checked in Python; this only keeps a busy place's
    whole history out of the join.
    """
    slack = window + timedelta(days=1)
    if db.session.get_bind().dialect.name == "postgresql":
        return later <= earlier + literal(slack, Interval())
    # SQLite keeps UTC instants as ISO text: its datetime() adds the days.
    return later <= func.datetime(earlier, f"+{slack.days} days")


def _ratings(centres, start: datetime, end: datetime, wanted: set, counts: dict, zone) -> None:
    query = (
        select(Ticket.centre_id, Ticket.assignee_id, Feedback.given_at, Feedback.rating)
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(
            reports.in_round_centres(centres),
            Ticket.assignee_id.is_not(None),
            Feedback.given_at >= start,
            Feedback.given_at < end,
        )
    )
    for centre_id, assignee_id, at, rating in db.session.execute(query):
        day = at.astimezone(zone).date()
        if (day, centre_id) in wanted:
            row = counts[(day, centre_id, assignee_id)]
            row["rating_sum"] += int(rating)
            row["rating_count"] += 1


def _follow_ups(centres, start: datetime, end: datetime, wanted: set, counts: dict, zone) -> None:
    query = (
        select(Ticket.centre_id, Ticket.assignee_id, FollowUp.done_at, FollowUp.result)
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .where(
            reports.in_round_centres(centres),
            Ticket.assignee_id.is_not(None),
            FollowUp.status == FollowUpStatus.DONE,
            FollowUp.done_at >= start,
            FollowUp.done_at < end,
        )
    )
    for centre_id, assignee_id, at, result in db.session.execute(query):
        day = at.astimezone(zone).date()
        if (day, centre_id) in wanted and result is not None:
            counts[(day, centre_id, assignee_id)][
                f"fu_{result.value if hasattr(result, 'value') else result}"
            ] += 1
