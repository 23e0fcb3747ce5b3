"""Business calendars, SLA policies and China's holidays, administered through the web and the CLI."""

import html
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.forms.admin import CalendarForm, PolicyForm, format_duration, parse_duration
from tracker.models import Calendar, CalendarVersion, Category, SlaPolicy, SlaPolicyVersion, Ticket
from tracker.services.sla import config as sla_config
from tracker.services.sla import holidays
from tracker.services.sla.holidays import china_days

OFFICE_WEEK = "08:30-12:00, 14:00-17:30"
NON_ADMINS = [
    "requester",
    "other_requester",
    "technician",
    "other_technician",
    "dorm_technician",
    "dispatcher",
    "centre_head",
    "dorm_head",
    "leadership",
]


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _count(model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count(model.id))).scalar_one()


def _calendar(code: str) -> Calendar:
    db.session.expire_all()
    return db.session.execute(select(Calendar).where(Calendar.code == code)).scalar_one()


def _policy(code: str) -> SlaPolicy:
    db.session.expire_all()
    return db.session.execute(select(SlaPolicy).where(SlaPolicy.code == code)).scalar_one()


def _campus_today():
    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()


def _calendar_form(**overrides) -> dict:
    data = {
        "code": "library",
        "name_zh": "图书馆开放时间",
        "name_en": "Library opening hours",
        "timezone": "Asia/Shanghai",
        "week_mon": OFFICE_WEEK,
        "week_tue": OFFICE_WEEK,
        "week_wed": OFFICE_WEEK,
        "week_thu": OFFICE_WEEK,
        "week_fri": OFFICE_WEEK,
        "week_sat": "09:00-12:00",
        "week_sun": "",
        "holidays": "2026-10-01\n2026-10-02, 2026-10-05",
        "extra_workdays": "2026-10-10",
        "extra_workday_hours": "",
        "note": "opening hours from the library",
    }
    data.update(overrides)
    return data


def _edit_form(obj, form_class) -> dict:
    """Return what the edit page posts back when nothing is touched."""
    data = {}
    for name, value in form_class.data_from(obj).items():
        if isinstance(value, dict):
            for key, sub in value.items():
                if sub is True:
                    data[f"{name}-{key}"] = "y"
                elif sub not in (False, None):
                    data[f"{name}-{key}"] = sub if isinstance(sub, list) else str(sub)
        elif value is True:
            data[name] = "y"
        elif value not in (False, None):
            data[name] = str(value)
    return data


