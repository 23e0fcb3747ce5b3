"""Round-the-clock dispatch on phones, in both languages, on a Saturday at 02:00 (docs/dispatch.md).

The journey runs against a second gunicorn serving the live system's
database with the application's clock at a Saturday of the week before, 02:00 campus
time (tests/browser/clocked.py: the integration tests' way of moving
"now", done in the server's processes). The centre head switches
automatic dispatch on for an emergency category whose policy times
dispatch (30 minutes, round the clock); the dispatcher fills in the roster
with the night technician's shift (Friday 20:00 to Saturday 08:00); the
requester files an emergency request in the small hours of Saturday and
sees who is on duty; the application dispatches it to the night
technician; the technician accepts it with one tap on a phone; the
dispatch and response targets both show as met. The settings and the
shift are undone at the end, so the other journeys dispatch by hand as
before.
"""

import re
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, LiveSystem, crew_on
from tests.browser.server import ROOT, LiveServer
from tests.browser.test_request_journey import assert_fits, file_request, flash, heading, ticket_status
from tests.browser.texts import BROWSER_LOCALES, texts

CAMPUS = ZoneInfo("Asia/Shanghai")
WORLD = {
    "en": {"centre": "Repair and maintenance", "category": "Power outage", "place": "Room 301"},
    "zh": {"centre": "维修服务中心", "category": "停电", "place": "301室"},
}

# An emergency category of the repairs centre whose policy times dispatch (30 minutes, round the clock),
# as test_supervision_journey.py makes it (the same codes: whichever runs first makes it). Its policy
# takes effect a week before ``argv[1]``.
POWER_OUTAGE = """
import copy, sys
from datetime import datetime, timedelta
from sqlalchemy import select
from tracker import create_app
from tracker.extensions import db
from tracker.models import Category, Centre, SlaPolicy
from tracker.services.sla import config as sla_config

app = create_app({"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
with app.app_context():
    if db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "timed-dispatch")).scalar_one_or_none() is None:
        repairs = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one()
        definition = copy.deepcopy(repairs.current_version.definition)
        definition["targets"]["dispatch"] = {"calendar": "always", "at_risk": 0.75, "share": 0.95,
                                             "minutes": {"urgent": 30, "high": 30, "normal": 30, "low": 30}}
        policy = sla_config.create_policy(code="timed-dispatch", name_en="Repairs, dispatch timed",
                                          name_zh="维修（计派单时限）", definition=definition, actor=None,
                                          now=datetime.fromisoformat(sys.argv[1]) - timedelta(days=7))
        centre = db.session.execute(select(Centre).where(Centre.code == "repairs")).scalar_one()
        db.session.add(Category(centre_id=centre.id, code="power-outage", name_en="Power outage",
                                name_zh="停电", default_priority="urgent", sla_policy_id=policy.id))
        db.session.commit()
"""


def saturday_2am_a_week_back(now: datetime) -> datetime:
    """Return the Saturday 02:00 campus time of the week before ``now`` (aware): 7 to 14 days back.

    Never within the last week, so the journey's requests stay out of the days other browser tests
    on the same database count as theirs (the standards journey replays the day before yesterday).
    """
    local = now.astimezone(CAMPUS)
    day = local.date() - timedelta(days=(local.weekday() - 5) % 7)
    at = datetime.combine(day, time(2, 0), tzinfo=CAMPUS)
    return (at if at < local else at - timedelta(days=7)) - timedelta(days=7)


@pytest.fixture(scope="module")
def saturday() -> datetime:
    """The instant the Saturday-night server's clock starts at: the Saturday of the week before, 02:00 campus time."""
    return saturday_2am_a_week_back(datetime.now(UTC))


