"""Questionnaire responses imported from CSV or xlsx, their imports, row errors and saved column mappings.

A response belongs to one centre and, once turned into a rectification
item, points at that item (one item per response; an item may come from
several responses). ``row_key`` makes an import idempotent: the same row of
the same survey imported again is recognised and skipped.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.centre import Bilingual
from tracker.models.types import StrEnumType, UTCDateTime


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # the file is stored; no run yet
    PENDING = "pending"  # a run waits for a worker
    RUNNING = "running"
    DONE = "done"  # the last run finished (dry or real)
    FAILED = "failed"


class SurveyMapping(db.Model):
    """A saved column mapping: which column of a file holds which field, and how to read it.

    ``columns`` maps a field (``services.surveys.FIELDS``) to a header;
    ``settings``: ``{"centre_id": fixed centre or null, "date_format": "",
    "score_min": 1, "score_max": 5}``.
    """

    __tablename__ = "survey_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SurveyImport(db.Model):
    """An uploaded file and its last run (a dry run or the import), with progress and totals."""

    __tablename__ = "survey_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Which questionnaire: part of every row's identity (row_key).
    survey: Mapped[str] = mapped_column(String(120))
    file_name: Mapped[str] = mapped_column(String(255))
    # Where the upload is kept (a generated name under SURVEY_UPLOAD_DIR).
    stored_name: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(Integer, default=0)
    # {"columns": [header names], "encoding": CSV text encoding, "sample": [first rows]}
    file_info: Mapped[dict] = mapped_column(JSON, default=dict)
    # The mapping of the last run, as it was then.
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    mapping_id: Mapped[int | None] = mapped_column(ForeignKey("survey_mappings.id", ondelete="SET NULL"))
    status: Mapped[ImportStatus] = mapped_column(StrEnumType(ImportStatus, 16), default=ImportStatus.UPLOADED)
    is_dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written with every batch: a run whose heartbeat stopped has died (its worker was killed).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    # Imported by the last run (a dry run: would be imported).
    rows_new: Mapped[int] = mapped_column(Integer, default=0)
    # Already imported before (same survey, same row): skipped.
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_error: Mapped[int] = mapped_column(Integer, default=0)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # A dry run's first rows as they would be stored: [{row, centre_id, topic, ...}].
    preview: Mapped[list] = mapped_column(JSON, default=list)
    # Why a run failed (an operator's message, not translated).
    message: Mapped[str] = mapped_column(Text, default="")

    created_by = relationship("User")

    @property
    def percent(self) -> int:
        if self.status is ImportStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))


class SurveyImportError(db.Model):
    """One refused row of an import's last run: its row number and why (a msgid and its parameters)."""

    __tablename__ = "survey_import_errors"
    __table_args__ = (Index("ix_survey_import_errors_import_id_id", "import_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("survey_imports.id", ondelete="CASCADE"))
    # As a spreadsheet numbers it: the header is row 1.
    row_number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict] = mapped_column(JSON, default=dict)


class SurveyResponse(db.Model):
    """One questionnaire response about one centre (and topic)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        Index("ix_survey_responses_centre_topic", "centre_id", "topic"),
        Index("ix_survey_responses_centre_submitted", "centre_id", "submitted_on"),
        Index("ix_survey_responses_item_id", "rectification_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the survey and the row's response id, or of its values and
    # their occurrence in the file: the same row imported twice is one response.
    row_key: Mapped[str] = mapped_column(String(64), unique=True)
    survey: Mapped[str] = mapped_column(String(120))
    response_ref: Mapped[str] = mapped_column(String(120), default="")
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"))
    topic: Mapped[str] = mapped_column(String(120), default="")
    respondent: Mapped[str] = mapped_column(String(120), default="")
    submitted_on: Mapped[date | None] = mapped_column(Date)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("survey_imports.id", ondelete="SET NULL"))
    row_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rectification_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("rectification_items.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    centre = relationship("Centre")
    item = relationship("RectificationItem")


class SurveyTopic(Bilingual, db.Model):
    """A questionnaire topic's name in each language.

    Responses keep their topic as the file wrote it; the topic whose
    ``key`` is that text gives the name pages show, in the reader's
    language (the other one when empty). A topic without a row shows as
    written.
    """

    __tablename__ = "survey_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name_en: Mapped[str] = mapped_column(String(120), default="")
    name_zh: Mapped[str] = mapped_column(String(120), default="")
