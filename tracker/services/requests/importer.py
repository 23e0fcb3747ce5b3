"""Importing historical tickets from CSV (also .csv.gz) and xlsx files.

A run reads its files as streams (never a whole file in memory), checks
every row, and either only reports what it would do (a dry run: nothing but
the run's own row and its row errors is written) or writes the tickets in
batches, one transaction each: the tickets, their history (filed; resolved
and closed, or cancelled, at the source's times; actor None, ``imported``
in the event data) and their SLA rows, through ``services.bulk`` (COPY on
PostgreSQL). Imported tickets notify nobody, and mark the dashboards' days
they count on; the run counts those days again at its end.

Decisions (docs/import.md):

- **Idempotent.** A ticket's ``source_key`` is ``<source system>:<row id>``,
  unique. A row whose key was imported before is skipped and counted; it is
  never updated. A row id seen twice in one run is an error on the second row.
- **Runs at once.** Every catalogue row a run creates (centre, category,
  requester account, source-deadline policy and calendar, built-in mapping)
  goes through ``create_once``, so runs racing each other create it once;
  a batch takes its reference counters before it looks for imported keys,
  so the same batch of another run waits, then skips.
- **Times.** Naive times are read in the mapping's (or the run's) time zone
  (``domain.source_time``: a time that never happened moves forward by the
  gap, a time that happened twice is its first occurrence; both are counted).
  A due time before the open time is an error. A close time before the open
  time by at most ``close_before_open_seconds`` (60 by default; Boston has
  197 rows up to 58 s early, data-entry artefacts) is moved to the open time
  and counted as "clamped"; earlier than that is an error.
- **SLA.** With a due-time column, a ticket has one resolution target due at
  the source's own due time (``sla.SOURCE_DEADLINE_POLICY``): met when closed
  at or before it, breached when closed after it or still open past it at
  the run's "as of" instant, running otherwise; no due time, no target.
  Without one, the category's policy in force is measured over the imported
  history with the pure clock (``sla_clock.evaluate``), as ``sla._recompute``
  does. Either way the clocks are read at "as of" and stored frozen (no
  ``next_check_at``): the sweep does not escalate history. A later change to
  an imported ticket recomputes its clocks like any other ticket's.
"""

from __future__ import annotations

import csv
import gzip
import logging
import queue
import re
import secrets
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from tracker.collector import collector_paused
from tracker.domain.i18n import N_
from tracker.domain.sla_clock import Fact, Target, TargetState, evaluate
from tracker.domain.source_time import AMBIGUOUS, ISO, SHIFTED, SourceClock, SourceTimeError
from tracker.domain.workflow import OPEN_STATUSES, Priority, Status
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Calendar,
    Category,
    Centre,
    EventKind,
    ImportMapping,
    ImportRowError,
    ImportRun,
    ReferenceCounter,
    RunStatus,
    SlaPolicy,
    SlaPolicyVersion,
    Source,
    Ticket,
    TicketEvent,
    TicketSla,
    User,
)
from tracker.queueing import publish_after_commit
from tracker.services import bulk
from tracker.services.insight import reports, stats
from tracker.services.notify import outbox
from tracker.services.sla import clocks as sla

log = logging.getLogger(__name__)
T = TypeVar("T")

# (field, label, required). ``centre`` and ``category`` are required unless
# the mapping's rules name a fixed one.
FIELDS = (
    ("source_id", N_("Source row id"), True),
    ("opened_at", N_("Opened at"), True),
    ("closed_at", N_("Closed at"), False),
    ("due_at", N_("Due at (the source's own deadline)"), False),
    ("status", N_("Status"), False),
    ("centre", N_("Service centre"), False),
    ("category", N_("Category"), False),
    ("title", N_("Title"), False),
    ("description", N_("Description"), False),
    ("priority", N_("Priority"), False),
    ("location_note", N_("Place"), False),
    ("resolution_note", N_("Resolution note"), False),
)
FIELD_NAMES = tuple(f[0] for f in FIELDS)
FIELD_LABELS = {f[0]: f[1] for f in FIELDS}

