"""Administration: users, centres, categories, locations, business calendars
and SLA policies.

Only administrators open these pages. Nothing is deleted here: rows are
deactivated so that tickets keep their history; calendars and policies get
a new version at every change.
"""

from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import func, select

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.domain.calendar import WEEKDAYS
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.forms import grouped, options
from tracker.forms.admin import (
    CENTRE_ROLE_ORDER,
    LOCATION_KIND_LABELS,
    WEEKDAY_LABELS,
    CalendarCreateForm,
    CalendarEditForm,
    CategoryCreateForm,
    CategoryEditForm,
    CategoryFilterForm,
    CentreCreateForm,
    CentreEditForm,
    ChinaHolidaysForm,
    DaysFileForm,
    EnterDaysForm,
    LocationEditForm,
    LocationForm,
    PolicyCreateForm,
    PolicyEditForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
    format_hours,
)
from tracker.models import Category, Centre, Location, User
from tracker.services import audit
from tracker.services.admin import accounts
from tracker.services.admin import centres as admin_service
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config
from tracker.services.sla import holidays
from tracker.web.once import repeat_of
from tracker.web.routing import page_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


def _locale() -> str:
    return str(get_locale())


def _invalid() -> None:
    flash(_("Please correct the marked fields; nothing was saved."), "error")


def _save(form, save, done, *, once: tuple | None = None):
    """Validate ``form`` and call ``save()``; on success flash and redirect as ``done(result)`` says.

    ``done`` returns (message, URL). A form with errors, or a service that
    refuses, gets its message flashed and None back: nothing was saved, and
    the caller shows the form again. ``once`` = (kind, endpoint, id argument)
    makes a creating form create once: sent again with its one-time key, it
    goes to the edit page of what it created (web.once).
    """
    if form.validate_on_submit():
        if once is not None:
            kind, endpoint, argument = once
            earlier = repeat_of(form, kind, landing=lambda row_id: url_for(endpoint, **{argument: row_id}))
            if earlier is not None:
                return earlier
        try:
            result = save()
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            message, url = done(result)
            flash(message, "success")
            return redirect(url)
    elif form.is_submitted():
        _invalid()
    return None


def _centre_label(centre) -> str:
    name = centre.name_for(_locale())
    return name if centre.is_active else _("%(name)s (inactive)", name=name)


def _centre_options(empty: str | None = None):
    pairs = [(c.id, _centre_label(c)) for c in admin_service.all_centres()]
    if empty is not None:
        pairs.insert(0, (None, empty))
    return options(pairs)


@bp.route("/")
@require_role(Role.ADMIN)
def index():
    return render_template("admin/index.html", counts=admin_service.overview())


# ---------------------------------------------------------------- history


@bp.route("/history")
@require_role(Role.ADMIN)
def history():
    """Every change to users, roles, centres, categories and places, newest first."""
    entity = request.args.get("kind")
    if entity not in audit.ENTITIES:
        entity = None
    page = page_arg()
    query = audit.events(entity)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, pages)
    rows = list(db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars())
    return render_template(
        "admin/history.html", events=rows, names=_entity_names(rows), kind=entity, total=total, page=page,
        pages=pages, kinds=[(key, audit.entity_label(key)) for key in audit.ENTITIES],
    )


@bp.app_template_filter("audit_field")
def _audit_field(name: str) -> str:
    return audit.field_label(name)


@bp.app_template_filter("audit_entity")
def _audit_entity(name: str) -> str:
    return audit.entity_label(name)


def _entity_names(events) -> dict[tuple[str, int], tuple[str, str | None]]:
    """Return (name, edit URL) of each event's row: a user's user name, a catalogue row's name."""
    wanted: dict[str, set[int]] = {}
    for e in events:
        wanted.setdefault(e.entity, set()).add(e.entity_id)
    names = {}
    models = {"user": (User, "admin.user_edit", "user_id"), "centre": (Centre, "admin.centre_edit", "centre_id"),
              "category": (Category, "admin.category_edit", "category_id"),
              "location": (Location, "admin.location_edit", "location_id")}
    for entity, ids in wanted.items():
        if entity not in models:  # standards and benchmarks: named by their id
            continue
        model, endpoint, arg = models[entity]
        for row in db.session.execute(select(model).where(model.id.in_(ids))).scalars():
            name = row.username if entity == "user" else row.name_for(_locale())
            names[(entity, row.id)] = (name, url_for(endpoint, **{arg: row.id}))
    return names


