"""Leadership reads the dashboard on a desk and on a phone; a technician's queue counts down.

The seeded world has two repair requests filed on Monday 2 March 2026, both
still open (one assigned, one on site) and long past their deadlines.
"""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_fits

MARCH = "/dashboard?from=2026-03-01&to=2026-03-31"


def figure_link(page, table: str, row: str, column: str):
    """Return the link of a figure in a dashboard table, found by its row and column names."""
    figures = page.locator(f"#figures-{table}")
    headers = [h.strip() for h in figures.locator("thead th").all_inner_texts()]
    return figures.locator("tbody tr").filter(has=page.get_by_role("rowheader", name=row, exact=True)).locator(
        "th, td").nth(headers.index(column)).get_by_role("link")


def test_leadership_reads_the_dashboard_and_follows_a_figure_to_its_list(actors, shots, live_system):
    leader = actors.open("leadership", "desktop")
    problems = []
    leader.on("console", lambda message: message.type == "error" and problems.append(message.text))
    leader.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard", exact=True).click()
    expect(leader.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(leader.get_by_role("link", name="Last 30 days")).to_have_attribute("aria-current", "true")
    # The overview keeps the top of the page: the date form is folded under the period buttons.
    leader.get_by_text("Dates, centre and other filters").click()
    leader.get_by_label("From", exact=True).fill("2026-03-01")
    leader.get_by_label("To", exact=True).fill("2026-03-31")
    leader.get_by_role("button", name="Show").click()
    expect(leader.get_by_label("From", exact=True)).to_have_value("2026-03-01")
    # The tables come after the first paint, from the Details page (static/js/details.js), in place of its link.
    expect(leader.locator("[data-details]")).to_have_attribute("data-details-loaded", "true")
    expect(leader.locator(".details-link")).to_have_count(0)
    expect(leader.get_by_role("img", name="Targets met per centre")).to_be_visible()
    expect(leader.get_by_role("img", name="Trend by week")).to_be_visible()
    # The seeded requests are the repairs centre's March: one row each.
    seeded = len(live_system.seeded.tickets)
    received = figure_link(leader, "centres", "Repair and maintenance", "Received")
    expect(received).to_have_text(str(seeded))
    expect(figure_link(leader, "centres", "Total", "Open backlog")).to_have_text(re.compile(r"^\d+$"))
    assert_fits(leader)
    assert not problems, problems  # e.g. an inline style the CSP refused
    shots.take(leader, "dashboard-desktop")

    # On a phone: the charts shrink with the screen, wide tables scroll in their frame.
    phone = actors.open("leadership", "phone")
    phone.goto(MARCH)
    expect(phone.get_by_role("img", name="Trend by month")).to_be_visible()
    chart_width = phone.get_by_role("img", name="Targets met per centre").bounding_box()["width"]
    assert chart_width <= 360
    assert_fits(phone)
    shots.take(phone, "dashboard-phone")

    # A figure is one click from the requests behind it.
    received.click()
    expect(leader.get_by_role("heading", level=1)).to_have_text("Received")
    expect(leader.locator("#drill-count")).to_have_text(f"{seeded} requests")
    for reference in live_system.seeded.tickets.values():
        expect(leader.get_by_role("link", name=reference, exact=True)).to_be_visible()
    expect(leader.get_by_role("link", name="CSV")).to_have_attribute("href", re.compile(r"^/dashboard/tickets\.csv\?"))
    assert_fits(leader)
    shots.take(leader, "received-list")
    phone.goto(leader.url)
    expect(phone.locator("#drill-count")).to_have_text(f"{seeded} requests")
    assert_fits(phone)
    shots.take(phone, "received-list-phone")


def test_the_technicians_queue_counts_down_without_a_reload(actors, shots, live_system):
    technician = actors.open("technician", "phone")
    problems = []
    technician.on("console", lambda message: message.type == "error" and problems.append(message.text))
    technician.reload()
    expect(technician.get_by_role("heading", level=1)).to_have_text("My queue")
    row = technician.get_by_role("row").filter(
        has=technician.get_by_role("link", name=live_system.seeded.tickets["assigned"], exact=True)
    )
    countdown = row.locator(".countdown")
    # Long past its deadline: late, with the badge and an icon saying so, not colour alone.
    expect(countdown).to_have_text(re.compile(r"^✖ late by \d+ d \d+:\d\d:\d\d$"))
    expect(countdown).to_have_class(re.compile(r"\bcountdown-breached\b"))
    expect(row.locator(".sla-badge")).to_have_text("Breached")
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=2500)
    assert not problems, problems
    assert_fits(technician)
    shots.take(technician, "queue-counting")