# What a source status means here.
OUTCOMES = ("open", "resolved", "closed", "cancelled")
OUTCOME_LABELS = {
    "open": N_("Open"),
    "resolved": N_("Resolved (waiting for confirmation)"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}
SUFFIXES = (".csv", ".csv.gz", ".xlsx")
# The rows go in batches, each committed with the run's progress. Unless a
# caller fixes the size, batches start at BATCH_SIZE rows and each batch's
# rate sizes the next to take about BATCH_SECONDS (at most doubling, between
# the bounds): the progress bar moves about every second however busy the
# machine is, and on SQLite a batch holds the write lock, which the web's
# writers wait for, about that long at most. Never more than BATCH_SIZE: a
# file's last rows go as one batch, which is not cut to the aim.
BATCH_SIZE = 2500
BATCH_SECONDS = 1.0
SMALLEST_BATCH, LARGEST_BATCH = 250, BATCH_SIZE
# Batches read and checked ahead of the one being written (bounds the memory).
READ_AHEAD = 2
# Row errors stored per run; the count goes on beyond.
ERRORS_KEPT = 10_000
DEFAULT_CLOSE_TOLERANCE = 60
REQUESTER_NAME = "Imported requests"
SOURCE_CALENDAR = "source-24x7"
# A run whose heartbeat is older than this has died (worker killed): it can be run again.
STALLED_AFTER = timedelta(minutes=10)

BOSTON_311 = {
    "code": "boston-311",
    "name": "Boston 311 service requests (City of Boston open data)",
    "description": "CASE_ENQUIRY_ID as the source id; SUBJECT (department) as the centre, created with the "
    "prefix bos-; TYPE as the category; the city's own TARGET_DT as the resolution deadline.",
    "source_system": "boston311",
    "time_zone": "America/New_York",
    "date_formats": ["%m/%d/%Y %I:%M:%S %p"],
    "columns": {
        "source_id": "CASE_ENQUIRY_ID",
        "opened_at": "OPEN_DT",
        "due_at": "TARGET_DT",
        "closed_at": "CLOSED_DT",
        "status": "CASE_STATUS",
        "title": "CASE_TITLE",
        "centre": "SUBJECT",
        "category": "TYPE",
        "resolution_note": "CLOSURE_REASON",
        "location_note": "Location",
    },
    "rules": {
        "centre": {"fixed": None, "values": {}, "create_missing": True, "code_prefix": "bos-"},
        "category": {"fixed": None, "values": {}, "create_missing": True, "code_prefix": "", "policy": None},
        "status": {"Open": "open", "Closed": "closed"},
        "priority": {},
        "close_before_open_seconds": DEFAULT_CLOSE_TOLERANCE,
    },
    "default_priority": "normal",
    "requester_username": "import",
}
BUILTIN_MAPPINGS = (BOSTON_311,)


class ImportFailed(Exception):
    """A run cannot go on (unreadable file, missing column); the message says why, in English."""


# ---------------------------------------------------------------- mappings


def all_mappings() -> list[ImportMapping]:
    return list(db.session.execute(select(ImportMapping).order_by(ImportMapping.name, ImportMapping.id)).scalars())


def get_mapping(mapping_id: int) -> ImportMapping:
    mapping = db.session.get(ImportMapping, mapping_id)
    if mapping is None:
        raise NotFound()
    return mapping


def mapping_by_code(code: str) -> ImportMapping | None:
    return db.session.execute(select(ImportMapping).where(ImportMapping.code == code)).scalar_one_or_none()


def create_once(find: Callable[[], T | None], create: Callable[[], T]) -> tuple[T | None, bool]:
    """Return (the row ``find`` finds, False), else (the row ``create`` adds, True), committed.

    Every catalogue row an import creates goes through here, so imports
    running at the same time create it once. The creation is a transaction
    of its own: call it with nothing else pending (it commits first), and it
    holds the new row's unique key only for a moment. Two callers may both
    miss the row and both insert it: the second insert fails on the unique
    key (PostgreSQL waits for the first one's commit), is rolled back, and
    ``find`` returns the winner's row. ``create`` adds and flushes (or is a
    service that commits) and may raise ValidationFailed for a code it sees
    taken. (None, False) when the clash was on another unique column than
    the one ``find`` reads: the caller chooses again.
    """
    found = find()
    if found is not None:
        return found, False
    db.session.commit()
    try:
        created = create()
        db.session.commit()
    except (IntegrityError, ValidationFailed):
        db.session.rollback()
        return find(), False
    return created, True


def ensure_builtin_mappings(*, now: datetime) -> None:
    """Install the mappings shipped with the application where they are missing; commit."""
    for spec in BUILTIN_MAPPINGS:
        def add(spec=spec):
            mapping = ImportMapping(**_clean(spec), is_builtin=True, created_at=now, updated_at=now)
            db.session.add(mapping)
            db.session.flush()
            return mapping

        create_once(lambda spec=spec: mapping_by_code(spec["code"]), add)
    db.session.commit()


def _slug(value: str, max_len: int) -> str:
    text = unicodedata.normalize("NFKC", value or "").strip().lower()
    text = re.sub(r"[^\w]+", "-", text).strip("-_")
    return text[:max_len].strip("-_")


_SYSTEM_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def _clean(data: dict) -> dict:
    """Return a mapping's fields checked and normalised; ValidationFailed naming the problem."""
    code = _slug(data.get("code") or "", 48)
    if not code:
        raise ValidationFailed(N_("Give the mapping a code: letters, digits and dashes."))
    name = (data.get("name") or "").strip()[:120]
    if not name:
        raise ValidationFailed(N_("Give the mapping a name."))
    system = (data.get("source_system") or "").strip().lower()
    if not _SYSTEM_RE.fullmatch(system):
        raise ValidationFailed(N_("The source system is a short code: letters, digits, dots or dashes."))
    zone = (data.get("time_zone") or "").strip()
    if zone not in available_timezones():
        raise ValidationFailed(N_("Unknown time zone %(zone)s."), zone=zone or "—")
    formats = [f.strip() for f in data.get("date_formats") or [] if f and f.strip()] or [ISO]
    try:
        SourceClock(zone, formats)
    except SourceTimeError:
        raise ValidationFailed(N_("A date format is written like %%m/%%d/%%Y %%H:%%M, or iso.")) from None
    columns = {name: (column or "").strip() for name, column in (data.get("columns") or {}).items()
               if name in FIELD_NAMES and (column or "").strip()}
    for field_name, label, required in FIELDS:
        if required and not columns.get(field_name):
            raise ValidationFailed(N_("Choose the column of the field “%(field)s”."), field=label)
    rules = dict(data.get("rules") or {})
    for part in ("centre", "category"):
        rule = dict(rules.get(part) or {})
        rule["fixed"] = (rule.get("fixed") or "").strip() or None
        rule["values"] = {str(k).strip(): str(v).strip() for k, v in (rule.get("values") or {}).items()
                          if str(k).strip() and str(v).strip()}
        rule["create_missing"] = bool(rule.get("create_missing"))
        rule["code_prefix"] = _slug(rule.get("code_prefix") or "", 12) + ("-" if rule.get("code_prefix") else "")
        rule["code_prefix"] = rule["code_prefix"] if rule["code_prefix"] != "-" else ""
        if part == "category":
            rule["policy"] = (rule.get("policy") or "").strip() or None
            if rule["policy"] and not db.session.execute(
                select(SlaPolicy.id).where(SlaPolicy.code == rule["policy"])
            ).first():
                raise ValidationFailed(N_("Unknown SLA policy %(code)s."), code=rule["policy"])
        if not rule["fixed"] and not columns.get(part):
            label = FIELD_LABELS[part]
            raise ValidationFailed(N_("Choose the column of the field “%(field)s”, or a fixed value."), field=label)
        rules[part] = rule
    status = {}
    for value, outcome in (rules.get("status") or {}).items():
        if outcome not in OUTCOMES:
            raise ValidationFailed(N_("Status “%(value)s”: write open, resolved, closed or cancelled."), value=value)
        status[str(value).strip()] = outcome
    rules["status"] = status
    priorities = {}
    for value, priority in (rules.get("priority") or {}).items():
        if priority not in {p.value for p in Priority}:
            raise ValidationFailed(N_("Priority “%(value)s”: write urgent, high, normal or low."), value=value)
        priorities[str(value).strip()] = priority
    rules["priority"] = priorities
    try:
        tolerance = int(rules.get("close_before_open_seconds", DEFAULT_CLOSE_TOLERANCE))
    except (TypeError, ValueError):
        tolerance = -1
    if not 0 <= tolerance <= 86400:
        raise ValidationFailed(N_("The tolerance for a close before the open time is 0 to 86400 seconds."))
    rules["close_before_open_seconds"] = tolerance
    default_priority = data.get("default_priority") or "normal"
    if default_priority not in {p.value for p in Priority}:
        raise ValidationFailed(N_("Choose the default priority."))
    requester = (data.get("requester_username") or "import").strip().lower()
    if len(requester) > 64 or not all(c.isalnum() or c in "._-" for c in requester):
        raise ValidationFailed(N_("A user name has letters, digits, dots, dashes or underscores."))
    return {
        "code": code,
        "name": name,
        "description": (data.get("description") or "").strip()[:2000],
        "source_system": system,
        "time_zone": zone,
        "date_formats": formats,
        "columns": columns,
        "rules": rules,
        "default_priority": default_priority,
        "requester_username": requester,
    }


def mapping_data(mapping: ImportMapping) -> dict:
    """Return a mapping's fields as a plain dict (the form's and the runs' copy)."""
    return {
        "code": mapping.code,
        "name": mapping.name,
        "description": mapping.description,
        "source_system": mapping.source_system,
        "time_zone": mapping.time_zone,
        "date_formats": list(mapping.date_formats or []),
        "columns": dict(mapping.columns or {}),
        "rules": dict(mapping.rules or {}),
        "default_priority": mapping.default_priority,
        "requester_username": mapping.requester_username,
    }


def save_mapping(mapping_id: int | None, data: dict, *, actor: User | None, now: datetime) -> ImportMapping:
    """Create (``mapping_id`` None) or change a mapping and commit; runs keep their own copy."""
    cleaned = _clean(data)
    taken = db.session.execute(
        select(ImportMapping.id).where(ImportMapping.code == cleaned["code"])
    ).scalar_one_or_none()
    if taken is not None and taken != mapping_id:
        raise ValidationFailed(N_("The code %(code)s is taken."), code=cleaned["code"])
    if mapping_id is None:
        mapping = ImportMapping(created_at=now, is_builtin=False)
        db.session.add(mapping)
    else:
        mapping = get_mapping(mapping_id)
    for name, value in cleaned.items():
        setattr(mapping, name, value)
    mapping.updated_at = now
    mapping.updated_by_id = actor.id if actor is not None else None
    db.session.commit()
    return mapping


def duplicate_mapping(mapping_id: int, *, actor: User | None, now: datetime) -> ImportMapping:
    """Save a copy of a mapping under a free code ("<code>-copy", "-copy-2"...) and commit."""
    data = mapping_data(get_mapping(mapping_id))
    base = f"{data['code'][:40]}-copy"
    code, n = base, 1
    while mapping_by_code(code) is not None:
        n += 1
        code = f"{base}-{n}"
    data.update(code=code, name=f"{data['name'][:110]} (copy)")
    return save_mapping(None, data, actor=actor, now=now)


# ---------------------------------------------------------------- files


def check_file_name(name: str) -> str:
    """Return the suffix of an importable file name; ValidationFailed otherwise."""
    lower = name.lower()
    for suffix in (".csv.gz", ".csv", ".xlsx"):
        if lower.endswith(suffix):
            return suffix
    raise ValidationFailed(N_("%(name)s is not a CSV, CSV.GZ or XLSX file."), name=name)


# Encodings a CSV file may be read in (the form and --encoding offer these).
ENCODINGS = {
    "utf-8": N_("UTF-8 (the usual; also with a byte order mark)"),
    "gb18030": N_("GB18030 / GBK (Chinese office software, e.g. Excel in Chinese)"),
    "big5": N_("Big5 (Traditional Chinese)"),
    "cp1252": N_("Windows-1252 / Latin-1 (Western European)"),
}
ENCODING_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "big5": "Big5", "cp1252": "Windows-1252 (Latin-1)"}
# No field may be longer than this: a longer one refuses its row (a description
# of a ticket is never a megabyte). csv's own limit, far above it, only bounds
# the memory a runaway quote can take; passing it refuses the record too.
FIELD_LIMIT = 1_000_000
CSV_FIELD_LIMIT = 16_000_000
csv.field_size_limit(CSV_FIELD_LIMIT)
_SURROGATE = re.compile("[\udc80-\udcff]")


