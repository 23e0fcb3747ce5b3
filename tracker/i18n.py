"""Values inside messages, in the reader's language: labels, dates and times.

One place formats a date or an instant that a sentence carries (a flash, a
refusal, a notice, an e-mail, a webhook's text): ``when``. Never ISO in one
message and "Nov 30, 2026" in the next. Pages' tables keep their own
column formats (the ``dt`` filter).
"""

from datetime import date, datetime
from functools import cache, lru_cache

from babel import Locale, support
from babel.numbers import parse_pattern
from flask import request
from flask_babel import format_date, format_time, get_locale, get_translations
from flask_babel.speaklater import LazyString
from wtforms.i18n import messages_path

from tracker.domain.i18n import InContext, Label, Message


def when(value: date | datetime | str | None) -> str:
    """Format a date ("Nov 30, 2026", 2026年11月30日) or an aware instant in the campus time zone
    ("Nov 30, 2026, 2:05 PM", 2026年11月30日 14:05); ISO text is read first. Needs an app context.
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if not isinstance(value, datetime):
        return format_date(value, "medium")
    # The locale's own joint of a date and a time: "{1}, {0}" in English, "{1} {0}" in Chinese.
    joint = get_locale().datetime_formats["medium"]
    return str(joint).replace("{1}", format_date(value, "medium")).replace("{0}", format_time(value, "short"))


def label_text(label: str) -> str:
    """Translate a msgid marked with ``N_`` or, with its context, ``pN_``."""
    if isinstance(label, InContext):
        return get_translations().upgettext(label.context, label)
    return get_translations().ugettext(label)


def lazy_label(label: str) -> LazyString:
    """Translate ``label`` (``N_`` or ``pN_``) when it is shown: a form's choices are built once."""
    return LazyString(label_text, label)


def shown(value):
    """Return a message parameter as the reader sees it: labels translated, dates by ``when``."""
    if isinstance(value, Message):
        text = get_translations().ugettext(value.template)
        return text % {k: shown(v) for k, v in value.params.items()} if value.params else text
    if isinstance(value, Label):
        return label_text(value)
    if isinstance(value, date):
        return when(value)
    if hasattr(value, "name_for"):  # a catalogue row (centre, material): its name in the reader's language
        return value.name_for(str(get_locale()))
    return value


@cache
def parsed_locale(name: str) -> Locale:
    """Return the Babel locale named ``name``, parsed once a process.

    flask-babel parses its selector's answer on every request, and Babel's
    parse scans every known locale name; the selectors (the pages' and the
    API's) answer with a Locale from here, which it takes as it is.
    """
    return Locale.parse(name)


@cache
def _wtforms_catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def wtforms_translations() -> support.Translations | None:
    """Return WTForms' own messages ("Not a valid choice.") in the reader's language, read once a process.

    Flask-WTF reads and parses WTForms' catalogue at every request that
    builds a form (flask_wtf.i18n._get_translations): 0.6 ms of CPU a
    filing through the web form (docs/api.md, "Filing CPU"). The catalogue
    never changes while the process runs.
    """
    if not request:
        return None
    return _wtforms_catalogue(str(get_locale()))


def register_wtforms_translations() -> None:
    """Make Flask-WTF take WTForms' messages from ``wtforms_translations`` (its own loader has no cache)."""
    import flask_wtf.i18n

    flask_wtf.i18n._get_translations = wtforms_translations


def decimal(value, pattern: str) -> str:
    """Return ``flask_babel.format_decimal(value, pattern)``: the same text, for much less.

    The overview writes some eighty numbers a page; Babel parsed the pattern
    and the locale for each. Both are kept here, and each (locale, value,
    pattern)'s text: a pure function of them.
    """
    if not value:  # 0.0 and -0.0 are equal keys but not the same text ("+0.0", "−0.0")
        return _pattern(pattern).apply(
            value, get_locale(), decimal_quantization=True, group_separator=True, numbering_system="latn"
        )
    return _decimal(get_locale(), type(value), value, pattern)


@lru_cache(maxsize=4096)
def _decimal(locale, kind: type, value, pattern: str) -> str:
    return _pattern(pattern).apply(
        value, locale, decimal_quantization=True, group_separator=True, numbering_system="latn"
    )


@lru_cache(maxsize=64)
def _pattern(pattern: str):
    return parse_pattern(pattern)
