"""Rectification items: the list and its files, opening an item, an item's page, the backlog dashboard.

Every number comes from ``tracker.services.insight.rectification_reports``; every
change goes through ``tracker.services.ledger.rectification``. A dashboard table
is built once per request (``Table``) and the page and its CSV and xlsx
files are written from that same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import format_skeleton
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import or_

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, READ_ALL, STAFF, Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.rectification import (
    ACTION_LABELS,
    ACTIVE_STATUSES,
    SOURCE_LABELS,
    STATUS_LABELS,
    Action,
    ItemStatus,
    Source,
)
from tracker.domain.workflow import PRIORITY_LABELS
from tracker.errors import TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.forms import grouped, options
from tracker.forms.rectification import BacklogFilterForm, ItemActionForm, ItemFilterForm, NewItemForm
from tracker.i18n import label_text, when
from tracker.models import Category, Location, RectificationItem
from tracker.services.insight import rectification_reports as figures
from tracker.services.insight import reports
from tracker.services.ledger import rectification as service
from tracker.services.requests import catalog
from tracker.services.requests import tickets as ticket_service
from tracker.web import charts
from tracker.web.downloads import table_file
from tracker.web.helpers import safe_next
from tracker.web.once import repeat_of
from tracker.web.routing import int_arg, page_arg

bp = Blueprint("rectification", __name__, url_prefix="/rectification")

READERS = (*STAFF, *READ_ALL)
CREATORS = (Role.DISPATCHER, Role.CENTRE_HEAD, Role.LEADERSHIP)
DASHBOARD_READERS = (*READ_ALL, *CENTRE_MANAGERS)
PAGE_SIZE = 50
FORMATS = ("csv", "xlsx")
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366


# ---------------------------------------------------------------- scope: which centres, which period


def _centre_ids_for(user) -> tuple[int, ...] | None:
    """Return the centres whose items ``user`` reads in figures and lists, None for every centre."""
    if user.has_any_role(*READ_ALL):
        return None
    return tuple(sorted(user.centre_ids()))


def _default_period(now: datetime) -> tuple[date, date]:
    """Return the last twelve months: the 1st of the month eleven months ago to today."""
    today = reports.local_day(now)
    first = today.replace(day=1)
    for _month in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


@dataclass
class Scope:
    """The parsed centre and period of a dashboard or list request."""

    figures: figures.Scope
    centre_id: int | None  # the chosen centre (None: all the reader may see)
    centres: list  # the centres the reader may choose
    form: BacklogFilterForm
    notes: list[str] = field(default_factory=list)

    def args(self, **extra) -> dict:
        args = {"from": self.figures.first.isoformat(), "to": self.figures.last.isoformat()}
        if self.centre_id is not None:
            args["centre"] = self.centre_id
        args.update({k: v for k, v in extra.items() if v is not None})
        return args

    @property
    def file_stem(self) -> str:
        centre = next((c.code for c in self.centres if c.id == self.centre_id), "campus")
        return f"{centre}_{self.figures.first.isoformat()}_{self.figures.last.isoformat()}"


def _scope(now: datetime, *, strict: bool) -> Scope:
    """Parse ?centre=&from=&to=. A centre the reader may not see answers 404.

    ``strict`` (lists and files) refuses a bad period with a message; the
    dashboard shows the message and falls back to the last twelve months.
    """
    allowed = _centre_ids_for(current_user)
    known = catalog.all_centres()
    centres = known if allowed is None else [c for c in known if c.id in allowed]
    centre_id = int_arg("centre")
    if centre_id is not None and centre_id not in {c.id for c in centres}:
        abort(404)
    form = BacklogFilterForm(request.args)
    locale = str(get_locale())
    choices = [("", _("All centres") if allowed is None else _("All my centres"))] if len(centres) != 1 else []
    form.centre.choices = options(choices + [(c.id, c.name_for(locale)) for c in centres
                                             if c.is_active or c.id == centre_id])
    first, last = _default_period(now)
    notes = []
    problem = None
    given = "from" in request.args or "to" in request.args
    if given:
        if form.first.process_errors or form.last.process_errors:
            problem = N_("Write the dates as YYYY-MM-DD.")
        elif form.first.data is None or form.last.data is None:
            problem = N_("Give both the first and the last day of the period.")
        elif form.first.data > form.last.data:
            problem = N_("The last day is before the first day.")
        elif (form.last.data - form.first.data).days >= MAX_DAYS:
            problem = N_("Choose a period of at most three years.")
        else:
            first, last = form.first.data, form.last.data
    if problem is not None:
        if strict:
            raise ValidationFailed(problem)
        notes.append(f"{_(problem)} {_('Showing the last twelve months instead.')}")
    form.first.data, form.last.data = first, last
    form.centre.data = centre_id
    if centre_id is not None:
        ids = (centre_id,)
    elif len(centres) == 1 and allowed is not None:
        ids = (centres[0].id,)
    else:
        ids = allowed
    return Scope(figures=figures.Scope(first=first, last=last, centre_ids=ids), centre_id=centre_id,
                 centres=centres, form=form, notes=notes)


def _date_range(first: date, last: date) -> str:
    locale = get_locale()
    if first == last:
        return format_skeleton("yMMMd", first, locale=locale)
    pattern = "MMMd" if first.year == last.year else "yMMMd"
    return f"{format_skeleton(pattern, first, locale=locale)} – {format_skeleton('yMMMd', last, locale=locale)}"


# ---------------------------------------------------------------- the list


FIGURE_LABELS = {
    "active": N_("On the backlog"),
    "overdue": N_("Overdue"),
    "at_risk": N_("At risk"),
    "aged": N_("On the backlog, by age"),
    "due_soon": N_("Due within two weeks"),
    "opened": N_("Opened"),
    "verified": N_("Verified"),
    "on_time": N_("Verified on time"),
    "late": N_("Verified late"),
    "rejected": N_("Rejected"),
    "open_at": N_("Open at the end of the period"),
}


@dataclass
class Listing:
    query: object
    title: str
    facets: list[str]
    args: dict
    is_figure: bool

    @property
    def dashboard_args(self) -> dict:
        """Return the dashboard's own arguments (centre, period): the way back from a figure's list."""
        return {k: v for k, v in self.args.items() if k in ("centre", "from", "to")}


def _listing(now: datetime) -> tuple[Listing, ItemFilterForm, Scope]:
    """Return the list a request asks for: the items behind a figure (?figure=), or filtered ones."""
    scope = _scope(now, strict=True)
    locale = str(get_locale())
    form = ItemFilterForm(request.args)
    form.centre.choices = scope.form.centre.choices
    figure = request.args.get("figure") or None
    if figure is not None:
        if figure not in figures.FIGURES:
            raise ValidationFailed(N_("Unknown figure %(figure)s: open lists from the dashboard's figures."),
                                   figure=figure[:40])
        status = request.args.get("status") or None
        age = request.args.get("age") or None
        if status is not None and status not in {s.value for s in ACTIVE_STATUSES}:
            raise ValidationFailed(N_("Unknown status."))
        if age is not None and age not in {b[0] for b in figures.AGE_BUCKETS}:
            raise ValidationFailed(N_("Unknown age bucket."))
        try:
            query = figures.drilldown(figure, scope.figures, now, status=status, age=age)
        except ValueError:
            raise ValidationFailed(N_("This list cannot be drawn from these filters.")) from None
        title = _(FIGURE_LABELS[figure])
        facets = [_date_range(scope.figures.first, scope.figures.last)
                  if figure in figures.PERIOD_FIGURES else _("now")]
        if status is not None:
            facets.append(label_text(STATUS_LABELS[ItemStatus(status)]))
        if age is not None:
            facets.append(_(next(b[3] for b in figures.AGE_BUCKETS if b[0] == age)))
        facets.append(_centre_name(scope, locale))
        args = scope.args(figure=figure, status=status, age=age)
        return Listing(query, title, facets, args, True), form, scope
    query = service.visible_items(current_user)
    if scope.centre_id is not None:
        query = query.where(RectificationItem.centre_id == scope.centre_id)
    state = form.state.data or "active"
    if state == "active":
        query = query.where(RectificationItem.status.in_([s.value for s in ACTIVE_STATUSES]))
    elif state == "overdue":
        query = query.where(RectificationItem.status.in_([s.value for s in ACTIVE_STATUSES]),
                            RectificationItem.due_at <= now)
    elif state in {s.value for s in ItemStatus}:
        query = query.where(RectificationItem.status == state)
    if form.source.data in {s.value for s in Source}:
        query = query.where(RectificationItem.source == form.source.data)
    if form.q.data:
        term = f"%{form.q.data.strip()}%"
        query = query.where(or_(RectificationItem.reference.ilike(term), RectificationItem.title.ilike(term)))
    query = query.order_by(RectificationItem.due_at, RectificationItem.id)
    args = {k: v for k, v in request.args.items() if k in ("q", "state", "centre", "source") and v}
    return Listing(query, _("Rectification items"), [], args, False), form, scope


def _centre_name(scope: Scope, locale: str) -> str:
    if scope.centre_id is not None:
        return next(c.name_for(locale) for c in scope.centres if c.id == scope.centre_id)
    return _("All centres") if _centre_ids_for(current_user) is None else _("All my centres")


@bp.route("/")
@require_role(*READERS)
def index():
    now = utcnow()
    listing, form, scope = _listing(now)
    total = figures.count(listing.query)
    page = page_arg()
    items = list(db.session.execute(listing.query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars())
    return render_template(
        "rectification/index.html",
        listing=listing,
        items=items,
        form=form,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        now=now,
        may_create=service.may_create(current_user),
        may_dashboard=current_user.has_any_role(*DASHBOARD_READERS),
    )


ITEM_HEADERS = (N_("Reference"), N_("Title"), N_("Centre"), N_("Status"), N_("Priority"), N_("Source"),
                N_("Source reference"), N_("Responsible"), N_("Deadline"), N_("Overdue"), N_("Progress %"),
                N_("Rejections"), N_("Opened"), N_("Verified"), N_("Verified on time"), N_("Cancelled"))


def _item_rows(query, now: datetime) -> Iterator[list]:
    locale = str(get_locale())
    centres = {c.id: c.name_for(locale) for c in catalog.all_centres()}
    statuses = {s: label_text(label) for s, label in STATUS_LABELS.items()}
    sources = {s: _(label) for s, label in SOURCE_LABELS.items()}
    priorities = {p: _(label) for p, label in PRIORITY_LABELS.items()}
    yes, no = _("yes"), _("no")
    rows = query.execution_options(yield_per=500)
    for item in db.session.execute(rows).scalars():
        yield [
            item.reference,
            item.title,
            centres.get(item.centre_id, ""),
            statuses[item.status],
            priorities[item.priority],
            sources[item.source],
            item.source_ref,
            item.responsible.display_name if item.responsible else "",
            item.due_on,
            yes if item.status in ACTIVE_STATUSES and now >= item.due_at else no,
            item.progress_percent,
            item.rejection_count,
            item.created_at,
            item.verified_at,
            (yes if item.verified_at < item.due_at else no) if item.verified_at else "",
            item.cancelled_at,
        ]


@bp.route("/items.<fmt>")
@require_role(*READERS)
def export(fmt):
    if fmt not in FORMATS:
        abort(404)
    now = utcnow()
    listing, _form, scope = _listing(now)
    name = request.args.get("figure") or "items"
    parts = [name, request.args.get("status"), request.args.get("age")]
    filename = "rectification_" + "_".join(p for p in parts if p) + f"_{scope.file_stem}.{fmt}"
    return table_file(filename, listing.title, [_(h) for h in ITEM_HEADERS], _item_rows(listing.query, now))


# ---------------------------------------------------------------- opening an item


def _prefill(form: NewItemForm, now: datetime, centres: list) -> tuple[list, Location | None, Category | None]:
    """Fill a new form from ?ticket=…&centre=…&location=…&category=… (a cluster or a hotspot)."""
    locale = str(get_locale())
    references = request.args.getlist("ticket")
    try:
        tickets = service.tickets_by_reference(references, current_user)
    except TrackerError as error:
        flash(error.translated(), "error")
        tickets = []
    location = db.session.get(Location, int_arg("location")) if int_arg("location") else None
    category = db.session.get(Category, int_arg("category")) if int_arg("category") else None
    allowed = {c.id for c in centres}
    centre_id = int_arg("centre")
    if centre_id is None and category is not None:
        centre_id = category.centre_id
    if centre_id is None and tickets and len({t.centre_id for t in tickets}) == 1:
        centre_id = tickets[0].centre_id
    if centre_id is None and len(centres) == 1:
        centre_id = centres[0].id
    form.centre_id.data = centre_id if centre_id in allowed else None
    form.due_on.data = reports.local_day(now) + timedelta(days=DEFAULT_DAYS)
    if tickets:
        form.tickets.data = "\n".join(t.reference for t in tickets)
        form.source.data = Source.COMPLAINT_CLUSTER.value
        kinds = {t.category_id for t in tickets}
        about = tickets[0].category.name_for(locale) if len(kinds) == 1 else None
        if location is not None and category is not None:
            form.title.data = _("Repeated faults: %(category)s at %(place)s", category=category.name_for(locale),
                                place=location.name_for(locale))
        elif about:
            form.title.data = _("Complaints about %(category)s", category=about)
        lines = [_(service.CLUSTER_HEADER)] + [f"{t.reference} {t.title}" for t in tickets]
        form.description.data = "\n".join(lines)
    if location is not None:
        form.location_id.data = str(location.id)
    if category is not None:
        form.category_id.data = str(category.id)
    return tickets, location, category


def _new_form_choices(form: NewItemForm, centres: list) -> None:
    locale = str(get_locale())
    form.centre_id.choices = options([(None, _("Choose…"))] + [(c.id, c.name_for(locale)) for c in centres])
    groups = [(c.name_for(locale), [(u.id, u.display_name) for u in service.responsible_candidates(c.id)])
              for c in centres]
    form.responsible_id.choices = options([(None, _("Choose…"))]) + grouped(groups)


@bp.route("/new", methods=["GET", "POST"])
@require_role(*CREATORS)
def new():
    now = utcnow()
    centres = service.creatable_centres(current_user)
    if not centres:
        abort(403)
    form = NewItemForm()
    _new_form_choices(form, centres)
    location = category = None
    if request.method == "GET":
        _tickets, location, category = _prefill(form, now, centres)
    else:
        location = db.session.get(Location, int(form.location_id.data)) if (form.location_id.data or "").isdigit() \
            else None
        category = db.session.get(Category, int(form.category_id.data)) if (form.category_id.data or "").isdigit() \
            else None
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "rectification_item")) is not None:
            return earlier
        try:
            item = service.create_item(
                service.NewItem(
                    centre_id=form.centre_id.data,
                    title=form.title.data,
                    description=form.description.data,
                    responsible_id=form.responsible_id.data,
                    due_on=form.due_on.data,
                    source=form.source.data,
                    source_ref=form.source_ref.data or "",
                    priority=form.priority.data,
                    ticket_references=[form.tickets.data or ""],
                    location_id=location.id if location else None,
                    category_id=category.id if category else None,
                ),
                actor=current_user,
                now=now,
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Rectification item %(reference)s is opened.", reference=item.reference), "success")
            return redirect(url_for("rectification.detail", reference=item.reference))
    elif request.method == "POST":
        flash(_("Please correct the marked fields; nothing was saved."), "error")
    return render_template("rectification/new.html", form=form, location=location, category=category)


# ---------------------------------------------------------------- an item


@bp.route("/<reference>")
@require_role(*READERS)
def detail(reference):
    item = service.get_visible(reference, current_user)
    now = utcnow()
    events = service.events_of(item)
    actions = service.available_actions(current_user, item)
    form = ItemActionForm(version=item.version)
    if Action.REASSIGN in actions:
        form.responsible_id.choices = options(
            [(None, _("Choose…"))] + [(u.id, u.display_name) for u in service.responsible_candidates(item.centre_id)
                                      if u.id != item.responsible_id])
    users = {e.actor_id for e in events} | {e.data.get(k) for e in events for k in ("from", "to", "responsible_id")
                                            if e.kind.value in ("reassigned", "created")}
    linked = service.linked_tickets(item)
    visible = [t for t in linked if ticket_service.can_view(current_user, t)]
    still_open = service.open_linked_tickets(item) if Action.VERIFY in actions else []
    return render_template(
        "rectification/detail.html",
        item=item,
        description=service.description_for(item, str(get_locale())),
        events=events,
        actions=actions,
        form=form,
        Action=Action,
        names=ticket_service.user_names(u for u in users if isinstance(u, int)),
        tickets=visible,
        hidden_tickets=len(linked) - len(visible),
        still_open=still_open,
        still_open_visible=[t for t in still_open if ticket_service.can_view(current_user, t)],
        evidence=service.evidence_of(item),
        may_attach=service.may_attach(current_user, item),
        is_overdue=item.status in ACTIVE_STATUSES and now >= item.due_at,
        is_at_risk=item.status in (ItemStatus.OPEN, ItemStatus.IN_PROGRESS) and item.at_risk_at <= now < item.due_at,
        now=now,
    )


@bp.route("/<reference>/<action>", methods=["POST"])
@require_role(*READERS)
def act(reference, action):
    item = service.get_visible(reference, current_user)
    try:
        chosen = Action(action)
    except ValueError:
        abort(404)
    if chosen is Action.ATTACH:
        abort(404)
    form = ItemActionForm()
    form.responsible_id.choices = options(
        [(None, "")] + [(u.id, u.display_name) for u in service.responsible_candidates(item.centre_id)])
    back = url_for("rectification.detail", reference=item.reference)
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(back)
    try:
        changed = service.transition(
            item.id,
            chosen,
            actor=current_user,
            now=utcnow(),
            change=service.Change(
                text=form.text.data or "",
                percent=form.percent.data,
                responsible_id=form.responsible_id.data,
                due_on=form.due_on.data,
                references=[form.references.data or ""],
                verify_anyway=bool(form.verify_anyway.data),
            ),
            expected_version=form.version.data,
        )
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(done_message(chosen, changed), "success")
    return redirect(safe_next(form.next.data) or back)


# What an action did to an item, said to whoever did it (the flash after the form).
DONE_MESSAGES = {
    Action.START: N_("Work started."),
    Action.SUBMIT: N_("Submitted for verification."),
    Action.VERIFY: N_("Verified: the item is closed."),
    Action.CANCEL: N_("Item cancelled."),
    Action.COMMENT: N_("Comment added."),
    Action.LINK: N_("Requests linked."),
}


def done_message(action: Action, item: RectificationItem) -> str:
    """Say what ``action`` did to ``item``, in the reader's language: "Deadline moved to Nov 30, 2026."."""
    responsible = item.responsible.display_name if item.responsible else "?"
    if action is Action.UPDATE:
        if item.progress_percent is None:
            return _("Progress reported.")
        return _("Progress reported: %(percent)d %%.", percent=item.progress_percent)
    if action is Action.REJECT:
        return _("Rejected: the item goes back to %(name)s.", name=responsible)
    if action is Action.REASSIGN:
        return _("%(name)s is now responsible.", name=responsible)
    if action is Action.RESCHEDULE:
        return _("Deadline moved to %(day)s.", day=when(item.due_on))
    return _(DONE_MESSAGES[action])


