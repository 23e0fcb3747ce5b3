"""Duty rosters (值班表), technicians' skills and a centre's dispatch settings (docs/dispatch.md)."""

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, STAFF, Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms import options
from tracker.forms.dispatch import RosterImportForm, ShiftForm
from tracker.models import Category, Centre, Shift
from tracker.services.dispatch import auto, suggest
from tracker.services.dispatch import roster as duty
from tracker.services.dispatch.roster import NewShift, RosterRejected

bp = Blueprint("dispatch", __name__, url_prefix="/dispatch")


def _centres() -> list[Centre]:
    """Return the centres whose roster the user keeps (every active one for an administrator)."""
    query = select(Centre).where(Centre.is_active.is_(True)).order_by(Centre.sort_order, Centre.id)
    if not current_user.has_role(Role.ADMIN):
        query = query.where(Centre.id.in_(sorted(current_user.centre_ids(*CENTRE_MANAGERS)) or [0]))
    return list(db.session.execute(query).scalars())


def _monday(value: str | None) -> date:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    return duty.week_start(day or duty.local_day(utcnow()))


def _flash_refusal(error: TrackerError) -> None:
    flash(error.translated(), "error")
    if isinstance(error, RosterRejected):
        for number, message in error.row_messages():
            flash(_("Row %(row)d: %(message)s", row=number, message=message), "error")


def _back(centre_id: int, monday: date | None = None):
    return redirect(url_for("dispatch.roster", centre=centre_id, week=(monday or _monday(None)).isoformat()))


@bp.route("/roster")
@require_role(*CENTRE_MANAGERS, Role.ADMIN)
def roster():
    centres = _centres()
    if not centres:
        abort(403)
    wanted = request.args.get("centre", type=int)
    centre = next((c for c in centres if c.id == wanted), centres[0])
    monday = _monday(request.args.get("week"))
    now = utcnow()
    form = ShiftForm()
    form.user_id.choices = options(
        [(None, _("Choose…"))] + [(u.id, u.display_name) for u in duty.people(centre.id)]
    )
    centre_settings, category_settings = auto.settings(centre.id)
    categories = list(
        db.session.execute(
            select(Category)
            .where(Category.centre_id == centre.id, Category.is_active.is_(True))
            .order_by(Category.sort_order, Category.id)
        ).scalars()
    )
    technicians = suggest.candidates(centre.id, None, now, with_areas=False)
    return render_template(
        "dispatch/roster.html",
        centres=centres,
        centre=centre,
        monday=monday,
        days=duty.week(centre.id, monday),
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        on_duty=duty.on_duty(centre.id, now),
        form=form,
        import_form=RosterImportForm(),
        can_configure=auto.can_configure(current_user, centre.id),
        shows_duty_phone=bool(centre_settings and centre_settings.shows_duty_phone),
        categories=categories,
        category_settings=category_settings,
        technicians=technicians,
        kind_labels=duty.KIND_LABELS,
    )


def _managed(centre_id: int) -> Centre:
    centre = db.session.get(Centre, centre_id)
    if centre is None:
        abort(404)
    if not duty.can_manage(current_user, centre_id):
        abort(403)
    return centre


@bp.route("/roster/<int:centre_id>/shifts", methods=["POST"])
@require_role(*CENTRE_MANAGERS, Role.ADMIN)
def add_shift(centre_id):
    _managed(centre_id)
    form = ShiftForm()
    form.user_id.choices = options([(None, "")] + [(u.id, u.display_name) for u in duty.people(centre_id)])
    monday = _monday(request.form.get("week"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(centre_id, monday)
    try:
        duty.add_shift(
            centre_id,
            NewShift(
                user_id=form.user_id.data,
                day=form.day.data,
                start=form.start.data,
                end=form.end.data,
                kind=form.kind.data,
                note=form.note.data or "",
            ),
            actor=current_user,
            now=utcnow(),
        )
    except TrackerError as error:
        _flash_refusal(error)
        return _back(centre_id, monday)
    flash(_("Shift added."), "success")
    return _back(centre_id, duty.week_start(form.day.data))


@bp.route("/shifts/<int:shift_id>/delete", methods=["POST"])
@require_role(*CENTRE_MANAGERS, Role.ADMIN)
def delete_shift(shift_id):
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        abort(404)
    centre_id, monday = shift.centre_id, _monday(request.form.get("week"))
    _managed(centre_id)
    duty.delete_shift(shift_id, actor=current_user)
    flash(_("Shift removed."), "success")
    return _back(centre_id, monday)


@bp.route("/roster/<int:centre_id>/copy", methods=["POST"])
@require_role(*CENTRE_MANAGERS, Role.ADMIN)
def copy_week(centre_id):
    _managed(centre_id)
    monday = _monday(request.form.get("week"))
    try:
        copied = duty.copy_previous_week(centre_id, monday, actor=current_user, now=utcnow())
    except TrackerError as error:
        _flash_refusal(error)
    else:
        flash(_("%(count)d shifts copied from the week before.", count=len(copied)), "success")
    return _back(centre_id, monday)


@bp.route("/roster/<int:centre_id>/import", methods=["POST"])
@require_role(*CENTRE_MANAGERS, Role.ADMIN)
def import_roster(centre_id):
    _managed(centre_id)
    monday = _monday(request.form.get("week"))
    form = RosterImportForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(centre_id, monday)
    upload = form.file.data
    try:
        saved = duty.import_shifts(
            centre_id, upload.read(), upload.filename or "", actor=current_user, now=utcnow()
        )
    except TrackerError as error:
        _flash_refusal(error)
        return _back(centre_id, monday)
    flash(_("%(count)d shifts imported.", count=len(saved)), "success")
    first = min((s.starts_at for s in saved), default=None)
    return _back(centre_id, duty.week_start(duty.local_day(first)) if first else monday)


@bp.route("/roster/<int:centre_id>/settings", methods=["POST"])
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def save_settings(centre_id):
    def ids(name):
        return {int(v) for v in request.form.getlist(name) if v.isdigit()}

    auto.save_settings(
        centre_id,
        shows_duty_phone=request.form.get("shows_duty_phone") == "1",
        auto_dispatch=ids("auto_dispatch"),
        emergency=ids("emergency"),
        actor=current_user,
        now=utcnow(),
    )
    flash(_("Dispatch settings saved."), "success")
    return _back(centre_id, _monday(request.form.get("week")))


@bp.route("/roster/<int:centre_id>/skills/<int:user_id>", methods=["POST"])
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def save_skills(centre_id, user_id):
    auto.save_skills(
        user_id,
        centre_id,
        {int(v) for v in request.form.getlist("category_id") if v.isdigit()},
        actor=current_user,
    )
    flash(_("Skills saved."), "success")
    return _back(centre_id, _monday(request.form.get("week")))


@bp.route("/my-shifts")
@require_role(*STAFF)
def my_shifts():
    now = utcnow()
    return render_template(
        "dispatch/my_shifts.html",
        shifts=duty.user_shifts(current_user.id, now, days=28),
        now=now,
        kind_labels=duty.KIND_LABELS,
    )
