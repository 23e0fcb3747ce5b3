"""The dashboards on a hand-built week with known figures: pages, lists behind figures, files.

The week of Monday 2026-03-02 in Shanghai (UTC+8), read on Friday 2026-03-20
at noon (the pages' clock is set to that instant). Times are local. It is
test_reports.py's week with one more request (h, on hold with another
technician), so the figures there still hold for the others.
"""

import csv
import io
import re
from datetime import date, datetime
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.conftest import post_form
from tests.factories import make_ticket, make_user
from tracker.domain.roles import Role
from tracker.domain.workflow import Action, HoldReason
from tracker.services.insight import reports, stats
from tracker.services.requests import closure
from tracker.services.requests import tickets as svc
from tracker.services.sla import sweep as sla_sweep

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=SH)
WEEK = "from=2026-03-02&to=2026-03-08"


def at(text: str) -> datetime:
    return datetime.strptime(text, "%m-%d %H:%M").replace(year=2026, tzinfo=SH)


@pytest.fixture
def week(db, world, monkeypatch):
    """Eight requests whose figures are worked out by hand in the tests below."""
    u = world.users
    tech = u["technician"]

    def act(ticket, action, when, **details):
        return svc.transition(ticket.id, action, actor=details.pop("actor", tech), now=at(when), **details)

    tickets = {}
    # A: taken in 10 min, fixed by 11:00, confirmed next day: all on time.
    a = tickets["a"] = make_ticket(world, now=at("03-02 09:00"))
    act(a, Action.TAKE, "03-02 09:10")
    act(a, Action.ARRIVE, "03-02 09:40")
    act(a, Action.RESOLVE, "03-02 11:00", resolution_note="Washer")
    act(a, Action.CONFIRM, "03-03 10:00", actor=u["requester"])
    # B: taken an hour late (response breached at 10:30), held for parts, resolved Tuesday.
    b = tickets["b"] = make_ticket(world, now=at("03-02 10:00"))
    act(b, Action.TAKE, "03-02 11:00")
    act(b, Action.ARRIVE, "03-02 11:20")
    act(b, Action.HOLD, "03-02 11:30", hold_reason=HoldReason.WAITING_PARTS)
    act(b, Action.RESUME, "03-03 09:00")
    act(b, Action.RESOLVE, "03-03 10:00", resolution_note="New valve")
    # C: resolved, then reopened: back in the backlog, and its resolution ran late on Wednesday.
    c = tickets["c"] = make_ticket(world, now=at("03-03 09:00"))
    act(c, Action.TAKE, "03-03 09:05")
    act(c, Action.RESOLVE, "03-03 10:00", resolution_note="Tightened")
    act(c, Action.REOPEN, "03-03 12:00", actor=u["requester"], reason="Still drips")
    # G: cancelled by the requester straight away.
    g = tickets["g"] = make_ticket(world, now=at("03-04 14:00"))
    act(g, Action.CANCEL, "03-04 14:05", actor=u["requester"], reason="Fixed it myself")
    # H: taken by the other technician, on site, on hold for parts ever since.
    h = tickets["h"] = make_ticket(world, now=at("03-05 09:00"))
    act(h, Action.TAKE, "03-05 09:10", actor=u["other_technician"])
    act(h, Action.ARRIVE, "03-05 09:20", actor=u["other_technician"])
    act(h, Action.HOLD, "03-05 09:30", actor=u["other_technician"], hold_reason=HoldReason.WAITING_PARTS)
    # D: filed at 23:30 on Sunday, local: this week. E: 00:30 on Monday 9th: next week.
    tickets["d"] = make_ticket(world, now=at("03-08 23:30"))
    tickets["e"] = make_ticket(world, now=at("03-09 00:30"))
    # F: the dorm (standard policy, office hours), normal priority; never touched.
    tickets["f"] = make_ticket(world, category="keys", now=at("03-06 16:00"))
    # B stays resolved and unconfirmed: no automatic closure in this sweep (test_feedback.py has it).
    with mock.patch.object(closure, "PER_SWEEP", 0):
        sla_sweep.sweep_due(NOW)
    stats.refresh_all()
    for module in ("dashboards", "queue"):
        monkeypatch.setattr(f"tracker.web.{module}.utcnow", lambda: NOW)
    return tickets


