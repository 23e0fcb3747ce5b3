"""The header: one row on a desk, a folded menu on a phone; by mouse, keyboard and without script.

A centre head who also files requests, as in the demo, has the most
links of anyone (fifteen, and four tools). On a 360 px phone the bar shows the desk's name and a Menu button, no more
than 80 px high; the menu is a <details> disclosure, so it opens without
script and under the Content Security Policy. On a 1280 px desk the
everyday links sit in the bar and the others under "More", in one row.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEVICES, TIMEOUT_MS, nav_link
from tests.browser.texts import BROWSER_LOCALES, texts

LANGUAGES = ["en", "zh"]
# One row: 44 px targets and the bar's padding. Two rows would be over 100 px.
ONE_ROW_PX = 80


def header_height(page: Page) -> float:
    return page.locator("header.topbar").bounding_box()["height"]


def menu_summary(page: Page):
    return page.locator("header .menu-toggle > summary")


def more_summary(page: Page):
    return page.locator("header .nav-more > details > summary")


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def watch_csp(page: Page, problems: list) -> None:
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text else None)


@pytest.mark.parametrize("language", LANGUAGES)
def test_on_a_phone_the_centre_heads_header_folds_into_a_menu_that_opens_and_leads_on(language, actors, shots):
    t = texts(language)
    problems = []
    head = actors.open("busy_head", "phone", locale=BROWSER_LOCALES[language])
    watch_csp(head, problems)
    head.goto("/queue/")
    expect(heading(head)).to_have_text(t("My queue"))
    summary = menu_summary(head)
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(t("Menu"))
    # Closed: the desk's name and the button, one row; no link of the menu shows.
    assert header_height(head) <= ONE_ROW_PX, f"header {header_height(head)} px high on a phone"
    expect(head.get_by_role("link", name=t("Dispatch"), exact=True)).to_be_hidden()
    expect(head.get_by_role("button", name=t("Log out"))).to_be_hidden()
    shots.take(head, "menu-closed")

    summary.click()
    expect(head.locator("header .menu-toggle")).to_have_attribute("open", "")
    for name in ("My queue", "Dispatch", "All requests", "Escalations", "Notifications"):
        expect(head.locator("header").get_by_role("link", name=re.compile(rf"^{re.escape(t(name))}( |$)"))).to_be_visible()
    expect(head.get_by_role("button", name=t("Log out"))).to_be_visible()
    # The rest are grouped under "More", which opens inside the menu.
    expect(head.get_by_role("link", name=t("Surveys"), exact=True)).to_be_hidden()
    more_summary(head).click()
    expect(head.get_by_role("link", name=t("Surveys"), exact=True)).to_be_visible()
    shots.take(head, "menu-open")
    head.get_by_role("link", name=t("Surveys"), exact=True).click()
    expect(heading(head)).to_have_text(t("Survey responses"))
    # The next page starts with the menu folded again.
    assert header_height(head) <= ONE_ROW_PX
    nav_link(head, t("Dispatch")).click()
    expect(head).to_have_url(re.compile(r"/queue/dispatch$"))
    assert not problems, problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_phones_menu_works_by_keyboard(language, actors, shots):
    t = texts(language)
    head = actors.open("busy_head", "phone", locale=BROWSER_LOCALES[language])
    head.goto("/queue/")
    head.keyboard.press("Tab")  # the skip link
    head.keyboard.press("Tab")  # the desk's name
    head.keyboard.press("Tab")
    expect(menu_summary(head)).to_be_focused()
    head.keyboard.press("Enter")
    expect(head.locator("header .menu-toggle")).to_have_attribute("open", "")
    head.keyboard.press("Tab")
    focused = head.locator(":focus")
    expect(focused).to_have_text(t("My queue"))
    shots.take(head, "menu-by-keyboard")
    # Escape closes it and gives the focus back to its button (menu.js).
    head.keyboard.press("Escape")
    expect(head.locator("header .menu-toggle")).not_to_have_attribute("open", "")
    expect(menu_summary(head)).to_be_focused()
    head.keyboard.press("Space")
    expect(head.locator("header .menu-toggle")).to_have_attribute("open", "")


def test_the_phones_menu_opens_without_script(browser, live_system, actors, shots):
    context = browser.new_context(base_url=live_system.url, java_script_enabled=False, **DEVICES["phone"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    actors.opened.append(("busy_head", page))
    actors.log_in(page, "busy_head")
    assert header_height(page) <= ONE_ROW_PX
    menu_summary(page).click()
    page.get_by_role("link", name="Escalations", exact=True).click()
    expect(heading(page)).to_have_text("Escalations")
    shots.take(page, "no-script")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ["requester", "technician", "dispatcher", "centre_head", "busy_head", "leadership",
                                  "admin"])
def test_on_a_desk_the_header_is_one_row_with_the_rest_under_more(role, language, actors, shots):
    t = texts(language)
    problems = []
    page = actors.open(role, "desktop", locale=BROWSER_LOCALES[language])
    watch_csp(page, problems)
    page.goto("/notifications")
    expect(menu_summary(page)).to_be_hidden()
    expect(page.get_by_role("button", name=t("Log out"))).to_be_visible()
    assert header_height(page) <= ONE_ROW_PX, f"the header is {header_height(page)} px high at 1280 px"
    tops = page.evaluate("""() => [...document.querySelectorAll('header .brand, header nav > ul > li, header .tools > *')]
        .filter(el => el.getClientRects().length).map(el => Math.round(el.getBoundingClientRect().top))""")
    assert max(tops) - min(tops) <= 16, f"the header's items are not in one row: tops {tops}"
    more = more_summary(page)
    if more.count():
        more.click()
        links = page.locator("header .nav-more li a")
        expect(links.first).to_be_visible()
        name = links.first.inner_text()
        shots.take(page, "more-open")
        # A click elsewhere closes it (menu.js).
        page.locator("h1").click()
        expect(links.first).to_be_hidden()
        nav_link(page, name).click()
        expect(page.locator("header .nav-more > details > summary")).to_have_css("border-bottom-style", "solid")
    assert not problems, problems