@pytest.fixture(scope="module")
def saturday_night(live_system, saturday) -> LiveSystem:
    """The live system's database, served by a gunicorn whose clock starts at ``saturday``."""
    made = subprocess.run([sys.executable, "-c", POWER_OUTAGE, saturday.isoformat()], cwd=ROOT,
                          env=live_system.env, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr[-3000:]
    env = live_system.env
    server = LiveServer(
        database_url=env["DATABASE_URL"],
        instance_path=Path(env["TRACKER_INSTANCE_PATH"]),
        log_path=ARTIFACTS / "server-saturday-night.log",
        broker_url=env.get("CELERY_BROKER_URL"),
        app="tests.browser.clocked:app",
        extra_env={"TEST_CLOCK_OFFSET_SECONDS": str((saturday - datetime.now(UTC)).total_seconds())},
    )
    server.start()
    try:
        yield LiveSystem(url=server.url, seeded=live_system.seeded, log_path=server.log_path, env=server.env)
    finally:
        server.stop()


@pytest.fixture
def night_actors(request, browser, saturday_night, shots):
    """The actors fixture (conftest.py), on the Saturday-night server."""
    yield from crew_on(request, browser, saturday_night, shots)


def _settings(head: Page, t, category: str, on: bool) -> None:
    head.goto("/dispatch/roster")
    for name in ("Automatic dispatch", "Emergency"):
        box = head.get_by_label(f"{t(name)} {category}", exact=True)
        box.set_checked(on)
    head.get_by_role("button", name=t("Save the settings")).click()
    expect(flash(head)).to_contain_text(t("Dispatch settings saved."))


def _clear_week(page: Page, t) -> None:
    """Remove every shift of this week (an earlier run's), one Remove button at a time."""
    page.goto("/dispatch/roster")
    remove = page.get_by_role("button", name=re.compile("^" + re.escape(t("Remove"))))
    while remove.count():
        remove.first.click()
        expect(flash(page)).to_contain_text(t("Shift removed."))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_emergency_at_2am_on_saturday_goes_to_the_night_technician_who_accepts_it_on_a_phone(
    language, night_actors, saturday, shots
):
    t = texts(language)
    locale = BROWSER_LOCALES[language]
    names = WORLD[language]
    actors = night_actors

    head = actors.open("centre_head", "desktop", locale=locale)
    _settings(head, t, names["category"], True)
    shots.take(head, "head-dispatch-settings")
    try:
        # The dispatcher fills in the roster on a phone: Friday's night cover, 20:00 to 08:00 on Saturday.
        dispatcher = actors.open("dispatcher", "phone", locale=locale)
        _clear_week(dispatcher, t)
        friday = saturday.date() - timedelta(days=1)
        dispatcher.get_by_label(t("Who"), exact=True).select_option(label="Technician")
        dispatcher.get_by_label(t("Date"), exact=True).fill(friday.isoformat())
        dispatcher.get_by_label(t("From"), exact=True).fill("20:00")
        dispatcher.get_by_label(t("To"), exact=True).fill("08:00")
        dispatcher.get_by_label(t("Kind"), exact=True).select_option(label=t("On duty"))
        dispatcher.get_by_label(t("Note"), exact=True).fill("Night cover")
        assert_fits(dispatcher)
        dispatcher.get_by_role("button", name=t("Add the shift")).click()
        expect(flash(dispatcher)).to_contain_text(t("Shift added."))
        on_duty = dispatcher.get_by_role("region", name=t("On duty now"))
        expect(on_duty).to_contain_text("Technician")
        # The same shift again: refused, with the reason.
        dispatcher.get_by_label(t("Who"), exact=True).select_option(label="Technician")
        dispatcher.get_by_label(t("Date"), exact=True).fill(friday.isoformat())
        dispatcher.get_by_label(t("From"), exact=True).fill("20:00")
        dispatcher.get_by_label(t("To"), exact=True).fill("08:00")
        dispatcher.get_by_role("button", name=t("Add the shift")).click()
        expect(flash(dispatcher).first).to_contain_text(
            t("Nothing was saved: %(count)d rows have problems.", count=1)
        )
        assert_fits(dispatcher)
        shots.take(dispatcher, "dispatcher-roster")

        # The requester files an emergency request on a phone: dispatched at once, and they see who is on duty.
        requester = actors.open("requester", "phone", locale=locale)
        reference = file_request(
            requester,
            centre=names["centre"],
            category=names["category"],
            place=names["place"],
            description={"en": "The whole corridor lost power.", "zh": "整个走廊停电了。"}[language],
            shots=shots,
            t=t,
        )
        expect(ticket_status(requester)).to_have_text(t("Assigned"))
        # Filed in the small hours of Saturday, campus time, and assigned by the application at that instant.
        history = requester.locator("ol.history")
        filed = history.locator("li.event-filed time").get_attribute("datetime")
        filed_local = datetime.fromisoformat(filed).astimezone(CAMPUS)
        assert (filed_local.weekday(), filed_local.hour) == (5, 2), filed_local
        assigned = history.locator("li.event-assigned")
        expect(assigned.locator(".actor")).to_have_text(t("Automatic dispatch"))
        expect(assigned).to_contain_text("Technician")
        assert assigned.locator("time").get_attribute("datetime") == filed
        expect(requester.get_by_role("region", name=t("On duty now for emergencies"))).to_contain_text(
            "Technician"
        )
        assert_fits(requester)
        shots.take(requester, "requester-dispatched")

        # The night technician accepts it on a phone with one tap, from their queue.
        technician = actors.open("technician", "phone", locale=locale)
        expect(heading(technician)).to_have_text(t("My queue"))
        expect(technician.locator("#my-next-shifts")).to_contain_text(t("On duty"))
        card = technician.locator("#to-accept").get_by_role("listitem").filter(has_text=reference)
        assert_fits(technician)
        shots.take(technician, "technician-to-accept")
        card.get_by_role("button", name=re.compile("^" + re.escape(t("Accept")))).click()
        expect(
            technician.locator("#to-accept").get_by_role("listitem").filter(has_text=reference)
        ).to_have_count(0)
        technician.get_by_role("link", name=reference, exact=True).click()
        expect(ticket_status(technician)).to_have_text(t("Accepted"))
        # Both targets met: dispatch (filed -> assigned, at once) before response (assigned -> accepted).
        rows = technician.get_by_role("region", name=t("Service level")).locator(".sla-table tbody tr").filter(
            has=technician.get_by_role("rowheader")
        )
        expect(rows.nth(0).get_by_role("rowheader")).to_contain_text(t("Dispatch"))
        expect(rows.nth(0).locator(".sla-badge")).to_have_text(t("Met"))
        expect(rows.nth(1).get_by_role("rowheader")).to_contain_text(t("Response"))
        expect(rows.nth(1).locator(".sla-badge")).to_have_text(t("Met"))
        assert_fits(technician)
        shots.take(technician, "technician-accepted")
    finally:
        _settings(head, t, names["category"], False)
        _clear_week(head, t)
