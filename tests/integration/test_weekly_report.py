"""The weekly report on the hand-built week of test_reports.py: the dashboards' figures, stored.

The week of Monday 2026-03-02 in Shanghai; the report is made on the 20th
(``NOW``), as the dashboards' figures in test_reports.py are.
"""

import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import build_world, make_ticket, make_user
from tests.integration import test_reports, workers
from tests.integration.test_reports import NOW, SH, WEEK, at
from tracker.clock import utcnow
from tracker.config import WEEKDAYS
from tracker.domain.roles import Role
from tracker.domain.workflow import Action
from tracker.errors import Conflict, PermissionDenied, ValidationFailed
from tracker.extensions import db as _db
from tracker.models import Channel, Notification, ReportStatus, WeeklyReport
from tracker.models.stats import TARGET_COLUMNS
from tracker.services.insight import reports, stats, weekly
from tracker.services.notify import channels
from tracker.services.requests import tickets as svc

# The fixture of test_reports.py, by name: pytest finds it here.
week = test_reports.week

MONDAY = date(2026, 3, 2)
BEFORE = reports.Filters(first=date(2026, 2, 23), last=date(2026, 3, 1))


def _count(database, model, *where) -> int:
    return database.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _refs(query) -> list[str]:
    return [t.reference for t in _db.session.execute(query).scalars()]


def _leaders(world) -> list:
    second = make_user("second-leader", [(Role.LEADERSHIP, None)])
    return [world.users["leadership"], second]


# ---------------------------------------------------------------- the figures


def test_the_report_shows_the_dashboard_figures_of_the_week(week, world):
    report = weekly.generate(date(2026, 3, 4), actor=world.users["leadership"], now=NOW)  # a Wednesday
    assert (report.week_start, report.status, report.generation) == (MONDAY, ReportStatus.READY, 1)
    assert report.generated_by_id == world.users["leadership"].id and report.generated_at == NOW
    content = weekly.read(report.content)
    assert (content.week_start, content.week_end) == (MONDAY, date(2026, 3, 8))

    rows, total = reports.figures_by(WEEK, "centre", NOW)
    before_rows, before_total = reports.figures_by(BEFORE, "centre", NOW)
    by_centre = {f.key: f for f in rows}
    assert [s.code for s in content.centres] == ["repairs", "dorm"]
    for section in content.centres:
        assert section.figures == by_centre[section.centre_id], section.code
    assert content.total.figures == total
    assert (total.received, total.resolved, total.closed, total.cancelled) == (6, 2, 1, 1)
    repairs = content.centres[0]
    assert repairs.figures.met_percent("response") == pytest.approx(200 / 3)
    assert repairs.figures.satisfaction is None
    # No rectification item in this world: the ledger's section is there, all zero.
    assert content.rectification["total"] == {"opened": 0, "verified": 0, "on_time": 0, "rejected": 0, "active": 0,
                                              "overdue": 0, "by_status": {"open": 0, "in_progress": 0,
                                                                          "awaiting_verification": 0}}
    # The week before: its period figures (its "now" figures are this report's).
    before = {f.key: f for f in before_rows}
    period = ("received", "resolved", "closed", "cancelled", "met", "breached", "rating_sum", "rating_count")
    for section in [*content.centres, content.total]:
        expected = before.get(section.centre_id, reports.Figures()) if section.centre_id else before_total
        assert [getattr(section.previous, n) for n in period] == [getattr(expected, n) for n in period]
    assert before_total.received == 0  # nothing was filed then: every change is the week's own figure
    assert repairs.change("received") == 5 and repairs.percent_change("response") is None


def test_the_breaches_listed_are_the_dashboard_list_of_breaches(week, world):
    content = weekly.read(weekly.generate(MONDAY, actor=None, now=NOW).content)
    for section in content.centres:
        only = reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=section.centre_id)
        expected = {
            (reference, target)
            for target in TARGET_COLUMNS
            for reference in _refs(reports.drilldown("breached", only, NOW, target=target))
        }
        assert {(b.reference, b.target.value) for b in section.breaches} == expected, section.code
        assert section.breaches_total == len(expected) == sum(section.figures.breached.values())
        assert section.breaches_more == 0
        lateness = [b.late_minutes for b in section.breaches]
        assert lateness == sorted(lateness, reverse=True)  # the most late first
    # b was taken at 11:00, due 10:30: half an hour late, done.
    b = week["b"].reference
    [response] = [x for x in content.centres[0].breaches if (x.reference, x.target.value) == (b, "response")]
    assert response.late_minutes == 30 and response.milestone_at == at("03-02 11:00")
    assert response.due_at == at("03-02 10:30")


