"""Everyday use on a phone: QR intake, one-handed pages, page weight, labels and focus, in Chromium.

A QR code is read from the PNG the application makes, as a phone's camera
would, and followed by a phone that is not logged in. Phones are 360 px
wide; a phone page never scrolls sideways and its controls are 44 px
targets. Page weights are measured as the browser transfers them.
"""

import json
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, nav_link
from tests.browser.texts import BROWSER_LOCALES, texts

LANGUAGES = ["en", "zh"]
WORLD = {
    "en": {"centre": "Repair and maintenance", "category": "Water and plumbing", "machine": "Washing machine 1",
           "building": "Building 3"},
    "zh": {"centre": "维修服务中心", "category": "水暖", "machine": "洗衣机 1号", "building": "3号楼"},
}
# Controls a thumb must hit: buttons, fields, disclosure summaries, the bar's links, tiles.
TARGETS = (
    "button:not(.visually-hidden), input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, "
    "textarea, summary, header a, a.tile, a.button"
)
SMALL_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
    .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
    .map(el => [el, el.getBoundingClientRect()])
    .filter(([el, r]) => r.height < 44 || r.width < 44)
    .map(([el, r]) => `${el.tagName.toLowerCase()} "${(el.innerText || el.name || el.id).trim().slice(0, 30)}" `
                      + `${Math.round(r.width)}x${Math.round(r.height)}`)"""
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
    .map(el => el.name || el.id || el.outerHTML.slice(0, 60))"""
PAGE_BYTES = """() => {
    const isImage = e => e.initiatorType === 'img' || /\\.(png|jpe?g|webp|gif|svg)(\\?|$)/.test(e.name);
    const nav = performance.getEntriesByType('navigation')[0];
    const parts = performance.getEntriesByType('resource').filter(e => !isImage(e));
    return {page: nav.transferSize, assets: parts.reduce((sum, e) => sum + e.transferSize, 0),
            files: parts.map(e => [e.name.replace(location.origin, ''), e.transferSize])};
}"""
MAX_PAGE_BYTES = 300 * 1024


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def assert_no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide on a {page.viewport_size} screen"


def assert_one_handed(page: Page) -> None:
    """Assert no sideways scroll, 44 px targets and a label on every field."""
    assert_no_sideways_scroll(page)
    small = page.evaluate(SMALL_TARGETS, TARGETS)
    assert not small, f"{page.url}: targets under 44 px: {small}"
    unlabelled = page.evaluate(UNLABELLED)
    assert not unlabelled, f"{page.url}: fields without a label: {unlabelled}"


def selected_text(page: Page, label: str) -> str:
    return page.get_by_label(label, exact=True).evaluate("s => s.options[s.selectedIndex].text")


def decode(png: bytes, folder) -> str:
    path = folder / "scanned-code.png"
    path.write_bytes(png)
    found = zxingcpp.read_barcodes(Image.open(path))
    assert len(found) == 1, f"{len(found)} QR codes in the PNG"
    return found[0].text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_qr_code_read_from_its_png_leads_a_phone_through_login_to_the_filled_form(language, actors, shots,
                                                                                   live_system):
    t = texts(language)
    names = WORLD[language]
    # The dispatcher prints the building's sheet and takes the machine's PNG.
    dispatcher = actors.open("dispatcher", "desktop", locale=BROWSER_LOCALES[language])
    nav_link(dispatcher, t("QR codes")).click()
    expect(heading(dispatcher)).to_have_text(t("QR codes"))
    dispatcher.get_by_role("link").filter(has_text=names["building"]).first.click()
    machine_id = live_system.seeded.places["machine"]
    card = dispatcher.locator(f"#qr-{machine_id}")
    expect(card).to_contain_text("洗衣机 1号")
    expect(card).to_contain_text("Washing machine 1")
    expect(card.get_by_role("img")).to_have_accessible_name(t("QR code of %(place)s", place=names["machine"]))
    shots.take(dispatcher, "sheet")
    png_address = card.get_by_role("link", name=t("Download PNG")).get_attribute("href")
    dispatcher.emulate_media(media="print")
    expect(dispatcher.get_by_role("banner")).to_be_hidden()
    shots.take(dispatcher, "sheet-as-printed")
    dispatcher.emulate_media(media="screen")
    png = dispatcher.request.get(png_address)
    assert png.ok and png.headers["content-type"] == "image/png"
    url = decode(png.body(), shots.folder)
    assert url.startswith(live_system.url + "/tickets/new/repairs?"), url
    assert "source=qr" in url

    # A requester scans it with a phone that is not logged in.
    requester = actors.open("requester", "phone", locale=BROWSER_LOCALES[language], log_in=False)
    requester.goto(url)
    expect(heading(requester)).to_have_text(t("Log in"))
    expect(requester.get_by_role("status")).to_have_text(t("Please log in to continue."))
    assert_one_handed(requester)
    shots.take(requester, "login-after-scan")
    actors.log_in(requester, "requester", go=False)
    expect(heading(requester)).to_have_text(t("%(label)s: %(value)s", label=t("New request"), value=names["centre"]))
    assert requester.url == url
    assert selected_text(requester, t("What is it about?")) == names["category"]
    assert selected_text(requester, t("Where?")) == names["machine"]
    assert_one_handed(requester)
    shots.take(requester, "form-filled-from-code")
    requester.get_by_label(t("What is wrong?")).fill(
        {"en": "The machine took my card payment but did not start.", "zh": "洗衣机扣款后没有启动。"}[language])
    requester.get_by_role("button", name=t("File the request")).click()
    expect(heading(requester)).to_contain_text(re.compile(r"RP-\d{4}-\d{6}"))
    expect(requester.locator(".facts")).to_contain_text(names["machine"])
    shots.take(requester, "filed-from-code")


