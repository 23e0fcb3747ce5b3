"""Forms of the standards pages: start a replay."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class ReplayForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("Say what the draft changes, e.g. “Repairs: response within 20 minutes”."))
    first = DateField(_l("From"), validators=[DataRequired()])
    last = DateField(_l("To"), validators=[DataRequired()])
    centre = SelectField(_l("Centre"), validators=[Optional()])
    draft = TextAreaField(_l("Draft (JSON)"), validators=[Optional(), Length(max=200_000)],
                          description=_l("Policies by code, categories by centre/category, calendars by code "
                                         "(see the help). Empty: replay the published standards."))
