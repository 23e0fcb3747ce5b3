"""An administrator on a phone enters next year's published holidays from a CSV file, fixing a bad row first."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import assert_fits


def _first_saturday_of_february(year: int) -> date:
    day = date(year, 2, 1)
    return day + timedelta(days=(5 - day.weekday()) % 7)


def test_an_administrator_enters_next_years_schedule_from_a_file(actors, shots, tmp_path):
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year + 1
    saturday = _first_saturday_of_february(year)
    week = [saturday + timedelta(days=2 + i) for i in range(5)]  # Monday to Friday after it
    good = tmp_path / "schedule.csv"
    good.write_text("date,kind,name\n" + "".join(f"{d.isoformat()},holiday,春节\n" for d in week)
                    + f"{saturday.isoformat()},workday,春节调休\n", encoding="utf-8")
    bad = tmp_path / "schedule-bad.csv"
    bad.write_text(good.read_text(encoding="utf-8").replace(f"{week[2].isoformat()},holiday",
                                                           f"{week[2].isoformat()},vacation"), encoding="utf-8")

    admin = actors.open("admin", "phone")
    admin.goto("/admin/calendars")
    admin.get_by_role("link", name="office", exact=True).click()
    section = admin.locator("#entered-days")
    section.get_by_label("CSV file").set_input_files(str(bad))
    section.get_by_role("button", name="Upload").click()
    expect(admin.locator("#row-errors")).to_contain_text("Row 4: “vacation” is not a kind")
    expect(admin.locator(".flashes .flash-error")).to_contain_text("Nothing was saved")
    expect(admin.locator("#entered-days-table")).to_have_count(0)
    assert_fits(admin)
    shots.take(admin, "bad-row")

    admin.locator("#entered-days").get_by_label("CSV file").set_input_files(str(good))
    admin.locator("#entered-days").get_by_role("button", name="Upload").click()
    expect(admin.locator(".flashes .flash-success")).to_contain_text("6 days are entered into calendar office")
    table = admin.locator("#entered-days-table")
    expect(table.locator("tbody tr")).to_have_count(6)
    expect(table).to_contain_text("春节调休")
    expect(table).to_contain_text("Make-up working day")
    expect(table).to_contain_text("from a file")
    assert_fits(admin)
    shots.take(admin, "entered")
