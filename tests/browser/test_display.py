"""The wall display (数据大屏): an administrator makes a display link, a screen opens it without a login,
its figures follow a change without a reload, and revoking the link stops it.

The live server polls every 2 s (TRACKER_DISPLAY_REFRESH_SECONDS in tests/browser/server.py).
Screenshots of the display at 1920×1080, in English and in Chinese, are kept as artefacts.
"""

import re

from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, assert_fits
from tests.browser.test_request_journey import file_request
from tests.browser.texts import texts

WALL = {"viewport": {"width": 1920, "height": 1080}}
EN, ZH = texts("en"), texts("zh")


def _wall(browser, live_system, address: str, lang: str):
    context = browser.new_context(
        base_url=live_system.url, locale="zh-CN" if lang == "zh_CN" else "en-US", **WALL
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{address}?lang={lang}")
    return page


def _count(page, name: str) -> int:
    return int(page.locator(f'[data-kpi="{name}"]').inner_text().replace(",", ""))


def test_a_display_link_follows_a_change_without_a_reload_and_stops_when_revoked(
    browser, live_system, actors, shots
):
    admin = actors.open("admin", "desktop")
    admin.goto("/admin/display-links/")
    admin.get_by_label(EN("Name")).fill("Logistics office wall")
    admin.get_by_label(EN("Shows")).select_option(label=EN("All service centres"))
    admin.get_by_role("button", name=EN("Make the display link")).click()
    expect(admin.get_by_text(EN("Copy the display address now: it is shown only this once."))).to_be_visible()
    address = admin.locator("#new-display-link").inner_text().strip()
    assert re.fullmatch(r"https?://[^/]+/display/disp_[\w-]{40,}", address), address
    path = address[address.index("/display/") :]
    shots.take(admin, "admin-made-a-link")

    # The screen: no login, 1920×1080, both languages.
    chinese = _wall(browser, live_system, path, "zh_CN")
    try:
        expect(chinese.get_by_role("heading", level=1)).to_contain_text(ZH("All service centres"))
        expect(chinese.locator(".kpi h2").first).to_have_text(ZH("Received"))
        chinese.screenshot(path=shots._next("display-zh").with_suffix(".png"))
    finally:
        chinese.context.close()
    wall = _wall(browser, live_system, path, "en")
    try:
        expect(wall.locator(".kpi h2").first).to_have_text(EN("Received"))
        width, height = wall.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        assert width <= 1920 and height <= 1080, (
            f"the display needs {width}×{height} px, not one 1920×1080 screen"
        )
        small = wall.evaluate("""() => Math.min(...[...document.querySelectorAll('.display-main *, .display-head *')]
            .filter(el => el.childNodes.length && [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
            .map(el => parseFloat(getComputedStyle(el).fontSize)))""")
        assert small >= 28, f"the smallest text on the display is {small} px"
        wall.screenshot(path=shots._next("display-en").with_suffix(".png"))
        backlog = _count(wall, "backlog")
        wall.evaluate("() => { window.notReloaded = true; }")

        # A new request: the open backlog on the screen grows at the next refresh, the page stays.
        requester = actors.open("requester", "phone")
        file_request(
            requester,
            centre="Repair and maintenance",
            category="Water and plumbing",
            place="Room 301",
            description="The display test: a tap drips in room 301.",
            shots=shots,
        )
        expect(wall.locator('[data-kpi="backlog"]')).to_have_text(f"{backlog + 1:,}")
        assert wall.evaluate("() => window.notReloaded === true"), "the display reloaded the page"
        expect(wall.locator('[data-field="updated"]')).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"))
        wall.screenshot(path=shots._next("display-after-a-new-request").with_suffix(".png"))

        # Revoked: the next refresh stops the screen with a message; the figures are gone.
        admin.goto("/admin/display-links/")
        row = admin.locator("tr").filter(has_text="Logistics office wall")
        row.get_by_role("button", name=EN("Revoke")).click()
        expect(admin.get_by_text(re.compile("is revoked"))).to_be_visible()
        shots.take(admin, "admin-revoked-the-link")
        stopped = wall.locator("[data-stopped]")
        expect(stopped).to_be_visible()
        expect(stopped).to_have_text(EN("This display link was revoked. Ask an administrator for a new one."))
        expect(wall.locator('[data-kpi="backlog"]')).not_to_be_visible()
        assert wall.evaluate("() => window.notReloaded === true")
        wall.screenshot(path=shots._next("display-revoked").with_suffix(".png"))
        # Opened again, the address shows only the message.
        wall.reload()
        expect(
            wall.get_by_text(EN("This display link was revoked. Ask an administrator for a new one."))
        ).to_be_visible()
        assert wall.locator("[data-kpi]").count() == 0
    finally:
        wall.context.close()


def test_the_display_fits_a_phone_that_opens_it(actors):
    """A leader checking the display from a phone: it stacks and does not scroll sideways."""
    leader = actors.open("leadership", "phone")
    leader.goto("/display")
    expect(leader.locator('[data-kpi="backlog"]')).to_be_visible()
    assert_fits(leader)
    actors.shots.take(leader, "display-on-a-phone")
