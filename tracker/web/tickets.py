"""Filing requests, reading them, and acting on them."""

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from tracker import logs
from tracker.auth.decorators import require_role
from tracker.auth.roles import READ_ALL, STAFF, Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_, pick
from tracker.domain.workflow import OPEN_STATUSES, Action, Status
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms import grouped, options
from tracker.forms.tickets import ActionForm, FileTicketForm, TicketFilterForm, assignee_options
from tracker.models import Category, Ticket, TicketEvent
from tracker.services import attachments as attachment_service
from tracker.services import catalog, escalations, exports, queues, sla, supervision
from tracker.services import tickets as ticket_service
from tracker.web import feedback as feedback_views
from tracker.web.helpers import safe_next
from tracker.web.once import repeat_of
from tracker.web.routing import page_arg

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

STATE_FILTERS = {
    "open": OPEN_STATUSES,
    "resolved": frozenset({Status.RESOLVED}),
    "done": frozenset({Status.CLOSED, Status.CANCELLED}),
}


def _filtered(query, form: TicketFilterForm):
    """Return ``query`` narrowed by the list's filters (the list and its exports share them)."""
    if form.q.data:
        term = f"%{form.q.data.strip()}%"
        query = query.where(or_(Ticket.reference.ilike(term), Ticket.title.ilike(term)))
    statuses = STATE_FILTERS.get(form.state.data or "open")
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if form.centre.data:
        centre = catalog.centre_by_code(form.centre.data)
        if centre is not None:
            query = query.where(Ticket.centre_id == centre.id)
    return query