@bp.route("/<reference>/evidence", methods=["POST"])
@require_role(*READERS)
def evidence(reference):
    from tracker.web.attachments import handle_upload

    item = service.get_visible(reference, current_user)
    back = url_for("rectification.detail", reference=item.reference) + "#attachments"
    return handle_upload(service.OWNER_TYPE, item.id, back)


# ---------------------------------------------------------------- the backlog dashboard


@dataclass
class Cell:
    text: str
    href: str | None


@dataclass
class Row:
    label: str
    keys: list
    values: list
    cells: list[Cell]
    is_total: bool = False


@dataclass
class Table:
    name: str
    title: str
    key_headers: list[str]
    headers: list[str]
    rows: list[Row]

    def export_rows(self):
        for row in self.rows:
            yield [*row.keys, *row.values]


@dataclass(frozen=True)
class Column:
    label: str  # msgid
    value: object  # row figures -> number
    figure: str | None = None
    status: str | None = None
    age: str | None = None
    percent: bool = False


def _text(value, percent: bool) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} %" if percent else str(value)


def _build(name: str, title: str, key_header: str | tuple[str, ...], columns: list[Column], rows: list[tuple],
           scope: Scope, *, total: tuple | None = None) -> Table:
    """Build a table from (label, file keys, list arguments, figures) rows; every figure links to its list."""

    def build(label, keys, params, data, is_total=False) -> Row:
        values, cells = [], []
        for column in columns:
            value = column.value(data)
            if value is not None and column.percent:
                value = round(value, 1)
            href = None
            if column.figure is not None and value is not None:
                href = url_for("rectification.index", **scope.args(figure=column.figure, status=column.status,
                                                                     age=column.age, **params))
            values.append(value)
            cells.append(Cell(_text(value, column.percent), href))
        return Row(label, keys, values, cells, is_total)

    built = [build(*row) for row in rows]
    if total is not None:
        built.append(build(*total, is_total=True))
    # One header per file key: a month is written as its first and last day.
    key_headers = [_(h) for h in ((key_header,) if isinstance(key_header, str) else key_header)]
    return Table(name=name, title=_(title), key_headers=key_headers, headers=[label_text(c.label) for c in columns],
                 rows=built)


