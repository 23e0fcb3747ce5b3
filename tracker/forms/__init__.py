"""Flask-WTF form classes, one module per area."""

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.fields.choices import SelectChoice


def options(pairs, optgroup: str | None = None) -> list[SelectChoice]:
    """Return SelectField choices from (value, label) pairs.

    WTForms 3.3 deprecates plain tuples; None values render as "" so an
    empty choice reads as "nothing chosen".
    """
    return [
        SelectChoice(value="" if value is None else value, label=label, optgroup=optgroup)
        for value, label in pairs
    ]


def grouped(groups) -> list[SelectChoice]:
    """Return SelectField choices from [(group label, [(value, label)])]."""
    result = []
    for group, pairs in groups:
        result.extend(options(pairs, optgroup=group))
    return result


def one_time_key() -> str:
    """Return a new random one-time key for a creating form."""
    return secrets.token_urlsafe(18)


class OnceForm(FlaskForm):
    """A form that creates something: it carries a one-time key, made when the form is shown.

    Sending the form again with the same key (Back and submit, a double
    click) creates nothing more and lands on what the first one created:
    tracker.web.once and services.idempotency. Pages render it with
    ``form.hidden_tag()`` or ``{{ form.once() }}``.
    """

    # Not validated: web.once reads at most its first 100 characters, and a
    # form without a key (a script, an old page) is simply not guarded.
    once = HiddenField(default=one_time_key)
