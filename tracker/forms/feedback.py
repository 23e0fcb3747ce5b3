"""Forms for rating a request and recording a follow-up."""

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, RadioField, SelectField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from tracker.forms import OnceForm, options
from tracker.models import FollowUpResult
from tracker.services.ledger.feedback import COMMENT_MAX, RATING_LABELS, RATINGS
from tracker.services.ledger.follow_ups import OUTCOME_MAX, RESULT_LABELS


def _coerce_int_or_none(value):
    # Anything that is not a whole number reads as "no rating": the form says to choose one.
    try:
        return None if value in (None, "", "None") else int(value)
    except (TypeError, ValueError):
        return None


_CHOOSE_RATING = _l("Choose a rating from 1 to 5.")


class FeedbackForm(OnceForm):
    rating = RadioField(
        _l("How satisfied are you with the service?"),
        choices=options([(value, _l(RATING_LABELS[value])) for value in RATINGS]),
        coerce=_coerce_int_or_none,
        # One message for a missing, unknown or garbled rating (not WTForms' "Not a valid choice").
        validate_choice=False,
        validators=[InputRequired(message=_CHOOSE_RATING), AnyOf(RATINGS, message=_CHOOSE_RATING)],
    )
    comment = TextAreaField(
        _l("Comment"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
        description=_l("Optional: what went well, what could be better."),
    )


class FollowUpForm(OnceForm):
    result = SelectField(
        _l("Result"),
        choices=options([("", _l("Choose…"))] + [(r.value, _l(RESULT_LABELS[r])) for r in FollowUpResult]),
        validators=[InputRequired(message=_l("Choose the result of the follow-up."))],
    )
    outcome = TextAreaField(
        _l("What the requester said, what was done"),
        validators=[Optional(), Length(max=OUTCOME_MAX)],
    )
    contacted_at = DateTimeLocalField(
        _l("Contacted at"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description=_l("Campus time. Leave empty for now."),
    )