def _list(query, form: TicketFilterForm, template: str, **context):
    query = _filtered(query, form)
    size = 50
    page = page_arg()
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(
        db.session.execute(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(size).offset((page - 1) * size)
        ).scalars()
    )
    return render_template(
        template,
        tickets=rows,
        summaries=sla.summaries([t.id for t in rows], utcnow()),
        form=form,
        total=total,
        page=page,
        pages=max((total + size - 1) // size, 1),
        **context,
    )


def _filter_form() -> TicketFilterForm:
    form = TicketFilterForm(request.args)
    form.centre.choices = options(
        [("", _("All centres"))] + [(c.code, c.name_for(str(get_locale()))) for c in catalog.active_centres()]
    )
    form.validate()
    return form


@bp.route("/")
@require_role(*STAFF, *READ_ALL)
def index():
    return _list(ticket_service.visible_tickets(current_user), _filter_form(), "tickets/index.html", scope="all")


@bp.route("/mine")
@require_role(Role.REQUESTER)
def mine():
    query = select(Ticket).where(Ticket.requester_id == current_user.id)
    # Resolved requests wait for the requester: show them first, whatever the filter.
    awaiting = list(
        db.session.execute(
            query.where(Ticket.status == Status.RESOLVED).order_by(Ticket.resolved_at.desc()).limit(50)
        ).scalars()
    )
    return _list(query, _filter_form(), "tickets/index.html", scope="mine", awaiting=awaiting)


@bp.route("/new")
@require_role(Role.REQUESTER)
def new():
    # A QR code of a place without a centre lands here: the place goes on to the form.
    carry = {}
    if request.args.get("location", type=int):
        carry["location"] = request.args.get("location", type=int)
    if request.args.get("source") == "qr":
        carry["source"] = "qr"
    return render_template("tickets/choose_centre.html", centres=catalog.active_centres(), carry=carry)


@bp.route("/new/<centre_code>", methods=["GET", "POST"])
@require_role(Role.REQUESTER)
def file(centre_code):
    centre = catalog.centre_by_code(centre_code)
    if centre is None or not centre.is_active:
        abort(404)
    locale = str(get_locale())
    categories = catalog.active_categories(centre.id)
    form = FileTicketForm()
    form.category_id.choices = options([(None, _("Choose…"))] + [(c.id, c.name_for(locale)) for c in categories])
    places = catalog.location_choices(locale)
    form.location_id.choices = options([(None, _("Choose…"))]) + grouped(places)
    if request.method == "GET":
        # Pre-filled by a QR code or a link: ?category=<id>&location=<id>;
        # a category of another centre or an unknown place is left out.
        category_id = request.args.get("category", type=int)
        location_id = request.args.get("location", type=int)
        form.category_id.data = category_id if any(c.id == category_id for c in categories) else None
        form.location_id.data = (
            location_id if any(value == location_id for _label, group in places for value, _name in group) else None
        )
        form.contact_phone.data = current_user.phone or ""
    if form.validate_on_submit():
        # Back and submit again, or a double click: land on the request filed the first time.
        if (earlier := repeat_of(form, "ticket")) is not None:
            return earlier
        try:
            # Filed and attached in one transaction: a refused photo files nothing.
            ticket = attachment_service.file_ticket_with_photo(
                ticket_service.NewTicket(
                    centre_id=centre.id,
                    category_id=form.category_id.data,
                    location_id=form.location_id.data,
                    location_note=form.location_note.data or "",
                    description=form.description.data,
                    title=form.title.data or "",
                    priority=form.priority.data or None,
                    contact_phone=form.contact_phone.data or "",
                    source=request.args.get("source") == "qr" and "qr" or "web",
                ),
                form.photo.data,
                requester=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            logs.note_ticket(ticket.reference)
            flash(_("Request %(reference)s is filed.", reference=ticket.reference), "success")
            return redirect(url_for("tickets.detail", reference=ticket.reference))
    elif request.method == "POST":
        flash(_("Please correct the marked fields; nothing was saved."), "error")
    return render_template(
        "tickets/file.html",
        form=form,
        centre=centre,
        category_priorities={c.id: c.default_priority.value for c in categories},
    )


@bp.route("/<reference>")
@require_role()
def detail(reference):
    ticket = ticket_service.get_visible(reference, current_user)
    events = list(
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).scalars()
    )
    # Supervision orders are the department's own: a requester's history leaves them out.
    events = supervision.visible_events(events, current_user, ticket.centre_id)
    actions = ticket_service.available_actions(current_user, ticket)
    form = ActionForm(version=ticket.version)
    if Action.ASSIGN in actions:
        form.assignee_id.choices = assignee_options(
            queues.assignable_by_centre({ticket.centre_id})[ticket.centre_id]
        )
    if Action.RECATEGORISE in actions:
        form.category_id.choices = options(
            [(None, _("Choose…"))]
            + [(c.id, c.name_for(str(get_locale()))) for c in catalog.active_categories(ticket.centre_id)
               if c.id != ticket.category_id]
        )
    users = {e.actor_id for e in events} | {e.data.get("assignee_id") for e in events if e.data}
    names = ticket_service.user_names(users)
    now = utcnow()
    clocks = sla.clocks_for(ticket, now, with_segments=True)
    return render_template(
        "tickets/detail.html",
        ticket=ticket,
        events=events,
        actions=actions,
        form=form,
        names=names,
        Action=Action,
        clocks=clocks,
        now=now,
        expected=sla.expected_answer(ticket, clocks),
        categories={c.id: c for c in catalog.active_categories(ticket.centre_id)},
        # Escalations are the staff's business: requesters see the clocks only.
        escalations=escalations.for_ticket(ticket, current_user)
        if current_user.has_any_role(*STAFF, *READ_ALL) else [],
        attachments=attachment_service.attachments_of("ticket", ticket.id),
        may_attach=attachment_service.may_attach(current_user, "ticket", ticket),
        **feedback_views.ticket_context(ticket, current_user, now),
    )


@bp.route("/<reference>/<action>", methods=["POST"])
@require_role()
def act(reference, action):
    ticket = ticket_service.get_visible(reference, current_user)
    try:
        chosen = Action(action)
    except ValueError:
        abort(404)
    form = ActionForm()
    form.assignee_id.choices = options(
        [(None, "")] + [(u.id, u.display_name) for u in ticket_service.assignable_technicians(ticket.centre_id)]
    )
    form.category_id.choices = options(
        [(None, "")] + [(c.id, c.code) for c in catalog.active_categories(ticket.centre_id)]
    )
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("tickets.detail", reference=ticket.reference))
    # Other actions carry the ticket's version, so a repeat is refused; a comment would be added twice.
    if chosen is Action.COMMENT and (earlier := repeat_of(form, "comment")) is not None:
        return earlier
    try:
        changed = ticket_service.transition(
            ticket.id,
            chosen,
            actor=current_user,
            now=utcnow(),
            reason=form.reason.data or "",
            hold_reason=form.hold_reason.data or None,
            resolution_note=form.resolution_note.data or "",
            materials_used=form.materials_used.data or "",
            assignee_id=form.assignee_id.data,
            priority=form.priority.data or None,
            category_id=form.category_id.data,
            extra_minutes=form.extra_hours.data * 60 if form.extra_hours.data else None,
            expected_version=form.version.data if chosen is not Action.COMMENT else None,
        )
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(done_message(chosen, changed), "success")
    return redirect(safe_next(form.next.data) or url_for("tickets.detail", reference=ticket.reference))


