"""Importing historical tickets: saved column mappings, runs and their row errors.

A mapping says how a source's files read: which column holds what, the
source's time zone and date formats, how to find (or create) the centre and
category, and where the SLA comes from (the policies in force, or the
source's own due time). A run imports (or, dry, only checks) some files with
a copy of the mapping as it was then; its row errors keep their file and
row number. Imported tickets carry ``tickets.source_key`` so that importing
the same row again never makes a second ticket.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class RunStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportMapping(db.Model):
    """How one kind of source file is read; saved, reused, duplicated.

    ``columns`` maps a field (``services.importer.FIELDS``) to a column name
    of the header row. ``rules``::

        {"centre": {"fixed": null, "values": {"Public Works": "repairs"},
                    "create_missing": true, "code_prefix": "bos-"},
         "category": {"fixed": null, "values": {}, "create_missing": true,
                      "code_prefix": "", "policy": "standard"},
         "status": {"Closed": "closed", "Open": "open"},
         "priority": {"1": "urgent"},
         "close_before_open_seconds": 60}
    """

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # First part of each ticket's source key: "<source_system>:<row id>".
    source_system: Mapped[str] = mapped_column(String(32))
    time_zone: Mapped[str] = mapped_column(String(64))
    date_formats: Mapped[list] = mapped_column(JSON, default=list)
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    default_priority: Mapped[str] = mapped_column(String(16), default="normal")
    # The requester of imported tickets (created, inactive, when missing).
    requester_username: Mapped[str] = mapped_column(String(64), default="import")
    # Shipped with the application (boston-311): reinstalled when missing.
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self):
        return f"<ImportMapping {self.code}>"


class ImportRun(db.Model):
    """One import (or dry run) of some files, with its progress and totals."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    mapping_id: Mapped[int | None] = mapped_column(ForeignKey("import_mappings.id", ondelete="SET NULL"), index=True)
    # The mapping as it was when the run was made: editing it later changes no run.
    settings: Mapped[dict] = mapped_column(JSON)
    # [{"name": shown name, "path": where it is stored, "bytes": size}]
    files: Mapped[list] = mapped_column(JSON)
    is_dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    # Open tickets' clocks are read at this instant (a late one is breached).
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(StrEnumType(RunStatus, 16), default=RunStatus.PENDING)
    # "rows" while reading, "summary" while the dashboards' days are counted.
    phase: Mapped[str] = mapped_column(String(16), default="rows")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written with every batch: a run whose heartbeat stopped has died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    # Rows whose source key was imported before (never a second ticket).
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rows_error: Mapped[int] = mapped_column(Integer, default=0)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # Counts per centre and category, outcomes, SLA results, created rows, warnings.
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    # Why a failed run stopped (not translated: an operator's message).
    message: Mapped[str] = mapped_column(Text, default="")

    mapping = relationship("ImportMapping")
    created_by = relationship("User")

    @property
    def percent(self) -> int:
        if self.status is RunStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))

    def __repr__(self):
        return f"<ImportRun {self.id} {self.status}>"


class ImportRowError(db.Model):
    """One refused row of a run: where it is and why (a msgid and its parameters)."""

    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_run_id_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    # As a spreadsheet numbers it: the header row is row 1.
    row_number: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str] = mapped_column(String(120), default="")
    message: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