def test_a_breach_is_late_until_its_milestone_its_cancellation_or_the_generation(week, world):
    cancelled = make_ticket(world, now=at("03-05 09:00"))  # response due 09:30
    svc.transition(cancelled.id, Action.CANCEL, actor=world.users["requester"], now=at("03-05 10:00"),
                   reason="Not needed any more")
    content = weekly.read(weekly.generate(MONDAY, actor=None, now=NOW).content)
    late = {(b.reference, b.target.value): b for b in content.centres[0].breaches}
    gone = late[(cancelled.reference, "response")]
    assert (gone.late_minutes, gone.is_running, gone.milestone_at) == (30, False, None)
    assert late[(week["b"].reference, "response")].is_running is False
    reopened = late[(week["c"].reference, "resolution")]  # still open at the generation
    assert reopened.is_running and reopened.late_minutes == pytest.approx((NOW - reopened.due_at).total_seconds() / 60)


def test_the_oldest_open_requests_are_the_backlog_oldest_first(week, world):
    content = weekly.read(weekly.generate(MONDAY, actor=None, now=NOW).content)
    for section in content.centres:
        only = reports.Filters(first=WEEK.first, last=WEEK.last, centre_id=section.centre_id)
        expected = _refs(reports.drilldown("backlog", only, NOW).limit(weekly.OLDEST_SHOWN))
        assert [o.reference for o in section.oldest_open] == expected
        late_now = set(_refs(reports.drilldown("breached_now", only, NOW)))
        assert {o.reference for o in section.oldest_open if o.is_sla_breached} == late_now & set(expected)
    assert [o.reference for o in content.centres[0].oldest_open] == [week[k].reference for k in "cde"]
    assert content.centres[0].oldest_open[0].age_days == pytest.approx((NOW - at("03-03 09:00")).days + 0.1, abs=0.1)


def test_a_long_breach_list_is_cut_and_says_how_many_more(week, world, monkeypatch, client, login_as):
    monkeypatch.setattr(weekly, "BREACHES_SHOWN", 1)
    content = weekly.read(weekly.generate(MONDAY, actor=None, now=NOW).content)
    repairs = content.centres[0]
    assert len(repairs.breaches) == 1 and repairs.breaches_more == repairs.breaches_total - 1 > 0
    login_as("leadership")
    page = client.get(f"/weekly/{MONDAY}").get_data(as_text=True)
    assert f"… and {repairs.breaches_more} more, not listed here." in page


def test_the_xlsx_carries_the_same_numbers(week, world, client, login_as):
    report = weekly.generate(MONDAY, actor=None, now=NOW)
    content = weekly.read(report.content)
    login_as("dispatcher")
    response = client.get(f"/weekly/{MONDAY}/report.xlsx")
    assert response.status_code == 200
    assert "weekly-report-2026-03-02.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Summary", "Breaches", "Oldest open", "Rectification", "Standards", "Materials",
                               "Supervision"]
    summary = [[cell.value for cell in row] for row in book["Summary"].iter_rows()]
    headers = summary[0]
    column = {name: headers.index(name) for name in headers}
    for section, row in zip([*content.centres, content.total], summary[1:], strict=True):
        f = section.figures
        assert row[0] == (section.name_en or "Campus total")
        assert (row[column["Received"]], row[column["Resolved"]], row[column["Closed"]]) == (
            f.received, f.resolved, f.closed)
        assert row[column["Response met"]] == f.met["response"]
        assert row[column["Response breached"]] == f.breached["response"]
        assert row[column["Open at generation"]] == f.backlog
    breaches = [[cell.value for cell in row] for row in book["Breaches"].iter_rows(min_row=2)]
    assert sorted(r[1] for r in breaches) == sorted(b.reference for s in content.centres for b in s.breaches)
    deadline = breaches[0][5]
    first = content.centres[0].breaches[0]
    assert deadline == first.due_at.astimezone(SH).replace(tzinfo=None)  # campus wall time
    oldest = [[cell.value for cell in row] for row in book["Oldest open"].iter_rows(min_row=2)]
    assert [r[1] for r in oldest] == [o.reference for s in content.centres for o in s.oldest_open]


