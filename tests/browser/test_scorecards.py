"""A technician's scorecard shows the job; the satisfaction figure leaves out an automatic closure (Chromium).

The requests are filed and moved through the services in this process, on
the live system's database (no worker runs beside the server: the summary
is refreshed here, as the workers would); the pages are read in both
languages.
"""

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_fits
from tests.browser.test_request_journey import heading, nav
from tests.browser.texts import BROWSER_LOCALES, texts


@contextmanager
def live_app(live_system):
    """Yield an app context on the live system's database."""
    from tracker import create_app
    from tracker.extensions import db

    env = live_system.env
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "INSTANCE_PATH": env["TRACKER_INSTANCE_PATH"],
            "TRACKER_TIMEZONE": "Asia/Shanghai",
        }
    )
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def walk(description: str, *, at: datetime, confirm: bool | None, rating: int | None = None):
    """File a water request in room 301 at ``at``; the technician takes and resolves it; then the
    requester confirms (True), the application closes it (False) or nobody (None). Returns its reference."""
    from sqlalchemy import select

    from tracker.domain.workflow import Action
    from tracker.extensions import db
    from tracker.models import Category, Location, User
    from tracker.services.insight import stats
    from tracker.services.ledger import feedback
    from tracker.services.requests import tickets as svc

    def user(name):
        return db.session.execute(select(User).where(User.username == name)).scalar_one()

    water = db.session.execute(select(Category).where(Category.code == "water")).scalar_one()
    room = db.session.execute(select(Location).where(Location.code == "main-b3-301")).scalar_one()
    requester, technician = user("requester"), user("technician")
    ticket = svc.file_ticket(
        svc.NewTicket(
            centre_id=water.centre_id, category_id=water.id, location_id=room.id, description=description
        ),
        requester=requester,
        now=at,
    )
    svc.transition(ticket.id, Action.TAKE, actor=technician, now=at + timedelta(minutes=5))
    svc.transition(
        ticket.id,
        Action.RESOLVE,
        actor=technician,
        now=at + timedelta(minutes=40),
        resolution_note="Replaced the washer.",
    )
    if confirm is True:
        svc.transition(ticket.id, Action.CONFIRM, actor=requester, now=at + timedelta(hours=2))
    elif confirm is False:
        svc.transition(ticket.id, Action.CONFIRM, actor=None, now=at + timedelta(days=4))  # automatic closure
    if rating is not None:
        feedback.give(ticket.id, rating=rating, actor=requester, now=at + timedelta(hours=3))
    stats.refresh_all()
    return ticket.reference, water.centre_id


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_technician_scorecard_shows_the_job(actors, live_system, shots, language):
    t = texts(language)
    with live_app(live_system):
        reference, _ = walk(
            f"Scorecard journey ({language}): the basin tap drips.",
            at=datetime.now(UTC) - timedelta(hours=2),
            confirm=None,
        )
    technician = actors.open("technician", "phone", locale=BROWSER_LOCALES[language])
    nav(technician, t("Scorecards")).click()
    expect(heading(technician)).to_have_text(t("Scorecards"))
    cards = technician.get_by_role("region", name=t("Technicians"))
    expect(cards.get_by_role("rowheader", name="Technician", exact=True)).to_be_visible()
    expect(cards.get_by_role("rowheader", name="Other-Technician")).to_have_count(0)  # their own card only
    handled = cards.locator("tr").filter(
        has=technician.get_by_role("rowheader", name="Technician", exact=True)
    )
    assert int(handled.locator("[data-figure=handled]").inner_text()) >= 1
    jobs = technician.get_by_role("region", name=t("Requests handled"))
    expect(jobs.get_by_role("link", name=reference)).to_be_visible()
    assert_fits(technician)
    shots.take(technician, f"technician-scorecard-{language}")


WEEKS = {"en": datetime(2026, 5, 4, 1, 0, tzinfo=UTC), "zh": datetime(2026, 5, 11, 1, 0, tzinfo=UTC)}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_satisfaction_figure_excludes_an_auto_confirmed_request(actors, live_system, shots, language):
    t = texts(language)
    monday = WEEKS[language]  # a week of its own: nothing else closes then
    with live_app(live_system):
        walk("Honest satisfaction: rated by its requester.", at=monday, confirm=True, rating=4)
        _, centre_id = walk(
            "Honest satisfaction: never confirmed.", at=monday + timedelta(hours=1), confirm=False
        )
    leader = actors.open("leadership", "desktop", locale=BROWSER_LOCALES[language])
    first, last = monday.date(), (monday + timedelta(days=6)).date()
    leader.goto(f"/dashboard?from={first}&to={last}&centre={centre_id}")
    honest = leader.get_by_role("region", name=t("Satisfaction, honestly counted"))
    expect(honest).to_contain_text(t("Satisfaction (real ratings only)"))
    # Only the requester's 4 counts: the automatic closure is no "good" rating.
    expect(honest.locator("[data-figure=satisfaction]")).to_have_text("4.0")
    expect(honest.locator("[data-figure=confirmed]")).to_have_text(re.compile(r"^\s*50 %\s*$"))
    expect(honest.locator("[data-figure=rated]")).to_have_text(re.compile(r"^\s*50 %\s*$"))
    expect(honest.locator("[data-figure=closed_auto]")).to_have_text(re.compile(r"^\s*1 / 2\s*$"))
    assert_fits(leader)
    shots.take(leader, f"honest-satisfaction-{language}")
