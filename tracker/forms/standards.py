"""Forms of the standards pages: drafts, publishing, benchmarks and their links; replays."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tracker.forms import OnceForm, options
from tracker.forms.admin import PolicyForm


class DraftForm(PolicyForm):
    """A draft's targets, holds and escalations: the policy form without the policy's names."""

    name_zh = None
    name_en = None


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class PublishForm(FlaskForm):
    effective_on = DateField(
        _l("In force from"),
        validators=[DataRequired(message=_l("Give the day it takes effect."))],
        description=_l("Requests filed from this day (campus time) on get the new standard; "
                       "requests filed before keep theirs. Today or later."),
    )


class BenchmarkForm(OnceForm):
    source_name = StringField(_l("Source"), validators=[DataRequired(message=_l("Name the source.")),
                                                        Length(max=200)])
    source_url = StringField(_l("Address (URL)"), validators=[Optional(), Length(max=500)])
    read_year = IntegerField(_l("Year read"), validators=[
        DataRequired(message=_l("Give the year the value was read.")),
        NumberRange(min=1990, max=2100, message=_l("Give a year such as 2026."))])
    country = StringField(_l("Country"), validators=[Optional(), Length(max=8)])
    service = StringField(_l("Service"), validators=[DataRequired(message=_l("Name the service.")),
                                                     Length(max=64)])
    service_class = StringField(_l("Class"), validators=[Optional(), Length(max=64)],
                                description=_l("The source's own class, e.g. emergency, urgent, routine."))
    target = StringField(_l("Target"), validators=[DataRequired(message=_l("Name the target.")), Length(max=32)],
                         description=_l("e.g. response, arrival, resolution."))
    limit = StringField(_l("Limit"), validators=[Optional(), Length(max=40)],
                        description=_l("e.g. 30 min, 2 h, 3 working days, 4 working hours; empty: none."))
    calendar = SelectField(_l("Calendar"), choices=options([
        (None, _l("Not stated")), ("24x7", "24×7"), ("working hours", _l("working hours")),
        ("working days", _l("working days"))]), validators=[Optional()])
    share = StringField(_l("Share (percent)"), validators=[Optional(), Length(max=16)],
                        description=_l("e.g. 95; empty: none."))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])


class BenchmarkImportForm(FlaskForm):
    file = FileField(_l("CSV file"))
    read_year = IntegerField(_l("Year read"), validators=[
        DataRequired(message=_l("Give the year the value was read.")),
        NumberRange(min=1990, max=2100, message=_l("Give a year such as 2026."))],
        description=_l("For rows without a year column."))


class LinkForm(FlaskForm):
    policy_target = SelectField(_l("Standard"), validators=[DataRequired(message=_l("Choose a standard."))])
    priority = SelectField(_l("Priority"), validators=[Optional()])
    benchmark = SelectField(_l("Benchmark"), validators=[DataRequired(message=_l("Choose a benchmark."))])

class ReplayForm(OnceForm):
    name = StringField(_l("Name of the replay"), validators=[DataRequired(), Length(max=200)],
                       description=_l("Say what the draft changes, e.g. “Repairs: response within 20 minutes”."))
    first = DateField(_l("From"), validators=[DataRequired()])
    last = DateField(_l("To"), validators=[DataRequired()])
    centre = SelectField(_l("Centre"), validators=[Optional()])
    draft = TextAreaField(_l("Draft (JSON)"), validators=[Optional(), Length(max=200_000)],
                          description=_l("Policies by code, categories by centre/category, calendars by code "
                                         "(see the help). Empty: replay the published standards."))
    # The draft version replayed (from its page): the saved replay stays attached to it.
    version = HiddenField()


class HistoryForm(FlaskForm):
    """What history supports: read from the query string (a GET form)."""

    class Meta:
        csrf = False

    weeks = IntegerField(_l("Last weeks"), default=12, validators=[Optional(), NumberRange(1, 520)])
    share = IntegerField(_l("Share to promise (%)"), default=90, validators=[Optional(), NumberRange(1, 100)])
    centre = SelectField(_l("Centre"), validators=[Optional()])
