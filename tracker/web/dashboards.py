"""Dashboards: the campus view for leadership, a centre's view, the lists behind figures, exports.

Every number comes from ``tracker.services.insight.reports``. A table is described
once (``Column``) and built once per request (``_table``); the page and its
CSV and xlsx files are written from that same object, so the files carry
exactly the figures on the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from babel.dates import format_skeleton
from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import format_time, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, READ_ALL, STAFF, Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import PRIORITY_LABELS, STATUS_LABELS, Priority
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.forms import options
from tracker.forms.dashboards import DashboardFilterForm
from tracker.i18n import decimal
from tracker.models import Category, Centre, Ticket
from tracker.services.insight import now_counts, reports
from tracker.services.insight.overview import actions as overview_actions
from tracker.services.insight.scorecards import honesty
from tracker.services.insight.scorecards import rules as follow_up_rules
from tracker.services.ledger import follow_ups
from tracker.services.requests import catalog
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import clocks as sla
from tracker.services.sla import holidays
from tracker.services.sla.standards import promises
from tracker.web import charts, overview
from tracker.web.downloads import table_file
from tracker.web.routing import int_arg, page_arg

bp = Blueprint("dashboards", __name__, url_prefix="/dashboard")

VIEWERS = (*READ_ALL, *CENTRE_MANAGERS)
# Longer periods make weekly trends unreadable and the summary scan long.
MAX_DAYS = 3 * 366
WEEKLY_MAX_DAYS = 366
PAGE_SIZE = 50
FORMATS = ("csv", "xlsx")


# ---------------------------------------------------------------- scope: who, which centre, which period


@dataclass
class Scope:
    """The parsed filters of a dashboard request, and what the user may see."""

    filters: reports.Filters
    form: DashboardFilterForm
    preset: str | None
    centre: Centre | None
    category: Category | None
    centres: list[Centre]  # the centres the user may choose
    known: list[Centre]  # the centres the user may read, past ones too, in display order
    notes: list[str] = field(default_factory=list)  # why a filter was left out, or the period

    def args(self, **extra) -> dict:
        """Return the query arguments that reproduce these filters (dates spelled out)."""
        args = {"from": self.filters.first.isoformat(), "to": self.filters.last.isoformat()}
        if self.centre is not None:
            args["centre"] = self.centre.id
        if self.category is not None:
            args["category"] = self.category.id
        if self.filters.priority:
            args["priority"] = self.filters.priority
        args.update({k: v for k, v in extra.items() if v is not None})
        return args

    @property
    def file_stem(self) -> str:
        parts = [self.centre.code if self.centre else "campus"]
        if self.category is not None:
            parts.append(self.category.code)
        if self.filters.priority:
            parts.append(self.filters.priority)
        parts += [self.filters.first.isoformat(), self.filters.last.isoformat()]
        return "_".join(parts)


def _allowed_centres() -> list[Centre] | None:
    """Return the centres the user manages, or None when they may read every centre."""
    if current_user.has_any_role(*READ_ALL):
        return None
    mine = current_user.centre_ids(*CENTRE_MANAGERS)
    return [c for c in catalog.all_centres() if c.id in mine]


def _scope(
    now: datetime, *, strict: bool, default_centre: Centre | None = None, campus: bool = True
) -> Scope:
    """Parse the filters of the request.

    Centres the user may not read answer 404, like absent ones. ``strict``
    (lists and exports) refuses any other bad filter with a message; the
    dashboards show the message and fall back to the default instead.
    ``campus``: "all centres" is a choice (not on a centre's dashboard).
    """
    allowed = _allowed_centres()
    centres = catalog.all_centres() if allowed is None else allowed
    by_id = {c.id: c for c in centres}
    centre_id = int_arg("centre")
    centre = default_centre
    if centre_id is not None:
        centre = by_id.get(centre_id)
        if centre is None:
            abort(404)
    elif centre is None and allowed is not None:
        # A manager's lists and files are always of one of their centres.
        if len(allowed) != 1:
            raise ValidationFailed(N_("Choose a centre."))
        centre = allowed[0]

    locale = str(get_locale())
    form = DashboardFilterForm(request.args)
    choosable = [c for c in centres if c.is_active or c is centre]
    form.centre.choices = options(
        ([("", _("All centres"))] if allowed is None and campus else [])
        + [(c.id, c.name_for(locale)) for c in choosable]
    )
    categories = catalog.all_categories(centre.id) if centre is not None else []
    form.category.choices = options(
        [("", _("All categories"))] + [(c.id, c.name_for(locale)) for c in categories]
    )
    notes: list[str] = []
    category = None
    category_id = int_arg("category")
    if category_id is not None:
        category = next((c for c in categories if c.id == category_id), None)
        if category is None:
            if strict:
                abort(404)
            # The centre was changed and the category of the last one stayed in the form.
            notes.append(_("The category was left out: it is not one of the chosen centre's."))
    priority = request.args.get("priority") or None
    if priority is not None and priority not in {p.value for p in Priority}:
        if strict:
            raise ValidationFailed(N_("Unknown priority."))
        notes.append(_("The priority was left out: it is not one the desk knows."))
        priority = None
    # Only the dates are parsed by the form; the rest was checked above.
    form.first.errors, form.last.errors = list(form.first.process_errors), list(form.last.process_errors)
    first, last, preset, problem = _period(form, now, strict=strict)
    if problem is not None:
        notes.append(f"{_(problem)} {_('Showing the last 30 days instead.')}")
    form.first.data, form.last.data = first, last
    form.centre.data = centre.id if centre is not None else None
    form.category.data = category.id if category is not None else None
    form.priority.data = priority or ""
    return Scope(
        filters=reports.Filters(
            first=first,
            last=last,
            centre_id=centre.id if centre is not None else None,
            category_id=category.id if category is not None else None,
            priority=priority,
        ),
        form=form,
        preset=preset,
        centre=centre,
        category=category,
        centres=choosable,
        known=centres,
        notes=notes,
    )


def _period(
    form: DashboardFilterForm, now: datetime, *, strict: bool
) -> tuple[date, date, str | None, str | None]:
    """Return (first, last, preset, problem) from ?from=&to= or ?period=, else the default preset."""
    today = reports.local_day(now)
    given_dates = "from" in request.args or "to" in request.args
    problem = None
    if form.first.errors or form.last.errors:
        problem = N_("Write the dates as YYYY-MM-DD.")
    elif given_dates and (form.first.data is None or form.last.data is None):
        problem = N_("Give both the first and the last day of the period.")
    elif given_dates and form.first.data > form.last.data:
        problem = N_("The last day is before the first day.")
    elif given_dates and (form.last.data - form.first.data).days >= MAX_DAYS:
        problem = N_("Choose a period of at most three years.")
    if (
        problem is None
        and not given_dates
        and request.args.get("period", reports.DEFAULT_PRESET) not in dict(reports.PERIOD_PRESETS)
    ):
        problem = N_("Unknown period.")
    if problem is not None:
        if strict:
            raise ValidationFailed(problem)
        first, last = reports.preset_period(reports.DEFAULT_PRESET, today)
        return first, last, reports.DEFAULT_PRESET, problem
    if given_dates:
        matching = [
            name
            for name, _label in reports.PERIOD_PRESETS
            if reports.preset_period(name, today) == (form.first.data, form.last.data)
        ]
        return form.first.data, form.last.data, matching[0] if matching else None, None
    preset = request.args.get("period") or reports.DEFAULT_PRESET
    first, last = reports.preset_period(preset, today)
    return first, last, preset, None


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One column of a figure table: how to read it from a row, and the list behind it."""

    label: str  # msgid
    value: Callable
    kind: str = "count"  # count | percent | mean | points (a difference of percentages) | text
    figure: str | None = None  # the drill-down figure (with ``target`` / ``age``)
    target: str | None = None
    age: str | None = None
    screen: bool = True  # False: in the files only
    note: Column | None = None  # a smaller figure under this one on the page


@dataclass
class Cell:
    text: str
    href: str | None
    note_text: str | None = None
    note_href: str | None = None


@dataclass
class Row:
    label: str
    keys: list  # what identifies the row in the files (a name, or dates)
    values: list  # one per column, for the files and the charts
    hrefs: list  # one per column: the list behind the figure
    cells: list[Cell]  # the page's columns
    is_total: bool = False


@dataclass
class Table:
    name: str  # in export URLs and file names
    title: str
    key_headers: list[str]
    columns: list[Column]
    rows: list[Row]

    @property
    def headers(self) -> list[str]:
        return [_(c.label) for c in self.columns if c.screen]

    @property
    def all_headers(self) -> list[str]:
        return [_(c.label) for c in self.columns]

    def index(self, label: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.label == label)

    def series(self, label: str) -> tuple[list, list]:
        """Return one column's values and links over the rows (totals left out)."""
        index = self.index(label)
        rows = [r for r in self.rows if not r.is_total]
        return [r.values[index] for r in rows], [r.hrefs[index] for r in rows]

    def export_rows(self) -> Iterator[list]:
        for row in self.rows:
            yield [*row.keys, *row.values]


def _value(column: Column, row) -> int | float | None:
    value = column.value(row)
    if value is None:
        return None
    if column.kind == "text":
        return value
    # The page shows one decimal: the files carry the same rounded figure.
    return round(value, 1) if column.kind != "count" else int(value)


def figure_text(value, kind: str) -> str:
    """Return a figure as the page shows it."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value:.1f} %"
    if kind == "mean":
        return f"{value:.1f}"
    if kind == "points":
        return _("%(value)s pts", value=decimal(value, "+#,##0.0;−#,##0.0"))
    return str(value)


def _percent(target: str):
    return lambda f: f.met_percent(target)


def _ages():
    return [
        Column(label, lambda f, name=name: f.ageing[name], figure="backlog", age=name)
        for name, _low, _high, label in reports.AGE_BUCKETS
    ]


DISPATCH_PERCENT = N_("Dispatch met %")
RESPONSE_PERCENT = N_("Response met %")
RESOLUTION_PERCENT = N_("Resolution met %")
RECEIVED = N_("Received")
RESOLVED = N_("Resolved")
BREACHED_NOTE = N_("breached: %(num)s")

SUMMARY_COLUMNS = [
    Column(RECEIVED, lambda f: f.received, figure="received"),
    Column(RESOLVED, lambda f: f.resolved, figure="resolved"),
    Column(N_("Open backlog"), lambda f: f.backlog, figure="backlog"),
    Column(N_("Dispatch met"), lambda f: f.met["dispatch"], figure="met", target="dispatch", screen=False),
    Column(
        N_("Dispatch breached"),
        lambda f: f.breached["dispatch"],
        figure="breached",
        target="dispatch",
        screen=False,
    ),
    Column(
        DISPATCH_PERCENT,
        _percent("dispatch"),
        kind="percent",
        figure="measured",
        target="dispatch",
        note=Column(BREACHED_NOTE, lambda f: f.breached["dispatch"], figure="breached", target="dispatch"),
    ),
    Column(N_("Response met"), lambda f: f.met["response"], figure="met", target="response", screen=False),
    Column(
        N_("Response breached"),
        lambda f: f.breached["response"],
        figure="breached",
        target="response",
        screen=False,
    ),
    Column(
        RESPONSE_PERCENT,
        _percent("response"),
        kind="percent",
        figure="measured",
        target="response",
        note=Column(BREACHED_NOTE, lambda f: f.breached["response"], figure="breached", target="response"),
    ),
    Column(
        N_("Resolution met"), lambda f: f.met["resolution"], figure="met", target="resolution", screen=False
    ),
    Column(
        N_("Resolution breached"),
        lambda f: f.breached["resolution"],
        figure="breached",
        target="resolution",
        screen=False,
    ),
    Column(
        RESOLUTION_PERCENT,
        _percent("resolution"),
        kind="percent",
        figure="measured",
        target="resolution",
        note=Column(
            BREACHED_NOTE, lambda f: f.breached["resolution"], figure="breached", target="resolution"
        ),
    ),
    Column(N_("Breached now"), lambda f: f.breached_now, figure="breached_now"),
    Column(N_("At risk now"), lambda f: f.at_risk_now, figure="at_risk_now"),
    Column(N_("Awaiting confirmation"), lambda f: f.awaiting_confirmation, figure="awaiting", screen=False),
    Column(N_("Satisfaction (1–5)"), lambda f: f.satisfaction, kind="mean", figure="rated"),
]
AGEING_COLUMNS = [*_ages(), Column(N_("Open backlog"), lambda f: f.backlog, figure="backlog")]
TREND_COLUMNS = [
    Column(RECEIVED, lambda p: p.received, figure="received"),
    Column(RESOLVED, lambda p: p.resolved, figure="resolved"),
    Column(N_("Response met"), lambda p: p.response_met, figure="met", target="response", screen=False),
    Column(
        N_("Response breached"),
        lambda p: p.response_breached,
        figure="breached",
        target="response",
        screen=False,
    ),
    Column(
        RESPONSE_PERCENT,
        lambda p: p.percent("response"),
        kind="percent",
        figure="measured",
        target="response",
    ),
    Column(N_("Resolution met"), lambda p: p.resolution_met, figure="met", target="resolution", screen=False),
    Column(
        N_("Resolution breached"),
        lambda p: p.resolution_breached,
        figure="breached",
        target="resolution",
        screen=False,
    ),
    Column(
        RESOLUTION_PERCENT,
        lambda p: p.percent("resolution"),
        kind="percent",
        figure="measured",
        target="resolution",
    ),
]
TECHNICIAN_COLUMNS = [
    Column(N_("Open"), lambda a: a.open, figure="backlog"),
    Column(N_("On hold"), lambda a: a.on_hold, figure="on_hold"),
    Column(N_("Breached now"), lambda a: a.breached_now, figure="breached_now"),
    Column(RESOLVED, lambda a: a.resolved, figure="resolved"),
    Column(N_("Resolved on time"), lambda a: a.on_time, figure="on_time", screen=False),
    Column(N_("Resolved late"), lambda a: a.late, figure="late", screen=False),
    Column(
        N_("On-time rate"),
        lambda a: a.on_time_percent,
        kind="percent",
        figure="on_time",
        note=Column(N_("late: %(num)s"), lambda a: a.late, figure="late"),
    ),
]


def _kept_text(comparison) -> str | None:
    kept = comparison.is_kept
    return None if kept is None else (_("kept") if kept else _("not kept"))


def _benchmarks_text(comparison) -> str | None:
    texts = [f"{b.source_name} ({b.read_year}): {promises.benchmark_text(b)}" for b in comparison.benchmarks]
    return "; ".join(texts) or None


def _benchmark_gaps_text(comparison) -> str | None:
    texts = []
    for view in comparison.benchmarks:
        if view.gap is not None:
            texts.append(figure_text(round(view.gap, 1), "points"))
        elif view.share is None:
            texts.append(promises.limits_text(comparison, view) or "—")
        else:
            texts.append("—")
    return "; ".join(texts) or None


STANDARD_COLUMNS = [
    Column(N_("Met"), lambda c: c.met, screen=False),
    Column(N_("Breached"), lambda c: c.breached, screen=False),
    Column(N_("Met %"), lambda c: c.met_percent, kind="percent"),
    Column(N_("Promised %"), lambda c: c.promised_percent, kind="percent"),
    Column(N_("Gap to the promise"), lambda c: c.gap, kind="points"),
    Column(N_("Promise"), _kept_text, kind="text"),
    Column(N_("Met %, period before"), lambda c: c.previous_percent, kind="percent"),
    Column(N_("Trend"), lambda c: c.trend, kind="points"),
    Column(N_("Own standard"), lambda c: promises.standard_text(c), kind="text"),
    Column(N_("Benchmark"), _benchmarks_text, kind="text"),
    Column(N_("Gap to the benchmark"), _benchmark_gaps_text, kind="text"),
]


def _comparisons(scope: Scope, now: datetime) -> list:
    """Return the scope's met % per centre and target beside each centre's standard."""
    shown = [scope.centre] if scope.centre is not None else scope.known
    return promises.compare(
        scope.filters, [c.id for c in shown], promises.standard_instant(scope.filters, now)
    )


def _standards_table(scope: Scope, now: datetime, comparisons: list | None = None) -> Table:
    """Return met % per centre and target beside the centre's standard and its benchmarks."""
    locale = str(get_locale())
    shown = [scope.centre] if scope.centre is not None else scope.known
    names = {row.id: row.name_for(locale) for row in shown}
    if comparisons is None:
        comparisons = _comparisons(scope, now)
    rows = []
    for comparison in comparisons:
        centre = names.get(comparison.centre_id, f"#{comparison.centre_id}")
        target = _(TARGET_LABELS[Target(comparison.target)])
        rows.append((f"{centre} · {target}", [centre, target], {}, comparison))
    return _table(
        "standards",
        N_("Against the standard"),
        [N_("Centre"), N_("Target")],
        STANDARD_COLUMNS,
        scope,
        rows,
        None,
    )


def _table(
    name: str,
    title: str,
    key_headers: list[str],
    columns: list[Column],
    scope: Scope,
    rows: list[tuple[str, list, dict, object]],
    total: tuple[str, list, dict, object] | None,
) -> Table:
    """Build a table from (label, file keys, drill-down arguments, figures) rows."""

    def href(column: Column, params: dict) -> str | None:
        if column.figure is None:
            return None
        return url_for(
            "dashboards.tickets",
            **scope.args(figure=column.figure, target=column.target, age=column.age, **params),
        )

    def build(label, keys, params, figures, is_total=False) -> Row:
        values = [_value(c, figures) for c in columns]
        hrefs = [href(c, params) if v is not None else None for c, v in zip(columns, values, strict=True)]
        cells = []
        for column, value, link in zip(columns, values, hrefs, strict=True):
            if not column.screen:
                continue
            cell = Cell(figure_text(value, column.kind), link)
            note = _value(column.note, figures) if column.note is not None else None
            if note:
                cell.note_text = _(column.note.label, num=note)
                cell.note_href = href(column.note, params)
            cells.append(cell)
        return Row(label, keys, values, hrefs, cells, is_total)

    built = [build(*row) for row in rows]
    if total is not None:
        built.append(build(*total, is_total=True))
    return Table(
        name=name, title=_(title), key_headers=[_(h) for h in key_headers], columns=columns, rows=built
    )


def _named_rows(figures: list, names: dict[int, str], param: str) -> list[tuple[str, list, dict, object]]:
    """Order rows as ``names`` is ordered (display order), then any others by key."""
    by_key = {f.key: f for f in figures}
    ordered = [k for k in names if k in by_key] + sorted(k for k in by_key if k not in names)
    result = []
    for key in ordered:
        label = names.get(key, f"#{key}")
        result.append((label, [label], {param: key}, by_key[key]))
    return result


def _group_tables(scope: Scope, now: datetime, group: str, *, counts: dict | None = None) -> tuple:
    """Return the summary and the ageing table per centre or per category.

    ``counts``: the late and at-risk counts to show (``reports.figures_by``).
    """
    locale = str(get_locale())
    if group == "centre":
        shown = [scope.centre] if scope.centre is not None else scope.known
    elif scope.category is not None:
        shown = [scope.category]
    else:
        shown = catalog.all_categories(scope.centre.id)
    names = {row.id: row.name_for(locale) for row in shown}
    # Every active one gets a row, zeros too; past ones only when they have figures.
    active = [row.id for row in shown if row.is_active or row is scope.centre or row is scope.category]
    figures, total = reports.figures_by(scope.filters, group, now, keys=active, counts=counts)
    rows = _named_rows(figures, names, group)
    every = _("All centres") if group == "centre" else _("All categories")
    total_row = (_("Total"), [every], {}, total)
    header = N_("Centre") if group == "centre" else N_("Category")
    plural = "centres" if group == "centre" else "categories"
    title = N_("Service levels by centre") if group == "centre" else N_("Service levels by category")
    ageing_title = N_("Backlog ageing by centre") if group == "centre" else N_("Backlog ageing by category")
    return (
        _table(plural, title, [header], SUMMARY_COLUMNS, scope, rows, total_row),
        _table(f"ageing-{plural}", ageing_title, [header], AGEING_COLUMNS, scope, rows, total_row),
    )


def _trend_unit(scope: Scope) -> list[str]:
    """Return the trend units the period is drawn in: weeks only up to a year."""
    if (scope.filters.last - scope.filters.first).days < WEEKLY_MAX_DAYS:
        return ["week", "month"]
    return ["month"]


def _trend_table(scope: Scope, unit: str) -> tuple[Table, list]:
    points = reports.trend(scope.filters, unit)
    rows = [
        (
            _date_range(p.first, p.last),
            [p.first, p.last],
            {"from": p.first.isoformat(), "to": p.last.isoformat()},
            p,
        )
        for p in points
    ]
    title = N_("Trend by week") if unit == "week" else N_("Trend by month")
    return _table(f"trend-{unit}", title, [N_("From"), N_("To")], TREND_COLUMNS, scope, rows, None), points


def _technician_table(scope: Scope, now: datetime, *, counts: dict | None = None) -> Table:
    technicians = ticket_service.assignable_technicians(scope.centre.id)
    figures, total = reports.figures_by_assignee(
        scope.filters, now, keys=[u.id for u in technicians], counts=counts
    )
    names = {u.id: u.display_name for u in technicians}
    # Former technicians (or of another centre) who still hold requests of this one.
    names.update(ticket_service.user_names({f.key for f in figures} - set(names)))
    rows = _named_rows(figures, names, "assignee")
    return _table(
        "technicians",
        N_("Technicians"),
        [N_("Technician")],
        TECHNICIAN_COLUMNS,
        scope,
        rows,
        (_("Total"), [_("All technicians")], {"assignee": reports.ANY_ASSIGNEE}, total),
    )


def _skeleton(pattern: str, day: date) -> str:
    return format_skeleton(pattern, day, locale=get_locale())


@bp.app_template_filter("hhmm")
def _hhmm(instant: datetime) -> str:
    """Return an instant's campus-local time of day, "14:02"."""
    return format_time(instant, "HH:mm")


@bp.app_template_filter("date_range")
def _date_range(first: date, last: date) -> str:
    """Return "Mar 2 – Mar 8, 2026" in the reader's language (one date when they are the same day)."""
    if first == last:
        return _skeleton("yMMMd", first)
    return f"{_skeleton('MMMd' if first.year == last.year else 'yMMMd', first)} – {_skeleton('yMMMd', last)}"


# ---------------------------------------------------------------- charts


def _trend_chart(table: Table, points: list, unit: str) -> Markup:
    labels = [_skeleton("Md", p.first) if unit == "week" else _skeleton("yMMM", p.start) for p in points]
    received, received_hrefs = table.series(RECEIVED)
    resolved, resolved_hrefs = table.series(RESOLVED)
    response = table.series(RESPONSE_PERCENT)[0]
    resolution = table.series(RESOLUTION_PERCENT)[0]
    if unit == "week":
        desc = _(
            "Requests received and resolved per week (bars, left axis) and the share of response and "
            "resolution targets met (lines, right axis). The numbers are in the table below."
        )
    else:
        desc = _(
            "Requests received and resolved per month (bars, left axis) and the share of response and "
            "resolution targets met (lines, right axis). The numbers are in the table below."
        )
    return charts.bars_and_lines(
        chart_id=f"chart-{table.name}",
        title=table.title,
        desc=desc,
        categories=labels,
        bars=[
            charts.Series(_(RECEIVED), "chart-a", received, received_hrefs),
            charts.Series(_(RESOLVED), "chart-b", resolved, resolved_hrefs),
        ],
        lines=[
            charts.Series(_(RESPONSE_PERCENT), "chart-line-a", response),
            charts.Series(_(RESOLUTION_PERCENT), "chart-line-b", resolution),
        ],
        count_label=_("Requests"),
        percent_label=_("Met %"),
    )


def _met_chart(table: Table, standards: dict[str, list] | None = None) -> Markup:
    """Return the met % bars of a table's rows; ``standards``: each row's comparisons, by its label."""
    response = table.series(RESPONSE_PERCENT)[0]
    resolution = table.series(RESOLUTION_PERCENT)[0]
    labels = [r.label for r in table.rows if not r.is_total]
    standards = standards or {}
    marks = [overview.standard_marks(standards.get(label, [])) for label in labels]
    return charts.percent_bars(
        chart_id=f"chart-met-{table.name}",
        title=_("Targets met per centre") if table.name == "centres" else _("Targets met per category"),
        desc=_(
            "The share of response and resolution targets met in the period, in percent, with each "
            "standard's promised share (dashed) and its benchmarks (dotted). "
            "The numbers are in the table below."
        ),
        rows=[(label, [a, b]) for label, a, b in zip(labels, response, resolution, strict=True)],
        series=[(_(RESPONSE_PERCENT), "chart-a"), (_(RESOLUTION_PERCENT), "chart-b")],
        axis_label=_("Met %"),
        no_value=_("nothing measured"),
        marks=marks,
        mark_legend=charts.mark_legend(marks, _("Promised share"), _("Benchmark")),
    )


# ---------------------------------------------------------------- the overview (above the fold)


# The characters Werkzeug leaves as they are in a link's query (werkzeug.routing.rules._urlencode).
QUERY_SAFE = "!$'()*,/:;?@"


def _overview_links(scope: Scope) -> dict:
    centre = scope.centre.id if scope.centre is not None else None
    tickets = url_for("dashboards.tickets")

    def drill(**args) -> str:
        # url_for's link (Werkzeug's query encoding, arguments in their order) without building the route
        # again for each of the page's fifty links.
        query = [(k, v) for k, v in scope.args(**args).items() if v is not None]
        return f"{tickets}?{urlencode(query, safe=QUERY_SAFE)}" if query else tickets

    return {
        "drill": drill,
        overview_actions.LATE: url_for("dashboards.tickets", **scope.args(figure="breached_now")),
        overview_actions.OVERDUE_ITEM: url_for("rectification.index", state="overdue", centre=centre),
        overview_actions.LOW_RATING: url_for(
            "follow_ups.index", state="open", kind="low_rating", centre=centre
        ),
        overview_actions.ESCALATION: url_for("escalations.index"),
    }


def _campus_overview(
    scope: Scope, now: datetime, counted: now_counts.NowFigures, comparisons: list
) -> overview.Overview:
    """Return the leadership overview: one grid row per centre (or the chosen one)."""
    locale = str(get_locale())
    shown = [scope.centre] if scope.centre is not None else scope.known
    by_centre: dict[int, list] = {}
    for comparison in comparisons:
        by_centre.setdefault(comparison.centre_id, []).append(comparison)
    keep = {k: v for k, v in scope.args().items() if k in ("from", "to")}
    rows = [
        (
            c.name_for(locale),
            url_for("dashboards.centre", centre=c.id, **keep),
            by_centre.get(c.id, []),
            False,
            {"centre": c.id},
        )
        for c in shown
        if c.is_active or c.id in by_centre
    ]
    return overview.build(
        scope=scope,
        filters=scope.filters,
        now=now,
        counted=counted,
        comparisons=comparisons,
        grid_rows=rows,
        grid_title=_("Met % against each centre's standard"),
        date_range=_date_range,
        links=_overview_links(scope),
    )


def _category_comparisons(scope: Scope, now: datetime) -> list[tuple[Category, list]]:
    """Return each shown category of the scope's centre with its met % against its own standard."""
    at = promises.standard_instant(scope.filters, now)
    shown = (
        [scope.category]
        if scope.category is not None
        else [c for c in catalog.all_categories(scope.centre.id) if c.is_active]
    )
    compared = promises.compare_categories(scope.filters, scope.centre.id, shown, at)
    return [(category, compared[category.id]) for category in shown]


def _centre_overview(
    scope: Scope,
    now: datetime,
    counted: now_counts.NowFigures,
    comparisons: list,
    by_category: list[tuple[Category, list]],
) -> overview.Overview:
    """Return a centre's overview: the centre, then one grid row per category, against its standard."""
    locale = str(get_locale())
    keep = {k: v for k, v in scope.args().items() if k in ("from", "to", "priority")}
    rows = [(scope.centre.name_for(locale), None, comparisons, True, {})]
    for category, compared in by_category:
        rows.append(
            (
                category.name_for(locale),
                url_for("dashboards.centre", centre=scope.centre.id, category=category.id, **keep),
                compared,
                False,
                {"category": category.id},
            )
        )
    return overview.build(
        scope=scope,
        filters=scope.filters,
        now=now,
        counted=counted,
        comparisons=comparisons,
        grid_rows=rows,
        grid_title=_("Met % against the standard, by category"),
        date_range=_date_range,
        links=_overview_links(scope),
    )


# ---------------------------------------------------------------- pages


def _presets(scope: Scope, endpoint: str) -> list[tuple[str, str, bool]]:
    """Return (label, href, is current) for each preset period, keeping the other filters."""
    keep = {k: v for k, v in scope.args().items() if k not in ("from", "to")}
    return [
        (_(label), url_for(endpoint, period=name, **keep), name == scope.preset)
        for name, label in reports.PERIOD_PRESETS
    ]


def _holiday_gaps(now: datetime) -> list[holidays.MissingYear]:
    return holidays.next_year_missing(reports.local_day(now))


def _freshness() -> dict:
    refreshed, waiting = reports.summary_freshness()
    return {"refreshed_at": refreshed, "days_waiting": waiting, "days_zone": reports.campus_zone().key}


def _trends(scope: Scope) -> list[tuple[Table, Markup]]:
    result = []
    for unit in _trend_unit(scope):
        table, points = _trend_table(scope, unit)
        result.append((table, _trend_chart(table, points, unit)))
    return result


@bp.route("")
@require_role(*READ_ALL)
def index():
    """Leadership's overview: one screen. The tables under *Details* come from ``details`` after it."""
    now = utcnow()
    scope = _scope(now, strict=False)
    comparisons = _comparisons(scope, now)
    counted = now_counts.current(scope.filters, now)
    return render_template(
        "dashboards/index.html",
        scope=scope,
        endpoint="dashboards.index",
        presets=_presets(scope, "dashboards.index"),
        overview=_campus_overview(scope, now, counted, comparisons),
        details_href=url_for("dashboards.details", **scope.args()),
        holiday_gaps=_holiday_gaps(now),
        now_counted=counted.counted_at or "live",
        **_freshness(),
    )


@bp.route("/details")
@require_role(*READ_ALL)
def details():
    """The leadership dashboard's *Details*: its tables, charts and downloads, a page of their own.

    The overview (``index``) fetches this page after its first paint and
    shows its ``#dash-details`` part under itself (static/js/details.js);
    without a script, the overview links here.
    """
    now = utcnow()
    scope = _scope(now, strict=False)
    centres, centre_ageing = _group_tables(scope, now, "centre")
    categories = category_ageing = None
    if scope.centre is not None:
        categories, category_ageing = _group_tables(scope, now, "category")
    comparisons = _comparisons(scope, now)
    locale = str(get_locale())
    if categories is not None:
        standards = {c.name_for(locale): compared for c, compared in _category_comparisons(scope, now)}
    else:
        names = {c.id: c.name_for(locale) for c in scope.known}
        standards = {}
        for comparison in comparisons:
            standards.setdefault(names.get(comparison.centre_id, ""), []).append(comparison)
    return render_template(
        "dashboards/details.html",
        scope=scope,
        endpoint="dashboards.details",
        presets=_presets(scope, "dashboards.details"),
        overview_href=url_for("dashboards.index", **scope.args()),
        centres=centres,
        categories=categories,
        ageing=category_ageing or centre_ageing,
        met_chart=_met_chart(categories or centres, standards),
        trends=_trends(scope),
        standards=_standards_table(scope, now, comparisons),
        honest=honesty.figures(scope.filters),
        coverage=_coverage(scope),
        **_freshness(),
    )


def _coverage(scope: Scope):
    """Return a centre's follow-up coverage against its rule for the period (None for the campus)."""
    if scope.centre is None:
        return None
    return follow_up_rules.coverage(scope.centre.id, scope.filters.first, scope.filters.last)[1]


@bp.route("/centre")
@require_role(*VIEWERS)
def centre():
    now = utcnow()
    allowed = _allowed_centres()
    choices = allowed if allowed is not None else catalog.active_centres()
    default = None
    if not request.args.get("centre"):
        if len(choices) != 1:
            locale = str(get_locale())
            return render_template(
                "dashboards/choose_centre.html",
                centres=[(c.name_for(locale), url_for("dashboards.centre", centre=c.id)) for c in choices],
            )
        default = choices[0]
    scope = _scope(now, strict=False, default_centre=default, campus=False)
    # The late and at-risk counts of the tiles and of the tables: the stored ones while fresh.
    counted = now_counts.current(scope.filters, now, by=now_counts.BY)
    counts = counted.by if counted.is_stored else None
    categories, ageing = _group_tables(scope, now, "category", counts=counts)
    comparisons = _comparisons(scope, now)
    by_category = _category_comparisons(scope, now)
    locale = str(get_locale())
    unassigned = reports.drilldown("unassigned", scope.filters, now)
    waiting = list(db.session.execute(unassigned.limit(5)).scalars())
    return render_template(
        "dashboards/centre.html",
        scope=scope,
        endpoint="dashboards.centre",
        presets=_presets(scope, "dashboards.centre"),
        categories=categories,
        ageing=ageing,
        technicians=_technician_table(scope, now, counts=counts),
        waiting=waiting,
        waiting_count=reports.count(unassigned),
        waiting_href=url_for("dashboards.tickets", **scope.args(figure="unassigned")),
        summaries=sla.summaries([t.id for t in waiting], now),
        now=now,
        may_dispatch=current_user.has_role(Role.DISPATCHER, scope.centre.id)
        or current_user.has_role(Role.CENTRE_HEAD, scope.centre.id),
        several_centres=len(choices) > 1,
        met_chart=_met_chart(categories, {c.name_for(locale): compared for c, compared in by_category}),
        trends=_trends(scope),
        follow_ups=follow_ups.counts(scope.centre.id, scope.filters.first, scope.filters.last, now),
        standards=_standards_table(scope, now, comparisons),
        overview=_centre_overview(scope, now, counted, comparisons, by_category),
        holiday_gaps=_holiday_gaps(now),
        honest=honesty.figures(scope.filters),
        coverage=_coverage(scope),
        now_counted=counted.counted_at or "live",
        **_freshness(),
    )


def _export_table(scope: Scope, now: datetime, name: str) -> Table:
    """Return one dashboard table by its export name (404 for an unknown one)."""
    if name in ("centres", "ageing-centres"):
        summary, ageing = _group_tables(scope, now, "centre")
        return summary if name == "centres" else ageing
    if name in ("categories", "ageing-categories", "technicians"):
        if scope.centre is None:
            raise ValidationFailed(N_("Choose a centre."))
        if name == "technicians":
            return _technician_table(scope, now)
        summary, ageing = _group_tables(scope, now, "category")
        return summary if name == "categories" else ageing
    if name in ("trend-week", "trend-month"):
        return _trend_table(scope, name.removeprefix("trend-"))[0]
    if name == "standards":
        return _standards_table(scope, now)
    abort(404)


@bp.route("/export/<table>.<fmt>")
@require_role(*VIEWERS)
def export(table, fmt):
    if fmt not in FORMATS:
        abort(404)
    now = utcnow()
    scope = _scope(now, strict=True)
    chosen = _export_table(scope, now, table)
    return table_file(
        f"{chosen.name}_{scope.file_stem}.{fmt}",
        chosen.title,
        [*chosen.key_headers, *chosen.all_headers],
        chosen.export_rows(),
    )


# ---------------------------------------------------------------- the tickets behind a figure

FIGURE_LABELS = {
    "received": N_("Received"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
    "met": N_("%(target)s: met"),
    "breached": N_("%(target)s: breached"),
    "measured": N_("%(target)s: measured (met or breached)"),
    "backlog": N_("Open backlog"),
    "awaiting": N_("Awaiting confirmation"),
    "breached_now": N_("Breached now"),
    "at_risk_now": N_("At risk now"),
    "unassigned": N_("Waiting for a technician"),
    "on_hold": N_("On hold"),
    "on_time": N_("Resolved on time"),
    "late": N_("Resolved late"),
    "rated": N_("Rated (the ratings behind satisfaction)"),
}
# The figures that describe the period (the others are "now").
PERIOD_BOUND = frozenset(
    {"received", "resolved", "closed", "cancelled", "met", "breached", "measured", "on_time", "late", "rated"}
)


@dataclass
class Drill:
    figure: str
    target: str | None
    age: str | None
    assignee: int | str | None
    title: str
    facets: list[str]


def _drill(scope: Scope) -> Drill:
    """Parse and describe the figure of a list request; a bad one is refused with a message."""
    figure = request.args.get("figure", "")
    if figure not in reports.DRILLDOWN_FIGURES:
        raise ValidationFailed(
            N_("Unknown figure %(figure)s: open lists from a dashboard's figures."), figure=figure[:40] or "—"
        )
    target = request.args.get("target") or None
    if target is not None and target not in {t.value for t in Target}:
        raise ValidationFailed(N_("Unknown target."))
    if figure in reports.TARGET_FIGURES and target is None:
        raise ValidationFailed(
            N_("Say which target: dispatch, response, arrival, resolution or confirmation.")
        )
    age = request.args.get("age") or None
    if age is not None and age not in {b[0] for b in reports.AGE_BUCKETS}:
        raise ValidationFailed(N_("Unknown age bucket."))
    assignee: int | str | None = request.args.get("assignee") or None
    if assignee is not None and assignee != reports.ANY_ASSIGNEE:
        assignee = int_arg("assignee")
    locale = str(get_locale())
    title = _(FIGURE_LABELS[figure], target=_(TARGET_LABELS[Target(target)]) if target else "")
    facets = []
    if figure in PERIOD_BOUND:
        facets.append(_date_range(scope.filters.first, scope.filters.last))
    else:
        facets.append(_("now"))
    if age is not None:
        facets.append(_(next(b[3] for b in reports.AGE_BUCKETS if b[0] == age)))
    facets.append(scope.centre.name_for(locale) if scope.centre else _("All centres"))
    if scope.category is not None:
        facets.append(scope.category.name_for(locale))
    if scope.filters.priority:
        facets.append(_(PRIORITY_LABELS[Priority(scope.filters.priority)]))
    if assignee == reports.ANY_ASSIGNEE:
        facets.append(_("All technicians"))
    elif assignee is not None:
        facets.append(ticket_service.user_names({assignee}).get(assignee, f"#{assignee}"))
    return Drill(figure, target, age, assignee, title, facets)


def _drill_query(scope: Scope, drill: Drill, now: datetime):
    try:
        return reports.drilldown(
            drill.figure, scope.filters, now, target=drill.target, age=drill.age, assignee=drill.assignee
        )
    except ValueError:
        raise ValidationFailed(N_("This list cannot be drawn from these filters.")) from None


@bp.route("/tickets")
@require_role(*VIEWERS)
def tickets():
    now = utcnow()
    scope = _scope(now, strict=True)
    drill = _drill(scope)
    query = _drill_query(scope, drill, now)
    total = reports.drilldown_count(
        drill.figure, scope.filters, now, target=drill.target, age=drill.age, assignee=drill.assignee
    )
    page = page_arg()
    page_rows = query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE).options(joinedload(Ticket.assignee))
    rows = list(db.session.execute(page_rows).scalars())
    args = scope.args(figure=drill.figure, target=drill.target, age=drill.age, assignee=drill.assignee)
    related = []
    if drill.figure in reports.TARGET_FIGURES:
        related = [
            (
                _(FIGURE_LABELS[f], target=_(TARGET_LABELS[Target(drill.target)])),
                url_for("dashboards.tickets", **dict(args, figure=f)),
                f == drill.figure,
            )
            for f in reports.TARGET_FIGURES
        ]
    back = "dashboards.index" if current_user.has_any_role(*READ_ALL) else "dashboards.centre"
    return render_template(
        "dashboards/tickets.html",
        scope=scope,
        drill=drill,
        tickets=rows,
        summaries=sla.summaries([t.id for t in rows], now),
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        args=args,
        related=related,
        back_href=url_for(back, **scope.args()),
    )


def _ticket_rows(query) -> Iterator[list]:
    locale = str(get_locale())
    centres = {c.id: c.name_for(locale) for c in catalog.all_centres()}
    categories: dict[int, str] = {}
    # Translated once per file, not per row (gettext costs more than the row).
    priorities = {p: _(label) for p, label in PRIORITY_LABELS.items()}
    statuses = {s: _(label) for s, label in STATUS_LABELS.items()}
    rows = query.options(joinedload(Ticket.assignee)).execution_options(yield_per=500)
    for ticket in db.session.execute(rows).scalars():
        if ticket.category_id not in categories:
            categories[ticket.category_id] = ticket.category.name_for(locale)
        yield [
            ticket.reference,
            ticket.title,
            centres.get(ticket.centre_id, ""),
            categories[ticket.category_id],
            priorities[ticket.priority],
            statuses[ticket.status],
            ticket.assignee.display_name if ticket.assignee else "",
            ticket.created_at,
            ticket.resolved_at,
            ticket.closed_at,
            ticket.cancelled_at,
            ticket.next_due_at,
        ]


TICKET_HEADERS = (
    N_("Reference"),
    N_("Request"),
    N_("Centre"),
    N_("Category"),
    N_("Priority"),
    N_("Status"),
    N_("Technician"),
    N_("Filed"),
    N_("Resolved"),
    N_("Closed"),
    N_("Cancelled"),
    N_("Next deadline"),
)


@bp.route("/tickets.<fmt>")
@require_role(*VIEWERS)
def tickets_export(fmt):
    if fmt not in FORMATS:
        abort(404)
    now = utcnow()
    scope = _scope(now, strict=True)
    drill = _drill(scope)
    query = _drill_query(scope, drill, now)
    parts = [
        drill.figure,
        drill.target,
        drill.age,
        f"technician-{drill.assignee}" if drill.assignee else None,
    ]
    # File names stay plain ASCII: ids, codes and dates only.
    filename = "_".join(p for p in parts if p) + f"_{scope.file_stem}.{fmt}"
    return table_file(filename, drill.title, [_(h) for h in TICKET_HEADERS], _ticket_rows(query))


# ---------------------------------------------------------------- definitions


@bp.route("/definitions")
@require_role(*STAFF, *READ_ALL)
def definitions():
    from flask import current_app

    return render_template(
        "dashboards/definitions.html",
        timezone=current_app.config["TRACKER_TIMEZONE"],
        refresh_seconds=current_app.config["STATS_REFRESH_SECONDS"],
        ages=[_(b[3]) for b in reports.AGE_BUCKETS],
        presets=[_(label) for _name, label in reports.PERIOD_PRESETS],
        back=_back_endpoint(),
    )


def _back_endpoint() -> str | None:
    if current_user.has_any_role(*READ_ALL):
        return "dashboards.index"
    if current_user.has_any_role(*CENTRE_MANAGERS):
        return "dashboards.centre"
    return None
