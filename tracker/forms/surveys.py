"""Forms for surveys: uploading a file, mapping its columns, filtering responses, opening an item from them."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.domain.workflow import PRIORITY_LABELS, Priority
from tracker.forms import OnceForm, options
from tracker.services.ledger.rectification import DESCRIPTION_MAX, SOURCE_REF_MAX, TITLE_MAX
from tracker.services.ledger.surveys import FIELDS, SURVEY_MAX, TOPIC_MAX


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class UploadForm(OnceForm):
    survey = StringField(
        _l("Survey"),
        validators=[DataRequired(message=_l("Name the survey.")), Length(max=SURVEY_MAX)],
        description=_l("Which questionnaire, e.g. “Canteen satisfaction, autumn 2026”. Rows of the same survey "
                       "imported again are recognised and skipped."),
    )
    file = FileField(_l("CSV or xlsx file"), description=_l("The first row names the columns."))


class MappingForm(FlaskForm):
    """Which column holds which field; the column choices are the file's header."""

    mapping = SelectField(_l("Saved mapping"), coerce=_int_or_none, validators=[Optional()])
    centre_id = SelectField(_l("One centre for the whole file"), coerce=_int_or_none, validators=[Optional()],
                            description=_l("Used where the centre column is not chosen or empty."))
    date_format = StringField(_l("Date format"), validators=[Optional(), Length(max=40)],
                              description=_l("Empty: 2026-10-08, 2026/10/08 or 2026年10月8日. Else e.g. %(example)s.",
                                              example="%d/%m/%Y"))
    score_min = IntegerField(_l("Lowest score"), default=1,
                             validators=[InputRequired(), NumberRange(min=0, max=100)])
    score_max = IntegerField(_l("Highest score"), default=5,
                             validators=[InputRequired(), NumberRange(min=0, max=100)])
    save_as = StringField(_l("Save this mapping as"), validators=[Optional(), Length(max=120)],
                          description=_l("Optional: a name to reuse the mapping for the next file."))


# One select per field, named col_<field>.
for _name, _label in FIELDS:
    setattr(MappingForm, f"col_{_name}", SelectField(_l(_label), validators=[Optional()]))


class ItemForm(OnceForm):
    """A rectification item opened from survey responses."""

    centre_id = SelectField(_l("Centre that fixes it"), coerce=_int_or_none,
                            validators=[InputRequired(message=_l("Choose a service centre."))])
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Give the item a title.")),
                                                 Length(max=TITLE_MAX)])
    description = TextAreaField(_l("What is to be fixed"),
                                validators=[DataRequired(message=_l("Describe the problem to fix.")),
                                            Length(min=5, max=DESCRIPTION_MAX)])
    source_ref = StringField(_l("Source reference"), validators=[Optional(), Length(max=SOURCE_REF_MAX)])
    responsible_id = SelectField(_l("Responsible person"), coerce=_int_or_none,
                                 validators=[InputRequired(message=_l("Choose a responsible person."))])
    due_on = DateField(_l("Deadline"), validators=[InputRequired(message=_l("Give the deadline as a date."))],
                       description=_l("Due at the end of this day, campus time."))
    priority = SelectField(_l("Priority"), choices=options([(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]),
                           default=Priority.NORMAL.value)


class TopicForm(FlaskForm):
    """A topic's names: the key is the topic as the responses write it."""

    key = StringField(_l("Topic as imported"), validators=[DataRequired(message=_l("Choose a topic.")),
                                                           Length(max=TOPIC_MAX)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Length(max=TOPIC_MAX)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=TOPIC_MAX)])
