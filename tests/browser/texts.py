"""The words on the pages in each language: English msgids, Chinese from the catalogue.

Browser tests find controls by the text people read. ``texts("zh")("Log in")``
gives 登录 -- read from tracker/translations, so a test written once runs
in both languages and fails when a page shows an untranslated message.
"""

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parents[2] / "tracker" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# Browser locale (Accept-Language) of each language.
BROWSER_LOCALES = {"en": "en-US", "zh": "zh-CN"}


@cache
def _chinese() -> dict:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh, locale="zh_CN")
    table = {}
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        if message.context:
            # A word with a meaning of its own (pgettext): looked up as "context\x04msgid", gettext's key.
            table[f"{message.context}\x04{message.id}"] = message.string
        elif isinstance(message.id, tuple):
            table[message.id[0]] = message.string[0]
            table[message.id[1]] = message.string[0]
        else:
            table[message.id] = message.string
    return table


def texts(language: str):
    """Return ``t(msgid, **values)``: the text a page in ``language`` shows for ``msgid``."""

    def t(msgid: str, **values) -> str:
        text = msgid if language == "en" else _chinese().get(msgid)
        assert text, f"no Chinese translation of {msgid!r}"
        return text % values if values else text

    return t
