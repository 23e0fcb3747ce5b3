"""Requesters rate resolved requests: on the request's page, or through a signed link without a login.

A request gets one rating (1 to 5) with a comment, once it is resolved or
closed, from its requester only. The rating can be changed for
FEEDBACK_EDIT_MINUTES after it was first given; after that it stands.
Giving or changing it is an event of the request's history, marks the
local day it was first given for the dashboards' summary (satisfaction
counts on that day), and a rating of 2 or less opens a follow-up visit for
the centre's heads (``follow_ups``).

The "resolved" e-mail to the requester carries a link ``/feedback/<token>``.
The token is signed with the application's SECRET_KEY (itsdangerous,
URL-safe, timed, with a salt of its own), names the request and its
requester, and works for FEEDBACK_LINK_DAYS from the notice. Anyone
holding it can rate that one request as its requester would; a changed,
forged or expired token, or a request whose rating can no longer change,
is refused with a message and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.domain.i18n import N_
from tracker.domain.workflow import Status
from tracker.errors import Conflict, NotFound, PermissionDenied, TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    EventKind,
    Feedback,
    FeedbackChannel,
    Ticket,
    TicketEvent,
    User,
)
from tracker.services.insight import reports, stats
from tracker.services.ledger import follow_ups

# Signed in a module of their own, which the e-mail channel imports without
# this one: no circle channels -> feedback -> follow_ups -> outbox -> channels.
from tracker.services.ledger.feedback_links import LINK_SALT, link_path, link_token  # noqa: F401

RATINGS = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000
RATEABLE = frozenset({Status.RESOLVED, Status.CLOSED})

RATING_LABELS = {
    1: N_("Very poor"),
    2: N_("Poor"),
    3: N_("Acceptable"),
    4: N_("Good"),
    5: N_("Excellent"),
}


class LinkRefused(TrackerError):
    """The rating link cannot be used; the message says why. Nothing changed."""

    code = "link_refused"


# ---------------------------------------------------------------- reading


def edit_window() -> timedelta:
    return timedelta(minutes=current_app.config["FEEDBACK_EDIT_MINUTES"])


def get(ticket_id: int) -> Feedback | None:
    return db.session.execute(select(Feedback).where(Feedback.ticket_id == ticket_id)).scalar_one_or_none()


def editable_until(feedback: Feedback) -> datetime:
    return feedback.given_at + edit_window()


@dataclass
class Standing:
    """Where a request's rating stands for one viewer (the ticket page's panel)."""

    feedback: Feedback | None
    may_rate: bool  # the viewer may give the rating now
    may_edit: bool  # the viewer may change the rating given
    edit_until: datetime | None


def standing(user: User | None, ticket: Ticket, now: datetime) -> Standing:
    """Return the rating of ``ticket`` and what ``user`` may do with it at ``now``."""
    feedback = get(ticket.id)
    is_requester = user is not None and user.is_active and ticket.requester_id == user.id
    rateable = ticket.status in RATEABLE
    until = editable_until(feedback) if feedback is not None else None
    return Standing(
        feedback=feedback,
        may_rate=is_requester and rateable and feedback is None,
        may_edit=is_requester and rateable and feedback is not None and now <= until,
        edit_until=until,
    )


# ---------------------------------------------------------------- giving


def give(ticket_id: int, *, rating, comment: str = "", actor: User, now: datetime) -> Feedback:
    """Rate a request as its requester, or change the rating within the edit window; commit.

    Raises NotFound (no such request), PermissionDenied (not its requester),
    Conflict (not resolved or closed; the rating can no longer change),
    ValidationFailed (a rating outside 1–5, a comment too long).
    """
    try:
        ticket = _lock(ticket_id)
        if ticket is None:
            raise NotFound()
        if not actor.is_active or ticket.requester_id != actor.id:
            raise PermissionDenied(N_("Only the requester can rate this request."))
        feedback = _give(ticket, rating=rating, comment=comment, channel=FeedbackChannel.WEB, actor=actor, now=now)
        db.session.commit()
    except IntegrityError:
        # Another rating of the same request won the race: the unique key refused this one.
        db.session.rollback()
        raise Conflict(N_("This request was rated a moment ago. Look at it again.")) from None
    except Exception:
        db.session.rollback()
        raise
    return feedback


def give_by_link(token: str, *, rating, comment: str = "", now: datetime) -> Feedback:
    """Rate the request a signed link names, as its requester, without a login; commit.

    Raises LinkRefused for a forged, changed or expired link, Conflict when
    the request's rating can no longer change or it is not resolved now,
    ValidationFailed as ``give``.
    """
    try:
        ticket_id, requester_id = _read_token(token, now)
        ticket = _lock(ticket_id)
        _check_link(ticket, requester_id)
        feedback = _give(ticket, rating=rating, comment=comment, channel=FeedbackChannel.LINK, actor=None, now=now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(N_("This request was rated a moment ago. Look at it again.")) from None
    except Exception:
        db.session.rollback()
        raise
    return feedback


@dataclass
class LinkPage:
    """What the rating link's page may show: the request's reference and title, and its rating."""

    reference: str
    title: str
    feedback: Feedback | None
    edit_until: datetime | None


def open_link(token: str, *, now: datetime) -> LinkPage:
    """Return what the link's page shows; raise as ``give_by_link`` when the link cannot rate now."""
    ticket_id, requester_id = _read_token(token, now)
    ticket = db.session.get(Ticket, ticket_id)
    _check_link(ticket, requester_id)
    feedback = get(ticket.id)
    if feedback is not None:
        _check_editable(feedback, now)
    if ticket.status not in RATEABLE:
        raise _not_rateable()
    return LinkPage(
        reference=ticket.reference,
        title=ticket.title,
        feedback=feedback,
        edit_until=editable_until(feedback) if feedback is not None else None,
    )


