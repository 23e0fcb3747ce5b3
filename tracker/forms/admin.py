"""Forms of the administration area: users, centres, categories, places,
business calendars and SLA policies.

Choices that come from the database (centres, categories, places,
calendars, policies) are set by the view with ``options()``/``grouped()``
before validation.
"""

import re
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.domain.calendar import WEEKDAYS, BusinessCalendar, CalendarError
from tracker.domain.i18n import N_
from tracker.domain.roles import CENTRE_ROLES, ROLE_LABELS, Role
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import HOLD_REASON_LABELS, PRIORITY_LABELS, HoldReason, Priority
from tracker.forms import OnceForm, options
from tracker.models import LocationKind
from tracker.services.admin import accounts
from tracker.services.admin import centres as admin_service
from tracker.services.sla.config import MINUTES_MAX

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
# Catalogue texts (centres, categories, places): one language is enough, the
# other falls back to it (docs/i18n.md); the service says when both are empty.
OTHER_LANGUAGE_HINT = _l("May stay empty: English readers then see the Chinese text.")
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


class UserCreateForm(OnceForm, _UserFields):
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
        validators=[Length(max=admin_service.CENTRE_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[Length(max=admin_service.CENTRE_NAME_MAX)],
    )
    ref_prefix = StringField(
        _l("Reference prefix"),
        validators=[
            DataRequired(message=_l("Give a reference prefix.")),
            Regexp(r"^[A-Z]{2,4}$", message=_l("A reference prefix is 2 to 4 capital letters A–Z, e.g. RP.")),
        ],
        description=_l("Starts the reference of every request, e.g. RP in RP-2026-000123."),
    )
    description_zh = TextAreaField(
        _l("Description (Chinese)"), validators=[Optional(), Length(max=admin_service.DESCRIPTION_MAX)],
        description=_l("Shown under the name when requesters choose a centre."),
    )
    description_en = TextAreaField(
        _l("Description (English)"), validators=[Optional(), Length(max=admin_service.DESCRIPTION_MAX)],
        description=OTHER_LANGUAGE_HINT,
    )
    sort_order = IntegerField(
        _l("Display order"),
        default=0,
        validators=[Optional(), NumberRange(min=-100000, max=100000)],
        description=_l("Smaller numbers come first."),
    )


class CentreCreateForm(OnceForm, _CentreFields):
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
        validators=[Length(max=admin_service.CATEGORY_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[Length(max=admin_service.CATEGORY_NAME_MAX)],
    )
    # Paid repairs (有偿维修): work needs the requester's consent to a quote (docs/materials.md).
    is_chargeable = BooleanField(_l("Chargeable: repairs are paid by the requester"))
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
    sla_policy_id = SelectField(
        _l("SLA policy"),
        coerce=coerce_int_or_none,
        validators=[Optional()],
        description=_l(
            "Requests filed from now on run under the policy's current version; "
            "requests filed before keep the version they started with."
        ),
    )


class CategoryCreateForm(OnceForm, _CategoryFields):
    centre_id = SelectField(
        _l("Service centre"),
        coerce=coerce_int_or_none,
        validators=[InputRequired(message=_l("Choose the service centre of the category."))],
    )


class CategoryEditForm(_CategoryFields):
    is_active = BooleanField(_l("Active (can be chosen for new requests)"))


# ---------------------------------------------------------------- locations


class LocationForm(OnceForm):
    is_chargeable = BooleanField(_l("Chargeable: repairs here are paid by the requester"))
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
        validators=[Length(max=admin_service.LOCATION_NAME_MAX)],
    )
    name_en = StringField(
        _l("Name (English)"),
        validators=[Length(max=admin_service.LOCATION_NAME_MAX)],
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


# ---------------------------------------------------------------- calendars

WEEKDAY_LABELS = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}
assert tuple(WEEKDAY_LABELS) == WEEKDAYS

# People type hours and dates with Chinese punctuation as often as without.
_PUNCTUATION = str.maketrans({"：": ":", "，": ",", "、": ",", "；": ",", ";": ",", "–": "-", "—": "-", "~": "-",
                              "～": "-", "至": "-", "－": "-"})
_RANGE_RE = re.compile(r"([0-9]{1,2}:[0-9]{2})-([0-9]{1,2}:[0-9]{2})")
_DATE_TEXT_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_CALENDAR_FIELD_RE = re.compile(r"^(timezone|week\.(\w+)|holidays|extra_workdays|extra_workday_hours)\b")


def parse_hours(text: str | None) -> list[list[str]]:
    """Return ``[["08:30", "12:00"], ...]`` from "08:30-12:00, 14:00-17:30" (empty: a day off).

    Checks the syntax only; ``BusinessCalendar.from_dict`` checks the times.
    Raises ValueError with a translated message.
    """
    normalised = re.sub(r"\s*-\s*", "-", (text or "").translate(_PUNCTUATION))
    intervals = []
    for piece in re.split(r"[,\s]+", normalised.strip()):
        if not piece:
            continue
        match = _RANGE_RE.fullmatch(piece)
        if match is None:
            raise ValueError(
                _('"%(text)s" is not a time range: write working hours like 08:30-12:00, 14:00-17:30.', text=piece)
            )
        intervals.append([match[1], match[2]])
    return intervals


def format_hours(intervals) -> str:
    """Return intervals as ``parse_hours`` reads them."""
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def parse_dates(text: str | None) -> list[str]:
    """Return ISO dates from text with one date a line or separated by commas; ValueError otherwise."""
    result = []
    for piece in re.split(r"[,\s]+", (text or "").translate(_PUNCTUATION).strip()):
        if not piece:
            continue
        match = _DATE_TEXT_RE.fullmatch(piece)
        try:
            day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
        except ValueError:
            day = None
        if day is None:
            raise ValueError(
                _('"%(text)s" is not a date: write dates like 2025-10-01, one a line or separated by commas.',
                  text=piece)
            )
        result.append(day.isoformat())
    return result


def _hours_text(form, field) -> None:
    try:
        parse_hours(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _dates_text(form, field) -> None:
    try:
        parse_dates(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _weekday_field(day: str) -> StringField:
    return StringField(_l(WEEKDAY_LABELS[day]), validators=[Optional(), Length(max=200), _hours_text])


class CalendarForm(FlaskForm):
    """A business calendar as people write it; ``definition`` is what ``from_dict`` reads."""

    # The version the page showed: saving over a newer one is refused.
    version_id = HiddenField()
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(message=NAME_REQUIRED), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(message=NAME_REQUIRED), Length(max=120)])
    timezone = StringField(
        _l("Time zone"),
        validators=[DataRequired(message=_l("Give the time zone, e.g. Asia/Shanghai.")), Length(max=64)],
        description=_l("An IANA name such as Asia/Shanghai. Hours, holidays and extra working days are local to it."),
    )
    week_mon = _weekday_field("mon")
    week_tue = _weekday_field("tue")
    week_wed = _weekday_field("wed")
    week_thu = _weekday_field("thu")
    week_fri = _weekday_field("fri")
    week_sat = _weekday_field("sat")
    week_sun = _weekday_field("sun")
    holidays = TextAreaField(
        _l("Holidays and local closures"),
        validators=[Optional(), _dates_text],
        description=_l("Days with no working time: one date a line or separated by commas, e.g. 2025-10-01."),
    )
    extra_workdays = TextAreaField(
        _l("Extra working days"),
        validators=[Optional(), _dates_text],
        description=_l("Days off in the week above that work this time, such as weekends China moves "
                       "working days onto."),
    )
    extra_workday_hours = StringField(
        _l("Hours of the extra working days"),
        validators=[Optional(), Length(max=200), _hours_text],
        description=_l("Empty: Monday's hours."),
    )
    follows_china_holidays = BooleanField(
        _l("Follows China's statutory holidays"),
        description=_l("Warns when this or next year has no holidays yet; importing China's holidays ticks it."),
    )
    note = TextAreaField(
        _l("Note for this version"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Why it changed; shown in the version history."),
    )

    def week_fields(self) -> list:
        return [getattr(self, f"week_{day}") for day in WEEKDAYS]

    def definition(self) -> dict:
        """Return the calendar in ``BusinessCalendar.from_dict``'s format (fields already validated)."""
        data = {
            "timezone": (self.timezone.data or "").strip(),
            "week": {day: parse_hours(getattr(self, f"week_{day}").data) for day in WEEKDAYS},
            "holidays": parse_dates(self.holidays.data),
            "extra_workdays": parse_dates(self.extra_workdays.data),
        }
        if (self.extra_workday_hours.data or "").strip():
            data["extra_workday_hours"] = parse_hours(self.extra_workday_hours.data)
        return data

    def validate(self, extra_validators=None) -> bool:
        """Validate the fields, then the calendar; its errors go next to the field they name."""
        if not super().validate(extra_validators):
            return False
        try:
            self.calendar_definition = BusinessCalendar.from_dict(self.definition()).to_dict()
        except CalendarError as error:
            detail = _(error.template, **error.params) if error.template else str(error)
            message = _("The calendar is not valid: %(error)s", error=detail)
            field = self._field_named(str(error))
            if field is None:
                self.form_errors.append(message)
            else:
                field.errors.append(message)
            return False
        return True

    def _field_named(self, message: str):
        """Return the field a CalendarError message starts with ("week.mon[1]: ..."), or None."""
        match = _CALENDAR_FIELD_RE.match(message)
        if match is None:
            return None
        name = f"week_{match[2]}" if match[2] else match[1]
        return getattr(self, name, None)

    @staticmethod
    def data_from(calendar) -> dict:
        """Return the form's data for a stored calendar and its current version."""
        definition = calendar.current_version.definition if calendar.current_version else {}
        week = definition.get("week") or {}
        data = {
            "version_id": str(calendar.current_version_id or ""),
            "name_zh": calendar.name_zh,
            "name_en": calendar.name_en,
            "timezone": definition.get("timezone", ""),
            "holidays": "\n".join(definition.get("holidays") or []),
            "extra_workdays": "\n".join(definition.get("extra_workdays") or []),
            "extra_workday_hours": format_hours(definition.get("extra_workday_hours")),
            "follows_china_holidays": calendar.follows_china_holidays,
        }
        data.update({f"week_{day}": format_hours(week.get(day)) for day in WEEKDAYS})
        return data


class CalendarCreateForm(OnceForm, CalendarForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(message=_l("Give a code.")),
            Length(max=48),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message=CODE_HINT),
        ],
        description=_l("Policies name their calendars by this code; it cannot be changed later."),
    )