def _policy_form(**overrides) -> dict:
    data = {
        "code": "keys-fast",
        "name_zh": "钥匙快速服务",
        "name_en": "Keys: fast service",
        "target_response-enabled": "y",
        "target_response-calendar": "always",
        "target_response-minutes_urgent": "30m",
        "target_response-minutes_high": "1h",
        "target_response-minutes_normal": "4h",
        "target_response-minutes_low": "2d",
        "target_response-at_risk": "80",
        "target_resolution-enabled": "y",
        "target_resolution-calendar": "office",
        "target_resolution-minutes_urgent": "4h",
        "target_resolution-minutes_high": "1h30m",
        "target_resolution-minutes_normal": "90",
        "target_resolution-minutes_low": "",
        "target_resolution-at_risk": "75",
        "hold_waiting_parts-targets": ["resolution"],
        "hold_waiting_parts-cap_hours": "72",
        "hold_requester_unavailable-targets": ["response", "resolution"],
        "hold_requester_unavailable-cap_hours": "",
        "escalation_ack": "15m",
        "escalation_leadership_after": "1h",
        "escalation_defer_to": "office",
        "note": "first version",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------- calendars


def test_admin_creates_a_calendar(client, world, login_as):
    login_as("admin")

    response = post_form(client, "/admin/calendars/new", _calendar_form())

    assert response.status_code == 302, _page(response)[:2000]
    calendar = _calendar("library")
    version = calendar.current_version
    assert (calendar.name_en, version.number, version.note) == ("Library opening hours", 1, "opening hours from the library")
    assert version.created_by_id == world.users["admin"].id
    assert version.definition == {
        "timezone": "Asia/Shanghai",
        "week": {
            **{day: [["08:30", "12:00"], ["14:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")},
            "sat": [["09:00", "12:00"]],
            "sun": [],
        },
        "holidays": ["2026-10-01", "2026-10-02", "2026-10-05"],
        "extra_workdays": ["2026-10-10"],
    }
    page = _page(client.get(response.headers["Location"], follow_redirects=True))
    assert "Calendar “library” created as version 1." in page
    assert "图书馆开放时间" in _page(client.get("/admin/calendars"))


def test_an_inverted_interval_is_refused_next_to_its_weekday_and_nothing_is_saved(client, world, login_as):
    login_as("admin")
    before = (_count(Calendar), _count(CalendarVersion))

    response = post_form(client, "/admin/calendars/new", _calendar_form(week_mon="14:00-12:00"))

    page = _page(response)
    assert response.status_code == 200
    assert "nothing was saved" in page
    assert 'aria-describedby="week_mon-error"' in page
    assert '<p class="error" id="week_mon-error">The calendar is not valid: week.mon[0]: end 12:00 is before start 14:00' in page
    assert (_count(Calendar), _count(CalendarVersion)) == before


def test_a_calendar_error_reads_in_the_admins_language(client, world, login_as):
    login_as("admin")
    post_form(client, "/language", {"locale": "zh_CN", "next": "/admin/calendars"})
    before = (_count(Calendar), _count(CalendarVersion))

    overlapping = post_form(client, "/admin/calendars/new", _calendar_form(week_mon="08:00-12:00, 11:00-13:00"))
    inverted = post_form(client, "/admin/calendars/new", _calendar_form(week_tue="14:00-12:00"))

    assert "日历无效：week.mon[1]：与 week.mon[0] 重叠" in _page(overlapping)
    assert "week.tue[0]：结束时间 12:00 早于开始时间 14:00" in _page(inverted)
    assert "is before start" not in _page(inverted)
    assert (_count(Calendar), _count(CalendarVersion)) == before


def test_a_calendar_error_of_the_service_reads_in_the_callers_language(app):
    from flask_babel import force_locale

    from tracker.errors import ValidationFailed
    from tracker.services.sla import config as sla_config

    with pytest.raises(ValidationFailed) as refused:
        sla_config.validate_calendar({"timezone": "Asia/Shanghai", "week": {"mon": [["14:00", "12:00"]]}})
    assert str(refused.value) == "The calendar is not valid: week.mon[0]: end 12:00 is before start 14:00"
    with app.test_request_context(), force_locale("zh_CN"):
        assert refused.value.translated() == "日历无效：week.mon[0]：结束时间 12:00 早于开始时间 14:00"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("week_tue", "8-12", '"8-12" is not a time range: write working hours like 08:30-12:00, 14:00-17:30.'),
        ("week_wed", "08:00-12:00, 11:00-13:00", "week.wed[1]: overlaps week.wed[0]"),
        ("timezone", "Mars/Base", 'timezone: unknown time zone "Mars/Base"'),
        ("holidays", "2026-13-01", '"2026-13-01" is not a date'),
        ("extra_workdays", "2026-10-01", "extra_workdays[0]: 2026-10-01 is also listed in holidays"),
        ("extra_workday_hours", "25:00-26:00", 'extra_workday_hours[0]: "25:00" is not a time HH:MM'),
    ],
)
def test_calendar_errors_are_shown_next_to_the_field_they_name(client, world, login_as, field, value, message):
    login_as("admin")
    before = _count(CalendarVersion)

    page = _page(post_form(client, "/admin/calendars/new", _calendar_form(**{field: value})))

    assert f'id="{field}-error"' in page
    error = page.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert _count(CalendarVersion) == before


def test_a_calendar_without_working_time_is_refused_with_a_message(client, world, login_as):
    login_as("admin")
    empty_week = {f"week_{day}": "" for day in ("mon", "tue", "wed", "thu", "fri", "sat")}

    page = _page(post_form(client, "/admin/calendars/new", _calendar_form(**empty_week, extra_workdays="")))

    assert "calendar has no working time" in page
    assert _count(Calendar) == 2


