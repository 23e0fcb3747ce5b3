"""Duty rosters (值班表): shifts per centre, entered by week, copied, imported; who is on duty now.

Shifts are stored as UTC instants and shown in the site's time zone
(``TRACKER_TIMEZONE``): a night shift 20:00–08:00 is one shift across
midnight. One person never has two shifts that overlap, in any centre.
Every public function that writes is one transaction; on a refusal
nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, Shift, ShiftKind, User, UserRole

NOTE_MAX = 200
MAX_SHIFT = timedelta(hours=24)  # longer cover is entered as several shifts
IMPORT_MAX_ROWS = 2000

KIND_LABELS = {ShiftKind.ON_DUTY: N_("On duty"), ShiftKind.ON_CALL: N_("On call")}
# What a spreadsheet may write in the kind column, in either language.
_KIND_WORDS = {
    "on_duty": ShiftKind.ON_DUTY,
    "on duty": ShiftKind.ON_DUTY,
    "duty": ShiftKind.ON_DUTY,
    "值班": ShiftKind.ON_DUTY,
    "on_call": ShiftKind.ON_CALL,
    "on call": ShiftKind.ON_CALL,
    "call": ShiftKind.ON_CALL,
    "备班": ShiftKind.ON_CALL,
    "听班": ShiftKind.ON_CALL,
}
# The import's columns and the headers that name them (docs/dispatch.md).
_COLUMNS = {
    "username": ("username", "user", "用户名", "账号"),
    "date": ("date", "日期"),
    "start": ("start", "starts", "开始"),
    "end": ("end", "ends", "结束"),
    "kind": ("kind", "type", "类型"),
    "note": ("note", "备注"),
}


class RosterRejected(ValidationFailed):
    """Shifts refused, with one message per row: ``rows`` is [(row number, msgid, params)]."""

    def __init__(self, rows: list[tuple[int, str, dict]]):
        super().__init__(N_("Nothing was saved: %(count)d rows have problems."), count=len(rows))
        self.rows = rows

    def row_messages(self) -> list[tuple[int, str]]:
        """Return (row number, message in the current language) for each refused row."""
        from flask_babel import gettext

        from tracker.i18n import shown

        return [
            (number, gettext(msgid, **{k: shown(v) for k, v in params.items()}))
            for number, msgid, params in self.rows
        ]


@dataclass(frozen=True)
class NewShift:
    """A shift as entered: local date and times (end at or before start: the next day)."""

    user_id: int | None
    day: date | None
    start: time | None
    end: time | None
    kind: ShiftKind | str = ShiftKind.ON_DUTY
    note: str = ""


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TRACKER_TIMEZONE"])


def week_start(day: date) -> date:
    """Return the Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def local_day(now: datetime) -> date:
    return now.astimezone(zone()).date()