BACKLOG_COLUMNS = [
    Column(STATUS_LABELS[ItemStatus.OPEN], lambda f: f.by_status["open"], "active", status="open"),
    Column(N_("In progress"), lambda f: f.by_status["in_progress"], "active", status="in_progress"),
    Column(N_("Awaiting verification"), lambda f: f.by_status["awaiting_verification"], "active",
           status="awaiting_verification"),
    Column(N_("On the backlog"), lambda f: f.active, "active"),
    Column(N_("Overdue"), lambda f: f.overdue, "overdue"),
    Column(N_("At risk"), lambda f: f.at_risk, "at_risk"),
    Column(N_("Opened"), lambda f: f.opened, "opened"),
    Column(N_("Verified"), lambda f: f.verified, "verified"),
    Column(N_("Verified on time"), lambda f: f.on_time, "on_time"),
    Column(N_("On-time rate"), lambda f: f.on_time_percent, "verified", percent=True),
]
AGEING_COLUMNS = [
    *(Column(label, lambda f, name=name: f.ageing[name], "aged", age=name)
      for name, _low, _high, label in figures.AGE_BUCKETS),
    Column(N_("On the backlog"), lambda f: f.active, "active"),
]
BURNDOWN_COLUMNS = [
    Column(N_("Opened"), lambda p: p.opened, "opened"),
    Column(N_("Verified"), lambda p: p.verified, "verified"),
    Column(N_("Open at month end"), lambda p: p.open_at_end, "open_at"),
]


