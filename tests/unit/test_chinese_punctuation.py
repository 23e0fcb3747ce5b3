"""Chinese text uses full-width punctuation: 所用材料：, never 所用材料: (issue 15)."""

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

ROOT = Path(__file__).resolve().parents[2]
COMPILED = ROOT / "tracker" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.mo"
TEMPLATES = ROOT / "templates"

HAN = r"\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
# An ASCII colon after Chinese (or a placeholder, or nothing), or ending the text. Times (12:30),
# addresses (https://) and HTTP headers quoted in a message (Authorization: Bearer) sit between
# ASCII letters or digits and stay.
ASCII_COLON = re.compile(rf"(?:^|[{HAN}]|%\(\w+\)[sd]|\s):|:$")
# A colon typed in a template after a value or a translated label: it is the same in every language.
COLON_IN_TEMPLATE = re.compile(r"(?:\}\}|%\})\s*:(?:\s|$)|\)\s*\}\}:")


def _chinese_texts() -> list[tuple[str, str]]:
    with COMPILED.open("rb") as fh:
        catalogue = read_mo(fh)
    texts = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        texts += [(ids[0], text) for text in strings if text]
    return texts


def test_the_compiled_catalogue_has_chinese_text():
    assert len(_chinese_texts()) > 1000


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("所用材料: %(value)s", True),
        ("所用材料:", True),
        ("%(label)s: %(value)s", True),
        ("原因：%(reason)s", False),
        ("请以 Authorization: Bearer <token> 的形式发送", False),
        ("12:30 至 13:30", False),
        ("见 https://example.edu/", False),
    ],
)
def test_the_rule_finds_ascii_colons_in_chinese_and_leaves_times_and_headers(text, wrong):
    assert bool(ASCII_COLON.search(text)) is wrong


def test_no_chinese_translation_uses_an_ascii_colon():
    wrong = [(msgid, text) for msgid, text in _chinese_texts() if ASCII_COLON.search(text)]
    assert not wrong, f"use the full-width colon ：in Chinese: {wrong[:10]}"


def test_no_template_types_a_colon_after_a_label():
    """``{{ _('Materials used') }}: …`` shows an ASCII colon on Chinese pages: translate the whole phrase."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if COLON_IN_TEMPLATE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "\n".join(found)
