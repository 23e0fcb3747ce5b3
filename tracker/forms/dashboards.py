"""The dashboards' filter form (GET: no CSRF token, bookmarkable)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from tracker.domain.workflow import PRIORITY_LABELS, Priority
from tracker.forms import options


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class DashboardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    # The URL reads ?from=…&to=…: "from" is a Python keyword.
    first = DateField(_l("From"), name="from", validators=[Optional()])
    last = DateField(_l("To"), name="to", validators=[Optional()])
    centre = SelectField(_l("Centre"), coerce=_int_or_none, validators=[Optional()])
    category = SelectField(_l("Category"), coerce=_int_or_none, validators=[Optional()])
    priority = SelectField(
        _l("Priority"),
        choices=options([("", _l("All priorities"))] + [(p.value, _l(PRIORITY_LABELS[p])) for p in Priority]),
        validators=[Optional()],
    )
