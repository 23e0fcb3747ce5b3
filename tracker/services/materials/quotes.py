"""Paid repairs (有偿维修): chargeable requests, quotes, the requester's consent, the final charge.

A request is chargeable when its category or its place is marked so. Its
technician (or a dispatcher) quotes labour and materials; the request
waits on a governed hold ("waiting for the requester to accept a
quote", HoldReason.AWAITING_CONSENT) until the requester accepts or
declines in the app, or the quote is withdrawn. Nothing is charged
without an accepted quote, and never more than it: the charge names the
quote that is the requester's recorded consent. Every step is in the
request's history. Each public function is one transaction and locks the
request first, so an answer and a cancellation cannot cross.
"""

from datetime import datetime

from sqlalchemy import select

from tracker.domain.i18n import N_, Label
from tracker.domain.money import AmountRefused, format_fen, parse_fen
from tracker.domain.workflow import STATUS_LABELS, Relation, Status
from tracker.errors import ActionForbidden, Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Charge, EventKind, Quote, QuoteStatus, Ticket, TicketEvent, User
from tracker.services.notify import outbox
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla

NOTE_MAX = 1000
SENT_KIND = "quote_sent"
ANSWERED_KIND = "quote_answered"

QUOTE_STATUS_LABELS = {
    QuoteStatus.PENDING: N_("Waiting for the requester"),
    QuoteStatus.ACCEPTED: N_("Accepted"),
    QuoteStatus.DECLINED: N_("Declined"),
    QuoteStatus.WITHDRAWN: N_("Withdrawn"),
}


def is_chargeable(ticket: Ticket) -> bool:
    """Return whether ``ticket`` is a paid repair: its category or its place is chargeable."""
    return bool(
        (ticket.category is not None and ticket.category.is_chargeable)
        or (ticket.location is not None and ticket.location.is_chargeable)
    )


def quotes_of(ticket_id: int) -> list[Quote]:
    """Return a ticket's quotes, oldest first."""
    return list(
        db.session.execute(select(Quote).where(Quote.ticket_id == ticket_id).order_by(Quote.id)).scalars()
    )


def charge_of(ticket_id: int) -> Charge | None:
    """Return a ticket's final charge, if any."""
    return db.session.execute(select(Charge).where(Charge.ticket_id == ticket_id)).scalar_one_or_none()


def _amount(text, *, allow_empty: bool = False) -> int | None:
    try:
        return parse_fen(text, allow_empty=allow_empty)
    except AmountRefused as error:
        raise ValidationFailed(error.message, **error.params) from None


def _lock_ticket(ticket_id: int, actor: User, expected_version: int | None = None) -> Ticket:
    if not actor.is_active:
        raise PermissionDenied()
    ticket = ticket_service.lock_versioned(
        Ticket,
        ticket_id,
        expected_version,
        stale=N_("Someone else changed this request a moment ago. Look at it again and retry."),
    )
    if not ticket_service.can_view(actor, ticket):
        raise NotFound()
    return ticket


