"""Forms for rectification items: opening one, acting on one, filtering lists and the dashboard."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.domain.rectification import SOURCE_LABELS, STATUS_LABELS, ItemStatus, Source
from tracker.domain.workflow import PRIORITY_LABELS, Priority
from tracker.forms import OnceForm, options
from tracker.i18n import lazy_label
from tracker.services.ledger.rectification import DESCRIPTION_MAX, SOURCE_REF_MAX, TEXT_MAX, TITLE_MAX


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class NewItemForm(OnceForm):
    centre_id = SelectField(_l("Centre that fixes it"), coerce=_int_or_none,
                            validators=[InputRequired(message=_l("Choose a service centre."))])
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Give the item a title.")),
                                                 Length(max=TITLE_MAX)])
    description = TextAreaField(
        _l("What is to be fixed"),
        validators=[DataRequired(message=_l("Describe the problem to fix.")), Length(min=5, max=DESCRIPTION_MAX)],
    )
    source = SelectField(
        _l("Source"),
        choices=options([(s.value, _l(SOURCE_LABELS[s])) for s in Source]),
        default=Source.OTHER.value,
    )
    source_ref = StringField(
        _l("Source reference"),
        validators=[Optional(), Length(max=SOURCE_REF_MAX)],
        description=_l("Which survey, visit, inspection or meeting, e.g. “Staff survey, autumn 2026”."),
    )
    responsible_id = SelectField(_l("Responsible person"), coerce=_int_or_none,
                                 validators=[InputRequired(message=_l("Choose a responsible person."))])
    due_on = DateField(_l("Deadline"), validators=[InputRequired(message=_l("Give the deadline as a date."))],
                       description=_l("Due at the end of this day, campus time."))
    priority = SelectField(
        _l("Priority"),
        choices=options([(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]),
        default=Priority.NORMAL.value,
    )
    tickets = TextAreaField(
        _l("Linked requests"),
        validators=[Optional(), Length(max=20000)],
        description=_l("References of the requests behind it, separated by spaces or new lines."),
    )
    location_id = HiddenField()
    category_id = HiddenField()


class ItemActionForm(FlaskForm):
    """One form for every action on an item; each action reads the fields it needs."""

    version = IntegerField(validators=[Optional()])
    text = TextAreaField(_l("Note"), validators=[Optional(), Length(max=TEXT_MAX)])
    percent = IntegerField(
        _l("Progress (%)"),
        validators=[Optional(), NumberRange(min=0, max=100, message=_l("Between 0 and 100."))],
    )
    responsible_id = SelectField(_l("Responsible person"), coerce=_int_or_none, validators=[Optional()])
    due_on = DateField(_l("New deadline"), validators=[Optional()])
    references = TextAreaField(_l("References of the requests"), validators=[Optional(), Length(max=20000)])
    verify_anyway = BooleanField(_l("Verify anyway"))
    next = HiddenField()


STATES = (
    ("active", _l("On the backlog")),
    *((s.value, lazy_label(STATUS_LABELS[s])) for s in ItemStatus),
    ("overdue", _l("Overdue")),
    ("all", _l("All")),
)


class ItemFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    state = SelectField(_l("State"), choices=options(STATES), default="active", validators=[Optional()])
    centre = SelectField(_l("Centre"), coerce=_int_or_none, validators=[Optional()])
    source = SelectField(
        _l("Source"),
        choices=options([("", _l("Any source"))] + [(s.value, _l(SOURCE_LABELS[s])) for s in Source]),
        validators=[Optional()],
    )


class BacklogFilterForm(FlaskForm):
    """The backlog dashboard's filters (GET: bookmarkable)."""

    class Meta:
        csrf = False

    first = DateField(_l("From"), name="from", validators=[Optional()])
    last = DateField(_l("To"), name="to", validators=[Optional()])
    centre = SelectField(_l("Centre"), coerce=_int_or_none, validators=[Optional()])
