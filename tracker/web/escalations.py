"""Escalations: the open ones a user receives, and acknowledging one."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import STAFF, Role
from tracker.clock import utcnow
from tracker.services.requests import escalations
from tracker.services.sla import sweep as sla_sweep
from tracker.web.helpers import safe_next

bp = Blueprint("escalations", __name__, url_prefix="/escalations")

# Who receives escalations: assignees and dispatchers (level 1), centre
# heads (level 2), leadership (level 3).
RECEIVING_ROLES = (*STAFF, Role.LEADERSHIP)


@bp.route("/")
@require_role(*RECEIVING_ROLES)
def index():
    return render_template("escalations/index.html", escalations=escalations.open_for(current_user))


@bp.route("/<int:escalation_id>/acknowledge", methods=["POST"])
@require_role()
def acknowledge(escalation_id):
    # NotFound and PermissionDenied (not a receiver) answer 404 and 403.
    escalation = sla_sweep.acknowledge(escalation_id, actor=current_user, now=utcnow())
    if escalation.acknowledged_by_id == current_user.id:
        flash(_("Escalation acknowledged."), "success")
    else:
        flash(_("Someone else had acknowledged this escalation already."), "info")
    return redirect(
        safe_next(request.form.get("next"))
        or url_for("tickets.detail", reference=escalation.ticket.reference)
    )
