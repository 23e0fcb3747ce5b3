"""Follow-ups: the heads' list of visits and calls to make, and recording one."""

from datetime import date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.errors import NotFound, TrackerError
from tracker.extensions import db
from tracker.forms.feedback import FollowUpForm
from tracker.models import Feedback, FollowUp, FollowUpKind, FollowUpStatus
from tracker.services.insight import reports
from tracker.services.ledger import follow_ups as follow_up_service
from tracker.services.requests import catalog
from tracker.services.requests import tickets as ticket_service
from tracker.web.helpers import safe_next
from tracker.web.once import repeat_of
from tracker.web.routing import int_arg, page_arg

bp = Blueprint("follow_ups", __name__, url_prefix="/follow-ups")

PAGE_SIZE = 50


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(404)


@bp.route("")
@require_role(*follow_up_service.READERS)
def index():
    now = utcnow()
    state = request.args.get("state") or "open"
    if state not in follow_up_service.STATES:
        abort(404)
    query = follow_up_service.visible(current_user).where(follow_up_service.state_condition(state, now))
    locale = str(get_locale())
    centres = [c for c in catalog.all_centres() if follow_up_service.may_read(current_user, c.id)]
    centre_id = int_arg("centre")
    if centre_id is not None:
        if centre_id not in {c.id for c in centres}:
            abort(404)
        query = query.where(FollowUp.centre_id == centre_id)
    kind = request.args.get("kind") or None
    if kind is not None:
        try:
            query = query.where(FollowUp.kind == FollowUpKind(kind))
        except ValueError:
            abort(404)
    # "Done" on the centre dashboard counts a period: its list the same days.
    first, last = _date_arg("first"), _date_arg("last")
    if first is not None and last is not None:
        start, end = reports.day_bounds(first, last)
        query = query.where(FollowUp.done_at >= start, FollowUp.done_at < end)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = page_arg()
    order = (FollowUp.due_at, FollowUp.id) if state in ("open", "overdue") else (FollowUp.id.desc(),)
    rows = list(db.session.execute(
        query.options(joinedload(FollowUp.ticket), joinedload(FollowUp.centre))
        .order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).scalars())
    ratings = dict(db.session.execute(
        select(Feedback.ticket_id, Feedback.rating).where(Feedback.ticket_id.in_([f.ticket_id for f in rows]))
    ).all()) if rows else {}
    return render_template(
        "follow_ups/index.html",
        rows=[(f, follow_up_service.may_record(current_user, f)) for f in rows],
        ratings=ratings,
        names=ticket_service.user_names(f.done_by_id for f in rows),
        form=FollowUpForm(formdata=None),
        state=state,
        states=follow_up_service.STATES,
        kind=kind,
        centre_id=centre_id,
        centres=[(c.id, c.name_for(locale)) for c in centres],
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        now=now,
        FollowUpStatus=FollowUpStatus,
    )


@bp.route("/<int:follow_up_id>/record", methods=["POST"])
@require_role(Role.CENTRE_HEAD)
def record(follow_up_id):
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None or not follow_up_service.may_read(current_user, follow_up.centre_id):
        raise NotFound()
    back = safe_next(request.form.get("next")) or url_for("follow_ups.index")
    form = FollowUpForm()
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(back)
    # The list's forms share one key: it counts per follow-up.
    key = f"{form.once.data}:{follow_up.id}" if form.once.data else None
    if (earlier := repeat_of(key, "follow_up", object_id=follow_up.id, landing=lambda _id: back)) is not None:
        return earlier
    try:
        follow_up_service.record(
            follow_up.id, actor=current_user, now=utcnow(), result=form.result.data,
            outcome=form.outcome.data or "", contacted_at=_campus_instant(form.contacted_at.data),
        )
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(_("The follow-up is recorded."), "success")
    return redirect(back)


def _campus_instant(value: datetime | None) -> datetime | None:
    """Return a form's local date and time (campus time zone) as an aware instant."""
    if value is None:
        return None
    return value.replace(tzinfo=reports.campus_zone())