# ---------------------------------------------------------------- regenerating


def test_regenerating_unchanged_data_gives_the_same_report_and_changed_data_a_new_one(week, world):
    first = weekly.generate(MONDAY, actor=None, now=NOW)
    stored = first.content
    again = weekly.generate(MONDAY, actor=world.users["admin"], now=NOW)
    assert again.id == first.id and again.generation == 2 and again.content == stored
    assert again.generated_by_id == world.users["admin"].id

    c = week["c"]  # reopened: resolve it again on Thursday of the week
    svc.transition(c.id, Action.TAKE, actor=world.users["technician"], now=at("03-05 09:00"))
    svc.transition(c.id, Action.RESOLVE, actor=world.users["technician"], now=at("03-05 10:00"),
                   resolution_note="Replaced the tap")
    # The stored report does not move with the data...
    assert weekly.get(MONDAY).content == stored
    # ...until it is generated again; the generation brings the daily summary up to date first.
    later = NOW + timedelta(hours=1)
    third = weekly.generate(MONDAY, actor=None, now=later)
    content = weekly.read(third.content)
    assert third.generation == 3 and content.total.figures.resolved == 3
    assert content.total.figures.backlog == weekly.read(stored).total.figures.backlog - 1
    assert content.total.figures == reports.figures_by(WEEK, "centre", later)[1]
    assert _count(_db, WeeklyReport) == 1


def test_two_generations_keep_one_report_and_tell_each_leader_once(week, world):
    leaders = _leaders(world)
    weekly.generate(MONDAY, actor=None, now=NOW, notify=True)
    report = weekly.generate(MONDAY, actor=None, now=NOW + timedelta(minutes=1), notify=True)
    assert report.notified_at == NOW and report.generation == 2
    assert _count(_db, WeeklyReport) == 1
    notices = _db.session.execute(select(Notification).where(Notification.kind == "weekly_report")).scalars().all()
    assert sorted((n.user_id, n.channel) for n in notices) == sorted(
        (leader.id, channel) for leader in leaders for channel in (Channel.IN_APP, Channel.EMAIL))
    assert {n.link for n in notices} == {"/weekly/2026-03-02"}
    assert {n.idempotency_key.rsplit(":", 2)[0] for n in notices} == {"weekly:2026-03-02"}


def test_the_email_gives_the_headline_figures_per_centre(week, world):
    weekly.generate(MONDAY, actor=None, now=NOW, notify=True)
    email = _db.session.execute(
        select(Notification).where(Notification.kind == "weekly_report", Notification.channel == Channel.EMAIL)
    ).scalar_one()
    message = channels.render(email, locale="en")
    assert message.subject == "Weekly report: Mar 2, 2026 – Mar 8, 2026"
    assert message.url.endswith("/weekly/2026-03-02")
    lines = message.text.splitlines()
    # Missed: b's response (taken late) and confirmation (72 h from Tuesday, Friday), c's resolution (reopened).
    assert ("Repair and maintenance: 5 received, 2 resolved, 3 open; on time: response 66.7%, "
            "resolution 66.7%; missed deadlines: 3") in lines
    assert any(line.startswith("Dormitory management: 1 received, 0 resolved, 1 open") for line in lines)
    assert any(line.startswith("Campus total: 6 received, 2 resolved, 4 open") for line in lines)
    chinese = channels.render(email, locale="zh_CN")
    assert any(line.startswith("维修服务中心：受理 5 个") for line in chinese.text.splitlines())


def test_a_week_not_over_is_refused_and_nothing_is_stored(week, world):
    for day in (date(2026, 3, 16), date(2026, 3, 20), date(2026, 4, 6)):  # this week, today, the future
        with pytest.raises(ValidationFailed) as refused:
            weekly.generate(day, actor=None, now=NOW)
        assert "is not over yet" in refused.value.message
    assert _count(_db, WeeklyReport) == 0
    # The week ends at Sunday 24:00, campus time: a minute later it can be made.
    monday_local = datetime.combine(date(2026, 3, 16), time(0, 1), SH)
    assert weekly.generate(date(2026, 3, 9), actor=None, now=monday_local).status is ReportStatus.READY