def test_editing_a_calendar_makes_version_2_and_version_1_stays_readable(client, world, login_as):
    login_as("admin")
    office = _calendar("office")
    data = _edit_form(office, CalendarForm)
    assert data["week_mon"] == OFFICE_WEEK
    data.update(week_fri="08:30-12:00", holidays=data["holidays"] + "\n2026-07-15", note="Summer closure")

    response = post_form(client, f"/admin/calendars/{office.id}", data)

    assert response.status_code == 302, _page(response)[:2000]
    assert "Calendar “office” saved as version 2." in _page(client.get("/admin/calendars"))
    office = _calendar("office")
    assert office.current_version.number == 2
    assert office.current_version.definition["week"]["fri"] == [["08:30", "12:00"]]
    assert "2026-07-15" in office.current_version.definition["holidays"]
    first = db.session.execute(
        select(CalendarVersion).where(CalendarVersion.calendar_id == office.id, CalendarVersion.number == 1)
    ).scalar_one()
    assert first.definition["week"]["fri"] == [["08:30", "12:00"], ["14:00", "17:30"]]
    old = _page(client.get(f"/admin/calendars/{office.id}/versions/1"))
    assert "08:30-12:00, 14:00-17:30" in old and "2026-07-15" not in old
    new = _page(client.get(f"/admin/calendars/{office.id}/versions/2"))
    assert "Summer closure" in new and "2026-07-15" in new and "Current" in new
    history = _page(client.get(f"/admin/calendars/{office.id}"))
    assert "Version 1" in history and "Version 2" in history and "Summer closure" in history
    assert client.get(f"/admin/calendars/{office.id}/versions/3").status_code == 404


def test_saving_an_unchanged_calendar_makes_no_version(client, world, login_as):
    login_as("admin")
    office = _calendar("office")
    data = _edit_form(office, CalendarForm)
    data["name_en"] = "Office hours"

    response = post_form(client, f"/admin/calendars/{office.id}", data, follow_redirects=True)

    assert "its definition is unchanged, so it stays at version 1." in _page(response)
    office = _calendar("office")
    assert (office.name_en, office.current_version.number) == ("Office hours", 1)
    assert _count(CalendarVersion) == 2


def test_a_calendar_form_opened_before_another_save_is_refused(client, world, login_as):
    login_as("admin")
    office = _calendar("office")
    stale = _edit_form(office, CalendarForm)
    newer = dict(stale, week_sat="09:00-12:00")
    assert post_form(client, f"/admin/calendars/{office.id}", newer).status_code == 302

    response = post_form(client, f"/admin/calendars/{office.id}", dict(stale, week_sun="09:00-12:00"))

    assert response.status_code == 200
    assert "Someone saved a newer version of this calendar" in _page(response)
    office = _calendar("office")
    assert office.current_version.number == 2
    assert office.current_version.definition["week"]["sun"] == []


# ---------------------------------------------------------------- China's holidays


def test_importing_china_holidays_adds_published_years_keeps_closures_and_warns_about_missing(
    client, world, login_as
):
    login_as("admin")
    missing = holidays.known_years().stop  # the first year without published data (2027 in 1.11)
    assert post_form(
        client, "/admin/calendars/new", _calendar_form(holidays="2026-07-15", extra_workdays="")
    ).status_code == 302
    library = _calendar("library")

    response = post_form(
        client, f"/admin/calendars/{library.id}/china-holidays", {"year_from": "2025", "year_to": str(missing)}
    )

    assert response.status_code == 302, _page(response)[:2000]
    page = _page(client.get(response.headers["Location"]))
    assert "China's holidays are imported into calendar library as version 2" in page
    assert "2025: 28 days off, 5 weekend working days" in page
    assert f"No holiday data for {missing} yet" in page and "flash-warning" in page
    library = _calendar("library")
    definition = library.current_version.definition
    assert {"2025-10-01", "2026-01-01", "2026-07-15"} <= set(definition["holidays"])
    assert {"2025-09-28", "2026-10-10"} <= set(definition["extra_workdays"])
    assert not any(day.startswith(str(missing)) for day in definition["holidays"])
    assert library.follows_china_holidays
    assert library.current_version.note.startswith("China holidays 2025")

    again = post_form(
        client, f"/admin/calendars/{library.id}/china-holidays", {"year_from": "2025", "year_to": "2026"}
    )
    assert "already had China's holidays for these years" in _page(client.get(again.headers["Location"]))
    assert _calendar("library").current_version.number == 2


