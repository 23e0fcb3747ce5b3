"""The follow-up rules page (centre heads, administrators) and the contractors page (docs/scorecards.md).

Views are thin: rules.set_rule and the contractors service write, check who
may, and record every change in the administration history.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms.scorecards import AssignForm, ContractorEditForm, ContractorForm, FollowUpRuleForm
from tracker.models import Contractor
from tracker.services.insight.scorecards import contractors as contractor_service
from tracker.services.insight.scorecards import rules as rule_service
from tracker.services.requests import catalog
from tracker.web.once import repeat_of

rules_bp = Blueprint("follow_up_rules", __name__, url_prefix="/follow-up-rules")
contractors_bp = Blueprint("contractors", __name__, url_prefix="/contractors")


def _form_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")


# ---------------------------------------------------------------- follow-up rules


@rules_bp.route("/", endpoint="index")
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def rules_index():
    centres = rule_service.managed_centres(current_user)
    if len(centres) == 1:
        return redirect(url_for("follow_up_rules.centre", centre_code=centres[0].code))
    return render_template("scorecards/rules_index.html", centres=centres)


@rules_bp.route("/<centre_code>", methods=["GET", "POST"])
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def centre(centre_code):
    centre = catalog.centre_by_code(centre_code)
    if centre is None:
        abort(404)
    if not rule_service.may_manage(current_user, centre.id):
        abort(403)
    form = FollowUpRuleForm()
    existing = rule_service.rules_of(centre.id)
    if form.is_submitted():
        if not form.validate():
            _form_errors(form)
            return redirect(url_for("follow_up_rules.centre", centre_code=centre.code))
        raw = (form.category.data or "").strip()
        category_id = int(raw) if raw.isdigit() else None
        if raw and category_id is None:
            abort(400)
        rule = existing.get(category_id)
        try:
            if rule is not None and rule.is_complaint and not form.complaint.data:
                flash(_("Complaints are followed up in full (100 %); their share is fixed."), "error")
            else:
                rule = rule_service.set_rule(
                    centre.id,
                    category_id,
                    form.share.data,
                    is_complaint=form.complaint.data,
                    actor=current_user,
                    now=utcnow(),
                )
                flash(_("Follow-up share set: %(share)s %%.", share=rule.share_percent), "success")
        except TrackerError as error:
            db.session.rollback()
            flash(error.translated(), "error")
        return redirect(url_for("follow_up_rules.centre", centre_code=centre.code))
    return render_template(
        "scorecards/rules.html",
        centre=centre,
        categories=catalog.all_categories(centre.id),
        rules=existing,
        form=form,
    )


# ---------------------------------------------------------------- contractors


def contractor_name(contractor: Contractor | None) -> str:
    if contractor is None:
        return ""
    chinese = str(get_locale()).startswith("zh")
    return (contractor.name_zh if chinese else contractor.name_en) or contractor.code


@contractors_bp.app_template_filter("contractor_name")
def _contractor_name(contractor) -> str:
    return contractor_name(contractor)


def _contractors_url(_object_id=None) -> str:
    return url_for("contractors.index")


@contractors_bp.route("/", methods=["GET", "POST"], endpoint="index")
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def contractors_index():
    is_admin = current_user.has_role(Role.ADMIN)
    form = ContractorForm()
    if form.is_submitted():
        if not is_admin:
            abort(403)
        if form.validate():
            if (earlier := repeat_of(form, "contractor", landing=_contractors_url)) is not None:
                return earlier
            try:
                contractor = contractor_service.create(
                    code=form.code.data,
                    name_en=form.name_en.data,
                    name_zh=form.name_zh.data,
                    actor=current_user,
                    now=utcnow(),
                )
            except TrackerError as error:
                db.session.rollback()
                flash(error.translated(), "error")
            else:
                flash(_("Contractor %(code)s added.", code=contractor.code), "success")
                return redirect(url_for("contractors.index"))
        else:
            _form_errors(form)
    centre_ids = None if is_admin else current_user.centre_ids(Role.CENTRE_HEAD)
    return render_template(
        "scorecards/contractors.html",
        form=form,
        is_admin=is_admin,
        contractors=contractor_service.all_contractors(),
        technicians=contractor_service.technicians(centre_ids),
        edit_form=ContractorEditForm(),
        assign_form=AssignForm(),
    )


@contractors_bp.route("/<int:contractor_id>", methods=["POST"])
@require_role(Role.ADMIN)
def edit(contractor_id):
    if db.session.get(Contractor, contractor_id) is None:
        abort(404)
    form = ContractorEditForm()
    if form.validate_on_submit():
        try:
            contractor = contractor_service.update(
                contractor_id,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                is_active=form.is_active.data,
                actor=current_user,
            )
        except TrackerError as error:
            db.session.rollback()
            flash(error.translated(), "error")
        else:
            flash(_("Contractor %(code)s saved.", code=contractor.code), "success")
    else:
        _form_errors(form)
    return redirect(url_for("contractors.index"))


@contractors_bp.route("/assign", methods=["POST"])
@require_role(Role.ADMIN)
def assign():
    form = AssignForm()
    if not form.validate_on_submit() or not (form.technician.data or "").isdigit():
        _form_errors(form)
        return redirect(url_for("contractors.index"))
    code = (form.contractor.data or "").strip().lower()
    contractor_id = None
    if code:
        contractor = next((c for c in contractor_service.all_contractors() if c.code == code), None)
        if contractor is None:
            flash(_("There is no contractor with the code %(code)s.", code=code), "error")
            return redirect(url_for("contractors.index"))
        contractor_id = contractor.id
    try:
        contractor_service.assign(int(form.technician.data), contractor_id, now=utcnow(), actor=current_user)
    except TrackerError as error:
        db.session.rollback()
        flash(error.translated(), "error")
    else:
        flash(_("Technician's contractor saved."), "success")
    return redirect(url_for("contractors.index"))