def _lock(ticket_id: int) -> Ticket | None:
    # Two ratings of one request at once queue here (the unique key is the backstop).
    return db.session.execute(
        select(Ticket).where(Ticket.id == ticket_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _not_rateable() -> Conflict:
    return Conflict(N_("This request is not resolved at the moment: it can be rated once it is resolved."))


def _check_editable(feedback: Feedback, now: datetime) -> None:
    if now > editable_until(feedback):
        raise Conflict(
            N_("This request is rated already (%(rating)d of 5). A rating can be changed only in the "
               "%(minutes)d minutes after it is given."),
            rating=feedback.rating,
            minutes=current_app.config["FEEDBACK_EDIT_MINUTES"],
        )


def _clean_rating(rating) -> int:
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = None
    if value not in RATINGS:
        raise ValidationFailed(N_("Choose a rating from 1 to 5."))
    return value


def _give(ticket: Ticket, *, rating, comment: str, channel: FeedbackChannel, actor: User | None,
          now: datetime) -> Feedback:
    """Store the rating or its change, with its event, day mark and follow-up (no commit)."""
    if ticket.status not in RATEABLE:
        raise _not_rateable()
    value = _clean_rating(rating)
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise ValidationFailed(N_("The comment is longer than %(max)d characters."), max=COMMENT_MAX)
    feedback = get(ticket.id)
    previous = None
    if feedback is None:
        feedback = Feedback(ticket_id=ticket.id, rating=value, comment=text, given_at=now,
                            given_by_id=actor.id if actor is not None else None, channel=channel)
        db.session.add(feedback)
        kind = EventKind.FEEDBACK_GIVEN
    else:
        _check_editable(feedback, now)
        previous = feedback.rating
        feedback.rating, feedback.comment, feedback.edited_at = value, text, now
        kind = EventKind.FEEDBACK_EDITED
    db.session.flush()
    data = {"rating": value, "channel": channel.value}
    if previous is not None:
        data["previous_rating"] = previous
    db.session.add(TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor.id if actor is not None else None,
                               created_at=now, body=text, data=data))
    # Satisfaction counts on the day the rating was first given (docs/figures.md).
    stats.mark([(reports.local_day(feedback.given_at), ticket.centre_id)])
    if value <= follow_ups.LOW_RATING_MAX:
        follow_ups._open_low_rating(ticket, value, now=now)
    return feedback


# ---------------------------------------------------------------- the signed link


_INVALID = N_("This rating link is not valid. Open it again from the e-mail, or log in and rate the "
              "request on its page.")


def _read_token(token: str, now: datetime) -> tuple[int, int]:
    """Return (ticket id, requester id) of a valid, unexpired token; raise LinkRefused otherwise."""
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)
    try:
        payload, issued = serializer.loads(token or "", return_timestamp=True)
    except BadSignature:
        raise LinkRefused(_INVALID) from None
    if not (isinstance(payload, dict) and isinstance(payload.get("t"), int) and isinstance(payload.get("u"), int)):
        raise LinkRefused(_INVALID)
    issued = issued.astimezone(UTC)
    if now - issued > timedelta(days=current_app.config["FEEDBACK_LINK_DAYS"]):
        raise LinkRefused(
            N_("This rating link has expired: links work for %(days)d days. Log in and rate the request "
               "on its page."),
            days=current_app.config["FEEDBACK_LINK_DAYS"],
        )
    return payload["t"], payload["u"]


def _check_link(ticket: Ticket | None, requester_id: int) -> None:
    # A link names the request and its requester: both must still match.
    if ticket is None or ticket.requester_id != requester_id:
        raise LinkRefused(_INVALID)
