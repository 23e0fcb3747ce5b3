"""A request's whole life across roles, clicked through the real pages in Chromium.

Controls are found as people and screen readers find them -- by label and
by role and name -- so these tests also check that the pages are labelled.
Phones are 360 px wide; a phone page must never scroll sideways.
"""

import re

import pytest
from playwright.sync_api import Page, expect

REFERENCE = re.compile(r"\b[A-Z]{2}-\d{4}-\d{6}\b")
COUNT = re.compile(r"^\d+ requests?$")

FORGED_POST = """async (url) => {
    // Everything a real form sends but the CSRF token.
    const version = document.querySelector("input[name=version]").value;
    const answer = await fetch(url, {method: "POST", body: new URLSearchParams({version})});
    return {status: answer.status, text: await answer.text()};
}"""


def nav(page: Page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def flash(page: Page):
    return page.get_by_role("status")


def request_count(page: Page):
    return page.get_by_text(COUNT)


def ticket_status(page: Page):
    return page.locator(".page-head .status")


def history(page: Page):
    return page.get_by_role("main").get_by_role("list").get_by_role("listitem")


def actions(page: Page):
    return page.get_by_role("region", name="What next?")


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


def disclose(page: Page, name: str):
    """Open the action whose summary reads ``name`` (if closed) and return its <details>."""
    details = (
        actions(page)
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


def read_count(page: Page) -> int:
    expect(request_count(page)).to_be_visible()
    return int(request_count(page).inner_text().split()[0])


def file_request(page: Page, *, centre: str, category: str, place: str, description: str, shots) -> str:
    """Walk New request -> centre tile -> form -> file; return the new reference."""
    nav(page, "New request").click()
    expect(heading(page)).to_have_text("New request")
    page.get_by_role("link", name=centre).click()
    expect(heading(page)).to_have_text(f"New request: {centre}")
    page.get_by_label("What is it about?").select_option(label=category)
    page.get_by_label("Where?").select_option(label=place)
    page.get_by_label("What is wrong?").fill(description)
    shots.take(page, "form-filled")
    page.get_by_role("button", name="File the request").click()
    expect(heading(page)).to_contain_text(REFERENCE)
    return REFERENCE.search(heading(page).inner_text()).group()


def test_a_repair_request_goes_from_filed_to_closed_through_every_role(actors, shots):
    description = "The tap in the second-floor washroom of building 3 drips all night."
    note = "Replaced the washer and the valve seat."
    materials = "1 washer, 1 valve seat"

    # The requester files it from a phone.
    requester = actors.open("requester", "phone")
    expect(heading(requester)).to_have_text("My requests")
    assert_fits(requester)
    before = read_count(requester)
    reference = file_request(
        requester,
        centre="Repair and maintenance",
        category="Water and plumbing",
        place="Room 301",
        description=description,
        shots=shots,
    )
    assert reference.startswith("RP-")
    expect(flash(requester)).to_have_text(f"Request {reference} is filed.")
    expect(ticket_status(requester)).to_have_text("New")
    expect(history(requester)).to_have_count(1)
    expect(history(requester)).to_contain_text("Requester filed the request")
    # The service level: the repair centre answers within 30 minutes, round the clock.
    sla_panel = requester.get_by_role("region", name="Service level")
    expect(sla_panel.get_by_role("row", name=re.compile(r"^Response"))).to_contain_text("Running")
    expect(requester.locator("#expected-answer")).to_contain_text("Expect a response by")
    assert_fits(requester)
    shots.take(requester, "requester-filed")
    nav(requester, "My requests").click()
    expect(requester.get_by_role("link", name=reference, exact=True)).to_be_visible()
    expect(request_count(requester)).to_have_text(f"{before + 1} requests")
    assert_fits(requester)
    shots.take(requester, "requester-my-requests")
    requester.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(requester)).to_have_text("New")

    # The dispatcher, at a desk, gives it to the technician.
    dispatcher = actors.open("dispatcher", "desktop")
    expect(heading(dispatcher)).to_have_text("Dispatch")
    card = dispatcher.get_by_role("listitem").filter(has_text=reference)
    card.get_by_label("Technician").select_option(label="Technician")
    shots.take(dispatcher, "dispatcher-chose-technician")
    card.get_by_role("button", name="Assign").click()
    expect(flash(dispatcher)).to_have_text("Saved: Assign.")
    expect(card).to_have_count(0)
    shots.take(dispatcher, "dispatcher-assigned")

    # The technician works it from a phone.
    technician = actors.open("technician", "phone")
    expect(heading(technician)).to_have_text("My queue")
    assert_fits(technician)
    technician.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(technician)).to_have_text("Assigned")
    assert_fits(technician)
    shots.take(technician, "technician-opened")
    for button, status in (("Accept", "Accepted"), ("Arrived on site", "On site")):
        actions(technician).get_by_role("button", name=button, exact=True).click()
        expect(ticket_status(technician)).to_have_text(status)
        shots.take(technician, f"technician-{button}")

    hold = disclose(technician, "Put on hold")
    field(hold, "Why on hold?").select_option(label="Waiting for parts")
    field(hold, "Note").fill("Ordered a valve seat.")
    assert_fits(technician)
    shots.take(technician, "technician-hold-form")
    hold.get_by_role("button", name="Put on hold").click()
    expect(ticket_status(technician)).to_have_text("On hold")
    expect(technician.get_by_text("On hold: Waiting for parts")).to_be_visible()
    # Waiting for parts stops the resolution clock, and the page says so.
    expect(technician.get_by_text("the service clock is stopped meanwhile")).to_be_visible()
    resolution = technician.get_by_role("region", name="Service level").get_by_role(
        "row", name=re.compile(r"^Resolution")
    )
    expect(resolution).to_contain_text("Paused")
    expect(resolution).to_contain_text("if resumed now")
    shots.take(technician, "technician-on-hold")

    actions(technician).get_by_role("button", name="Resume").click()
    expect(ticket_status(technician)).to_have_text("On site")
    resolve = disclose(technician, "Resolve")
    field(resolve, "What was done").fill(note)
    field(resolve, "Materials used").fill(materials)
    assert_fits(technician)
    shots.take(technician, "technician-resolve-form")
    resolve.get_by_role("button", name="Resolve").click()
    expect(ticket_status(technician)).to_have_text("Resolved")
    expect(actions(technician)).to_have_count(0)
    shots.take(technician, "technician-resolved")

    # The requester finds it among the resolved ones and confirms the fix.
    nav(requester, "My requests").click()
    expect(heading(requester)).to_have_text("My requests")
    requester.get_by_label("State").select_option(label="Resolved")
    requester.get_by_role("button", name="Show").click()
    requester.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(requester)).to_have_text("Resolved")
    shots.take(requester, "requester-sees-resolved")
    actions(requester).get_by_role("button", name="Confirm the fix").click()
    expect(ticket_status(requester)).to_have_text("Closed")
    expect(history(requester)).to_have_count(8)
    steps = [" ".join(text.split()) for text in history(requester).all_inner_texts()]
    expected = [
        r"Requester filed the request",
        r"Dispatcher assigned it to Technician",
        r"Technician Accept: Assigned → Accepted",
        r"Technician Arrived on site: Accepted → On site",
        r"Technician Put on hold: On site → On hold \(Waiting for parts\) Ordered a valve seat\.",
        r"Technician Resume: On hold → On site",
        rf"Technician Resolve: On site → Resolved {re.escape(note)} Materials used: {re.escape(materials)}",
        r"Requester Confirm the fix: Resolved → Closed",
    ]
    for step, pattern in zip(steps, expected, strict=True):
        assert re.search(pattern, step), f"history step {step!r} does not read {pattern!r}"
    assert_fits(requester)
    shots.take(requester, "requester-closed")

    # Leadership can find and read it, and do nothing to it.
    leader = actors.open("leadership", "desktop")
    expect(heading(leader)).to_have_text("All requests")
    leader.get_by_label("Search", exact=True).fill(reference)
    leader.get_by_label("State").select_option(label="All")
    leader.get_by_role("button", name="Show").click()
    expect(request_count(leader)).to_have_text("1 request")
    leader.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(leader)).to_have_text("Closed")
    expect(history(leader)).to_have_count(8)
    expect(actions(leader)).to_have_count(0)
    main = leader.get_by_role("main")
    expect(main.get_by_role("button")).to_have_count(0)
    expect(main.get_by_role("textbox")).to_have_count(0)
    shots.take(leader, "leadership-reads")


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
    requester = actors.open("other_requester", "phone", locale="zh-CN", log_in=False)
    requester.goto("/login")
    expect(requester.locator("html")).to_have_attribute("lang", "zh-CN")
    # TODO(issue 7): find controls by their Chinese labels and assert the
    # Chinese texts once the zh_CN catalogue exists; the msgids show till then.
    actors.log_in(requester, "other_requester")
    expect(requester.locator("html")).to_have_attribute("lang", "zh-CN")
    reference = file_request(
        requester,
        centre="宿舍管理中心",
        category="钥匙门锁",
        place="301室",
        description="宿舍301室的门锁坏了，钥匙插不进去。",
        shots=shots,
    )
    assert reference.startswith("DM-")
    expect(history(requester)).to_contain_text("filed the request")
    assert_fits(requester)
    shots.take(requester, "filed")

    technician = actors.open("dorm_technician", "phone", locale="zh-CN")
    expect(technician.locator("html")).to_have_attribute("lang", "zh-CN")
    technician.get_by_role("listitem").filter(has_text=reference).get_by_role("button", name="Take").click()
    expect(flash(technician)).to_have_text("Saved: Take.")
    technician.get_by_role("link", name=reference, exact=True).click()
    expect(ticket_status(technician)).to_have_text("Accepted")
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
