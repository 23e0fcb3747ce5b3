"""Forms of the duty roster and the dispatch settings."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from tracker.forms import options
from tracker.models import ShiftKind
from tracker.services.dispatch.roster import KIND_LABELS, NOTE_MAX


class ShiftForm(FlaskForm):
    """One shift on the week grid; an end at or before the start is the next morning."""

    user_id = SelectField(
        _l("Who"), coerce=lambda v: int(v) if v not in (None, "") else None, validators=[Optional()]
    )
    day = DateField(_l("Date"), validators=[DataRequired(message=_l("Give the shift's date."))])
    start = TimeField(
        _l("From"), validators=[DataRequired(message=_l("Give the shift's start and end times (HH:MM)."))]
    )
    end = TimeField(
        _l("To"), validators=[DataRequired(message=_l("Give the shift's start and end times (HH:MM)."))]
    )
    kind = SelectField(
        _l("Kind"),
        choices=options([(k.value, _l(KIND_LABELS[k])) for k in ShiftKind]),
        default=ShiftKind.ON_DUTY.value,
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class RosterImportForm(FlaskForm):
    file = FileField(
        _l("Spreadsheet (CSV or xlsx)"), validators=[FileRequired(message=_l("Choose a CSV or xlsx file."))]
    )


def suggestion_options(found, category_id: int | None) -> list:
    """Return an assign field's choices from suggest.candidates: "Choose…" first, nothing preselected.

    Each technician reads with where they stand now (on duty, on call,
    off), their skills, their load and the place of their last job; the
    best suggestion for ``category_id`` is marked and named "suggested".
    """
    from flask_babel import get_locale, gettext

    from tracker.services.dispatch import suggest

    locale = str(get_locale())
    best = suggest.pick_best(found, category_id)
    duty = {
        ShiftKind.ON_DUTY: gettext("on duty"),
        ShiftKind.ON_CALL: gettext("on call"),
        None: gettext("off"),
    }
    choices = [(None, gettext("Choose…"))]
    for c in found:
        skills = ", ".join(s.name_for(locale) for s in c.skills) if c.skills else gettext("any category")
        area = c.last_area.path(locale) if c.last_area is not None else "—"
        label = gettext(
            "%(name)s · %(duty)s · %(skills)s · %(open)d open, %(on_site)d on site · last job: %(area)s",
            name=c.user.display_name,
            duty=duty[c.duty],
            skills=skills,
            open=c.open_count,
            on_site=c.on_site,
            area=area,
        )
        if best is not None and c.user.id == best.user.id:
            label = "★ " + gettext("%(label)s (suggested)", label=label)
        choices.append((c.user.id, label))
    return options(choices)
