"""Forms of the import pages: a run (files, mapping, time zone, dry run) and a saved mapping."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tracker.forms import OnceForm
from tracker.forms.zones import KnownZone


class RunForm(OnceForm):
    files = MultipleFileField(_l("Files (CSV, CSV.GZ or XLSX)"))
    mapping = SelectField(_l("Mapping"), validators=[DataRequired()])
    # Choices from tracker.forms.zones; the value is checked against every zone, not only those shown.
    time_zone = SelectField(_l("Time zone of the source"), validators=[Optional(), KnownZone()],
                            validate_choice=False, description=_l("Empty: the mapping's time zone."))
    encoding = SelectField(_l("Encoding of CSV files"), validators=[DataRequired()], default="utf-8",
                           description=_l("Files saved by Chinese office software are often GB18030."))
    as_of = StringField(_l("Read open requests' clocks at"), validators=[Optional(), Length(max=25)],
                        description=_l("A local time of the source, e.g. 2016-01-13 00:00; empty: now."))
    dry_run = BooleanField(_l("Dry run: check every row and show what would be imported, change nothing"),
                           default=True)


class AgainForm(FlaskForm):
    """Import for real what a dry run checked (the same files and settings)."""


class MappingForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=48)],
                       description=_l("Letters, digits and dashes; the command line names the mapping by it."))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    source_system = StringField(_l("Source system"), validators=[DataRequired(), Length(max=32)],
                                description=_l("A short code: each imported request is known as "
                                               "“<source system>:<row id>”, never imported twice."))
    time_zone = SelectField(_l("Time zone of the source"), validators=[DataRequired(), KnownZone()],
                            validate_choice=False)
    date_formats = TextAreaField(_l("Date formats"), validators=[Optional(), Length(max=500)],
                                 description=_l("One per line, tried in order: iso, or like %m/%d/%Y %I:%M:%S %p."))
    # One column per importer.FIELDS entry is added by the view (col_<field>).
    centre_fixed = StringField(_l("Every row's centre (code)"), validators=[Optional(), Length(max=32)])
    centre_values = TextAreaField(_l("Centre values"), validators=[Optional(), Length(max=20000)],
                                  description=_l("One per line: source value = centre code."))
    centre_create = BooleanField(_l("Create the centres that are not found"))
    centre_prefix = StringField(_l("Code prefix of created centres"), validators=[Optional(), Length(max=12)])
    category_fixed = StringField(_l("Every row's category (code)"), validators=[Optional(), Length(max=48)])
    category_values = TextAreaField(_l("Category values"), validators=[Optional(), Length(max=20000)],
                                    description=_l("One per line: source value = category code."))
    category_create = BooleanField(_l("Create the categories that are not found"))
    category_prefix = StringField(_l("Code prefix of created categories"), validators=[Optional(), Length(max=12)])
    category_policy = SelectField(_l("SLA policy of created categories"), validators=[Optional()])
    status_values = TextAreaField(_l("Status values"), validators=[Optional(), Length(max=5000)],
                                  description=_l("One per line: source value = open, resolved, closed or "
                                                 "cancelled. Without a status column, a close time means closed."))
    priority_values = TextAreaField(_l("Priority values"), validators=[Optional(), Length(max=5000)],
                                    description=_l("One per line: source value = urgent, high, normal or low."))
    default_priority = SelectField(_l("Default priority"), validators=[DataRequired()])
    close_before_open_seconds = IntegerField(
        _l("Accept a close time before the open time by up to (seconds)"),
        validators=[Optional(), NumberRange(min=0, max=86400)], default=60,
        description=_l("Such a close time is moved to the open time; an earlier one refuses the row."))
    requester_username = StringField(_l("Requester of imported requests (user name)"),
                                     validators=[Optional(), Length(max=64)], default="import")


class DuplicateForm(FlaskForm):
    """Save a copy of a mapping."""
