"""Mark strings for translation without translating them here.

The domain must not import Flask-Babel; ``N_`` only marks a msgid for the
extractor (``pybabel extract -k N_``). It is translated where it is shown.
A ``Label`` is a msgid passed as a message parameter: it is translated too.
"""


def N_(message: str) -> str:
    """Return ``message`` unchanged; marks it for extraction."""
    return message


class Label(str):
    """A message parameter that is itself a msgid to translate."""

    __slots__ = ()
