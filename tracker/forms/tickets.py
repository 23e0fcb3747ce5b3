"""Forms for filing and working tickets."""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DecimalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.domain.workflow import HOLD_REASON_LABELS, MANUAL_HOLD_REASONS, PRIORITY_LABELS, Priority
from tracker.forms import OnceForm, options
from tracker.services.requests.tickets import (
    CONTACT_PHONE_MAX,
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    LOCATION_NOTE_MAX,
    REASON_MAX,
    TITLE_MAX,
)

TOO_LONG = _l("Write at most %(max)d characters.")


def _coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class FileTicketForm(OnceForm):
    class Meta:
        # The app's CSRFProtect checks every POST's token before the view
        # runs (a POST without it is refused with 400); the page renders the
        # token with csrf_token() (templates/tickets/file.html). The form's
        # own token field would sign a new token at every filing, which a
        # filing that succeeds never shows (issue 20).
        csrf = False

    # The centre's categories and the places are checked by id in the
    # filing's one catalogue statement (services.tickets), not against lists
    # read for the form: a catalogue may hold thousands of places.
    category_id = SelectField(
        _l("What is it about?"),
        coerce=_coerce_int_or_none,
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose a category."))],
    )
    # The place picker's first step: the building (or campus) whose places the "Where?" list shows.
    area_id = SelectField(_l("Building"), coerce=_coerce_int_or_none, validate_choice=False,
                          validators=[Optional()])
    location_id = SelectField(_l("Where?"), coerce=_coerce_int_or_none, validate_choice=False,
                              validators=[Optional()])
    location_note = StringField(
        _l("Place details"),
        validators=[Optional(), Length(max=LOCATION_NOTE_MAX, message=TOO_LONG)],
        description=_l("Room, floor or landmark if it is not in the list."),
    )
    description = TextAreaField(
        _l("What is wrong?"),
        validators=[
            DataRequired(message=_l("Describe the problem.")),
            Length(
                min=DESCRIPTION_MIN,
                max=DESCRIPTION_MAX,
                message=_l("Write between %(min)d and %(max)d characters."),
            ),
        ],
    )
    title = StringField(
        _l("Short title"),
        validators=[Optional(), Length(max=TITLE_MAX, message=TOO_LONG)],
        description=_l("Optional: taken from the description when empty."),
    )
    priority = SelectField(
        _l("Urgency"),
        choices=options(
            [("", _l("As suggested for the category"))] + [(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]
        ),
        validators=[Optional()],
    )
    contact_phone = StringField(
        _l("Phone for the technician"), validators=[Optional(), Length(max=CONTACT_PHONE_MAX, message=TOO_LONG)]
    )
    # Checked on its content by services.attachments, not here.
    photo = FileField(_l("Photo of the problem"))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # Optional() ends the field's own chain when empty, so the
        # "place or description of it" rule is checked on the whole form.
        if self.location_id.data is None and not (self.location_note.data or "").strip():
            self.location_id.errors = [*self.location_id.errors, _l("Choose a place or describe it.")]
            valid = False
        return valid


def assignee_options(loads) -> list:
    """Return the choices of an assign field: "Choose…" first, then each technician with their load.

    Nothing is preselected: an Assign pressed without a choice is refused
    (services.tickets: "Choose a technician.") instead of going to whoever
    sorts first. ``loads`` are services.queues.TechnicianLoad.
    """
    return options(
        [(None, gettext("Choose…"))]
        + [
            (load.user.id, gettext("%(name)s (%(open)d open, %(on_site)d on site)", name=load.user.display_name,
                                   open=load.open_count, on_site=load.on_site))
            for load in loads
        ]
    )


class ActionForm(OnceForm):
    """One form for every ticket action; each action reads the fields it needs (a comment, the one-time key)."""

    version = IntegerField(validators=[Optional()])
    reason = TextAreaField(_l("Note"), validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    hold_reason = SelectField(
        _l("Why on hold?"),
        choices=options([("", "—")] + [(r.value, _l(HOLD_REASON_LABELS[r])) for r in MANUAL_HOLD_REASONS]),
        validators=[Optional()],
    )
    resolution_note = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    materials_used = TextAreaField(_l("Materials used"), validators=[Optional(), Length(max=REASON_MAX)])
    assignee_id = SelectField(_l("Technician"), coerce=_coerce_int_or_none, validators=[Optional()])
    priority = SelectField(
        _l("New priority"),
        choices=options([("", "—")] + [(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]),
        validators=[Optional()],
    )
    category_id = SelectField(_l("New category"), coerce=_coerce_int_or_none, validators=[Optional()])
    extra_hours = DecimalField(
        _l("Extra hold time (hours)"),
        places=1,
        validators=[Optional(), NumberRange(min=0.1, max=24 * 90, message=_l("Between 0.1 and 2160 hours."))],
    )
    next = HiddenField()


class TicketFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    state = SelectField(
        _l("State"),
        choices=options(
            [("open", _l("Open")), ("resolved", _l("Resolved")), ("done", _l("Closed or cancelled")), ("all", _l("All"))]
        ),
        default="open",
        validators=[Optional()],
    )
    centre = SelectField(_l("Centre"), validators=[Optional()])
    page = IntegerField(validators=[Optional()], default=1)