# ---------------------------------------------------------------- reading pages


class Tables(HTMLParser):
    """Collect every table with an id: rows of (text, href) cells, and the first link of each cell."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[dict]]] = {}
        self._table = None
        self._row = None
        self._cell = None
        self._small = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif self._table is not None and tag == "tr":
            self._row = []
            self._table.append(self._row)
        elif self._row is not None and tag in ("td", "th"):
            self._cell = {"text": "", "href": None, "note": "", "note_href": None}
            self._row.append(self._cell)
        elif self._cell is not None and tag == "small":
            self._small += 1
        elif self._cell is not None and tag == "a":
            key = "note_href" if self._small else "href"
            self._cell[key] = self._cell[key] or attrs.get("href")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "small" and self._small:
            self._small -= 1

    def handle_data(self, data):
        if self._cell is not None:
            key = "note" if self._small else "text"
            self._cell[key] = (self._cell[key] + " " + data.strip()).strip()


def tables_of(html: str) -> dict[str, list[list[dict]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def by_row(table: list[list[dict]]) -> dict[str, dict[str, dict]]:
    """Return {row label: {column header: cell}} of a parsed table."""
    headers = [c["text"] for c in table[0]]
    return {row[0]["text"]: dict(zip(headers, row, strict=True)) for row in table[1:]}


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:300])
    return response.get_data(as_text=True)


def switch(client, login_as, who) -> None:
    """Log the client out and in as ``who``."""
    post_form(client, "/logout")
    login_as(who)


def list_count(client, href: str) -> int:
    html = page(client, href)
    match = re.search(r'id="drill-count">(\d+) requests?<', html)
    assert match, href
    return int(match.group(1))


def test_the_dashboard_shows_the_known_figures_of_the_week(client, week, world, login_as):
    login_as("leadership")
    html = page(client, f"/dashboard/details?{WEEK}")
    centres = by_row(tables_of(html)["figures-centres"])
    repairs, dorm, total = centres["Repair and maintenance"], centres["Dormitory management"], centres["Total"]
    assert (repairs["Received"]["text"], dorm["Received"]["text"], total["Received"]["text"]) == ("6", "1", "7")
    assert total["Resolved"]["text"] == "2"  # a and b; c was reopened
    # Response: a, c, h in time; b an hour late. d and f fall due next week.
    assert repairs["Response met %"]["text"] == "75.0 %"
    assert repairs["Response met %"]["note"] == "breached: 1"
    # Resolution: a and b in time; c, reopened, ran out on Wednesday 11:00.
    assert repairs["Resolution met %"]["text"] == "66.7 %"
    assert dorm["Response met %"]["text"] == "—"
    # Now (the 20th): c, d, e, h open in repairs, f in the dorm; every one late.
    assert (repairs["Open backlog"]["text"], dorm["Open backlog"]["text"]) == ("4", "1")
    assert total["Breached now"]["text"] == "5"
    assert total["At risk now"]["text"] == "0"
    assert total["Satisfaction (1–5)"]["text"] == "—"
    ageing = by_row(tables_of(html)["figures-ageing-centres"])
    assert ageing["Total"]["7–30 d"]["text"] == "5"
    assert ageing["Total"]["0–1 d"]["text"] == "0"
    # Charts are drawn on the server, with their numbers on the bars.
    assert html.count('<svg class="chart"') == 3  # met % per centre, weekly and monthly trend
    assert 'class="value"' in html
    assert "style=" not in html and "<script>" not in html


def _linked_counts(tables: dict, names: list[str]):
    """Yield (where, figure text, href) for every whole-number figure linked in these tables."""
    for name in names:
        rows = tables[name]
        headers = [c["text"] for c in rows[0]]
        for row in rows[1:]:
            for header, cell in zip(headers[1:], row[1:], strict=True):
                if cell["href"] and cell["text"].isdigit():
                    yield f"{name}/{row[0]['text']}/{header}", int(cell["text"]), cell["href"]
                if cell["note_href"]:
                    yield f"{name}/{row[0]['text']}/{header} note", int(cell["note"].split()[-1]), cell["note_href"]


def test_every_figure_leads_to_a_list_of_exactly_that_many_requests(client, week, world, login_as):
    login_as("leadership")
    html = page(client, f"/dashboard/details?{WEEK}&centre={world.centres['repairs'].id}")
    tables = tables_of(html)
    seen = 0
    names = ["figures-centres", "figures-categories", "figures-ageing-categories", "figures-trend-week",
             "figures-trend-month"]
    for where, figure, href in _linked_counts(tables, names):
        assert list_count(client, href) == figure, where
        seen += 1
    assert seen > 50
    # A met % leads to the targets measured: met and breached, as the files count them.
    repairs = by_row(tables["figures-centres"])["Repair and maintenance"]
    assert list_count(client, repairs["Response met %"]["href"]) == 4
    assert list_count(client, repairs["Resolution met %"]["href"]) == 3
    # The overview's tiles are the totals row, linked the same way.
    overview = page(client, f"/dashboard?{WEEK}&centre={world.centres['repairs'].id}")
    tile = re.search(r'<a class="ov-main" href="([^"]+)"><span class="ov-label">Received</span>\s*'
                     r'<span class="ov-figure">(\d+)</span>', overview)
    assert tile and list_count(client, tile.group(1).replace("&amp;", "&")) == int(tile.group(2)) == 6


def test_a_list_behind_a_figure_is_paged_and_exported(client, week, world, login_as):
    login_as("leadership")
    html = page(client, f"/dashboard/tickets?figure=received&{WEEK}")
    assert re.search(r'id="drill-count">7 requests<', html)
    assert "Received" in html and "Mar 2 – Mar 8, 2026" in html
    for reference in (week[k].reference for k in "abcdfgh"):
        assert reference in html
    assert week["e"].reference not in html
    response = client.get(f"/dashboard/tickets.csv?figure=received&{WEEK}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="received_campus_2026-03-02_2026-03-08.csv"'
    )
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][:3] == ["Reference", "Request", "Centre"]
    assert sorted(line[0] for line in lines[1:]) == sorted(week[k].reference for k in "abcdfgh")
    response = client.get(f"/dashboard/tickets.xlsx?figure=backlog&age=7-30&{WEEK}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert sheet.max_row == 1 + 5


def test_the_files_carry_the_same_figures_as_the_page(client, week, world, login_as):
    login_as("leadership")
    html = page(client, f"/dashboard/details?{WEEK}")
    shown = by_row(tables_of(html)["figures-centres"])
    response = client.get(f"/dashboard/export/centres.csv?{WEEK}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="centres_campus_2026-03-02_2026-03-08.csv"'
    )
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    xlsx = client.get(f"/dashboard/export/centres.xlsx?{WEEK}")
    assert xlsx.headers["Content-Disposition"].startswith('attachment; filename="centres_campus_2026-03-02')
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    xlsx_rows = [dict(zip(values[0], row, strict=True)) for row in values[1:]]
    assert [r["Centre"] for r in rows] == [r["Centre"] for r in xlsx_rows] == [
        "Repair and maintenance", "Dormitory management", "All centres"
    ]
    labels = {"Repair and maintenance": "Repair and maintenance", "Dormitory management": "Dormitory management",
              "All centres": "Total"}
    for csv_row, xlsx_row in zip(rows, xlsx_rows, strict=True):
        on_page = shown[labels[csv_row["Centre"]]]
        for header, cell in on_page.items():
            if header == "Centre":
                continue
            text = cell["text"]
            want = "" if text == "—" else text.removesuffix(" %")
            assert csv_row[header] == want, (csv_row["Centre"], header)
            # A spreadsheet keeps numbers: 75.0 reads back as 75.
            assert (None if want == "" else float(want)) == xlsx_row[header], (csv_row["Centre"], header)
        # What the page shows as a note is a column of its own in the files.
        assert csv_row["Response breached"] == on_page["Response met %"]["note"].split()[-1] if on_page[
            "Response met %"]["note"] else csv_row["Response breached"] == "0"
    repairs = rows[0]
    assert (repairs["Response met"], repairs["Response breached"], repairs["Response met %"]) == ("3", "1", "75.0")


@pytest.mark.parametrize("table", ["ageing-centres", "trend-week", "trend-month"])
def test_every_dashboard_table_downloads_in_both_formats(client, week, world, login_as, table):
    login_as("leadership")
    tables = tables_of(page(client, f"/dashboard/details?{WEEK}"))
    shown = tables[f"figures-{table}"]
    csv_rows = list(csv.reader(io.StringIO(
        client.get(f"/dashboard/export/{table}.csv?{WEEK}").get_data(as_text=True).lstrip("\ufeff"))))
    sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/export/{table}.xlsx?{WEEK}").data)).worksheets[0]
    assert len(csv_rows) == sheet.max_row == len(shown)
    received = [row[1]["text"] for row in shown[1:]]
    if table.startswith("trend"):
        # From, To, Received...: the same received per week or month as on the page.
        assert [row[2] for row in csv_rows[1:]] == received
        assert [str(row[2]) for row in list(sheet.iter_rows(values_only=True))[1:]] == received
        assert csv_rows[1][0] == "2026-03-02"


def test_filters_narrow_the_figures(client, week, world, login_as):
    login_as("leadership")
    dorm = world.centres["dorm"].id
    html = page(client, f"/dashboard/details?{WEEK}&centre={dorm}")
    tables = tables_of(html)
    assert list(by_row(tables["figures-centres"])) == ["Dormitory management", "Total"]
    assert by_row(tables["figures-categories"])["Keys and locks"]["Received"]["text"] == "1"
    repairs = world.centres["repairs"].id
    water = world.categories["water"].id
    tables = tables_of(page(client, f"/dashboard/details?{WEEK}&centre={repairs}&category={water}"))
    assert by_row(tables["figures-categories"])["Total"]["Received"]["text"] == "6"
    assert list(by_row(tables["figures-categories"])) == ["Water and plumbing", "Total"]
    # Water is high priority: nothing of it is normal; the dorm's f is.
    tables = tables_of(page(client, f"/dashboard/details?{WEEK}&priority=normal"))
    assert by_row(tables["figures-centres"])["Total"]["Received"]["text"] == "1"
    # Next week: e only; and a link keeps every filter.
    tables = tables_of(page(client, "/dashboard/details?from=2026-03-09&to=2026-03-15&priority=high"))
    cell = by_row(tables["figures-centres"])["Total"]["Received"]
    assert cell["text"] == "1"
    query = parse_qs(urlsplit(cell["href"]).query)
    assert query == {"from": ["2026-03-09"], "to": ["2026-03-15"], "priority": ["high"], "figure": ["received"]}


def test_a_category_of_another_centre_is_left_out_with_a_message(client, week, world, login_as):
    login_as("leadership")
    html = page(client, f"/dashboard/details?{WEEK}&centre={world.centres['dorm'].id}"
                        f"&category={world.categories['water'].id}")
    assert "The category was left out" in html
    assert by_row(tables_of(html)["figures-categories"])["Total"]["Received"]["text"] == "1"


@pytest.mark.parametrize("query, message", [
    ("from=2026-03-09&to=2026-03-02", "The last day is before the first day."),
    ("from=2026-13-01&to=2026-03-02", "Write the dates as YYYY-MM-DD."),
    ("from=2026-03-01", "Give both the first and the last day of the period."),
    ("from=2020-01-01&to=2026-03-02", "Choose a period of at most three years."),
    ("period=forever", "Unknown period."),
])
def test_a_bad_period_shows_a_message_and_the_default(client, week, login_as, query, message):
    login_as("leadership")
    html = page(client, f"/dashboard?{query}")
    assert message in html and "Showing the last 30 days instead." in html
    assert 'aria-current="true">Last 30 days<' in html
    # Lists and files refuse it instead, with the same message.
    response = client.get(f"/dashboard/tickets?figure=received&{query}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_presets_cover_the_expected_days():
    today = date(2026, 3, 20)  # a Friday
    assert reports.preset_period("this_week", today) == (date(2026, 3, 16), today)
    assert reports.preset_period("last_week", today) == (date(2026, 3, 9), date(2026, 3, 15))
    assert reports.preset_period("last_30_days", today) == (date(2026, 2, 19), today)
    assert reports.preset_period("this_month", today) == (date(2026, 3, 1), today)
    assert reports.preset_period("last_month", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert reports.preset_period("this_year", today) == (date(2026, 1, 1), today)
    assert reports.preset_period("last_month", date(2026, 1, 5)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_the_default_period_is_the_last_30_days(client, week, login_as):
    login_as("leadership")
    html = page(client, "/dashboard/details")
    assert 'aria-current="true">Last 30 days<' in html
    assert 'value="2026-02-19"' in html and 'value="2026-03-20"' in html
    totals = by_row(tables_of(html)["figures-centres"])["Total"]
    assert totals["Received"]["text"] == "8"  # every request: filed 2 to 9 March


@pytest.mark.parametrize("figure, extra", [
    ("popularity", ""),
    ("", ""),
    ("met", ""),
    ("met", "&target=speed"),
    ("backlog", "&age=ancient"),
    ("received", "&priority=whenever"),
])
def test_an_unknown_figure_or_filter_is_refused_with_a_message(client, week, login_as, figure, extra):
    login_as("leadership")
    response = client.get(f"/dashboard/tickets?figure={figure}&{WEEK}{extra}")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert re.search(r"Unknown|Say which target", text)


@pytest.mark.parametrize("url", [
    "/dashboard/tickets?figure=received&centre=999",
    "/dashboard/tickets?figure=received&centre=abc",
    "/dashboard/export/popularity.csv",
    "/dashboard/export/centres.pdf",
    "/dashboard/tickets.pdf?figure=received",
])
def test_unknown_centres_tables_and_formats_are_not_found(client, week, login_as, url):
    login_as("leadership")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["requester", "technician"])
def test_requesters_and_technicians_may_not_open_the_dashboards(client, week, login_as, role):
    login_as(role)
    for url in ("/dashboard", "/dashboard/centre", f"/dashboard/tickets?figure=received&{WEEK}",
                "/dashboard/export/centres.csv"):
        assert client.get(url).status_code == 403, url


def test_a_centre_head_sees_only_their_centre(client, week, world, login_as):
    login_as("centre_head")
    dorm = world.centres["dorm"].id
    html = page(client, f"/dashboard/centre?{WEEK}")
    assert "Centre dashboard: Repair and maintenance" in html
    tables = tables_of(html)
    assert by_row(tables["figures-categories"])["Total"]["Received"]["text"] == "6"
    assert "Dormitory management" not in html
    for url in (f"/dashboard/centre?centre={dorm}", f"/dashboard/tickets?figure=received&centre={dorm}",
                f"/dashboard/export/categories.csv?centre={dorm}", f"/dashboard/tickets.csv?figure=received&centre={dorm}"):
        assert client.get(url).status_code == 404, url
    # Their lists are of their centre, even when the link does not say so.
    assert list_count(client, f"/dashboard/tickets?figure=received&{WEEK}") == 6
    # And every figure on their page leads to as many requests.
    for where, figure, href in _linked_counts(tables, ["figures-categories", "figures-technicians",
                                                        "figures-ageing-categories"]):
        assert list_count(client, href) == figure, where
    assert client.get("/dashboard").status_code == 403


def test_the_centre_dashboard_shows_each_technicians_load_and_timeliness(client, week, world, login_as):
    login_as("dispatcher")
    html = page(client, f"/dashboard/centre?{WEEK}")
    technicians = by_row(tables_of(html)["figures-technicians"])
    mine, other = technicians["Technician"], technicians["Other-Technician"]
    # The technician: c open again (and late); resolved a and b in the week, both in time.
    assert [mine[h]["text"] for h in ("Open", "On hold", "Breached now", "Resolved", "On-time rate")] == [
        "1", "0", "1", "2", "100.0 %"]
    # The other one holds h, waiting for parts past the hold's cap: late now.
    assert [other[h]["text"] for h in ("Open", "On hold", "Breached now", "Resolved", "On-time rate")] == [
        "1", "1", "1", "0", "—"]
    assert list_count(client, mine["On-time rate"]["href"]) == 2
    assert list_count(client, other["On hold"]["href"]) == 1
    # The queue waiting for a technician: d, e new and c reopened, with a way to Dispatch.
    assert re.search(r'<a class="badge" href="[^"]+">3</a>', html)
    assert 'href="/queue/dispatch"' in html
    assert "data-due=" in html and "js/countdown.js" in html
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/dashboard/export/technicians.csv?{WEEK}").get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["Technician"], r["Resolved on time"], r["Resolved late"], r["On-time rate"]) for r in rows] == [
        ("Other-Technician", "0", "0", ""), ("Technician", "2", "0", "100.0"), ("All technicians", "2", "0", "100.0")]


def test_a_head_of_two_centres_picks_one(client, week, world, login_as):
    both = make_user("head-of-both", [(Role.CENTRE_HEAD, world.centres["repairs"].id),
                                      (Role.CENTRE_HEAD, world.centres["dorm"].id)])
    login_as(both)
    html = page(client, "/dashboard/centre")
    assert "Choose a centre." in html
    assert f"/dashboard/centre?centre={world.centres['dorm'].id}" in html
    html = page(client, f"/dashboard/centre?centre={world.centres['dorm'].id}&{WEEK}")
    assert "Centre dashboard: Dormitory management" in html
    assert 'name="centre"' in html  # a select to switch to the other one
    # A list needs the centre said: which of the two is not guessed.
    response = client.get(f"/dashboard/tickets?figure=received&{WEEK}")
    assert response.status_code == 400 and "Choose a centre." in response.get_data(as_text=True)


def test_leadership_opens_any_centres_dashboard(client, week, world, login_as):
    login_as("leadership")
    assert "Choose a centre." in page(client, "/dashboard/centre")
    html = page(client, f"/dashboard/centre?centre={world.centres['dorm'].id}&{WEEK}")
    assert "Centre dashboard: Dormitory management" in html
    assert 'href="/queue/dispatch"' not in html  # not theirs to dispatch
    assert ">All centres</option>" not in html  # a centre's dashboard is of one centre
    assert "Choose a centre." in page(client, "/dashboard/centre?centre=")


def test_the_queue_sends_due_instants_for_live_countdowns(client, week, world, login_as):
    login_as("technician")
    html = page(client, "/queue/")
    assert 'data-countdown data-now="2026-03-20T12:00:00.000+08:00"' in html
    assert 'data-due-in="due in {time}"' in html and 'data-late-by="late by {time}"' in html
    dues = re.findall(r'data-state="(\w+)" data-due="([^"]+)"', html)
    # c assigned to me; c (reopened), d and e waiting in the centre.
    assert len(dues) == 4
    assert {state for state, _due in dues} == {"breached"}
    # The address carries the file's hash (tracker/web/assets.py).
    assert re.search(r'<script src="/static/js/countdown\.js\?v=[0-9a-f]{12}" defer></script>', html)
    # Without script the due time still shows.
    assert re.search(r'<small class="due"><time datetime="[^"]+">', html)
    switch(client, login_as, "dispatcher")
    html = page(client, "/queue/dispatch")
    assert "data-countdown" in html and html.count("data-due=") == 3


def test_a_running_clock_carries_its_at_risk_instant(client, db, world, login_as, monkeypatch):
    filed = at("03-02 09:00")
    ticket = make_ticket(world, now=filed)
    monkeypatch.setattr("tracker.web.queue.utcnow", lambda: at("03-02 09:05"))
    login_as("technician")
    html = page(client, "/queue/")
    # Response in 30 minutes, at risk at 75 %: 09:22:30.
    assert re.search(r'data-state="running" data-due="2026-03-02T01:30:00.000\+00:00" '
                     r'data-at-risk="2026-03-02T01:22:30.000\+00:00"', html), ticket.reference


def test_breached_now_leaves_out_a_target_met_late(db, world):
    ticket = make_ticket(world, now=at("03-02 09:00"))
    svc.transition(ticket.id, Action.TAKE, actor=world.users["technician"], now=at("03-02 10:00"))
    sla_sweep.sweep_due(at("03-02 10:05"))
    stats.refresh_all()
    filters = reports.Filters(first=date(2026, 3, 2), last=date(2026, 3, 2))
    _rows, total = reports.figures_by(filters, "centre", at("03-02 10:05"))
    assert total.breached["response"] == 1  # it counts on its day
    assert total.breached_now == 0  # but nothing is late now: resolution runs till 16:00
    assert reports.count(reports.drilldown("breached_now", filters, at("03-02 10:05"))) == 0


def test_now_figures_do_not_wait_for_the_sweep(db, world):
    make_ticket(world, now=at("03-02 09:00"))  # response due 09:30, at risk from 09:22:30
    day = reports.Filters(first=date(2026, 3, 2), last=date(2026, 3, 2))
    for when, breached, at_risk in (("09:20", 0, 0), ("09:25", 0, 1), ("09:31", 1, 0)):
        _rows, total = reports.figures_by(day, "centre", at(f"03-02 {when}"))
        assert (total.breached_now, total.at_risk_now) == (breached, at_risk), when
        for figure, want in (("breached_now", breached), ("at_risk_now", at_risk)):
            assert reports.count(reports.drilldown(figure, day, at(f"03-02 {when}"))) == want, (when, figure)


def test_breached_now_counts_swept_and_unswept_breaches_of_open_requests_only(db, world):
    swept = make_ticket(world, now=at("03-02 09:00"))  # response due 09:30
    unswept = make_ticket(world, now=at("03-02 09:10"))  # due 09:40: no sweep after that
    cancelled = make_ticket(world, now=at("03-02 09:00"))
    risky = make_ticket(world, now=at("03-02 09:20"))  # due 09:50, at risk from 09:42:30
    sla_sweep.sweep_due(at("03-02 09:35"))  # records swept's and cancelled's breaches
    svc.transition(cancelled.id, Action.CANCEL, actor=world.users["requester"], now=at("03-02 09:36"),
                   reason="Gone")  # its response target stays breached, with no milestone
    when = at("03-02 09:45")
    day = reports.Filters(first=date(2026, 3, 2), last=date(2026, 3, 2))
    _rows, total = reports.figures_by(day, "centre", when)
    assert (total.breached_now, total.at_risk_now) == (2, 1)
    for figure, want in (("breached_now", {swept.id, unswept.id}), ("at_risk_now", {risky.id})):
        listed = {t.id for t in db.session.execute(reports.drilldown(figure, day, when)).scalars()}
        assert listed == want, figure


def test_the_definitions_are_there_for_staff_and_leadership(client, week, login_as):
    for role in ("technician", "leadership"):
        switch(client, login_as, role)
        html = page(client, "/dashboard/definitions")
        assert "Asia/Shanghai" in html and "stats-rebuild" in html
        assert "The breach counts on the local day of the deadline" in html
    switch(client, login_as, "requester")
    assert client.get("/dashboard/definitions").status_code == 403


def test_nav_shows_the_dashboard_to_whom_it_is_for(client, week, login_as):
    login_as("leadership")
    html = page(client, "/dashboard/definitions")
    assert ">Dashboard</a>" in html and ">Centre dashboard</a>" not in html
    switch(client, login_as, "centre_head")
    html = page(client, "/dashboard/definitions")
    assert ">Centre dashboard</a>" in html and ">Dashboard</a>" not in html
