"""Paid repairs through the API: a request's quotes, and the requester's answer (docs/materials.md).

The same service calls and rules as the request page's buttons: only the
requester answers, a cancelled or closed request's quote is refused, and
an answer is recorded once (a repeat answers 409, the quote no longer
waiting).
"""

from tracker.api import bp
from tracker.api.auth import caller
from tracker.api.schemas import QuoteListSchema, QuoteSchema
from tracker.api.tickets import REFERENCE_PARAMETER, _person, _ticket, operation
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.money import format_fen
from tracker.errors import NotFound
from tracker.extensions import db
from tracker.models import Quote, QuoteStatus, Ticket
from tracker.services.materials import quotes
from tracker.services.requests import tickets as ticket_service

QUOTE_PARAMETER = {
    "in": "path",
    "name": "quote_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def quote_data(quote: Quote, ticket: Ticket, user) -> dict:
    """Return a quote as QuoteSchema dumps it, with what ``user`` may do with it now."""
    may_answer = quote.status is QuoteStatus.PENDING and ticket.requester_id == user.id
    return {
        "id": quote.id,
        "status": quote.status,
        "labour_fen": quote.labour_fen,
        "materials_fen": quote.materials_fen,
        "total_fen": quote.total_fen,
        "total": format_fen(quote.total_fen),
        "note": quote.note or "",
        "quoted_by": _person(quote.quoted_by),
        "quoted_at": quote.quoted_at,
        "decided_by": _person(quote.decided_by),
        "decided_at": quote.decided_at,
        "actions": ["accept", "decline"] if may_answer else [],
    }


@bp.route("/tickets/<reference>/quotes", methods=["GET"], parameters=[REFERENCE_PARAMETER])
@bp.response(200, QuoteListSchema)
@operation(404)
def ticket_quotes(reference):
    """List a paid repair's quotes, oldest first

    Whoever sees the request sees its quotes, as on its page; the one
    waiting for the requester has status `pending` and, for the requester,
    the actions `accept` and `decline`.
    """
    ticket = _ticket(reference)
    user = caller()
    return {"items": [quote_data(q, ticket, user) for q in quotes.quotes_of(ticket.id)]}


@bp.route(
    "/quotes/<int:quote_id>/<any(accept, decline):answer>", methods=["POST"], parameters=[QUOTE_PARAMETER]
)
@bp.response(200, QuoteSchema)
@operation(403, 404, 409)
def quote_answer(quote_id, answer):
    """Accept or decline a quote: the requester's recorded consent or refusal

    Only the request's requester answers (403 for anyone else who sees
    it; 404 for whoever does not). Either answer ends the hold and the
    technician is told; nothing is charged without an acceptance. 409 when
    the request was cancelled or closed, or the quote was already answered
    or withdrawn; nothing changes then.
    """
    user = caller()
    found = db.session.get(Quote, quote_id)
    ticket = db.session.get(Ticket, found.ticket_id) if found is not None else None
    if ticket is None or not ticket_service.can_view(user, ticket):
        raise NotFound(N_("No such quote that you can see."))
    quote = quotes.answer_quote(quote_id, accept=answer == "accept", actor=user, now=utcnow())
    return quote_data(quote, db.session.get(Ticket, quote.ticket_id), user)
