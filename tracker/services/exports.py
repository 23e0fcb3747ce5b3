"""Tables to CSV and Excel (xlsx), streamed so large ones need little memory.

Every export takes the same (headers, rows) a page shows, so the files
carry the same figures as the screen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

# Excel opens UTF-8 CSV correctly (Chinese names) only with a byte-order mark.
BOM = "\ufeff"


def _cell(value):
    if isinstance(value, datetime):
        # With its UTC offset: unambiguous in any spreadsheet or script.
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return "" if value is None else value


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """Yield the CSV text of a table line by line (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]) -> bytes:
    """Return an xlsx file with one sheet per (title, headers, rows).

    Written in openpyxl's write-only mode: rows are not kept in memory.
    """
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title=_sheet_title(title))
        header_cells = []
        for header in headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_xlsx_value(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no time zones: write the campus-local wall time.
        from zoneinfo import ZoneInfo

        from flask import current_app

        return value.astimezone(ZoneInfo(current_app.config["TRACKER_TIMEZONE"])).replace(tzinfo=None)
    return value


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in title)
    return cleaned[:31] or "Sheet"