def test_importing_only_years_without_data_is_refused(client, world, login_as):
    login_as("admin")
    office = _calendar("office")

    response = post_form(
        client, f"/admin/calendars/{office.id}/china-holidays", {"year_from": "2090", "year_to": "2091"}
    )

    assert response.status_code == 200
    assert "No published holiday data for 2090, 2091" in _page(response)
    assert _calendar("office").current_version.number == 1


def test_import_years_must_run_forwards(client, world, login_as):
    login_as("admin")
    office = _calendar("office")

    response = post_form(
        client, f"/admin/calendars/{office.id}/china-holidays", {"year_from": "2026", "year_to": "2025"}
    )

    assert 'id="year_to-error">The last year comes after the first.' in _page(response)
    assert _calendar("office").current_version.number == 1


def test_calendars_list_warns_when_a_china_calendar_lacks_next_years_holidays(client, world, login_as):
    login_as("admin")
    today = _campus_today()
    sla_config.create_calendar(
        code="campus",
        name_en="Campus",
        name_zh="校园",
        definition={
            "timezone": "Asia/Shanghai",
            "week": {"mon": [["08:00", "17:00"]]},
            # This year's official days off; next year only one closure by hand,
            # which must not count as next year's data.
            "holidays": china_days([today.year]).holidays + [f"{today.year + 1}-07-15"],
        },
        follows_china_holidays=True,
        actor=None,
        now=T0,
    )
    sla_config.create_calendar(
        code="plain",
        name_en="Plain",
        name_zh="普通",
        definition={"timezone": "Asia/Shanghai", "week": {"mon": [["08:00", "17:00"]]}},
        actor=None,
        now=T0,
    )

    page = _page(client.get("/admin/calendars"))

    next_year = today.year + 1
    warning = f"No holiday data for {next_year} yet: tickets running into {next_year} are counted as if it had none."
    assert warning in page
    campus_row = page.split(">campus</a>", 1)[1].split("</tr>", 1)[0]
    plain_row = page.split(">plain</a>", 1)[1].split("</tr>", 1)[0]
    assert warning in campus_row and f"No holiday data for {today.year} " not in campus_row
    assert "No holiday data" not in plain_row
    campus = _calendar("campus")
    assert warning in _page(client.get(f"/admin/calendars/{campus.id}"))


# ---------------------------------------------------------------- policies


