"""Scorecards: technicians' and contractors' figures for a period, on a page and in xlsx."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.workflow import HOLD_REASON_LABELS, HoldReason
from tracker.errors import TrackerError, ValidationFailed
from tracker.models.scorecards import FOLLOW_UP_COLUMNS, SCORED_TARGETS
from tracker.services.insight import reports
from tracker.services.insight.scorecards import cards as card_service
from tracker.services.requests import catalog
from tracker.web.downloads import table_file
from tracker.web.routing import int_arg

bp = Blueprint("scorecards", __name__, url_prefix="/scorecards")

TARGET_LABELS = {"response": N_("Response"), "arrival": N_("Arrival"), "resolution": N_("Resolution")}
FOLLOW_UP_LABELS = {
    "reached": N_("Reached"),
    "not_reached": N_("Not reached"),
    "resolved": N_("Concern settled"),
    "escalated": N_("Passed on"),
}


def _period() -> tuple[date, date]:
    """Return the period asked for (default: this month to today); a bad date or span raises ValidationFailed."""
    today = reports.local_day(utcnow())
    first_default, last_default = reports.preset_period("this_month", today)
    raw_first, raw_last = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    try:
        first = date.fromisoformat(raw_first) if raw_first else first_default
        last = date.fromisoformat(raw_last) if raw_last else last_default
    except ValueError:
        raise ValidationFailed(N_("Write dates as YYYY-MM-DD, e.g. 2026-03-01.")) from None
    card_service.check_period(first, last)
    return first, last


def _percent(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _headers(group: str) -> list[str]:
    headers = [_("Technician") if group == "technician" else _("Contractor"), _("Requests handled")]
    for target in SCORED_TARGETS:
        label = _(TARGET_LABELS[target])
        headers += [
            _("%(target)s on time %%", target=label),
            _("%(target)s promised %%", target=label),
            _("%(target)s gap (points)", target=label),
        ]
    headers += [
        _("Rework"),
        _("Rework %%"),
        _("Closed automatically"),
        _("Real ratings"),
        _("Average rating"),
    ]
    headers += [_("Follow-ups: %(result)s", result=_(FOLLOW_UP_LABELS[r])) for r in FOLLOW_UP_COLUMNS]
    headers += [_("Hours on hold: %(reason)s", reason=_(HOLD_REASON_LABELS[r])) for r in HoldReason]
    return headers


def _row(card) -> list:
    row = [card.name or _("All in view"), card.handled]
    for target in SCORED_TARGETS:
        gap = card.gap(target)
        row += [_round(card.on_time_percent(target)), _round(card.promised_percent(target)), _round(gap)]
    rating = card.rating
    row += [
        card.counts["reworked"],
        _round(card.rework_percent),
        card.counts["auto_closed"],
        card.counts["rating_count"],
        None if rating is None else round(rating, 2),
    ]
    row += [card.counts[f"fu_{r}"] for r in FOLLOW_UP_COLUMNS]
    row += [round(card.hold_hours(r.value), 1) for r in HoldReason]
    return row


def _round(value):
    return None if value is None else round(value, 1)


def _load(group: str, first: date, last: date, centre_id: int | None):
    now = utcnow()
    if group == "contractor":
        return card_service.contractor_cards(current_user, first, last, now=now, centre_id=centre_id)
    technician_id = None
    if not card_service.sees_all(current_user) and not current_user.centre_ids(card_service.Role.CENTRE_HEAD):
        technician_id = current_user.id  # a technician: their own card only
    return card_service.technician_cards(
        current_user, first, last, now=now, centre_id=centre_id, technician_id=technician_id
    )


@bp.route("")
@require_role(*card_service.READERS)
def index():
    group = request.args.get("group") or "technician"
    if group not in card_service.GROUPS:
        abort(404)
    centre_id = int_arg("centre")
    today = reports.local_day(utcnow())
    try:
        first, last = _period()
        rows, total = _load(group, first, last, centre_id)
        error = None
    except TrackerError as refused:
        flash(refused.translated(), "error")
        first, last = reports.preset_period("this_month", today)
        rows, total, error = [], None, refused
    may_group = card_service.sees_all(current_user) or bool(
        current_user.centre_ids(card_service.Role.CENTRE_HEAD)
    )
    own = None
    jobs = []
    if error is None and group == "technician" and len(rows) <= 1 and not may_group:
        own = rows[0] if rows else None
        jobs = card_service.handled_jobs(current_user, current_user.id, first, last)
    technician_id = int_arg("technician")
    if error is None and technician_id is not None and group == "technician":
        jobs = card_service.handled_jobs(current_user, technician_id, first, last)
    centres = (
        []
        if not may_group
        else [
            c
            for c in catalog.all_centres()
            if card_service.sees_all(current_user)
            or c.id in current_user.centre_ids(card_service.Role.CENTRE_HEAD)
        ]
    )
    return render_template(
        "scorecards/index.html",
        group=group,
        rows=rows,
        total=total,
        first=first,
        last=last,
        centre_id=centre_id,
        centres=centres,
        may_group=may_group,
        own=own,
        jobs=jobs,
        technician_id=technician_id,
        targets=SCORED_TARGETS,
        target_labels=TARGET_LABELS,
        follow_up_labels=FOLLOW_UP_LABELS,
        hold_reasons=list(HoldReason),
        hold_labels=HOLD_REASON_LABELS,
        percent=_percent,
        rework_days=_rework_days(),
    )


def _rework_days() -> int:
    from flask import current_app

    return current_app.config["SCORECARD_REWORK_DAYS"]


@bp.route("/export.xlsx")
@require_role(*card_service.READERS)
def export():
    group = request.args.get("group") or "technician"
    if group not in card_service.GROUPS:
        abort(404)
    try:
        first, last = _period()
        rows, total = _load(group, first, last, int_arg("centre"))
    except TrackerError as refused:
        status = refused_status(refused)
        return render_template("errors/error.html", code=status, message=refused.translated()), status
    title = _("Scorecards %(first)s to %(last)s", first=first.isoformat(), last=last.isoformat())
    body = [_row(card) for card in rows] + [_row(total)]
    return table_file(
        f"scorecards_{group}_{first.isoformat()}_{last.isoformat()}.xlsx", title, _headers(group), body
    )


def refused_status(error: TrackerError) -> int:
    return 403 if error.code == "forbidden" else 400