class CalendarEditForm(CalendarForm):
    pass


class ChinaHolidaysForm(FlaskForm):
    year_from = IntegerField(
        _l("From year"),
        validators=[InputRequired(message=_l("Give the first year.")), NumberRange(min=2000, max=2100)],
    )
    year_to = IntegerField(
        _l("To year"),
        validators=[InputRequired(message=_l("Give the last year.")), NumberRange(min=2000, max=2100)],
    )

    def validate_year_to(self, field) -> None:
        if self.year_from.data is None or field.data is None:
            return
        if field.data < self.year_from.data:
            raise ValidationError(_("The last year comes after the first."))
        if field.data - self.year_from.data >= 20:
            raise ValidationError(_("Import at most 20 years at once."))

    def years(self) -> range:
        return range(self.year_from.data, self.year_to.data + 1)


class EnterDaysForm(FlaskForm):
    """Days of next year's published schedule, typed in: a day or a run of days, a kind and a name."""

    first = DateField(_l("Day"), validators=[InputRequired(message=_l("Give the day as a date."))])
    last = DateField(_l("To (optional)"), validators=[Optional()],
                     description=_l("For a run of days, e.g. the Spring Festival holiday: its last day."))
    kind = SelectField(_l("Kind"), choices=options([("holiday", _l("Holiday")), ("workday", _l("Make-up working day"))]),
                       default="holiday")
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Give the day a name, e.g. 春节 or Spring "
                                                                       "Festival.")), Length(max=100)])


