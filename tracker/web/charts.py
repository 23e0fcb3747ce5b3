"""Server-drawn SVG charts for the dashboards (no script, no inline style: CSP).

The SVG scales with its viewBox: one drawing serves a projector and a
360 px phone. Sizes below are in viewBox units; the type is large because
a phone shows the chart at about half its drawn size. Colours come from
classes in app.css; series also differ in shape (bars, solid line with
circles, dashed line with squares) and carry their numbers, so nothing is
told by colour alone. The same numbers are in a table beside each chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH = 600
FONT = 22  # axis labels and legend (app.css: svg.chart text)
SMALL = 19  # numbers on bars (svg.chart .value)


@dataclass
class Series:
    label: str
    css: str  # chart-a, chart-b (bars) or chart-line-a, chart-line-b (lines)
    values: list[float | None]
    hrefs: list[str | None] = field(default_factory=list)


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value:.1f} %"
    return f"{value:g}"


def _text_width(text: str, size: float) -> float:
    """Estimate a label's drawn width: CJK characters are square, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.56 for ch in text)


def _nice_max(value: float) -> tuple[float, float]:
    """Return (axis maximum, tick step) covering ``value`` with 4–5 round steps."""
    if value <= 0:
        return 4, 1
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    step = max(step, 1)
    return step * math.ceil(value / step), step


