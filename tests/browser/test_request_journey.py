"""A request's whole life across roles, clicked through the real pages in Chromium.

Controls are found as people and screen readers find them -- by label and
by role and name -- so these tests also check that the pages are labelled.
Phones are 360 px wide; a phone page must never scroll sideways.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import nav_link
from tests.browser.texts import BROWSER_LOCALES, texts

REFERENCE = re.compile(r"\b[A-Z]{2}-\d{4}-\d{6}\b")
COUNT = {"en": re.compile(r"^\d+ requests?$"), "zh": re.compile(r"^\d+ 个工单$")}

FORGED_POST = """async (url) => {
    // Everything a real form sends but the CSRF token.
    const version = document.querySelector("input[name=version]").value;
    const answer = await fetch(url, {method: "POST", body: new URLSearchParams({version})});
    return {status: answer.status, text: await answer.text()};
}"""


ENGLISH = texts("en")


def nav(page: Page, name: str):
    """Return the header's link ``name``, unfolding the phone's menu and "More" where needed."""
    return nav_link(page, name)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def flash(page: Page):
    return page.get_by_role("status")


def request_count(page: Page, t=None):
    return page.get_by_text(COUNT["zh" if t is not None and t("Log in") != "Log in" else "en"])


def ticket_status(page: Page):
    return page.locator(".page-head .status")


def history(page: Page):
    return page.get_by_role("main").get_by_role("list").get_by_role("listitem")


def actions(page: Page, t=ENGLISH):
    return page.get_by_role("region", name=t("What next?"))


def assert_fits(page: Page) -> None:
    """Assert the page does not scroll sideways on its screen."""
    scroll_width, window_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    screen = page.viewport_size["width"]
    # A mobile browser zooms out to fit wide content, which widens the window.
    assert window_width == screen and scroll_width <= window_width, (
        f"{page.url} scrolls sideways: {scroll_width} px of content, {window_width} px window, {screen} px screen"
    )


def disclose(page: Page, name: str, t=ENGLISH):
    """Open the action whose summary reads ``name`` (if closed) and return its <details>."""
    details = (
        actions(page, t)
        .locator("details")
        .filter(has=page.locator("summary").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")))
    )
    if not details.evaluate("element => element.open"):
        details.locator("summary").click()
    expect(details.get_by_role("button", name=name, exact=True)).to_be_visible()
    return details


def field(scope, label: str):
    """Return the form control that ``label`` names inside ``scope``."""
    return scope.get_by_label(label, exact=True)


def read_count(page: Page, t=None) -> int:
    expect(request_count(page, t)).to_be_visible()
    return int(request_count(page, t).inner_text().split()[0])


def file_request(page: Page, *, centre: str, category: str, place: str, description: str, shots,
                 t=ENGLISH) -> str:
    """Walk New request -> centre tile -> form -> file; return the new reference."""
    nav(page, t("New request")).click()
    expect(heading(page)).to_have_text(t("New request"))
    page.get_by_role("link", name=centre).click()
    expect(heading(page)).to_have_text(t("%(label)s: %(value)s", label=t("New request"), value=centre))
    page.get_by_label(t("What is it about?")).select_option(label=category)
    # The place picker: the building first, then its places (fetched by js/place_picker.js).
    page.get_by_label(t("Building"), exact=True).select_option(label=BUILDING[t("Log in") != "Log in"])
    page.get_by_label(t("Where?")).select_option(label=place)
    page.get_by_label(t("What is wrong?")).fill(description)
    shots.take(page, "form-filled")
    page.get_by_role("button", name=t("File the request")).click()
    expect(heading(page)).to_contain_text(REFERENCE)
    return REFERENCE.search(heading(page).inner_text()).group()


# The world's building, as the place picker names it (campus › building), in English and Chinese.
BUILDING = {False: "Main campus › Building 3", True: "主校区 › 3号楼"}

JOURNEYS = [
    pytest.param("en", "phone", id="en-phone"),
    pytest.param("zh", "phone", id="zh-phone"),
    pytest.param("en", "desktop", id="en-desktop"),
    pytest.param("zh", "desktop", id="zh-desktop"),
]
# The test world's names in each language.
WORLD = {
    "en": {"centre": "Repair and maintenance", "category": "Water and plumbing", "place": "Room 301"},
    "zh": {"centre": "维修服务中心", "category": "水暖", "place": "301室"},
}


@pytest.mark.parametrize("language, device", JOURNEYS)
def test_a_repair_request_goes_from_filed_to_closed_through_every_role(language, device, actors, shots):
    """Requester and technician on ``device``; centre head and leadership at a desk; all in ``language``."""
    t = texts(language)
    browser_locale = BROWSER_LOCALES[language]
    names = WORLD[language]
    description = {"en": "The tap in the second-floor washroom of building 3 drips all night.",
                   "zh": "3号楼二楼卫生间的水龙头整夜滴水。"}[language]
    note = {"en": "Replaced the washer and the valve seat.", "zh": "更换了垫圈和阀座。"}[language]
    materials = {"en": "1 washer, 1 valve seat", "zh": "垫圈 1 个，阀座 1 个"}[language]
    hold_note = {"en": "Ordered a valve seat.", "zh": "已订购阀座。"}[language]

    # The requester files it.
    requester = actors.open("requester", device, locale=browser_locale)
    expect(requester.locator("html")).to_have_attribute("lang", "zh-CN" if language == "zh" else "en")
    expect(heading(requester)).to_have_text(t("My requests"))
    assert_fits(requester)
    before = read_count(requester, t)
    reference = file_request(requester, centre=names["centre"], category=names["category"], place=names["place"],
                             description=description, shots=shots, t=t)
    assert reference.startswith("RP-")
    expect(flash(requester)).to_have_text(t("Request %(reference)s is filed.", reference=reference))
    expect(ticket_status(requester)).to_have_text(t("New"))
    expect(history(requester)).to_have_count(1)
    expect(history(requester)).to_contain_text(f"Requester {t('filed the request')}")
    # The service level: the repair centre answers within 30 minutes, round the clock.
    sla_panel = requester.get_by_role("region", name=t("Service level"))
    expect(sla_panel.get_by_role("row", name=re.compile(rf"^{t('Response')}"))).to_contain_text(t("Running"))
    expect(requester.locator("#expected-answer")).to_contain_text(t("Expect a response by %(when)s.").split("%(when)s")[0].strip())
    assert_fits(requester)
    shots.take(requester, "requester-filed")
    nav(requester, t("My requests")).click()
    expect(requester.get_by_role("link", name=reference, exact=True)).to_be_visible()
    expect(request_count(requester, t)).to_have_text(t("%(num)d requests", num=before + 1))
    assert_fits(requester)
    shots.take(requester, "requester-my-requests")
    requester.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(requester)).to_have_text(t("New"))

    # The centre head, at a desk, gives it to the technician.
    head = actors.open("centre_head", "desktop", locale=browser_locale)
    expect(heading(head)).to_have_text(t("Dispatch"))
    card = head.get_by_role("listitem").filter(has_text=reference)
    technician = card.get_by_label(t("Technician"))
    # Nothing is preselected; each choice shows the technician's duty, skills, load and last place.
    expect(technician).to_have_value("")
    shown = t("%(name)s · %(duty)s · %(skills)s · %(open)d open, %(on_site)d on site · last job: %(area)s",
              name="Technician", duty=t("off"), skills=t("any category"), open=0, on_site=0, area="AREA")
    pattern = re.escape(shown).replace("0", r"\d+").replace("AREA", ".+")
    choice = technician.locator("option").filter(has_text=re.compile("^" + pattern + "$")).text_content()
    technician.select_option(label=choice)
    shots.take(head, "centre-head-chose-technician")
    card.get_by_role("button", name=t("Assign")).click()
    expect(flash(head)).to_have_text(t("Assigned to %(name)s.", name="Technician"))
    expect(card).to_have_count(0)
    shots.take(head, "centre-head-assigned")

    # The technician works it.
    technician = actors.open("technician", device, locale=browser_locale)
    expect(heading(technician)).to_have_text(t("My queue"))
    assert_fits(technician)
    technician.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(technician)).to_have_text(t("Assigned"))
    assert_fits(technician)
    shots.take(technician, "technician-opened")
    for button, status in (("Accept", "Accepted"), ("Arrived on site", "On site")):
        actions(technician, t).get_by_role("button", name=t(button), exact=True).click()
        expect(ticket_status(technician)).to_have_text(t(status))
        shots.take(technician, f"technician-{button}")

    hold = disclose(technician, t("Put on hold"), t)
    field(hold, t("Why on hold?")).select_option(label=t("Waiting for parts"))
    field(hold, t("Note")).fill(hold_note)
    assert_fits(technician)
    shots.take(technician, "technician-hold-form")
    hold.get_by_role("button", name=t("Put on hold")).click()
    expect(ticket_status(technician)).to_have_text(t("On hold"))
    expect(flash(technician)).to_have_text(t("Put on hold: %(reason)s.", reason=t("Waiting for parts")))
    expect(technician.locator("p.notice", has_text=t("On hold: %(reason)s", reason=t("Waiting for parts")))
           ).to_be_visible()
    # Waiting for parts stops the resolution clock, and the page says so.
    expect(technician.get_by_text(t("the service clock is stopped meanwhile."))).to_be_visible()
    resolution = technician.get_by_role("region", name=t("Service level")).get_by_role(
        "row", name=re.compile(rf"^{t('Resolution')}")
    )
    expect(resolution).to_contain_text(t("Paused"))
    expect(resolution).to_contain_text(t("if resumed now"))
    shots.take(technician, "technician-on-hold")

    actions(technician, t).get_by_role("button", name=t("Resume")).click()
    expect(ticket_status(technician)).to_have_text(t("On site"))
    resolve = disclose(technician, t("Resolve"), t)
    field(resolve, t("What was done")).fill(note)
    field(resolve, t("Materials used")).fill(materials)
    assert_fits(technician)
    shots.take(technician, "technician-resolve-form")
    resolve.get_by_role("button", name=t("Resolve")).click()
    expect(ticket_status(technician)).to_have_text(t("Resolved"))
    expect(actions(technician, t)).to_have_count(0)
    shots.take(technician, "technician-resolved")

    # The requester finds it among the resolved ones and confirms the fix.
    nav(requester, t("My requests")).click()
    expect(heading(requester)).to_have_text(t("My requests"))
    requester.get_by_label(t("State")).select_option(label=t("Resolved"))
    requester.get_by_role("button", name=t("Show")).click()
    requester.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(requester)).to_have_text(t("Resolved"))
    shots.take(requester, "requester-sees-resolved")
    actions(requester, t).get_by_role("button", name=t("Confirm the fix")).click()
    expect(ticket_status(requester)).to_have_text(t("Closed"))
    expect(history(requester)).to_have_count(8)
    steps = [" ".join(text.split()) for text in history(requester).all_inner_texts()]

    def moved(who, action, before, after, rest=""):
        change = t("%(label)s: %(value)s", label=t(action), value=f"{t(before)} → {t(after)}")
        return rf"{who} {re.escape(change)}{rest}"

    expected = [
        rf"Requester {re.escape(t('filed the request'))}",
        rf"Centre-Head {re.escape(t('assigned it to %(name)s', name='Technician'))}",
        moved("Technician", "Accept", "Assigned", "Accepted"),
        moved("Technician", "Arrived on site", "Accepted", "On site"),
        moved("Technician", "Put on hold", "On site", "On hold",
              rf" \({re.escape(t('Waiting for parts'))}\) {re.escape(hold_note)}"),
        moved("Technician", "Resume", "On hold", "On site"),
        moved("Technician", "Resolve", "On site", "Resolved",
              rf" {re.escape(note)} "
              + re.escape(t("%(label)s: %(value)s", label=t("Materials used"), value=materials))),
        moved("Requester", "Confirm the fix", "Resolved", "Closed"),
    ]
    for step, pattern in zip(steps, expected, strict=True):
        assert re.search(pattern, step), f"history step {step!r} does not read {pattern!r}"
    assert_fits(requester)
    shots.take(requester, "requester-closed")

    # Leadership finds and reads it, and can do nothing to it.
    leader = actors.open("leadership", "desktop", locale=browser_locale)
    expect(heading(leader)).to_have_text(t("All requests"))
    leader.get_by_label(t("Search"), exact=True).fill(reference)
    leader.get_by_label(t("State")).select_option(label=t("All"))
    leader.get_by_role("button", name=t("Show")).click()
    expect(request_count(leader, t)).to_have_text(t("%(num)d request", num=1))
    leader.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(leader)).to_have_text(t("Closed"))
    expect(history(leader)).to_have_count(8)
    expect(actions(leader, t)).to_have_count(0)
    main = leader.get_by_role("main")
    expect(main.get_by_role("button")).to_have_count(0)
    expect(main.get_by_role("textbox")).to_have_count(0)
    shots.take(leader, "leadership-reads")
    # ... and sees it counted on the dashboard.
    nav(leader, t("Dashboard")).click()
    expect(heading(leader)).to_have_text(t("Dashboard"))
    shots.take(leader, "leadership-dashboard")


def test_an_empty_request_form_says_what_is_missing_and_files_nothing(actors, shots):
    requester = actors.open("requester", "phone")
    before = read_count(requester)
    nav(requester, "New request").click()
    requester.get_by_role("link", name="Repair and maintenance").click()
    requester.get_by_role("button", name="File the request").click()
    expect(flash(requester)).to_have_text("Please correct the marked fields; nothing was saved.")
    for label, message in (
        ("What is it about?", "Choose a category."),
        ("Where?", "Choose a place or describe it."),
        ("What is wrong?", "Describe the problem."),
    ):
        control = requester.get_by_label(label)
        expect(control).to_have_attribute("aria-invalid", "true")
        expect(control).to_have_accessible_description(message)
    assert_fits(requester)
    shots.take(requester, "errors-shown")
    nav(requester, "My requests").click()
    expect(request_count(requester)).to_have_text(f"{before} request" + ("" if before == 1 else "s"))


def test_moves_a_user_may_not_make_are_refused_and_change_nothing(actors, shots, live_system):
    # A requester types a technician's address.
    requester = actors.open("requester", "phone")
    expect(nav(requester, "My queue")).to_have_count(0)
    response = requester.goto("/queue/")
    assert response.status == 403
    expect(heading(requester)).to_have_text("Not allowed")
    assert_fits(requester)
    shots.take(requester, "requester-not-allowed")

    # A script on a logged-in technician's page posts without the CSRF token.
    reference = live_system.seeded.tickets["assigned"]
    technician = actors.open("technician", "phone")
    technician.goto(f"/tickets/{reference}")
    expect(ticket_status(technician)).to_have_text("Assigned")
    answer = technician.evaluate(FORGED_POST, f"/tickets/{reference}/accept")
    assert answer["status"] == 400
    assert "without a valid security token" in answer["text"]
    technician.reload()
    expect(ticket_status(technician)).to_have_text("Assigned")
    expect(history(technician)).to_have_count(2)
    expect(actions(technician).get_by_role("button", name="Accept", exact=True)).to_be_visible()
    shots.take(technician, "technician-unchanged")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_key_pages_fit_the_screen(device, actors, shots, live_system):
    on_site = live_system.seeded.tickets["on_site"]
    requester = actors.open("requester", device, log_in=False)
    requester.goto("/login")
    expect(heading(requester)).to_have_text("Log in")
    assert_fits(requester)
    shots.take(requester, "login")
    actors.log_in(requester, "requester")
    expect(heading(requester)).to_have_text("My requests")
    assert_fits(requester)
    nav(requester, "New request").click()
    expect(heading(requester)).to_have_text("New request")
    assert_fits(requester)
    shots.take(requester, "choose-centre")
    requester.get_by_role("link", name="Repair and maintenance").click()
    expect(heading(requester)).to_have_text("New request: Repair and maintenance")
    assert_fits(requester)
    shots.take(requester, "new-request-form")
    nav(requester, "My requests").click()
    requester.get_by_role("link", name=on_site, exact=True).click()
    expect(ticket_status(requester)).to_have_text("On site")
    assert_fits(requester)
    shots.take(requester, "ticket-as-requester")

    technician = actors.open("technician", device)
    expect(heading(technician)).to_have_text("My queue")
    assert_fits(technician)
    technician.get_by_role("link", name=on_site, exact=True).click()
    disclose(technician, "Put on hold")
    assert_fits(technician)
    shots.take(technician, "ticket-as-technician")


def test_a_request_filed_in_chinese_is_taken_from_the_centre_pool(actors, shots):
    t = texts("zh")
    requester = actors.open("other_requester", "phone", locale="zh-CN", log_in=False)
    requester.goto("/login")
    expect(requester.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(heading(requester)).to_have_text(t("Log in"))
    actors.log_in(requester, "other_requester")
    expect(requester.locator("html")).to_have_attribute("lang", "zh-CN")
    reference = file_request(
        requester,
        centre="宿舍管理中心",
        category="钥匙门锁",
        place="301室",
        description="宿舍301室的门锁坏了，钥匙插不进去。",
        shots=shots,
        t=t,
    )
    assert reference.startswith("DM-")
    expect(history(requester)).to_contain_text(t("filed the request"))
    assert_fits(requester)
    shots.take(requester, "filed")

    technician = actors.open("dorm_technician", "phone", locale="zh-CN")
    expect(technician.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(heading(technician)).to_have_text(t("My queue"))
    technician.get_by_role("listitem").filter(has_text=reference).get_by_role("button", name=t("Take")).click()
    expect(flash(technician)).to_have_text(t("You took the request."))
    technician.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(technician)).to_have_text(t("Accepted"))
    expect(history(technician).last).to_contain_text(t("took the request"))
    assert_fits(technician)
    shots.take(technician, "taken")


def test_action_form_fields_are_named_by_their_labels(actors, live_system):
    technician = actors.open("technician", "desktop")
    technician.goto(f"/tickets/{live_system.seeded.tickets['on_site']}")
    hold = disclose(technician, "Put on hold")
    resolve = disclose(technician, "Resolve")
    for scope, label in (
        (hold, "Why on hold?"),
        (hold, "Note"),
        (resolve, "What was done"),
        (resolve, "Materials used"),
    ):
        assert scope.get_by_label(label, exact=True).count() == 1, f"no field is named {label!r}"
