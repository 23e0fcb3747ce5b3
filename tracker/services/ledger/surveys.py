"""Survey responses: import them from CSV or xlsx, browse them, turn them into rectification items.

An import is an uploaded file (``upload``) and its last run: a dry run
that only counts and reports what it would do, or the import itself
(``start_run``). A run reads the file as a stream (CSV through the csv
module, xlsx through openpyxl's read-only mode), checks every row against
the column mapping, and writes in batches, one transaction each, with its
progress; small files run during the request, larger ones in a worker
(task ``surveys.run_import``). Row errors keep their row number (the header
is row 1) and an untranslated message, shown in the reader's language.

Idempotent: every response has a unique ``row_key``, the sha256 of the
survey's name and either the row's response id (when a column is mapped
to it) or the row's mapped values and how many identical rows came before
it in the file. Importing the same row again — the same file, the same
data saved as xlsx instead of CSV, or a later export that repeats it — is
counted as a duplicate and writes nothing.

Who: centre heads for their centres (rows about another centre are row
errors), leadership and administrators for every centre. Requesters,
technicians and dispatchers see no survey data.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import Select, delete, func, select, update

from tracker.domain.i18n import N_
from tracker.domain.rectification import Source
from tracker.domain.roles import Role
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Centre,
    ImportStatus,
    RectificationItem,
    SurveyImport,
    SurveyImportError,
    SurveyMapping,
    SurveyResponse,
    SurveyTopic,
    User,
)
from tracker.queueing import publish_after_commit
from tracker.services import bulk
from tracker.services.ledger import rectification as ledger
from tracker.services.requests import catalog

log = logging.getLogger(__name__)

# Who reads survey data at all; centre heads only their centres'.
READERS = (Role.CENTRE_HEAD, Role.LEADERSHIP, Role.ADMIN)
READ_ALL = (Role.LEADERSHIP, Role.ADMIN)

# (field, label). The centre is required (a column or a fixed centre).
FIELDS = (
    ("response_id", N_("Response id")),
    ("respondent", N_("Respondent")),
    ("submitted_on", N_("Date")),
    ("centre", N_("Service centre")),
    ("topic", N_("Topic")),
    ("score", N_("Score")),
    ("comment", N_("Comment (free text)")),
)
FIELD_NAMES = tuple(name for name, _label in FIELDS)
FIELD_LABELS = dict(FIELDS)

# Header words that suggest a field (lower case, English and Chinese), for the first mapping of a file.
GUESSES = {
    "response_id": ("response id", "response", "id", "序号", "编号", "答卷编号", "问卷编号"),
    "respondent": ("respondent", "name", "identity", "role", "身份", "姓名", "填写人", "答题人"),
    "submitted_on": ("date", "submitted", "time", "日期", "提交时间", "填写时间", "时间"),
    "centre": ("centre", "center", "service centre", "department", "中心", "服务中心", "部门"),
    "topic": ("topic", "subject", "question", "aspect", "主题", "问题", "方面", "类别"),
    "score": ("score", "rating", "satisfaction", "评分", "得分", "满意度", "分数"),
    "comment": ("comment", "comments", "suggestion", "feedback", "text", "意见", "建议", "意见建议", "留言"),
}

SUFFIXES = (".csv", ".xlsx")
SURVEY_MAX = 120
TEXT_MAX = 120
COMMENT_MAX = 5000
BATCH_SIZE = 500
ERRORS_KEPT = 5000
PREVIEW_ROWS = 20
SAMPLE_ROWS = 5
RESPONSES_PER_ITEM_MAX = 200
NUMERIC_DATE = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:$|[ T])")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
# A run silent this long has died; a pending one is simply published again.
STALLED_AFTER = timedelta(minutes=10)
DEFAULT_SETTINGS = {"centre_id": None, "date_format": "", "score_min": 1, "score_max": 5}


class ImportFailed(Exception):
    """A run cannot go on (the file vanished or cannot be read); the message says why, in English."""


# ---------------------------------------------------------------- who sees what


def centre_scope(user: User) -> set[int] | None:
    """Return the centres whose survey data ``user`` reads, None for every centre."""
    if not user.is_active:
        return set()
    if user.has_any_role(*READ_ALL):
        return None
    return user.centre_ids(Role.CENTRE_HEAD)


def may_read(user: User) -> bool:
    """Return whether ``user`` reads survey data at all."""
    return user.is_active and user.has_any_role(*READERS)


def visible_responses(user: User) -> Select:
    """Return a select of the responses ``user`` may read."""
    query = select(SurveyResponse)
    scope = centre_scope(user)
    if scope is None:
        return query
    return query.where(SurveyResponse.centre_id.in_(sorted(scope) or [-1]))


def can_view_response(user: User, response: SurveyResponse) -> bool:
    scope = centre_scope(user)
    return scope is None or response.centre_id in scope


def get_response(response_id: int, user: User) -> SurveyResponse:
    """Return a response; NotFound also when ``user`` may not see it."""
    response = db.session.get(SurveyResponse, response_id)
    if response is None or not can_view_response(user, response):
        raise NotFound(N_("No survey response #%(id)s that you can see."), id=response_id)
    return response


def readable_centres(user: User) -> list[Centre]:
    scope = centre_scope(user)
    return [c for c in catalog.all_centres() if scope is None or c.id in scope]


def topics(user: User, centre_id: int | None = None) -> list[str]:
    """Return the distinct topics of the responses ``user`` reads (of one centre when given)."""
    query = visible_responses(user).with_only_columns(SurveyResponse.topic).where(SurveyResponse.topic != "")
    if centre_id is not None:
        query = query.where(SurveyResponse.centre_id == centre_id)
    return list(db.session.execute(query.distinct().order_by(SurveyResponse.topic).limit(500)).scalars())


# ---------------------------------------------------------------- topic names


TOPIC_MAX = 120


def topic_names() -> dict[str, SurveyTopic]:
    """Return every named topic by its key (the text as imported): a few dozen rows, read once per page."""
    return {row.key: row for row in db.session.execute(select(SurveyTopic)).scalars()}


def topic_label(key: str | None, locale: str | None, names: dict[str, SurveyTopic]) -> str:
    """Return a response's topic in ``locale`` (the other language when empty); as imported when not named."""
    row = names.get(key or "")
    return row.name_for(locale) if row is not None else (key or "")


