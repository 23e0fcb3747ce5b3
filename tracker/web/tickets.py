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
from sqlalchemy.orm import joinedload

from tracker import logs
from tracker.auth.decorators import require_role
from tracker.auth.roles import READ_ALL, STAFF, Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_, pick
from tracker.domain.workflow import OPEN_STATUSES, Action, Status
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms import options
from tracker.forms.dispatch import suggestion_options
from tracker.forms.tickets import ActionForm, FileTicketForm, TicketFilterForm
from tracker.models import Category, Ticket, TicketEvent, User
from tracker.services import supervision
from tracker.services.dispatch import auto as auto_dispatch
from tracker.services.dispatch import roster as duty
from tracker.services.dispatch import suggest
from tracker.services.insight import exports, reports
from tracker.services.materials import stock as material_stock
from tracker.services.requests import attachments as attachment_service
from tracker.services.requests import catalog, escalations
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla
from tracker.web import feedback as feedback_views
from tracker.web import materials as materials_views
from tracker.web.helpers import safe_next
from tracker.web.once import repeat_of
from tracker.web.routing import page_arg

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

STATE_FILTERS = {
    "open": OPEN_STATUSES,
    "resolved": frozenset({Status.RESOLVED}),
    "done": frozenset({Status.CLOSED, Status.CANCELLED}),
}


def _filtered(query, form: TicketFilterForm, centre=None):
    """Return ``query`` narrowed by the list's filters (the list and its exports share them).

    ``centre``: the filter's centre when the caller read it already.
    """
    if form.q.data:
        term = f"%{form.q.data.strip()}%"
        query = query.where(or_(Ticket.reference.ilike(term), Ticket.title.ilike(term)))
    state = form.state.data or "open"
    if state == "open":
        # The same tickets as the open statuses, through the partial indexes of the backlog: their
        # own predicate, as a literal. "is_open IS true" matches none of them (issue 20: the count
        # read the table from its start until it met 1,001 open tickets).
        query = query.where(reports.OPEN_CONDITION)
    elif statuses := STATE_FILTERS.get(state):
        query = query.where(Ticket.status.in_(statuses))
    if form.centre.data:
        centre = centre or catalog.centre_by_code(form.centre.data)
        if centre is not None:
            query = query.where(Ticket.centre_id == centre.id)
    return query


# The list counts its tickets up to this many (and the pages to the one shown), as the API's
# list does (services.requests.tickets.COUNT_CAP): past it, it says "more than 1,000".
LIST_COUNT_CAP = ticket_service.COUNT_CAP
LIST_PAGE_SIZE = 50
# What a row shows (tickets/_table.html), read with the page's tickets in one statement: loaded
# lazily it was two statements per requester and one per new category (138 for 50 rows). The
# people's roles are not needed to show their names.
LIST_LOADS = (
    joinedload(Ticket.centre),
    joinedload(Ticket.category),
    joinedload(Ticket.requester).lazyload(User.roles),
    joinedload(Ticket.assignee).lazyload(User.roles),
)