@pytest.mark.parametrize(
    "text, minutes",
    [("90", 90), ("30m", 30), ("30 min", 30), ("4h", 240), ("1h30m", 90), ("1.5h", 90), ("2d", 2880), ("", None)],
)
def test_durations_read_as_minutes_and_days_as_24_hours(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("minutes, text", [(30, "30m"), (240, "4h"), (90, "1h30m"), (4320, "72h"), (None, "")])
def test_durations_are_shown_in_hours_and_minutes(minutes, text):
    assert format_duration(minutes) == text
    assert parse_duration(text) == minutes


def test_admin_creates_a_policy_with_durations(client, world, login_as):
    login_as("admin")

    response = post_form(client, "/admin/policies/new", _policy_form())

    assert response.status_code == 302, _page(response)[:3000]
    policy = _policy("keys-fast")
    assert policy.current_version.number == 1
    assert policy.current_version.definition == {
        "targets": {
            "response": {
                "calendar": "always",
                "minutes": {"urgent": 30, "high": 60, "normal": 240, "low": 2880},
                "at_risk": 0.8,
            },
            "resolution": {"calendar": "office", "minutes": {"urgent": 240, "high": 90, "normal": 90}, "at_risk": 0.75},
        },
        "pauses": {
            "waiting_parts": {"targets": ["resolution"], "cap_minutes": 4320},
            "requester_unavailable": {"targets": ["resolution", "response"], "cap_minutes": None},
        },
        "escalation": {"ack_minutes": 15, "leadership_after_minutes": 60, "defer_non_urgent_to": "office"},
    }
    listed = _page(client.get("/admin/policies"))
    assert "SLA policy “keys-fast” created as version 1." in listed and "钥匙快速服务" in listed
    shown = _page(client.get(f"/admin/policies/{policy.id}/versions/1"))
    assert "48 h 00 min" in shown and "72 h 00 min" in shown and "No cap" in shown
    # Its holds have no rule for the consent wait: the product's own rule is said.
    assert "By rule of the product, “Waiting for the requester to accept a quote” pauses" in shown
    assert "72 h 00 min under this version" in shown


def test_editing_a_policy_makes_a_new_version_only_when_it_changed(client, world, login_as):
    login_as("admin")
    repairs = _policy("repairs")
    data = _edit_form(repairs, PolicyForm)
    assert data["target_response-minutes_urgent"] == "30m"
    assert data["target_resolution-minutes_normal"] == "21h"
    assert data["hold_waiting_parts-cap_hours"] == "72"
    assert (data["escalation_ack"], data["escalation_leadership_after"]) == ("15m", "2h")

    unchanged = post_form(client, f"/admin/policies/{repairs.id}", data, follow_redirects=True)

    assert "its definition is unchanged, so it stays at version 1." in _page(unchanged)
    assert _count(SlaPolicyVersion) == 2

    data.update({"target_response-minutes_urgent": "20m", "note": "Faster answers"})
    changed = post_form(client, f"/admin/policies/{repairs.id}", data, follow_redirects=True)

    assert "SLA policy “repairs” saved as version 2: requests filed from now on run under it" in _page(changed)
    repairs = _policy("repairs")
    assert repairs.current_version.definition["targets"]["response"]["minutes"]["urgent"] == 20
    old = _page(client.get(f"/admin/policies/{repairs.id}/versions/1"))
    assert "30 min" in old and "Faster answers" not in old
    history = _page(client.get(f"/admin/policies/{repairs.id}"))
    assert "Version 2" in history and "Faster answers" in history


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"target_response-at_risk": "150"}, "The at-risk share is a whole percentage from 1 to 99."),
        (
            {"hold_scheduled-targets": ["arrival"]},
            "Scheduled for a later date cannot pause Arrival on site: the policy does not measure that target.",
        ),
        ({"target_response-minutes_high": "4 hours"}, "Write a duration like 90, 30m, 4h, 1h30m or 2d."),
        ({"target_response-minutes_high": "400d"}, "Give a duration longer than 0 and at most 365d."),
        (
            {f"target_resolution-minutes_{p}": "" for p in ("urgent", "high", "normal", "low")},
            "Give the time for at least one priority.",
        ),
        ({"target_resolution-calendar": ""}, "Choose the calendar."),
        ({"target_response-enabled": None, "target_resolution-enabled": None, "hold_waiting_parts-targets": None,
          "hold_waiting_parts-cap_hours": None, "hold_requester_unavailable-targets": None},
         "Measure at least one target."),
        ({"hold_third_party-cap_hours": "24"}, "Tick what this reason pauses, or leave the cap empty."),
        ({"hold_waiting_parts-cap_hours": "-3"}, "Give the cap in hours, e.g. 72 or 1.5, or leave it empty."),
        ({"escalation_ack": ""}, "Give the time to acknowledge an escalation."),
        ({"escalation_defer_to": "nowhere"}, "Not a valid choice."),
        ({"code": "repairs"}, "The code repairs is taken."),
    ],
)
def test_an_invalid_policy_is_refused_with_a_message_and_nothing_is_saved(
    client, world, login_as, overrides, message
):
    login_as("admin")
    before = (_count(SlaPolicy), _count(SlaPolicyVersion))

    response = post_form(client, "/admin/policies/new", _policy_form(**overrides))

    assert response.status_code == 200
    assert message in _page(response)
    assert (_count(SlaPolicy), _count(SlaPolicyVersion)) == before


def test_a_disabled_target_is_not_checked_and_not_saved(client, world, login_as):
    login_as("admin")

    response = post_form(
        client, "/admin/policies/new", _policy_form(**{"target_arrival-minutes_urgent": "nonsense"})
    )

    assert response.status_code == 302
    assert "arrival" not in _policy("keys-fast").current_version.definition["targets"]


