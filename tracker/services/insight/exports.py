"""Tables to CSV and Excel (xlsx), streamed so large ones need little memory: the one export writer.

Every export takes the same (headers, rows) a page shows, so the files
carry the same figures as the screen. Every CSV and xlsx file of the app is
written here, and every text cell passes through ``neutralise`` on its way
(tests/integration/test_export_safety.py fails for an export route that
does not): text a requester, a technician or an administrator typed never
becomes a live formula in the reader's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font

from tracker.domain.i18n import N_

# Excel opens UTF-8 CSV correctly (Chinese names) only with a byte-order mark.
BOM = "\ufeff"

# A cell starting with one of these is read as a formula (or a DDE call) by
# Excel, LibreOffice, WPS or Google Sheets: OWASP's "CSV Injection" list
# (= + - @ tab, carriage return, line feed, and the full-width forms a
# Chinese or Japanese Excel also takes), with ASVS 5.0's NUL.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(text: str) -> str:
    """Return ``text`` so that a spreadsheet shows it as text: a ' before a leading formula character.

    The same rule for CSV and xlsx, headers and cells alike; numbers are
    never passed here, so a negative count stays a number.
    """
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _cell(value):
    if isinstance(value, str):
        return neutralise(value)
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
    writer.writerow([_cell(h) for h in headers])
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()


Sheets = Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]


def xlsx_bytes(sheets: Sheets) -> bytes:
    """Return an xlsx file with one sheet per (title, headers, rows).

    Written in openpyxl's write-only mode: rows are not kept in memory.
    """
    out = io.BytesIO()
    _write_workbook(sheets, out)
    return out.getvalue()


def _write_workbook(sheets: Sheets, target) -> None:
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title=_sheet_title(title))
        header_cells = []
        for header in headers:
            cell = _text_cell(sheet, header)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_xlsx_value(sheet, v) for v in row])
    workbook.save(target)


def _text_cell(sheet, text: str) -> Cell:
    """Return a cell that holds ``text`` as a string, whatever it starts with.

    openpyxl makes a string starting with "=" a formula and "#N/A" an error
    value: the type is set to string explicitly. The control characters the
    xlsx format forbids are dropped (openpyxl would refuse the whole file).
    """
    cell = WriteOnlyCell(sheet, value=neutralise(ILLEGAL_CHARACTERS_RE.sub("", text)))
    cell.data_type = "s"
    return cell


def _xlsx_value(sheet, value):
    if isinstance(value, str):
        return _text_cell(sheet, value)
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


# ---------------------------------------------------------------- streamed files of any kind

XLSX_CHUNK = 64 * 1024


def xlsx_chunks(sheets: Sheets) -> Iterator[bytes]:
    """Yield an xlsx file in chunks: rows go to a temporary file as they come, never all in memory.

    openpyxl's write-only mode spools each sheet's rows to disk; the zip is
    then written to a temporary file and read back in chunks.
    """
    import tempfile

    with tempfile.TemporaryFile() as spool:
        _write_workbook(sheets, spool)
        spool.seek(0)
        while chunk := spool.read(XLSX_CHUNK):
            yield chunk


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_array_lines(items: Iterable[dict]) -> Iterator[str]:
    """Yield a JSON array, one object per line, as the objects come (a streamed response)."""
    import json

    first = True
    yield "["
    for item in items:
        text = json.dumps({k: _json_value(v) for k, v in item.items()}, ensure_ascii=False, default=str)
        yield ("\n" if first else ",\n") + text
        first = False
    yield "\n]\n"


def ndjson_lines(items: Iterable[dict]) -> Iterator[str]:
    """Yield newline-delimited JSON: one object per line."""
    import json

    for item in items:
        yield json.dumps({k: _json_value(v) for k, v in item.items()}, ensure_ascii=False, default=str) + "\n"


# ---------------------------------------------------------------- tickets and their events

# (key, header msgid): the keys name the JSON fields, the headers the CSV and
# xlsx columns. Datetimes are aware UTC in JSON and CSV (with their offset),
# campus wall time in xlsx (Excel has no time zones).
TICKET_COLUMNS = (
    ("reference", N_("Reference")),
    ("title", N_("Request")),
    ("centre", N_("Centre")),
    ("category", N_("Category")),
    ("priority", N_("Priority")),
    ("status", N_("Status")),
    ("requester", N_("Requester")),
    ("assignee", N_("Technician")),
    ("location_note", N_("Place")),
    ("source", N_("Channel")),
    ("source_key", N_("Source row id")),
    ("created_at", N_("Filed")),
    ("accepted_at", N_("Accepted")),
    ("resolved_at", N_("Resolved")),
    ("closed_at", N_("Closed")),
    ("cancelled_at", N_("Cancelled")),
    ("next_due_at", N_("Next deadline")),
    ("is_sla_breached", N_("Deadline passed")),
)
EVENT_COLUMNS = (
    ("ticket", N_("Reference")),
    ("id", N_("Event")),
    ("kind", N_("What happened")),
    ("created_at", N_("When")),
    ("actor", N_("Who")),
    ("from_status", N_("From status")),
    ("to_status", N_("To status")),
    ("body", N_("Text")),
    ("data", N_("Details")),
)
YIELD_PER = 1000


def ticket_records(query) -> Iterator[dict]:
    """Yield the tickets a select of Ticket (any filter) finds, as plain dicts, a thousand rows at a time.

    Reads columns, not ORM objects: the centre, category and user names come
    from small lookups, so memory stays flat whatever the row count.
    """
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Category, Centre, Ticket, User

    ids = query.with_only_columns(Ticket.id).order_by(None).scalar_subquery()
    columns = select(
        Ticket.id, Ticket.reference, Ticket.title, Ticket.centre_id, Ticket.category_id, Ticket.priority,
        Ticket.status, Ticket.requester_id, Ticket.assignee_id, Ticket.location_note, Ticket.source,
        Ticket.source_key, Ticket.created_at, Ticket.accepted_at, Ticket.resolved_at, Ticket.closed_at,
        Ticket.cancelled_at, Ticket.next_due_at, Ticket.is_sla_breached,
    ).where(Ticket.id.in_(ids)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    centres = dict(db.session.execute(select(Centre.id, Centre.code)).all())
    categories = dict(db.session.execute(select(Category.id, Category.code)).all())
    users: dict[int, str] = {}

    def user(user_id):
        if user_id is None:
            return None
        if user_id not in users:
            users[user_id] = db.session.execute(select(User.username).where(User.id == user_id)).scalar()
        return users[user_id]

    for row in db.session.execute(columns.execution_options(yield_per=YIELD_PER)):
        yield {
            "reference": row.reference,
            "title": row.title,
            "centre": centres.get(row.centre_id),
            "category": categories.get(row.category_id),
            "priority": _value(row.priority),
            "status": _value(row.status),
            "requester": user(row.requester_id),
            "assignee": user(row.assignee_id),
            "location_note": row.location_note,
            "source": _value(row.source),
            "source_key": row.source_key,
            "created_at": row.created_at,
            "accepted_at": row.accepted_at,
            "resolved_at": row.resolved_at,
            "closed_at": row.closed_at,
            "cancelled_at": row.cancelled_at,
            "next_due_at": row.next_due_at,
            "is_sla_breached": bool(row.is_sla_breached),
        }


def event_records(query) -> Iterator[dict]:
    """Yield the history of the tickets a select of Ticket finds: every event, by ticket then time."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Ticket, TicketEvent, User

    ids = query.with_only_columns(Ticket.id).order_by(None).scalar_subquery()
    columns = (
        select(TicketEvent.id, Ticket.reference, TicketEvent.kind, TicketEvent.created_at, User.username,
               TicketEvent.from_status, TicketEvent.to_status, TicketEvent.body, TicketEvent.data)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .outerjoin(User, User.id == TicketEvent.actor_id)
        .where(TicketEvent.ticket_id.in_(ids))
        .order_by(TicketEvent.ticket_id, TicketEvent.id)
    )
    for row in db.session.execute(columns.execution_options(yield_per=YIELD_PER)):
        yield {
            "ticket": row.reference,
            "id": row.id,
            "kind": _value(row.kind),
            "created_at": row.created_at,
            "actor": row.username,
            "from_status": _value(row.from_status),
            "to_status": _value(row.to_status),
            "body": row.body,
            "data": row.data or {},
        }


def _value(value):
    return getattr(value, "value", value)


def table_rows(records: Iterable[dict], columns, labels: dict | None = None) -> Iterator[list]:
    """Yield records as lists in ``columns``' order; ``labels`` maps a key to a function of its value."""
    import json

    keys = [key for key, _header in columns]
    labels = labels or {}
    for record in records:
        row = []
        for key in keys:
            value = record[key]
            if key in labels:
                value = labels[key](value)
            elif isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False, default=str) if value else ""
            row.append(value)
        yield row
