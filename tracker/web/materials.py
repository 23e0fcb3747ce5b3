"""Materials catalogue, stock-in and ledger; paid repairs' quotes and answers; their exports."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
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

from tracker.auth.decorators import require_role
from tracker.auth.roles import READ_ALL, STAFF, Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms.materials import MaterialForm, QuoteForm, StockInForm
from tracker.models import Material, Quote, StockMovement
from tracker.services.insight import exports
from tracker.services.materials import catalogue, figures, quotes
from tracker.services.requests import catalog
from tracker.services.requests import tickets as ticket_service
from tracker.web.once import repeat_of

bp = Blueprint("materials", __name__, url_prefix="/materials")

RESOLVE_LINES = 3  # material lines on the resolution form (a phone shows three; blank lines are skipped)


def _item_url(object_id):
    material = db.session.get(Material, object_id)
    return url_for("materials.item", material_id=material.id) if material else None


def _stock_in_url(object_id):
    movement = db.session.get(StockMovement, object_id)
    return _item_url(movement.material_id) if movement else None


def _quote_url(object_id):
    quote = db.session.get(Quote, object_id)
    ticket = db.session.get(ticket_service.Ticket, quote.ticket_id) if quote else None
    return url_for("tickets.detail", reference=ticket.reference) + "#quotes" if ticket else None


def _input(form: MaterialForm) -> catalogue.MaterialInput:
    return catalogue.MaterialInput(
        code=form.code.data or "",
        name_en=form.name_en.data or "",
        name_zh=form.name_zh.data or "",
        unit=form.unit.data or "",
        unit_cost=form.unit_cost.data or "",
        low_stock_threshold=form.low_stock_threshold.data or "",
        is_active=bool(form.is_active.data),
    )


def _form_errors(form) -> None:
    flash(_("Please correct the marked fields; nothing was saved."), "error")


@bp.route("/")
@require_role(*STAFF, *READ_ALL)
def index():
    centres = catalogue.centres_for(current_user)
    if len(centres) == 1:
        return redirect(url_for("materials.centre", centre_code=centres[0].code))
    return render_template(
        "materials/index.html", centres=centres, low=figures.low_stock([c.id for c in centres])
    )


@bp.route("/<centre_code>", methods=["GET", "POST"])
@require_role(*STAFF, *READ_ALL)
def centre(centre_code):
    centre = catalog.centre_by_code(centre_code)
    if centre is None or not catalogue.may_view(current_user, centre.id):
        abort(404)
    may_manage = catalogue.may_manage(current_user, centre.id)
    form = MaterialForm()
    if request.method == "POST":
        if not may_manage:
            abort(403)
        if form.validate_on_submit():
            if (earlier := repeat_of(form, "material", landing=_item_url)) is not None:
                return earlier
            try:
                material = catalogue.create_material(
                    centre.id, _input(form), actor=current_user, now=utcnow()
                )
            except TrackerError as error:
                flash(error.translated(), "error")
            else:
                flash(_("Material %(code)s added to the catalogue.", code=material.code), "success")
                return redirect(url_for("materials.item", material_id=material.id))
        else:
            _form_errors(form)
    return render_template(
        "materials/centre.html",
        centre=centre,
        materials=catalogue.materials_of(centre.id),
        form=form,
        may_manage=may_manage,
    )


@bp.route("/item/<int:material_id>", methods=["GET", "POST"])
@require_role(*STAFF, *READ_ALL)
def item(material_id):
    try:
        material = catalogue.get(material_id, current_user)
    except TrackerError:
        abort(404)
    may_manage = catalogue.may_manage(current_user, material.centre_id)
    form = MaterialForm(obj=None)
    if request.method == "GET":
        form.code.data, form.name_en.data, form.name_zh.data = (
            material.code,
            material.name_en,
            material.name_zh,
        )
        form.unit.data, form.is_active.data = material.unit, material.is_active
        form.unit_cost.data = _yuan_text(material.unit_cost_fen)
        form.low_stock_threshold.data = str(material.low_stock_threshold)
    elif not may_manage:
        abort(403)
    elif form.validate_on_submit():
        try:
            catalogue.update_material(material.id, _input(form), actor=current_user, now=utcnow())
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Material %(code)s saved.", code=material.code), "success")
            return redirect(url_for("materials.item", material_id=material.id))
    else:
        _form_errors(form)
    return render_template(
        "materials/item.html",
        material=material,
        form=form,
        stock_form=StockInForm(),
        may_manage=may_manage,
        ledger=catalogue.ledger(material.id),
        names=ticket_service.user_names(m.actor_id for m in catalogue.ledger(material.id)),
    )


def _yuan_text(fen: int) -> str:
    from tracker.domain.money import format_fen

    return format_fen(fen).replace(",", "")


@bp.route("/item/<int:material_id>/stock-in", methods=["POST"])
@require_role(Role.CENTRE_HEAD, Role.ADMIN)
def stock_in(material_id):
    try:
        material = catalogue.get(material_id, current_user)
    except TrackerError:
        abort(404)
    form = StockInForm()
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "stock_in", landing=_stock_in_url)) is not None:
            return earlier
        try:
            movement = catalogue.stock_in(
                material.id, form.quantity.data, actor=current_user, now=utcnow(), note=form.note.data or ""
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(
                _(
                    "Stock-in recorded: %(stock)d %(unit)s in stock now.",
                    stock=movement.stock_after,
                    unit=material.unit,
                ),
                "success",
            )
    else:
        _form_errors(form)
    return redirect(url_for("materials.item", material_id=material.id))


# ---------------------------------------------------------------- paid repairs


@bp.route("/quote/<reference>", methods=["POST"])
@require_role(*STAFF)
def quote(reference):
    ticket = ticket_service.get_visible(reference, current_user)
    form = QuoteForm()
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "quote", landing=_quote_url)) is not None:
            return earlier
        try:
            quotes.send_quote(
                ticket.id,
                labour=form.labour.data or "",
                materials=form.materials.data or "",
                note=form.note.data or "",
                actor=current_user,
                now=utcnow(),
                expected_version=request.form.get("version", type=int),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(
                _("Quote sent: the request waits for the requester's answer, and its clock is stopped."),
                "success",
            )
    else:
        _form_errors(form)
    return redirect(url_for("tickets.detail", reference=ticket.reference) + "#quotes")


ANSWERS = ("accept", "decline", "withdraw")


@bp.route("/quotes/<int:quote_id>/<answer>", methods=["POST"])
@require_role()
def answer(quote_id, answer):
    if answer not in ANSWERS:
        abort(404)
    found = db.session.get(Quote, quote_id)
    if found is None:
        abort(404)
    ticket = db.session.get(ticket_service.Ticket, found.ticket_id)
    if not ticket_service.can_view(current_user, ticket):
        abort(404)
    try:
        if answer == "withdraw":
            quotes.withdraw_quote(quote_id, actor=current_user, now=utcnow())
            message = _("Quote withdrawn: the work goes on free of charge.")
        else:
            quotes.answer_quote(quote_id, accept=answer == "accept", actor=current_user, now=utcnow())
            message = (
                _("You accepted the quote: the technician goes on with the work.")
                if answer == "accept"
                else _("You declined the quote: nothing will be charged.")
            )
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(message, "success")
    return redirect(url_for("tickets.detail", reference=ticket.reference) + "#quotes")


def ticket_context(ticket, user) -> dict:
    """What the request page shows of materials and paid repairs, and the forms ``user`` may use."""
    relations = ticket_service.relations(user, ticket)
    from tracker.domain.workflow import Relation, Status

    chargeable = quotes.is_chargeable(ticket)
    works = bool(relations & {Relation.ASSIGNEE, Relation.DISPATCHER})
    all_quotes = quotes.quotes_of(ticket.id) if chargeable or ticket.hold_reason else []
    pending = next((q for q in all_quotes if q.status.value == "pending"), None)
    return {
        "materials_used_here": figures.ticket_materials(ticket.id),
        "chargeable": chargeable,
        "quotes": all_quotes,
        "charge": quotes.charge_of(ticket.id) if chargeable else None,
        "quote_form": QuoteForm()
        if chargeable and works and pending is None and ticket.status in (Status.ACCEPTED, Status.IN_PROGRESS)
        else None,
        "may_answer": pending is not None
        and Relation.REQUESTER in relations
        and ticket.status is Status.ON_HOLD,
        "may_withdraw": pending is not None and works,
        "pending_quote": pending,
        "catalogue": catalogue.materials_of(ticket.centre_id, active_only=True)
        if Relation.ASSIGNEE in relations
        else [],
        "resolve_lines": RESOLVE_LINES,
        "quote_status_labels": quotes.QUOTE_STATUS_LABELS,
    }


# ---------------------------------------------------------------- exports

EXPORT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _export_centres() -> list[int] | None:
    """Return the centres whose ledger and charges the user may export (None: all)."""
    if current_user.has_any_role(*READ_ALL):
        return None
    finance = catalog.centre_by_code("finance")
    if finance is not None and finance.id in current_user.centre_ids():
        return None  # the finance centre settles every centre's charges
    return sorted(current_user.centre_ids(Role.CENTRE_HEAD, Role.DISPATCHER))


def _period() -> tuple[datetime, datetime]:
    """Return [from, to) from ?from=YYYY-MM-DD&to=YYYY-MM-DD (campus days), by default the last 31 days."""
    from datetime import date

    zone = ZoneInfo(current_app.config["TRACKER_TIMEZONE"])
    try:
        last = (
            date.fromisoformat(request.args["to"])
            if request.args.get("to")
            else utcnow().astimezone(zone).date()
        )
        first = (
            date.fromisoformat(request.args["from"])
            if request.args.get("from")
            else last - timedelta(days=30)
        )
    except ValueError:
        abort(404)
    if first > last or (last - first).days > 3 * 366:
        abort(404)
    start = datetime.combine(first, time(), zone)
    return start, datetime.combine(last + timedelta(days=1), time(), zone)


@bp.route("/<kind>.<fmt>")
@require_role(Role.CENTRE_HEAD, Role.DISPATCHER, *READ_ALL, Role.TECHNICIAN)
def export(kind, fmt):
    """The stock ledger ("ledger") or the final charges for finance ("charges") of a period, as CSV or xlsx."""
    if fmt not in EXPORT_TYPES or kind not in ("ledger", "charges"):
        abort(404)
    centres = _export_centres()
    if centres is not None and not centres:
        abort(403)
    start, end = _period()
    locale = str(get_locale())
    if kind == "ledger":
        columns, records, title = (
            figures.USAGE_COLUMNS,
            figures.usage_records(centres, start, end, locale),
            _("Stock ledger"),
        )
        kinds = {"stock_in": _("Stock-in"), "used": _("Used on a request")}
        labels = {"kind": lambda value: kinds.get(value, value)}
    else:
        columns, records, title = (
            figures.CHARGE_COLUMNS,
            figures.charge_records(centres, start, end, locale),
            _("Charges"),
        )
        labels = {}
    titles = [_(header) for _key, header in columns]
    rows = exports.table_rows(records, columns, labels)
    body = exports.csv_lines(titles, rows) if fmt == "csv" else exports.xlsx_chunks([(title, titles, rows)])
    filename = f"{'stock-ledger' if kind == 'ledger' else 'charges'}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    return Response(
        stream_with_context(body),
        mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------- dashboards


@bp.app_template_global()
def materials_figures(scope) -> dict:
    """Materials and charges for a dashboard's scope (templates/materials/_dashboard.html).

    A template global, so the dashboards' views stay as they are: the page
    includes the section with one line.
    """
    zone = ZoneInfo(current_app.config["TRACKER_TIMEZONE"])
    start = datetime.combine(scope.filters.first, time(), zone)
    end = datetime.combine(scope.filters.last + timedelta(days=1), time(), zone)
    if scope.centre is not None:
        centres = [scope.centre.id]
    elif current_user.has_any_role(*READ_ALL):
        centres = None
    else:
        centres = [c.id for c in scope.known]
    rows = figures.period_figures(centres, start, end)
    return {
        "rows": rows,
        "cost_fen": sum(r.cost_fen for r in rows),
        "charged_fen": sum(r.charged_fen for r in rows),
        "low": figures.low_stock(centres),
        "export_args": {"from": scope.filters.first.isoformat(), "to": scope.filters.last.isoformat()},
    }
