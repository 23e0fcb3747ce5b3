"""The form of a user's notification choices: one checkbox per kind of notice and channel."""

from flask_wtf import FlaskForm
from wtforms import BooleanField

from tracker.models import Channel
from tracker.services.notify.outbox import KINDS, USER_CHANNELS


def preference_field(kind: str, channel: Channel) -> str:
    """Return the name of the checkbox for ``kind`` on ``channel``."""
    return f"{kind}__{channel.value}"


class PreferencesForm(FlaskForm):
    """Checkboxes named ``<kind>__<channel>``; the template labels them from the table's headers."""

    def rows(self) -> list[tuple[str, list[tuple[Channel, BooleanField]]]]:
        """Return (kind, [(channel, checkbox)]) in the order of ``outbox.KINDS``."""
        return [
            (kind, [(channel, getattr(self, preference_field(kind, channel))) for channel in USER_CHANNELS])
            for kind in KINDS
        ]

    def load(self, choices: dict[tuple[str, Channel], bool]) -> None:
        """Tick the boxes from (kind, channel) -> enabled."""
        for (kind, channel), enabled in choices.items():
            field = getattr(self, preference_field(kind, channel), None)
            if field is not None:
                field.data = enabled

    def chosen(self) -> dict[tuple[str, Channel], bool]:
        """Return (kind, channel) -> enabled as submitted (an unticked box is absent: off)."""
        return {
            (kind, channel): bool(getattr(self, preference_field(kind, channel)).data)
            for kind in KINDS
            for channel in USER_CHANNELS
        }


for _kind in KINDS:
    for _channel in USER_CHANNELS:
        setattr(PreferencesForm, preference_field(_kind, _channel), BooleanField(default=False))
del _kind, _channel
