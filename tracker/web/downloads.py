"""A table as a file to download: the one response every page's CSV/xlsx export returns.

The cells go through the one export writer (tracker/services/insight/exports.py),
which neutralises formulas.
"""

import re

from flask import Response, stream_with_context

from tracker.services.insight.exports import csv_lines, xlsx_bytes

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_file(filename: str, title: str, headers: list[str], rows) -> Response:
    """Return a table as a download: CSV streamed, xlsx built in openpyxl's write-only mode.

    The format follows the file name's suffix (``.csv``, else xlsx).
    """
    # Header values are Latin-1: a centre or category code an administrator
    # typed in Chinese must not break the download.
    filename = re.sub(r"[^A-Za-z0-9_.-]", "-", filename)
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if filename.endswith(".csv"):
        return Response(stream_with_context(csv_lines(headers, rows)), mimetype="text/csv", headers=disposition)
    return Response(xlsx_bytes([(title, headers, rows)]), mimetype=XLSX_MIMETYPE, headers=disposition)