# ---------------------------------------------------------------- which policy a category uses


def _category_form(category: Category, **overrides) -> dict:
    data = {
        "code": category.code,
        "name_en": category.name_en,
        "name_zh": category.name_zh,
        "default_priority": category.default_priority.value,
        "sort_order": str(category.sort_order),
        "is_active": "y",
        "sla_policy_id": str(category.sla_policy_id or ""),
    }
    data.update(overrides)
    return data


def test_a_category_pointed_at_a_policy_files_new_tickets_under_it(client, world, login_as, make_ticket):
    login_as("admin")
    keys = world.categories["keys"]
    before = make_ticket(category="keys", now=T0)
    standard = _policy("standard")
    assert before.sla_policy_version_id == standard.current_version_id
    assert post_form(client, "/admin/policies/new", _policy_form()).status_code == 302
    fast = _policy("keys-fast")

    response = post_form(client, f"/admin/categories/{keys.id}", _category_form(keys, sla_policy_id=str(fast.id)))

    assert response.status_code == 302, _page(response)[:2000]
    assert db.session.get(Category, keys.id).sla_policy_id == fast.id
    assert "keys-fast" in _page(client.get("/admin/categories"))
    assert "Keys and locks" in _page(client.get(f"/admin/policies/{fast.id}"))
    after = make_ticket(category="keys", now=T0)
    assert after.sla_policy_version_id == fast.current_version_id
    assert db.session.get(Ticket, before.id).sla_policy_version_id == standard.current_version_id

    # A new version of the policy applies to tickets filed from then on only.
    data = _edit_form(fast, PolicyForm)
    data["target_response-minutes_normal"] = "2h"
    assert post_form(client, f"/admin/policies/{fast.id}", data).status_code == 302
    fast = _policy("keys-fast")
    assert fast.current_version.number == 2
    # Saved on the page, the version is in force from the moment it was saved.
    latest = make_ticket(category="keys", now=fast.current_version.effective_from)
    assert latest.sla_policy_version_id == fast.current_version_id
    assert db.session.get(Ticket, after.id).sla_policy_version_id != fast.current_version_id

    # A form without the field (opened before it existed) leaves the policy alone.
    without = {k: v for k, v in _category_form(keys).items() if k != "sla_policy_id"}
    assert post_form(client, f"/admin/categories/{keys.id}", without).status_code == 302
    assert db.session.get(Category, keys.id).sla_policy_id == fast.id

    # "No SLA": new tickets measure nothing.
    assert post_form(client, f"/admin/categories/{keys.id}", _category_form(keys, sla_policy_id="")).status_code == 302
    assert make_ticket(category="keys", now=T0).sla_policy_version_id is None


def test_a_new_category_can_take_a_policy_and_an_unknown_one_is_refused(client, world, login_as):
    login_as("admin")
    data = {
        "centre_id": str(world.centres["dorm"].id),
        "code": "moves",
        "name_en": "Room moves",
        "name_zh": "调换宿舍",
        "default_priority": "low",
    }

    unknown = post_form(client, "/admin/categories/new", {**data, "sla_policy_id": "99999"})
    created = post_form(client, "/admin/categories/new", {**data, "sla_policy_id": str(_policy("standard").id)})

    assert unknown.status_code == 200 and "nothing was saved" in _page(unknown)
    assert created.status_code == 302
    moves = db.session.execute(select(Category).where(Category.code == "moves")).scalar_one()
    assert moves.sla_policy_id == _policy("standard").id


# ---------------------------------------------------------------- who may


def _snapshot():
    db.session.expire_all()
    rows = []
    for model in (Calendar, CalendarVersion, SlaPolicy, SlaPolicyVersion, Category):
        for row in db.session.execute(select(model).order_by(model.id)).scalars():
            rows.append((model.__name__, tuple(sorted((c.key, repr(getattr(row, c.key))) for c in model.__table__.columns))))
    return rows


def test_the_non_admin_list_covers_every_other_role(world):
    assert set(NON_ADMINS) == set(world.users) - {"admin"}