@pytest.mark.parametrize("language", LANGUAGES)
def test_phone_pages_work_one_handed_at_360_px(language, actors, shots, live_system):
    t = texts(language)
    names = WORLD[language]
    violations = []
    requester = actors.open("requester", "phone", locale=BROWSER_LOCALES[language], log_in=False)
    requester.on("console", lambda message: violations.append(message.text)
                 if "Content Security Policy" in message.text else None)
    requester.goto("/login")
    assert_one_handed(requester)
    actors.log_in(requester, "requester")
    for step, open_page in (
        ("my-requests", lambda: None),
        ("choose-centre", lambda: requester.get_by_role("link", name=t("New request"), exact=True).first.click()),
        ("form", lambda: requester.get_by_role("link", name=names["centre"]).click()),
        ("ticket", lambda: requester.goto(f"/tickets/{live_system.seeded.tickets['on_site']}")),
    ):
        open_page()
        requester.wait_for_load_state()
        assert_one_handed(requester)
        shots.take(requester, f"requester-{step}")

    technician = actors.open("technician", "phone", locale=BROWSER_LOCALES[language])
    technician.on("console", lambda message: violations.append(message.text)
                  if "Content Security Policy" in message.text else None)
    expect(heading(technician)).to_have_text(t("My queue"))
    assert_one_handed(technician)
    shots.take(technician, "technician-queue")
    technician.goto(f"/tickets/{live_system.seeded.tickets['on_site']}")
    for summary in technician.locator("details.action-more > summary, .actions details > summary").all():
        summary.click()
    assert_one_handed(technician)
    shots.take(technician, "technician-ticket-open-actions")

    # Keyboard: the first Tab shows the skip link, the next ones a visible ring.
    technician.reload()
    technician.keyboard.press("Tab")
    expect(technician.locator(":focus")).to_have_class(re.compile(r"\bskip\b"))
    for _ in range(3):
        technician.keyboard.press("Tab")
        ring = technician.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
        assert ring[0] != "none" and ring[1] >= 2, f"focused element shows no ring: {ring}"
    shots.take(technician, "technician-keyboard-focus")
    assert not violations, f"the pages broke their Content Security Policy: {violations}"


def test_no_key_page_transfers_more_than_300_kb_before_images_and_assets_are_cached(actors, live_system):
    """Measure each page cold (cache off), then check a second visit fetches no asset again."""
    weights = {}

    def measure(page: Page, name: str, path: str):
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.goto(path)
        page.wait_for_load_state("load")
        figures = page.evaluate(PAGE_BYTES)
        session.send("Network.setCacheDisabled", {"cacheDisabled": False})
        total = figures["page"] + figures["assets"]
        weights[name] = {"bytes": total, **figures}
        assert figures["page"] > 0, f"{name}: nothing measured"
        assert total <= MAX_PAGE_BYTES, f"{name} transfers {total} bytes: {figures['files']}"

    seeded = live_system.seeded
    requester = actors.open("requester", "phone", log_in=False)
    measure(requester, "login", "/login")
    actors.log_in(requester, "requester")
    for name, path in (("my requests", "/tickets/mine"), ("request form", "/tickets/new/repairs"),
                       ("request (requester)", f"/tickets/{seeded.tickets['on_site']}")):
        measure(requester, name, path)
    technician = actors.open("technician", "phone")
    for name, path in (("queue", "/queue/"), ("request (technician)", f"/tickets/{seeded.tickets['on_site']}")):
        measure(technician, name, path)
    leader = actors.open("leadership", "desktop")
    for name, path in (("dashboard", "/dashboard"), ("all requests", "/tickets/")):
        measure(leader, name, path)
    dispatcher = actors.open("dispatcher", "desktop")
    for name, path in (("dispatch", "/queue/dispatch"), ("QR sheet", f"/qr/sheets/{seeded.places['building']}")):
        measure(dispatcher, name, path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-weights.json").write_text(json.dumps(weights, indent=2))

    # The stylesheet's address carries its hash and is kept a year: the next page fetches it from the cache.
    css = requester.request.get(requester.locator("link[rel=stylesheet]").first.get_attribute("href"))
    assert "max-age=31536000" in css.headers["cache-control"] and "immutable" in css.headers["cache-control"]
    requester.goto("/tickets/mine")
    requester.goto("/tickets/new")
    fetched = requester.evaluate(
        "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/static/'))"
        ".map(e => [e.name, e.transferSize])")
    assert fetched and all(size == 0 for _name, size in fetched), f"assets fetched again: {fetched}"
