"""Technicians' and dispatchers' work queues."""

from flask import Blueprint, render_template
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, STAFF, Role
from tracker.clock import utcnow
from tracker.forms.tickets import ActionForm, assignee_options
from tracker.services import queues, sla
from tracker.web.routing import page_arg

bp = Blueprint("queue", __name__, url_prefix="/queue")


@bp.route("/")
@require_role(*STAFF)
def mine():
    now = utcnow()
    mine = queues.my_work(current_user, page=page_arg("page"))
    pool = queues.unassigned(current_user.centre_ids(Role.TECHNICIAN), page=page_arg("pool"))
    return render_template(
        "queue/mine.html",
        mine=mine,
        pool=pool,
        summaries=sla.summaries([t.id for t in mine.items + pool.items], now),
        now=now,
        form=ActionForm(),
    )


@bp.route("/dispatch")
@require_role(*CENTRE_MANAGERS)
def dispatch():
    now = utcnow()
    centres = current_user.centre_ids(*CENTRE_MANAGERS)
    waiting = queues.unassigned(centres, page=page_arg("page"))
    technicians = {
        centre_id: assignee_options(loads)
        for centre_id, loads in queues.assignable_by_centre({t.centre_id for t in waiting.items}).items()
    }
    return render_template(
        "queue/dispatch.html",
        waiting=waiting,
        summaries=sla.summaries([t.id for t in waiting.items], now),
        now=now,
        technicians=technicians,
        load=queues.technician_load(centres),
        form=ActionForm(),
    )