def _list(query, form: TicketFilterForm, template: str, *, parts: list | None = None, **context):
    """Render a page of ``query`` (narrowed by the filters), counted up to a cap.

    ``parts``: conditions, no two true of one ticket, whose union is ``query``'s
    (``visible_parts``); each is counted on its own, up to the cap.
    """
    centre = catalog.centre_by_code(form.centre.data) if form.centre.data else None
    query = _filtered(query, form, centre)
    size = LIST_PAGE_SIZE
    page = page_arg()
    cap = max(LIST_COUNT_CAP, page * size + size)
    counted = 0
    for part in [None] if parts is None else parts:
        counting = query.with_only_columns(Ticket.id)
        if part is not None:
            counting = _filtered(select(Ticket.id).where(part), form, centre)
        counted += db.session.execute(
            select(func.count()).select_from(counting.limit(cap + 1 - counted).subquery())
        ).scalar_one()
        if counted > cap:
            break
    rows = list(
        db.session.execute(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(size)
            .offset((page - 1) * size)
            .options(*LIST_LOADS)
        ).scalars()
    )
    more = counted > cap
    total = min(counted, cap)
    return render_template(
        template,
        tickets=rows,
        summaries=sla.summaries([t.id for t in rows], utcnow()),
        form=form,
        total=total,
        more_pages=more,
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
    return _list(ticket_service.visible_tickets(current_user), _filter_form(), "tickets/index.html",
                 parts=ticket_service.visible_parts(current_user), scope="all")


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
    form = FileTicketForm()
    # "Show its places" (the place picker without JavaScript) sends the form to see a building's places.
    picking = request.method == "POST" and "pick" in request.form
    refused = None
    if not picking and form.validate_on_submit():
        # Back and submit again, or a double click: land on the request filed the first time.
        if (earlier := repeat_of(form, "ticket")) is not None:
            return earlier
        # The redirect names the ticket the service just wrote: keep it
        # instead of reading it again after the commit (the request ends here).
        session = db.session()
        session.expire_on_commit = False
        try:
            # Filed and attached in one transaction: a refused photo files nothing.
            # The centre, category and place are read and checked in one statement.
            ticket = attachment_service.file_ticket_with_photo(
                ticket_service.NewTicket(
                    centre_id=None,
                    centre_code=centre_code,
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
            refused = error
        else:
            logs.note_ticket(ticket.reference)
            flash(_("Request %(reference)s is filed.", reference=ticket.reference), "success")
            return redirect(url_for("tickets.detail", reference=ticket.reference))
        finally:
            session.expire_on_commit = True
    centre = catalog.centre_by_code(centre_code)
    if centre is None or not centre.is_active:
        abort(404)
    locale = str(get_locale())
    categories = catalog.active_categories(centre.id)
    if refused is not None:
        # The service checked the choices by id: say it on the field it concerns.
        if form.category_id.data not in {c.id for c in categories}:
            form.category_id.errors = [*form.category_id.errors, refused.translated()]
            flash(_("Please correct the marked fields; nothing was saved."), "error")
        else:
            flash(refused.translated(), "error")
    elif request.method == "POST" and not picking:
        flash(_("Please correct the marked fields; nothing was saved."), "error")
    form.category_id.choices = options([(None, _("Choose…"))] + [(c.id, c.name_for(locale)) for c in categories])
    if request.method == "GET":
        # Pre-filled by a QR code or a link: ?category=<id>&location=<id>;
        # a category of another centre or an unknown place is left out.
        category_id = request.args.get("category", type=int)
        location_id = request.args.get("location", type=int)
        form.category_id.data = category_id if any(c.id == category_id for c in categories) else None
        form.area_id.data = catalog.area_of(location_id) if location_id else None
        form.location_id.data = location_id if form.area_id.data is not None else None
        form.contact_phone.data = current_user.phone or ""
    elif form.area_id.data is None and form.location_id.data is not None:
        form.area_id.data = catalog.area_of(form.location_id.data)
    _place_choices(form, locale)
    return render_template(
        "tickets/file.html",
        form=form,
        centre=centre,
        category_priorities={c.id: c.default_priority.value for c in categories},
    )


def _place_choices(form: FileTicketForm, locale: str) -> None:
    """Give the place picker its buildings, and the places of the building chosen (none before)."""
    form.area_id.choices = options([(None, _("Choose…"))] + catalog.place_areas(locale))
    places = catalog.places_in(form.area_id.data, locale) if form.area_id.data else []
    if form.location_id.data not in {place_id for place_id, _label in places}:
        form.location_id.data = None
    first = _("Choose…") if form.area_id.data else _("Choose a building first")
    form.location_id.choices = options([(None, first)] + places)


@bp.route("/places")
@require_role(Role.REQUESTER, *STAFF, *READ_ALL)
def places():
    """The places of one building or campus, for the request form's place picker (JSON)."""
    area_id = request.args.get("area", type=int)
    found = catalog.places_in(area_id, str(get_locale())) if area_id else []
    return {"places": [{"id": place_id, "label": label} for place_id, label in found]}


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
        form.assignee_id.choices = suggestion_options(
            suggest.candidates(ticket.centre_id, ticket.category_id, utcnow()), ticket.category_id
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
        **materials_views.ticket_context(ticket, current_user),
        **_on_duty_context(ticket, now),
    )


def _on_duty_context(ticket, now) -> dict:
    """Who is on duty now, for an open request of an emergency category (docs/dispatch.md)."""
    if not ticket.is_open or not auto_dispatch.is_emergency(ticket.category_id):
        return {"on_duty": None}
    return {"on_duty": duty.on_duty(ticket.centre_id, now), "duty_phones": auto_dispatch.shows_duty_phone(
        ticket.centre_id), "kind_labels": duty.KIND_LABELS}


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
    if chosen is Action.RESOLVE:
        return _resolve(ticket, form)
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


def _resolve(ticket: Ticket, form: ActionForm):
    """Resolve with the catalogue materials the job used and, for a paid repair, its final charge."""
    lines = [
        material_stock.UsedLine(request.form.get(f"material-{n}", ""), request.form.get(f"quantity-{n}", ""))
        for n in range(1, min(request.form.get("lines", type=int) or 0, material_stock.LINES_MAX) + 1)
    ]
    try:
        changed = material_stock.resolve(
            ticket.id,
            actor=current_user,
            now=utcnow(),
            resolution_note=form.resolution_note.data or "",
            materials_used=form.materials_used.data or "",
            lines=lines,
            final_charge=request.form.get("final_charge") or None,
            expected_version=form.version.data,
        )
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(done_message(Action.RESOLVE, changed), "success")
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
