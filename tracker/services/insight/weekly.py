"""The weekly report for the weekly work meeting: generate, store, mail and export it.

One report per local week (Monday to Sunday in the campus time zone), one
row in ``weekly_reports``. Its figures are the dashboards' own
(``reports.figures_by`` on the week, ``reports.drilldown`` for the lists),
computed once and stored as JSON: the stored report does not move when the
tickets do. Regenerating a week computes it again from the current data
and replaces the content; the row counts its generations.

Generation takes a while on a large campus, so it commits as it goes:
the claim (the row becomes "generating"), each step's progress (pages show
it), then the content and leadership's notices together. Each generation
has a number; a worker writes only while the row still has its number, so
a stalled generation taken over by another cannot overwrite the newer one.
A lease (``lease_until``, moved on by each step) tells a stalled generation
from a slow one; the scheduled check takes over the stalled ones.

Leadership is told once per week: the notices' idempotency key is the
week's, and ``notified_at`` records that they were queued.
"""

from __future__ import annotations

import dataclasses
import logging
import time as monotonic
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.domain.i18n import N_, pick
from tracker.domain.roles import Role
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import PRIORITY_LABELS, STATUS_LABELS, Priority, Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.i18n import label_text
from tracker.models import Centre, ReportStatus, Ticket, TicketSla, User, WeeklyReport
from tracker.models.stats import TARGET_COLUMNS
from tracker.queueing import publish_after_commit
from tracker.services import supervision
from tracker.services.insight import exports, reports, stats
from tracker.services.notify import outbox
from tracker.services.sla.standards import promises

log = logging.getLogger(__name__)

KIND = "weekly_report"
CONTENT_VERSION = 1
# Per centre: the breaches listed (the worst first) and the oldest open requests.
BREACHES_SHOWN = 20
OLDEST_SHOWN = 10
# A started generation not heard of for this long is taken over.
LEASE = timedelta(minutes=5)
# A generation asked for on the page and not started by a worker within this
# (its task was lost) is run by the scheduled check.
QUEUE_GRACE = timedelta(minutes=5)
# A failed scheduled report is tried again after this.
RETRY_AFTER = timedelta(minutes=15)
# Who may ask for a (re)generation; who may read the reports.
GENERATORS = (Role.LEADERSHIP, Role.ADMIN)
READERS = (Role.LEADERSHIP, Role.ADMIN, Role.CENTRE_HEAD, Role.DISPATCHER)

STATUS_TEXT = {
    ReportStatus.GENERATING: N_("Being generated"),
    ReportStatus.READY: N_("Ready"),
    ReportStatus.FAILED: N_("Failed"),
}

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------- weeks


def week_of(day: date) -> date:
    """Return the Monday of the week ``day`` is in."""
    return reports.period_start(day, "week")


def last_full_week(now: datetime) -> date:
    """Return the Monday of the last week that is over at ``now`` (local time)."""
    return week_of(reports.local_day(now)) - timedelta(days=7)


def _check_week(day: date, now: datetime) -> date:
    """Return the Monday of ``day``'s week; raise ValidationFailed when that week is not over."""
    week = week_of(day)
    _, end = reports.day_bounds(week, week + timedelta(days=6))
    if end > now:
        raise ValidationFailed(
            N_("The week of %(week)s is not over yet: its report can be made from %(ready)s."),
            week=week,
            ready=week + timedelta(days=7),
        )
    return week


def due_week(now: datetime) -> date | None:
    """Return the week whose scheduled report is due at ``now``; None when the schedule is off.

    The schedule is a weekday and a local time (``WEEKLY_REPORT_WEEKDAY``,
    ``WEEKLY_REPORT_TIME``). From that moment until the next, the last week
    that was over at that moment is due.
    """
    weekday = current_app.config["WEEKLY_REPORT_WEEKDAY"]
    if weekday is None:
        return None
    at = current_app.config["WEEKLY_REPORT_TIME"]
    zone = reports.campus_zone()
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    if datetime.combine(day, at, zone) > now:
        day -= timedelta(days=7)
    return week_of(day) - timedelta(days=7)


# ---------------------------------------------------------------- reading


def get(week_start: date) -> WeeklyReport | None:
    return db.session.execute(
        select(WeeklyReport).where(WeeklyReport.week_start == week_of(week_start))
    ).scalar_one_or_none()