def test_only_leadership_and_administrators_generate(week, world):
    for name in ("centre_head", "dispatcher", "technician", "requester"):
        with pytest.raises(PermissionDenied):
            weekly.generate(MONDAY, actor=world.users[name], now=NOW)
    assert _count(_db, WeeklyReport) == 0


# ---------------------------------------------------------------- generations and the schedule


def test_a_generation_asked_for_runs_once_and_shows_its_progress(week, world):
    leader = world.users["leadership"]
    asked = weekly.request_generation(date(2026, 3, 6), actor=leader, now=NOW)
    assert (asked.status, asked.generation, asked.started_at, asked.content) == (
        ReportStatus.GENERATING, 1, None, None)
    with pytest.raises(Conflict):  # one generation of a week at a time
        weekly.request_generation(MONDAY, actor=leader, now=NOW)
    with pytest.raises(Conflict):
        weekly.generate(MONDAY, actor=None, now=NOW)
    steps = []
    report = weekly.run_requested(MONDAY, 1, now=NOW)
    assert report.status is ReportStatus.READY and report.progress_done == report.progress_total == 4
    assert report.notified_at is None  # a regeneration on the page tells nobody
    # A second copy of the task, or a stale one, does nothing.
    assert weekly.run_requested(MONDAY, 1, now=NOW) is None
    assert weekly.generate(MONDAY, actor=None, now=NOW, progress=lambda d, t: steps.append((d, t))).generation == 2
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_generation_that_stalls_is_taken_over_by_the_scheduled_check(week, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_WEEKDAY", None)  # the schedule is off: only take-overs
    weekly.request_generation(MONDAY, actor=world.users["leadership"], now=NOW)
    assert weekly.run_schedule(NOW + timedelta(minutes=1)).taken_over == []  # still waiting for its worker
    result = weekly.run_schedule(NOW + weekly.QUEUE_GRACE + timedelta(seconds=1))
    assert result.taken_over == [MONDAY] and result.scheduled is None
    report = weekly.get(MONDAY)
    assert (report.status, report.generation, report.generated_by_id) == (
        ReportStatus.READY, 2, world.users["leadership"].id)
    # The task the broker finally delivers finds its generation gone.
    assert weekly.run_requested(MONDAY, 1, now=NOW) is None


@pytest.mark.parametrize("local, due", [
    ("2026-03-16 07:59", date(2026, 3, 2)),  # Monday before 08:00: last week's report is not due yet
    ("2026-03-16 08:00", date(2026, 3, 9)),
    ("2026-03-20 12:00", date(2026, 3, 9)),
    ("2026-03-22 23:59", date(2026, 3, 9)),
])
def test_the_report_falls_due_at_the_configured_local_time(app, db, local, due):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SH)
    assert weekly.due_week(now) == due
    assert weekly.due_week(now.astimezone(UTC)) == due


def test_the_schedule_follows_the_settings(app, db, monkeypatch):
    from tracker.config import ConfigError, Environment, load

    config = load(Environment({"TRACKER_INSTANCE_PATH": app.config["INSTANCE_PATH"],
                               "TRACKER_WEEKLY_REPORT_DAY": "fri", "TRACKER_WEEKLY_REPORT_TIME": "17:30"}))
    assert (config["WEEKLY_REPORT_WEEKDAY"], config["WEEKLY_REPORT_TIME"]) == (4, time(17, 30))
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_WEEKDAY", 4)
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_TIME", time(17, 30))
    # Friday 17:30 reports on the week before the one that is ending.
    assert weekly.due_week(datetime(2026, 3, 20, 17, 29, tzinfo=SH)) == date(2026, 3, 2)
    assert weekly.due_week(datetime(2026, 3, 20, 17, 30, tzinfo=SH)) == date(2026, 3, 9)
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_WEEKDAY", None)
    assert weekly.due_week(datetime(2026, 3, 20, 17, 30, tzinfo=SH)) is None
    for name, value in (("TRACKER_WEEKLY_REPORT_DAY", "someday"), ("TRACKER_WEEKLY_REPORT_TIME", "8 am")):
        with pytest.raises(ConfigError) as refused:
            load(Environment({"TRACKER_INSTANCE_PATH": app.config["INSTANCE_PATH"], name: value}))
        assert name in str(refused.value)