def _centre_tables(scope: Scope, now: datetime) -> tuple[Table, Table]:
    locale = str(get_locale())
    shown = [c for c in scope.centres if scope.figures.centre_ids is None or c.id in scope.figures.centre_ids]
    rows_by_centre, total = figures.figures_by_centre(scope.figures, now,
                                                      keys=[c.id for c in shown if c.is_active])
    by_key = {f.key: f for f in rows_by_centre}
    names = {c.id: c.name_for(locale) for c in shown}
    ordered = [k for k in names if k in by_key] + sorted(k for k in by_key if k not in names)
    rows = [(names.get(k, f"#{k}"), [names.get(k, f"#{k}")], {"centre": k}, by_key[k]) for k in ordered]
    every = _("All centres") if scope.centre_id is None else names.get(scope.centre_id, "")
    total_row = (_("Total"), [every], {}, total)
    return (
        _build("backlog", N_("Backlog by centre"), N_("Centre"), BACKLOG_COLUMNS, rows, scope, total=total_row),
        _build("ageing", N_("Backlog ageing by centre"), N_("Centre"), AGEING_COLUMNS, rows, scope, total=total_row),
    )


def _burndown_table(scope: Scope, now: datetime) -> tuple[Table, list]:
    points = figures.burndown(scope.figures, now)
    rows = [
        (_date_range(p.first, p.last), [p.first, p.last], {"from": p.first.isoformat(), "to": p.last.isoformat()}, p)
        for p in points
    ]
    return _build("burndown", N_("Burn-down by month"), (N_("Month"), N_("Last day")), BURNDOWN_COLUMNS, rows,
                  scope), points