def recent(limit: int = 104) -> list[WeeklyReport]:
    """Return the stored reports, the latest week first."""
    return list(
        db.session.execute(select(WeeklyReport).order_by(WeeklyReport.week_start.desc()).limit(limit)).scalars()
    )


def rectification_progress(week_start: date, *, now: datetime | None = None) -> dict | None:
    """Return the rectification items' progress in the week, for the report (stored JSON).

    Opened, verified and rejected in the week; active and overdue as of
    ``now`` (the generation; by default the end of the week), per centre;
    the items overdue and those due within two weeks. The definitions are
    ``rectification_reports``'s, as on the backlog dashboard.
    """
    from tracker.services.insight import rectification_reports

    week = week_of(week_start)
    if now is None:
        now = reports.day_bounds(week, week + timedelta(days=6))[1]
    return rectification_reports.weekly_progress(week, now)


# ---------------------------------------------------------------- generating


def generate(week_start: date, *, actor: User | None, now: datetime, progress: Progress | None = None,
             notify: bool = False) -> WeeklyReport | None:
    """Compute the report of ``week_start``'s week from the current data and store it; return it.

    ``actor`` None is the application itself (the schedule, the command
    line). With ``notify``, leadership is told, once per week. Commits as
    it goes (see the module); returns None when a stalled-looking
    generation was taken over by another meanwhile. Raises ValidationFailed for a week not over,
    PermissionDenied for an actor who may not, Conflict while another
    generation of the week runs.
    """
    _authorise(actor)
    week = _check_week(week_start, now)
    report_id, generation = _claim(week, actor_id=actor.id if actor else None, now=now, started=True)
    db.session.commit()
    return _produce(report_id, generation, now=now, notify=notify, progress=progress)


def request_generation(week_start: date, *, actor: User, now: datetime) -> WeeklyReport:
    """Ask a worker to (re)generate a week's report; commit; return the report, now generating.

    The page shows its progress. Raises as ``generate``.
    """
    _authorise(actor)
    week = _check_week(week_start, now)
    report_id, generation = _claim(week, actor_id=actor.id, now=now, started=False)
    publish_after_commit("reports.weekly_generate", week.isoformat(), generation)
    db.session.commit()
    return db.session.get(WeeklyReport, report_id)


def run_requested(week_start: date, generation: int, *, now: datetime) -> WeeklyReport | None:
    """Run a generation asked for with ``request_generation`` (the worker's task); None when it is not waiting.

    A copy of the task delivered twice, or one that comes after the
    scheduled check took the generation over, finds it started and does
    nothing.
    """
    started = db.session.execute(
        update(WeeklyReport)
        .where(WeeklyReport.week_start == week_start, WeeklyReport.generation == generation,
               WeeklyReport.status == ReportStatus.GENERATING, WeeklyReport.started_at.is_(None))
        .values(started_at=now, lease_until=now + LEASE)
    ).rowcount
    db.session.commit()
    if not started:
        return None
    report_id = db.session.execute(
        select(WeeklyReport.id).where(WeeklyReport.week_start == week_start)
    ).scalar_one()
    return _produce(report_id, generation, now=now, notify=False)


@dataclass
class ScheduleResult:
    scheduled: date | None = None  # the week generated (and mailed) on schedule
    taken_over: list[date] = dataclasses.field(default_factory=list)  # stalled generations run again


def run_schedule(now: datetime) -> ScheduleResult:
    """Generate the scheduled report when it is due and not yet sent; run stalled generations again.

    Safe to run at any time and any number of times at once: a week is
    generated by one worker at a time and mailed once.
    """
    result = ScheduleResult()
    due = due_week(now)
    if due is not None:
        report = get(due)
        if report is None or (report.notified_at is None and _may_start(report, now)):
            try:
                generate(due, actor=None, now=now, notify=True)
            except Conflict:
                db.session.rollback()  # another worker took it a moment ago
            else:
                result.scheduled = due
    stalled = db.session.execute(
        select(WeeklyReport.week_start, WeeklyReport.generated_by_id)
        .where(WeeklyReport.status == ReportStatus.GENERATING, WeeklyReport.lease_until < now)
        .order_by(WeeklyReport.week_start)
    ).all()
    db.session.rollback()
    for week, requester_id in stalled:
        try:
            report_id, generation = _claim(week, actor_id=requester_id, now=now, started=True)
        except Conflict:
            db.session.rollback()
            continue
        db.session.commit()
        log.warning("weekly report of %s: a generation stalled; generating it again", week)
        _produce(report_id, generation, now=now, notify=False)
        result.taken_over.append(week)
    return result