def test_the_scheduled_check_generates_and_tells_leadership_once(week, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_WEEKDAY", 0)
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_TIME", time(8, 0))
    leaders = _leaders(world)
    monday = datetime(2026, 3, 9, 8, 0, tzinfo=SH)
    assert weekly.run_schedule(monday - timedelta(minutes=1)).scheduled == date(2026, 2, 23)  # the week before
    first = weekly.run_schedule(monday)
    assert first.scheduled == MONDAY
    for minutes in (1, 2, 60):  # two beats, a retried task, the next checks
        assert weekly.run_schedule(monday + timedelta(minutes=minutes)).scheduled is None
    assert _count(_db, WeeklyReport) == 2
    report = weekly.get(MONDAY)
    assert report.generation == 1 and report.generated_by_id is None and report.notified_at == monday
    assert _count(_db, Notification, Notification.kind == "weekly_report",
                  Notification.idempotency_key.like("weekly:2026-03-02:%")) == 2 * len(leaders)


def test_a_report_made_by_hand_before_the_schedule_is_still_sent_once(week, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_WEEKDAY", 0)
    monkeypatch.setitem(app.config, "WEEKLY_REPORT_TIME", time(8, 0))
    monday = datetime(2026, 3, 9, 8, 0, tzinfo=SH)
    weekly.generate(MONDAY, actor=world.users["leadership"], now=monday - timedelta(hours=1))
    assert weekly.run_schedule(monday).scheduled == MONDAY
    assert weekly.run_schedule(monday + timedelta(minutes=1)).scheduled is None
    report = weekly.get(MONDAY)
    assert report.generation == 2 and report.notified_at == monday
    assert _count(_db, Notification, Notification.kind == "weekly_report") == 2  # in-app and e-mail


# ---------------------------------------------------------------- pages


def test_the_pages_show_the_report_to_its_readers(week, world, client, login_as):
    weekly.generate(MONDAY, actor=None, now=NOW)
    stats.refresh_all()
    login_as("centre_head")
    listing = client.get("/weekly/").get_data(as_text=True)
    assert "/weekly/2026-03-02" in listing and "/weekly/2026-03-02/report.xlsx" in listing
    assert "/weekly/regenerate" not in listing  # heads read; leadership and administrators generate
    page = client.get("/weekly/2026-03-02").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    # No script of its own and nothing inline (the CSP allows neither); only the
    # site's deferred files that every page loads (tracker/static/js).
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts and all('src="/static/js/' in attributes and not body.strip() for attributes, body in scripts)
    assert "report.css" in page and "style=" not in page
    summary = re.search(r'<tr id="summary-repairs">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', summary)
    assert cells[:7] == ["5", "2", "1", "66.7 %", "66.7 %", "3", "3"]
    assert week["b"].reference in page  # a breach listed
    assert 'id="rectification-summary"' in page  # the ledger's section (tests/integration/test_rectification.py)
    # Any day of the week leads to its Monday.
    response = client.get("/weekly/2026-03-05")
    assert response.status_code == 302 and response.headers["Location"].endswith("/weekly/2026-03-02")
    assert client.get("/weekly/not-a-date").status_code == 404
    assert client.get("/weekly/2026-02-23/report.xlsx").status_code == 404  # nothing stored


def test_regenerating_on_the_page_shows_progress_until_ready(week, world, client, login_as):
    login_as("leadership")
    response = post_form(client, "/weekly/regenerate", {"week": "2026-03-04"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/weekly/2026-03-02")
    page = client.get("/weekly/2026-03-02").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "Waiting for a worker to start it." in page
    weekly.run_requested(MONDAY, 1, now=NOW)
    page = client.get("/weekly/2026-03-02").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and 'id="summary-total"' in page


def test_a_week_not_over_is_refused_on_the_page(week, world, client, login_as):
    login_as("admin")
    today = reports.local_day(datetime.now(UTC))
    response = post_form(client, "/weekly/regenerate", {"week": today.isoformat()})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is not over yet: its report can be made from" in page
    response = post_form(client, "/weekly/regenerate", {"week": "not a day"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Not a valid date value." in page
    assert _count(_db, WeeklyReport) == 0


@pytest.mark.parametrize("role, status", [
    ("requester", 403), ("technician", 403), ("dispatcher", 200), ("centre_head", 200),
    ("leadership", 200), ("admin", 200),
])
def test_the_report_is_for_centre_managers_leadership_and_administrators(week, world, client, login_as,
                                                                          role, status):
    weekly.generate(MONDAY, actor=None, now=NOW)
    login_as(role)
    for path in ("/weekly/", "/weekly/2026-03-02", "/weekly/2026-03-02/report.xlsx"):
        assert client.get(path).status_code == status, path
    may_generate = role in ("leadership", "admin")
    response = post_form(client, "/weekly/regenerate", {"week": "2026-03-02"})
    assert response.status_code == (302 if may_generate else 403)
    assert weekly.get(MONDAY).generation == (2 if may_generate else 1)


# ---------------------------------------------------------------- command line


def test_the_command_generates_a_week_and_prints_its_figures(week, world, app):
    result = app.test_cli_runner().invoke(args=["weekly-report", "--week", "2026-03-04"])
    assert result.exit_code == 0, result.output
    assert "weekly report of the week of 2026-03-02" in result.output
    assert "  step 4 of 4" in result.output
    assert "Repair and maintenance: 5 received, 2 resolved, 1 closed, 3 open" in result.output
    assert "Campus total: 6 received" in result.output
    assert "stored as generation 1 (leadership not told)" in result.output
    result = app.test_cli_runner().invoke(args=["weekly-report", "--week", "2999-01-04"])
    assert result.exit_code == 1 and "is not over yet" in result.output


# ---------------------------------------------------------------- through a real worker and beat

artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink


@pytest.mark.worker
def test_the_worker_makes_the_report_at_its_time_and_mails_leadership_once(make_system, smtp_sink):
    local = utcnow().astimezone(SH)
    # Due from this very minute, checked every second, by beat and a worker as in production.
    system = make_system(settings={
        "TRACKER_WEEKLY_REPORT_DAY": WEEKDAYS[local.weekday()],
        "TRACKER_WEEKLY_REPORT_TIME": local.strftime("%H:%M"),
        "TRACKER_WEEKLY_REPORT_CHECK_SECONDS": "1",
    })
    world = build_world()
    for user in world.users.values():
        user.email = f"{user.username}@campus.test"
    _db.session.commit()
    week_start = weekly.due_week(utcnow())
    tuesday = datetime.combine(week_start + timedelta(days=1), time(9, 0), SH)
    ticket = make_ticket(world, now=tuesday)
    svc.transition(ticket.id, Action.TAKE, actor=world.users["technician"], now=tuesday + timedelta(minutes=10))
    leader = world.users["leadership"]
    key = f"weekly:{week_start}:email:u{leader.id}"
    leader_email = leader.email
    system.release()
    worker = system.start_worker(concurrency=2, beat=True)

    [mail] = system.wait_until("the leadership mail of the weekly report", lambda: smtp_sink.received(key),
                               timeout=60)
    # The leader never chose a language: the default's (zh_CN) subject.
    assert mail["to"] == leader_email and mail["subject"].startswith("周报：")
    # Some more checks (two of them may run at once, in the two processes): nothing new.
    checks = sum(1 for t in worker.tasks("reports.weekly") if t["what"] == "succeeded")
    worker.wait_for_log(r"Task reports\.weekly\[[^\]]+\] succeeded", count=checks + 3)
    assert len(smtp_sink.received(prefix="weekly:")) == 1
    [report] = system.rows(select(WeeklyReport.__table__))
    assert (report.week_start, report.status, report.generation) == (week_start, "ready", 1)
    assert report.generated_by_id is None and report.notified_at is not None
    [repairs] = [c for c in report.content["centres"] if c["code"] == "repairs"]
    assert repairs["figures"]["received"] == 1 and repairs["figures"]["met"]["response"] == 1
    assert system.count(Notification, Notification.kind == "weekly_report") == 2  # in-app and e-mail
    assert worker.errors() == []
