"""Service standards pages: start a replay of a draft, follow it, compare, drill down to a request.

Administrators replay any centre or the campus, centre heads their own
centres (the service checks); others get 403. A replay runs in a worker
(``standards.replay``); its page polls its JSON for the progress bar
(static/js/job_progress.js: no inline script, CSP).
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_, pN_
from tracker.domain.sla_clock import STATE_LABELS, TARGET_LABELS, Target, TargetState
from tracker.errors import TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.forms import options
from tracker.forms.standards import HistoryForm, ReplayForm
from tracker.models import Centre, ReplayStatus
from tracker.services.insight import reports
from tracker.services.sla.standards import history, promises, saved
from tracker.services.sla.standards import replay as replays
from tracker.web.dashboards import figure_text
from tracker.web.gettext import label_text
from tracker.web.once import repeat_of
from tracker.web.timeline import timeline_svg

bp = Blueprint("standards", __name__, url_prefix="/standards")

STATUS_LABELS = {
    ReplayStatus.QUEUED: N_("Waiting for a worker"),
    ReplayStatus.RUNNING: pN_("job", "Running"),
    ReplayStatus.DONE: N_("Done"),
    ReplayStatus.FAILED: N_("Failed"),
}


def _centre_choices(*, campus_label: str) -> list:
    centres = db.session.query(Centre).order_by(Centre.code).all()
    if not current_user.has_role(Role.ADMIN):
        heads = current_user.centre_ids(Role.CENTRE_HEAD)
        centres = [c for c in centres if c.id in heads]
        choices = []
    else:
        choices = [("", campus_label)]
    locale = str(get_locale())
    return options(choices + [(str(c.id), c.name_for(locale)) for c in centres])


def _form() -> ReplayForm:
    form = ReplayForm()  # the request's form on a POST
    form.centre.choices = _centre_choices(campus_label=_("All centres"))
    return form


def _index(form: ReplayForm, status: int = 200):
    return render_template("standards/index.html", form=form, replays=saved.list_replays(actor=current_user),
                           locale=str(get_locale()),
                           status_labels={k: label_text(v) for k, v in STATUS_LABELS.items()}), status


@bp.route("/")
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def index():
    form = _form()
    version_id = request.args.get("version", type=int)
    if version_id is not None:
        # From a draft version's page: replay that version, and keep the replay with it.
        try:
            document = saved.draft_of_version(version_id, actor=current_user)
        except TrackerError:
            abort(404)
        form.version.data = str(version_id)
    else:
        # A copy of the current standards to edit: the draft starts from them.
        document = saved.current_document(current_user)
    form.draft.data = json.dumps(document, ensure_ascii=False, indent=1)
    return _index(form)


@bp.route("/", methods=["POST"])
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def start():
    form = _form()
    if not form.validate():
        flash(_("Please correct the marked fields; nothing was saved."), "error")
        return _index(form, 400)
    if (earlier := repeat_of(form, "replay", landing=lambda row_id: url_for(
            "standards.detail", replay_id=row_id))) is not None:
        return earlier
    try:
        draft = None
        if (form.draft.data or "").strip():
            try:
                draft = json.loads(form.draft.data)
            except ValueError:
                raise ValidationFailed(N_("The draft is not valid JSON.")) from None
            if not isinstance(draft, dict):
                raise ValidationFailed(N_("The draft is not valid JSON."))
        version_id = _version_id(form.version.data)
        if version_id is not None:
            saved.draft_of_version(version_id, actor=current_user)  # may this actor replay it?
        row = saved.start_replay(name=form.name.data, first=form.first.data, last=form.last.data,
                                 centre_id=int(form.centre.data) if form.centre.data else None, draft=draft,
                                 policy_version_id=version_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
        return _index(form, 400)
    return redirect(url_for("standards.detail", replay_id=row.id))


def _version_id(value) -> int | None:
    if not value:
        return None
    if not str(value).isdigit() or int(value) > 2**31 - 1:
        raise ValidationFailed(N_("That draft version does not exist."))
    return int(value)


def _status(row) -> dict:
    return {"id": row.id, "status": row.status.value, "status_label": label_text(STATUS_LABELS[row.status]),
            "percent": row.percent, "done": row.progress_done, "total": row.progress_total,
            "is_finished": row.status in (ReplayStatus.DONE, ReplayStatus.FAILED), "message": saved.shown_message(row)}


def _detail(row, *, shared: bool):
    centres = {c.code: c for c in db.session.query(Centre).all()}
    # Replays saved before the comparison existed carry no "benchmarks".
    against = [promises.Comparison.from_dict(d) for d in (row.result or {}).get("benchmarks", [])]
    return render_template("standards/detail.html", replay=row, status=_status(row), shared=shared,
                           result=row.result, centres=centres, locale=str(get_locale()), against=against,
                           centre_names={c.id: c.name_for(str(get_locale())) for c in centres.values()},
                           standard_text=promises.standard_text, benchmark_text=promises.benchmark_text,
                           limits_text=promises.limits_text, figure_text=figure_text,
                           target_labels={t.value: _(label) for t, label in TARGET_LABELS.items()})


@bp.route("/replays/<int:replay_id>")
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def detail(replay_id):
    return _detail(saved.get_replay(replay_id, actor=current_user), shared=False)


@bp.route("/replays/<int:replay_id>.json")
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def status(replay_id):
    return jsonify(_status(saved.get_replay(replay_id, actor=current_user)))


@bp.route("/shared/<token>")
@require_role(Role.ADMIN, Role.CENTRE_HEAD, Role.LEADERSHIP)
def shared(token):
    return _detail(saved.shared_replay(token, actor=current_user), shared=True)


@bp.route("/replays/<int:replay_id>/requests/<reference>")
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def request_timelines(replay_id, reference):
    row = saved.get_replay(replay_id, actor=current_user)
    ticket, stored, drafted = saved.timelines(row, reference)
    as_of = saved.replay_instant(row)
    targets = [t for t in Target if t in stored or t in drafted]
    return render_template(
        "standards/request.html", replay=row, ticket=ticket, targets=targets, stored=stored, drafted=drafted,
        svg={(side, t): timeline_svg(clocks[t], as_of) for side, clocks in (("stored", stored), ("draft", drafted))
             for t in clocks},
        target_labels={t: _(label) for t, label in TARGET_LABELS.items()},
        state_labels={s: _(label) for s, label in STATE_LABELS.items()}, TargetState=TargetState,
    )


@bp.route("/history")
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def history_page():
    """What the last weeks achieved for a share (per centre, category, priority and target)."""
    form = HistoryForm(request.args)
    form.centre.choices = _centre_choices(campus_label=_("All centres"))
    rows, period, status = [], None, 200
    if request.args and form.validate():
        centre_id = int(form.centre.data) if form.centre.data else None
        try:
            if centre_id is None and not current_user.has_role(Role.ADMIN):
                raise ValidationFailed(N_("Choose one of your centres."))
            if centre_id is not None and not saved.can_replay(current_user, centre_id):
                raise ValidationFailed(N_("Choose one of your centres."))
            period = history.weeks_back(reports.local_day(utcnow()), form.weeks.data or 12)
            rows = history.supported(replays.filters_for(*period, centre_id=centre_id),
                                     (form.share.data or 90) / 100)
        except TrackerError as error:
            flash(error.translated(), "error")
            status = 400
    elif request.args:
        status = 400  # the fields say what is wrong
    return render_template("standards/history.html", form=form, rows=rows, period=period,
                           target_labels={t.value: _(label) for t, label in TARGET_LABELS.items()}), status