def all_topics() -> list[tuple[str, SurveyTopic | None]]:
    """Return every topic the responses use or an administrator named, by key, with its names if any."""
    names = topic_names()
    used = db.session.execute(select(SurveyResponse.topic).where(SurveyResponse.topic != "").distinct()).scalars()
    return [(key, names.get(key)) for key in sorted(set(used) | names.keys())]


def name_topic(key: str, *, name_zh: str, name_en: str, actor: User | None, now: datetime) -> SurveyTopic:
    """Give a topic (as responses name it) its name in each language; commit.

    One language is enough: readers of the other see it. Raises
    PermissionDenied (not an administrator), ValidationFailed.
    """
    from tracker.services.audit import require_admin

    require_admin(actor)
    key = (key or "").strip()
    name_zh, name_en = (name_zh or "").strip(), (name_en or "").strip()
    if not key or len(key) > TOPIC_MAX:
        raise ValidationFailed(N_("Choose a topic."))
    if not name_zh and not name_en:
        raise ValidationFailed(N_("Give the name in Chinese, in English or in both."))
    if len(name_zh) > TOPIC_MAX or len(name_en) > TOPIC_MAX:
        raise ValidationFailed(N_("A name has at most %(max)d characters."), max=TOPIC_MAX)
    row = db.session.execute(select(SurveyTopic).where(SurveyTopic.key == key)).scalar_one_or_none()
    if row is None:
        row = SurveyTopic(key=key)
        db.session.add(row)
    row.name_zh, row.name_en = name_zh, name_en
    db.session.commit()
    return row


def surveys(user: User) -> list[str]:
    """Return the names of the surveys whose responses ``user`` reads."""
    query = visible_responses(user).with_only_columns(SurveyResponse.survey)
    return list(db.session.execute(query.distinct().order_by(SurveyResponse.survey).limit(500)).scalars())


@dataclass
class Filters:
    centre_id: int | None = None
    topic: str | None = None
    survey: str | None = None
    score_max: int | None = None
    linked: str | None = None  # "yes", "no" or None
    q: str | None = None


def filtered(user: User, filters: Filters) -> Select:
    """Return the responses ``user`` reads that match ``filters``, newest first."""
    query = visible_responses(user)
    if filters.centre_id is not None:
        query = query.where(SurveyResponse.centre_id == filters.centre_id)
    if filters.topic:
        query = query.where(SurveyResponse.topic == filters.topic)
    if filters.survey:
        query = query.where(SurveyResponse.survey == filters.survey)
    if filters.score_max is not None:
        query = query.where(SurveyResponse.score <= filters.score_max)
    if filters.linked == "yes":
        query = query.where(SurveyResponse.rectification_item_id.is_not(None))
    elif filters.linked == "no":
        query = query.where(SurveyResponse.rectification_item_id.is_(None))
    if filters.q:
        term = f"%{filters.q.strip()}%"
        query = query.where(SurveyResponse.comment.ilike(term) | SurveyResponse.topic.ilike(term))
    return query.order_by(SurveyResponse.submitted_on.desc().nulls_last(), SurveyResponse.id.desc())


def count(query: Select) -> int:
    return db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()


def responses_of_item(item: RectificationItem, user: User) -> tuple[list[SurveyResponse], int]:
    """Return the responses an item came from that ``user`` may read, and how many others there are."""
    rows = list(db.session.execute(
        select(SurveyResponse).where(SurveyResponse.rectification_item_id == item.id).order_by(SurveyResponse.id)
    ).scalars())
    if not may_read(user):
        return [], len(rows)
    shown = [r for r in rows if can_view_response(user, r)]
    return shown, len(rows) - len(shown)


# ---------------------------------------------------------------- mappings


def all_mappings() -> list[SurveyMapping]:
    return list(db.session.execute(select(SurveyMapping).order_by(SurveyMapping.name)).scalars())


def get_mapping(mapping_id: int) -> SurveyMapping:
    mapping = db.session.get(SurveyMapping, mapping_id)
    if mapping is None:
        raise NotFound()
    return mapping


