"""CSV and xlsx writing: Chinese text, dates, many rows."""

import csv
import io
from datetime import UTC, date, datetime

from flask import Flask
from openpyxl import load_workbook

from tracker.services.exports import csv_lines, xlsx_bytes


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
