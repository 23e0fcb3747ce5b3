"""The form that asks for a week's report to be (re)generated."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import InputRequired


class WeekForm(FlaskForm):
    week = DateField(
        _l("Week"),
        validators=[InputRequired(message=_l("Choose a day of the week to report on."))],
        description=_l("Any day of the week: the report covers Monday to Sunday, campus time."),
    )
