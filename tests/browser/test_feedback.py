"""A requester rates a resolved request low; the centre head records the follow-up visit, in Chromium."""

import re

from playwright.sync_api import expect

from tests.browser.test_request_journey import (
    actions,
    assert_fits,
    disclose,
    field,
    file_request,
    flash,
    heading,
    history,
    nav,
    ticket_status,
)


def test_a_requester_rates_a_resolved_request_and_the_head_records_the_follow_up(actors, shots):
    # The requester files a request; the technician takes it and resolves it.
    requester = actors.open("requester", "phone")
    reference = file_request(
        requester, centre="Repair and maintenance", category="Water and plumbing", place="Room 301",
        description="The shower in room 301 runs cold.", shots=shots,
    )
    technician = actors.open("technician", "phone")
    technician.goto(f"/tickets/{reference}")
    actions(technician).get_by_role("button", name="Take", exact=True).click()
    expect(ticket_status(technician)).to_have_text("Accepted")
    resolve = disclose(technician, "Resolve")
    field(resolve, "What was done").fill("Reset the boiler.")
    resolve.get_by_role("button", name="Resolve").click()
    expect(ticket_status(technician)).to_have_text("Resolved")

    # The requester rates it 2 of 5 with a comment, on the phone.
    requester.reload()
    expect(ticket_status(requester)).to_have_text("Resolved")
    rating = requester.get_by_role("region", name="Rating")
    expect(rating).to_be_visible()
    assert_fits(requester)
    shots.take(requester, "requester-rating-form")
    rating.get_by_role("button", name="Send the rating").click()  # nothing chosen: the browser asks first
    expect(rating.get_by_role("button", name="Send the rating")).to_be_visible()
    rating.get_by_role("radio", name=re.compile(r"^\s*2\s+Poor\s*$")).check()
    rating.get_by_label("Comment").fill("Cold again the next morning.")
    rating.get_by_role("button", name="Send the rating").click()
    expect(flash(requester)).to_have_text("Thank you: your rating is saved.")
    rating = requester.get_by_role("region", name="Rating")
    expect(rating).to_contain_text("2 of 5, given")
    expect(rating).to_contain_text("Cold again the next morning.")
    expect(rating.get_by_role("button", name="Change the rating")).to_be_visible()  # within the edit window
    expect(history(requester).filter(has_text="rated the service 2 of 5")).to_have_count(1)
    assert_fits(requester)
    shots.take(requester, "requester-rated")

    # The centre head finds the follow-up on the Follow-ups page and records the visit.
    head = actors.open("centre_head", "desktop")
    nav(head, "Follow-ups").click()
    expect(heading(head)).to_have_text("Follow-ups")
    item = head.get_by_role("listitem").filter(has_text=reference)
    expect(item).to_contain_text("rated 2 of 5")
    expect(item).to_contain_text("Visit after a low rating")
    shots.take(head, "head-follow-ups")
    item.locator("summary").filter(has_text="Record the visit or call").click()
    item.get_by_label("Result").select_option(label="The requester's concern was settled")
    item.get_by_label("What the requester said, what was done").fill(
        "Visited room 301: the boiler timer was wrong; reset it and showed the requester.")
    shots.take(head, "head-record-form")
    item.get_by_role("button", name="Record").click()
    expect(flash(head)).to_have_text("The follow-up is recorded.")
    expect(head.get_by_text("No follow-ups here.")).to_be_visible()  # none open any more
    head.get_by_role("link", name="Done", exact=True).click()
    item = head.get_by_role("listitem").filter(has_text=reference)
    expect(item).to_contain_text("The requester's concern was settled")
    expect(item).to_contain_text("the boiler timer was wrong")
    shots.take(head, "head-follow-up-done")

    # The request's history says what happened, for the head and the requester alike.
    head.get_by_role("link", name=re.compile(re.escape(reference))).first.click()
    expect(history(head).filter(has_text="recorded the follow-up: The requester's concern was settled")) \
        .to_have_count(1)
    expect(head.get_by_role("region", name="Follow-ups")).to_contain_text("Done")
    requester.reload()
    expect(history(requester).filter(has_text="opened a follow-up: Visit after a low rating")).to_have_count(1)
    shots.take(requester, "requester-history")