# ---------------------------------------------------------------- users


@bp.route("/users")
@require_role(Role.ADMIN)
def users():
    form = UserFilterForm(request.args)
    form.centre.choices = _centre_options(_("All centres"))
    form.validate()
    page = page_arg()
    rows, total = accounts.search_users(
        q=form.q.data or "",
        role=Role(form.role.data) if form.role.data and not form.role.errors else None,
        centre_id=form.centre.data if not form.centre.errors else None,
        is_active={"active": True, "inactive": False}.get(form.state.data or ""),
        page=page,
        size=PAGE_SIZE,
    )
    return render_template(
        "admin/users.html",
        form=form,
        users=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_new():
    form = UserCreateForm()
    form.set_centre_choices(_centre_options())
    saved = _save(
        form,
        lambda: accounts.create_user(
            username=form.username.data,
            display_name=form.display_name.data,
            password=form.password.data,
            roles=form.selected_roles(),
            email=form.email.data,
            phone=form.phone.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda user: (_("User %(username)s created.", username=user.username), url_for("admin.users")),
        once=("user", "admin.user_edit", "user_id"),
    )
    return saved or render_template("admin/user_form.html", form=form, user=None, role_fields=_role_fields(form))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_edit(user_id):
    user = accounts.get_user(user_id)
    form = UserEditForm(obj=user)
    form.set_centre_choices(_centre_options())
    if not form.is_submitted():
        form.load_roles(user)

    def save():
        accounts.update_user(
            user.id,
            display_name=form.display_name.data,
            email=form.email.data,
            phone=form.phone.data,
            is_active=form.is_active.data,
            roles=form.selected_roles(),
            new_password=form.new_password.data or None,
            actor=current_user,
            now=utcnow(),
        )
        if user.id == current_user.id:
            # A new password changed the session token: keep this session.
            login_user(user)

    saved = _save(
        form, save, lambda _saved: (_("User %(username)s saved.", username=user.username), url_for("admin.users"))
    )
    return saved or render_template(
        "admin/user_form.html", form=form, user=user, role_fields=_role_fields(form),
        history=audit.recent("user", user.id),
    )


def _role_fields(form) -> list:
    """Return (role, field) for the centre roles, in display order."""
    return list(zip(CENTRE_ROLE_ORDER, form.centre_role_fields(), strict=True))


# ---------------------------------------------------------------- centres


@bp.route("/centres")
@require_role(Role.ADMIN)
def centres():
    return render_template("admin/centres.html", centres=admin_service.all_centres())


@bp.route("/centres/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def centre_new():
    form = CentreCreateForm()
    saved = _save(
        form,
        lambda: admin_service.create_centre(
            code=form.code.data,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            ref_prefix=form.ref_prefix.data,
            description_zh=form.description_zh.data or "",
            description_en=form.description_en.data or "",
            sort_order=form.sort_order.data or 0,
            actor=current_user,
            now=utcnow(),
        ),
        lambda centre: (
            _("Service centre %(name)s created.", name=centre.name_for(_locale())),
            url_for("admin.centres"),
        ),
        once=("centre", "admin.centre_edit", "centre_id"),
    )
    return saved or render_template("admin/centre_form.html", form=form, centre=None)


@bp.route("/centres/<int:centre_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def centre_edit(centre_id):
    centre = admin_service.get_centre(centre_id)
    form = CentreEditForm(obj=centre)
    saved = _save(
        form,
        lambda: admin_service.update_centre(
            centre.id,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            ref_prefix=form.ref_prefix.data,
            description_zh=form.description_zh.data or "",
            description_en=form.description_en.data or "",
            sort_order=form.sort_order.data or 0,
            is_active=form.is_active.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda _saved: (
            _("Service centre %(name)s saved.", name=centre.name_for(_locale())),
            url_for("admin.centres"),
        ),
    )
    return saved or render_template(
        "admin/centre_form.html", form=form, centre=centre, history=audit.recent("centre", centre.id)
    )


# ---------------------------------------------------------------- categories


@bp.route("/categories")
@require_role(Role.ADMIN)
def categories():
    form = CategoryFilterForm(request.args)
    form.centre.choices = _centre_options(_("All centres"))
    form.validate()
    centre_id = form.centre.data if not form.centre.errors else None
    return render_template(
        "admin/categories.html",
        form=form,
        categories=admin_service.all_categories(centre_id),
        centre_id=centre_id,
    )


@bp.route("/categories/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def category_new():
    form = CategoryCreateForm()
    form.centre_id.choices = _centre_options(_("Choose…"))
    form.sla_policy_id.choices = _policy_options()
    if not form.is_submitted():
        form.centre_id.data = request.args.get("centre", type=int)
    saved = _save(
        form,
        lambda: admin_service.create_category(
            centre_id=form.centre_id.data,
            code=form.code.data,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            default_priority=form.default_priority.data,
            sort_order=form.sort_order.data or 0,
            sla_policy_id=form.sla_policy_id.data,
            is_chargeable=form.is_chargeable.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda category: (
            _("Category %(name)s created.", name=category.name_for(_locale())),
            url_for("admin.categories", centre=category.centre_id),
        ),
        once=("category", "admin.category_edit", "category_id"),
    )
    return saved or render_template("admin/category_form.html", form=form, category=None)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def category_edit(category_id):
    category = admin_service.get_category(category_id)
    form = CategoryEditForm(obj=category)
    form.sla_policy_id.choices = _policy_options()
    if not form.is_submitted():
        form.default_priority.data = category.default_priority.value
    saved = _save(
        form,
        lambda: admin_service.update_category(
            category.id,
            code=form.code.data,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            default_priority=form.default_priority.data,
            sort_order=form.sort_order.data or 0,
            is_active=form.is_active.data,
            # A form from before the field existed leaves the policy alone.
            sla_policy_id=(
                form.sla_policy_id.data if "sla_policy_id" in request.form else admin_service.UNCHANGED
            ),
            is_chargeable=form.is_chargeable.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda _saved: (
            _("Category %(name)s saved.", name=category.name_for(_locale())),
            url_for("admin.categories", centre=category.centre_id),
        ),
    )
    return saved or render_template(
        "admin/category_form.html", form=form, category=category,
        history=audit.recent("category", category.id),
    )


def _policy_options():
    pairs = [(None, _("— no SLA —"))]
    for policy in admin_service.all_policies():
        label = f"{policy.code} — {policy.name_for(_locale())}"
        pairs.append((policy.id, label if policy.is_active else _("%(name)s (inactive)", name=label)))
    return options(pairs)


# ---------------------------------------------------------------- locations


@bp.route("/locations")
@require_role(Role.ADMIN)
def locations():
    return render_template(
        "admin/locations.html",
        rows=admin_service.location_tree(),
        kind_labels=LOCATION_KIND_LABELS,
        centres={c.id: c for c in admin_service.all_centres()},
        categories={c.id: c for c in admin_service.all_categories()},
    )


def _location_choices(form, location=None) -> None:
    """Fill the parent, centre and category selects; a place cannot go under itself."""
    locale = _locale()
    excluded = set()
    if location is not None:
        excluded = {location.id} | admin_service.descendant_ids(location.id)
    parents = [(None, _("Nothing: a campus"))]
    for row, _depth in admin_service.location_tree():
        if row.id in excluded:
            continue
        label = row.path(locale)
        parents.append((row.id, label if row.is_active else _("%(name)s (inactive)", name=label)))
    form.parent_id.choices = options(parents)
    form.centre_id.choices = _centre_options("—")
    groups = {}
    for category in admin_service.all_categories():
        groups.setdefault(category.centre, []).append(
            (
                category.id,
                category.name_for(locale)
                if category.is_active
                else _("%(name)s (inactive)", name=category.name_for(locale)),
            )
        )
    form.category_id.choices = options([(None, "—")]) + grouped(
        [(_centre_label(centre), pairs) for centre, pairs in groups.items()]
    )


@bp.route("/locations/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def location_new():
    form = LocationForm()
    _location_choices(form)
    if not form.is_submitted():
        form.parent_id.data = request.args.get("parent", type=int)
    saved = _save(
        form,
        lambda: admin_service.create_location(
            kind=form.kind.data,
            code=form.code.data,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            parent_id=form.parent_id.data,
            centre_id=form.centre_id.data,
            category_id=form.category_id.data,
            is_chargeable=form.is_chargeable.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda location: (
            _("Place %(name)s created.", name=location.name_for(_locale())),
            url_for("admin.locations"),
        ),
        once=("location", "admin.location_edit", "location_id"),
    )
    return saved or render_template("admin/location_form.html", form=form, location=None)


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def location_edit(location_id):
    location = admin_service.get_location(location_id)
    form = LocationEditForm(obj=location)
    _location_choices(form, location)
    saved = _save(
        form,
        lambda: admin_service.update_location(
            location.id,
            kind=form.kind.data,
            code=form.code.data,
            name_en=form.name_en.data,
            name_zh=form.name_zh.data,
            parent_id=form.parent_id.data,
            centre_id=form.centre_id.data,
            category_id=form.category_id.data,
            is_active=form.is_active.data,
            is_chargeable=form.is_chargeable.data,
            actor=current_user,
            now=utcnow(),
        ),
        lambda _saved: (
            _("Place %(name)s saved.", name=location.name_for(_locale())),
            url_for("admin.locations"),
        ),
    )
    return saved or render_template(
        "admin/location_form.html", form=form, location=location,
        history=audit.recent("location", location.id),
    )


# ---------------------------------------------------------------- calendars


def _campus_today() -> date:
    return utcnow().astimezone(ZoneInfo(current_app.config["TRACKER_TIMEZONE"])).date()


def _flash_form_errors(form) -> None:
    """Flash the errors that belong to no one field, after the usual message."""
    _invalid()
    for message in form.form_errors:
        flash(message, "error")


def _is_stale(form, current_version_id) -> bool:
    """Whether the page was opened on an older version than the current one."""
    shown = (form.version_id.data or "").strip()
    return bool(shown) and shown != str(current_version_id or "")


@bp.route("/calendars")
@require_role(Role.ADMIN)
def calendars():
    today = _campus_today()
    rows = [(calendar, holidays.coverage_warnings(calendar, today)) for calendar in admin_service.all_calendars()]
    return render_template("admin/calendars.html", rows=rows, used_by=admin_service.policies_by_calendar())


@bp.route("/calendars/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def calendar_new():
    form = CalendarCreateForm()
    if not form.is_submitted():
        form.timezone.data = current_app.config["TRACKER_TIMEZONE"]
        for field in form.week_fields()[:5]:
            field.data = "08:30-12:00, 14:00-17:30"
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "calendar", landing=lambda row_id: url_for(
                "admin.calendar_edit", calendar_id=row_id))) is not None:
            return earlier
        try:
            calendar = sla_config.create_calendar(
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                definition=form.calendar_definition,
                follows_china_holidays=form.follows_china_holidays.data,
                note=form.note.data or "",
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Calendar “%(code)s” created as version 1.", code=calendar.code), "success")
            return redirect(url_for("admin.calendar_edit", calendar_id=calendar.id))
    elif form.is_submitted():
        _flash_form_errors(form)
    return render_template("admin/calendar_form.html", form=form, calendar=None)


def _calendar_page(calendar, form, import_form, days_form=None, file_form=None, row_errors=()):
    versions = admin_service.calendar_versions(calendar.id)
    today = _campus_today()
    if not import_form.is_submitted():
        import_form.year_from.data = today.year
        import_form.year_to.data = today.year + 1
    known = holidays.known_years()
    entered = holidays.entered_days(calendar.id)
    return render_template(
        "admin/calendar_form.html",
        form=form,
        calendar=calendar,
        import_form=import_form,
        days_form=days_form or EnterDaysForm(formdata=None),
        file_form=file_form or DaysFileForm(formdata=None),
        row_errors=row_errors,
        entered=entered,
        kind_labels=holidays.KIND_LABELS,
        versions=versions,
        authors=admin_service.users_by_id([v.created_by_id for v in versions] + [d.created_by_id for d in entered]),
        warnings=holidays.coverage_warnings(calendar, today),
        known_first=known.start,
        known_last=known.stop - 1,
    )


@bp.route("/calendars/<int:calendar_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def calendar_edit(calendar_id):
    calendar = admin_service.get_calendar(calendar_id)
    if request.method == "POST":
        form = CalendarEditForm()
    else:
        form = CalendarEditForm(data=CalendarEditForm.data_from(calendar))
    if form.validate_on_submit():
        if _is_stale(form, calendar.current_version_id):
            flash(
                _(
                    "Someone saved a newer version of this calendar after you opened the page; nothing was "
                    "saved. Check version %(number)d below, then save again.",
                    number=calendar.current_version.number,
                ),
                "error",
            )
            form.version_id.data = str(calendar.current_version_id)
        else:
            try:
                version = sla_config.save_calendar_version(
                    calendar.id,
                    definition=form.calendar_definition,
                    name_en=form.name_en.data,
                    name_zh=form.name_zh.data,
                    follows_china_holidays=form.follows_china_holidays.data,
                    note=form.note.data or "",
                    actor=current_user,
                    now=utcnow(),
                )
            except TrackerError as error:
                flash(error.translated(), "error")
            else:
                if version is None:
                    flash(
                        _(
                            "Calendar “%(code)s” saved; its definition is unchanged, so it stays at version %(number)d.",
                            code=calendar.code,
                            number=calendar.current_version.number,
                        ),
                        "success",
                    )
                else:
                    flash(
                        _("Calendar “%(code)s” saved as version %(number)d.", code=calendar.code,
                          number=version.number),
                        "success",
                    )
                return redirect(url_for("admin.calendars"))
    elif form.is_submitted():
        _flash_form_errors(form)
    return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None))


@bp.route("/calendars/<int:calendar_id>/china-holidays", methods=["POST"])
@require_role(Role.ADMIN)
def calendar_import_china(calendar_id):
    calendar = admin_service.get_calendar(calendar_id)
    import_form = ChinaHolidaysForm()
    if import_form.validate_on_submit():
        try:
            version, found = holidays.import_china_holidays(
                calendar.id, import_form.years(), actor=current_user, now=utcnow()
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            _flash_imported(calendar, version, found)
            return redirect(url_for("admin.calendar_edit", calendar_id=calendar.id))
    else:
        _invalid()
    form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
    return _calendar_page(calendar, form, import_form)


def _enter_days(calendar, rows, source, days_form=None, file_form=None):
    """Store the days entered on the calendar page, or show the page again with every bad row."""
    try:
        version, days = holidays.enter_days(calendar.id, rows, source=source, actor=current_user, now=utcnow(),
                                            today=_campus_today())
    except holidays.DaysRefused as refused:
        flash(refused.translated(), "error")
        errors = [(number, _(m.template, **m.params)) for number, m in refused.rows]
    except TrackerError as error:
        flash(error.translated(), "error")
        errors = []
    else:
        if version is None:
            flash(_("Calendar %(code)s already had these days: no new version; their names are saved.",
                    code=calendar.code), "success")
        else:
            flash(ngettext("%(num)d day is entered into calendar %(code)s as version %(number)d.",
                           "%(num)d days are entered into calendar %(code)s as version %(number)d.",
                           len(days), code=calendar.code, number=version.number), "success")
        return redirect(url_for("admin.calendar_edit", calendar_id=calendar.id) + "#entered-days")
    form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
    return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), days_form=days_form,
                          file_form=file_form, row_errors=errors)


@bp.route("/calendars/<int:calendar_id>/days", methods=["POST"])
@require_role(Role.ADMIN)
def calendar_enter_days(calendar_id):
    calendar = admin_service.get_calendar(calendar_id)
    days_form = EnterDaysForm()
    if not days_form.validate_on_submit():
        _invalid()
        form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
        return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), days_form=days_form)
    try:
        rows = holidays.range_rows(days_form.first.data, days_form.last.data, days_form.kind.data,
                                   days_form.name.data)
    except TrackerError as error:
        flash(error.translated(), "error")
        form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
        return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), days_form=days_form)
    return _enter_days(calendar, rows, "form", days_form=days_form)


@bp.route("/calendars/<int:calendar_id>/days-file", methods=["POST"])
@require_role(Role.ADMIN)
def calendar_days_file(calendar_id):
    calendar = admin_service.get_calendar(calendar_id)
    file_form = DaysFileForm()
    upload = file_form.file.data if file_form.validate_on_submit() else None
    if upload is None or not getattr(upload, "filename", ""):
        if file_form.is_submitted() and not file_form.errors:
            flash(_("Choose a CSV file."), "error")
        else:
            _invalid()
        form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
        return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), file_form=file_form)
    try:
        rows = holidays.read_days_file(upload.read(holidays.FILE_BYTES_MAX + 1))
    except holidays.DaysRefused as refused:
        flash(refused.translated(), "error")
        form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
        return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), file_form=file_form,
                              row_errors=[(n, _(m.template, **m.params)) for n, m in refused.rows])
    except TrackerError as error:
        flash(error.translated(), "error")
        form = CalendarEditForm(formdata=None, data=CalendarEditForm.data_from(calendar))
        return _calendar_page(calendar, form, ChinaHolidaysForm(formdata=None), file_form=file_form)
    return _enter_days(calendar, rows, "file", file_form=file_form)