def span(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """Return a shift's UTC instants from a local day and times; an end at or before the start is the next day."""
    tz = zone()
    starts = datetime.combine(day, start, tzinfo=tz)
    ends = datetime.combine(day if end > start else day + timedelta(days=1), end, tzinfo=tz)
    return starts.astimezone(ZoneInfo("UTC")), ends.astimezone(ZoneInfo("UTC"))


def can_manage(user: User, centre_id: int) -> bool:
    """Return whether ``user`` may edit the centre's roster: its dispatchers and head, and administrators."""
    return (
        user.has_role(Role.ADMIN)
        or user.has_role(Role.DISPATCHER, centre_id)
        or user.has_role(Role.CENTRE_HEAD, centre_id)
    )


def can_read(user: User, centre_id: int) -> bool:
    return can_manage(user, centre_id) or centre_id in user.centre_ids() or user.has_role(Role.LEADERSHIP)


def people(centre_id: int) -> list[User]:
    """Return the active staff who may hold the centre's shifts (its technicians, dispatchers and head), by name."""
    return list(
        db.session.execute(
            select(User)
            .join(UserRole)
            .where(
                UserRole.centre_id == centre_id,
                UserRole.role.in_([Role.TECHNICIAN, Role.DISPATCHER, Role.CENTRE_HEAD]),
                User.is_active.is_(True),
            )
            .distinct()
            .order_by(User.display_name, User.id)
        ).scalars()
    )


def shifts_between(centre_id: int, starts: datetime, ends: datetime) -> list[Shift]:
    """Return the centre's shifts that overlap [starts, ends), earliest first."""
    return list(
        db.session.execute(
            select(Shift)
            .where(Shift.centre_id == centre_id, Shift.starts_at < ends, Shift.ends_at > starts)
            .order_by(Shift.starts_at, Shift.id)
        ).scalars()
    )


@dataclass(frozen=True)
class WeekDay:
    day: date
    shifts: list[Shift]


def week(centre_id: int, monday: date) -> list[WeekDay]:
    """Return the seven local days from ``monday``, each with the shifts that start on it."""
    tz = zone()
    starts = datetime.combine(monday, time(0), tzinfo=tz)
    rows = shifts_between(centre_id, starts - MAX_SHIFT, starts + timedelta(days=7))
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        days.append(WeekDay(day, [s for s in rows if s.starts_at.astimezone(tz).date() == day]))
    return days


def on_duty(centre_id: int, now: datetime, *, kinds=(ShiftKind.ON_DUTY, ShiftKind.ON_CALL)) -> list[Shift]:
    """Return the shifts running at ``now`` in the centre, on duty before on call, then by name."""
    rows = (
        db.session.execute(
            select(Shift)
            .join(User, User.id == Shift.user_id)
            .where(
                Shift.centre_id == centre_id,
                Shift.starts_at <= now,
                Shift.ends_at > now,
                Shift.kind.in_(list(kinds)),
                User.is_active.is_(True),
            )
            .order_by(User.display_name, Shift.id)
        )
        .scalars()
        .all()
    )
    return sorted(rows, key=lambda s: s.kind != ShiftKind.ON_DUTY)


def user_shifts(user_id: int, now: datetime, *, days: int = 14) -> list[Shift]:
    """Return a person's shifts running now or starting in the next ``days`` days, in every centre."""
    return list(
        db.session.execute(
            select(Shift)
            .where(
                Shift.user_id == user_id, Shift.ends_at > now, Shift.starts_at < now + timedelta(days=days)
            )
            .order_by(Shift.starts_at)
        ).scalars()
    )


# ---------------------------------------------------------------- writing


def _check_centre(centre_id: int, actor: User) -> Centre:
    centre = db.session.get(Centre, centre_id)
    if centre is None:
        raise NotFound()
    if not can_manage(actor, centre_id):
        raise PermissionDenied(N_("Only the centre's dispatchers and head may change its roster."))
    return centre


def _build(
    centre_id: int, entry: NewShift, allowed: dict[int, User], actor: User, now: datetime
) -> tuple[Shift | None, tuple[str, dict] | None]:
    """Return a Shift for ``entry`` or the reason it is refused (msgid, params)."""
    if entry.user_id is None:
        return None, (N_("Choose who holds the shift."), {})
    if entry.user_id not in allowed:
        return None, (N_("This person is not on the staff of this service centre."), {})
    if entry.day is None:
        return None, (N_("Give the shift's date."), {})
    if entry.start is None or entry.end is None:
        return None, (N_("Give the shift's start and end times (HH:MM)."), {})
    try:
        kind = ShiftKind(entry.kind)
    except ValueError:
        return None, (N_("The kind must be on duty or on call."), {})
    note = (entry.note or "").strip()
    if len(note) > NOTE_MAX:
        return None, (N_("The note is longer than %(max)d characters."), {"max": NOTE_MAX})
    if entry.start == entry.end:
        return None, (N_("A shift must end after it starts."), {})
    starts, ends = span(entry.day, entry.start, entry.end)
    return Shift(
        centre_id=centre_id,
        user_id=entry.user_id,
        kind=kind,
        starts_at=starts,
        ends_at=ends,
        note=note,
        created_by_id=actor.id,
        created_at=now,
    ), None


def _overlap_errors(
    shifts: list[tuple[int, Shift]], replacing: set[int] = frozenset()
) -> list[tuple[int, str, dict]]:
    """Return a message for each new shift that overlaps another of the same person (stored or new)."""
    errors = []
    for index, (number, shift) in enumerate(shifts):
        for other_number, other in shifts[:index]:
            if (
                other.user_id == shift.user_id
                and other.starts_at < shift.ends_at
                and shift.starts_at < other.ends_at
            ):
                errors.append(
                    (
                        number,
                        N_("%(name)s already has a shift then (row %(row)d)."),
                        {"name": shift.user.display_name if shift.user else "", "row": other_number},
                    )
                )
                break
        else:
            clash = db.session.execute(
                select(Shift)
                .where(
                    Shift.user_id == shift.user_id,
                    Shift.starts_at < shift.ends_at,
                    Shift.ends_at > shift.starts_at,
                    Shift.id.not_in(replacing or [0]),
                )
                .limit(1)
            ).scalar_one_or_none()
            if clash is not None:
                tz = zone()
                errors.append(
                    (
                        number,
                        N_("%(name)s already has a shift from %(start)s to %(end)s."),
                        {
                            "name": clash.user.display_name,
                            "start": clash.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                            "end": clash.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                        },
                    )
                )
    return errors


def save_shifts(
    centre_id: int,
    entries: list[tuple[int, NewShift]],
    *,
    actor: User,
    now: datetime,
    replacing: set[int] = frozenset(),
    errors: list | None = None,
) -> list[Shift]:
    """Add shifts (each with its row number) all or none; return them. Raises RosterRejected with a message per row.

    ``replacing``: ids of the centre's shifts deleted in the same transaction
    (a week copied over), which new shifts may overlap. ``errors``: rows
    the caller already refused (an import's unreadable rows), reported with these.
    """
    _check_centre(centre_id, actor)
    allowed = {u.id: u for u in people(centre_id)}
    built, errors = [], list(errors or [])
    for number, entry in entries:
        shift, error = _build(centre_id, entry, allowed, actor, now)
        if error:
            errors.append((number, *error))
        else:
            shift.user = allowed[shift.user_id]
            built.append((number, shift))
    errors += _overlap_errors(built, replacing)
    if errors:
        db.session.rollback()
        raise RosterRejected(sorted(errors, key=lambda e: e[0]))
    try:
        if replacing:
            db.session.execute(delete(Shift).where(Shift.id.in_(replacing), Shift.centre_id == centre_id))
        for _, shift in built:
            db.session.add(shift)
        _ensure_turns({shift.user_id for _, shift in built})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [shift for _, shift in built]


def _ensure_turns(user_ids: set[int]) -> None:
    """Give each shift holder a dispatch turn row: automatic dispatch locks it to claim them (dispatch.auto)."""
    from tracker.models import DispatchTurn

    have = set(
        db.session.execute(select(DispatchTurn.user_id).where(DispatchTurn.user_id.in_(user_ids))).scalars()
    )
    for user_id in sorted(user_ids - have):
        # Never dispatched: first in the round robin.
        db.session.add(
            DispatchTurn(user_id=user_id, last_dispatched_at=datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
        )


def add_shift(centre_id: int, entry: NewShift, *, actor: User, now: datetime) -> Shift:
    """Add one shift; raises RosterRejected (one row: 1) for bad input or an overlap."""
    return save_shifts(centre_id, [(1, entry)], actor=actor, now=now)[0]


def delete_shift(shift_id: int, *, actor: User) -> None:
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    _check_centre(shift.centre_id, actor)
    db.session.delete(shift)
    db.session.commit()


def copy_previous_week(centre_id: int, monday: date, *, actor: User, now: datetime) -> list[Shift]:
    """Copy the shifts that start in the week before ``monday``'s onto this week, at the same local times.

    Refused (RosterRejected) when a copied shift would overlap one already
    entered, or the person has left the centre's staff: nothing is copied.
    """
    _check_centre(centre_id, actor)
    tz = zone()
    previous = week(centre_id, monday - timedelta(days=7))
    entries = []
    number = 0
    for weekday in previous:
        for shift in weekday.shifts:
            number += 1
            local_start, local_end = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
            entries.append(
                (
                    number,
                    NewShift(
                        user_id=shift.user_id,
                        day=weekday.day + timedelta(days=7),
                        start=local_start.time(),
                        end=local_end.time(),
                        kind=shift.kind,
                        note=shift.note,
                    ),
                )
            )
    if not entries:
        raise ValidationFailed(N_("The week before has no shifts to copy."))
    return save_shifts(centre_id, entries, actor=actor, now=now)


# ---------------------------------------------------------------- import


def _parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        try:
            return datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            return None


def _parse_time(value) -> time | None:
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value
    text = str(value or "").strip().replace("：", ":")
    if text == "24:00":
        return time(0)
    for pattern in ("%H:%M", "%H:%M:%S", "%H%M"):
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None


def import_shifts(centre_id: int, data: bytes, filename: str, *, actor: User, now: datetime) -> list[Shift]:
    """Add the shifts of a CSV or xlsx file, all or none; return them.

    Columns (any order, English or Chinese headers): username, date, start,
    end, kind, note. Raises ValidationFailed for an unreadable file or a
    missing column, RosterRejected with a message per bad row.
    """
    from tracker.services.requests import importer

    _check_centre(centre_id, actor)
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    if not filename.lower().endswith((".csv", ".xlsx")):
        raise ValidationFailed(N_("Choose a CSV or xlsx file."))
    handle, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        encoding = "utf-8" if importer._is_utf8(data) or suffix == ".xlsx" else "gb18030"
        try:
            reader = importer._Reader(path, filename, encoding)
        except importer.ImportFailed:
            raise ValidationFailed(N_("The file cannot be read as CSV or xlsx.")) from None
        try:
            header = [str(h).strip().lower() for h in reader.header]
            where = {}
            for column, names in _COLUMNS.items():
                for index, name in enumerate(header):
                    if name in names:
                        where[column] = index
                        break
            missing = [c for c in ("username", "date", "start", "end") if c not in where]
            if missing:
                raise ValidationFailed(
                    N_("The file has no column %(columns)s (see the example)."), columns=", ".join(missing)
                )
            users = {u.username.lower(): u for u in people(centre_id)}
            entries, errors = [], []
            for number, values in reader.rows():
                if isinstance(values, importer.RowUnreadable):
                    errors.append((number, values.message, values.params))
                    continue
                if len(entries) + len(errors) >= IMPORT_MAX_ROWS:
                    raise ValidationFailed(
                        N_("A roster file may hold at most %(max)d rows."), max=IMPORT_MAX_ROWS
                    )

                def cell(column, values=values):
                    index = where.get(column)
                    return values[index] if index is not None and index < len(values) else ""

                name = str(cell("username") or "").strip()
                user = users.get(name.lower())
                if not name:
                    errors.append((number, N_("Choose who holds the shift."), {}))
                    continue
                if user is None:
                    errors.append(
                        (number, N_("%(name)s is not on the staff of this service centre."), {"name": name})
                    )
                    continue
                day, start, end = (
                    _parse_date(cell("date")),
                    _parse_time(cell("start")),
                    _parse_time(cell("end")),
                )
                if day is None:
                    errors.append((number, N_("The date must read as YYYY-MM-DD."), {}))
                    continue
                if start is None or end is None:
                    errors.append((number, N_("Give the shift's start and end times (HH:MM)."), {}))
                    continue
                word = str(cell("kind") or "on_duty").strip().lower()
                kind = _KIND_WORDS.get(word)
                if kind is None:
                    errors.append((number, N_("The kind must be on duty or on call."), {}))
                    continue
                entries.append(
                    (
                        number,
                        NewShift(
                            user_id=user.id,
                            day=day,
                            start=start,
                            end=end,
                            kind=kind,
                            note=str(cell("note") or ""),
                        ),
                    )
                )
        finally:
            reader.close()
    finally:
        os.unlink(path)
    if not entries and not errors:
        raise ValidationFailed(N_("The file holds no shifts."))
    return save_shifts(centre_id, entries, actor=actor, now=now, errors=errors)


def duty_technicians(centre_id: int, at: datetime) -> list[int]:
    """Return the ids of the centre's technicians with an on-duty shift at ``at``."""
    return list(
        db.session.execute(
            select(Shift.user_id)
            .join(UserRole, UserRole.user_id == Shift.user_id)
            .join(User, User.id == Shift.user_id)
            .where(
                Shift.centre_id == centre_id,
                Shift.kind == ShiftKind.ON_DUTY,
                Shift.starts_at <= at,
                Shift.ends_at > at,
                UserRole.role == Role.TECHNICIAN,
                UserRole.centre_id == centre_id,
                User.is_active.is_(True),
            )
            .distinct()
        ).scalars()
    )