@pytest.mark.parametrize("who", NON_ADMINS)
def test_non_admin_gets_403_on_calendar_and_policy_pages_and_changes_nothing(client, world, login_as, who):
    office, repairs = _calendar("office"), _policy("repairs")
    keys = world.categories["keys"]
    pages = [
        "/admin/calendars",
        "/admin/calendars/new",
        f"/admin/calendars/{office.id}",
        f"/admin/calendars/{office.id}/versions/1",
        "/admin/policies",
        "/admin/policies/new",
        f"/admin/policies/{repairs.id}",
        f"/admin/policies/{repairs.id}/versions/1",
    ]
    posts = [
        ("/admin/calendars/new", _calendar_form()),
        (f"/admin/calendars/{office.id}", _edit_form(office, CalendarForm) | {"week_sat": "09:00-12:00"}),
        (f"/admin/calendars/{office.id}/china-holidays", {"year_from": "2025", "year_to": "2026"}),
        ("/admin/policies/new", _policy_form()),
        (f"/admin/policies/{repairs.id}", _edit_form(repairs, PolicyForm) | {"target_response-minutes_urgent": "1m"}),
        (f"/admin/categories/{keys.id}", _category_form(keys, sla_policy_id="")),
    ]
    login_as(who)
    before = _snapshot()

    for url in pages:
        assert client.get(url).status_code == 403, url
    for url, data in posts:
        assert post_form(client, url, data).status_code == 403, url

    assert _snapshot() == before


def test_admin_overview_links_calendars_and_policies(client, world, login_as):
    login_as("admin")
    page = _page(client.get("/admin/"))
    assert 'href="/admin/calendars"' in page and 'href="/admin/policies"' in page
    assert 'href="/admin/calendars/new"' in page and 'href="/admin/policies/new"' in page


# ---------------------------------------------------------------- command line


def test_sla_defaults_installs_once_and_reports_what_it_found(app, db):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["sla-defaults", "--china-years", "2025-2026"])
    second = runner.invoke(args=["sla-defaults"])

    assert first.exit_code == 0, first.output
    assert "calendar always: created (version 1)" in first.output
    assert "calendar office: created (version 1)" in first.output
    assert "2025: 28 days off, 5 weekend working days" in first.output
    assert "policy repairs: created (version 1)" in first.output
    assert second.exit_code == 0, second.output
    assert "calendar office: found (version 1)" in second.output
    assert "policy standard: found (version 1)" in second.output
    assert (_count(Calendar), _count(CalendarVersion), _count(SlaPolicy), _count(SlaPolicyVersion)) == (2, 2, 2, 2)
    assert "2025-10-01" in _calendar("office").current_version.definition["holidays"]


def test_import_china_holidays_command_imports_and_warns(app, db):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sla-defaults"]).exit_code == 0
    missing = holidays.known_years().stop

    result = runner.invoke(args=["import-china-holidays", "--calendar", "office", "--years", f"2025-{missing}"])

    assert result.exit_code == 0, result.output
    assert "2025: 28 days off, 5 weekend working days" in result.output
    assert "2026: " in result.output
    assert f"WARNING: no published holiday data for {missing}" in result.output
    assert "calendar office: version 2" in result.output
    assert "2026-10-01" in _calendar("office").current_version.definition["holidays"]


def test_import_china_holidays_command_fails_without_data_or_calendar(app, db):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sla-defaults"]).exit_code == 0

    no_data = runner.invoke(args=["import-china-holidays", "--calendar", "office", "--years", "2090-2091"])
    no_calendar = runner.invoke(args=["import-china-holidays", "--calendar", "nope", "--years", "2025"])
    backwards = runner.invoke(args=["import-china-holidays", "--years", "2026-2025"])

    assert no_data.exit_code == 1
    assert "WARNING: no published holiday data for 2090" in no_data.output
    assert "WARNING: no published holiday data for 2091" in no_data.output
    assert "No published holiday data for 2090, 2091" in no_data.output
    assert no_calendar.exit_code == 1 and "no calendar with code 'nope'; calendars: always, office" in no_calendar.output
    assert backwards.exit_code == 2 and "2025 is before 2026" in backwards.output
    assert _calendar("office").current_version.number == 1

