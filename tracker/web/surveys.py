"""Surveys: import questionnaire files, browse the responses, turn responses into rectification items.

Every change goes through ``tracker.services.ledger.surveys`` (which opens items
through the rectification ledger). Centre heads work with their centres'
responses; leadership and administrators with every centre's.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms import grouped, options
from tracker.forms.surveys import ItemForm, MappingForm, TopicForm, UploadForm
from tracker.models import ImportStatus, SurveyResponse
from tracker.services.insight import reports
from tracker.services.ledger import rectification as ledger
from tracker.services.ledger import surveys as service
from tracker.services.requests import catalog
from tracker.web.helpers import survey_topic
from tracker.web.once import repeat_of
from tracker.web.routing import int_arg, page_arg

bp = Blueprint("surveys", __name__, url_prefix="/surveys")

READERS = service.READERS
# Who may open items from responses: the ledger decides per centre.
ITEM_CREATORS = (Role.CENTRE_HEAD, Role.LEADERSHIP)
PAGE_SIZE = 50
DEFAULT_DAYS = 30


@bp.url_value_preprocessor
def _upload_limit(endpoint, _values):
    # Runs before the CSRF check reads the form: survey files may be larger
    # than the application-wide limit, which is sized for photos.
    if endpoint == "surveys.upload":
        request.max_content_length = current_app.config["SURVEY_MAX_BYTES"] + 1024 * 1024


@bp.app_template_global("survey_responses_of_item")
def survey_responses_of_item(item):
    """Return (the responses an item came from that the reader may see, how many others), for its page."""
    return service.responses_of_item(item, current_user)


def _flash_form_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")


# ---------------------------------------------------------------- responses


@bp.route("/")
@require_role(*READERS)
def index():
    locale = str(get_locale())
    centres = service.readable_centres(current_user)
    centre_id = int_arg("centre")
    if centre_id is not None and centre_id not in {c.id for c in centres}:
        abort(404)
    linked = request.args.get("linked") or None
    if linked not in (None, "yes", "no"):
        abort(404)
    filters = service.Filters(
        centre_id=centre_id,
        topic=request.args.get("topic") or None,
        survey=request.args.get("survey") or None,
        score_max=int_arg("score_max", signed=True),
        linked=linked,
        q=(request.args.get("q") or "").strip()[:100] or None,
    )
    query = service.filtered(current_user, filters)
    total = service.count(query)
    page = page_arg()
    rows = list(db.session.execute(
        query.options(selectinload(SurveyResponse.item), selectinload(SurveyResponse.centre))
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).scalars())
    args = {k: v for k, v in request.args.items() if k in ("centre", "topic", "survey", "score_max", "linked", "q")
            and v}
    return render_template(
        "surveys/index.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        args=args,
        filters=filters,
        centres=[(c.id, c.name_for(locale)) for c in centres],
        topics=service.topics(current_user, centre_id),
        surveys=service.surveys(current_user),
        may_create=current_user.has_any_role(*ITEM_CREATORS) and ledger.may_create(current_user),
    )


@bp.route("/responses/<int:response_id>")
@require_role(*READERS)
def response(response_id):
    found = service.get_response(response_id, current_user)
    item = found.item
    return render_template(
        "surveys/response.html",
        response=found,
        item=item,
        item_visible=item is not None and ledger.can_view(current_user, item),
        may_create=found.rectification_item_id is None and current_user.has_any_role(*ITEM_CREATORS)
        and ledger.may_create(current_user),
    )


# ---------------------------------------------------------------- topic names


@bp.route("/topics", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def topics():
    """Name each topic the responses use in both languages (one is enough: the other falls back to it)."""
    form = TopicForm()
    if form.validate_on_submit():
        try:
            service.name_topic(form.key.data, name_zh=form.name_zh.data, name_en=form.name_en.data,
                               actor=current_user, now=utcnow())
        except TrackerError as error:
            db.session.rollback()
            flash(error.translated(), "error")
        else:
            flash(_("The topic “%(topic)s” is saved.", topic=form.key.data), "success")
            return redirect(url_for("surveys.topics"))
    else:
        _flash_form_errors(form)
    return render_template("surveys/topics.html", rows=service.all_topics())


# ---------------------------------------------------------------- imports


@bp.route("/import", methods=["GET", "POST"])
@require_role(*READERS)
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        posted = request.files.get("file")
        if (earlier := repeat_of(form, "survey_import", landing=lambda import_id: url_for(
                "surveys.mapping", import_id=import_id))) is not None:
            return earlier
        try:
            item = service.upload(posted.stream if posted and posted.filename else None,
                                  posted.filename if posted else "", form.survey.data, actor=current_user,
                                  now=utcnow())
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("%(name)s is uploaded: choose which column holds what.", name=item.file_name), "success")
            return redirect(url_for("surveys.mapping", import_id=item.id))
    elif request.method == "POST":
        _flash_form_errors(form)
    return render_template("surveys/upload.html", form=form,
                           max_mb=current_app.config["SURVEY_MAX_BYTES"] // (1024 * 1024))


@bp.route("/imports")
@require_role(*READERS)
def imports():
    rows = list(db.session.execute(service.visible_imports(current_user).limit(100)).scalars())
    return render_template("surveys/imports.html", rows=rows)


def _mapping_choices(form: MappingForm, header: list[str]) -> None:
    locale = str(get_locale())
    columns = options([("", _("— not in the file —"))] + [(h, h) for h in header if h])
    for name in service.FIELD_NAMES:
        getattr(form, f"col_{name}").choices = columns
    form.centre_id.choices = options([(None, _("— from the centre column —"))]
                                     + [(c.id, c.name_for(locale)) for c in service.readable_centres(current_user)])
    form.mapping.choices = options([(None, _("Choose…"))] + [(m.id, m.name) for m in service.all_mappings()])


@bp.route("/imports/<int:import_id>/mapping", methods=["GET", "POST"])
@require_role(*READERS)
def mapping(import_id):
    item = service.get_import(import_id, current_user)
    header = list(item.file_info.get("columns") or [])
    form = MappingForm()
    _mapping_choices(form, header)
    if request.method == "GET":
        columns, settings = dict(item.columns), dict(item.settings)
        saved_id = int_arg("mapping")
        if saved_id is not None:
            saved = service.get_mapping(saved_id)
            columns = {k: v for k, v in saved.columns.items() if v in header}
            settings = dict(saved.settings)
            form.mapping.data = saved.id
            missing = sorted(set(saved.columns.values()) - set(header))
            if missing:
                flash(_("This file has no column %(columns)s of the saved mapping.", columns=", ".join(missing)),
                      "error")
        for name in service.FIELD_NAMES:
            getattr(form, f"col_{name}").data = columns.get(name, "")
        form.centre_id.data = settings.get("centre_id")
        form.date_format.data = settings.get("date_format") or ""
        form.score_min.data = settings.get("score_min", 1)
        form.score_max.data = settings.get("score_max", 5)
    elif form.validate_on_submit():
        dry_run = request.form.get("action") != "import"
        try:
            item = service.start_run(
                item.id,
                columns={name: getattr(form, f"col_{name}").data or "" for name in service.FIELD_NAMES},
                settings={"centre_id": form.centre_id.data, "date_format": form.date_format.data or "",
                          "score_min": form.score_min.data, "score_max": form.score_max.data},
                dry_run=dry_run,
                actor=current_user,
                now=utcnow(),
                save_as=form.save_as.data or "",
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            return redirect(url_for("surveys.run", import_id=item.id))
    else:
        _flash_form_errors(form)
    return render_template("surveys/mapping.html", item=item, form=form, header=header,
                           sample=item.file_info.get("sample") or [], fields=service.FIELDS)


@bp.route("/imports/<int:import_id>")
@require_role(*READERS)
def run(import_id):
    item = service.get_import(import_id, current_user)
    locale = str(get_locale())
    return render_template(
        "surveys/run.html",
        item=item,
        errors=service.row_errors(item.id),
        centres={c.id: c.name_for(locale) for c in catalog.all_centres()},
        is_busy=item.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        ImportStatus=ImportStatus,
    )


# ---------------------------------------------------------------- responses -> item


def _item_draft(responses: list[SurveyResponse]) -> dict:
    """Return a title, description, centre and source reference proposed for an item from responses."""
    centres = {r.centre_id for r in responses}
    topics_ = [survey_topic(t) for t in dict.fromkeys(r.topic for r in responses) if t]
    title = (_("Survey: %(topic)s", topic=topics_[0]) if len(topics_) == 1
             else _("Survey: %(count)d responses", count=len(responses)))
    lines = [_(ledger.SURVEY_HEADER)]
    for r in responses:
        score = "" if r.score is None else f" ({_('score %(score)d', score=r.score)})"
        what = " · ".join(p for p in (r.survey, survey_topic(r.topic)) if p)
        lines.append(f"#{r.id} {what}{score}: {r.comment}".strip())
    description = "\n".join(lines)
    if len(description) > ledger.DESCRIPTION_MAX:
        description = description[: ledger.DESCRIPTION_MAX - 1] + "…"
    return {
        "title": title[: ledger.TITLE_MAX],
        "description": description,
        "centre_id": next(iter(centres)) if len(centres) == 1 else None,
        "source_ref": service.source_ref(responses),
    }


def _item_choices(form: ItemForm, centres: list) -> None:
    locale = str(get_locale())
    form.centre_id.choices = options([(None, _("Choose…"))] + [(c.id, c.name_for(locale)) for c in centres])
    groups = [(c.name_for(locale), [(u.id, u.display_name) for u in ledger.responsible_candidates(c.id)])
              for c in centres]
    form.responsible_id.choices = options([(None, _("Choose…"))]) + grouped(groups)


@bp.route("/to-item", methods=["GET", "POST"])
@require_role(*ITEM_CREATORS)
def new_item():
    now = utcnow()
    centres = ledger.creatable_centres(current_user)
    if not centres:
        abort(403)
    ids = request.values.getlist("response")
    try:
        responses = service.selected_responses(ids, current_user)
    except TrackerError as error:
        flash(error.translated(), "error")
        return redirect(url_for("surveys.index"))
    form = ItemForm()
    _item_choices(form, centres)
    if request.method == "GET":
        draft = _item_draft(responses)
        form.title.data = draft["title"]
        form.description.data = draft["description"]
        form.source_ref.data = draft["source_ref"]
        form.centre_id.data = draft["centre_id"] if draft["centre_id"] in {c.id for c in centres} else None
        form.due_on.data = reports.local_day(now) + timedelta(days=DEFAULT_DAYS)
    elif form.validate_on_submit():
        if (earlier := repeat_of(form, "rectification_item")) is not None:
            return earlier
        try:
            item = service.create_item(
                [r.id for r in responses],
                ledger.NewItem(
                    centre_id=form.centre_id.data,
                    title=form.title.data,
                    description=form.description.data,
                    responsible_id=form.responsible_id.data,
                    due_on=form.due_on.data,
                    source_ref=form.source_ref.data or "",
                    priority=form.priority.data,
                ),
                actor=current_user,
                now=now,
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Rectification item %(reference)s is opened from %(num)d responses.", reference=item.reference,
                    num=len(responses)), "success")
            return redirect(url_for("rectification.detail", reference=item.reference))
    else:
        flash(_("Please correct the marked fields; nothing was saved."), "error")
    return render_template("surveys/new_item.html", form=form, responses=responses,
                           linked=[r for r in responses if r.rectification_item_id is not None])