def _export_table(scope: Scope, now: datetime, name: str) -> Table:
    if name in ("backlog", "ageing"):
        backlog, ageing = _centre_tables(scope, now)
        return backlog if name == "backlog" else ageing
    if name == "burndown":
        return _burndown_table(scope, now)[0]
    abort(404)


def _burndown_chart(table: Table, points: list) -> Markup:
    locale = get_locale()
    labels = [format_skeleton("yMMM", p.start, locale=locale) for p in points]

    def series(index: int):
        return [r.values[index] for r in table.rows], [r.cells[index].href for r in table.rows]

    opened, opened_hrefs = series(0)
    verified, verified_hrefs = series(1)
    open_counts, open_hrefs = series(2)
    return charts.bars_and_count_line(
        chart_id="chart-burndown",
        title=table.title,
        desc=_("Items opened and verified per month (bars) and the items still open at the end of each month "
               "(line). The numbers are in the table below."),
        categories=labels,
        bars=[charts.Series(_("Opened"), "chart-a", opened, opened_hrefs),
              charts.Series(_("Verified"), "chart-b", verified, verified_hrefs)],
        line=charts.Series(_("Open at month end"), "chart-line-a", open_counts, open_hrefs),
        count_label=_("Items"),
    )


def _on_time_chart(table: Table) -> Markup:
    index = next(i for i, c in enumerate(BACKLOG_COLUMNS) if c.label == "On-time rate")
    rows = [(r.label, [r.values[index]]) for r in table.rows if not r.is_total]
    return charts.percent_bars(
        chart_id="chart-on-time",
        title=_("On-time completion per centre"),
        desc=_("Of the items verified in the period, the share verified on or before their deadline, in percent. "
               "The numbers are in the table below."),
        rows=rows,
        series=[(_("On-time rate"), "chart-a")],
        axis_label=_("Verified on time, %"),
        no_value=_("nothing verified"),
    )