class DaysFileForm(FlaskForm):
    file = FileField(_l("CSV file"), description=_l("One day per row: date,kind,name, e.g. "
                                                    "2027-02-06,holiday,春节 or 2027-02-14,workday,春节调休."))


# ---------------------------------------------------------------- SLA policies

_DURATION_RE = re.compile(r"(?:([0-9]+(?:\.[0-9]+)?)d)?(?:([0-9]+(?:\.[0-9]+)?)h)?(?:([0-9]+(?:\.[0-9]+)?)m(?:in)?)?")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TARGET_VALUES = frozenset(t.value for t in Target)


def parse_duration(text: str | None) -> float | None:
    """Return minutes from "90", "90m", "4h", "1h30m" or "2d" (d = 24 h); None when empty.

    Raises ValueError when the text is none of these.
    """
    compact = re.sub(r"\s+", "", (text or "").lower())
    if not compact:
        return None
    if _NUMBER_RE.fullmatch(compact):
        return float(compact)
    match = _DURATION_RE.fullmatch(compact)
    if match is None or not any(match.groups()):
        raise ValueError(compact)
    days, hours, minutes = (float(part) if part else 0.0 for part in match.groups())
    return round(days * 1440 + hours * 60 + minutes, 6)


def format_duration(minutes) -> str:
    """Return minutes as ``parse_duration`` reads them: "30m", "4h", "1h30m"; never in days."""
    if minutes in (None, ""):
        return ""
    value = float(minutes)
    if value != int(value):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    hours, rest = divmod(int(value), 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h{rest}m" if rest else f"{hours}h"


def _duration(form, field) -> None:
    try:
        minutes = parse_duration(field.data)
    except ValueError:
        raise ValidationError(_("Write a duration like 90, 30m, 4h, 1h30m or 2d.")) from None
    if minutes is not None and not 0 < minutes <= MINUTES_MAX:
        raise ValidationError(_("Give a duration longer than 0 and at most 365d."))


def _hours_number(form, field) -> None:
    text = (field.data or "").strip().replace(",", ".")
    if not text:
        return
    if not _NUMBER_RE.fullmatch(text) or not 0 < float(text) <= MINUTES_MAX / 60:
        raise ValidationError(_("Give the cap in hours, e.g. 72 or 1.5, or leave it empty."))


def _percent_number(form, field) -> None:
    text = (field.data or "").strip().rstrip("%").strip().replace(",", ".")
    if text and not _NUMBER_RE.fullmatch(text):
        raise ValidationError(_("Give the share as a percentage, e.g. 95 or 99.5, or leave it empty."))


def share_fraction(text: str | None) -> float | None:
    """Return a percentage typed on a page ("95", "99.5 %") as a fraction; None when empty."""
    text = (text or "").strip().rstrip("%").strip().replace(",", ".")
    return round(float(text) / 100, 6) if text else None


def share_text(share) -> str:
    """Return a stored fraction as the percentage a page shows in an input ("95", "99.5")."""
    if share in (None, ""):
        return ""
    return f"{float(share) * 100:.2f}".rstrip("0").rstrip(".")


def _given(message):
    """Require a value, as InputRequired does, without marking the input ``required``.

    A target's fields are needed only while it is measured; TargetForm skips them otherwise.
    """

    def check(form, field) -> None:
        if field.data in (None, "") and not field.process_errors:
            raise StopValidation(message)

    return check


def _minutes_field(priority: Priority) -> StringField:
    return StringField(_l(PRIORITY_LABELS[priority]), validators=[Optional(), Length(max=32), _duration])


class TargetForm(FlaskForm):
    """One target of a policy; not checked at all while it is not measured."""

    class Meta:
        csrf = False

    enabled = BooleanField(_l("Measure this target"))
    calendar = SelectField(_l("Calendar"), validators=[_given(_l("Choose the calendar."))])
    minutes_urgent = _minutes_field(Priority.URGENT)
    minutes_high = _minutes_field(Priority.HIGH)
    minutes_normal = _minutes_field(Priority.NORMAL)
    minutes_low = _minutes_field(Priority.LOW)
    at_risk = IntegerField(
        _l("At-risk share (percent)"),
        default=75,
        validators=[
            _given(_l("Give the at-risk share: a whole percentage from 1 to 99.")),
            NumberRange(min=1, max=99, message=_l("The at-risk share is a whole percentage from 1 to 99.")),
        ],
        description=_l("Share of the target after which the request shows as at risk."),
    )
    share = StringField(
        _l("Promised share (percent)"),
        validators=[Optional(), Length(max=16), _percent_number],
        description=_l("Share of requests the standard promises within the limit, e.g. 95. Empty: none stated."),
    )

    def minute_fields(self) -> list:
        return [getattr(self, f"minutes_{p.value}") for p in Priority]

    def validate(self, extra_validators=None) -> bool:
        if not self.enabled.data:
            return True
        if not super().validate(extra_validators):
            return False
        if all(parse_duration(f.data) is None for f in self.minute_fields()):
            self.form_errors.append(_("Give the time for at least one priority."))
            return False
        return True

    def rule(self) -> dict:
        return {
            "calendar": self.calendar.data,
            "minutes": {
                p.value: parse_duration(f.data)
                for p, f in zip(Priority, self.minute_fields(), strict=True)
                if parse_duration(f.data) is not None
            },
            "at_risk": self.at_risk.data / 100,
            # The range is sla_config.validate_policy's to refuse.
            "share": share_fraction(self.share.data),
        }


class PauseForm(FlaskForm):
    """What one hold reason pauses, and for how long at most."""

    class Meta:
        csrf = False

    targets = MultiCheckboxField(
        _l("Pauses"), choices=options([(t.value, _l(TARGET_LABELS[t])) for t in Target]), validate_choice=True
    )
    cap_hours = StringField(
        _l("Cap (hours)"),
        validators=[Optional(), Length(max=16), _hours_number],
        description=_l("Real hours on hold in total; past the cap the clock runs again. Empty: no cap."),
    )

    def cap_minutes(self) -> float | None:
        text = (self.cap_hours.data or "").strip().replace(",", ".")
        return round(float(text) * 60, 6) if text else None


def _target_field(target: Target) -> FormField:
    return FormField(TargetForm, label=_l(TARGET_LABELS[target]))


def _pause_field(reason: HoldReason) -> FormField:
    return FormField(PauseForm, label=_l(HOLD_REASON_LABELS[reason]))


class PolicyForm(FlaskForm):
    """An SLA policy: a target per milestone, and what each hold reason pauses."""

    version_id = HiddenField()
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(message=NAME_REQUIRED), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(message=NAME_REQUIRED), Length(max=120)])
    target_dispatch = _target_field(Target.DISPATCH)
    target_response = _target_field(Target.RESPONSE)
    target_arrival = _target_field(Target.ARRIVAL)
    target_resolution = _target_field(Target.RESOLUTION)
    target_confirmation = _target_field(Target.CONFIRMATION)
    hold_waiting_parts = _pause_field(HoldReason.WAITING_PARTS)
    hold_requester_unavailable = _pause_field(HoldReason.REQUESTER_UNAVAILABLE)
    hold_third_party = _pause_field(HoldReason.THIRD_PARTY)
    hold_access_denied = _pause_field(HoldReason.ACCESS_DENIED)
    hold_scheduled = _pause_field(HoldReason.SCHEDULED)
    hold_other = _pause_field(HoldReason.OTHER)
    hold_awaiting_consent = _pause_field(HoldReason.AWAITING_CONSENT)
    escalation_ack = StringField(
        _l("Time to acknowledge an escalation"),
        default="30m",
        validators=[DataRequired(message=_l("Give the time to acknowledge an escalation.")), Length(max=32),
                    _duration],
        description=_l("Real time, e.g. 15m or 1h; an escalation not acknowledged by then goes one level up."),
    )
    escalation_leadership_after = StringField(
        _l("Leadership hears of a breach after"),
        default="2h",
        validators=[DataRequired(message=_l("Give the time after which leadership hears of a breach.")),
                    Length(max=32), _duration],
        description=_l("Real time a breach lasts before leadership is told, e.g. 2h."),
    )
    escalation_defer_to = SelectField(
        _l("Non-urgent at-risk notices wait for"),
        default="",
        validators=[Optional()],
        description=_l("Outside this calendar's hours, at-risk notices of requests that are not urgent wait "
                       "for its next opening."),
    )
    note = TextAreaField(
        _l("Note for this version"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Why it changed; shown in the version history."),
    )

    def target_fields(self) -> list[tuple[Target, FormField]]:
        return [(t, getattr(self, f"target_{t.value}")) for t in Target]

    def pause_fields(self) -> list[tuple[HoldReason, FormField]]:
        return [(r, getattr(self, f"hold_{r.value}")) for r in HoldReason]

    def set_calendar_choices(self, choices, quiet_choices) -> None:
        """Offer the calendars for the targets and, with ``quiet_choices``, for deferred notices."""
        for _target, field in self.target_fields():
            field.calendar.choices = choices
        self.escalation_defer_to.choices = quiet_choices

    def validate(self, extra_validators=None) -> bool:
        """Validate the fields, then that pauses name measured targets only."""
        valid = super().validate(extra_validators)
        measured = {t.value for t, field in self.target_fields() if field.enabled.data}
        if not measured:
            self.form_errors.append(_("Measure at least one target."))
            valid = False
        for reason, field in self.pause_fields():
            paused = field.targets.data or []
            for name in paused:
                if name in measured:
                    continue
                field.targets.errors = [*field.targets.errors, _(
                    "%(reason)s cannot pause %(target)s: the policy does not measure that target.",
                    reason=_(HOLD_REASON_LABELS[reason]),
                    target=_(TARGET_LABELS[Target(name)]) if name in _TARGET_VALUES else name,
                )]
                valid = False
            if not paused and (field.cap_hours.data or "").strip():
                field.cap_hours.errors = [*field.cap_hours.errors, _(
                    "Tick what this reason pauses, or leave the cap empty."
                )]
                valid = False
        return valid

    def definition(self) -> dict:
        """Return the policy in ``sla_config.validate_policy``'s format (form already validated)."""
        targets = {t.value: field.form.rule() for t, field in self.target_fields() if field.enabled.data}
        pauses = {}
        for reason, field in self.pause_fields():
            if field.targets.data:
                pauses[reason.value] = {"targets": sorted(field.targets.data), "cap_minutes": field.form.cap_minutes()}
        escalation = {
            "ack_minutes": parse_duration(self.escalation_ack.data),
            "leadership_after_minutes": parse_duration(self.escalation_leadership_after.data),
            "defer_non_urgent_to": self.escalation_defer_to.data or None,
        }
        return {"targets": targets, "pauses": pauses, "escalation": escalation}

    @staticmethod
    def data_from(policy, version=None) -> dict:
        """Return the form's data for a stored policy and its current version (or ``version``)."""
        version = version if version is not None else policy.current_version
        definition = version.definition if version else {}
        data = {
            "version_id": str(policy.current_version_id or ""),
            "name_zh": policy.name_zh,
            "name_en": policy.name_en,
        }
        targets = definition.get("targets") or {}
        for target in Target:
            rule = targets.get(target.value)
            if rule is None:
                data[f"target_{target.value}"] = {"enabled": False}
                continue
            sub = {
                "enabled": True,
                "calendar": rule.get("calendar"),
                "at_risk": int(round(float(rule.get("at_risk", 0.75)) * 100)),
                "share": share_text(rule.get("share")),
            }
            for priority in Priority:
                sub[f"minutes_{priority.value}"] = format_duration((rule.get("minutes") or {}).get(priority.value))
            data[f"target_{target.value}"] = sub
        pauses = definition.get("pauses") or {}
        for reason in HoldReason:
            rule = pauses.get(reason.value) or {}
            cap = rule.get("cap_minutes")
            data[f"hold_{reason.value}"] = {
                "targets": list(rule.get("targets") or []),
                "cap_hours": "" if cap is None else f"{float(cap) / 60:.4f}".rstrip("0").rstrip("."),
            }
        escalation = definition.get("escalation") or {}
        data["escalation_ack"] = format_duration(escalation.get("ack_minutes", 30))
        data["escalation_leadership_after"] = format_duration(escalation.get("leadership_after_minutes", 120))
        data["escalation_defer_to"] = escalation.get("defer_non_urgent_to") or ""
        return data


class PolicyCreateForm(OnceForm, PolicyForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(message=_l("Give a code.")),
            Length(max=48),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message=CODE_HINT),
        ],
        description=_l("It cannot be changed later."),
    )


class PolicyEditForm(PolicyForm):
    pass