def _may_start(report: WeeklyReport, now: datetime) -> bool:
    """Return whether the schedule may (re)generate a stored, not yet mailed report now."""
    if report.status is ReportStatus.GENERATING:
        return report.lease_until is None or report.lease_until < now
    if report.status is ReportStatus.FAILED:
        return report.requested_at + RETRY_AFTER <= now
    return True


def _authorise(actor: User | None) -> None:
    if actor is not None and (not actor.is_active or not actor.has_any_role(*GENERATORS)):
        raise PermissionDenied()


def _claim(week: date, *, actor_id: int | None, now: datetime, started: bool) -> tuple[int, int]:
    """Make the week's row generating for a new generation; return (id, generation). No commit.

    Raises Conflict while another generation of the week holds its lease.
    """
    values = {
        "status": ReportStatus.GENERATING.value,
        "generated_by_id": actor_id,
        "requested_at": now,
        "started_at": now if started else None,
        "lease_until": now + (LEASE if started else QUEUE_GRACE),
        "progress_done": 0,
        "progress_total": 0,
        "error": "",
    }
    table = WeeklyReport.__table__
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    inserted = db.session.execute(
        insert(table)
        .values(week_start=week, generation=1, **values)
        .on_conflict_do_nothing(index_elements=["week_start"])
        .returning(table.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return inserted, 1
    report_id, generation = db.session.execute(
        select(WeeklyReport.id, WeeklyReport.generation).where(WeeklyReport.week_start == week)
    ).one()
    # Compare and set: of two claims reading the same generation, one wins.
    claimed = db.session.execute(
        update(WeeklyReport)
        .where(
            WeeklyReport.id == report_id,
            WeeklyReport.generation == generation,
            or_(WeeklyReport.status != ReportStatus.GENERATING, WeeklyReport.lease_until < now),
        )
        .values(generation=generation + 1, **values)
    ).rowcount
    if not claimed:
        raise Conflict(N_("The report of the week of %(week)s is being generated: wait until it is ready."),
                       week=week)
    return report_id, generation + 1


class _Superseded(Exception):
    """Another generation of the week took over: stop without writing."""


class _Run:
    """One generation at work: reports its progress and keeps its lease."""

    def __init__(self, report_id: int, generation: int, now: datetime, callback: Progress | None):
        self.report_id, self.generation, self.now, self.callback = report_id, generation, now, callback
        self.started = monotonic.monotonic()
        self.total = 0

    def _mine(self):
        return and_(WeeklyReport.id == self.report_id, WeeklyReport.generation == self.generation,
                    WeeklyReport.status == ReportStatus.GENERATING)

    def step(self, done: int, total: int | None = None) -> None:
        """Record ``done`` of ``total`` steps and move the lease on; commit."""
        if total is not None:
            self.total = total
        # ``now`` is the report's instant; the lease follows the time spent since.
        lease = self.now + timedelta(seconds=monotonic.monotonic() - self.started) + LEASE
        values = {"lease_until": lease}
        if self.total:
            values |= {"progress_done": done, "progress_total": self.total}
        mine = db.session.execute(update(WeeklyReport).where(self._mine()).values(**values)).rowcount
        db.session.commit()
        if not mine:
            raise _Superseded()
        if self.callback is not None and self.total:
            self.callback(done, self.total)

    def finish(self, content: dict, *, notify: bool) -> bool:
        """Store the content (and queue the notices); commit; return False when superseded."""
        values = {
            "status": ReportStatus.READY,
            "content": content,
            "generated_at": self.now,
            "lease_until": None,
            "progress_done": self.total,
            "progress_total": self.total,
            "error": "",
        }
        notified_at = db.session.execute(
            select(WeeklyReport.notified_at).where(WeeklyReport.id == self.report_id)
        ).scalar_one()
        tell = notify and notified_at is None
        if tell:
            values["notified_at"] = self.now
        mine = db.session.execute(update(WeeklyReport).where(self._mine()).values(**values)).rowcount
        if not mine:
            db.session.rollback()
            return False
        if tell:
            _queue_notices(content, now=self.now)
        db.session.commit()
        if self.callback is not None and self.total:
            self.callback(self.total, self.total)
        return True

    def fail(self, error: BaseException) -> None:
        db.session.rollback()
        db.session.execute(
            update(WeeklyReport).where(self._mine()).values(
                status=ReportStatus.FAILED, lease_until=None,
                error=f"{type(error).__name__}: {error}"[:2000])
        )
        db.session.commit()


def _produce(report_id: int, generation: int, *, now: datetime, notify: bool,
             progress: Progress | None = None) -> WeeklyReport | None:
    """Compute and store a claimed generation; return the report (None when superseded)."""
    run = _Run(report_id, generation, now, progress)
    week = db.session.execute(select(WeeklyReport.week_start).where(WeeklyReport.id == report_id)).scalar_one()
    try:
        # The dashboards' summary must be current for both weeks the report
        # reads, including the pairs another worker is refreshing right now.
        if not stats.refresh_until_current(week - timedelta(days=7), week + timedelta(days=6),
                                           progress=lambda done, total: run.step(0)):
            log.warning("weekly report of %s: the summary of its weeks is still claimed by another refresh "
                        "after %.0f s; built from the summary as it stands", week, stats.SPAN_WAIT_SECONDS)
        content = _build(week, now, run)
        finished = run.finish(content, notify=notify)
    except _Superseded:
        db.session.rollback()
        finished = False
    except Exception as error:
        log.exception("weekly report of %s failed", week)
        run.fail(error)
        raise
    if not finished:
        log.info("weekly report of %s: generation %d was taken over by another", week, generation)
        return None
    return db.session.execute(
        select(WeeklyReport).where(WeeklyReport.id == report_id).execution_options(populate_existing=True)
    ).scalar_one()


# ---------------------------------------------------------------- content


def _build(week: date, now: datetime, run: _Run) -> dict:
    """Return the report's content: figures, lists and changes per centre, and the campus total."""
    last = week + timedelta(days=6)
    previous = week - timedelta(days=7)
    this_week = reports.Filters(first=week, last=last)
    week_before = reports.Filters(first=previous, last=previous + timedelta(days=6))
    rows, total = reports.figures_by(this_week, "centre", now)
    before_rows, before_total = reports.figures_by(week_before, "centre", now)
    figures = {f.key: f for f in rows}
    before = {f.key: f for f in before_rows}
    centres = [
        c for c in db.session.execute(select(Centre).order_by(Centre.sort_order, Centre.id)).scalars()
        if c.is_active or c.id in figures or c.id in before
    ]
    steps = len(centres) + 2
    run.step(1, steps)
    compared: dict[int, list[dict]] = {}
    # Against the standards in force when the week ended.
    for comparison in promises.compare(this_week, [c.id for c in centres],
                                       promises.standard_instant(this_week, now)):
        compared.setdefault(comparison.centre_id, []).append(comparison.as_dict())
    sections = []
    for index, centre in enumerate(centres, start=2):
        only = dataclasses.replace(this_week, centre_id=centre.id)
        breaches, breaches_total = _breaches(only, now)
        sections.append({
            "id": centre.id,
            "code": centre.code,
            "name_en": centre.name_en,
            "name_zh": centre.name_zh,
            "figures": _stored(figures.get(centre.id) or reports.Figures(key=centre.id)),
            "previous": _stored(before.get(centre.id) or reports.Figures(key=centre.id), period_only=True),
            "breaches": breaches,
            "breaches_total": breaches_total,
            "oldest_open": _oldest_open(only, now),
            # Met % per target beside the standard in force and its benchmarks.
            "standards": compared.get(centre.id, []),
        })
        run.step(index)
    return {
        "version": CONTENT_VERSION,
        "week_start": week.isoformat(),
        "week_end": last.isoformat(),
        "previous_week_start": previous.isoformat(),
        "generated_at": now.isoformat(),
        "timezone": current_app.config["TRACKER_TIMEZONE"],
        "breaches_shown": BREACHES_SHOWN,
        "oldest_shown": OLDEST_SHOWN,
        "centres": sections,
        "total": {"figures": _stored(total), "previous": _stored(before_total, period_only=True)},
        "rectification": rectification_progress(week, now=now),
        "materials": _materials(week, last),
        "supervision": supervision.weekly_section(*reports.day_bounds(week, last), now),
    }


def _materials(first: date, last: date) -> list[dict]:
    """Return the week's materials cost and paid-repair charges per centre (services/materials/figures.py)."""
    from tracker.services.materials import figures as material_figures

    zone = ZoneInfo(current_app.config["TRACKER_TIMEZONE"])
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    return [
        {"id": row.centre.id, "name_en": row.centre.name_en, "name_zh": row.centre.name_zh, "jobs": row.jobs,
         "cost_fen": row.cost_fen, "charges": row.charges, "charged_fen": row.charged_fen,
         "top": [{"code": m.code, "name_en": m.name_en, "name_zh": m.name_zh, "quantity": quantity,
                  "cost_fen": cost} for m, quantity, cost in row.top]}
        for row in material_figures.period_figures(None, start, end)
    ]


_PERIOD_FIELDS = ("key", "received", "resolved", "closed", "cancelled", "met", "breached", "rating_sum",
                  "rating_count", "closed_auto", "closed_rated")


def _stored(figures: reports.Figures, *, period_only: bool = False) -> dict:
    data = dataclasses.asdict(figures)
    if period_only:
        data = {name: data[name] for name in _PERIOD_FIELDS}
    return data


def _breaches(filters: reports.Filters, now: datetime) -> tuple[list[dict], int]:
    """Return the week's breaches of a centre, the latest first (at most BREACHES_SHOWN), and how many in all."""
    found = []
    for target in TARGET_COLUMNS:
        query = reports.drilldown("breached", filters, now, target=target)
        rows = db.session.execute(query.add_columns(TicketSla.priority, TicketSla.due_at, TicketSla.milestone_at))
        for ticket, priority, due_at, milestone_at in rows:
            # Late until the milestone; a cancellation stopped the clock; else until now.
            stopped = milestone_at or (ticket.cancelled_at if ticket.status is Status.CANCELLED else None)
            late = (stopped or now) - due_at
            found.append({
                "reference": ticket.reference,
                "title": ticket.title,
                "status": ticket.status.value,
                "target": target,
                "priority": Priority(priority).value,
                "due_at": due_at.isoformat(),
                "milestone_at": milestone_at.isoformat() if milestone_at else None,
                "late_minutes": round(late.total_seconds() / 60, 1),
                "is_running": stopped is None,
            })
    found.sort(key=lambda b: (-b["late_minutes"], b["reference"], b["target"]))
    return found[:BREACHES_SHOWN], len(found)


def _oldest_open(filters: reports.Filters, now: datetime) -> list[dict]:
    query = reports.drilldown("backlog", filters, now).order_by(Ticket.id).limit(OLDEST_SHOWN)
    tickets = list(db.session.execute(query).scalars())
    # Late by the "breached now" figure's own definition.
    late = set(db.session.execute(
        reports.drilldown("breached_now", filters, now).where(Ticket.id.in_([t.id for t in tickets]))
    ).scalars()) if tickets else set()
    return [
        {
            "reference": t.reference,
            "title": t.title,
            "status": t.status.value,
            "priority": t.priority.value,
            "created_at": t.created_at.isoformat(),
            "age_days": round((now - t.created_at).total_seconds() / 86400, 1),
            "assignee": t.assignee.display_name if t.assignee is not None else "",
            "is_sla_breached": t in late,
        }
        for t in tickets
    ]


# ---------------------------------------------------------------- the stored content, read back


@dataclass
class Breach:
    reference: str
    title: str
    status: Status
    target: Target
    priority: Priority
    due_at: datetime
    milestone_at: datetime | None
    late_minutes: float
    is_running: bool  # not done at the generation: late until then, and still counting


@dataclass
class OpenRequest:
    reference: str
    title: str
    status: Status
    priority: Priority
    created_at: datetime
    age_days: float
    assignee: str
    is_sla_breached: bool


@dataclass
class Section:
    """One centre's part of the report, or the campus total (``centre_id`` None)."""

    centre_id: int | None
    code: str
    name_en: str
    name_zh: str
    figures: reports.Figures
    previous: reports.Figures
    breaches: list[Breach] = dataclasses.field(default_factory=list)
    breaches_total: int = 0
    oldest_open: list[OpenRequest] = dataclasses.field(default_factory=list)
    # Reports stored before standards existed have none.
    standards: list[promises.Comparison] = dataclasses.field(default_factory=list)

    def name_for(self, locale: str | None) -> str:
        if self.centre_id is None:
            return gettext("Campus total")
        return pick(self.name_zh, self.name_en, locale)

    @property
    def breaches_more(self) -> int:
        return max(self.breaches_total - len(self.breaches), 0)

    def change(self, figure: str) -> int:
        """Return this week's figure minus the week before's."""
        return getattr(self.figures, figure) - getattr(self.previous, figure)

    def percent_change(self, target: str) -> float | None:
        """Return the change of met % in percentage points (None when either week has none)."""
        current, earlier = self.figures.met_percent(target), self.previous.met_percent(target)
        return None if current is None or earlier is None else current - earlier


@dataclass
class Content:
    week_start: date
    week_end: date
    previous_week_start: date
    generated_at: datetime
    breaches_shown: int
    oldest_shown: int
    centres: list[Section]
    total: Section
    rectification: dict | None
    # Per centre: materials cost and charges (reports stored before materials have none).
    materials: list[dict] = dataclasses.field(default_factory=list)
    supervision: dict | None = None  # reports stored before supervision orders have none


_FIGURE_FIELDS = {f.name for f in dataclasses.fields(reports.Figures)}


def _figures(data: dict) -> reports.Figures:
    values = {k: v for k, v in data.items() if k in _FIGURE_FIELDS}
    # Reports stored before a target existed (dispatch, issue 17) count 0 for it.
    for name in ("met", "breached"):
        if name in values:
            values[name] = dict.fromkeys(TARGET_COLUMNS, 0) | values[name]
    return reports.Figures(**values)


def read(content: dict) -> Content:
    """Return a stored content as objects for pages, files and mail."""
    sections = [
        Section(
            centre_id=c["id"], code=c["code"], name_en=c["name_en"], name_zh=c["name_zh"],
            figures=_figures(c["figures"]), previous=_figures(c["previous"]),
            breaches=[
                Breach(reference=b["reference"], title=b["title"], status=Status(b["status"]),
                       target=Target(b["target"]), priority=Priority(b["priority"]),
                       due_at=datetime.fromisoformat(b["due_at"]),
                       milestone_at=datetime.fromisoformat(b["milestone_at"]) if b["milestone_at"] else None,
                       late_minutes=b["late_minutes"], is_running=b["is_running"])
                for b in c["breaches"]
            ],
            breaches_total=c["breaches_total"],
            oldest_open=[
                OpenRequest(reference=o["reference"], title=o["title"], status=Status(o["status"]),
                            priority=Priority(o["priority"]), created_at=datetime.fromisoformat(o["created_at"]),
                            age_days=o["age_days"], assignee=o["assignee"], is_sla_breached=o["is_sla_breached"])
                for o in c["oldest_open"]
            ],
            standards=[promises.Comparison.from_dict(d) for d in c.get("standards", [])],
        )
        for c in content["centres"]
    ]
    total = Section(centre_id=None, code="", name_en="", name_zh="",
                    figures=_figures(content["total"]["figures"]), previous=_figures(content["total"]["previous"]))
    return Content(
        week_start=date.fromisoformat(content["week_start"]),
        week_end=date.fromisoformat(content["week_end"]),
        previous_week_start=date.fromisoformat(content["previous_week_start"]),
        generated_at=datetime.fromisoformat(content["generated_at"]),
        breaches_shown=content["breaches_shown"],
        oldest_shown=content["oldest_shown"],
        centres=sections,
        total=total,
        rectification=content.get("rectification"),
        materials=content.get("materials", []),
        supervision=content.get("supervision"),
    )


# ---------------------------------------------------------------- notices


def headline(section: Section) -> dict:
    """Return a section's headline figures: what the e-mail says."""
    f = section.figures
    return {
        "name_en": section.name_en,
        "name_zh": section.name_zh,
        "received": f.received,
        "resolved": f.resolved,
        "backlog": f.backlog,
        "response_percent": f.met_percent("response"),
        "resolution_percent": f.met_percent("resolution"),
        "breached": sum(f.breached.values()),
    }


def _rectification_headline(progress: dict | None) -> dict | None:
    """Return the ledger's campus figures the e-mail gives (None before the ledger existed)."""
    if not progress:
        return None
    total = progress["total"]
    return {key: total[key] for key in ("opened", "verified", "on_time", "rejected", "active", "overdue")}


def _queue_notices(content: dict, *, now: datetime) -> None:
    """Queue the week's notice to every leader (no commit); the week's key makes it once."""
    week = content["week_start"]
    report = read(content)
    notice = outbox.Notice(
        kind=KIND,
        key=f"weekly:{week}",
        subject=f"weekly report of the week of {week}",
        payload={
            "week_start": week,
            "week_end": content["week_end"],
            "headline": [headline(s) for s in report.centres],
            "total": headline(report.total),
            "rectification": _rectification_headline(content.get("rectification")),
        },
        link=f"/weekly/{week}",
    )
    outbox.queue([notice], {notice.key: outbox.users_with_role(Role.LEADERSHIP)}, now=now)


# ---------------------------------------------------------------- the spreadsheet


def xlsx(report: WeeklyReport, locale: str) -> bytes:
    """Return the stored report as an xlsx file in ``locale``: one sheet per section, the page's numbers.

    Raises NotFound while the report has no content yet.
    """
    if report.content is None:
        raise NotFound(N_("The report of this week has not been generated yet."))
    with force_locale(locale):
        return exports.xlsx_bytes(_sheets(read(report.content), locale))


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _sheets(content: Content, locale: str) -> list:
    targets = list(TARGET_COLUMNS)
    target_names = {t: gettext(TARGET_LABELS[Target(t)]) for t in targets}
    summary_headers = [gettext("Centre"), gettext("Received"), gettext("Resolved"), gettext("Closed"),
                       gettext("Cancelled")]
    for t in targets:
        summary_headers += [
            gettext("%(target)s met", target=target_names[t]),
            gettext("%(target)s breached", target=target_names[t]),
            gettext("%(target)s met %%", target=target_names[t]),
        ]
    summary_headers += [
        gettext("Open at generation"), gettext("Awaiting confirmation"), gettext("Late now"),
        gettext("Satisfaction"), gettext("Ratings"),
        gettext("Received, week before"), gettext("Resolved, week before"),
        gettext("Response met %, week before"), gettext("Resolution met %, week before"),
        # Honest satisfaction (docs/feedback.md): closures nobody confirmed, counted apart.
        gettext("Closed automatically"), gettext("Actually confirmed %"), gettext("Actually rated %"),
    ]

    def summary_row(section: Section) -> list:
        f, p = section.figures, section.previous
        row = [section.name_for(locale), f.received, f.resolved, f.closed, f.cancelled]
        for t in targets:
            row += [f.met[t], f.breached[t], _percent(f.met_percent(t))]
        # One decimal, as on the dashboards and their files: the same figure everywhere.
        satisfaction = None if f.satisfaction is None else round(f.satisfaction, 1)
        row += [f.backlog, f.awaiting_confirmation, f.breached_now, satisfaction, f.rating_count,
                p.received, p.resolved, _percent(p.met_percent("response")), _percent(p.met_percent("resolution")),
                f.closed_auto, _percent(f.confirmed_percent), _percent(f.rated_percent)]
        return row

    summary = [summary_row(s) for s in content.centres] + [summary_row(content.total)]

    breach_headers = [gettext("Centre"), gettext("Reference"), gettext("Title"), gettext("Target"),
                      gettext("Priority"), gettext("Deadline"), gettext("Done at"), gettext("Late by (hours)"),
                      gettext("Status now")]
    breaches = []
    for s in content.centres:
        for b in s.breaches:
            breaches.append([s.name_for(locale), b.reference, b.title, gettext(TARGET_LABELS[b.target]),
                             gettext(PRIORITY_LABELS[b.priority]), b.due_at, b.milestone_at,
                             round(b.late_minutes / 60, 1), gettext(STATUS_LABELS[b.status])])
        if s.breaches_more:
            breaches.append([s.name_for(locale), "", gettext("… and %(count)d more", count=s.breaches_more)])

    open_headers = [gettext("Centre"), gettext("Reference"), gettext("Title"), gettext("Status"),
                    gettext("Priority"), gettext("Filed"), gettext("Age (days)"), gettext("Assignee"),
                    gettext("Late")]
    oldest = [
        [s.name_for(locale), o.reference, o.title, gettext(STATUS_LABELS[o.status]),
         gettext(PRIORITY_LABELS[o.priority]), o.created_at, o.age_days, o.assignee,
         gettext("yes") if o.is_sla_breached else gettext("no")]
        for s in content.centres for o in s.oldest_open
    ]
    rectification_headers, rectification = _rectification_rows(content.rectification, locale)
    standard_headers = [gettext("Centre"), gettext("Target"), gettext("Met %"), gettext("Promised %"),
                        gettext("Gap to the promise"), gettext("Met %, week before"), gettext("Trend"),
                        gettext("Own standard"), gettext("Benchmark"), gettext("Gap to the benchmark")]
    standards = []
    for s in content.centres:
        for c in s.standards:
            benchmarks = [f"{b.source_name} ({b.read_year}): {promises.benchmark_text(b)}" for b in c.benchmarks]
            gaps = [_percent(b.gap) if b.gap is not None else (promises.limits_text(c, b) or "—")
                    for b in c.benchmarks]
            standards.append([s.name_for(locale), gettext(TARGET_LABELS[Target(c.target)]), _percent(c.met_percent),
                              _percent(c.promised_percent), _percent(c.gap), _percent(c.previous_percent),
                              _percent(c.trend), promises.standard_text(c), "; ".join(benchmarks),
                              "; ".join(str(g) for g in gaps)])
    material_headers = [gettext("Centre"), gettext("Requests with materials"), gettext("Materials cost (yuan)"),
                        gettext("Paid repairs"), gettext("Charged (yuan)"), gettext("Most used")]
    materials = [
        [pick(m["name_zh"], m["name_en"], locale), m["jobs"], Decimal(m["cost_fen"]) / 100, m["charges"],
         Decimal(m["charged_fen"]) / 100,
         ", ".join(f"{pick(t['name_zh'], t['name_en'], locale)} ×{t['quantity']}" for t in m["top"])]
        for m in content.materials
    ]
    supervision_headers, supervision_rows = _supervision_rows(content.supervision)
    return [
        (gettext("Summary"), summary_headers, summary),
        (gettext("Breaches"), breach_headers, breaches),
        (gettext("Oldest open"), open_headers, oldest),
        (gettext("Rectification"), rectification_headers, rectification),
        (gettext("Standards"), standard_headers, standards),
        (gettext("Materials"), material_headers, materials),
        (gettext("Supervision"), supervision_headers, supervision_rows),
    ]


def _supervision_rows(section: dict | None) -> tuple[list[str], list[list]]:
    """Return the report's supervision orders as one sheet: each order with its outcome."""
    headers = [gettext("Reference"), gettext("Instruction"), gettext("Responsible"), gettext("Issued by"),
               gettext("Answer by"), gettext("Answered"), gettext("Outcome"), gettext("Overdue")]
    rows = []
    for o in (section or {}).get("orders", []):
        outcome = supervision.OUTCOME_LABELS[o["outcome"]]
        rows.append([o["reference"], o["instruction"], o["responsible"], o["issued_by"],
                     datetime.fromisoformat(o["deadline_at"]),
                     datetime.fromisoformat(o["answered_at"]) if o["answered_at"] else None,
                     gettext(outcome),
                     gettext("yes") if o["is_overdue"] else gettext("no")])
    return headers, rows


def _rectification_rows(progress: dict | None, locale: str) -> tuple[list[str], list[list]]:
    """Return the report's rectification section as one sheet: per centre, then the items overdue and due soon."""
    from tracker.domain.rectification import STATUS_LABELS as ITEM_STATUS_LABELS
    from tracker.domain.rectification import ItemStatus

    if not progress:
        return [gettext("Progress")], [[gettext("Rectification items are not recorded in the service desk yet.")]]
    headers = [gettext("Centre"), gettext("Opened"), gettext("Verified"), gettext("Verified on time"),
               gettext("Rejected"), gettext("Active at generation"), gettext("Overdue at generation")]

    def name(section: dict) -> str:
        if locale.startswith("zh") and section.get("name_zh"):
            return section["name_zh"]
        return section.get("name_en") or section.get("name_zh") or ""

    def figures(row: dict) -> list:
        return [row["opened"], row["verified"], row["on_time"], row["rejected"], row["active"], row["overdue"]]

    rows = [[name(c), *figures(c)] for c in progress["centres"]]
    rows.append([gettext("Campus total"), *figures(progress["total"])])
    centres = {c["id"]: name(c) for c in progress["centres"]}
    for title, listed in ((gettext("Overdue"), progress["overdue_items"]),
                          (gettext("Due within two weeks"), progress["due_soon_items"])):
        rows.append([])
        rows.append([title, gettext("Reference"), gettext("Title"), gettext("Status"), gettext("Responsible"),
                     gettext("Deadline"), gettext("Progress %")])
        for item in listed["items"]:
            rows.append([centres.get(item["centre_id"], ""), item["reference"], item["title"],
                         label_text(ITEM_STATUS_LABELS[ItemStatus(item["status"])]), item["responsible"],
                         date.fromisoformat(item["due_on"]), item["progress_percent"]])
        if listed["total"] > len(listed["items"]):
            rows.append(["", "", gettext("… and %(count)d more", count=listed["total"] - len(listed["items"]))])
    return headers, rows