@bp.route("/dashboard")
@require_role(*DASHBOARD_READERS)
def dashboard():
    now = utcnow()
    scope = _scope(now, strict=False)
    backlog, ageing = _centre_tables(scope, now)
    burndown, points = _burndown_table(scope, now)
    totals = backlog.rows[-1]
    return render_template(
        "rectification/dashboard.html",
        scope=scope,
        backlog=backlog,
        ageing=ageing,
        burndown=burndown,
        burndown_chart=_burndown_chart(burndown, points),
        on_time_chart=_on_time_chart(backlog),
        tiles=[(backlog.headers[i], totals.cells[i]) for i in (3, 4, 5, 7, 9)],
        due_soon_href=url_for("rectification.index", **scope.args(figure="due_soon")),
        due_soon=figures.count(figures.drilldown("due_soon", scope.figures, now)),
        hotspots=_hotspot_rows(scope.figures.centre_ids, now),
        period=_date_range(scope.figures.first, scope.figures.last),
    )


@bp.route("/dashboard/export/<table>.<fmt>")
@require_role(*DASHBOARD_READERS)
def dashboard_export(table, fmt):
    if fmt not in FORMATS:
        abort(404)
    now = utcnow()
    scope = _scope(now, strict=True)
    chosen = _export_table(scope, now, table)
    return table_file(f"rectification_{chosen.name}_{scope.file_stem}.{fmt}", chosen.title,
                 [*chosen.key_headers, *chosen.headers], chosen.export_rows())


