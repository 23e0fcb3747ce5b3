"""The one-screen overview on top of the dashboards: tiles, the standards grid, sparklines, what to act on.

Built from ``services.overview`` and the "now" figures of the page
(``now_counts.current``: counted once a minute, or live when those are
out of date), so the page counts the open backlog once. Every
figure links to the list behind it (``dashboards.tickets``) or to the page
that owns it (rectification items, follow-ups, the request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import url_for
from flask_babel import format_time, format_timedelta
from flask_babel import gettext as _
from markupsafe import Markup

from tracker.domain.i18n import N_
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.i18n import decimal
from tracker.services.insight.now_counts import NowFigures
from tracker.services.insight.overview import actions as action_service
from tracker.services.insight.overview import figures as overview_figures
from tracker.services.insight.overview.figures import ABOVE, AT, BELOW, FAR_BELOW, NO_STANDARD, NOTHING
from tracker.services.insight.reports import Filters, local_day
from tracker.services.sla.standards.promises import Comparison
from tracker.web import charts

# Where a cell stands: a symbol and a word, so colour is never the only sign.
STANDINGS = {
    ABOVE: ("▲", N_("above the standard")),
    AT: ("●", N_("at the standard")),
    BELOW: ("▼", N_("below the standard")),
    FAR_BELOW: ("▼▼", N_("far below the standard")),
    NO_STANDARD: ("○", N_("no promised share")),
    NOTHING: ("", N_("nothing measured")),
}
ACTION_LABELS = {
    action_service.LATE: N_("Late requests"),
    action_service.OVERDUE_ITEM: N_("Overdue rectification items"),
    action_service.LOW_RATING: N_("Low ratings not followed up"),
    action_service.ESCALATION: N_("Escalations not acknowledged"),
}


@dataclass
class Tile:
    label: str
    text: str
    href: str | None
    change: str | None = None  # "▲ +12"
    change_title: str | None = None  # what it is compared with
    trend: str = "same"  # up | down | same (the direction, not good or bad)
    note: str | None = None
    note_href: str | None = None
    spark: Markup | None = None


@dataclass
class GridCell:
    text: str
    standing: str
    symbol: str
    word: str
    gap: str | None
    title: str
    href: str | None


@dataclass
class GridRow:
    label: str
    href: str | None
    cells: list[GridCell]
    is_total: bool = False


@dataclass
class Grid:
    targets: list[tuple[str, str]]  # (target, label)
    rows: list[GridRow]


@dataclass
class ActionRow:
    kind: str
    kind_label: str
    reference: str
    title: str
    href: str
    waiting: str  # "late for 3 days"
    detail: str | None = None


@dataclass
class Overview:
    tiles: list[Tile]
    grid: Grid
    grid_title: str
    actions: list[ActionRow]
    action_counts: list[tuple[str, int, str]]  # (label, count, href)
    previous: str  # the previous period, spelled out
    weeks: str
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (standing, symbol, word)


def _signed(value: float, digits: int) -> str:
    pattern = "+#,##0;−#,##0" if digits == 0 else "+#,##0.0;−#,##0.0"
    return decimal(round(value, digits), pattern)


def _change(current, previous, digits: int, *, points: bool = False) -> tuple[str | None, str]:
    """Return ("▲ +12", "up") for the change from ``previous`` to ``current`` (``points``: percentage points)."""
    if current is None or previous is None:
        return None, "same"
    delta = round(current - previous, digits)
    if delta == 0:
        return "= " + _("same"), "same"
    arrow, trend = ("▲", "up") if delta > 0 else ("▼", "down")
    text = _("%(value)s pts", value=_signed(delta, digits)) if points else _signed(delta, digits)
    return f"{arrow} {text}", trend


def _number(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value:.1f} %"
    if kind == "mean":
        return f"{value:.2f}"
    return decimal(value, "#,##0")


def build(
    *,
    scope,
    filters: Filters,
    now: datetime,
    counted: NowFigures,
    comparisons: list[Comparison],
    grid_rows: list[tuple[str, str | None, list[Comparison], bool, dict]],
    grid_title: str,
    date_range,
    links: dict,
) -> Overview:
    """Return the overview of ``filters``.

    ``counted``: the "now" figures (stored or live, ``now_counts.current``). ``comparisons``:
    the scope's met % against the standard per centre and target.
    ``grid_rows``: (label, link, comparisons, is total, list arguments) per row. ``links``:
    hrefs by name (``drill(**args)`` makes a list link of the page's scope).
    """
    totals = counted.totals()
    period = overview_figures.period_figures(filters)
    current, previous = period.current, period.previous
    previous_text = date_range(period.previous_first, period.previous_last)
    drill = links["drill"]
    weeks = period.weeks
    week_labels = [date_range(w.first, w.last) for w in weeks]

    def spark(
        name: str,
        values: list,
        *,
        percent: bool = False,
        target: float | None = None,
        target_label: str | None = None,
    ) -> Markup:
        return charts.sparkline(
            chart_id=f"spark-{name}",
            values=values,
            labels=week_labels,
            percent=percent,
            target=target,
            target_label=target_label,
        )

    def compared(value, before, kind: str) -> tuple[str | None, str, str]:
        digits = {"count": 0, "percent": 1, "mean": 2}[kind]
        change, trend = _change(value, before, digits, points=kind == "percent")
        title = _("Previous period (%(dates)s): %(value)s", dates=previous_text, value=_number(before, kind))
        return change, trend, title

    tiles = []
    for name, label, figure in (
        ("received", N_("Received"), "received"),
        ("resolved", N_("Resolved"), "resolved"),
    ):
        change, trend, title = compared(current[name], previous[name], "count")
        tiles.append(
            Tile(
                _(label),
                _number(current[name], "count"),
                drill(figure=figure),
                change,
                title,
                trend,
                spark=spark(name, [w.sums[name] for w in weeks]),
            )
        )
    # The backlog now against the backlog when the period began: now minus the period's net intake.
    ends_today = filters.last >= local_day(now)
    backlog_change = backlog_title = None
    backlog_trend = "same"
    if ends_today:
        net = current["received"] - current["resolved"] - current["cancelled"]
        backlog_change, backlog_trend = _change(totals.backlog, totals.backlog - net, 0)
        backlog_title = _(
            "Since the period began: received minus resolved and cancelled (reopened requests not counted)."
        )
    tiles.append(
        Tile(
            _("Open backlog"),
            _number(totals.backlog, "count"),
            drill(figure="backlog"),
            backlog_change,
            backlog_title,
            backlog_trend,
            spark=spark(
                "intake", [w.sums["received"] - w.sums["resolved"] - w.sums["cancelled"] for w in weeks]
            ),
        )
    )
    promises = overview_figures.promises_by_target(comparisons)
    for target in [t for t in Target if current.measured(t.value) or t.value in promises]:
        promise = promises.get(target.value)
        value = current.percent(target.value)
        change, trend, title = compared(value, previous.percent(target.value), "percent")
        label = _("%(target)s met", target=_(TARGET_LABELS[target]))
        note = None
        if promise is not None and promise.judged:
            if len({c.centre_id for c in comparisons}) > 1:
                note = _(
                    "promise kept by %(kept)d of %(judged)d centres", kept=promise.kept, judged=promise.judged
                )
            else:
                note = _("promised %(share)s", share=_number(promise.strictest, "percent"))
        elif promise is not None and promise.strictest is not None:
            note = _("promised %(share)s", share=_number(promise.strictest, "percent"))
        tiles.append(
            Tile(
                label,
                _number(value, "percent"),
                drill(figure="measured", target=target.value),
                change,
                title,
                trend,
                note=note,
                spark=spark(
                    f"met-{target.value}",
                    [w.sums.percent(target.value) for w in weeks],
                    percent=True,
                    target=promise.strictest if promise else None,
                    target_label=_("promised share"),
                ),
            )
        )
    # No earlier "breached now" is kept: the tile compares the targets breached in the period instead, in its note.
    change, trend, title = compared(current.breached, previous.breached, "count")
    tiles.append(
        Tile(
            _("Breached now"),
            _number(totals.breached_now, "count"),
            drill(figure="breached_now"),
            note=_("breached in the period: %(num)s", num=_number(current.breached, "count"))
            + (f" ({change})" if change else ""),
            note_href=None,
            change_title=_(
                "Targets breached in the period, against the previous period (%(dates)s: %(value)s).",
                dates=previous_text,
                value=_number(previous.breached, "count"),
            ),
            trend=trend,
            spark=spark("breached", [w.sums.breached for w in weeks]),
        )
    )
    tiles.append(
        Tile(
            _("At risk now"),
            _number(totals.at_risk_now, "count"),
            drill(figure="at_risk_now"),
            note=_("counted at %(time)s", time=format_time(counted.counted_at, "HH:mm"))
            if counted.is_stored
            else _("counted for this page"),
        )
    )
    change, trend, title = compared(current.satisfaction, previous.satisfaction, "mean")
    tiles.append(
        Tile(
            _("Satisfaction (1–5)"),
            _number(current.satisfaction, "mean"),
            drill(figure="rated"),
            change,
            title,
            trend,
            note=_("%(num)s ratings", num=_number(current["rating_count"], "count")),
            spark=spark("satisfaction", [w.sums.satisfaction for w in weeks]),
        )
    )

    grid = _grid(grid_rows, drill)
    found = action_service.actions(
        filters, now, late_count=totals.breached_now, escalation_count=counted.escalations
    )
    return Overview(
        tiles=tiles,
        grid=grid,
        grid_title=grid_title,
        actions=[_action_row(a, now, links) for a in found.pick()],
        action_counts=[
            (_(ACTION_LABELS[kind]), found.counts[kind], links[kind]) for kind in action_service.KINDS
        ],
        previous=previous_text,
        weeks=_(
            "Sparklines: the last %(num)d weeks (%(dates)s).",
            num=len(weeks),
            dates=date_range(weeks[0].first, weeks[-1].last),
        ),
        legend=[(s, STANDINGS[s][0], _(STANDINGS[s][1])) for s in (ABOVE, AT, BELOW, FAR_BELOW)],
    )


def _grid(grid_rows, drill) -> Grid:
    targets = [t.value for t in Target if any(c.target == t.value for row in grid_rows for c in row[2])]
    # Each standing's word and each target's label, translated once for the grid's cells.
    words = {standing: _(word) for standing, (_symbol, word) in STANDINGS.items()}
    labels = {target: _(TARGET_LABELS[Target(target)]) for target in targets}
    rows = []
    for label, href, comparisons, is_total, args in grid_rows:
        by_target = {c.target: c for c in comparisons}
        cells = []
        for target in targets:
            comparison = by_target.get(target)
            if comparison is None:
                cells.append(GridCell("—", NOTHING, "", words[NOTHING], None, words[NOTHING], None))
                continue
            standing = overview_figures.standing(comparison)
            symbol, word = STANDINGS[standing][0], words[standing]
            value = comparison.met_percent
            gap = None if comparison.gap is None else _signed(comparison.gap, 1)
            promised = (
                "—"
                if comparison.promised_percent is None
                else _number(comparison.promised_percent, "percent")
            )
            title = _(
                "%(row)s · %(target)s: %(value)s met of %(num)s measured; promised %(promised)s; %(word)s",
                row=label,
                target=labels[target],
                value=_number(value, "percent"),
                num=_number(comparison.met + comparison.breached, "count"),
                promised=promised,
                word=word,
            )
            link = drill(figure="measured", target=target, **args) if value is not None else None
            cells.append(GridCell(_number(value, "percent"), standing, symbol, word, gap, title, link))
        rows.append(GridRow(label, href, cells, is_total))
    return Grid([(t, labels[t]) for t in targets], rows)


def _action_row(action: action_service.Action, now: datetime, links: dict) -> ActionRow:
    waited = format_timedelta(now - action.since, granularity="minute", threshold=1)
    if action.kind == action_service.LATE:
        return ActionRow(
            action.kind,
            _(ACTION_LABELS[action.kind]),
            action.reference,
            action.title,
            url_for("tickets.detail", reference=action.reference),
            _("late for %(time)s", time=waited),
        )
    if action.kind == action_service.OVERDUE_ITEM:
        return ActionRow(
            action.kind,
            _(ACTION_LABELS[action.kind]),
            action.reference,
            action.title,
            url_for("rectification.detail", reference=action.reference),
            _("overdue for %(time)s", time=waited),
        )
    if action.kind == action_service.LOW_RATING:
        return ActionRow(
            action.kind,
            _(ACTION_LABELS[action.kind]),
            action.reference,
            action.title,
            url_for("tickets.detail", reference=action.reference),
            _("rated %(time)s ago", time=waited),
            _("rating %(num)s of 5", num=action.rating) if action.rating else None,
        )
    return ActionRow(
        action.kind,
        _(ACTION_LABELS[action.kind]),
        action.reference,
        action.title,
        url_for("tickets.detail", reference=action.reference),
        _("escalated %(time)s ago", time=waited),
        _("level %(level)d · %(target)s", level=action.level, target=_(TARGET_LABELS[Target(action.target)])),
    )


def standard_marks(
    comparisons: list[Comparison], targets: tuple[str, ...] = ("response", "resolution")
) -> list:
    """Return a chart row's target lines per target: its own standard's promised share, then its benchmarks'."""
    by_target = {c.target: c for c in comparisons}
    result = []
    for target in targets:
        comparison = by_target.get(target)
        marks = []
        if comparison is not None and comparison.promised_percent is not None:
            marks.append(charts.Mark(comparison.promised_percent, _("own standard")))
        for view in comparison.benchmarks if comparison is not None else []:
            if view.share is not None:
                marks.append(
                    charts.Mark(100.0 * view.share, _("benchmark %(source)s", source=view.source_name))
                )
        result.append(marks)
    return result
