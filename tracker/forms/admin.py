"""Forms of the administration area: users, centres, categories, places.

Choices that come from the database (centres, categories, places) are set
by the view with ``options()``/``grouped()`` before validation.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.domain.i18n import N_
from tracker.domain.roles import CENTRE_ROLES, ROLE_LABELS, Role
from tracker.domain.workflow import PRIORITY_LABELS, Priority
from tracker.forms import options
from tracker.models import LocationKind
from tracker.services import accounts
from tracker.services import admin as admin_service

# Campus-wide roles get one checkbox each; centre roles one list of centres each.
GLOBAL_ROLES = (Role.REQUESTER, Role.LEADERSHIP, Role.ADMIN)
CENTRE_ROLE_ORDER = (Role.TECHNICIAN, Role.DISPATCHER, Role.CENTRE_HEAD)
assert set(CENTRE_ROLE_ORDER) == set(CENTRE_ROLES) and set(GLOBAL_ROLES) | set(CENTRE_ROLES) == set(Role)

LOCATION_KIND_LABELS = {
    LocationKind.CAMPUS: N_("Campus"),
    LocationKind.BUILDING: N_("Building"),
    LocationKind.FLOOR: N_("Floor"),
    LocationKind.ROOM: N_("Room"),
    LocationKind.AREA: N_("Area"),
    LocationKind.MACHINE: N_("Machine"),
}

NAME_REQUIRED = _l("Give the name in both Chinese and English.")
CODE_HINT = _l("Lower-case letters a–z, digits, dots, dashes or underscores.")


def coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def centre_role_field(role: Role) -> str:
    """Return the name of the form field listing the centres where ``role`` is held."""
    return f"centres_{role.value}"


# ---------------------------------------------------------------- users


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    role = SelectField(
        _l("Role"),
        choices=options([("", _l("All roles"))] + [(r.value, _l(ROLE_LABELS[r])) for r in Role]),
        validators=[Optional()],
    )
    centre = SelectField(_l("Centre"), coerce=coerce_int_or_none, validators=[Optional()])
    state = SelectField(
        _l("State"),
        choices=options([("", _l("All")), ("active", _l("Active")), ("inactive", _l("Inactive"))]),
        validators=[Optional()],
    )
    page = IntegerField(validators=[Optional()], default=1)


class _UserFields(FlaskForm):
    display_name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Give the user's name.")), Length(max=accounts.DISPLAY_NAME_MAX)],
    )
    email = StringField(
        _l("E-mail"),
        validators=[
            Optional(),
            Length(max=accounts.EMAIL_MAX),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("The e-mail address is not valid.")),
        ],
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=accounts.PHONE_MAX)])
    global_roles = MultiCheckboxField(
        _l("Campus-wide roles"),
        choices=options([(r.value, _l(ROLE_LABELS[r])) for r in GLOBAL_ROLES]),
    )
    centres_technician = MultiCheckboxField(_l("Technician in"), coerce=int)
    centres_dispatcher = MultiCheckboxField(_l("Dispatcher in"), coerce=int)
    centres_centre_head = MultiCheckboxField(_l("Centre head of"), coerce=int)

    def set_centre_choices(self, choices) -> None:
        """Offer ``choices`` (SelectChoice list of centre ids) for every centre role."""
        for role in CENTRE_ROLE_ORDER:
            getattr(self, centre_role_field(role)).choices = choices

    def centre_role_fields(self):
        return [getattr(self, centre_role_field(role)) for role in CENTRE_ROLE_ORDER]

    def load_roles(self, user) -> None:
        """Tick the boxes for the roles ``user`` holds."""
        self.global_roles.data = [r.role.value for r in user.roles if r.role in GLOBAL_ROLES]
        for role in CENTRE_ROLE_ORDER:
            getattr(self, centre_role_field(role)).data = [
                r.centre_id for r in user.roles if r.role == role and r.centre_id is not None
            ]

    def selected_roles(self) -> list[tuple[Role, int | None]]:
        """Return the ticked roles as (role, centre id or None) pairs."""
        roles: list[tuple[Role, int | None]] = [(Role(value), None) for value in self.global_roles.data or []]
        for role in CENTRE_ROLE_ORDER:
            roles.extend((role, centre_id) for centre_id in getattr(self, centre_role_field(role)).data or [])
        return roles


class UserCreateForm(_UserFields):
    username = StringField(
        _l("User name"),
        validators=[
            DataRequired(message=_l("Give a user name.")),
            Length(max=64),
            Regexp(r"^[\w.-]+$", message=_l("A user name has letters, digits, dots, dashes or underscores.")),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Give a first password.")),
            Length(min=accounts.PASSWORD_MIN, max=200, message=_l("Use 8 to 200 characters.")),
        ],
    )


class UserEditForm(_UserFields):
    is_active = BooleanField(_l("Active (may log in)"))
    new_password = PasswordField(
        _l("New password"),
        validators=[
            Optional(),
            Length(min=accounts.PASSWORD_MIN, max=200, message=_l("Use 8 to 200 characters.")),
        ],
        description=_l("Leave empty to keep the password. A new one logs the user out everywhere."),
    )


# ---------------------------------------------------------------- centres


class _CentreFields(FlaskForm):
    name_zh = StringField(
        _l("Name (Chinese)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.CENTRE_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.CENTRE_NAME_MAX)],
    )
    ref_prefix = StringField(
        _l("Reference prefix"),
        validators=[
            DataRequired(message=_l("Give a reference prefix.")),
            Regexp(r"^[A-Z]{2,4}$", message=_l("A reference prefix is 2 to 4 capital letters A–Z, e.g. RP.")),
        ],
        description=_l("Starts the reference of every request, e.g. RP in RP-2026-000123."),
    )
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=admin_service.DESCRIPTION_MAX)]
    )
    sort_order = IntegerField(
        _l("Display order"),
        default=0,
        validators=[Optional(), NumberRange(min=-100000, max=100000)],
        description=_l("Smaller numbers come first."),
    )


class CentreCreateForm(_CentreFields):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Give a code.")), Length(max=admin_service.CENTRE_CODE_MAX)],
        description=_l("Part of request links and QR codes; it cannot be changed later."),
    )


class CentreEditForm(_CentreFields):
    is_active = BooleanField(_l("Active (takes new requests)"))


# ---------------------------------------------------------------- categories


class CategoryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    centre = SelectField(_l("Centre"), coerce=coerce_int_or_none, validators=[Optional()])


class _CategoryFields(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Give a code.")), Length(max=admin_service.CATEGORY_CODE_MAX)],
        description=CODE_HINT,
    )
    name_zh = StringField(
        _l("Name (Chinese)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.CATEGORY_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.CATEGORY_NAME_MAX)],
    )
    default_priority = SelectField(
        _l("Default priority"),
        choices=options([(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]),
        default=Priority.NORMAL.value,
        validators=[InputRequired()],
    )
    sort_order = IntegerField(
        _l("Display order"),
        default=0,
        validators=[Optional(), NumberRange(min=-100000, max=100000)],
        description=_l("Smaller numbers come first."),
    )


class CategoryCreateForm(_CategoryFields):
    centre_id = SelectField(
        _l("Service centre"),
        coerce=coerce_int_or_none,
        validators=[InputRequired(message=_l("Choose the service centre of the category."))],
    )


class CategoryEditForm(_CategoryFields):
    is_active = BooleanField(_l("Active (can be chosen for new requests)"))


# ---------------------------------------------------------------- locations


class LocationForm(FlaskForm):
    # The service checks the parent (exists, no cycle) and says what is wrong.
    parent_id = SelectField(
        _l("Inside"),
        coerce=coerce_int_or_none,
        validators=[Optional()],
        validate_choice=False,
        description=_l("Nothing for a campus."),
    )
    kind = SelectField(
        _l("Kind"),
        choices=options([(kind, _l(LOCATION_KIND_LABELS[kind])) for kind in LocationKind.ALL]),
        validators=[InputRequired()],
    )
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Give a code.")), Length(max=admin_service.LOCATION_CODE_MAX)],
        description=CODE_HINT,
    )
    name_zh = StringField(
        _l("Name (Chinese)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.LOCATION_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[DataRequired(message=NAME_REQUIRED), Length(max=admin_service.LOCATION_NAME_MAX)],
    )
    centre_id = SelectField(
        _l("Service centre for its QR code"),
        coerce=coerce_int_or_none,
        validators=[Optional()],
        description=_l("Optional: a request filed from this place's QR code goes to this centre."),
    )
    category_id = SelectField(
        _l("Category for its QR code"),
        coerce=coerce_int_or_none,
        validators=[Optional()],
        description=_l("Optional: must belong to the centre above."),
    )


class LocationEditForm(LocationForm):
    is_active = BooleanField(_l("Active (can be chosen for new requests)"))
