"""A centre head raises a promise on a phone and publishes it; benchmarks are imported and set beside it."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_fits
from tests.integration.test_standards import SHARED_CSV, _shared_csv


def test_a_centre_head_publishes_a_standard_and_sets_it_beside_a_benchmark(actors, shots, live_system):
    head = actors.open("centre_head", "phone")
    problems = []
    head.on("console", lambda message: message.type == "error" and problems.append(message.text))
    head.goto("/standards/centres")
    expect(head.get_by_role("heading", level=1)).to_have_text("Service standards")
    policy = head.locator("article.standards-policy").filter(has=head.locator("h3 > code", has_text=re.compile(r"^repairs$")))
    # Whatever limit another browser test published before (they share a server): round the clock, 95 %.
    expect(policy).to_contain_text(re.compile(r"Response \d+ min, 24×7, 95 %"))
    assert_fits(head)
    shots.take(head, "standards-phone")

    policy.get_by_role("button", name="New draft").click()
    expect(head.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Draft \d+ of repairs$"))
    head.locator("#target_response-share").fill("98")
    head.get_by_role("button", name="Save the draft").click()
    expect(head.locator("#draft-lines")).to_contain_text(re.compile(r"\d+ min, 24×7, 98 %"))
    expect(head.get_by_role("link", name="Replay this draft on past requests")).to_have_attribute(
        "href", re.compile(r"^/standards/\?version=\d+$"))
    assert_fits(head)
    shots.take(head, "draft-phone")
    head.get_by_role("button", name="Publish", exact=True).click()
    expect(head.locator(".flash-success")).to_contain_text("is published")
    expect(head.locator("article.standards-policy").filter(has=head.locator("h3 > code", has_text=re.compile(r"^repairs$")))).to_contain_text("98 %")

    head.get_by_role("link", name="Benchmarks", exact=True).click()
    assert SHARED_CSV.exists() or _shared_csv()
    head.get_by_label("CSV file").set_input_files(str(SHARED_CSV))
    head.get_by_role("button", name="Import", exact=True).click()
    expect(head.locator("main")).to_contain_text("benchmarks imported")
    expect(head.locator("#benchmarks")).to_contain_text("University of Alberta facilities")
    assert_fits(head)
    shots.take(head, "benchmarks-phone")

    head.get_by_role("link", name="Standards beside benchmarks").click()
    for field, text in (("#policy_target", r"› Response$"), ("#benchmark", r"^University of Alberta.*response")):
        value = head.locator(f"{field} option").filter(has_text=re.compile(text)).first.get_attribute("value")
        head.locator(field).select_option(value)
    head.get_by_role("button", name="Link", exact=True).click()
    expect(head.locator("#links")).to_contain_text("University of Alberta facilities")
    assert_fits(head)
    assert not problems, problems
