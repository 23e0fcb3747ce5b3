"""Creating forms create once: the page side of services.idempotency.

A view calls ``repeat_of(form, kind)`` once the form is valid and before
its creating service: None means "go on and create" (the form's one-time
key is claimed in the service's transaction); a response means the key
created something already, and the view returns that response, which
lands on it with a note saying so.
"""

from flask import Response, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models import Attachment, Feedback, FollowUp, RectificationItem, Ticket, TicketEvent
from tracker.services import idempotency


def _ticket_url(ticket_id, anchor: str = "") -> str | None:
    ticket = db.session.get(Ticket, ticket_id) if ticket_id else None
    return url_for("tickets.detail", reference=ticket.reference) + anchor if ticket else None


def _comment(object_id):
    event = db.session.get(TicketEvent, object_id)
    return _ticket_url(event and event.ticket_id)


def _attachment(object_id):
    attachment = db.session.get(Attachment, object_id)
    if attachment is None:
        return None
    if attachment.owner_type == "ticket":
        return _ticket_url(attachment.owner_id, "#attachments")
    item = db.session.get(RectificationItem, attachment.owner_id)
    return url_for("rectification.detail", reference=item.reference) + "#attachments" if item else None


def _item(object_id):
    item = db.session.get(RectificationItem, object_id)
    return url_for("rectification.detail", reference=item.reference) if item else None


def _rating(object_id):
    feedback = db.session.get(Feedback, object_id)
    return _ticket_url(feedback and feedback.ticket_id, "#feedback")


def _follow_up(object_id):
    follow_up = db.session.get(FollowUp, object_id)
    return _ticket_url(follow_up and follow_up.ticket_id)


def _supervision_order(object_id):
    from tracker.models import SupervisionOrder
    from tracker.services import supervision

    order = db.session.get(SupervisionOrder, object_id)
    return supervision.link(order) if order else None


# Where each kind of creation is shown, and what the repeat is told.
LANDINGS = {
    "ticket": (_ticket_url, lambda: _("This request was already filed; here it is.")),
    "comment": (_comment, lambda: _("This comment was already added; here it is.")),
    "attachment": (_attachment, lambda: _("This file was already attached; here it is.")),
    "rectification_item": (_item, lambda: _("This rectification item was already opened; here it is.")),
    "rating": (_rating, lambda: _("This rating was already saved; here it is.")),
    "follow_up": (_follow_up, lambda: _("This follow-up was already recorded; here it is.")),
    "supervision_order": (_supervision_order,
                          lambda: _("This supervision order was already issued; here it is.")),
}


def repeat_of(form, kind: str, *, object_id: int | None = None, fallback: str | None = None,
              landing=None) -> Response | None:
    """Claim ``form``'s one-time key for a creation of ``kind``; return the way to the earlier one if it was used.

    ``form`` is an OnceForm, or the key itself for a form written by hand
    (``one_time_key()`` in the template).
    ``object_id`` names the row a form acts on when it is known already
    (a follow-up being recorded). ``landing(object_id)`` gives the address
    of a kind LANDINGS does not know (admin pages); ``fallback`` is where
    to go when the earlier object is gone. A form without a key (an old
    page, a script) is not guarded.
    """
    if isinstance(form, str) or form is None:
        key = form or ""
    else:
        # What was sent, not the field's default (a new key): a form sent without one is not guarded.
        key = form.once.raw_data[0] if form.once.raw_data else ""
    key = key.strip()[:idempotency.KEY_MAX]
    if not key:
        return None
    earlier = idempotency.claim(current_user, key, kind, now=utcnow(), object_id=object_id)
    if earlier is None:
        return None
    db.session.rollback()
    find, message = LANDINGS.get(kind, (None, lambda: _("This form was already sent; here is what it created.")))
    find = landing or find
    target = find(earlier.object_id) if find and earlier.object_id is not None else None
    flash(message(), "info")
    return redirect(target or fallback or url_for("home.index"))
