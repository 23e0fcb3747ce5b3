"""Surveys in Chromium: upload a questionnaire export, check it in a dry run, import it, and turn two
complaints into one rectification item that links back to them."""

import csv
import io
import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_fits, nav_link

HEADER = ["序号", "提交时间", "身份", "服务中心", "主题", "满意度", "意见建议"]
ROWS = [
    ["B-1", "2026-10-08 21:40:00", "student", "dorm", "Hot water", "1", "No hot water after 22:00 in building 3."],
    ["B-2", "2026-10-09 22:05:13", "student", "宿舍管理中心", "Hot water", "2", "Cold showers every evening."],
    ["B-3", "2026-10-09 08:00:00", "staff", "repairs", "Response time", "5", "Quick and polite."],
    ["B-4", "yesterday", "student", "dorm", "Keys", "3", "A row with a date nobody can read."],
]


def survey_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(ROWS)
    return out.getvalue().encode("utf-8")


def test_leadership_imports_a_survey_and_turns_two_complaints_into_one_item(actors, shots, live_system):
    page = actors.open("leadership", "desktop")
    nav_link(page, "Surveys").click()
    page.get_by_role("link", name="Import a survey file").first.click()
    page.get_by_label("Survey", exact=True).fill("Dormitory survey, autumn 2026")
    page.get_by_label("CSV or xlsx file").set_input_files(
        {"name": "dorm-survey.csv", "mimeType": "text/csv", "buffer": survey_csv()})
    shots.take(page, "upload")
    page.get_by_role("button", name="Upload").click()

    # The Chinese headers were recognised: every field has its column.
    expect(page.get_by_role("heading", name="Choose the columns")).to_be_visible()
    expect(page.get_by_label("Score", exact=True)).to_have_value("满意度")
    expect(page.get_by_label("Comment (free text)")).to_have_value("意见建议")
    expect(page.get_by_label("Service centre", exact=True)).to_have_value("服务中心")
    shots.take(page, "mapping")
    page.get_by_role("button", name="Dry run: check the rows").click()

    expect(page.locator("#run-status")).to_have_text("Dry run done")
    expect(page.locator("#rows-new")).to_have_text("3")
    expect(page.locator("#rows-error")).to_have_text("1")
    expect(page.locator("#row-errors")).to_contain_text("The date “yesterday” cannot be read: write it as YYYY-MM-DD.")
    expect(page.locator("#row-errors tbody tr td").first).to_have_text("5")
    expect(page.locator("#run-preview")).to_contain_text("Cold showers every evening.")
    shots.take(page, "dry-run")
    page.get_by_role("button", name="Import 3 responses").click()

    expect(page.locator("#run-status")).to_have_text("Imported")
    expect(page.locator("#rows-new")).to_have_text("3")
    expect(page.locator("#progress-bar")).to_have_attribute("value", "100")
    shots.take(page, "imported")
    page.get_by_role("link", name="See the responses").click()

    expect(page.locator("#response-count")).to_have_text("3 responses")
    page.get_by_label("Centre").select_option(label="Dormitory management")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#response-count")).to_have_text("2 responses")
    assert_fits(page)
    for text in ("No hot water after 22:00", "Cold showers every evening."):
        page.locator("tr", has_text=text).get_by_role("checkbox").check()
    shots.take(page, "chosen")
    page.get_by_role("button", name="Turn the chosen responses into a rectification item").click()

    expect(page.get_by_label("Title")).to_have_value("Survey: Hot water")
    expect(page.locator("#chosen-responses li")).to_have_count(2)
    page.get_by_label("Title").fill("Evening hot water in building 3")
    page.get_by_label("Responsible person").select_option(label="Dorm-Head")
    shots.take(page, "item-form")
    page.get_by_role("button", name="Open the rectification item").click()

    expect(page.locator(".flash-success")).to_contain_text("is opened from 2 responses")
    reference = page.locator("h1 .ref").inner_text()
    assert re.fullmatch(r"RC-\d{4}-\d{4}", reference)
    panel = page.locator("#survey-responses")
    expect(panel.locator("li")).to_have_count(2)
    expect(panel).to_contain_text("Cold showers every evening.")
    shots.take(page, "item")

    # And back: the response names its item.
    panel.get_by_role("link").first.click()
    expect(page.locator("#response-item")).to_contain_text(reference)
    expect(page.locator("#response-item")).to_contain_text("Evening hot water in building 3")
    shots.take(page, "response")
