"""The benchmark register: published reference values of other campuses, and links to our standards.

Values are entered one by one or imported from CSV (the example is
``/work/shared/data/service-benchmarks/benchmarks.csv``, see
docs/standards.md). An import is all or nothing: with any bad row, every
bad row is reported by its number and nothing is stored; rows already in
the register (same source, service, class, target, limit, calendar and
share) are skipped, so a file can be imported again.

Who: administrators and centre heads add values; an administrator or the
one who added a value removes it. A centre head links their centre's
standards (``drafts.may_edit``) to benchmarks; leadership reads.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from tracker.domain.i18n import N_, Label
from tracker.domain.roles import Role
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import Priority
from tracker.errors import NotFound, PermissionDenied, TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.models import Benchmark, BenchmarkLink, SlaPolicy, User
from tracker.services.audit import act_as
from tracker.services.sla.standards import drafts

_UNITS = {
    "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes", "m": "minutes",
    "分钟": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours", "小时": "hours",
    "d": "days", "day": "days", "days": "days", "天": "days",
    "working hour": "working_hours", "working hours": "working_hours", "工作小时": "working_hours",
    "working day": "working_days", "working days": "working_days", "工作日": "working_days",
}
_LIMIT = re.compile(r"(\d+(?:\.\d+)?)\s*([^\d\s].*)")
_CALENDARS = {
    "24x7": "24x7", "24×7": "24x7", "24/7": "24x7", "7x24": "24x7",
    "working hours": "working_hours", "working_hours": "working_hours", "工作时间": "working_hours",
    "working days": "working_days", "working_days": "working_days", "工作日": "working_days",
}
UNITS = ("minutes", "hours", "days", "working_hours", "working_days")
CALENDARS = ("24x7", "working_hours", "working_days")
LIMIT_MAX = 366 * 24 * 60  # minutes; the largest amount in any unit is bounded by a year
YEAR_RANGE = (1990, 2100)


def parse_limit(text: str | None) -> tuple[float | None, str | None]:
    """Return (amount, unit) of "30 min", "2 h", "3 working days", "4 working hours"; (None, None) when empty.

    Raises ValidationFailed for anything else.
    """
    compact = " ".join((text or "").strip().lower().split())
    if not compact:
        return None, None
    match = _LIMIT.fullmatch(compact)
    unit = _UNITS.get(match.group(2).strip()) if match else None
    if unit is None:
        raise ValidationFailed(
            N_("“%(text)s” is not a limit: write e.g. 30 min, 2 h, 3 working days or 4 working hours."), text=text)
    amount = float(match.group(1))
    if not 0 < amount <= LIMIT_MAX:
        raise ValidationFailed(N_("The limit %(text)s is not above 0."), text=text)
    return amount, unit


def parse_calendar(text: str | None) -> str | None:
    """Return "24x7", "working_hours", "working_days", or None when empty; ValidationFailed otherwise."""
    compact = " ".join((text or "").strip().lower().split())
    if not compact:
        return None
    calendar = _CALENDARS.get(compact)
    if calendar is None:
        raise ValidationFailed(N_("“%(text)s” is not a calendar: write 24x7, working hours or working days."),
                               text=text)
    return calendar


def parse_share(text) -> float | None:
    """Return a share given as a percentage ("95%", "95", "99.5 %") as a fraction; None when empty."""
    compact = str(text if text is not None else "").strip().rstrip("%").strip().replace(",", ".")
    if not compact:
        return None
    try:
        percent = float(compact)
    except ValueError:
        percent = -1
    if not 0 < percent <= 100:
        raise ValidationFailed(N_("The share %(text)s is not above 0 %% and at most 100 %%."), text=str(text))
    return round(percent / 100, 6)


def _year(value) -> int:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        year = 0
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise ValidationFailed(N_("Give the year the value was read, such as 2026."))
    return year


def _text(value, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def check(values: dict) -> dict:
    """Return a benchmark's columns from raw values (as typed or read from CSV); ValidationFailed otherwise.

    Keys: source, url, year, country, service, class, target, limit, calendar, share, note.
    """
    source = _text(values.get("source"), 200)
    if not source:
        raise ValidationFailed(N_("Name the source."))
    service, target = _text(values.get("service"), 64), _text(values.get("target"), 32).lower()
    if not service:
        raise ValidationFailed(N_("Name the service."))
    if not target:
        raise ValidationFailed(N_("Name the target."))
    url = _text(values.get("url"), 500)
    if url and not url.lower().startswith(("http://", "https://")):
        raise ValidationFailed(N_("The address %(url)s is not a web address (http:// or https://)."), url=url)
    amount, unit = parse_limit(values.get("limit"))
    calendar = parse_calendar(values.get("calendar"))
    share = parse_share(values.get("share"))
    if amount is None and share is None:
        raise ValidationFailed(N_("Give a limit, a share, or both: there is nothing to compare with."))
    return {
        "source_name": source, "source_url": url, "read_year": _year(values.get("year")),
        "country": _text(values.get("country"), 8).upper(), "service": service,
        "service_class": _text(values.get("class"), 64), "target": target,
        "limit_amount": amount, "limit_unit": unit, "calendar": calendar, "share": share,
        "note": str(values.get("note") or "").strip()[:1000],
    }


# ---------------------------------------------------------------- who


def may_add(actor: User | None) -> bool:
    return actor is None or (actor.is_active and actor.has_any_role(Role.ADMIN, Role.CENTRE_HEAD))


def may_read(actor: User) -> bool:
    return actor.is_active and actor.has_any_role(Role.ADMIN, Role.CENTRE_HEAD, Role.LEADERSHIP)


def _require_add(actor: User | None) -> None:
    if not may_add(actor):
        raise PermissionDenied()
    act_as(actor)


# ---------------------------------------------------------------- the register


def all_benchmarks() -> list[Benchmark]:
    return list(db.session.execute(
        select(Benchmark).order_by(Benchmark.service, Benchmark.target, Benchmark.source_name, Benchmark.id)
    ).scalars())


def create(values: dict, *, actor: User | None, now: datetime) -> Benchmark:
    """Add one benchmark from raw values; commit."""
    _require_add(actor)
    benchmark = Benchmark(**check(values), created_at=now, created_by_id=actor.id if actor else None)
    db.session.add(benchmark)
    db.session.commit()
    return benchmark


def delete(benchmark_id: int, *, actor: User | None, now: datetime) -> None:
    """Remove a benchmark and its links; commit."""
    benchmark = db.session.get(Benchmark, benchmark_id)
    if benchmark is None:
        raise NotFound()
    if actor is not None and not (actor.is_active and (
            actor.has_role(Role.ADMIN) or (benchmark.created_by_id == actor.id and may_add(actor)))):
        raise PermissionDenied()
    act_as(actor)
    for link in db.session.execute(select(BenchmarkLink).where(BenchmarkLink.benchmark_id == benchmark_id)).scalars():
        db.session.delete(link)
    db.session.delete(benchmark)
    db.session.commit()


@dataclass
class RowError:
    row: int  # the line's number in the file, the header being 1 (as a spreadsheet numbers it)
    error: TrackerError


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0  # already in the register
    errors: list[RowError] = field(default_factory=list)


REQUIRED_COLUMNS = ("source", "service", "target")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "url", "year", "country", "class", "limit", "calendar", "share", "note")
MAX_ROWS = 5000


def _key(columns: dict) -> tuple:
    return (columns["source_name"], columns["service"], columns["service_class"], columns["target"],
            columns["limit_amount"], columns["limit_unit"], columns["calendar"], columns["share"])


def import_csv(data: bytes | str, *, read_year: int, actor: User | None, now: datetime) -> ImportResult:
    """Import benchmarks from CSV; all or nothing. Commit when every row is good.

    ``read_year`` is the year of rows without a ``year`` column or cell.
    The result lists each bad row with its number; then nothing is stored.
    """
    _require_add(actor)
    result = ImportResult()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            result.errors.append(RowError(1, ValidationFailed(N_("The file is not UTF-8 text."))))
            return result
    reader = csv.DictReader(io.StringIO(data))
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        result.errors.append(RowError(1, ValidationFailed(
            N_("The header lacks the columns %(columns)s."), columns=", ".join(missing))))
        return result
    reader.fieldnames = headers
    seen = {_key(_columns_of(b)) for b in all_benchmarks()}
    rows = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            result.errors.append(RowError(number, ValidationFailed(
                N_("A file holds at most %(max)d rows."), max=MAX_ROWS)))
            break
        if not any((v or "").strip() for k, v in raw.items() if k is not None and isinstance(v, str)):
            continue  # a blank line
        values = {k: v for k, v in raw.items() if k in KNOWN_COLUMNS}
        if not (values.get("year") or "").strip():
            values["year"] = read_year
        try:
            columns = check(values)
        except ValidationFailed as error:
            result.errors.append(RowError(number, error))
            continue
        if _key(columns) in seen:
            result.skipped += 1
            continue
        seen.add(_key(columns))
        rows.append(columns)
    if result.errors:
        db.session.rollback()
        return result
    for columns in rows:
        db.session.add(Benchmark(**columns, created_at=now, created_by_id=actor.id if actor else None))
    result.created = len(rows)
    db.session.commit()
    return result


def _columns_of(benchmark: Benchmark) -> dict:
    return {name: getattr(benchmark, name) for name in (
        "source_name", "service", "service_class", "target", "limit_amount", "limit_unit", "calendar", "share")}


# ---------------------------------------------------------------- links


def links_of(policy_ids) -> list[BenchmarkLink]:
    ids = list(policy_ids)
    if not ids:
        return []
    return list(db.session.execute(
        select(BenchmarkLink).where(BenchmarkLink.policy_id.in_(ids))
        .order_by(BenchmarkLink.policy_id, BenchmarkLink.target, BenchmarkLink.id)
    ).scalars())


def link(policy_id: int, target: str, benchmark_id: int, *, priority: str | None = None, actor: User | None,
         now: datetime) -> BenchmarkLink:
    """Set a standard (a policy's target, optionally one priority) beside a benchmark; commit."""
    if db.session.get(SlaPolicy, policy_id) is None:
        raise NotFound(N_("No such SLA policy."))
    if not drafts.may_edit(actor, policy_id):
        raise PermissionDenied()
    act_as(actor)
    try:
        target = Target(target).value
    except ValueError:
        raise ValidationFailed(N_("Unknown target %(name)s."), name=str(target)) from None
    if priority:
        try:
            priority = Priority(priority).value
        except ValueError:
            raise ValidationFailed(N_("Choose a priority.")) from None
    else:
        priority = None
    if db.session.get(Benchmark, benchmark_id) is None:
        raise ValidationFailed(N_("Choose a benchmark."))
    exists = db.session.execute(select(BenchmarkLink.id).where(
        BenchmarkLink.policy_id == policy_id, BenchmarkLink.target == target,
        BenchmarkLink.benchmark_id == benchmark_id,
        BenchmarkLink.priority.is_(None) if priority is None else BenchmarkLink.priority == priority,
    )).first()
    if exists:
        raise ValidationFailed(N_("%(target)s is already set beside this benchmark."),
                               target=Label(TARGET_LABELS[Target(target)]))
    row = BenchmarkLink(policy_id=policy_id, target=target, priority=priority, benchmark_id=benchmark_id,
                        created_at=now, created_by_id=actor.id if actor else None)
    db.session.add(row)
    db.session.commit()
    return row


def unlink(link_id: int, *, actor: User | None, now: datetime) -> None:
    row = db.session.get(BenchmarkLink, link_id)
    if row is None:
        raise NotFound()
    if not drafts.may_edit(actor, row.policy_id):
        raise PermissionDenied()
    act_as(actor)
    db.session.delete(row)
    db.session.commit()