def _flash_imported(calendar, version, found) -> None:
    holidays_per_year = Counter(int(day[:4]) for day in found.holidays)
    workdays_per_year = Counter(int(day[:4]) for day in found.extra_workdays)
    details = "; ".join(
        _(
            "%(year)d: %(holidays)d days off, %(workdays)d weekend working days",
            year=year,
            holidays=holidays_per_year[year],
            workdays=workdays_per_year[year],
        )
        for year in found.years
    )
    if version is None:
        flash(
            _("Calendar %(code)s already had China's holidays for these years (%(details)s): no new version.",
              code=calendar.code, details=details),
            "success",
        )
    else:
        flash(
            _("China's holidays are imported into calendar %(code)s as version %(number)d (%(details)s).",
              code=calendar.code, number=version.number, details=details),
            "success",
        )
    if found.missing_years:
        known = holidays.known_years()
        flash(
            _(
                "No holiday data for %(years)s yet (the installed data covers %(first)d to %(last)d): "
                "tickets running into those years are counted as if they had no holidays. Import them once "
                "the State Council has published them and the package is updated.",
                years=", ".join(str(year) for year in found.missing_years),
                first=known.start,
                last=known.stop - 1,
            ),
            "warning",
        )


@bp.route("/calendars/<int:calendar_id>/versions/<int:number>")
@require_role(Role.ADMIN)
def calendar_version(calendar_id, number):
    calendar = admin_service.get_calendar(calendar_id)
    version = admin_service.get_calendar_version(calendar.id, number)
    definition = version.definition
    week = definition.get("week") or {}
    by_year: dict[str, list[str]] = {}
    for day in definition.get("holidays") or []:
        by_year.setdefault(day[:4], []).append(day)
    return render_template(
        "admin/calendar_version.html",
        calendar=calendar,
        version=version,
        author=admin_service.users_by_id([version.created_by_id]).get(version.created_by_id),
        week=[(_(WEEKDAY_LABELS[day]), format_hours(week.get(day))) for day in WEEKDAYS],
        extra_hours=format_hours(definition.get("extra_workday_hours")),
        holidays_by_year=sorted(by_year.items()),
        extra_workdays=definition.get("extra_workdays") or [],
    )