def guess_encoding(data: bytes, chosen: str) -> str | None:
    """Return the encoding (of ENCODINGS) that bytes which are not ``chosen`` most likely are, or None."""
    candidates = []
    # (encoding, whether what it decodes must read as Chinese): GB18030 and Big5
    # decode most byte runs, so they count only where the text is CJK or ASCII.
    for encoding, chinese in (("utf-8", False), ("gb18030", True), ("big5", True), ("cp1252", False)):
        try:
            text_ = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not chinese or all(ord(c) < 128 or "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text_):
            candidates.append(encoding)
    return next((c for c in candidates if c != chosen), None)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RowUnreadable(Exception):
    """A record that cannot be read; the file reads on after it."""

    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params


class _Reader:
    """One file's header and rows as lists of values, with how far it has read (bytes).

    CSV is read as bytes, line by line, and each line decoded on its own
    (``surrogateescape``): a byte that is not of the chosen encoding spoils
    only its record, which ``rows`` yields as a RowUnreadable, with the
    record's number; so does a record csv cannot parse, or a field longer
    than FIELD_LIMIT. Row numbers count records as a spreadsheet does (the
    header is row 1; a quoted field over several lines is still one row).
    """

    def __init__(self, path: str, name: str, encoding: str = "utf-8"):
        self.path, self.name = path, name
        self.encoding = encoding if encoding in ENCODINGS else "utf-8"
        self.size = Path(path).stat().st_size
        self._suffix = check_file_name(name)
        self._closers = []
        self._raw = None
        self._rows_read = 0
        self._rows_expected = 0
        self._csv = None
        self._bad_bytes = False
        if self._suffix == ".xlsx":
            from openpyxl import load_workbook

            try:
                workbook = load_workbook(path, read_only=True, data_only=True)
            except Exception as error:  # zipfile, XML or openpyxl's own errors
                raise ImportFailed(f"{name}: not a readable xlsx file ({error})") from None
            self._closers.append(workbook.close)
            sheet = workbook.worksheets[0]
            self._rows_expected = sheet.max_row or 0
            rows = sheet.iter_rows(values_only=True)
            self._iter = ([_cell_text(v) for v in row] for row in rows)
        else:
            raw = open(path, "rb")  # noqa: SIM115  closed by close()
            self._raw = raw
            self._closers.append(raw.close)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if self._suffix == ".csv.gz" else raw
            if stream is not raw:
                self._closers.insert(0, stream.close)
            self._csv = csv.reader(self._lines(stream))
            self._iter = None
        try:
            header = self._next_record(1)
        except StopIteration:
            header = []
        except RowUnreadable as error:
            self.close()
            text_ = error.message % error.params if error.params else error.message
            raise ImportFailed(f"{name}, row 1 (the header): {text_}") from None
        except (OSError, EOFError) as error:
            self.close()
            raise ImportFailed(f"{name}: cannot read the header row ({error})") from None
        self.header = [h.strip() if isinstance(h, str) else _cell_text(h) for h in header]

    def _lines(self, stream) -> Iterator[str]:
        codec = self.encoding
        first = True
        for line in stream:
            if first:
                first = False
                if line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                    codec = "utf-8"
            decoded = line.decode(codec, errors="surrogateescape")
            if not decoded.isascii() and (_SURROGATE.search(decoded) or (codec != "utf-8" and _is_utf8(line))):
                # The record this line belongs to is refused. Non-ASCII bytes
                # that are valid UTF-8 are UTF-8 read in another encoding: they
                # would decode, as nonsense (Chinese text is almost never both).
                self._bad_bytes = True
            yield decoded

    def _next_record(self, number: int) -> list:
        """Return the next record's values; StopIteration at the end; RowUnreadable for a bad one."""
        if self._csv is None:
            return next(self._iter)
        self._bad_bytes = False
        try:
            values = next(self._csv)
        except csv.Error as error:
            raise RowUnreadable(N_("The row cannot be read as CSV (%(reason)s)."), reason=str(error)[:200]) from None
        if values and max(map(len, values)) > FIELD_LIMIT:
            position, size = max(enumerate(map(len, values)), key=lambda pair: pair[1])
            raise RowUnreadable(
                N_("Column %(position)d holds %(size)s characters; a field may hold at most %(limit)s."),
                position=position + 1, size=f"{size:,}", limit=f"{FIELD_LIMIT:,}")
        if self._bad_bytes:
            data = "\n".join(values).encode(self.encoding, errors="surrogateescape")
            guess = guess_encoding(data, self.encoding)
            chosen = ENCODING_NAMES[self.encoding]
            if guess:
                raise RowUnreadable(
                    N_("The row is not %(encoding)s; the file looks like %(guess)s: choose that encoding."),
                    encoding=chosen, guess=ENCODING_NAMES[guess])
            raise RowUnreadable(N_("The row is not %(encoding)s: choose the file's encoding."), encoding=chosen)
        return values

    def rows(self) -> Iterator[tuple[int, list | RowUnreadable]]:
        """Yield (row number as a spreadsheet shows it, values or RowUnreadable); the header is row 1."""
        number = 1
        try:
            while True:
                number += 1
                try:
                    values = self._next_record(number)
                except StopIteration:
                    return
                except RowUnreadable as error:
                    self._rows_read += 1
                    yield number, error
                    continue
                self._rows_read += 1
                if not values or all(v in ("", None) for v in values):
                    continue
                yield number, values
        except (OSError, EOFError) as error:
            raise ImportFailed(f"{self.name}, after row {number - 1}: cannot read on ({error})") from None

    @property
    def position(self) -> int:
        """Return how many bytes of the file are behind us (estimated for xlsx)."""
        if self._raw is not None:
            try:
                return min(self._raw.tell(), self.size)
            except (OSError, ValueError):
                return self.size
        if self._rows_expected:
            return min(self.size, self.size * self._rows_read // self._rows_expected)
        return 0

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except (OSError, ValueError):
                pass
        self._closers = []


def _cell_text(value):
    """Return an xlsx cell as text, keeping datetimes (read as local times)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def read_header(path: str, name: str) -> list[str]:
    """Return the header row of a file (the mapping form offers these columns)."""
    reader = _Reader(path, name)
    try:
        return [h for h in reader.header]
    finally:
        reader.close()


# ---------------------------------------------------------------- runs


def create_run(
    *,
    mapping: ImportMapping,
    files: list[dict],
    dry_run: bool,
    as_of: datetime | None = None,
    time_zone: str | None = None,
    encoding: str | None = None,
    actor: User | None,
    now: datetime,
    enqueue: bool = False,
) -> ImportRun:
    """Record a run of ``mapping`` over ``files`` ([{name, path}]) and commit.

    ``enqueue`` publishes the ``imports.run`` task after the commit (the
    web); the command line calls ``execute_run`` itself. Raises
    ValidationFailed for no files, a file of another kind, or an unknown
    time zone.
    """
    if not files:
        raise ValidationFailed(N_("Choose at least one file."))
    stored = []
    for item in files:
        check_file_name(item["name"])
        path = Path(item["path"])
        if not path.is_file():
            raise ValidationFailed(N_("%(name)s is not there any more; upload it again."), name=item["name"])
        stored.append({"name": item["name"], "path": str(path), "bytes": path.stat().st_size})
    settings = mapping_data(mapping)
    if time_zone:
        if time_zone not in available_timezones():
            raise ValidationFailed(N_("Unknown time zone %(zone)s."), zone=time_zone)
        settings["time_zone"] = time_zone
    if encoding:
        if encoding not in ENCODINGS:
            raise ValidationFailed(N_("Unknown encoding %(encoding)s: choose one from the list."), encoding=encoding)
        settings["encoding"] = encoding
    run = ImportRun(
        mapping_id=mapping.id,
        settings=settings,
        files=stored,
        is_dry_run=dry_run,
        as_of=as_of or now,
        status=RunStatus.PENDING,
        phase="rows",
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        progress_total=sum(f["bytes"] for f in stored),
        report={},
        message="",
    )
    db.session.add(run)
    db.session.flush()
    if enqueue:
        publish_after_commit("imports.run", run.id)
    db.session.commit()
    return run


def run_again(run_id: int, *, dry_run: bool, actor: User | None, now: datetime, enqueue: bool = False) -> ImportRun:
    """Record a new run with a run's files and settings (a dry run made real, or a stalled run resumed); commit.

    Rows the earlier run imported are skipped: nothing is imported twice.
    """
    earlier = get_run(run_id)
    for item in earlier.files:
        if not Path(item["path"]).is_file():
            raise ValidationFailed(N_("%(name)s is not there any more; upload it again."), name=item["name"])
    run = ImportRun(
        mapping_id=earlier.mapping_id,
        settings=dict(earlier.settings),
        files=list(earlier.files),
        is_dry_run=dry_run,
        as_of=earlier.as_of,
        status=RunStatus.PENDING,
        phase="rows",
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        progress_total=sum(f["bytes"] for f in earlier.files),
        report={},
        message="",
    )
    db.session.add(run)
    db.session.flush()
    if enqueue:
        publish_after_commit("imports.run", run.id)
    db.session.commit()
    return run


def get_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        raise NotFound()
    return run


def recent_runs(limit: int = 50) -> list[ImportRun]:
    return list(db.session.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)).scalars())


def is_stalled(run: ImportRun, now: datetime) -> bool:
    """Return whether a running run stopped writing its heartbeat (its worker died), or no worker took it."""
    if run.status is RunStatus.PENDING:  # the task was lost (broker down) or no worker runs
        return run.created_at < now - STALLED_AFTER
    return run.status is RunStatus.RUNNING and (run.heartbeat_at or run.started_at or now) < now - STALLED_AFTER


def row_errors(run_id: int, *, page: int = 1, size: int = 100) -> list[ImportRowError]:
    return list(
        db.session.execute(
            select(ImportRowError).where(ImportRowError.run_id == run_id).order_by(ImportRowError.id)
            .limit(size).offset((max(page, 1) - 1) * size)
        ).scalars()
    )


def error_text(error: ImportRowError) -> str:
    """Return a row error's message in the current locale (stored as its msgid and parameters)."""
    from flask_babel import gettext

    return gettext(error.message, **(error.params or {}))


def all_row_errors(run_id: int) -> Iterator[ImportRowError]:
    """Yield a run's stored row errors in order, a few hundred at a time (downloads)."""
    query = select(ImportRowError).where(ImportRowError.run_id == run_id).order_by(ImportRowError.id)
    yield from db.session.execute(query.execution_options(yield_per=500)).scalars()


def stored_error_count(run_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(ImportRowError).where(ImportRowError.run_id == run_id)
    ).scalar_one()


def execute_run(
    run_id: int,
    *,
    batch_size: int | None = None,
    progress: Callable[[ImportRun], object] | None = None,
    clock: Callable[[], datetime] | None = None,
    batch_seconds: float = BATCH_SECONDS,
) -> ImportRun | None:
    """Run a pending run to its end; return it, or None when another worker has it (or had it).

    Safe to call twice: only one caller claims a pending run. Every batch
    commits, with the run's progress; a failure stops the run (status
    ``failed``, the message says why) and keeps the batches written before
    it, so running the same files again imports the rest. ``batch_size``
    fixes the rows of a batch; without it batches are sized to take about
    ``batch_seconds`` each (BATCH_SECONDS).
    """
    from tracker.clock import utcnow

    clock = clock or utcnow
    claimed = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status == RunStatus.PENDING)
        .values(status=RunStatus.RUNNING, started_at=clock(), heartbeat_at=clock())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    run = db.session.get(ImportRun, run_id)
    db.session.refresh(run)
    try:
        # The rows and the summary make millions of short-lived objects, none in cycles (docs/import.md).
        with outbox.suppressed(), collector_paused():
            _Run(run, batch_size=batch_size, progress=progress, clock=clock, batch_seconds=batch_seconds).execute()
    except Exception as error:
        db.session.rollback()
        run = db.session.get(ImportRun, run_id)
        run.status = RunStatus.FAILED
        run.finished_at = clock()
        message = str(error) if isinstance(error, ImportFailed) else f"{type(error).__name__}: {error}"
        run.message = message[:4000]
        db.session.commit()
        if not isinstance(error, ImportFailed):
            log.exception("import run %s failed", run_id)
        if not run.is_dry_run:
            _refresh_after_failure(run_id)
    return run


def _refresh_after_failure(run_id: int) -> None:
    """Count the days of the batches a failed run committed, so the dashboards show them now.

    The batches committed their marks with their rows; without this they
    would wait for the periodic refresh. A worker killed outright gets no
    chance: its marks stay, and the dashboards say that days wait to be
    counted again until the refresh task has done them.
    """
    try:
        stats.refresh_all()
    except Exception:  # the run's own failure is what the page must say; the marks stay for the refresh task
        db.session.rollback()
        log.exception("import run %s: the summary refresh after the failure failed", run_id)


# ---------------------------------------------------------------- one run


class _RowError(Exception):
    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(slots=True)
class _Row:
    """One checked row, ready to write."""

    key: str
    opened: datetime
    day: date  # the campus-local day it was opened on (the dashboards' day, the reference's year)
    closed: datetime | None
    due: datetime | None
    outcome: str
    centre: _CentreRef
    category: _CategoryRef
    priority: Priority
    title: str
    description: str
    location_note: str
    resolution_note: str


@dataclass(slots=True)
class _CentreRef:
    id: int | None  # None: created by this run (dry: would be)
    code: str
    name: str
    prefix: str
    is_new: bool = False


@dataclass(slots=True)
class _CategoryRef:
    id: int | None
    code: str
    name: str
    centre: _CentreRef
    policy_id: int | None
    is_new: bool = False


@dataclass(slots=True)
class _Read:
    """What the reading thread had read when it handed over a batch (the writer stores it)."""

    rows_total: int
    rows_error: int
    errors: list[dict]  # row errors to store, not stored yet
    warnings: dict
    error_kinds: Counter
    files: list
    position: int  # bytes of the files behind the reader


class _Stopped(Exception):
    """The writer failed: the reader stops."""


@dataclass
class _Totals:
    by_centre: dict = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    sla: dict = field(default_factory=lambda: defaultdict(Counter))
    warnings: Counter = field(default_factory=Counter)
    error_kinds: Counter = field(default_factory=Counter)
    files: list = field(default_factory=list)
    other_day: int = 0


class _Run:
    """Read, check and (unless dry) write one run's files."""

    def __init__(self, run: ImportRun, *, batch_size: int | None, progress, clock,
                 batch_seconds: float = BATCH_SECONDS):
        self.run = run
        self.dry = run.is_dry_run
        # The reading thread cuts batches of ``batch_size`` rows; the writing
        # thread resizes it after each batch (``_resize``) unless the caller fixed it.
        self.batch_size = batch_size or BATCH_SIZE
        self.batch_seconds = None if batch_size else batch_seconds
        self.progress = progress
        self.clock = clock
        settings = run.settings
        self.settings = settings
        self.columns: dict[str, str] = settings["columns"]
        self.rules: dict = settings["rules"]
        self.system: str = settings["source_system"]
        self.encoding: str = settings.get("encoding") or "utf-8"
        self.tolerance = timedelta(seconds=int(self.rules.get("close_before_open_seconds", DEFAULT_CLOSE_TOLERANCE)))
        self.status_values: dict[str, str] = self.rules.get("status") or {}
        self.priority_values: dict[str, str] = self.rules.get("priority") or {}
        self.default_priority = Priority(settings.get("default_priority") or "normal")
        try:
            self.source_clock = SourceClock(settings["time_zone"], settings.get("date_formats") or [ISO])
        except SourceTimeError as error:
            raise ImportFailed(str(error)) from None
        self.formats_text = " | ".join(self.source_clock.formats)
        self.as_of = run.as_of
        self.uses_due = bool(self.columns.get("due_at"))
        self.campus = reports.campus_zone()
        self.seen: set = set()
        self.run_id = run.id
        self.files = list(run.files)
        self.totals = _Totals()
        # The reading thread's counts (rows read and refused, warnings, row
        # errors to store); the writing thread reads them only from the
        # snapshots that come with each batch (``_Read``).
        self.errors_kept = stored_error_count(run.id)
        self.pending_errors: list[dict] = []
        self.bytes_before = 0  # bytes of the files already read
        self.rows_total = self.rows_error = 0
        self.read = _Read(0, 0, [], {}, Counter(), [], 0)
        self.rows_imported = self.rows_skipped = 0
        self._centres: dict[str, _CentreRef] = {}
        self._categories: dict[tuple[str, str], _CategoryRef] = {}
        self._centre_codes: set[str] = set()
        self._prefixes: set[str] = set()
        self._policies: dict[int | None, tuple] = {}
        self._requester_id: int | None = None
        self._source_policy = None
        # The events' data go in as JSON text made from a template (``_event_texts``),
        # as each database's writer would encode the dicts: COPY (PostgreSQL)
        # with ensure_ascii=False (bulk._copy_rows), SQLite as SQLAlchemy's JSON
        # type does (json.dumps' default, ASCII).
        postgres = db.session.get_bind().dialect.name == "postgresql"
        self._encode = encode_basestring if postgres else encode_basestring_ascii
        self._marker_text = f'"imported": true, "run_id": {self.run_id}'
        self._action_texts = {
            action: bulk.JsonText(f'{{"action": "{action}", {self._marker_text}}}')
            for action in ("resolve", "confirm", "cancel")
        }

    # ------------------------------------------------------------ the loop

    def execute(self) -> None:
        readers = []
        try:
            for item in self.run.files:
                reader = _Reader(item["path"], item["name"], self.encoding)
                readers.append(reader)
                self._check_header(reader)
                reader.close()
            readers = []
            self._load_catalog()
            if not self.dry:
                self._requester_id = self._requester()
                if self.uses_due:
                    self._source_policy = self._source_deadline_policy()
                db.session.commit()
        finally:
            for reader in readers:
                reader.close()
        with bulk.sqlite_bulk_writing():
            self._pipeline()
            if not self.dry:
                self._refresh_summary()
        run = self.run
        run.status = RunStatus.DONE
        run.finished_at = self.clock()
        run.progress_done = run.progress_total
        self._store_counts()
        db.session.commit()
        if self.progress is not None:
            self.progress(run)

    def _check_header(self, reader: _Reader) -> None:
        missing = [column for column in self.columns.values() if column not in reader.header]
        if missing:
            raise ImportFailed(f"{reader.name}: the header has no column {', '.join(repr(m) for m in missing)}")

    # ------------------------------------------------------------ two threads

    def _pipeline(self) -> None:
        """Read and check the rows in a thread of their own while this one writes the batches.

        The writer spends much of its time waiting for the database (COPY,
        commits), and the reader's parsing runs meanwhile. At most
        READ_AHEAD batches wait between them, so memory stays bounded
        whatever the size of the files. The reader has its own session (its
        own app context) for the catalogue (``create_once`` commits there);
        it ends each of its transactions at once, so on SQLite (BEGIN
        IMMEDIATE) it never holds the write lock the writer needs. A failure
        of the reader (an unreadable file) reaches the writer after the
        batches read before it, which are written as they were when one
        thread did both; a failure of the writer stops the reader.
        """
        handoff: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
        stop = threading.Event()
        app = current_app._get_current_object()

        def put(item) -> None:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise _Stopped()

        def read() -> None:
            try:
                # Its own connection on the bulk settings too: a page cache the
                # writer would empty again, each time the pool gave it this one.
                with app.app_context(), bulk.sqlite_bulk_writing():
                    self._read_files(put)
                put(("end", self._snapshot(self.bytes_before)))
            except _Stopped:
                pass
            except BaseException as error:  # noqa: BLE001  handed to the writer, which raises it
                try:
                    put(("failed", error))
                except _Stopped:
                    pass

        thread = threading.Thread(target=read, name=f"import-{self.run_id}-reader", daemon=True)
        session = db.session()
        session.commit()
        thread.start()
        last = time.monotonic()
        try:
            while True:
                if session.in_transaction():  # e.g. the progress callback read the run: free SQLite's lock
                    session.commit()
                kind, payload, *rest = handoff.get()
                if kind == "rows":
                    self._write(payload, rest[0])
                    now = time.monotonic()
                    self._resize(len(payload), now - last)
                    last = now
                elif kind == "end":
                    self._write([], payload)
                    return
                else:
                    raise payload
        finally:
            stop.set()
            thread.join()

    def _resize(self, rows: int, took: float) -> None:
        """Size the next batches from a batch of ``rows`` that took ``took`` seconds from the last update.

        The time is the whole step between two progress updates (reading
        and checking, or waiting for them, and writing), so it is what the
        progress bar shows. A batch of fewer than SMALLEST_BATCH rows (a
        small file's) says little of the rate and is not used. The reading
        thread takes the new size at its next batch; the batches it has
        read ahead keep theirs.
        """
        if self.batch_seconds is None or took <= 0 or rows < SMALLEST_BATCH:
            return
        wanted = min(2 * self.batch_size, rows * self.batch_seconds / took)
        self.batch_size = max(SMALLEST_BATCH, min(LARGEST_BATCH, int(wanted)))

    def _read_files(self, put) -> None:
        for item in self.files:
            reader = _Reader(item["path"], item["name"], self.encoding)
            try:
                self._read_file(reader, put)
            finally:
                reader.close()
            self.bytes_before += reader.size

    def _snapshot(self, position: int) -> _Read:
        errors, self.pending_errors = self.pending_errors, []
        totals = self.totals
        return _Read(self.rows_total, self.rows_error, errors, dict(totals.warnings), Counter(totals.error_kinds),
                     list(totals.files), position)

    def _read_file(self, reader: _Reader, put) -> None:
        session = db.session()
        index = {name: reader.header.index(column) for name, column in self.columns.items()}
        width = len(reader.header)
        rows_in_file = 0
        batch: list[tuple[int, _Row]] = []
        needed = max(index.values(), default=-1) + 1
        for number, values in reader.rows():
            rows_in_file += 1
            self.rows_total += 1
            if isinstance(values, RowUnreadable):
                self._error(reader.name, number, "", values)
                continue
            if len(values) < needed:
                # A cut-off row: say so, rather than what its empty cells would mean.
                missing = [column for name, column in self.columns.items() if index[name] >= len(values)]
                self._error(reader.name, number, values[index["source_id"]] if index["source_id"] < len(values)
                            else "", _RowError(
                                N_("The row has %(count)d of the header's %(width)d columns: %(missing)s missing."),
                                count=len(values), width=width, missing=", ".join(missing)))
                continue
            if len(values) < width:
                values = list(values) + [""] * (width - len(values))
            try:
                row = self._check(values, index)
            except _RowError as error:
                self._error(reader.name, number, values[index["source_id"]], error)
                continue
            finally:
                if session.in_transaction():  # a catalogue look-up: release SQLite's write lock at once
                    session.commit()
            batch.append((number, row))
            if len(batch) >= self.batch_size:
                put(("rows", batch, self._snapshot(self.bytes_before + reader.position)))
                batch = []
        self.totals.files.append({"name": reader.name, "rows": rows_in_file})
        put(("rows", batch, self._snapshot(self.bytes_before + reader.position)))

    # ------------------------------------------------------------ checking one row

    def _check(self, values: list, index: dict[str, int]) -> _Row:
        def get(name: str):
            position = index.get(name)
            if position is None:
                return ""
            value = values[position]
            return value.strip() if isinstance(value, str) else value

        row_id = get("source_id")
        if not row_id:
            raise _RowError(N_("The source row id (%(column)s) is empty."), column=self.columns["source_id"])
        row_id = str(row_id)
        key = f"{self.system}:{row_id}"
        if len(key) > 120:
            raise _RowError(N_("The source row id is longer than 100 characters."))
        compact = int(row_id) if row_id.isdigit() and len(row_id) < 19 else key
        if compact in self.seen:
            raise _RowError(N_("The source row id %(id)s appears more than once in this import."), id=row_id)
        self.seen.add(compact)

        opened = self._time("opened_at", get("opened_at"), required=True)
        closed = self._time("closed_at", get("closed_at"))
        due = self._time("due_at", get("due_at"))
        if due is not None and due < opened:
            raise _RowError(N_("The due time is before the open time."))

        outcome = self._outcome(get("status"), closed)
        if outcome == "open":
            closed = None
        elif closed < opened:
            early = (opened - closed).total_seconds()
            if opened - closed > self.tolerance:
                raise _RowError(N_("The close time is %(seconds)d s before the open time."), seconds=int(early))
            # A data-entry artefact (Boston: at most 58 s): closed when opened.
            closed = opened
            self.totals.warnings["clamped"] += 1

        centre = self._centre(get("centre"))
        category = self._category(centre, get("category"))
        priority = self._priority(get("priority"))
        title = str(get("title") or "")[:200] or category.name[:200]
        description = str(get("description") or "") or title
        return _Row(
            key=key,
            opened=opened,
            day=opened.astimezone(self.campus).date(),
            closed=closed,
            due=due,
            outcome=outcome,
            centre=centre,
            category=category,
            priority=priority,
            title=title,
            description=description,
            location_note=str(get("location_note") or "")[:200],
            resolution_note=str(get("resolution_note") or ""),
        )

    def _time(self, name: str, value, *, required: bool = False) -> datetime | None:
        if value in ("", None):
            if required:
                raise _RowError(N_("%(column)s is empty."), column=self.columns[name])
            return None
        try:
            instant, flag = self.source_clock.parse(value)
        except (ValueError, OverflowError):
            raise _RowError(
                N_("%(column)s: “%(value)s” is not a date in the format %(formats)s."),
                column=self.columns[name], value=str(value)[:40], formats=self.formats_text,
            ) from None
        if flag is SHIFTED:
            self.totals.warnings["dst_shifted"] += 1
        elif flag is AMBIGUOUS:
            self.totals.warnings["dst_ambiguous"] += 1
        return instant

    def _outcome(self, status, closed: datetime | None) -> str:
        if self.columns.get("status"):
            outcome = self.status_values.get(str(status or ""))
            if outcome is None:
                raise _RowError(N_("Unknown status “%(value)s”: add it to the mapping."), value=str(status)[:40])
            if outcome != "open" and closed is None:
                raise _RowError(N_("The status says %(status)s but the close time is empty."), status=str(status)[:40])
            if outcome == "open" and closed is not None:
                raise _RowError(N_("The status says open but there is a close time."))
            return outcome
        return "closed" if closed is not None else "open"

    def _priority(self, value) -> Priority:
        if not value or not self.columns.get("priority"):
            return self.default_priority
        text = str(value)
        chosen = self.priority_values.get(text) or text.lower()
        try:
            return Priority(chosen)
        except ValueError:
            raise _RowError(N_("Unknown priority “%(value)s”: add it to the mapping."), value=text[:40]) from None

    # ------------------------------------------------------------ centres and categories

    def _load_catalog(self) -> None:
        for centre in db.session.execute(select(Centre)).scalars():
            self._centre_codes.add(centre.code)
            self._prefixes.add(centre.ref_prefix)

    def _centre(self, value) -> _CentreRef:
        rule = self.rules["centre"]
        value = str(rule.get("fixed") or value or "").strip()
        if not value:
            raise _RowError(N_("The centre (%(column)s) is empty."), column=self.columns.get("centre", "—"))
        found = self._centres.get(value)
        if found is not None:
            return found
        code = rule["values"].get(value)
        centre = None
        if code is not None:
            centre = db.session.execute(select(Centre).where(Centre.code == code)).scalar_one_or_none()
        if centre is None and code is None:
            slug = (rule.get("code_prefix") or "") + _slug(value, 32)
            centre = db.session.execute(
                select(Centre).where(
                    (Centre.code == value) | (Centre.code == slug[:32])
                    | (func.lower(Centre.name_en) == value.lower()) | (Centre.name_zh == value)
                ).order_by(Centre.id)
            ).scalars().first()
        if centre is not None:
            found = _CentreRef(centre.id, centre.code, centre.name_en, centre.ref_prefix)
        elif rule.get("create_missing") and code is None:
            found = self._new_centre(value, rule)
        else:
            raise _RowError(
                N_("Unknown centre “%(value)s”: map it to a centre code, or let the mapping create centres."),
                value=value[:80],
            )
        self._centres[value] = found
        return found

    def _new_centre(self, value: str, rule: dict) -> _CentreRef:
        base = ((rule.get("code_prefix") or "") + _slug(value, 32))[:32].strip("-") or "imported"
        for _ in range(5):
            code, n = base, 1
            while code in self._centre_codes:
                n += 1
                code = f"{base[:29]}-{n}"
            self._centre_codes.add(code)
            prefix = self._ref_prefix(value)
            if self.dry:
                return _CentreRef(None, code, value[:120], prefix, is_new=True)

            def add(code=code, prefix=prefix):
                centre = Centre(code=code, ref_prefix=prefix, name_en=value[:120], name_zh=value[:120],
                                description_en=f"Imported ({self.settings['name']})"[:1000], sort_order=1000,
                                is_active=True, created_at=self.clock())
                db.session.add(centre)
                db.session.flush()
                return centre

            # Another run may create the same centre meanwhile: then it is the one found by its code.
            centre, created = create_once(
                lambda code=code: db.session.execute(select(Centre).where(Centre.code == code)).scalar_one_or_none(),
                add,
            )
            if centre is not None:
                return _CentreRef(centre.id, centre.code, centre.name_en, centre.ref_prefix, is_new=created)
            # Another run took the prefix for another centre meanwhile: the code is
            # still free; choose the prefix again from what exists now.
            self._centre_codes.discard(code)
            self._load_catalog()
        raise ImportFailed(f"cannot create a centre for {value!r}: its code or prefix is taken each time")

    def _ref_prefix(self, value: str) -> str:
        """Return a free reference prefix: the name's initials (PWD), else letters and a digit."""
        words = re.findall(r"[A-Za-z0-9]+", unicodedata.normalize("NFKD", value))
        initials = "".join(w[0] for w in words).upper()[:4]
        candidates = [initials] if len(initials) >= 2 else []
        stem = (initials or "IM")[:3]
        candidates += [f"{stem[:3]}{d}" for d in range(2, 10)] + [f"{stem[:2]}{d}" for d in range(10, 100)]
        candidates += [f"I{d}" for d in range(100, 1000)]
        for candidate in candidates:
            if candidate and candidate not in self._prefixes:
                self._prefixes.add(candidate)
                return candidate
        raise ImportFailed("no reference prefix left for a new centre")

    def _category(self, centre: _CentreRef, value) -> _CategoryRef:
        rule = self.rules["category"]
        value = str(rule.get("fixed") or value or "").strip()
        if not value:
            raise _RowError(N_("The category (%(column)s) is empty."), column=self.columns.get("category", "—"))
        cache_key = (centre.code, value)
        found = self._categories.get(cache_key)
        if found is not None:
            return found
        code = rule["values"].get(value)
        category = None
        if centre.id is not None:
            if code is not None:
                category = db.session.execute(
                    select(Category).where(Category.centre_id == centre.id, Category.code == code)
                ).scalar_one_or_none()
            else:
                slug = ((rule.get("code_prefix") or "") + _slug(value, 48))[:48]
                category = db.session.execute(
                    select(Category).where(
                        Category.centre_id == centre.id,
                        (Category.code == value) | (Category.code == slug)
                        | (func.lower(Category.name_en) == value.lower()) | (Category.name_zh == value),
                    ).order_by(Category.id)
                ).scalars().first()
        if category is not None:
            found = _CategoryRef(category.id, category.code, category.name_en, centre, category.sla_policy_id)
        elif rule.get("create_missing") and code is None:
            found = self._new_category(centre, value, rule)
        else:
            raise _RowError(
                N_("Unknown category “%(value)s” of %(centre)s: map it to a category code, "
                   "or let the mapping create categories."),
                value=value[:80], centre=centre.name[:80],
            )
        self._categories[cache_key] = found
        return found

    def _new_category(self, centre: _CentreRef, value: str, rule: dict) -> _CategoryRef:
        base = ((rule.get("code_prefix") or "") + _slug(value, 48))[:48].strip("-") or "imported"
        taken = {ref.code for (centre_code, _), ref in self._categories.items() if centre_code == centre.code}
        if centre.id is not None:
            taken |= set(db.session.execute(select(Category.code).where(Category.centre_id == centre.id)).scalars())
        code, n = base, 1
        while code in taken:
            n += 1
            code = f"{base[:45]}-{n}"
        policy_id = None
        if rule.get("policy") and not self.uses_due:
            policy_id = db.session.execute(select(SlaPolicy.id).where(SlaPolicy.code == rule["policy"])).scalar()
        if self.dry:
            return _CategoryRef(None, code, value[:120], centre, policy_id, is_new=True)

        def add():
            category = Category(centre_id=centre.id, code=code, name_en=value[:120], name_zh=value[:120],
                                default_priority=self.default_priority, sla_policy_id=policy_id, sort_order=1000,
                                is_active=True)
            db.session.add(category)
            db.session.flush()
            return category

        # (centre, code) is its only unique key: a clash is the same category, created by another run.
        category, created = create_once(
            lambda: db.session.execute(
                select(Category).where(Category.centre_id == centre.id, Category.code == code)
            ).scalar_one_or_none(),
            add,
        )
        if category is None:
            raise ImportFailed(f"cannot create the category {code!r} of {centre.code!r}")
        return _CategoryRef(category.id, category.code, category.name_en, centre, category.sla_policy_id,
                            is_new=created)

    # ------------------------------------------------------------ SLA

    def _source_deadline_policy(self) -> tuple[int, dict[Target, int]]:
        """Return (policy version id, calendar versions) of the source-deadline policy, created when missing."""
        from tracker.services.sla import config as sla_config

        now = self.clock()
        create_once(
            lambda: db.session.execute(select(Calendar).where(Calendar.code == SOURCE_CALENDAR)).scalar_one_or_none(),
            lambda: sla_config.create_calendar(
                code=SOURCE_CALENDAR, name_en="Round the clock, UTC (imported deadlines)",
                name_zh="全天候，UTC（导入的期限）",
                definition={"timezone": "UTC", "week": {d: [["00:00", "24:00"]] for d in
                                                        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
                note="Measures imported tickets against their source's own due time.", actor=None, now=now,
            ),
        )
        policy, _ = create_once(
            lambda: db.session.execute(
                select(SlaPolicy).where(SlaPolicy.code == sla.SOURCE_DEADLINE_POLICY)
            ).scalar_one_or_none(),
            # The minutes are a placeholder: each ticket is due at its own source due time.
            lambda: sla_config.create_policy(
                code=sla.SOURCE_DEADLINE_POLICY, name_en="The source system's own deadline (imported)",
                name_zh="来源系统自身的期限（导入）",
                definition={"targets": {"resolution": {"calendar": SOURCE_CALENDAR,
                                                       "minutes": {p.value: 1440 for p in Priority},
                                                       "at_risk": 0.75}}},
                note="Imported tickets are due at their source's due time.", actor=None, now=now,
            ),
        )
        version = db.session.get(SlaPolicyVersion, policy.current_version_id)
        calendars = {t: sla.current_calendar_version_id(code) for t, code in sla.target_calendar_codes(version).items()}
        return version.id, calendars

    def _policy_for(self, category: _CategoryRef):
        """Return (version id, calendar versions, Policy) of a category's policy in force, or None."""
        key = category.policy_id
        if key not in self._policies:
            version_id = sla.current_policy_version_id(key)
            if version_id is None:
                self._policies[key] = None
            else:
                version = db.session.get(SlaPolicyVersion, version_id)
                calendars = {t: sla.current_calendar_version_id(code)
                             for t, code in sla.target_calendar_codes(version).items()}
                self._policies[key] = (version_id, calendars, sla.policy_of(version, calendars))
        return self._policies[key]

    def _clocks(self, row: _Row, facts: list[Fact]):
        """Return (policy version id or None, calendar versions, clocks at "as of") of one row."""
        if self.uses_due:
            if row.due is None:
                return None, {}, {}
            if self._source_policy is None:  # dry run: the same rule, without the stored policy
                base = _DRY_SOURCE_POLICY
                version_id, calendars = None, {}
            else:
                version_id, calendars = self._source_policy
                base = self._base_source_policy(version_id, calendars)
            policy = sla.source_deadline_policy(base, row.opened, row.due)
            return version_id, calendars, evaluate(policy, facts, self.as_of)
        found = self._policy_for(row.category) if row.category.policy_id is not None else None
        if found is None:
            return None, {}, {}
        version_id, calendars, policy = found
        return version_id, calendars, evaluate(policy, facts, self.as_of)

    def _base_source_policy(self, version_id: int, calendars: dict):
        cached = self._policies.get(("source", version_id))
        if cached is None:
            version = db.session.get(SlaPolicyVersion, version_id)
            cached = self._policies[("source", version_id)] = sla.policy_of(version, calendars)
        return cached

    # ------------------------------------------------------------ writing a batch

    def _write(self, batch: list[tuple[int, _Row]], read: _Read) -> None:
        if batch:
            if self.dry:
                self._count_dry(batch)
            else:
                self._insert(batch)
        self.read = read
        run = self.run
        run.rows_total, run.rows_imported = read.rows_total, self.rows_imported
        run.rows_skipped, run.rows_error = self.rows_skipped, read.rows_error
        run.progress_done = read.position
        run.heartbeat_at = self.clock()
        self._flush_errors(read.errors)
        self._store_counts()
        db.session.commit()
        if self.progress is not None:
            self.progress(run)

    def _existing_keys(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        found = set()
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            if db.session.get_bind().dialect.name == "postgresql":
                from sqlalchemy import String, any_, bindparam
                from sqlalchemy.dialects.postgresql import ARRAY

                condition = Ticket.source_key == any_(bindparam("keys", chunk, type_=ARRAY(String)))
            else:
                condition = Ticket.source_key.in_(chunk)
            found.update(db.session.execute(select(Ticket.source_key).where(condition)).scalars())
        return found

    def _count_dry(self, batch: list[tuple[int, _Row]]) -> None:
        existing = self._existing_keys([row.key for _, row in batch])
        for _, row in batch:
            if row.key in existing:
                self.rows_skipped += 1
                continue
            facts = _facts(row)
            _, _, clocks = self._clocks(row, facts)
            self._count(row, clocks)
            self.rows_imported += 1

    def _count(self, row: _Row, clocks) -> None:
        totals = self.totals
        centre = totals.by_centre.setdefault(
            row.centre.code, {"name": row.centre.name, "new": row.centre.is_new, "tickets": 0, "categories": {}}
        )
        centre["tickets"] += 1
        category = centre["categories"].setdefault(
            row.category.code, {"name": row.category.name, "new": row.category.is_new, "tickets": 0}
        )
        category["tickets"] += 1
        totals.outcomes[row.outcome] += 1
        if row.opened.astimezone(self.source_clock.zone).date() != row.day:
            # Filed on another day in the source's zone than on the dashboards (campus zone).
            totals.other_day += 1
        if not clocks:
            totals.sla["none"]["tickets"] += 1
        for target, clock in clocks.items():
            totals.sla[_VALUE[target]][_VALUE[clock.state]] += 1

    def _insert(self, batch: list[tuple[int, _Row]]) -> None:
        rows = [row for _, row in batch]
        # A run importing the same rows at the same time holds these counters
        # until its batch commits: waiting for them first, this batch then sees
        # that one's tickets and skips them, reserving no numbers it would not use.
        for prefix, year in sorted({(row.centre.prefix, row.day.year) for row in rows}):
            _reserve_numbers(prefix, year, 0)
        existing = self._existing_keys([row.key for row in rows])
        fresh = [row for row in rows if row.key not in existing]
        self.rows_skipped += len(rows) - len(fresh)
        if not fresh:
            return
        ids = self._reserve_ids(len(fresh))
        references = self._references(fresh)
        now = self.clock()
        tickets, events, slas, by_id = [], [], [], {}
        days: set = set()
        zone = self.campus
        event_rows = self._event_texts
        for ticket_id, reference, row in zip(ids, references, fresh, strict=True):
            facts = _facts(row)
            version_id, calendars, clocks = self._clocks(row, facts)
            tickets.append(self._ticket_row(ticket_id, reference, row, version_id, clocks, now))
            by_id[ticket_id] = (row, clocks)
            events.extend(event_rows(ticket_id, row))
            centre_id = row.centre.id
            days.add((row.day, centre_id))
            if row.closed is not None:
                days.add((row.closed.astimezone(zone).date(), centre_id))
            for target, clock in clocks.items():
                slas.append(_sla_row(ticket_id, target, clock, version_id, calendars[target], now))
                # reports.target_outcome_day, in the zone at hand
                if clock.state is TargetState.MET and clock.milestone_at is not None:
                    days.add((clock.milestone_at.astimezone(zone).date(), centre_id))
                elif clock.state is TargetState.BREACHED and clock.due_at is not None:
                    days.add((clock.due_at.astimezone(zone).date(), centre_id))
        inserted = {
            r[0]
            for r in bulk.insert_ignoring_conflicts(
                Ticket.__table__, _complete(Ticket.__table__, tickets), conflict=["source_key"], returning=["id"]
            )
        }
        # Another run may have imported some of these keys a moment ago: keep only ours.
        if len(inserted) != len(tickets):
            self.rows_skipped += len(tickets) - len(inserted)
            events = [e for e in events if e["ticket_id"] in inserted]
            slas = [s for s in slas if s["ticket_id"] in inserted]
        bulk.insert(TicketEvent.__table__, _complete(TicketEvent.__table__, events))
        bulk.insert(TicketSla.__table__, _complete(TicketSla.__table__, slas))
        stats.mark(days)
        for ticket_id in inserted:
            row, clocks = by_id[ticket_id]
            self._count(row, clocks)
        self.rows_imported += len(inserted)

    def _reserve_ids(self, count: int) -> list[int]:
        """Return ``count`` new ticket ids (their events and clocks need them before the insert)."""
        if db.session.get_bind().dialect.name == "postgresql":
            return list(
                db.session.execute(
                    text("SELECT nextval(pg_get_serial_sequence('tickets', 'id')) FROM generate_series(1, :n)"),
                    {"n": count},
                ).scalars()
            )
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE) until it commits.
        last = db.session.execute(select(func.coalesce(func.max(Ticket.id), 0))).scalar_one()
        return list(range(last + 1, last + 1 + count))

    def _references(self, rows: list[_Row]) -> list[str]:
        """Return a reference per row: the centre's prefix, the local year, numbers reserved in blocks."""
        years = [row.day.year for row in rows]
        needed = Counter((row.centre.prefix, year) for row, year in zip(rows, years, strict=True))
        # In sorted order: two runs at once take the counters' row locks in the same order.
        next_number = {key: _reserve_numbers(key[0], key[1], count) for key, count in sorted(needed.items())}
        references = []
        for row, year in zip(rows, years, strict=True):
            key = (row.centre.prefix, year)
            number = next_number[key]
            next_number[key] = number + 1
            references.append(f"{row.centre.prefix}-{year}-{number:06d}")
        return references

    def _ticket_row(self, ticket_id, reference, row: _Row, version_id, clocks, now) -> dict:
        status = _OUTCOME_STATUS[row.outcome]
        # As sla._recompute stores them, read at "as of".
        due = [c.due_at for c in clocks.values()
               if c.milestone_at is None and c.state in (TargetState.RUNNING, TargetState.BREACHED) and c.due_at]
        return {
            "id": ticket_id,
            "reference": reference,
            "centre_id": row.centre.id,
            "category_id": row.category.id,
            "location_id": None,
            "location_note": row.location_note,
            "priority": _VALUE[row.priority],
            "status": status,
            "title": row.title,
            "description": row.description,
            "contact_phone": "",
            "source": _IMPORT,
            "requester_id": self._requester_id,
            "assignee_id": None,
            "status_before_hold": None,
            "hold_reason": None,
            "resolution_note": row.resolution_note if row.outcome != "open" else "",
            "materials_used": "",
            "created_at": row.opened,
            "updated_at": row.closed or row.opened,
            "accepted_at": None,
            "arrived_at": None,
            "resolved_at": row.closed if row.outcome in ("resolved", "closed") else None,
            "closed_at": row.closed if row.outcome == "closed" else None,
            "cancelled_at": row.closed if row.outcome == "cancelled" else None,
            "sla_policy_version_id": version_id,
            "next_due_at": min(due) if due else None,
            "is_sla_breached": any(c.state is TargetState.BREACHED for c in clocks.values()),
            "is_sla_at_risk": any(c.is_at_risk(self.as_of) for c in clocks.values()),
            "is_open": status in _OPEN_VALUES,
            "version": 1,
            "source_key": row.key,
        }

    def _event_texts(self, ticket_id: int, row: _Row) -> list[dict]:
        """Return the row's events (filed, then resolved, closed or cancelled), each one's data as JSON text.

        The text is formatted from a template: exactly what ``json.dumps``
        makes of the data's dict, keys in the same order, as the database's
        writer would encode it (``self._encode``; tested). The filing's data:
        priority, category, source, source key, the run's marker and the
        source's due time when the mapping has one.
        """
        marker, _encode = self._marker_text, self._encode
        category_id = row.category.id
        filed = (
            f'{{"priority": {_encode(_VALUE[row.priority])}, '
            f'"category_id": {"null" if category_id is None else category_id}, "source": "{_IMPORT}", '
            f'"source_key": {_encode(row.key)}, {marker}'
        )
        if self.uses_due and row.due is not None:
            filed += f', "source_due_at": {_encode(row.due.isoformat())}'
        events = [_event_text(ticket_id, _FILED, row.opened, None, _NEW, "", bulk.JsonText(filed + "}"))]
        if row.outcome in ("resolved", "closed"):
            events.append(_event_text(ticket_id, _STATUS_CHANGED, row.closed, _NEW, _RESOLVED, row.resolution_note,
                                      self._action_texts["resolve"]))
        if row.outcome == "closed":
            events.append(_event_text(ticket_id, _STATUS_CHANGED, row.closed, _RESOLVED, _CLOSED, "",
                                      self._action_texts["confirm"]))
        elif row.outcome == "cancelled":
            events.append(_event_text(ticket_id, _STATUS_CHANGED, row.closed, _NEW, _CANCELLED, row.resolution_note,
                                      self._action_texts["cancel"]))
        return events

    def _requester(self) -> int:
        username = self.settings.get("requester_username") or "import"

        def add():
            # The application's own account: no roles, no login.
            user = User(username=username, display_name=REQUESTER_NAME, is_active=False, created_at=self.clock(),
                        password_hash=generate_password_hash(
                            secrets.token_urlsafe(32), method=current_app.config["PASSWORD_HASH_METHOD"]))
            db.session.add(user)
            db.session.flush()
            return user

        user, _ = create_once(
            lambda: db.session.execute(select(User).where(func.lower(User.username) == username)).scalar_one_or_none(),
            add,
        )
        if user is None:
            raise ImportFailed(f"cannot create the requester account {username!r}")
        return user.id

    # ------------------------------------------------------------ errors, counts, summary

    def _error(self, file_name: str, number: int, source_id, error: _RowError | RowUnreadable) -> None:
        self.rows_error += 1
        self.totals.error_kinds[error.message] += 1
        if self.errors_kept < ERRORS_KEPT:
            self.errors_kept += 1
            self.pending_errors.append({
                "run_id": self.run_id,
                "file_name": file_name[:255],
                "row_number": number,
                "source_id": _SURROGATE.sub("\ufffd", str(source_id or ""))[:120],
                "message": error.message[:255],
                "params": {k: v if isinstance(v, int | float) else str(v) for k, v in error.params.items()},
            })

    def _flush_errors(self, errors: list[dict]) -> None:
        if errors:
            db.session.execute(ImportRowError.__table__.insert(), errors)

    def _store_counts(self) -> None:
        totals, read = self.totals, self.read
        self.run.report = {
            "by_centre": totals.by_centre,
            "outcomes": dict(totals.outcomes),
            "sla": {name: dict(counts) for name, counts in totals.sla.items()},
            "warnings": read.warnings,
            "error_kinds": dict(read.error_kinds.most_common(50)),
            "files": read.files,
            "uses_due": self.uses_due,
            "time_zone": self.settings["time_zone"],
            "campus_zone": self.campus.key,
            "other_day": totals.other_day,
            "encoding": self.encoding,
        }

    def _refresh_summary(self) -> None:
        """Count the dashboards' marked days again now, with the run's progress."""
        run = self.run
        run.phase = "summary"
        run.progress_done, run.progress_total = 0, 1
        db.session.commit()
        if self.progress is not None:
            self.progress(run)

        def progress(done, total):
            run.progress_done, run.progress_total = done, max(total, 1)
            run.heartbeat_at = self.clock()
            db.session.commit()
            if self.progress is not None:
                self.progress(run)

        # Rounds sized to about a second each (the database counts each
        # round's days, so a round costs what its requests do: docs/import.md).
        stats.refresh_all(progress=progress)


def _dry_source_policy():
    """Return the source-deadline rule on a UTC 24x7 calendar (a dry run stores no policy)."""
    from tracker.domain.calendar import BusinessCalendar
    from tracker.domain.sla_clock import Policy, TargetRule

    calendar = BusinessCalendar.from_dict(
        {"timezone": "UTC", "week": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    )
    return Policy(targets={Target.RESOLUTION: TargetRule(minutes={p: 1440.0 for p in Priority}, calendar=calendar)})


_DRY_SOURCE_POLICY = _dry_source_policy()


def _facts(row: _Row) -> list[Fact]:
    """Return the clock's facts of a row: what ``sla.facts_from`` reads from its imported events."""
    facts = [Fact(row.opened, status=Status.NEW, priority=row.priority)]
    if row.outcome in ("resolved", "closed"):
        facts.append(Fact(row.closed, status=Status.RESOLVED))
    if row.outcome == "closed":
        facts.append(Fact(row.closed, status=Status.CLOSED))
    elif row.outcome == "cancelled":
        facts.append(Fact(row.closed, status=Status.CANCELLED))
    return facts


def _event_text(ticket_id, kind: str, at, from_status: str | None, to_status: str, body, data) -> dict:
    """Return an imported event's row (no actor), its values already as text (no enum members)."""
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "actor_id": None,
        "created_at": at,
        "from_status": from_status,
        "to_status": to_status,
        "body": body,
        "data": data,
    }


# Enum members' values, looked up once (``member.value`` is a descriptor call: 2.5 million of them per
# Boston import before).
_VALUE = {member: member.value for kind in (Priority, Status, Target, TargetState) for member in kind}
_OUTCOME_STATUS = {"open": Status.NEW.value, "resolved": Status.RESOLVED.value, "closed": Status.CLOSED.value,
                   "cancelled": Status.CANCELLED.value}
_OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
_IMPORT = Source.IMPORT.value
_FILED, _STATUS_CHANGED = EventKind.FILED.value, EventKind.STATUS_CHANGED.value
_NEW, _RESOLVED, _CLOSED, _CANCELLED = (s.value for s in (Status.NEW, Status.RESOLVED, Status.CLOSED, Status.CANCELLED))


def _sla_row(ticket_id, target, clock, version_id, calendar_version_id, now) -> dict:
    return {
        "ticket_id": ticket_id,
        "target": _VALUE[target],
        "policy_version_id": version_id,
        "calendar_version_id": calendar_version_id,
        "priority": _VALUE[clock.priority],
        "target_minutes": clock.target_minutes,
        "state": _VALUE[clock.state],
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "at_risk_at": clock.at_risk_at,
        "milestone_at": clock.milestone_at,
        "elapsed_minutes": round(clock.elapsed_minutes, 4),
        "paused_minutes": round(sum(clock.paused_minutes.values()), 4),
        "is_pause_capped": bool(clock.capped_reasons),
        # Frozen at "as of": the sweep does not escalate history.
        "next_check_at": None,
        "computed_at": now,
    }


def _complete(table, rows: list[dict]) -> list[dict]:
    """Give every row the columns it lacks, with their Python-side defaults (COPY applies none)."""
    if not rows:
        return rows
    missing = {}
    for column in table.columns:
        if column.name in rows[0] or column.primary_key or column.default is None:
            continue
        default = column.default
        if getattr(default, "is_scalar", False):
            missing[column.name] = default.arg
        elif getattr(default, "is_callable", False):
            missing[column.name] = default.arg(None)
    if missing:
        for row in rows:
            for name, value in missing.items():
                row[name] = value
    return rows


def _reserve_numbers(prefix: str, year: int, count: int) -> int:
    """Reserve ``count`` reference numbers of (prefix, year); return the first.

    A ``count`` of 0 reserves nothing: it only takes the counter's row lock
    (creating the counter at 0), held until the caller's transaction ends.
    """
    counters = ReferenceCounter.__table__
    bump = (
        update(counters)
        .where(counters.c.prefix == prefix, counters.c.year == year)
        .values(last_value=counters.c.last_value + count)
        .returning(counters.c.last_value)
    )
    value = db.session.execute(bump).scalar_one_or_none()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(ReferenceCounter(prefix=prefix, year=year, last_value=count))
            value = count
        except IntegrityError:
            value = db.session.execute(bump).scalar_one()
    return value - count + 1


def zone_names() -> list[str]:
    """Return the IANA time zone names, sorted (the forms' choices)."""
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def utc_from_local(value: datetime, zone: str) -> datetime:
    """Return a naive local datetime in ``zone`` as aware UTC (the "as of" fields)."""
    instant, _ = SourceClock(zone, [ISO]).localize(value)
    return instant.astimezone(UTC)


def ensure_aware(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        return utc_from_local(value, zone)
    return value.astimezone(ZoneInfo("UTC"))
