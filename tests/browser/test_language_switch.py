"""Switching language on a half-filled form keeps what was typed (issue 15.3), in Chromium.

The switch posts to the language endpoint and the same page comes back in
the other language, its forms rendered anew by the server; static/js/
keep_input.js carries the fields the user changed across, in this tab's
sessionStorage. Two kinds of form: the administrator's new-user form (text,
password, check boxes) and a requester's filing form (selects, text,
textarea), each switched both ways. Passwords are never carried, nothing
is left in the tab's storage, and the form still sends: the CSRF token is
the new page's own.
"""

import re

from playwright.sync_api import expect

from tests.browser.conftest import open_menu
from tests.browser.test_request_journey import REFERENCE, flash, heading, nav
from tests.browser.texts import texts

EN, ZH = texts("en"), texts("zh")
NEWCOMER, NEWCOMER_PASSWORD = "li.lei", "switch-both-ways-2026"
STASH = "() => window.sessionStorage.getItem('tracker.keep-input')"


def switch(page, to: str) -> None:
    """Click the header's language button (in the menu on a phone) and wait for the page in that language."""
    open_menu(page)
    page.get_by_role("button", name="中文" if to == "zh" else "English", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if to == "zh" else "en")


def test_switching_language_keeps_a_half_filled_form_both_ways(actors, shots):
    # The administrator starts a new user: text, a password, roles as check boxes.
    admin = actors.open("admin", "desktop")
    admin.goto("/admin/users/new")
    admin.get_by_label(EN("User name")).fill(NEWCOMER)
    admin.get_by_label(EN("Name"), exact=True).fill("Li Lei 李雷")
    admin.get_by_label(EN("Password")).fill(NEWCOMER_PASSWORD)
    admin.get_by_role("group", name=EN("Campus-wide roles")).get_by_label(EN("Requester")).check()
    shots.take(admin, "user-form-half-filled-en")

    for t, to in ((ZH, "zh"), (EN, "en")):
        switch(admin, to)
        expect(heading(admin)).to_have_text(t("New user"))
        expect(admin.get_by_label(t("User name"))).to_have_value(NEWCOMER)
        expect(admin.get_by_label(t("Name"), exact=True)).to_have_value("Li Lei 李雷")
        expect(admin.get_by_role("group", name=t("Campus-wide roles")).get_by_label(t("Requester"))).to_be_checked()
        # A password is never written to storage, nor put back.
        expect(admin.get_by_label(t("Password"))).to_have_value("")
        assert admin.evaluate(STASH) is None
        shots.take(admin, f"user-form-kept-{to}")

    # The kept form sends as it is, with the new page's CSRF token.
    admin.get_by_label(EN("Password")).fill(NEWCOMER_PASSWORD)
    admin.get_by_role("button", name=EN("Save")).click()
    expect(flash(admin)).to_contain_text(f"User {NEWCOMER} created.")

    # The new requester starts a request: two selects and a description.
    phone = actors.open("newcomer", "phone", log_in=False)
    phone.goto("/login")
    phone.get_by_label(EN("User name")).fill(NEWCOMER)
    phone.get_by_label(EN("Password")).fill(NEWCOMER_PASSWORD)
    phone.get_by_role("button", name=EN("Log in")).click()
    # The phone's menu is unfolded on the page after the login, not on the login page (a slow answer).
    expect(heading(phone)).to_have_text(EN("My requests"))
    nav(phone, EN("New request")).click()
    phone.get_by_role("link", name="Repair and maintenance").click()
    form_address = phone.url
    category, place, description = (phone.get_by_label(EN(label)) for label in
                                    ("What is it about?", "Where?", "What is wrong?"))
    category.select_option(label="Water and plumbing")
    phone.get_by_label(EN("Building"), exact=True).select_option(label="Main campus › Building 3")
    place.select_option(label="Room 301")
    chosen = category.input_value(), place.input_value()
    assert all(chosen)
    # Sent too soon: the form comes back with a mistake and the choices as the server kept them ...
    phone.get_by_role("button", name=EN("File the request")).click()
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(category).to_have_value(chosen[0])
    # ... and the switch asks for the form anew: the choices made before must come along all the same.
    description.fill("The tap in room 301 drips all night.\nIt started on Monday.")
    shots.take(phone, "filing-form-half-filled-en")

    for t, to, names in ((ZH, "zh", ("水暖", "301室")), (EN, "en", ("Water and plumbing", "Room 301"))):
        switch(phone, to)
        assert phone.url == form_address
        category, place, description = (phone.get_by_label(t(label)) for label in
                                        ("What is it about?", "Where?", "What is wrong?"))
        expect(category).to_have_value(chosen[0])
        expect(place).to_have_value(chosen[1])
        # The same choices, named in the page's language.
        assert category.evaluate("s => s.selectedOptions[0].text").strip() == names[0]
        assert names[1] in place.evaluate("s => s.selectedOptions[0].text")
        expect(description).to_have_value("The tap in room 301 drips all night.\nIt started on Monday.")
        assert phone.evaluate(STASH) is None
        shots.take(phone, f"filing-form-kept-{to}")

    phone.get_by_role("button", name=EN("File the request")).click()
    expect(heading(phone)).to_contain_text(REFERENCE)
    expect(phone.get_by_role("main")).to_contain_text("The tap in room 301 drips all night.")

    # What was kept is used once: the same form opened again is empty.
    phone.goto(form_address)
    expect(phone.get_by_label(EN("What is wrong?"))).to_have_value("")
    assert re.search(r"/tickets/new/", form_address)
