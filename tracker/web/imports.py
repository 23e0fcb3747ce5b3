"""Importing historical tickets: saved mappings, runs (dry or real) and their progress.

Administrators only: a mapping may create centres and categories, and a
source's row ids are unique across the whole desk, so one centre's head
cannot be given a share of it safely. Runs are executed by a worker
(``imports.run``); the run's page polls its JSON for the progress bar.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.utils import secure_filename
from wtforms import StringField
from wtforms.validators import Length, Optional
from wtforms.validators import ValidationError as WTFValidationError

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.domain.i18n import N_, pN_
from tracker.domain.workflow import Priority
from tracker.errors import TrackerError, ValidationFailed
from tracker.extensions import csrf, db
from tracker.forms import options
from tracker.forms.imports import AgainForm, DuplicateForm, MappingForm, RunForm
from tracker.forms.zones import zone_choices
from tracker.models import RunStatus, SlaPolicy
from tracker.services.insight import reports
from tracker.services.insight.exports import csv_lines
from tracker.services.requests import importer
from tracker.web.gettext import label_text
from tracker.web.once import repeat_of

bp = Blueprint("imports", __name__, url_prefix="/admin/imports")

# Upload limit of one run's files together (the app's own limit is an attachment's).
MAX_UPLOAD_BYTES = 2 * 1024**3
PRIORITY_LABELS = {"urgent": N_("Urgent"), "high": N_("High"), "normal": N_("Normal"), "low": N_("Low")}
STATUS_LABELS = {
    RunStatus.PENDING: N_("Waiting for a worker"),
    RunStatus.RUNNING: pN_("job", "Running"),
    RunStatus.DONE: N_("Done"),
    RunStatus.FAILED: N_("Failed"),
}


@bp.url_value_preprocessor
def _upload_limit(endpoint, _values):
    # Before any before_request reads the form (tracker.web.errors checks its text).
    if endpoint == "imports.start":
        request.max_content_length = MAX_UPLOAD_BYTES


class FullMappingForm(MappingForm):
    pass


for _name, _label, _required in importer.FIELDS:
    setattr(FullMappingForm, f"col_{_name}",
            StringField(lazy_gettext(_label), validators=[Optional(), Length(max=120)]))


def _zones(blank: str | None = None) -> list:
    return zone_choices(campus=current_app.config["TRACKER_TIMEZONE"], locale=str(get_locale()), now=utcnow(),
                        blank=blank)


def _upload_folder() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "imports"


# ---------------------------------------------------------------- runs


@bp.route("/")
@require_role(Role.ADMIN)
def index():
    importer.ensure_builtin_mappings(now=utcnow())
    form = _run_form()
    return _index(form)


def _index(form: RunForm, status: int = 200):
    return render_template(
        "imports/index.html",
        form=form,
        mappings=importer.all_mappings(),
        runs=importer.recent_runs(),
        status_labels=STATUS_LABELS,
        max_bytes=MAX_UPLOAD_BYTES,
    ), status


def _run_form(formdata=None) -> RunForm:
    form = RunForm(formdata) if formdata is not None else RunForm()
    form.mapping.choices = options([(str(m.id), f"{m.name} ({m.code})") for m in importer.all_mappings()])
    form.time_zone.choices = _zones(blank=_("The mapping's time zone"))
    form.encoding.choices = [(code, _(label)) for code, label in importer.ENCODINGS.items()]
    return form


@bp.route("/", methods=["POST"])
@csrf.exempt  # checked below, once the larger upload limit applies (the global check reads the body first)
@require_role(Role.ADMIN)
def start():
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        validate_csrf(request.form.get("csrf_token"))
    except WTFValidationError as error:
        raise CSRFError(str(error)) from None
    form = _run_form(request.form)
    uploads = [f for f in request.files.getlist(form.files.name) if f and f.filename]
    if not form.validate():
        flash(_("Please correct the marked fields; nothing was saved."), "error")
        return _index(form, 400)
    mapping = importer.get_mapping(int(form.mapping.data))
    if (earlier := repeat_of(form, "import_run", landing=lambda run_id: url_for(
            "imports.run", run_id=run_id))) is not None:
        return earlier
    try:
        if not uploads:
            raise ValidationFailed(N_("Choose at least one file."))
        for upload in uploads:
            importer.check_file_name(upload.filename)
        as_of = None
        if form.as_of.data:
            try:
                local = datetime.fromisoformat(form.as_of.data.strip())
            except ValueError:
                raise ValidationFailed(N_("Write the time like 2016-01-13 00:00.")) from None
            as_of = importer.ensure_aware(local, form.time_zone.data or mapping.time_zone)
        folder = _upload_folder() / secrets.token_hex(8)
        folder.mkdir(parents=True)
        files = []
        for number, upload in enumerate(uploads, 1):
            # The stored name is ours; the shown name is the user's.
            stored = folder / f"{number}-{secure_filename(upload.filename) or 'upload'}"
            suffix = importer.check_file_name(upload.filename)
            if not stored.name.lower().endswith(suffix):
                stored = stored.with_name(stored.name + suffix)
            upload.save(stored)
            files.append({"name": upload.filename[:255], "path": str(stored)})
        run = importer.create_run(mapping=mapping, files=files, dry_run=form.dry_run.data, as_of=as_of,
                                  time_zone=form.time_zone.data or None, encoding=form.encoding.data,
                                  actor=current_user, now=utcnow(),
                                  enqueue=True)
    except TrackerError as error:
        flash(error.translated(), "error")
        return _index(form, 400)
    return redirect(url_for("imports.run", run_id=run.id))


@bp.route("/runs/<int:run_id>")
@require_role(Role.ADMIN)
def run(run_id):
    found = importer.get_run(run_id)
    errors = importer.row_errors(run_id, size=200)
    return render_template(
        "imports/run.html",
        run=found,
        status=_status(found),
        errors=[(e, importer.error_text(e)) for e in errors],
        error_kinds=[(_(message), count) for message, count in (found.report or {}).get("error_kinds", {}).items()],
        stored_errors=importer.stored_error_count(run_id),
        again_form=AgainForm(),
        field_labels=importer.FIELD_LABELS,
        campus_zone=reports.campus_zone().key,
        encoding_label=_(importer.ENCODINGS.get(found.settings.get("encoding") or "utf-8", "UTF-8")),
    )


def _status(run) -> dict:
    now = utcnow()
    return {
        "id": run.id,
        "status": run.status.value,
        "status_label": label_text(STATUS_LABELS[run.status]),
        "phase": run.phase,
        "phase_label": _("Counting the dashboards' days") if run.phase == "summary" else _("Reading rows"),
        "percent": run.percent,
        "is_dry_run": run.is_dry_run,
        "is_finished": run.status in (RunStatus.DONE, RunStatus.FAILED),
        "is_stalled": importer.is_stalled(run, now),
        "rows_total": run.rows_total,
        "rows_imported": run.rows_imported,
        "rows_skipped": run.rows_skipped,
        "rows_error": run.rows_error,
        "message": run.message,
    }


@bp.route("/runs/<int:run_id>.json")
@require_role(Role.ADMIN)
def run_status(run_id):
    return jsonify(_status(importer.get_run(run_id)))


@bp.route("/runs/<int:run_id>/again", methods=["POST"])
@require_role(Role.ADMIN)
def run_again(run_id):
    form = AgainForm()
    if not form.validate_on_submit():
        abort(400)
    earlier = importer.get_run(run_id)
    # A finished dry run is made real; a failed or stalled run is run again as it was.
    dry_run = earlier.is_dry_run and earlier.status is not RunStatus.DONE
    try:
        again = importer.run_again(run_id, dry_run=dry_run, actor=current_user, now=utcnow(), enqueue=True)
    except TrackerError as error:
        flash(error.translated(), "error")
        return redirect(url_for("imports.run", run_id=run_id))
    return redirect(url_for("imports.run", run_id=again.id))


@bp.route("/runs/<int:run_id>/errors.csv")
@require_role(Role.ADMIN)
def errors_export(run_id):
    importer.get_run(run_id)
    headers = [_("File"), _("Row"), _("Source row id"), _("Error")]
    rows = ([e.file_name, e.row_number, e.source_id, importer.error_text(e)] for e in importer.all_row_errors(run_id))
    return Response(stream_with_context(csv_lines(headers, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="import-{run_id}-errors.csv"'})


# ---------------------------------------------------------------- mappings


def _mapping_form(formdata=None, data: dict | None = None) -> FullMappingForm:
    form = FullMappingForm(formdata, data=data) if formdata is not None else FullMappingForm(data=data)
    form.time_zone.choices = _zones()
    form.default_priority.choices = options([(p.value, _(PRIORITY_LABELS[p.value])) for p in Priority])
    policies = db.session.execute(db.select(SlaPolicy).order_by(SlaPolicy.code)).scalars()
    form.category_policy.choices = options([("", _("None"))] + [(p.code, p.code) for p in policies])
    return form


def _pairs(text: str) -> dict:
    result = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValidationFailed(N_("Line %(number)d: write “source value = code”."), number=number)
        result[key.strip()] = value.strip()
    return result


def _lines(pairs: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (pairs or {}).items())


def _form_data(mapping_data: dict) -> dict:
    rules = mapping_data.get("rules") or {}
    centre, category = rules.get("centre") or {}, rules.get("category") or {}
    data = {
        "code": mapping_data.get("code"),
        "name": mapping_data.get("name"),
        "description": mapping_data.get("description"),
        "source_system": mapping_data.get("source_system"),
        "time_zone": mapping_data.get("time_zone"),
        "date_formats": "\n".join(mapping_data.get("date_formats") or []),
        "centre_fixed": centre.get("fixed") or "",
        "centre_values": _lines(centre.get("values")),
        "centre_create": bool(centre.get("create_missing")),
        "centre_prefix": (centre.get("code_prefix") or "").rstrip("-"),
        "category_fixed": category.get("fixed") or "",
        "category_values": _lines(category.get("values")),
        "category_create": bool(category.get("create_missing")),
        "category_prefix": (category.get("code_prefix") or "").rstrip("-"),
        "category_policy": category.get("policy") or "",
        "status_values": _lines(rules.get("status")),
        "priority_values": _lines(rules.get("priority")),
        "default_priority": mapping_data.get("default_priority") or "normal",
        "close_before_open_seconds": rules.get("close_before_open_seconds", importer.DEFAULT_CLOSE_TOLERANCE),
        "requester_username": mapping_data.get("requester_username") or "import",
    }
    for name in importer.FIELD_NAMES:
        data[f"col_{name}"] = (mapping_data.get("columns") or {}).get(name, "")
    return data


def _mapping_from(form: FullMappingForm) -> dict:
    return {
        "code": form.code.data,
        "name": form.name.data,
        "description": form.description.data,
        "source_system": form.source_system.data,
        "time_zone": form.time_zone.data,
        "date_formats": (form.date_formats.data or "").splitlines(),
        "columns": {name: getattr(form, f"col_{name}").data for name in importer.FIELD_NAMES},
        "rules": {
            "centre": {"fixed": form.centre_fixed.data, "values": _pairs(form.centre_values.data),
                       "create_missing": form.centre_create.data, "code_prefix": form.centre_prefix.data},
            "category": {"fixed": form.category_fixed.data, "values": _pairs(form.category_values.data),
                         "create_missing": form.category_create.data, "code_prefix": form.category_prefix.data,
                         "policy": form.category_policy.data},
            "status": _pairs(form.status_values.data),
            "priority": _pairs(form.priority_values.data),
            "close_before_open_seconds": form.close_before_open_seconds.data
            if form.close_before_open_seconds.data is not None else importer.DEFAULT_CLOSE_TOLERANCE,
        },
        "default_priority": form.default_priority.data,
        "requester_username": form.requester_username.data or "import",
    }


def _mapping_page(form, mapping=None, status: int = 200):
    return render_template(
        "imports/mapping_form.html",
        form=form,
        mapping=mapping,
        column_fields=[(getattr(form, f"col_{name}"), required) for name, _label, required in importer.FIELDS],
        duplicate_form=DuplicateForm(),
    ), status


@bp.route("/mappings/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def mapping_new():
    form = _mapping_form(request.form if request.method == "POST" else None,
                         data=None if request.method == "POST" else _form_data({
                             "time_zone": current_app.config["TRACKER_TIMEZONE"], "date_formats": ["iso"],
                             "rules": {"close_before_open_seconds": importer.DEFAULT_CLOSE_TOLERANCE}}))
    if request.method == "POST":
        return _save(form, None)
    return _mapping_page(form)


@bp.route("/mappings/<int:mapping_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def mapping_edit(mapping_id):
    mapping = importer.get_mapping(mapping_id)
    if request.method == "POST":
        return _save(_mapping_form(request.form), mapping)
    return _mapping_page(_mapping_form(data=_form_data(importer.mapping_data(mapping))), mapping)


def _save(form: FullMappingForm, mapping):
    if not form.validate():
        flash(_("Please correct the marked fields; nothing was saved."), "error")
        return _mapping_page(form, mapping, 400)
    try:
        saved = importer.save_mapping(mapping.id if mapping else None, _mapping_from(form), actor=current_user,
                                      now=utcnow())
    except TrackerError as error:
        db.session.rollback()
        flash(error.translated(), "error")
        return _mapping_page(form, mapping, 400)
    flash(_("Mapping %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("imports.mapping_edit", mapping_id=saved.id))


@bp.route("/mappings/<int:mapping_id>/duplicate", methods=["POST"])
@require_role(Role.ADMIN)
def mapping_duplicate(mapping_id):
    if not DuplicateForm().validate_on_submit():
        abort(400)
    copy = importer.duplicate_mapping(mapping_id, actor=current_user, now=utcnow())
    flash(_("Saved a copy: %(name)s.", name=copy.name), "success")
    return redirect(url_for("imports.mapping_edit", mapping_id=copy.id))
