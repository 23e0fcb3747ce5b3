"""Administration: users, centres, categories, locations.

Only administrators open these pages. Nothing is deleted here: rows are
deactivated so that tickets keep their history.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role
from tracker.clock import utcnow
from tracker.errors import TrackerError
from tracker.forms import grouped, options
from tracker.forms.admin import (
    CENTRE_ROLE_ORDER,
    LOCATION_KIND_LABELS,
    CategoryCreateForm,
    CategoryEditForm,
    CategoryFilterForm,
    CentreCreateForm,
    CentreEditForm,
    LocationEditForm,
    LocationForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from tracker.services import accounts
from tracker.services import admin as admin_service

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


def _locale() -> str:
    return str(get_locale())


def _invalid() -> None:
    flash(_("Please correct the marked fields; nothing was saved."), "error")


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


# ---------------------------------------------------------------- users


@bp.route("/users")
@require_role(Role.ADMIN)
def users():
    form = UserFilterForm(request.args)
    form.centre.choices = _centre_options(_("All centres"))
    form.validate()
    page = max(form.page.data or 1, 1) if not form.page.errors else 1
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
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                username=form.username.data,
                display_name=form.display_name.data,
                password=form.password.data,
                roles=form.selected_roles(),
                email=form.email.data,
                phone=form.phone.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("User %(username)s is created.", username=user.username), "success")
            return redirect(url_for("admin.users"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/user_form.html", form=form, user=None, role_fields=_role_fields(form))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_edit(user_id):
    user = accounts.get_user(user_id)
    form = UserEditForm(obj=user)
    form.set_centre_choices(_centre_options())
    if not form.is_submitted():
        form.load_roles(user)
    if form.validate_on_submit():
        try:
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
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            if user.id == current_user.id:
                # A new password changed the session token: keep this session.
                login_user(user)
            flash(_("User %(username)s is saved.", username=user.username), "success")
            return redirect(url_for("admin.users"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/user_form.html", form=form, user=user, role_fields=_role_fields(form))


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
    if form.validate_on_submit():
        try:
            centre = admin_service.create_centre(
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                ref_prefix=form.ref_prefix.data,
                description=form.description.data or "",
                sort_order=form.sort_order.data or 0,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Service centre %(name)s is created.", name=centre.name_for(_locale())), "success")
            return redirect(url_for("admin.centres"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/centre_form.html", form=form, centre=None)


@bp.route("/centres/<int:centre_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def centre_edit(centre_id):
    centre = admin_service.get_centre(centre_id)
    form = CentreEditForm(obj=centre)
    if form.validate_on_submit():
        try:
            admin_service.update_centre(
                centre.id,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                ref_prefix=form.ref_prefix.data,
                description=form.description.data or "",
                sort_order=form.sort_order.data or 0,
                is_active=form.is_active.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Service centre %(name)s is saved.", name=centre.name_for(_locale())), "success")
            return redirect(url_for("admin.centres"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/centre_form.html", form=form, centre=centre)


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
    if not form.is_submitted():
        form.centre_id.data = request.args.get("centre", type=int)
    if form.validate_on_submit():
        try:
            category = admin_service.create_category(
                centre_id=form.centre_id.data,
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                default_priority=form.default_priority.data,
                sort_order=form.sort_order.data or 0,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Category %(name)s is created.", name=category.name_for(_locale())), "success")
            return redirect(url_for("admin.categories", centre=category.centre_id))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/category_form.html", form=form, category=None)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def category_edit(category_id):
    category = admin_service.get_category(category_id)
    form = CategoryEditForm(obj=category)
    if not form.is_submitted():
        form.default_priority.data = category.default_priority.value
    if form.validate_on_submit():
        try:
            admin_service.update_category(
                category.id,
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                default_priority=form.default_priority.data,
                sort_order=form.sort_order.data or 0,
                is_active=form.is_active.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Category %(name)s is saved.", name=category.name_for(_locale())), "success")
            return redirect(url_for("admin.categories", centre=category.centre_id))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/category_form.html", form=form, category=category)


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
    if form.validate_on_submit():
        try:
            location = admin_service.create_location(
                kind=form.kind.data,
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                parent_id=form.parent_id.data,
                centre_id=form.centre_id.data,
                category_id=form.category_id.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Place %(name)s is created.", name=location.name_for(_locale())), "success")
            return redirect(url_for("admin.locations"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/location_form.html", form=form, location=None)


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def location_edit(location_id):
    location = admin_service.get_location(location_id)
    form = LocationEditForm(obj=location)
    _location_choices(form, location)
    if form.validate_on_submit():
        try:
            admin_service.update_location(
                location.id,
                kind=form.kind.data,
                code=form.code.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                parent_id=form.parent_id.data,
                centre_id=form.centre_id.data,
                category_id=form.category_id.data,
                is_active=form.is_active.data,
                actor=current_user,
                now=utcnow(),
            )
        except TrackerError as error:
            flash(error.translated(), "error")
        else:
            flash(_("Place %(name)s is saved.", name=location.name_for(_locale())), "success")
            return redirect(url_for("admin.locations"))
    elif form.is_submitted():
        _invalid()
    return render_template("admin/location_form.html", form=form, location=location)
