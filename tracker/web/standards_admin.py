"""Pages of the service standards: the list per centre, drafts and publishing, the benchmark register.

Administrators do everything; a centre head works on the standards of
policies only their centre uses and links them to benchmarks; leadership
reads. (Replays of a draft are tracker/web/standards.py's.)
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import PRIORITY_LABELS, Priority
from tracker.errors import TrackerError
from tracker.forms import options
from tracker.forms.standards import (
    ActionForm,
    BenchmarkForm,
    BenchmarkImportForm,
    DraftForm,
    LinkForm,
    PublishForm,
)
from tracker.i18n import when
from tracker.services.admin import centres as admin_service
from tracker.services.insight import reports
from tracker.services.sla.standards import benchmarks, drafts, promises, saved
from tracker.web.once import repeat_of

bp = Blueprint("standards_admin", __name__, url_prefix="/standards")

READERS = (Role.ADMIN, Role.CENTRE_HEAD, Role.LEADERSHIP)
WRITERS = (Role.ADMIN, Role.CENTRE_HEAD)


def _flash_errors(form) -> None:
    flash(_("Please correct the marked fields; nothing was saved."), "error")
    for message in getattr(form, "form_errors", []):
        flash(message, "error")


# ---------------------------------------------------------------- standards


def target_lines(definition: dict) -> list[tuple[str, str]]:
    """Return each target of a version as (target, "30 min, 24×7, 95 %"), limits per priority when they differ."""
    round_the_clock = promises.round_the_clock_calendars()
    lines = []
    for target in Target:
        rule = (definition.get("targets") or {}).get(target.value)
        if rule is None:
            continue
        minutes = {p: rule["minutes"][p.value] for p in Priority if rule.get("minutes", {}).get(p.value) is not None}
        if len(set(minutes.values())) == 1:
            limit = promises.limit_text(next(iter(minutes.values())), "minutes")
        else:
            limit = " · ".join(f"{_(PRIORITY_LABELS[p])} {promises.limit_text(m, 'minutes')}"
                               for p, m in minutes.items())
        parts = [limit, "24×7" if rule.get("calendar") in round_the_clock else
                 _("working hours") + f" ({rule.get('calendar')})"]
        if rule.get("share") is not None:
            parts.append(f"{float(rule['share']) * 100:.1f}".removesuffix(".0") + " %")
        lines.append((_(TARGET_LABELS[target]), ", ".join(parts)))
    return lines


@bp.route("/centres")
@require_role(*READERS)
def centres():
    now = utcnow()
    try:
        listed = drafts.centre_standards(current_user, now)
    except TrackerError:
        abort(403)
    return render_template("standards_admin/centres.html", listed=listed, target_lines=target_lines,
                           action_form=ActionForm(formdata=None))


@bp.route("/policies/<int:policy_id>/drafts", methods=["POST"])
@require_role(*WRITERS)
def draft_new(policy_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        draft = drafts.create_draft(policy_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        if error.http_status == 403:
            abort(403)
        flash(error.translated(), "error")
        return redirect(url_for("standards_admin.centres"))
    flash(_("Draft %(number)d is a copy of the standard in force: edit it, then publish it.", number=draft.number),
          "success")
    return redirect(url_for("standards_admin.draft_edit", version_id=draft.id))


def _editable_draft(version_id: int):
    try:
        version = drafts.get_version(version_id)
    except TrackerError:
        abort(404)
    if not drafts.may_edit(current_user, version.policy_id):
        abort(403)
    if not version.is_draft:
        flash(_("Version %(number)d is published: it never changes. Make a new draft.", number=version.number),
              "error")
        return version, redirect(url_for("standards_admin.centres"))
    return version, None


def _calendar_choices(form) -> None:
    pairs = [(c.code, f"{c.code} — {c.name_for(str(_locale()))}") for c in admin_service.all_calendars()]
    form.set_calendar_choices(options([(None, _("Choose…")), *pairs]), options([(None, _("— send at once —")), *pairs]))


def _locale():
    from flask_babel import get_locale

    return get_locale()


@bp.route("/drafts/<int:version_id>", methods=["GET", "POST"])
@require_role(*WRITERS)
def draft_edit(version_id):
    version, away = _editable_draft(version_id)
    if away is not None:
        return away
    policy = version.policy
    form = DraftForm() if request.method == "POST" else DraftForm(data=DraftForm.data_from(policy, version))
    _calendar_choices(form)
    if form.validate_on_submit():
        try:
            drafts.save_draft(version.id, definition=form.definition(), note=form.note.data or "",
                              actor=current_user, now=utcnow())
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Draft %(number)d saved. It changes nothing until it is published.", number=version.number),
                  "success")
            return redirect(url_for("standards_admin.draft_edit", version_id=version.id))
    elif form.is_submitted():
        _flash_errors(form)
    return render_template("standards_admin/draft.html", form=form, version=version, policy=policy,
                           publish_form=PublishForm(data={"effective_on": reports.local_day(utcnow())}),
                           action_form=ActionForm(formdata=None),
                           lines=target_lines(version.definition),
                           replays=saved.list_replays(actor=current_user, policy_version_id=version.id))


@bp.route("/drafts/<int:version_id>/discard", methods=["POST"])
@require_role(*WRITERS)
def draft_discard(version_id):
    version, away = _editable_draft(version_id)
    if away is not None:
        return away
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        drafts.discard_draft(version.id, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(_("The draft is discarded."), "success")
    return redirect(url_for("standards_admin.centres"))


@bp.route("/drafts/<int:version_id>/publish", methods=["POST"])
@require_role(*WRITERS)
def draft_publish(version_id):
    version, away = _editable_draft(version_id)
    if away is not None:
        return away
    form = PublishForm()
    if not form.validate_on_submit():
        for error in form.effective_on.errors:
            flash(str(error), "error")
        return redirect(url_for("standards_admin.draft_edit", version_id=version.id))
    try:
        drafts.publish(version.id, effective_on=form.effective_on.data, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
        return redirect(url_for("standards_admin.draft_edit", version_id=version.id))
    flash(_("Version %(number)d is published: requests filed from %(day)s get it; requests filed before keep "
            "theirs.", number=version.number, day=when(form.effective_on.data)), "success")
    return redirect(url_for("standards_admin.centres"))


# ---------------------------------------------------------------- benchmarks


def _benchmark_values(form: BenchmarkForm) -> dict:
    return {"source": form.source_name.data, "url": form.source_url.data, "year": form.read_year.data,
            "country": form.country.data, "service": form.service.data, "class": form.service_class.data,
            "target": form.target.data, "limit": form.limit.data, "calendar": form.calendar.data,
            "share": form.share.data, "note": form.note.data}


@bp.route("/benchmarks", methods=["GET", "POST"])
@require_role(*READERS)
def benchmark_list():
    may_add = benchmarks.may_add(current_user)
    form = BenchmarkForm(data={"read_year": utcnow().year} if request.method == "GET" else None)
    if request.method == "POST":
        if not may_add:
            abort(403)
        if form.validate_on_submit():
            if (earlier := repeat_of(form, "benchmark", landing=lambda _id: url_for(
                    "standards_admin.benchmark_list"))) is not None:
                return earlier
            try:
                benchmarks.create(_benchmark_values(form), actor=current_user, now=utcnow())
            except TrackerError as error:
                flash(error.translated(), "error")
            else:
                flash(_("The benchmark is added."), "success")
                return redirect(url_for("standards_admin.benchmark_list"))
        else:
            _flash_errors(form)
    return render_template(
        "standards_admin/benchmarks.html", rows=benchmarks.all_benchmarks(), form=form, may_add=may_add,
        import_form=BenchmarkImportForm(data={"read_year": utcnow().year}), benchmark_text=promises.benchmark_text,
        user_id=current_user.id, is_admin=current_user.has_role(Role.ADMIN), action_form=ActionForm(formdata=None),
    )


@bp.route("/benchmarks/import", methods=["POST"])
@require_role(*WRITERS)
def benchmark_import():
    form = BenchmarkImportForm()
    if not form.validate_on_submit() or not form.file.data:
        flash(_("Choose a CSV file and give the year its values were read."), "error")
        return redirect(url_for("standards_admin.benchmark_list"))
    try:
        result = benchmarks.import_csv(form.file.data.read(), read_year=form.read_year.data, actor=current_user,
                                       now=utcnow())
    except TrackerError as error:
        if error.http_status == 403:
            abort(403)
        flash(error.translated(), "error")
        return redirect(url_for("standards_admin.benchmark_list"))
    if result.errors:
        flash(_("Nothing was imported: correct these rows and import the file again."), "error")
        for row in result.errors:
            flash(_("Row %(row)d: %(error)s", row=row.row, error=row.error.translated()), "error")
    else:
        flash(_("%(created)d benchmarks imported; %(skipped)d already in the register.", created=result.created,
                skipped=result.skipped), "success")
    return redirect(url_for("standards_admin.benchmark_list"))


@bp.route("/benchmarks/<int:benchmark_id>/delete", methods=["POST"])
@require_role(*WRITERS)
def benchmark_delete(benchmark_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        benchmarks.delete(benchmark_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        if error.http_status in (403, 404):
            abort(error.http_status)
        flash(error.translated(), "error")
    else:
        flash(_("The benchmark is removed."), "success")
    return redirect(url_for("standards_admin.benchmark_list"))


def _link_choices(form: LinkForm) -> list:
    """Offer the targets of the policies the user may work on, every priority, and every benchmark."""
    locale = str(_locale())
    editable = [p for p in admin_service.all_policies() if drafts.may_edit(current_user, p.id)]
    pairs = []
    for policy in editable:
        version = policy.current_version
        for target in Target:
            if version is not None and target.value in (version.definition.get("targets") or {}):
                pairs.append((f"{policy.id}:{target.value}", f"{policy.name_for(locale)} › {_(TARGET_LABELS[target])}"))
    form.policy_target.choices = options([(None, _("Choose…")), *pairs])
    form.priority.choices = options([(None, _("Every priority")),
                                     *[(p.value, _(PRIORITY_LABELS[p])) for p in Priority]])
    form.benchmark.choices = options([(None, _("Choose…")), *[
        (str(b.id), f"{b.source_name} · {b.service} {b.service_class} {b.target}: {promises.benchmark_text(b)}")
        for b in benchmarks.all_benchmarks()]])
    return editable


@bp.route("/links", methods=["GET", "POST"])
@require_role(*READERS)
def links():
    form = LinkForm()
    editable = _link_choices(form)
    if request.method == "POST":
        if not editable:
            abort(403)
        if form.validate_on_submit():
            policy_id, target = form.policy_target.data.split(":", 1)
            try:
                benchmarks.link(int(policy_id), target, int(form.benchmark.data), priority=form.priority.data or None,
                                actor=current_user, now=utcnow())
            except TrackerError as error:
                if error.http_status == 403:
                    abort(403)
                flash(error.translated(), "error")
            else:
                flash(_("The standard is set beside the benchmark."), "success")
                return redirect(url_for("standards_admin.links"))
        else:
            _flash_errors(form)
    policies = {p.id: p for p in admin_service.all_policies()}
    if current_user.has_any_role(Role.ADMIN, Role.LEADERSHIP):
        shown = list(policies)
    else:
        shown = [p.id for p in editable]
    return render_template("standards_admin/links.html", form=form, may_link=bool(editable),
                           rows=benchmarks.links_of(shown), policies=policies,
                           editable={p.id for p in editable}, benchmark_text=promises.benchmark_text,
                           action_form=ActionForm(formdata=None))


@bp.route("/links/<int:link_id>/delete", methods=["POST"])
@require_role(*WRITERS)
def link_delete(link_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        benchmarks.unlink(link_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        if error.http_status in (403, 404):
            abort(error.http_status)
        flash(error.translated(), "error")
    else:
        flash(_("The link is removed."), "success")
    return redirect(url_for("standards_admin.links"))
