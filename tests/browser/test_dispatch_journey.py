"""Round-the-clock dispatch on phones, in both languages (docs/dispatch.md).

The centre head switches automatic dispatch on for an emergency category;
the dispatcher fills in the roster with the night technician's shift (the
one running now: the live server keeps real time); the requester files an
emergency request and sees who is on duty; the application dispatches it
to the technician on duty; the technician accepts it with one tap on a
phone; its response target is met. The settings and the shift are undone
at the end, so the other journeys dispatch by hand as before.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_request_journey import assert_fits, file_request, flash, heading, ticket_status
from tests.browser.texts import BROWSER_LOCALES, texts

WORLD = {
    "en": {"centre": "Repair and maintenance", "category": "Electricity", "place": "Room 301"},
    "zh": {"centre": "维修服务中心", "category": "电力", "place": "301室"},
}


def _settings(head: Page, t, category: str, on: bool) -> None:
    head.goto("/dispatch/roster")
    for name in ("Automatic dispatch", "Emergency"):
        box = head.get_by_label(f"{t(name)} {category}", exact=True)
        box.set_checked(on)
    head.get_by_role("button", name=t("Save the settings")).click()
    expect(flash(head)).to_contain_text(t("Dispatch settings saved."))


def _clear_week(page: Page, t) -> None:
    """Remove every shift of this week (an earlier run's), one Remove button at a time."""
    page.goto("/dispatch/roster")
    remove = page.get_by_role("button", name=re.compile("^" + re.escape(t("Remove"))))
    while remove.count():
        remove.first.click()
        expect(flash(page)).to_contain_text(t("Shift removed."))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_emergency_request_goes_to_the_technician_on_duty_who_accepts_it_on_a_phone(language, actors, shots):
    t = texts(language)
    locale = BROWSER_LOCALES[language]
    names = WORLD[language]

    head = actors.open("centre_head", "desktop", locale=locale)
    _settings(head, t, names["category"], True)
    shots.take(head, "head-dispatch-settings")
    try:
        # The dispatcher fills in the roster on a phone: the night cover running now.
        dispatcher = actors.open("dispatcher", "phone", locale=locale)
        _clear_week(dispatcher, t)
        local = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=1)
        dispatcher.get_by_label(t("Who"), exact=True).select_option(label="Technician")
        dispatcher.get_by_label(t("Date"), exact=True).fill(local.date().isoformat())
        dispatcher.get_by_label(t("From"), exact=True).fill(local.strftime("%H:%M"))
        dispatcher.get_by_label(t("To"), exact=True).fill((local + timedelta(hours=3)).strftime("%H:%M"))
        dispatcher.get_by_label(t("Kind"), exact=True).select_option(label=t("On duty"))
        dispatcher.get_by_label(t("Note"), exact=True).fill("Night cover")
        assert_fits(dispatcher)
        dispatcher.get_by_role("button", name=t("Add the shift")).click()
        expect(flash(dispatcher)).to_contain_text(t("Shift added."))
        on_duty = dispatcher.get_by_role("region", name=t("On duty now"))
        expect(on_duty).to_contain_text("Technician")
        # The same shift again: refused, with the reason.
        dispatcher.get_by_label(t("Who"), exact=True).select_option(label="Technician")
        dispatcher.get_by_label(t("Date"), exact=True).fill(local.date().isoformat())
        dispatcher.get_by_label(t("From"), exact=True).fill(local.strftime("%H:%M"))
        dispatcher.get_by_label(t("To"), exact=True).fill((local + timedelta(hours=3)).strftime("%H:%M"))
        dispatcher.get_by_role("button", name=t("Add the shift")).click()
        expect(flash(dispatcher).first).to_contain_text(
            t("Nothing was saved: %(count)d rows have problems.", count=1)
        )
        assert_fits(dispatcher)
        shots.take(dispatcher, "dispatcher-roster")

        # The requester files an emergency request on a phone: dispatched at once, and they see who is on duty.
        requester = actors.open("requester", "phone", locale=locale)
        reference = file_request(
            requester,
            centre=names["centre"],
            category=names["category"],
            place=names["place"],
            description={"en": "Sparks from the socket by the door.", "zh": "门边插座冒火花。"}[language],
            shots=shots,
            t=t,
        )
        expect(ticket_status(requester)).to_have_text(t("Assigned"))
        expect(requester.get_by_role("region", name=t("On duty now for emergencies"))).to_contain_text(
            "Technician"
        )
        expect(requester.get_by_role("main")).to_contain_text(t("Automatic dispatch"))
        assert_fits(requester)
        shots.take(requester, "requester-dispatched")

        # The technician accepts it on a phone with one tap, from their queue.
        technician = actors.open("technician", "phone", locale=locale)
        expect(heading(technician)).to_have_text(t("My queue"))
        expect(technician.locator("#my-next-shifts")).to_contain_text(t("On duty"))
        card = technician.locator("#to-accept").get_by_role("listitem").filter(has_text=reference)
        assert_fits(technician)
        shots.take(technician, "technician-to-accept")
        card.get_by_role("button", name=re.compile("^" + re.escape(t("Accept")))).click()
        expect(
            technician.locator("#to-accept").get_by_role("listitem").filter(has_text=reference)
        ).to_have_count(0)
        technician.get_by_role("link", name=reference, exact=True).click()
        expect(ticket_status(technician)).to_have_text(t("Accepted"))
        response = technician.get_by_role("region", name=t("Service level")).get_by_role(
            "row", name=re.compile(rf"^{t('Response')}")
        )
        expect(response).to_contain_text(t("Met"))
        assert_fits(technician)
        shots.take(technician, "technician-accepted")
    finally:
        _settings(head, t, names["category"], False)
        _clear_week(head, t)
