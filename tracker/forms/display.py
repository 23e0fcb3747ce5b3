"""The form that makes a display link for the wall display."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from tracker.forms import OnceForm


def _centre_id(value):
    return int(value) if value not in (None, "", "None") else None


class DisplayLinkForm(OnceForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("Where the screen hangs, e.g. logistics office, 2nd floor."),
    )
    centre_id = SelectField(_l("Shows"), coerce=_centre_id, validate_choice=True)