# ---------------------------------------------------------------- pieces other pages show


@dataclass
class HotspotRow:
    hotspot: figures.Hotspot
    place: str
    category: str
    tickets_href: str
    propose_href: str | None  # None: the reader may not open an item for its centre
    item_href: str | None  # an active item about it already


def _hotspot_rows(centre_ids, now: datetime) -> list[HotspotRow]:
    locale = str(get_locale())
    rows = []
    for spot in figures.hotspots(now, centre_ids=centre_ids):
        propose = None
        if spot.open_item is None and service.may_create(current_user, spot.centre_id):
            propose = url_for("rectification.new", centre=spot.centre_id, location=spot.location.id,
                              category=spot.category.id, ticket=spot.references)
        rows.append(HotspotRow(
            hotspot=spot,
            place=spot.location.path(locale),
            category=spot.category.name_for(locale),
            tickets_href=url_for("rectification.hotspot", location=spot.location.id, category=spot.category.id),
            propose_href=propose,
            item_href=url_for("rectification.detail", reference=spot.open_item) if spot.open_item else None,
        ))
    return rows


@bp.route("/hotspot")
@require_role(*DASHBOARD_READERS)
def hotspot():
    """List the requests behind one repeat fault (a place and a category within the window)."""
    from tracker.services.sla import clocks as sla

    now = utcnow()
    location = db.session.get(Location, int_arg("location") or 0)
    category = db.session.get(Category, int_arg("category") or 0)
    if location is None or category is None:
        abort(404)
    allowed = _centre_ids_for(current_user)
    if allowed is not None and category.centre_id not in allowed:
        abort(404)
    query = figures.hotspot_tickets(location.id, category.id, now)
    total = figures.count(query)
    tickets = list(db.session.execute(query.limit(PAGE_SIZE)).scalars())
    references = [t.reference for t in tickets]
    propose = None
    if total and service.may_create(current_user, category.centre_id):
        propose = url_for("rectification.new", centre=category.centre_id, location=location.id,
                          category=category.id, ticket=references)
    locale = str(get_locale())
    return render_template(
        "rectification/hotspot.html",
        place=location.path(locale),
        category=category.name_for(locale),
        tickets=tickets,
        total=total,
        summaries=sla.summaries([t.id for t in tickets], now),
        propose_href=propose,
        window_days=figures.window_days(),
        minimum=figures.minimum_tickets(),
        is_hotspot=total >= figures.minimum_tickets(),
    )


