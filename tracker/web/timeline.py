"""Server-drawn SVG timelines of SLA targets (no script, no inline style: CSP)."""

from datetime import datetime

from flask_babel import format_datetime, gettext
from markupsafe import Markup, escape

from tracker.domain.sla_clock import Clock
from tracker.domain.workflow import HOLD_REASON_LABELS, HoldReason

WIDTH = 1000
HEIGHT = 18
KIND_CLASS = {"running": "tl-running", "paused": "tl-paused", "outside_hours": "tl-outside"}


def _label(segment) -> str:
    if segment.kind == "paused":
        try:
            reason = gettext(HOLD_REASON_LABELS[HoldReason(segment.reason)])
        except ValueError:
            reason = gettext("Waiting for the requester's confirmation")
        what = gettext("Paused: %(reason)s", reason=reason)
    elif segment.kind == "running":
        what = gettext("Clock running")
    else:
        what = gettext("Outside working hours")
    return f"{what} · {format_datetime(segment.start, 'short')} – {format_datetime(segment.end, 'short')}"


def timeline_svg(clock: Clock, now: datetime) -> Markup:
    """Return an SVG bar of the clock's segments, with its deadline marked."""
    if not clock.segments or clock.started_at is None:
        return Markup("")
    start = clock.started_at
    end = max(clock.segments[-1].end, clock.due_at or start, now if clock.milestone_at is None else start)
    span = (end - start).total_seconds() or 1.0

    def x(instant: datetime) -> float:
        return round((instant - start).total_seconds() / span * WIDTH, 2)

    parts = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT + 6}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(gettext("Timeline"))}">'
    ]
    for segment in clock.segments:
        left, right = x(segment.start), x(segment.end)
        if right - left <= 0:
            continue
        parts.append(
            f'<rect class="{KIND_CLASS[segment.kind]}" x="{left}" y="3" width="{round(right - left, 2)}" '
            f'height="{HEIGHT}"><title>{escape(_label(segment))}</title></rect>'
        )
    if clock.due_at is not None:
        due = x(clock.due_at)
        parts.append(
            f'<line class="tl-due" x1="{due}" x2="{due}" y1="0" y2="{HEIGHT + 6}">'
            f'<title>{escape(gettext("Deadline"))} · {escape(format_datetime(clock.due_at, "short"))}</title></line>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
