"""Forms of the operations pages: webhooks.

The centre choices come from the database and are set by the view with
``options()`` before validation.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.errors import ValidationFailed
from tracker.forms import OnceForm, options
from tracker.models import WebhookFormat
from tracker.services.notify import webhooks
from tracker.services.notify.outbox import KIND_LABELS, KINDS


def _coerce_int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class _Checkboxes(SelectMultipleField):
    """Several choices shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _http_url(form, field) -> None:
    # The service's own check, so that the form and the service agree.
    if field.data:
        try:
            webhooks.check_url(field.data)
        except ValidationFailed as error:
            raise ValidationError(error.translated()) from None


class WebhookForm(OnceForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Give the webhook a name.")), Length(max=webhooks.NAME_MAX)],
        description=_l("For example: Repairs duty group (WeCom)."),
    )
    url = StringField(
        _l("Address (URL)"),
        validators=[
            DataRequired(message=_l("Give the webhook's address (URL).")),
            Length(max=webhooks.URL_MAX),
            _http_url,
        ],
        description=_l("The robot's or system's address, starting with https:// or http://."),
    )
    format = SelectField(
        _l("Message format"),
        choices=options([(f.value, _l(webhooks.FORMAT_LABELS[f])) for f in WebhookFormat]),
        default=WebhookFormat.GENERIC.value,
    )
    secret = PasswordField(
        _l("Secret"),
        validators=[Optional(), Length(max=webhooks.SECRET_MAX)],
        description=_l(
            "DingTalk: the robot's signing secret (SEC…). Generic: the key of the X-Tracker-Signature "
            "HMAC. WeCom: leave empty."
        ),
    )
    clear_secret = BooleanField(_l("Remove the stored secret"))
    centre_id = SelectField(
        _l("Service centre"),
        coerce=_coerce_int_or_none,
        validators=[Optional()],
        description=_l("Only this centre's notices; every centre's when none is chosen."),
    )
    kinds = _Checkboxes(
        _l("Notices it receives"),
        choices=options([(kind, _l(KIND_LABELS[kind])) for kind in KINDS]),
        validators=[DataRequired(message=_l("Choose at least one kind of notice the webhook receives."))],
    )
    is_active = BooleanField(_l("Active"), default=True)