@bp.app_template_global()
def rectification_hotspots(centre=None) -> list[HotspotRow]:
    """Return the repeat faults a dashboard shows: of ``centre``, else of every centre the reader manages."""
    if not current_user.is_authenticated:
        return []
    if centre is not None:
        centre_ids = (centre.id,)
    elif current_user.has_any_role(*READ_ALL):
        centre_ids = None
    else:
        centre_ids = tuple(sorted(current_user.centre_ids(*CENTRE_MANAGERS)))
    return _hotspot_rows(centre_ids, utcnow())


@bp.app_template_global()
def rectification_items_for(ticket) -> list[RectificationItem]:
    """Return the items linked to a request that the reader may see (the request's page)."""
    if not current_user.is_authenticated:
        return []
    return service.items_for_ticket(ticket, current_user)


@bp.app_template_global()
def may_open_rectification() -> bool:
    """Return whether the reader may open rectification items (lists offer to open one from a selection)."""
    return current_user.is_authenticated and service.may_create(current_user)


@bp.app_template_filter("item_status_label")
def item_status_label(value) -> str:
    return label_text(STATUS_LABELS[ItemStatus(value)]) if value else ""


@bp.app_template_filter("item_source_label")
def item_source_label(value) -> str:
    return _(SOURCE_LABELS[Source(value)]) if value else ""


@bp.app_template_filter("item_action_label")
def item_action_label(value) -> str:
    return _(ACTION_LABELS[Action(value)]) if value else ""


@bp.app_template_filter("local_date")
def local_date(value, fmt: str = "medium") -> str:
    """Format a date (or its ISO text) in the reader's language."""
    from flask_babel import format_date

    if not value:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, fmt)
