"""Forms of the standards pages: start a replay."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ReplayForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("Say what the draft changes, e.g. “Repairs: response within 20 minutes”."))
    first = DateField(_l("From"), validators=[DataRequired()])
    last = DateField(_l("To"), validators=[DataRequired()])
    centre = SelectField(_l("Centre"), validators=[Optional()])
    draft = TextAreaField(_l("Draft (JSON)"), validators=[Optional(), Length(max=200_000)],
                          description=_l("Policies by code, categories by centre/category, calendars by code "
                                         "(see the help). Empty: replay the published standards."))


class HistoryForm(FlaskForm):
    """What history supports: read from the query string (a GET form)."""

    class Meta:
        csrf = False

    weeks = IntegerField(_l("Last weeks"), default=12, validators=[Optional(), NumberRange(1, 520)])
    share = IntegerField(_l("Share to promise (%)"), default=90, validators=[Optional(), NumberRange(1, 100)])
    centre = SelectField(_l("Centre"), validators=[Optional()])
