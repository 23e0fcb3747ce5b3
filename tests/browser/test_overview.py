"""The overview fits one screen: leadership and a centre head at 1280 x 800, in English and Chinese.

At the top of the page, without scrolling: the key figures (each with its
change against the previous period and a weekly sparkline), the grid of met %
against each standard, and the things to act on now. Nothing scrolls
sideways on a 360 px phone. Screenshots of each (the viewport: what one sees
without scrolling) go to test-artifacts/browser/.
"""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_fits

FOLD = 800
PAGES = {
    "leadership": "/dashboard?from=2026-03-01&to=2026-03-31",
    "centre_head": "/dashboard/centre?from=2026-03-01&to=2026-03-31",
}


def _bottom(page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not drawn"
    return box["y"] + box["height"]


def _check_above_the_fold(page) -> None:
    assert page.evaluate("() => window.scrollY") == 0
    tiles = page.locator(".ov-tile")
    assert (
        tiles.count() >= 7
    )  # received, resolved, backlog, met % per target, breached now, at risk now, satisfaction
    for selector in (".ov-tiles", "#standards-grid", ".ov-actions"):
        assert _bottom(page, selector) <= FOLD, f"{selector} ends below the first {FOLD} px"
    # The late requests of the seeded world are the first things to act on, each one click away.
    expect(page.locator("#act-list li").first).to_be_visible()
    assert _bottom(page, "#act-list") <= FOLD
    # Every tile's figure leads to its list; the grid's cells too.
    for link in tiles.locator("a.ov-main").all():
        assert re.match(r"^/dashboard/tickets\?", link.get_attribute("href"))
    assert page.locator("#standards-grid td a").count() >= 1


def test_the_overview_fits_one_desk_screen_for_leadership_and_a_centre_head(actors, shots, live_system):
    for who, path in PAGES.items():
        for locale, lang in (("en-US", "en"), ("zh-CN", "zh-CN")):
            page = actors.open(who, "desktop", locale=locale)
            problems = []
            page.on(
                "console",
                lambda message, problems=problems: message.type == "error" and problems.append(message.text),
            )
            page.goto(path)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            _check_above_the_fold(page)
            # A sparkline's weeks and a grid cell carry their exact values as tooltips.
            assert page.locator("svg.spark rect title").count() >= 12
            assert re.search(r"\d+\.\d %", page.locator("#standards-grid td").first.get_attribute("title"))
            assert_fits(page)
            assert not problems, problems  # an inline script or style the CSP refused
            page.screenshot(path=shots._next(f"overview-{who}-{lang}-desktop").with_suffix(".png"))
            shots.take(page, f"overview-{who}-{lang}-desktop-whole")

            phone = actors.open(who, "phone", locale=locale)
            phone.goto(path)
            expect(phone.locator(".ov-tiles")).to_be_visible()
            assert_fits(phone)
            phone.screenshot(path=shots._next(f"overview-{who}-{lang}-phone").with_suffix(".png"))