def guess_columns(header: list[str]) -> dict[str, str]:
    """Return a first mapping of a file's header: each field to the first column whose name suggests it."""
    found: dict[str, str] = {}
    taken: set[str] = set()
    normalised = [(h, _norm(h)) for h in header if h]
    for name in FIELD_NAMES:
        for word in GUESSES[name]:
            column = next((h for h, n in normalised if n == word and h not in taken), None)
            if column is None and len(word) > 2:
                column = next((h for h, n in normalised if word in n and h not in taken), None)
            if column is not None:
                found[name] = column
                taken.add(column)
                break
    return found


def check_mapping(columns: dict, settings: dict, header: list[str]) -> tuple[dict, dict]:
    """Return a mapping's columns and settings checked against a file's header; ValidationFailed otherwise."""
    cleaned = {}
    for name, column in (columns or {}).items():
        column = (column or "").strip()
        if name not in FIELD_NAMES or not column:
            continue
        if column not in header:
            raise ValidationFailed(N_("The file has no column “%(column)s” (field “%(field)s”)."), column=column,
                                   field=FIELD_LABELS[name])
        cleaned[name] = column
    chosen = Counter(cleaned.values())
    for column in cleaned.values():
        if chosen[column] > 1:
            raise ValidationFailed(N_("The column “%(column)s” is chosen for two fields."), column=column)
    result = dict(DEFAULT_SETTINGS)
    centre_id = (settings or {}).get("centre_id")
    if centre_id not in (None, ""):
        centre = db.session.get(Centre, int(centre_id))
        if centre is None:
            raise ValidationFailed(N_("Choose a service centre from the list."))
        result["centre_id"] = centre.id
    if "centre" not in cleaned and result["centre_id"] is None:
        raise ValidationFailed(N_("Choose the column that names the service centre, or one centre for the whole file."))
    if "score" not in cleaned and "comment" not in cleaned:
        raise ValidationFailed(N_("Choose the column of the score or of the comment (or both)."))
    date_format = ((settings or {}).get("date_format") or "").strip()
    if date_format:
        if "%" not in date_format or len(date_format) > 40:
            raise ValidationFailed(N_("Write the date format like %(example)s, or leave it empty."), example="%d/%m/%Y")
        try:
            datetime(2026, 1, 2).strftime(date_format)
        except ValueError:
            raise ValidationFailed(N_("Write the date format like %(example)s, or leave it empty."), example="%d/%m/%Y") from None
    result["date_format"] = date_format
    try:
        low = int((settings or {}).get("score_min", 1))
        high = int((settings or {}).get("score_max", 5))
    except (TypeError, ValueError):
        low, high = 1, 0
    if not (0 <= low < high <= 100):
        raise ValidationFailed(N_("The score scale runs from a lower to a higher whole number, 0 to 100."))
    result["score_min"], result["score_max"] = low, high
    return cleaned, result


def _save_mapping(name: str, columns: dict, settings: dict, *, actor: User, now: datetime) -> SurveyMapping:
    """Save (or replace) a mapping under ``name`` (no commit)."""
    name = " ".join((name or "").split())[:120]
    mapping = db.session.execute(select(SurveyMapping).where(SurveyMapping.name == name)).scalar_one_or_none()
    if mapping is None:
        mapping = SurveyMapping(name=name, created_by_id=actor.id, created_at=now)
        db.session.add(mapping)
    mapping.columns = dict(columns)
    mapping.settings = dict(settings)
    mapping.updated_at = now
    db.session.flush()
    return mapping


# ---------------------------------------------------------------- files


