"""Supervision orders (督办): issuing, answering and closing one."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.forms import OnceForm


class IssueForm(OnceForm):
    instruction = TextAreaField(
        _l("Instruction"),
        validators=[
            DataRequired(message=_l("Write the instruction: at least 5 characters.")),
            Length(min=5, max=2000, message=_l("Write the instruction: 5 to 2,000 characters.")),
        ],
    )
    responsible_id = SelectField(
        _l("Responsible person"),
        coerce=int,
        validate_choice=True,
        validators=[InputRequired(message=_l("Choose the responsible person among the centre's staff."))],
    )
    deadline = DateTimeLocalField(
        _l("Answer by"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message=_l("Give the deadline of the answer."))],
        description=_l("Campus time."),
    )


class AnswerForm(FlaskForm):
    version = HiddenField()
    answer = TextAreaField(
        _l("Answer"),
        validators=[DataRequired(message=_l("Write the answer.")), Length(max=2000)],
    )


class CloseForm(FlaskForm):
    version = HiddenField()
    note = TextAreaField(_l("Closing note"), validators=[Optional(), Length(max=2000)])
