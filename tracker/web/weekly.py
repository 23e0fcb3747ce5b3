"""The weekly report: the stored reports by week, one report to read or print, its xlsx, regenerating.

Centre heads and dispatchers read the whole report, as leadership does:
the weekly work meeting reviews every centre side by side. Leadership and
administrators ask for a (re)generation; a worker makes it and the page
shows its progress, refreshing itself (a meta refresh: no script).
"""

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.forms.weekly import WeekForm
from tracker.i18n import when
from tracker.models.stats import TARGET_COLUMNS
from tracker.services.insight import weekly
from tracker.services.sla.standards import promises
from tracker.web import charts, overview

bp = Blueprint("weekly", __name__, url_prefix="/weekly")

# Seconds between refreshes of a page whose report is being generated.
REFRESH_SECONDS = 3


def _week(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)


def _form(week: date | None = None) -> WeekForm:
    form = WeekForm(formdata=None)
    form.week.data = week or weekly.last_full_week(utcnow())
    return form


def _may_generate() -> bool:
    return current_user.is_authenticated and current_user.has_any_role(*weekly.GENERATORS)


def met_chart(content) -> str:
    """Return the week's met % per centre as bars, with each centre's standard and benchmarks as target lines."""
    locale = str(get_locale())
    centres = content.centres
    marks = [overview.standard_marks(s.standards) for s in centres]
    return charts.percent_bars(
        chart_id="chart-week-met",
        title=_("Targets met per centre"),
        desc=_("The share of response and resolution targets met in the week, in percent, with each "
               "standard's promised share (dashed) and its benchmarks (dotted). The numbers are in the table."),
        rows=[(s.name_for(locale), [s.figures.met_percent("response"), s.figures.met_percent("resolution")])
              for s in centres],
        series=[(_("Response on time"), "chart-a"), (_("Resolution on time"), "chart-b")],
        axis_label=_("Met %"),
        no_value=_("nothing measured"),
        marks=marks,
        mark_legend=charts.mark_legend(marks, _("Promised share"), _("Benchmark")),
    )


@bp.context_processor
def _helpers():
    def percent(value) -> str:
        return "—" if value is None else _("%(value)s %%", value=format_decimal(value, "#,##0.0"))

    def points(value) -> str:
        if value is None:
            return "—"
        return _("%(value)s pts", value=format_decimal(value, "+#,##0.0;−#,##0.0"))

    def signed(value: int) -> str:
        return format_decimal(value, "+#,##0;−#,##0") if value else "0"

    def day(value: date, fmt: str = "medium") -> str:
        return format_date(value, fmt)

    def decimal(value) -> str:
        return "—" if value is None else format_decimal(value, "#,##0.0")

    return {"percent": percent, "points": points, "signed": signed, "day": day, "satisfaction": decimal,
            "decimal": decimal, "may_generate": _may_generate(), "status_text": weekly.STATUS_TEXT,
            "targets": TARGET_COLUMNS, "standard_text": promises.standard_text,
            "benchmark_text": promises.benchmark_text, "limits_text": promises.limits_text, "met_chart": met_chart}


@bp.route("/")
@require_role(*weekly.READERS)
def index():
    return render_template("weekly/index.html", reports=weekly.recent(), form=_form())


@bp.route("/<week>")
@require_role(*weekly.READERS)
def report(week):
    day = _week(week)
    monday = weekly.week_of(day)
    if monday != day:
        return redirect(url_for("weekly.report", week=monday.isoformat()))
    stored = weekly.get(monday)
    content = weekly.read(stored.content) if stored is not None and stored.content is not None else None
    return render_template(
        "weekly/report.html",
        week=monday,
        week_end=monday + timedelta(days=6),
        report=stored,
        content=content,
        form=_form(monday),
        locale=str(get_locale()),
        refresh_seconds=REFRESH_SECONDS,
        is_over=monday <= weekly.last_full_week(utcnow()),
    )


@bp.route("/<week>/report.xlsx")
@require_role(*weekly.READERS)
def download(week):
    day = _week(week)
    stored = weekly.get(day)
    if stored is None or stored.content is None:
        abort(404)
    data = weekly.xlsx(stored, str(get_locale()))
    return (
        data,
        200,
        {
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="weekly-report-{stored.week_start.isoformat()}.xlsx"',
        },
    )


@bp.route("/regenerate", methods=["POST"])
@require_role(*weekly.GENERATORS)
def regenerate():
    form = WeekForm()
    if not form.validate_on_submit():
        for error in form.week.errors:
            flash(str(error), "error")
        return redirect(url_for("weekly.index"))
    try:
        stored = weekly.request_generation(form.week.data, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
        back = request.form.get("back") == "report"
        return redirect(url_for("weekly.report", week=weekly.week_of(form.week.data).isoformat())
                        if back else url_for("weekly.index"))
    flash(_("The report of the week of %(week)s is being generated.", week=when(stored.week_start)), "success")
    return redirect(url_for("weekly.report", week=stored.week_start.isoformat()))