def _link(inner: str, href: str | None) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _legend(items: list[tuple[str, str, str]], top: float) -> tuple[list[str], float]:
    """Draw (label, css, shape) legend items two to a row; return the parts and the height used."""
    parts = []
    column = WIDTH / 2
    for index, (label, css, shape) in enumerate(items):
        x = 10 + (index % 2) * column
        y = top + (index // 2) * 34
        if shape == "bar":
            parts.append(f'<rect class="{css}" x="{x}" y="{y}" width="22" height="22"/>')
        elif shape == "mark":
            parts.append(f'<line class="{css}" x1="{x + 11}" x2="{x + 11}" y1="{y - 2}" y2="{y + 24}"/>')
        else:
            dash = ' stroke-dasharray="8 5"' if css.endswith("b") else ""
            parts.append(f'<line class="{css}" x1="{x}" x2="{x + 28}" y1="{y + 11}" y2="{y + 11}"{dash}/>')
            parts.append(_marker(css, x + 14, y + 11))
        parts.append(f'<text x="{x + 36}" y="{y + 19}">{escape(label)}</text>')
    rows = (len(items) + 1) // 2
    return parts, rows * 34


def _marker(css: str, x: float, y: float) -> str:
    if css.endswith("b"):
        return f'<rect class="{css}-marker" x="{x - 6}" y="{y - 6}" width="12" height="12"/>'
    return f'<circle class="{css}-marker" cx="{x}" cy="{y}" r="6"/>'


def _frame(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {round(height)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def bars_and_lines(*, chart_id: str, title: str, desc: str, categories: list[str], bars: list[Series],
                   lines: list[Series], count_label: str, percent_label: str) -> Markup:
    """Return grouped count bars per category with met-% lines on a second (0–100 %) axis."""
    legend, legend_height = _legend(
        [(s.label, s.css, "bar") for s in bars] + [(s.label, s.css, "line") for s in lines], 8
    )
    left, right = 60, WIDTH - 66
    top = 8 + legend_height + 26
    bottom = top + 240
    height = bottom + 44
    plot_width, plot_height = right - left, bottom - top
    n = max(len(categories), 1)
    biggest = max([v for s in bars for v in s.values if v is not None] or [0])
    axis_max, step = _nice_max(biggest)
    parts = list(legend)
    # Axes, grid and ticks: counts on the left, percent on the right.
    tick = 0.0
    while tick <= axis_max + 1e-9:
        y = bottom - tick / axis_max * plot_height
        parts.append(f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 8}" y="{y + 7:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    for percent in (0, 25, 50, 75, 100):
        y = bottom - percent / 100 * plot_height
        parts.append(f'<text class="tick" x="{right + 8}" y="{y + 7:.1f}">{percent}</text>')
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    parts.append(f'<line class="chart-axis" x1="{right}" x2="{right}" y1="{top}" y2="{bottom}"/>')
    middle = (top + bottom) / 2
    parts.append(
        f'<text class="axis-title" x="18" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 18 {middle})">{escape(count_label)}</text>'
    )
    parts.append(
        f'<text class="axis-title" x="{WIDTH - 12}" y="{middle}" text-anchor="middle" '
        f'transform="rotate(90 {WIDTH - 12} {middle})">{escape(percent_label)}</text>'
    )
    # Bars, with their numbers when every number fits above its bar.
    group = plot_width / n
    bar = min(group * 0.8 / max(len(bars), 1), 56)
    numbered = all(
        _text_width(_fmt(v), SMALL) <= bar + 6 for s in bars for v in s.values if v is not None
    )
    for index in range(n):
        start = left + index * group + (group - bar * len(bars)) / 2
        for number, series in enumerate(bars):
            value = series.values[index] if index < len(series.values) else None
            if value is None:
                continue
            x = start + number * bar
            h = value / axis_max * plot_height
            href = series.hrefs[index] if index < len(series.hrefs) else None
            shape = (
                f'<rect class="{series.css}" x="{x:.1f}" y="{bottom - h:.1f}" width="{bar - 2:.1f}" '
                f'height="{h:.1f}"><title>{escape(series.label)} · {escape(categories[index])}: '
                f'{_fmt(value)}</title></rect>'
            )
            if numbered:
                shape += (
                    f'<text class="value" x="{x + (bar - 2) / 2:.1f}" y="{bottom - h - 6:.1f}" '
                    f'text-anchor="middle">{_fmt(value)}</text>'
                )
            parts.append(_link(shape, href))
    # Lines: a gap where a bucket has no outcome to measure.
    for series in lines:
        dash = ' stroke-dasharray="8 5"' if series.css.endswith("b") else ""
        run: list[tuple[float, float]] = []
        runs = []
        for index in range(n):
            value = series.values[index] if index < len(series.values) else None
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((left + (index + 0.5) * group, bottom - value / 100 * plot_height))
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(f'<polyline class="{series.css}" points="{path}"{dash}/>')
            for x, y in points:
                parts.append(_marker(series.css, x, y))
    # Category labels, thinned so they never overlap.
    widest = max([_text_width(c, FONT) for c in categories] or [0])
    every = max(1, math.ceil((widest + 12) / group))
    for index, label in enumerate(categories):
        if index % every:
            continue
        x = left + (index + 0.5) * group
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 30}" text-anchor="middle">{escape(label)}</text>')
    return _frame(chart_id, title, desc, height, parts)


@dataclass
class Mark:
    """A reference value drawn across a bar: a standard's promised share or a benchmark's (percent)."""

    value: float
    label: str  # the tooltip: "Promised: 95.0 %"


def mark_legend(marks: list[list[list[Mark]]], standard: str, benchmark: str) -> list[tuple[str, str]]:
    """Return the legend entries of the target lines ``percent_bars`` will draw: only the kinds present."""
    bars = [bar for row in marks for bar in row]
    entries = []
    if any(bar for bar in bars):
        entries.append((standard, "chart-target"))
    if any(len(bar) > 1 for bar in bars):
        entries.append((benchmark, "chart-benchmark"))
    return entries


def percent_bars(*, chart_id: str, title: str, desc: str, rows: list[tuple[str, list[float | None]]],
                 series: list[tuple[str, str]], axis_label: str, no_value: str,
                 marks: list[list[list[Mark]]] | None = None,
                 mark_legend: list[tuple[str, str]] | None = None) -> Markup:
    """Return horizontal 0–100 % bars, one group per row (its name above), value at each bar's end.

    ``marks``: per row, per series, the target lines drawn across that bar
    (css ``chart-target`` for the first mark of a bar, ``chart-benchmark``
    for the others), each with its value as a tooltip; ``mark_legend``:
    (label, css) legend entries for them.
    """
    items = [(label, css, "bar") for label, css in series] + [(label, css, "mark") for label, css in mark_legend or []]
    legend, legend_height = _legend(items, 8)
    left, right = 10, WIDTH - 110
    top = 8 + legend_height + 16
    bar, gap = 26, 4
    group = 32 + len(series) * (bar + gap) + 14
    bottom = top + max(len(rows), 1) * group
    height = bottom + 72
    parts = list(legend)
    for percent in (0, 25, 50, 75, 100):
        x = left + percent / 100 * (right - left)
        parts.append(f'<line class="chart-grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 26}" text-anchor="middle">{percent}</text>')
    parts.append(
        f'<text class="axis-title" x="{(left + right) / 2:.1f}" y="{bottom + 58}" text-anchor="middle">'
        f"{escape(axis_label)}</text>"
    )
    for index, (name, values) in enumerate(rows):
        y = top + index * group
        parts.append(f'<text class="row-label" x="{left}" y="{y + 24}">{escape(name)}</text>')
        for number, ((label, css), value) in enumerate(zip(series, values, strict=True)):
            bar_y = y + 32 + number * (bar + gap)
            if value is None:
                parts.append(
                    f'<text class="value" x="{left + 4}" y="{bar_y + 20}">{escape(label)}: {escape(no_value)}</text>'
                )
                continue
            width = value / 100 * (right - left)
            parts.append(
                f'<rect class="{css}" x="{left}" y="{bar_y}" width="{max(width, 1):.1f}" height="{bar}">'
                f"<title>{escape(name)} · {escape(label)}: {_fmt(value, True)}</title></rect>"
                f'<text class="value" x="{left + width + 6:.1f}" y="{bar_y + 20}">{_fmt(value, True)}</text>'
            )
        for number in range(len(series)):
            bar_y = y + 32 + number * (bar + gap)
            bar_marks = marks[index][number] if marks and index < len(marks) and number < len(marks[index]) else []
            for order, mark in enumerate(bar_marks):
                x = left + mark.value / 100 * (right - left)
                kind = "chart-target" if order == 0 else "chart-benchmark"
                parts.append(
                    f'<line class="{kind}" x1="{x:.1f}" x2="{x:.1f}" y1="{bar_y - 3}" y2="{bar_y + bar + 3}">'
                    f"<title>{escape(name)} · {escape(series[number][0])} · {escape(mark.label)}: "
                    f"{_fmt(mark.value, True)}</title></line>"
                )
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    return _frame(chart_id, title, desc, height, parts)


def bars_and_count_line(*, chart_id: str, title: str, desc: str, categories: list[str], bars: list[Series],
                        line: Series, count_label: str) -> Markup:
    """Return grouped count bars per category with one count line (a running total) on the same axis."""
    legend, legend_height = _legend([(s.label, s.css, "bar") for s in bars] + [(line.label, line.css, "line")], 8)
    left, right = 60, WIDTH - 16
    top = 8 + legend_height + 26
    bottom = top + 240
    height = bottom + 44
    plot_width, plot_height = right - left, bottom - top
    n = max(len(categories), 1)
    biggest = max([v for s in [*bars, line] for v in s.values if v is not None] or [0])
    axis_max, step = _nice_max(biggest)
    parts = list(legend)
    tick = 0.0
    while tick <= axis_max + 1e-9:
        y = bottom - tick / axis_max * plot_height
        parts.append(f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 8}" y="{y + 7:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    parts.append(f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    middle = (top + bottom) / 2
    parts.append(
        f'<text class="axis-title" x="18" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 18 {middle})">{escape(count_label)}</text>'
    )
    group = plot_width / n
    bar = min(group * 0.8 / max(len(bars), 1), 56)
    numbered = all(_text_width(_fmt(v), SMALL) <= bar + 6 for s in bars for v in s.values if v is not None)
    for index in range(n):
        start = left + index * group + (group - bar * len(bars)) / 2
        for number, series in enumerate(bars):
            value = series.values[index] if index < len(series.values) else None
            if value is None:
                continue
            x = start + number * bar
            h = value / axis_max * plot_height
            href = series.hrefs[index] if index < len(series.hrefs) else None
            shape = (
                f'<rect class="{series.css}" x="{x:.1f}" y="{bottom - h:.1f}" width="{bar - 2:.1f}" '
                f'height="{h:.1f}"><title>{escape(series.label)} · {escape(categories[index])}: '
                f'{_fmt(value)}</title></rect>'
            )
            if numbered:
                shape += (
                    f'<text class="value" x="{x + (bar - 2) / 2:.1f}" y="{bottom - h - 6:.1f}" '
                    f'text-anchor="middle">{_fmt(value)}</text>'
                )
            parts.append(_link(shape, href))
    points = [
        (left + (index + 0.5) * group, bottom - value / axis_max * plot_height, value, index)
        for index, value in enumerate(line.values) if value is not None
    ]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _i in points)
        parts.append(f'<polyline class="{line.css}" points="{path}"/>')
    for x, y, value, index in points:
        href = line.hrefs[index] if index < len(line.hrefs) else None
        marker = _marker(line.css, x, y).replace(
            "/>", f"><title>{escape(line.label)} · {escape(categories[index])}: {_fmt(value)}</title></circle>"
        ) if not line.css.endswith("b") else _marker(line.css, x, y)
        parts.append(_link(marker, href))
    widest = max([_text_width(c, FONT) for c in categories] or [0])
    every = max(1, math.ceil((widest + 12) / group))
    for index, label in enumerate(categories):
        if index % every:
            continue
        x = left + (index + 0.5) * group
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 30}" text-anchor="middle">{escape(label)}</text>')
    return _frame(chart_id, title, desc, height, parts)


def sparkline(*, chart_id: str, values: list[float | None], labels: list[str], percent: bool = False,
              target: float | None = None, target_label: str | None = None) -> Markup:
    """Return a small weekly line (no axes) for a tile; each week's exact value is its tooltip (``<title>``).

    Drawn to fill its box (``preserveAspectRatio="none"``): the line keeps
    its width whatever the stretch. ``target`` (percent charts): the promised
    share as a dashed line, with its own tooltip. Percent lines run 0–100,
    counts from 0 to the largest week.
    """
    width, height, pad = 120.0, 32.0, 3.0
    n = max(len(values), 1)
    known = [v for v in values if v is not None]
    top = 100.0 if percent else max(known + [target or 0, 1])
    if percent and known:
        # A 0–100 axis flattens a line between 90 % and 100 %: start the axis below the lowest point.
        low = min(known + ([target] if target is not None else []))
        bottom = max(0.0, math.floor((low - 5) / 10) * 10)
    else:
        bottom = 0.0
    span = max(top - bottom, 1e-9)
    step = width / n

    def y(value: float) -> float:
        return pad + (height - 2 * pad) * (1 - (value - bottom) / span)

    parts = []
    if target is not None:
        parts.append(
            f'<line class="spark-target" x1="0" x2="{width}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            f'vector-effect="non-scaling-stroke"><title>{escape(target_label or "")}: {_fmt(target, True)}</title>'
            f"</line>"
        )
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{(i + 0.5) * step:.1f},{y(v):.1f}" for i, v in points)
        parts.append(f'<polyline class="spark-line" points="{path}" vector-effect="non-scaling-stroke"/>')
    for index, value in enumerate(values):
        label = labels[index] if index < len(labels) else ""
        text = _fmt(value, percent) if value is None or percent else format(round(value, 2), "g")
        parts.append(
            f'<rect class="spark-hit" x="{index * step:.1f}" y="0" width="{step:.1f}" height="{height}">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
        )
    return Markup(
        f'<svg class="spark" id="{escape(chart_id)}" viewBox="0 0 {width:g} {height:g}" preserveAspectRatio="none" '
        f'aria-hidden="true" focusable="false">' + "".join(parts) + "</svg>"
    )