def _pending(ticket_id: int) -> Quote | None:
    return db.session.execute(
        select(Quote)
        .where(Quote.ticket_id == ticket_id, Quote.status == QuoteStatus.PENDING)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _event(
    ticket: Ticket, kind: EventKind, quote: Quote, *, actor: User, now: datetime, body: str = "", **data
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor_id=actor.id,
        created_at=now,
        body=body,
        data={
            "quote_id": quote.id,
            "labour_fen": quote.labour_fen,
            "materials_fen": quote.materials_fen,
            "total_fen": quote.total_fen,
            **data,
        },
    )
    db.session.add(event)
    return event


def send_quote(
    ticket_id: int,
    *,
    labour: str,
    materials: str = "",
    note: str = "",
    actor: User,
    now: datetime,
    expected_version: int | None = None,
) -> Quote:
    """Quote a chargeable request and put it on hold for the requester's answer; return the quote.

    Raises ActionForbidden for anyone but the technician on the job or the
    centre's dispatchers, Conflict for a request that is not chargeable,
    not being worked on or already waiting on a quote, ValidationFailed
    for an amount this service does not read (domain/money.py).
    """
    try:
        ticket = _lock_ticket(ticket_id, actor, expected_version)
        if not ticket_service.relations(actor, ticket) & {Relation.ASSIGNEE, Relation.DISPATCHER}:
            raise ActionForbidden(N_("Only the technician on the job or the centre's dispatchers can quote."))
        if not is_chargeable(ticket):
            raise Conflict(
                N_("This request is not a paid repair: its category and place are free of charge.")
            )
        if _pending(ticket.id) is not None:
            raise Conflict(N_("A quote is already waiting for the requester's answer."))
        labour_fen = _amount(labour, allow_empty=True) or 0
        materials_fen = _amount(materials, allow_empty=True) or 0
        if labour_fen + materials_fen <= 0:
            raise ValidationFailed(
                N_("Give the labour or the materials of the quote, in yuan, for example 120.00.")
            )
        text = (note or "").strip()
        if len(text) > NOTE_MAX:
            raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=NOTE_MAX)
        if ticket.status not in (Status.ACCEPTED, Status.IN_PROGRESS):
            raise Conflict(
                N_("This request is “%(status)s”: a quote is possible only while it is being worked on."),
                status=Label(STATUS_LABELS[ticket.status]),
            )
        quote = Quote(
            ticket_id=ticket.id,
            labour_fen=labour_fen,
            materials_fen=materials_fen,
            note=text,
            status=QuoteStatus.PENDING,
            quoted_by_id=actor.id,
            quoted_at=now,
        )
        db.session.add(quote)
        db.session.flush()
        event = _event(ticket, EventKind.QUOTE_SENT, quote, actor=actor, now=now, body=text)
        ticket_service.hold_for_consent(ticket, actor=actor, now=now, body="", data={"quote_id": quote.id})
        sla._recompute(ticket, now)
        db.session.flush()
        _notify(ticket, SENT_KIND, event, quote, [ticket.requester_id], actor=actor, now=now)
        outbox.mark_acted(actor, now=now, ticket_id=ticket.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return quote


def answer_quote(quote_id: int, *, accept: bool, actor: User, now: datetime) -> Quote:
    """Record the requester's acceptance (consent) or refusal of a quote; the request goes on either way.

    Raises PermissionDenied for anyone but the request's requester, Conflict
    when the request was cancelled or closed, or the quote was already
    answered or withdrawn. Nothing changes then.
    """
    try:
        quote = db.session.get(Quote, quote_id)
        if quote is None:
            raise NotFound()
        ticket = _lock_ticket(quote.ticket_id, actor)
        db.session.refresh(quote)  # read after the request's lock: an answer or withdrawal cannot cross
        if ticket.requester_id != actor.id:
            raise PermissionDenied(N_("Only the requester can accept or decline a quote."))
        if ticket.status in (Status.CANCELLED, Status.CLOSED):
            raise Conflict(
                N_("This request is “%(status)s”: its quote can no longer be accepted or declined."),
                status=Label(STATUS_LABELS[ticket.status]),
            )
        if quote.status is not QuoteStatus.PENDING:
            raise Conflict(
                N_("This quote is no longer open (“%(status)s”)."),
                status=Label(QUOTE_STATUS_LABELS[quote.status]),
            )
        quote.status = QuoteStatus.ACCEPTED if accept else QuoteStatus.DECLINED
        quote.decided_by_id = actor.id
        quote.decided_at = now
        kind = EventKind.QUOTE_ACCEPTED if accept else EventKind.QUOTE_DECLINED
        event = _event(ticket, kind, quote, actor=actor, now=now)
        ticket_service.end_consent_hold(ticket, actor=actor, now=now, data={"quote_id": quote.id})
        sla._recompute(ticket, now)
        db.session.flush()
        people = [ticket.assignee_id or quote.quoted_by_id]
        _notify(ticket, ANSWERED_KIND, event, quote, people, actor=actor, now=now, accepted=accept)
        outbox.mark_acted(actor, now=now, ticket_id=ticket.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return quote


def withdraw_quote(quote_id: int, *, actor: User, now: datetime, note: str = "") -> Quote:
    """Withdraw a quote still waiting for its answer; the request goes on without it (free of charge)."""
    try:
        quote = db.session.get(Quote, quote_id)
        if quote is None:
            raise NotFound()
        ticket = _lock_ticket(quote.ticket_id, actor)
        db.session.refresh(quote)
        if not ticket_service.relations(actor, ticket) & {Relation.ASSIGNEE, Relation.DISPATCHER}:
            raise ActionForbidden(
                N_("Only the technician on the job or the centre's dispatchers can withdraw a quote.")
            )
        if quote.status is not QuoteStatus.PENDING:
            raise Conflict(
                N_("This quote is no longer open (“%(status)s”)."),
                status=Label(QUOTE_STATUS_LABELS[quote.status]),
            )
        text = (note or "").strip()
        if len(text) > NOTE_MAX:
            raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=NOTE_MAX)
        quote.status = QuoteStatus.WITHDRAWN
        quote.decided_by_id = actor.id
        quote.decided_at = now
        _event(ticket, EventKind.QUOTE_WITHDRAWN, quote, actor=actor, now=now, body=text)
        ticket_service.end_consent_hold(ticket, actor=actor, now=now, data={"quote_id": quote.id})
        sla._recompute(ticket, now)
        outbox.mark_acted(actor, now=now, ticket_id=ticket.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return quote


def record_charge(ticket: Ticket, final_charge: str | None, *, actor: User, now: datetime) -> Charge | None:
    """Record a resolved paid repair's final charge (no commit); return it, or None when nothing is charged.

    Empty ``final_charge``: the accepted quote's total. Raises Conflict
    for a charge without an accepted quote, ValidationFailed for one above
    the accepted quote or an amount not read (domain/money.py).
    """
    amount = _amount(final_charge, allow_empty=True)
    accepted = db.session.execute(
        select(Quote)
        .where(Quote.ticket_id == ticket.id, Quote.status == QuoteStatus.ACCEPTED)
        .order_by(Quote.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if accepted is None:
        if amount:
            raise Conflict(N_("Nothing can be charged without the requester's accepted quote."))
        return None
    if amount is None:
        amount = accepted.total_fen
    if amount > accepted.total_fen:
        raise ValidationFailed(
            N_(
                "The final charge (¥%(amount)s) is more than the quote the requester accepted (¥%(quote)s): "
                "send a new quote."
            ),
            amount=format_fen(amount),
            quote=format_fen(accepted.total_fen),
        )
    charge = charge_of(ticket.id)
    if amount == 0:
        if charge is not None:
            db.session.delete(charge)
        return None
    if charge is None:
        charge = Charge(ticket_id=ticket.id, centre_id=ticket.centre_id, requester_id=ticket.requester_id)
        db.session.add(charge)
    charge.quote_id = accepted.id
    charge.amount_fen = amount
    charge.recorded_by_id = actor.id
    charge.recorded_at = now
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind=EventKind.CHARGE_RECORDED,
            actor_id=actor.id,
            created_at=now,
            data={"quote_id": accepted.id, "amount_fen": amount, "quoted_fen": accepted.total_fen},
        )
    )
    return charge


def _notify(
    ticket: Ticket,
    kind: str,
    event: TicketEvent,
    quote: Quote,
    people: list,
    *,
    actor: User,
    now: datetime,
    **extra,
) -> None:
    people = sorted({p for p in people if p is not None and p != actor.id})
    if not people:
        return
    key = f"ticket:{ticket.id}:event:{event.id}"
    outbox.queue(
        [
            outbox.Notice(
                kind=kind,
                key=key,
                subject=f"{ticket.reference} {kind}",
                payload={
                    "reference": ticket.reference,
                    "title": ticket.title,
                    "amount": format_fen(quote.total_fen),
                    **extra,
                },
                ticket_id=ticket.id,
                centre_id=ticket.centre_id,
                link=f"/tickets/{ticket.reference}",
            )
        ],
        {key: people},
        now=now,
    )
