"""Back and submit again: the browser restores the filled form, and the request is still filed once.

Here Chromium loads the form page again on Back (it keeps no page whole in
its back/forward cache under Playwright), as a phone short of memory does:
the server draws a new key, so the first one must come back from the
history entry (static/js/once.js).
"""

import time

from playwright.sync_api import expect

from tests.browser.test_request_journey import REFERENCE, WORLD, file_request, flash, heading


def test_back_and_submit_again_lands_on_the_request_filed_first(actors, shots):
    requester = actors.open("requester")
    marker = f"Drip{time.time_ns()}"
    description = f"{marker}: the tap in room 301 drips day and night."
    reference = file_request(requester, **WORLD["en"], description=description, shots=shots)
    shots.take(requester, "filed")

    requester.go_back()
    expect(heading(requester)).to_have_text("New request: Repair and maintenance")
    # The page is loaded again (a new key from the server) and the browser puts back what was typed.
    expect(requester.get_by_label("What is wrong?")).to_have_value(description)
    shots.take(requester, "back-on-the-filled-form")
    requester.get_by_role("button", name="File the request").click()

    expect(heading(requester)).to_contain_text(REFERENCE)
    assert REFERENCE.search(heading(requester).inner_text()).group() == reference
    expect(flash(requester)).to_contain_text("This request was already filed; here it is.")
    shots.take(requester, "landed-on-the-same-request")

    # One request with this text, not two.
    # (The list has other requests of this requester, from the browser tests' data.)
    requester.goto("/tickets/mine?state=all")
    expect(requester.get_by_role("main").get_by_text(marker)).to_have_count(1)
    expect(requester.get_by_role("main").get_by_text(reference)).to_have_count(1)
