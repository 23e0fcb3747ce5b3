"""The duty roster's pages: entering, copying and importing shifts; who sees and changes what."""

import io
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.conftest import post_form
from tracker.extensions import db
from tracker.models import Shift


def _count():
    return db.session.execute(select(func.count()).select_from(Shift)).scalar_one()


def test_dispatcher_fills_in_a_night_shift_and_sees_it_on_the_week(client, world, login_as):
    login_as("dispatcher")
    centre = world.centres["repairs"].id
    response = post_form(
        client,
        f"/dispatch/roster/{centre}/shifts",
        {
            "user_id": world.users["technician"].id,
            "day": "2026-03-06",
            "start": "20:00",
            "end": "08:00",
            "kind": "on_duty",
            "week": "2026-03-02",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Shift added." in page
    shift = db.session.execute(select(Shift)).scalar_one()
    assert (shift.starts_at, shift.ends_at) == (
        datetime(2026, 3, 6, 12, tzinfo=UTC),
        datetime(2026, 3, 7, tzinfo=UTC),
    )
    assert "technician" in page
    # The same shift again (a double click): refused by the overlap rule, nothing more saved.
    again = post_form(
        client,
        f"/dispatch/roster/{centre}/shifts",
        {
            "user_id": world.users["technician"].id,
            "day": "2026-03-06",
            "start": "20:00",
            "end": "08:00",
            "kind": "on_duty",
        },
        follow_redirects=True,
    )
    assert "already has a shift" in again.get_data(as_text=True)
    assert _count() == 1


def test_shift_with_no_one_is_refused_in_chinese(client, world, login_as):
    login_as("dispatcher")
    client.set_cookie("lang", "zh_CN")
    response = post_form(
        client,
        f"/dispatch/roster/{world.centres['repairs'].id}/shifts",
        {
            "user_id": "",
            "day": "2026-03-06",
            "start": "20:00",
            "end": "08:00",
            "kind": "on_duty",
            "lang": "zh_CN",
        },
        headers={"Accept-Language": "zh-CN"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "请选择值班人员" in page
    assert _count() == 0


def test_import_page_reports_each_bad_row(client, world, login_as):
    login_as("dispatcher")
    data = (
        b"username,date,start,end\ntechnician,2026-03-06,20:00,08:00\nghost,2026-03-06,20:00,08:00\n"
        b"technician,2026-03-06,21:00,22:00\n"
    )
    response = post_form(
        client,
        f"/dispatch/roster/{world.centres['repairs'].id}/import",
        {"file": (io.BytesIO(data), "week.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Row 3: ghost is not on the staff of this service centre." in page
    assert "Row 4:" in page and "already has a shift then (row 2)" in page
    assert _count() == 0


def test_technician_sees_own_shifts_but_cannot_edit_the_roster(client, world, login_as):
    from datetime import date, time

    from tests.factories import T0
    from tracker.services.dispatch import roster

    roster.add_shift(
        world.centres["repairs"].id,
        roster.NewShift(
            user_id=world.users["technician"].id, day=date(2026, 3, 6), start=time(20), end=time(8)
        ),
        actor=world.users["dispatcher"],
        now=T0,
    )
    login_as("technician")
    assert client.get("/dispatch/roster").status_code == 403
    response = post_form(
        client,
        f"/dispatch/roster/{world.centres['repairs'].id}/shifts",
        {"user_id": world.users["technician"].id, "day": "2026-03-08", "start": "20:00", "end": "08:00"},
    )
    assert response.status_code == 403
    assert _count() == 1


def test_only_the_head_changes_dispatch_settings(client, world, login_as):
    login_as("dispatcher")
    centre = world.centres["repairs"].id
    response = post_form(
        client, f"/dispatch/roster/{centre}/settings", {"auto_dispatch": world.categories["water"].id}
    )
    assert response.status_code == 403