def upload_dir() -> Path:
    config = current_app.config
    folder = Path(config.get("SURVEY_UPLOAD_DIR") or Path(config["INSTANCE_PATH"]) / "survey-uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _suffix(name: str) -> str:
    lower = (name or "").lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    raise ValidationFailed(N_("%(name)s is not a CSV or xlsx file."), name=name or "?")


def _detect_encoding(path: Path) -> str:
    """Return utf-8-sig when the whole file decodes as UTF-8, else gb18030 (Chinese Excel's CSV)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(64 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        with open(path, "rb") as fh:
            decoder = codecs.getincrementaldecoder("gb18030")()
            while chunk := fh.read(64 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "gb18030"
    except UnicodeDecodeError:
        raise ValidationFailed(N_("The CSV file is neither UTF-8 nor GB18030 text.")) from None


def _detect_delimiter(path: Path, encoding: str) -> str:
    """Return the separator of a CSV file's header row: comma, semicolon or tab, whichever occurs most."""
    with open(path, encoding=encoding, newline="") as fh:
        first = fh.readline(64 * 1024)
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class _Reader:
    """A file's header and rows as lists of text values, read as a stream, with how far it has got."""

    def __init__(self, path: Path, suffix: str, encoding: str = "utf-8-sig", delimiter: str = ","):
        self.path = path
        self._closers: list[Callable] = []
        self._raw = None
        self.rows_read = 0
        self.rows_expected = 0
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            try:
                workbook = load_workbook(path, read_only=True, data_only=True)
            except Exception:  # zipfile, XML and openpyxl's own errors alike
                raise ValidationFailed(N_("The file cannot be read as an xlsx workbook.")) from None
            self._closers.append(workbook.close)
            sheet = workbook.worksheets[0]
            self.rows_expected = sheet.max_row or 0
            self._iter = ([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True))
        else:
            raw = open(path, "rb")  # noqa: SIM115  closed by close()
            self._raw = raw
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            self._closers.append(text.close)
            self._iter = csv.reader(text, delimiter=delimiter)
        try:
            first = next(self._iter)
        except StopIteration:
            first = []
        except (UnicodeDecodeError, csv.Error):
            self.close()
            raise ValidationFailed(N_("The first row of the file cannot be read.")) from None
        self.header = [str(h).strip() if h is not None else "" for h in first]

    def rows(self) -> Iterator[tuple[int, list]]:
        """Yield (row number as a spreadsheet shows it, values), skipping empty rows; the header is row 1."""
        number = 1
        try:
            for values in self._iter:
                number += 1
                self.rows_read += 1
                if not values or all(v in ("", None) for v in values):
                    continue
                yield number, values
        except (UnicodeDecodeError, csv.Error) as error:
            raise ImportFailed(f"after row {number}: cannot read on ({error})") from None

    @property
    def done(self) -> int:
        """Bytes read (CSV) or rows read (xlsx): the progress, in the unit of ``total``."""
        if self._raw is not None:
            try:
                return self._raw.tell()
            except (OSError, ValueError):
                return 0
        return self.rows_read

    @property
    def total(self) -> int:
        return self.path.stat().st_size if self._raw is not None else self.rows_expected

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except (OSError, ValueError):
                pass
        self._closers = []


def _cell(value):
    """Return an xlsx cell as text, keeping dates and datetimes."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def upload(stream, file_name: str, survey: str, *, actor: User, now: datetime) -> SurveyImport:
    """Store an uploaded file and read its header; commit; return the import.

    Raises PermissionDenied for users who do not import surveys,
    ValidationFailed for another kind of file, an unreadable or empty one,
    one over the size limit, or a missing survey name. Nothing is kept then.
    """
    if not may_read(actor):
        raise PermissionDenied(N_("You may not import survey responses."))
    survey = " ".join((survey or "").split())
    if not survey:
        raise ValidationFailed(N_("Name the survey, e.g. “Canteen satisfaction, autumn 2026”."))
    if len(survey) > SURVEY_MAX:
        raise ValidationFailed(N_("The survey's name is longer than %(max)d characters."), max=SURVEY_MAX)
    if stream is None:
        raise ValidationFailed(N_("Choose a CSV or xlsx file."))
    suffix = _suffix(file_name)
    limit = current_app.config["SURVEY_MAX_BYTES"]
    stored = f"{uuid.uuid4().hex}{suffix}"
    path = upload_dir() / stored
    size = 0
    try:
        with open(path, "wb") as fh:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(N_("The file is larger than %(mb)s MB."),
                                           mb=f"{limit / (1024 * 1024):.3g}")
                fh.write(chunk)
        if size == 0:
            raise ValidationFailed(N_("The file is empty."))
        with open(path, "rb") as fh:
            head = fh.read(4)
        if suffix == ".xlsx" and head != b"PK\x03\x04":
            raise ValidationFailed(N_("%(name)s is not an xlsx workbook, whatever its name says."), name=file_name)
        if suffix == ".csv" and head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            raise ValidationFailed(N_("%(name)s is a spreadsheet, not CSV text: save it as .xlsx or as CSV."),
                                   name=file_name)
        encoding = _detect_encoding(path) if suffix == ".csv" else ""
        delimiter = _detect_delimiter(path, encoding) if suffix == ".csv" else ","
        reader = _Reader(path, suffix, encoding or "utf-8-sig", delimiter)
        try:
            header = reader.header
            sample = []
            for _number, values in reader.rows():
                sample.append([v.isoformat() if isinstance(v, (date, datetime)) else str(v) for v in values])
                if len(sample) >= SAMPLE_ROWS:
                    break
        except ImportFailed:
            raise ValidationFailed(N_("The file cannot be read as CSV text.")) from None
        finally:
            reader.close()
        if not any(header):
            raise ValidationFailed(N_("The first row must name the columns; it is empty."))
        item = SurveyImport(
            survey=survey,
            file_name=(file_name or "")[-255:],
            stored_name=stored,
            file_bytes=size,
            file_info={"columns": header, "encoding": encoding, "delimiter": delimiter, "sample": sample},
            columns=guess_columns(header),
            settings=dict(DEFAULT_SETTINGS),
            status=ImportStatus.UPLOADED,
            is_dry_run=True,
            runs=0,
            created_by_id=actor.id,
            created_at=now,
            rows_total=0, rows_new=0, rows_duplicate=0, rows_error=0, progress_done=0, progress_total=0,
            preview=[],
            message="",
        )
        db.session.add(item)
        db.session.commit()
    except Exception:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return item


# ---------------------------------------------------------------- imports and runs


def can_view_import(user: User, item: SurveyImport) -> bool:
    return may_read(user) and (user.has_any_role(*READ_ALL) or item.created_by_id == user.id)


def get_import(import_id: int, user: User) -> SurveyImport:
    """Return an import its creator (or leadership, administrators) may see; NotFound otherwise."""
    item = db.session.get(SurveyImport, import_id)
    if item is None or not can_view_import(user, item):
        raise NotFound(N_("No survey import #%(id)s that you can see."), id=import_id)
    return item


def visible_imports(user: User) -> Select:
    query = select(SurveyImport).order_by(SurveyImport.id.desc())
    if user.has_any_role(*READ_ALL):
        return query
    return query.where(SurveyImport.created_by_id == user.id)


def row_errors(import_id: int, *, limit: int = 500) -> list[SurveyImportError]:
    return list(db.session.execute(
        select(SurveyImportError).where(SurveyImportError.import_id == import_id).order_by(SurveyImportError.id)
        .limit(limit)
    ).scalars())


def start_run(import_id: int, *, columns: dict, settings: dict, dry_run: bool, actor: User, now: datetime,
              save_as: str = "", inline: bool | None = None) -> SurveyImport:
    """Check the mapping and start a dry run or the import of an uploaded file; return the import.

    Small files (SURVEY_INLINE_MAX_BYTES) run now, in this call; larger
    ones are handed to a worker after the commit (``inline`` forces
    either). Raises ValidationFailed for a bad mapping, Conflict while a
    run is under way, NotFound when ``actor`` may not see the import.
    """
    item = get_import(import_id, actor)
    try:
        locked = db.session.execute(
            select(SurveyImport).where(SurveyImport.id == item.id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if locked.status is ImportStatus.RUNNING and not is_stalled(locked, now):
            raise Conflict(N_("This file is being read now; wait until it is done."))
        header = list(locked.file_info.get("columns") or [])
        cleaned, checked = check_mapping(columns, settings, header)
        if not (upload_dir() / locked.stored_name).is_file():
            raise ValidationFailed(N_("The uploaded file is not there any more; upload it again."))
        if save_as and save_as.strip():
            locked.mapping_id = _save_mapping(save_as, cleaned, checked, actor=actor, now=now).id
        locked.columns, locked.settings = cleaned, checked
        locked.is_dry_run = bool(dry_run)
        locked.status = ImportStatus.PENDING
        locked.runs = (locked.runs or 0) + 1
        locked.started_at = locked.heartbeat_at = locked.finished_at = None
        locked.rows_total = locked.rows_new = locked.rows_duplicate = locked.rows_error = 0
        locked.progress_done = locked.progress_total = 0
        locked.preview, locked.message = [], ""
        db.session.execute(delete(SurveyImportError).where(SurveyImportError.import_id == locked.id))
        if inline is None:
            inline = locked.file_bytes <= current_app.config["SURVEY_INLINE_MAX_BYTES"]
        if not inline:
            publish_after_commit("surveys.run_import", locked.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if inline:
        execute_run(locked.id, clock=lambda: now)
    return db.session.get(SurveyImport, import_id)


def is_stalled(item: SurveyImport, now: datetime) -> bool:
    """Return whether a running run stopped writing its heartbeat (its worker died): it may be started again."""
    last = item.heartbeat_at or item.started_at
    return item.status is ImportStatus.RUNNING and (last is None or last < now - STALLED_AFTER)


def execute_run(import_id: int, *, clock: Callable[[], datetime] | None = None,
                batch_size: int = BATCH_SIZE) -> SurveyImport | None:
    """Run a pending run to its end; return the import, or None when another worker has (or had) it.

    Safe to call twice: only one caller claims the run. Each batch commits
    with the progress; a failure marks the run failed and keeps what was
    written (running it again skips those rows as duplicates).
    """
    from tracker.clock import utcnow

    clock = clock or utcnow
    claimed = db.session.execute(
        update(SurveyImport)
        .where(SurveyImport.id == import_id, SurveyImport.status == ImportStatus.PENDING)
        .values(status=ImportStatus.RUNNING, started_at=clock(), heartbeat_at=clock())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    item = db.session.get(SurveyImport, import_id)
    db.session.refresh(item)
    try:
        _Run(item, clock=clock, batch_size=batch_size).execute()
    except Exception as error:
        db.session.rollback()
        item = db.session.get(SurveyImport, import_id)
        item.status = ImportStatus.FAILED
        item.finished_at = clock()
        item.message = (str(error) if isinstance(error, ImportFailed) else f"{type(error).__name__}: {error}")[:4000]
        db.session.commit()
        if not isinstance(error, ImportFailed):
            log.exception("survey import %s failed", import_id)
    return item


class _RowError(Exception):
    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params


def _norm(value) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(value or "")).split()).casefold()


def _text(value) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return " ".join(str(value or "").split()) if "\n" not in str(value or "") else str(value or "").strip()


class _Run:
    """Read, check and (unless dry) write one run of an import."""

    def __init__(self, item: SurveyImport, *, clock, batch_size: int):
        self.item = item
        self.id = item.id
        self.dry = item.is_dry_run
        self.clock = clock
        self.batch_size = batch_size
        self.columns: dict = item.columns
        self.settings: dict = item.settings
        self.survey = item.survey
        self.survey_key = _norm(item.survey)
        self.path = upload_dir() / item.stored_name
        self.suffix = _suffix(item.stored_name)
        self.encoding = item.file_info.get("encoding") or "utf-8-sig"
        self.delimiter = item.file_info.get("delimiter") or ","
        actor = db.session.get(User, item.created_by_id) if item.created_by_id else None
        self.scope = centre_scope(actor) if actor is not None else set()
        self.centres = self._centre_lookup()
        self.fixed_centre = self.settings.get("centre_id")
        self.low, self.high = int(self.settings.get("score_min", 1)), int(self.settings.get("score_max", 5))
        self.date_format = self.settings.get("date_format") or ""
        self.ids_seen: dict[str, int] = {}
        self.occurrences: Counter = Counter()
        self.totals = Counter()
        self.errors_stored = 0
        self.preview: list[dict] = []

    def _centre_lookup(self) -> dict[str, Centre]:
        found = {}
        for centre in catalog.all_centres():
            for name in (centre.code, centre.name_en, centre.name_zh):
                if name:
                    found.setdefault(_norm(name), centre)
        return found

    def execute(self) -> None:
        if not self.path.is_file():
            raise ImportFailed(f"{self.item.file_name}: the uploaded file is not there any more")
        try:
            reader = _Reader(self.path, self.suffix, self.encoding, self.delimiter)
        except ValidationFailed as error:
            raise ImportFailed(f"{self.item.file_name}: {error}") from None
        try:
            index = {name: reader.header.index(column) for name, column in self.columns.items()
                     if column in reader.header}
            missing = sorted(set(self.columns) - set(index))
            if missing:
                raise ImportFailed(f"{self.item.file_name}: the columns of {', '.join(missing)} are gone")
            total = reader.total
            batch: list[dict] = []
            errors: list[dict] = []
            for number, values in reader.rows():
                self.totals["rows"] += 1
                try:
                    batch.append(self._parse(number, values, index))
                except _RowError as error:
                    self.totals["errors"] += 1
                    if self.errors_stored + len(errors) < ERRORS_KEPT:
                        errors.append({"import_id": self.id, "row_number": number, "message": error.message,
                                       "params": error.params})
                if len(batch) + len(errors) >= self.batch_size:
                    self._write(batch, errors, reader.done, total)
                    batch, errors = [], []
            self._write(batch, errors, reader.done, total, last=True)
        finally:
            reader.close()

    # ------------------------------------------------------------ one row

    def _cell(self, values: list, index: dict, name: str):
        position = index.get(name)
        if position is None or position >= len(values):
            return ""
        return values[position]

    def _parse(self, number: int, values: list, index: dict) -> dict:
        cell = lambda name: self._cell(values, index, name)  # noqa: E731
        response_ref = _text(cell("response_id"))
        if "response_id" in index:
            if not response_ref:
                raise _RowError(N_("The response id is empty."))
            if len(response_ref) > TEXT_MAX:
                raise _RowError(N_("The response id is longer than %(max)d characters."), max=TEXT_MAX)
            first = self.ids_seen.get(response_ref)
            if first is not None:
                raise _RowError(N_("The response id “%(value)s” is on row %(row)d already."), value=response_ref,
                                row=first)
        centre = self._centre(cell("centre"))
        topic = _text(cell("topic"))
        respondent = _text(cell("respondent"))
        for value, label in ((topic, FIELD_LABELS["topic"]), (respondent, FIELD_LABELS["respondent"])):
            if len(value) > TEXT_MAX:
                raise _RowError(N_("“%(field)s” is longer than %(max)d characters."), field=label, max=TEXT_MAX)
        submitted_on = self._date(cell("submitted_on"))
        score = self._score(cell("score"))
        comment = str(cell("comment") or "").strip()
        if len(comment) > COMMENT_MAX:
            raise _RowError(N_("The comment is longer than %(max)d characters."), max=COMMENT_MAX)
        if score is None and not comment:
            raise _RowError(N_("The row has neither a score nor a comment."))
        if response_ref:
            self.ids_seen[response_ref] = number
            identity = f"id\x1f{self.survey_key}\x1f{response_ref}"
        else:
            content = "\x1f".join([str(centre.id), _norm(topic), _norm(respondent),
                                   submitted_on.isoformat() if submitted_on else "",
                                   "" if score is None else str(score), _norm(comment)])
            self.occurrences[content] += 1
            identity = f"row\x1f{self.survey_key}\x1f{content}\x1f{self.occurrences[content]}"
        return {
            "row_key": hashlib.sha256(identity.encode()).hexdigest(),
            "survey": self.survey,
            "response_ref": response_ref,
            "centre_id": centre.id,
            "topic": topic,
            "respondent": respondent,
            "submitted_on": submitted_on,
            "score": score,
            "comment": comment,
            "import_id": self.id,
            "row_number": number,
        }

    def _centre(self, value) -> Centre:
        if self.fixed_centre is not None and (value in ("", None)):
            centre = db.session.get(Centre, self.fixed_centre)
        else:
            text = _text(value)
            if not text:
                raise _RowError(N_("No service centre is given."))
            centre = self.centres.get(_norm(text))
            if centre is None:
                raise _RowError(N_("Unknown service centre “%(value)s”: write its code or its name."),
                                value=text[:60])
        if self.scope is not None and centre.id not in self.scope:
            raise _RowError(N_("The row is about the centre “%(value)s”: you may import responses for your own "
                               "centre only."), value=_text(value)[:60] or centre.code)
        return centre

    def _date(self, value) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value)
        if not text:
            return None
        if not self.date_format:
            # The usual case, without strptime's cost: 2026-10-08, 2026/10/8, 2026.10.08 (and a time after).
            match = NUMERIC_DATE.match(text)
            if match:
                try:
                    return date(int(match[1]), int(match[3]), int(match[4]))
                except ValueError:
                    pass
        formats = (self.date_format,) if self.date_format else DATE_FORMATS
        candidates = [text]
        if not self.date_format:
            # "2026-10-08 14:05:33" and "2026-10-08T14:05": the day is what counts.
            candidates.append(re.split(r"[ T]", text, maxsplit=1)[0])
        for candidate in candidates:
            for fmt in formats:
                try:
                    return datetime.strptime(candidate, fmt).date()
                except ValueError:
                    continue
        if self.date_format:
            raise _RowError(N_("The date “%(value)s” does not read as %(format)s."), value=text[:40],
                            format=self.date_format)
        raise _RowError(N_("The date “%(value)s” cannot be read: write it as YYYY-MM-DD."), value=text[:40])

    def _score(self, value) -> int | None:
        text = _text(value)
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is None or not number.is_integer() or not self.low <= number <= self.high:
            raise _RowError(N_("The score “%(value)s” is not a whole number from %(low)d to %(high)d."),
                            value=text[:20], low=self.low, high=self.high)
        return int(number)

    # ------------------------------------------------------------ one batch

    def _write(self, batch: list[dict], errors: list[dict], done: int, total: int, *, last: bool = False) -> None:
        """Write a batch (or, dry, count what it would write), its errors and the progress; commit."""
        now = self.clock()
        keys = [r["row_key"] for r in batch]
        if self.dry:
            existing = set(db.session.execute(
                select(SurveyResponse.row_key).where(SurveyResponse.row_key.in_(keys))
            ).scalars()) if keys else set()
            new = len(keys) - len(existing)
        else:
            rows = [r | {"created_at": now} for r in batch]
            inserted = bulk.insert_ignoring_conflicts(SurveyResponse.__table__, rows, conflict=["row_key"],
                                                      returning=["row_key"])
            existing = set(keys) - {r[0] for r in inserted}
            new = len(inserted)
        self.totals["new"] += new
        self.totals["duplicate"] += len(keys) - new
        for row in batch:
            if len(self.preview) >= PREVIEW_ROWS:
                break
            self.preview.append({
                "row": row["row_number"], "centre_id": row["centre_id"], "topic": row["topic"],
                "respondent": row["respondent"],
                "submitted_on": row["submitted_on"].isoformat() if row["submitted_on"] else "",
                "score": row["score"], "comment": row["comment"][:300], "response_ref": row["response_ref"],
                "duplicate": row["row_key"] in existing,
            })
        if errors:
            bulk.insert(SurveyImportError.__table__, errors)
            self.errors_stored += len(errors)
        values = {
            "rows_total": self.totals["rows"], "rows_new": self.totals["new"],
            "rows_duplicate": self.totals["duplicate"], "rows_error": self.totals["errors"],
            "progress_done": done if not last else total, "progress_total": total, "preview": self.preview,
            "heartbeat_at": now,
        }
        if last:
            values.update(status=ImportStatus.DONE, finished_at=now)
        db.session.execute(update(SurveyImport).where(SurveyImport.id == self.id).values(**values)
                           .execution_options(synchronize_session=False))
        db.session.commit()


# ---------------------------------------------------------------- responses -> rectification item


def selected_responses(response_ids: Iterable, user: User) -> list[SurveyResponse]:
    """Return the responses chosen (ids), each once, in the order given.

    Raises ValidationFailed when none is chosen, too many are, or one does
    not exist or is hidden from ``user`` (the two are not told apart).
    """
    wanted: list[int] = []
    for value in response_ids:
        text = str(value).strip()
        if not text.isdigit():
            raise ValidationFailed(N_("Choose responses from the list."))
        if int(text) not in wanted:
            wanted.append(int(text))
    if not wanted:
        raise ValidationFailed(N_("Choose at least one response."))
    if len(wanted) > RESPONSES_PER_ITEM_MAX:
        raise ValidationFailed(N_("Choose at most %(max)d responses at once."), max=RESPONSES_PER_ITEM_MAX)
    found = {r.id: r for r in db.session.execute(
        select(SurveyResponse).where(SurveyResponse.id.in_(wanted))).scalars()}
    result = []
    for response_id in wanted:
        response = found.get(response_id)
        if response is None or not can_view_response(user, response):
            raise ValidationFailed(N_("No survey response #%(id)s that you can see."), id=response_id)
        result.append(response)
    return result


def source_ref(responses: list[SurveyResponse]) -> str:
    """Return the source reference of an item opened from ``responses``: their surveys and ids."""
    names = list(dict.fromkeys(r.survey for r in responses))
    ids = ", ".join(f"#{r.id}" for r in responses)
    text = f"{'; '.join(names)} — {ids}"
    return text if len(text) <= ledger.SOURCE_REF_MAX else text[: ledger.SOURCE_REF_MAX - 1] + "…"


def create_item(response_ids: Iterable, new: ledger.NewItem, *, actor: User, now: datetime) -> RectificationItem:
    """Open a rectification item from survey responses and link them to it, in one transaction; return it.

    The item is opened by the ledger (``services.rectification.create_item``,
    source "survey"), which commits itself: the responses are linked from a
    hook on that commit, so the item and its links are stored together or
    not at all. Raises what the ledger raises, ValidationFailed for a
    response ``actor`` cannot see, Conflict for a response that belongs to
    an item already.
    """
    from sqlalchemy import event

    if not may_read(actor):
        raise PermissionDenied(N_("You may not read survey responses."))
    try:
        responses = selected_responses(response_ids, actor)
        for response in responses:
            if response.rectification_item_id is not None:
                item = db.session.get(RectificationItem, response.rectification_item_id)
                raise Conflict(N_("Response #%(id)s belongs to item %(reference)s already."), id=response.id,
                               reference=item.reference if item else "?")
    except Exception:
        db.session.rollback()
        raise
    ids = [r.id for r in responses]
    new.source = Source.SURVEY
    if not (new.source_ref or "").strip():
        new.source_ref = source_ref(responses)
    session = db.session()
    created: list[RectificationItem] = []

    def collect(sess, _context):
        created.extend(o for o in sess.new if isinstance(o, RectificationItem))

    def link(sess):
        if sess.in_nested_transaction():
            return  # a savepoint inside the ledger's call (its reference counter), not its commit
        if len(created) != 1:
            raise RuntimeError("the ledger opened no item, or several, in one call")
        linked = sess.execute(
            update(SurveyResponse)
            .where(SurveyResponse.id.in_(ids), SurveyResponse.rectification_item_id.is_(None))
            .values(rectification_item_id=created[0].id, linked_at=now, linked_by_id=actor.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if linked != len(ids):
            # Someone linked one of them in the meantime: the item is not stored either.
            raise Conflict(N_("One of the responses was turned into an item by someone else a moment ago."))

    event.listen(session, "after_flush", collect)
    event.listen(session, "before_commit", link)
    try:
        item = ledger.create_item(new, actor=actor, now=now)
    finally:
        event.remove(session, "after_flush", collect)
        event.remove(session, "before_commit", link)
    for response in responses:
        db.session.expire(response)
    return item


# ---------------------------------------------------------------- demo data

DEMO_SURVEY = "Campus logistics satisfaction survey, autumn"
# (centre code, topic, score, comment): what students and staff write in such a survey.
DEMO_ANSWERS = (
    ("business", "Shuttle bus timetable", 1, "The first shuttle from the east gate leaves at 7:50; staff start at 8:00."),
    ("business", "Shuttle bus timetable", 2, "No shuttle after 17:30 although many labs work until 18:00."),
    ("business", "Shuttle bus timetable", 2, "Please add a 17:45 departure to the west campus."),
    ("business", "Self-service machines", 1, "The laundry machines in building 5 take the card but do not start."),
    ("business", "Self-service machines", 2, "The vending machine near the library has been broken for a month."),
    ("business", "Online booking", 4, "Booking a shuttle seat online works well."),
    ("catering", "Food quality", 3, "Dishes are often cold by 12:30 at the second canteen."),
    ("catering", "Canteen service", 2, "The card readers at the first canteen fail at lunchtime."),
    ("catering", "Food quality", 5, "Much better choice of vegetarian dishes this term."),
    ("dorm", "Hot water", 1, "No hot water after 22:00 in building 3."),
    ("dorm", "Hot water", 2, "Showers are cold in the evening; please check the boiler schedule."),
    ("dorm", "Hygiene", 3, "The shared washrooms on floor 4 are cleaned only twice a week."),
    ("repairs", "Response time", 5, "The air-conditioning was fixed within two hours."),
    ("repairs", "Air-conditioning", 2, "The air-conditioner in the lecture hall drips onto the seats."),
    ("property", "Lifts", 2, "The lift in the teaching building stops between floors."),
    ("gardens", "Fallen trees", 4, "Branches after the storm were cleared the same morning."),
    ("general", "Meeting rooms", 3, "Room booking confirmations arrive late."),
    ("finance", "Reimbursements", 2, "Reimbursement takes more than a month; nobody says where it is."),
)

# The demo's topics in each language (key: as the demo file writes them, in English).
DEMO_TOPICS = {
    "Shuttle bus timetable": "班车时刻表",
    "Self-service machines": "自助设备",
    "Online booking": "网上预约",
    "Food quality": "饭菜质量",
    "Canteen service": "食堂服务",
    "Hot water": "热水供应",
    "Hygiene": "卫生保洁",
    "Response time": "响应速度",
    "Air-conditioning": "空调",
    "Lifts": "电梯",
    "Fallen trees": "倒伏树木",
    "Meeting rooms": "会议室",
    "Reimbursements": "报销",
}


def seed_demo(now: datetime) -> int:
    """Add the demo survey's responses, one per answer, over the last weeks; commit; return how many."""
    from tracker.services.insight import reports

    centres = {c.code: c.id for c in catalog.all_centres()}
    today = reports.local_day(now)
    rows = []
    for n, (code, topic, score, comment) in enumerate(DEMO_ANSWERS, start=1):
        if code not in centres:
            continue
        identity = f"id\x1f{_norm(DEMO_SURVEY)}\x1fD-{n:04d}"
        rows.append({
            "row_key": hashlib.sha256(identity.encode()).hexdigest(), "survey": DEMO_SURVEY,
            "response_ref": f"D-{n:04d}", "centre_id": centres[code], "topic": topic,
            "respondent": "staff" if n % 3 == 0 else "student", "submitted_on": today - timedelta(days=3 + n % 20),
            "score": score, "comment": comment, "import_id": None, "row_number": n + 1, "created_at": now,
        })
    inserted = bulk.insert_ignoring_conflicts(SurveyResponse.__table__, rows, conflict=["row_key"],
                                              returning=["id"])
    bulk.insert_ignoring_conflicts(SurveyTopic.__table__, [
        {"key": key, "name_en": key, "name_zh": zh} for key, zh in DEMO_TOPICS.items()
    ], conflict=["key"], returning=["id"])
    db.session.commit()
    return len(inserted)
