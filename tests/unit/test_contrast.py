"""The stylesheet's colour pairs read at WCAG AA: 4.5:1 for text, 3:1 for the focus ring.

Pure: reads tracker/static/*.css, no app. Every rule that sets a text
colour is checked against the background it sets itself, or else against
every light background the pages use behind text.
"""

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "tracker" / "static"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def _hex(value: str) -> tuple[float, float, float]:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return tuple(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _hex(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _css() -> str:
    text = (STATIC / "app.css").read_text()
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def _variables(css: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", css))


def _resolve(value: str, variables: dict[str, str]) -> str | None:
    value = value.strip().split()[0] if value.strip() else ""
    match = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if match:
        return variables.get(match.group(1))
    return value if HEX.fullmatch(value) else None


def _declarations(body: str) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in body.split(";") if ":" in part)
    return {name.strip(): value.replace("!important", "").strip() for name, value in pairs}


def text_pairs() -> list[tuple[str, str, str]]:
    """Return (selector, text colour, background) for every text colour the stylesheet sets."""
    css = _css()
    variables = _variables(css)
    light = [variables["--bg"], variables["--panel"], "#eef1f5"] + [
        colour for colour in ("#e8f0fb", "#fdecea", "#e7f4ec", "#fff4dc") if colour in css
    ]
    pairs = []
    for selector, body in RULE.findall(css):
        declarations = _declarations(body)
        colour = _resolve(declarations.get("color", ""), variables)
        if colour is None:
            continue
        background = _resolve(declarations.get("background", declarations.get("background-color", "")), variables)
        selector = " ".join(selector.split())
        if background is not None:
            pairs.append((selector, colour, background))
        elif colour.lower() not in ("#fff", "#ffffff"):
            pairs.extend((selector, colour, back) for back in light)
        else:
            # White text without its own background sits on the blue bar.
            pairs.append((selector, colour, variables["--brand"]))
    return pairs


def test_the_palette_is_found():
    assert len(text_pairs()) > 40


@pytest.mark.parametrize("selector, colour, background", text_pairs())
def test_text_colours_have_a_contrast_of_at_least_4_5(selector, colour, background):
    ratio = contrast(colour, background)
    assert ratio >= 4.5, f"{selector}: {colour} on {background} is {ratio:.2f}:1"


def test_the_focus_ring_stands_out_on_light_pages_and_on_the_blue_bar():
    variables = _variables(_css())
    # WCAG 2.4.11/1.4.11: a focus indicator needs 3:1 against what is around it.
    assert contrast(variables["--fg"], variables["--panel"]) >= 3
    assert contrast(variables["--fg"], variables["--bg"]) >= 3
    assert contrast(variables["--focus"], variables["--brand"]) >= 3
    assert ":focus-visible" in _css()


@pytest.mark.parametrize("colour, background, expected", [
    ("#000", "#fff", 21.0), ("#fff", "#fff", 1.0), ("#767676", "#fff", 4.54),
])
def test_contrast_matches_the_wcag_formula(colour, background, expected):
    assert contrast(colour, background) == pytest.approx(expected, abs=0.01)
