"""Technicians' and dispatchers' work queues."""

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, STAFF, Role
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.forms.dispatch import suggestion_options
from tracker.forms.tickets import ActionForm
from tracker.models import Centre
from tracker.services.dispatch import roster as duty
from tracker.services.dispatch import suggest
from tracker.services.requests import queues
from tracker.services.sla import clocks as sla
from tracker.web.routing import page_arg

bp = Blueprint("queue", __name__, url_prefix="/queue")


@bp.route("/")
@require_role(*STAFF)
def mine():
    now = utcnow()
    mine = queues.my_work(current_user, page=page_arg("page"))
    pool = queues.unassigned(current_user.centre_ids(Role.TECHNICIAN), page=page_arg("pool"))
    # One tap to accept, at the top of the first page only: later pages page through the rest.
    to_accept = queues.awaiting_acceptance(current_user) if mine.page == 1 else []
    return render_template(
        "queue/mine.html",
        mine=mine,
        pool=pool,
        to_accept=to_accept,
        shifts=duty.user_shifts(current_user.id, now, days=2)[:3],
        kind_labels=duty.KIND_LABELS,
        summaries=sla.summaries([t.id for t in mine.items + pool.items + to_accept], now),
        now=now,
        form=ActionForm(),
    )


@bp.route("/dispatch")
@require_role(*CENTRE_MANAGERS)
def dispatch():
    now = utcnow()
    centres = current_user.centre_ids(*CENTRE_MANAGERS)
    waiting = queues.unassigned(centres, page=page_arg("page"))
    # One ranking per centre; each request's choice marks the best for its category.
    found = {centre_id: suggest.candidates(centre_id, None, now) for centre_id in {t.centre_id for t in waiting.items}}
    technicians = {t.id: suggestion_options(found[t.centre_id], t.category_id) for t in waiting.items}
    centre_rows = db.session.execute(
        select(Centre).where(Centre.id.in_(sorted(centres) or [0])).order_by(Centre.sort_order, Centre.id)
    ).scalars()
    return render_template(
        "queue/dispatch.html",
        waiting=waiting,
        summaries=sla.summaries([t.id for t in waiting.items], now),
        now=now,
        technicians=technicians,
        load=queues.technician_load(centres),
        on_duty=[(c, duty.on_duty(c.id, now)) for c in centre_rows],
        kind_labels=duty.KIND_LABELS,
        form=ActionForm(),
    )
