"""The import page's time zone list, in Chromium: the campus zone first, common ones, and a search (issue 15.11).

An administrator finds a source's zone by typing a city, in English or in
Chinese, starts a dry run with it, and the run reads its files in that zone.
A zone the list does not hold (a forged option) is refused by the server in
the page's language, and no run is started.
"""

from playwright.sync_api import expect

from tests.browser.test_request_journey import heading
from tests.browser.texts import texts

EN, ZH = texts("en"), texts("zh")
CSV = "case_enquiry_id,open_dt,closed_dt,case_status,subject,reason,type,location\n"


def zone_select(page, t):
    return page.get_by_label(t("Time zone of the source"), exact=True)


def shown_zones(select) -> list[str]:
    return select.evaluate("s => Array.from(s.options).map(o => o.value).filter(Boolean)")


def runs(page) -> int:
    return page.locator("table.admin-table").last.locator("tbody tr").count()


def test_an_administrator_finds_a_time_zone_by_city_and_a_forged_one_is_refused(actors, shots, tmp_path):
    admin = actors.open("admin", "desktop")
    admin.goto("/admin/imports/")
    select = zone_select(admin, EN)
    everything = shown_zones(select)
    # The campus zone first, then the common ones; ~550 in all.
    assert everything[:4] == ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore"]
    assert len(everything) > 400
    assert select.locator("option[value='Asia/Shanghai']").inner_text().startswith("Shanghai · UTC+08:00")
    assert select.evaluate("s => s.options[1].parentElement.label") == "Campus time zone"
    search = admin.get_by_label(EN("Find a time zone"))
    found = admin.locator("#time_zone-matches")

    search.fill("tokyo")
    expect(select).to_have_value("Asia/Tokyo")
    assert shown_zones(select) == ["Asia/Tokyo"]
    expect(found).to_have_text(EN("Time zones found: %(count)s. Choose one below.", count=1))
    search.fill("new york")
    expect(select).to_have_value("America/New_York")  # the common one before US/Eastern
    assert "US/Eastern" in shown_zones(select)
    search.fill("atlantis")
    expect(found).to_have_text(EN("No time zone matches; the list shows them all."))
    assert shown_zones(select) == everything
    search.fill("")
    assert shown_zones(select) == everything
    shots.take(admin, "zone-list-en")

    # In Chinese the cities read Chinese; the choice made before the switch is kept.
    # Typed key by key, as people do; Antarctica/South_Pole's city is Auckland too, but it is not so named.
    search.press_sequentially("auckland")
    expect(select).to_have_value("Pacific/Auckland")
    admin.get_by_role("button", name="中文", exact=True).click()
    expect(admin.locator("html")).to_have_attribute("lang", "zh-CN")
    select = zone_select(admin, ZH)
    expect(select).to_have_value("Pacific/Auckland")
    admin.get_by_label(ZH("Find a time zone")).fill("东京")
    expect(select).to_have_value("Asia/Tokyo")
    assert select.locator("option[value='Asia/Tokyo']").inner_text() == "东京 · UTC+09:00 · Asia/Tokyo"
    shots.take(admin, "zone-list-zh")
    admin.get_by_role("button", name="English", exact=True).click()
    expect(admin.locator("html")).to_have_attribute("lang", "en")
    select = zone_select(admin, EN)
    expect(select).to_have_value("Asia/Tokyo")

    # A dry run with the zone found; its page says which zone its files are read in.
    source = tmp_path / "cases.csv"
    source.write_text(CSV + "101,2026-01-05 09:00:00,,Open,Public Works,Street,Pothole,Main St\n")
    admin.get_by_label(EN("Files (CSV, CSV.GZ or XLSX)")).set_input_files(str(source))
    admin.get_by_role("button", name=EN("Start")).click()
    expect(heading(admin)).not_to_have_text(EN("Import historical requests"))
    expect(admin.get_by_role("main")).to_contain_text("Asia/Tokyo")
    shots.take(admin, "run-in-tokyo-time")

    # A zone that is not in the list, sent anyway: refused in the page's language, no run started.
    admin.goto("/admin/imports/")
    before = runs(admin)
    admin.get_by_role("button", name="中文", exact=True).click()
    expect(admin.locator("html")).to_have_attribute("lang", "zh-CN")
    select = zone_select(admin, ZH)
    select.evaluate("s => { s.add(new Option('Mars', 'Mars/Olympus')); s.value = 'Mars/Olympus'; }")
    admin.get_by_label(ZH("Files (CSV, CSV.GZ or XLSX)")).set_input_files(str(source))
    admin.get_by_role("button", name=ZH("Start")).click()
    expect(admin.get_by_text(ZH("Unknown time zone “%(zone)s”: choose one from the list.", zone="Mars/Olympus"))) \
        .to_be_visible()
    expect(admin.get_by_role("status")).to_contain_text(ZH("Please correct the marked fields; nothing was saved."))
    shots.take(admin, "forged-zone-refused")
    admin.get_by_role("button", name="English", exact=True).click()
    expect(admin.locator("html")).to_have_attribute("lang", "en")
    admin.goto("/admin/imports/")
    assert runs(admin) == before