# What a ticket action did, said to whoever did it (the flash after the form).
DONE_MESSAGES = {
    Action.TAKE: N_("You took the request."),
    Action.ACCEPT: N_("You accepted the request."),
    Action.DECLINE: N_("Declined: the request goes back to dispatch."),
    Action.ARRIVE: N_("Marked as on site."),
    Action.RESUME: N_("Work resumed: the clock runs again."),
    Action.RESOLVE: N_("Resolved: the requester is asked to confirm the fix."),
    Action.CONFIRM: N_("Thank you: the fix is confirmed and the request closed."),
    Action.REOPEN: N_("Request reopened."),
    Action.CANCEL: N_("Request cancelled."),
    Action.COMMENT: N_("Comment added."),
    Action.EXTEND_HOLD: N_("Longer hold approved."),
}


def done_message(action: Action, ticket: Ticket) -> str:
    """Say what ``action`` did to ``ticket``, in the reader's language: "Assigned to 吴建国."."""
    from tracker.domain.workflow import HOLD_REASON_LABELS, PRIORITY_LABELS

    if action is Action.ASSIGN:
        return _("Assigned to %(name)s.", name=ticket.assignee.display_name if ticket.assignee else "?")
    if action is Action.HOLD:
        if ticket.hold_reason is None:
            return _("Put on hold.")
        return _("Put on hold: %(reason)s.", reason=_(HOLD_REASON_LABELS[ticket.hold_reason]))
    if action is Action.REPRIORITISE:
        return _("Priority changed to %(priority)s.", priority=_(PRIORITY_LABELS[ticket.priority]))
    if action is Action.RECATEGORISE:
        category = db.session.get(Category, ticket.category_id)
        return _("Category changed to %(category)s.", category=category.name_for(str(get_locale())))
    return _(DONE_MESSAGES[action])


# ---------------------------------------------------------------- exports of the list

EXPORT_FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}


@bp.route("/export.<fmt>")
@require_role(*STAFF, *READ_ALL)
def export(fmt):
    """The list's tickets (its filters, every page) as CSV, xlsx, JSON or NDJSON, streamed."""
    return _export(fmt, "tickets", exports.TICKET_COLUMNS, exports.ticket_records, _ticket_labels())


@bp.route("/events.<fmt>")
@require_role(*STAFF, *READ_ALL)
def events_export(fmt):
    """The history of the list's tickets (its filters, every page): one row per event, streamed."""
    return _export(fmt, "ticket-events", exports.EVENT_COLUMNS, exports.event_records, _event_labels())


def _export(fmt: str, stem: str, columns, records, labels):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    form = _filter_form()
    query = _filtered(ticket_service.visible_tickets(current_user), form)
    filename = f"{stem}-{utcnow():%Y%m%d-%H%M}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "json":
        body = exports.json_array_lines(records(query))
    elif fmt == "ndjson":
        body = exports.ndjson_lines(records(query))
    else:
        titles = [_(header) for _key, header in columns]
        rows = exports.table_rows(records(query), columns, labels)
        if fmt == "csv":
            body = exports.csv_lines(titles, rows)
        else:
            body = exports.xlsx_chunks([(_("Requests") if stem == "tickets" else _("History"), titles, rows)])
    return Response(stream_with_context(body), mimetype=EXPORT_FORMATS[fmt], headers=headers)


def _ticket_labels() -> dict:
    """Spreadsheet cells in the reader's language: names, not codes (JSON keeps the codes)."""
    from tracker.domain.workflow import PRIORITY_LABELS, STATUS_LABELS

    locale = str(get_locale())
    centres = {c.code: c.name_for(locale) for c in catalog.all_centres()}
    categories = {code: pick(zh, en, locale)
                  for code, zh, en in db.session.execute(select(Category.code, Category.name_zh, Category.name_en))}
    priorities = {p.value: _(label) for p, label in PRIORITY_LABELS.items()}
    statuses = {s.value: _(label) for s, label in STATUS_LABELS.items()}
    return {
        "centre": lambda code: centres.get(code, code),
        "category": lambda code: categories.get(code, code),
        "priority": lambda value: priorities.get(value, value),
        "status": lambda value: statuses.get(value, value),
        "is_sla_breached": lambda value: _("yes") if value else "",
    }


def _event_labels() -> dict:
    from tracker.domain.workflow import STATUS_LABELS

    statuses = {s.value: _(label) for s, label in STATUS_LABELS.items()}
    return {
        "from_status": lambda value: statuses.get(value, value or ""),
        "to_status": lambda value: statuses.get(value, value or ""),
    }
