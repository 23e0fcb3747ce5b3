"""Mark strings for translation without translating them here.

The domain must not import Flask-Babel; ``N_`` only marks a msgid for the
extractor (``pybabel extract -k N_``). It is translated where it is shown.
A ``Label`` is a msgid passed as a message parameter: it is translated too;
a ``Message`` likewise, with parameters of its own.
"""


def N_(message: str) -> str:
    """Return ``message`` unchanged; marks it for extraction."""
    return message


class Label(str):
    """A message parameter that is itself a msgid to translate."""

    __slots__ = ()

    def __new__(cls, value: str = ""):
        if cls is Label and isinstance(value, InContext):
            return value  # keeps its context
        return super().__new__(cls, value)


class Message(str):
    """A message parameter that is a msgid with parameters of its own; as a str, its English text."""

    def __new__(cls, template: str, **params):
        text = super().__new__(cls, template % params if params else template)
        text.template = template
        text.params = params
        return text


class InContext(Label):
    """A msgid with a message context (msgctxt): an English word with more than one meaning.

    "New" is a request's status (新建) and, on a notice, "unread" (未读):
    one msgid cannot carry both translations, so each meaning but the
    commonest gets a context and is translated with ``pgettext``.
    """

    def __new__(cls, context: str, message: str):
        text = super().__new__(cls, message)
        text.context = context
        return text


def pN_(context: str, message: str) -> InContext:
    """Return ``message`` marked with ``context``; extracted with ``-k pN_:1c,2``."""
    return InContext(context, message)


# The languages a staff-written text of the catalogue is stored in, as
# (locale, column suffix): a centre's ``name_zh`` and ``name_en``.
TEXT_LANGUAGES = (("zh_CN", "zh"), ("en", "en"))


def pick(zh: str | None, en: str | None, locale: str | None) -> str:
    """Return the text for ``locale`` (any zh* reads Chinese), the other language's when it is empty."""
    zh, en = zh or "", en or ""
    if locale and str(locale).startswith("zh"):
        return zh or en
    return en or zh
