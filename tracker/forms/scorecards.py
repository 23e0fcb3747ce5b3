"""Forms of the follow-up rules and contractors pages (docs/scorecards.md, docs/feedback.md).

The share is a plain text field: the service reads it (rules.clean_share)
and refuses what is not a whole percent from 0 to 100, in the reader's language.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length, Optional

from tracker.forms import OnceForm


class FollowUpRuleForm(FlaskForm):
    """One row of the rules page: a category's code (empty: the centre's default) and its share."""

    category = HiddenField(validators=[Optional(), Length(max=64)])
    share = StringField(_l("Follow-up share (%)"), validators=[Optional(), Length(max=20)])
    complaint = BooleanField(_l("Complaints: follow up every one (100 %)"))


class ContractorForm(OnceForm):
    code = StringField(_l("Code"), validators=[Length(max=32)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Length(max=120)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=120)])


class ContractorEditForm(FlaskForm):
    name_zh = StringField(_l("Name in Chinese"), validators=[Length(max=120)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=120)])
    is_active = BooleanField(_l("Active"))


class AssignForm(FlaskForm):
    """A technician and the contractor's code (empty: the campus's own staff)."""

    technician = HiddenField(validators=[Length(max=20)])
    contractor = StringField(validators=[Optional(), Length(max=32)])
