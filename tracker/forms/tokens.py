"""The form that makes a personal access token."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Optional

from tracker.forms import OnceForm
from tracker.forms.admin import MultiCheckboxField


class TokenForm(OnceForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)],
                       description=_l("What will use it, e.g. the campus portal."))
    scopes = MultiCheckboxField(_l("Roles the token may use"), validators=[DataRequired(
        message=_l("Choose at least one role the token may use."))])
    expires_on = DateField(_l("Expires after (campus date)"), validators=[Optional()])