# ---------------------------------------------------------------- SLA policies


def _set_calendar_choices(form) -> None:
    pairs = [(c.code, f"{c.code} — {c.name_for(_locale())}") for c in admin_service.all_calendars()]
    form.set_calendar_choices(options([(None, _("Choose…")), *pairs]), options([(None, _("— send at once —")), *pairs]))


@bp.route("/policies")
@require_role(Role.ADMIN)
def policies():
    return render_template(
        "admin/policies.html",
        policies=admin_service.all_policies(),
        categories=admin_service.categories_by_policy(),
    )


@bp.route("/policies/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def policy_new():
    form = PolicyCreateForm()
    _set_calendar_choices(form)
    if form.validate_on_submit():
        if (earlier := repeat_of(form, "policy", landing=lambda row_id: url_for(
                "admin.policy_edit", policy_id=row_id))) is not None:
            return earlier
        try:
            policy = sla_config.create_policy(
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                definition=form.definition(),
                note=form.note.data or "",
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("SLA policy “%(code)s” created as version 1.", code=policy.code), "success")
            return redirect(url_for("admin.policies"))
    elif form.is_submitted():
        _flash_form_errors(form)
    return render_template("admin/policy_form.html", form=form, policy=None)


@bp.route("/policies/<int:policy_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def policy_edit(policy_id):
    policy = admin_service.get_policy(policy_id)
    if request.method == "POST":
        form = PolicyEditForm()
    else:
        form = PolicyEditForm(data=PolicyEditForm.data_from(policy))
    _set_calendar_choices(form)
    if form.validate_on_submit():
        if _is_stale(form, policy.current_version_id):
            flash(
                _(
                    "Someone saved a newer version of this policy after you opened the page; nothing was "
                    "saved. Check version %(number)d below, then save again.",
                    number=policy.current_version.number,
                ),
                "error",
            )
            form.version_id.data = str(policy.current_version_id)
        else:
            try:
                version = sla_config.save_policy_version(
                    policy.id,
                    definition=form.definition(),
                    name_en=form.name_en.data,
                    name_zh=form.name_zh.data,
                    note=form.note.data or "",
                    actor=current_user,
                    now=utcnow(),
                )
            except TrackerError as error:
                flash(error.translated(), "error")
            else:
                if version is None:
                    flash(
                        _(
                            "SLA policy “%(code)s” saved; its definition is unchanged, so it stays at version %(number)d.",
                            code=policy.code,
                            number=policy.current_version.number,
                        ),
                        "success",
                    )
                else:
                    flash(
                        _("SLA policy “%(code)s” saved as version %(number)d: requests filed from now on run "
                          "under it, earlier ones keep theirs.",
                          code=policy.code, number=version.number),
                        "success",
                    )
                return redirect(url_for("admin.policies"))
    elif form.is_submitted():
        _flash_form_errors(form)
    versions = admin_service.policy_versions(policy.id)
    return render_template(
        "admin/policy_form.html",
        form=form,
        policy=policy,
        versions=versions,
        authors=admin_service.users_by_id(v.created_by_id for v in versions),
        categories=admin_service.categories_by_policy().get(policy.id, []),
    )


@bp.route("/policies/<int:policy_id>/versions/<int:number>")
@require_role(Role.ADMIN)
def policy_version(policy_id, number):
    policy = admin_service.get_policy(policy_id)
    version = admin_service.get_policy_version(policy.id, number)
    return render_template(
        "admin/policy_version.html",
        policy=policy,
        version=version,
        author=admin_service.users_by_id([version.created_by_id]).get(version.created_by_id),
        calendars={c.code: c for c in admin_service.all_calendars()},
        consent_hold_cap=sla.CONSENT_HOLD_CAP_MINUTES,
    )
