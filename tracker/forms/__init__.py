"""Flask-WTF form classes, one module per area."""

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
