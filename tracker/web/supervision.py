"""Supervision orders (督办): the responsible person's queue, and issuing, answering and closing an order."""

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import READ_ALL, STAFF
from tracker.clock import utcnow
from tracker.errors import ValidationFailed
from tracker.forms.supervision import AnswerForm, CloseForm, IssueForm
from tracker.services import supervision
from tracker.services.insight import reports
from tracker.services.ledger import rectification
from tracker.services.requests import tickets as ticket_service
from tracker.web.once import repeat_of

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


@bp.route("/")
@require_role(*STAFF, *READ_ALL)
def index():
    orders = supervision.queue_for(current_user)
    return render_template(
        "supervision/index.html", orders=orders, now=utcnow(), names=supervision.names_of(orders)
    )


def issue_form(centre_id: int) -> IssueForm:
    form = IssueForm()
    form.responsible_id.choices = [
        (u.id, u.display_name) for u in supervision.responsible_candidates(centre_id)
    ]
    return form


def panel(*, ticket=None, item=None) -> dict:
    """Return what the supervision section of a request's or an item's page shows to the current user."""
    subject = ticket if ticket is not None else item
    orders = (
        supervision.for_ticket(ticket, current_user)
        if ticket is not None
        else supervision.for_item(item, current_user)
    )
    action = (
        url_for("supervision.issue_on_ticket", reference=ticket.reference)
        if ticket is not None
        else url_for("supervision.issue_on_item", reference=item.reference)
    )
    may_issue = supervision.may_issue(current_user)
    return {
        "orders": orders,
        "names": supervision.names_of(orders),
        "now": utcnow(),
        "issue_form": issue_form(subject.centre_id) if may_issue else None,
        "issue_action": action,
        "may_see_any": may_issue or bool(orders),
        "answer_form": AnswerForm(formdata=None),
        "close_form": CloseForm(formdata=None),
    }


def _deadline(form: IssueForm) -> datetime | None:
    value = form.deadline.data
    return value.replace(tzinfo=reports.campus_zone()) if value is not None else None


def _issue(form: IssueForm, back: str, **subject):
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(back)
    if (earlier := repeat_of(form, "supervision_order")) is not None:
        return earlier
    try:
        supervision.issue(
            instruction=form.instruction.data,
            responsible_id=form.responsible_id.data,
            deadline_at=_deadline(form),
            actor=current_user,
            now=utcnow(),
            **subject,
        )
    except ValidationFailed as error:
        flash(error.translated(), "error")
        return redirect(back)
    flash(_("Supervision order issued."), "success")
    return redirect(back)


@bp.route("/tickets/<reference>", methods=["POST"])
@require_role(*READ_ALL)
def issue_on_ticket(reference):
    ticket = ticket_service.get_visible(reference, current_user)
    back = url_for("tickets.detail", reference=reference, _anchor="supervision")
    return _issue(issue_form(ticket.centre_id), back, ticket_id=ticket.id)


@bp.route("/rectification/<reference>", methods=["POST"])
@require_role(*READ_ALL)
def issue_on_item(reference):
    item = rectification.get_visible(reference, current_user)
    back = url_for("rectification.detail", reference=reference, _anchor="supervision")
    return _issue(issue_form(item.centre_id), back, item_id=item.id)


def _version(form) -> int | None:
    return int(form.version.data) if (form.version.data or "").isdigit() else None


@bp.route("/<int:order_id>/answer", methods=["POST"])
@require_role()
def answer(order_id):
    order = supervision.get(order_id, current_user)
    form = AnswerForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(supervision.link(order))
    supervision.answer(
        order.id, text=form.answer.data, actor=current_user, now=utcnow(), expected_version=_version(form)
    )
    flash(_("Answer sent."), "success")
    return redirect(supervision.link(order))


@bp.route("/<int:order_id>/close", methods=["POST"])
@require_role(*READ_ALL)
def close(order_id):
    order = supervision.get(order_id, current_user)
    form = CloseForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(supervision.link(order))
    supervision.close(
        order.id, note=form.note.data or "", actor=current_user, now=utcnow(), expected_version=_version(form)
    )
    flash(_("Supervision order closed."), "success")
    return redirect(supervision.link(order))
