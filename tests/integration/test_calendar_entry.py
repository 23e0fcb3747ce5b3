"""Issue 15, item 15: next year's published schedule entered by an administrator, and the dashboards' warning.

The installed chinesecalendar stops at 2026. An administrator enters 2027's
holidays and make-up working days by hand or from a CSV file (date,kind,name);
they go into the calendar as a new version and the SLA clocks use them exactly
as imported days. From 1 December (campus time) the dashboards warn about a
calendar in use without next year's holidays.

Invented 2027 days: Mon 8 to Fri 12 February off, Saturday 13 February worked.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import make_ticket
from tracker.domain.calendar import BusinessCalendar
from tracker.domain.sla_clock import Target
from tracker.extensions import db
from tracker.models import Calendar, CalendarEnteredDay, CalendarVersion, TicketSla
from tracker.services.sla import holidays

# 2026-12-07 10:00 in Shanghai: the year's schedule is published, the package has not caught up.
TODAY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
GOOD_CSV = (
    "date,kind,name\n"
    "2027-02-08,holiday,春节\n2027-02-09,holiday,春节\n2027-02-10,休,春节\n2027-02-11,holiday,春节\n"
    "2027-02-12,holiday,春节\n2027-02-13,班,春节调休\n"
)


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _office() -> Calendar:
    db.session.expire_all()
    return db.session.execute(select(Calendar).where(Calendar.code == "office")).scalar_one()


def _count(model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr("tracker.web.admin.utcnow", lambda: TODAY)
    return TODAY


def _upload(client, calendar_id: int, data: bytes, name="2027.csv"):
    from io import BytesIO

    from tests.conftest import csrf_token

    return client.post(f"/admin/calendars/{calendar_id}/days-file",
                       data={"csrf_token": csrf_token(client), "file": (BytesIO(data), name)},
                       content_type="multipart/form-data")


# ---------------------------------------------------------------- entering days


def test_an_admin_enters_a_run_of_holidays_and_a_make_up_day_by_hand(client, world, login_as, today):
    admin = login_as("admin")
    office = _office()
    before = office.current_version.number

    response = post_form(client, f"/admin/calendars/{office.id}/days",
                         {"first": "2027-02-08", "last": "2027-02-12", "kind": "holiday", "name": "春节"})
    assert response.status_code == 302, _page(response)[:3000]
    page = _page(client.get(response.headers["Location"]))
    assert f"5 days are entered into calendar office as version {before + 1}." in page
    response = post_form(client, f"/admin/calendars/{office.id}/days",
                         {"first": "2027-02-13", "kind": "workday", "name": "春节调休"})
    assert response.status_code == 302

    office = _office()
    definition = office.current_version.definition
    assert {f"2027-02-{d:02d}" for d in range(8, 13)} <= set(definition["holidays"])
    assert "2027-02-13" in definition["extra_workdays"]
    assert office.current_version.number == before + 2
    assert office.current_version.created_by_id == admin.id
    assert office.current_version.note == "Entered by hand: 2027-02-13 workday 春节调休"
    rows = holidays.entered_days(office.id)
    assert [(r.day, r.kind, r.name, r.source, r.created_by_id) for r in rows][-2:] == [
        (date(2027, 2, 12), "holiday", "春节", "form", admin.id),
        (date(2027, 2, 13), "workday", "春节调休", "form", admin.id)]
    listed = _page(client.get(f"/admin/calendars/{office.id}")).split('id="entered-days-table"')[1]
    assert "春节调休" in listed and "Make-up working day" in listed and "by hand" in listed
    # Next year is covered now: the calendar page no longer warns about 2027.
    assert "No holiday data for 2027 yet" not in _page(client.get(f"/admin/calendars/{office.id}"))


def test_the_sla_clock_skips_entered_holidays_and_works_the_make_up_day(client, world, login_as, today):
    login_as("admin")
    office = _office()
    filed = datetime(2027, 2, 5, 8, 0, tzinfo=UTC)  # Friday 16:00 in Shanghai
    before = make_ticket(world, now=filed)
    assert _upload(client, office.id, GOOD_CSV.encode()).status_code == 302
    after = make_ticket(world, now=filed)

    def arrival(ticket):
        db.session.expire_all()
        return db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id,
                                                          TicketSla.target == Target.ARRIVAL)).scalar_one()

    old, new = arrival(before), arrival(after)
    assert new.calendar_version_id == _office().current_version_id != old.calendar_version_id
    # 120 office minutes (a water leak is high priority) from Friday 16:00: 90 that day, 30 on Monday
    # 8 February... a holiday now, as is the whole week; Saturday 13 February works Monday's hours.
    assert old.due_at == datetime(2027, 2, 8, 1, 0, tzinfo=UTC)  # Monday 09:00 local
    assert new.due_at == datetime(2027, 2, 13, 1, 0, tzinfo=UTC)  # Saturday 09:00 local
    version = db.session.get(CalendarVersion, new.calendar_version_id)
    assert new.due_at == BusinessCalendar.from_dict(version.definition).deadline(filed, new.target_minutes)


def test_a_file_with_bad_rows_stores_nothing_and_names_each_row(client, world, login_as, today):
    login_as("admin")
    office = _office()
    versions, entered = _count(CalendarVersion), _count(CalendarEnteredDay)
    bad = (
        "date,kind,name\n"
        "2027-02-08,holiday,春节\n"      # row 2: fine
        "2027-02-30,holiday,春节\n"      # row 3: no such date
        "2027-02-09,vacation,春节\n"     # row 4: unknown kind
        "2027-02-10,holiday,\n"          # row 5: no name
        "2027-02-08,holiday,again\n"     # row 6: listed in row 2
        "2027-02-15,workday,Monday\n"    # row 7: a Monday works already
        "2207-02-11,holiday,typo\n"      # row 8: far outside the years
        "2027-02-12,holiday\n"           # row 9: two columns
    )

    response = _upload(client, office.id, bad.encode())

    assert response.status_code == 200
    page = _page(response)
    # A row with too few columns is reported first, before the rows are read for their values.
    assert "Row 9: Expected three columns date,kind,name; found 2." in page
    assert _count(CalendarVersion) == versions and _count(CalendarEnteredDay) == entered

    response = _upload(client, office.id, bad.replace("2027-02-12,holiday\n", "").encode())
    page = _page(response)
    errors = page.split('id="row-errors"', 1)[1].split("</div>", 1)[0]
    assert "Rows with errors: 6. Nothing was saved" in page
    for expected in (
        "Row 3: “2027-02-30” is not a date YYYY-MM-DD.",
        "Row 4: “vacation” is not a kind: write holiday (休) or workday (班).",
        "Row 5: Give the day a name, e.g. 春节 or Spring Festival.",
        "Row 6: 2027-02-08 is listed already, in row 2.",
        "Row 7: 2027-02-15 is a working day of this calendar's week already;",
        "Row 8: 2207-02-11 is outside the years 2026 to 2028.",
    ):
        assert expected in errors, expected
    assert "Row 2:" not in errors
    assert _count(CalendarVersion) == versions and _count(CalendarEnteredDay) == entered
    assert "2027-02-08" not in _office().current_version.definition["holidays"]


def test_a_spreadsheets_gb18030_file_is_read_and_the_errors_are_in_chinese(client, world, login_as, today):
    admin = login_as("admin")
    admin.locale = "zh_CN"
    db.session.commit()
    office = _office()
    response = _upload(client, office.id, "2027-02-08,假期,春节\n".encode("gb18030"))
    assert "第 1 行：“假期”不是有效的类型" in _page(response)
    response = _upload(client, office.id, ("日期,类型,名称\n" + GOOD_CSV.split("\n", 1)[1]).encode("gb18030"))
    assert response.status_code == 302
    rows = holidays.entered_days(office.id)
    assert [(r.day.isoformat(), r.kind, r.name, r.source) for r in rows][0] == (
        "2027-02-08", "holiday", "春节", "file")
    assert _office().current_version.note.startswith("Entered from a file: 2027-02-08 holiday 春节")


def test_entering_days_is_for_administrators_only(client, world, login_as, today):
    office = _office()
    versions = _count(CalendarVersion)
    login_as("leadership")
    response = post_form(client, f"/admin/calendars/{office.id}/days",
                         {"first": "2027-02-08", "kind": "holiday", "name": "春节"})
    assert response.status_code == 403
    assert _upload(client, office.id, GOOD_CSV.encode()).status_code == 403
    assert _count(CalendarVersion) == versions


# ---------------------------------------------------------------- the dashboards' warning

# 1 December 00:00 in Shanghai, and one second before.
DECEMBER = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def _dashboards(client, monkeypatch, now, world) -> dict[str, str]:
    monkeypatch.setattr("tracker.web.dashboards.utcnow", lambda: now)
    paths = ("/dashboard", f"/dashboard/centre?centre={world.centres['repairs'].id}")
    return {path: _page(client.get(path)) for path in paths}


def _warnings(page: str) -> list[str]:
    return [part.split("</p>", 1)[0] for part in page.split('class="notice flash-warning holiday-gap"')[1:]]


def test_the_dashboards_warn_from_1_december_campus_time(client, world, login_as, monkeypatch):
    login_as("leadership")
    for page in _dashboards(client, monkeypatch, DECEMBER - timedelta(seconds=1), world).values():
        assert _warnings(page) == []
    pages = _dashboards(client, monkeypatch, DECEMBER, world)
    for path, page in pages.items():
        [warning] = _warnings(page)
        assert "Calendar Office hours (Mon-Fri, China holidays) has no holidays for 2027 yet" in warning, path
        # Leadership reads the warning; only an administrator gets the link to fix it.
        assert "/admin/calendars/" not in warning
        assert "An administrator can enter the published schedule." in warning
    # The round-the-clock calendar lists no holidays and lacks nothing.
    assert "24" not in _warnings(pages["/dashboard"])[0]


def test_the_centre_head_is_warned_on_the_centre_dashboard(client, world, login_as, monkeypatch):
    login_as("centre_head")
    monkeypatch.setattr("tracker.web.dashboards.utcnow", lambda: DECEMBER + timedelta(days=20))
    [warning] = _warnings(_page(client.get("/dashboard/centre")))
    assert "2027" in warning and "/admin/" not in warning


def test_the_admin_is_warned_with_the_link_to_enter_the_days(client, world, login_as, monkeypatch):
    login_as("admin")
    monkeypatch.setattr("tracker.web.dashboards.utcnow", lambda: DECEMBER + timedelta(days=30, hours=7))
    [warning] = _warnings(_page(client.get("/dashboard")))
    assert f'href="/admin/calendars/{_office().id}#entered-days"' in warning
    assert "Enter the published schedule" in warning


def test_the_warning_goes_once_next_years_holidays_are_entered(client, world, login_as, monkeypatch, today):
    login_as("admin")
    assert _upload(client, _office().id, GOOD_CSV.encode()).status_code == 302
    for page in _dashboards(client, monkeypatch, DECEMBER, world).values():
        assert _warnings(page) == []


def test_a_calendar_no_policy_uses_is_not_warned_about(client, world, login_as, monkeypatch):
    from tracker.services.sla import config as sla_config

    sla_config.create_calendar(code="unused", name_en="Unused", name_zh="未用",
                               definition={"timezone": "Asia/Shanghai", "week": {"mon": [["08:00", "17:00"]]},
                                           "holidays": ["2026-10-01"]},
                               follows_china_holidays=True, actor=None, now=DECEMBER)
    assert [m.calendar.code for m in holidays.next_year_missing(date(2026, 12, 1))] == ["office"]
    assert holidays.next_year_missing(date(2026, 11, 30)) == []
    login_as("leadership")
    assert len(_warnings(_dashboards(client, monkeypatch, DECEMBER, world)["/dashboard"])) == 1
