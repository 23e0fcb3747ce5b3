"""Rating a request: on its page (logged in), or through the signed link in the e-mail (no login)."""

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import public, require_role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.forms.feedback import FeedbackForm, FollowUpForm
from tracker.models import Ticket, User
from tracker.services.ledger import feedback as feedback_service
from tracker.services.ledger import follow_ups as follow_up_service
from tracker.services.requests import tickets as ticket_service
from tracker.web.once import repeat_of

bp = Blueprint("feedback", __name__)


def _flash_form_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")


@bp.route("/tickets/<reference>/feedback", methods=["POST"])
@require_role()
def give(reference):
    ticket = ticket_service.get_visible(reference, current_user)
    form = FeedbackForm()
    if not form.validate():
        _flash_form_errors(form)
    elif (earlier := repeat_of(form, "rating")) is not None:
        return earlier
    else:
        try:
            feedback_service.give(ticket.id, rating=form.rating.data, comment=form.comment.data or "",
                                  actor=current_user, now=utcnow())
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Thank you: your rating is saved."), "success")
    return redirect(url_for("tickets.detail", reference=ticket.reference) + "#feedback")


# Public, like the login page. No rate limit: a link is HMAC-signed, so
# guessing one is hopeless, and each one rates a single request, once.
@bp.route("/feedback/<token>", methods=["GET", "POST"])
@public
def link(token):
    now = utcnow()
    form = FeedbackForm()
    if form.validate_on_submit():
        try:
            feedback_service.give_by_link(token, rating=form.rating.data, comment=form.comment.data or "", now=now)
        except TrackerError as error:
            return _link_page(None, form, refused=error.translated(), status=error.http_status)
        flash(_("Thank you: your rating is saved."), "success")
        return redirect(url_for("feedback.link", token=token))
    try:
        page = feedback_service.open_link(token, now=now)
    except TrackerError as error:
        return _link_page(None, None, refused=error.translated(), status=error.http_status)
    if not form.is_submitted() and page.feedback is not None:
        form.rating.data = page.feedback.rating
        form.comment.data = page.feedback.comment
    return _link_page(page, form)


def _link_page(page, form, *, refused: str | None = None, status: int = 200):
    response = render_template("feedback/link.html", page=page, form=form, refused=refused)
    # The address holds the token: keep the page out of caches.
    return response, status, {"Cache-Control": "no-store"}


def ticket_context(ticket: Ticket, user: User, now: datetime) -> dict:
    """Return what the ticket page's rating and follow-up panels need."""
    standing = feedback_service.standing(user, ticket, now)
    form = FeedbackForm(formdata=None)
    if standing.feedback is not None:
        form.rating.data = standing.feedback.rating
        form.comment.data = standing.feedback.comment
    rows = []
    if follow_up_service.may_read(user, ticket.centre_id):
        rows = [(f, follow_up_service.may_record(user, f)) for f in follow_up_service.for_ticket(ticket.id)]
    return {
        "feedback_standing": standing,
        "feedback_form": form,
        "follow_up_rows": rows,
        "follow_up_form": FollowUpForm(formdata=None),
        "follow_up_names": ticket_service.user_names(f.done_by_id for f, _may in rows),
    }
