"""A centre head tightens the repairs response, replays the draft on past requests, compares it with a
benchmark, follows a flipped request to its timelines, publishes the draft and reads it on the dashboard.

Run once with the browser in English and once in Chinese. Two closed repairs requests of two days ago
(accepted after 20 and 8 minutes: both met under the published 30 minutes) and a benchmark promising
80 % within 2 h, set beside the repairs response, are added by a child process with the server's
environment; the replay is run by a real Celery worker on the server's broker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.server import ROOT
from tests.browser.texts import BROWSER_LOCALES, texts
from tests.integration.workers import Worker

BENCHMARK = "Reference campus"
# The draft's response limit in each run: the second run drafts from the first's published version.
LIMITS = {"en": 15, "zh": 10}

SEED = """
import sys
from datetime import datetime, timedelta
from sqlalchemy import select
from tests.factories import World, make_ticket
from tracker import create_app
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import Benchmark, Category, Location, SlaPolicy, User
from tracker.services.insight import stats
from tracker.services.sla.standards import benchmarks

filed = datetime.fromisoformat(sys.argv[2])
app = create_app({"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
with app.app_context():
    world = World(password=sys.argv[1])
    world.categories["water"] = db.session.execute(select(Category).where(Category.code == "water")).scalar_one()
    world.locations["room"] = db.session.execute(select(Location).where(Location.code == "main-b3-301")).scalar_one()
    for name in ("requester", "dispatcher", "technician"):
        world.users[name] = db.session.execute(select(User).where(User.username == name)).scalar_one()
    # Accepted after 20 minutes (step 10) and after 8 (step 4): both met under 30 minutes.
    slow = make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10), now=filed,
                       description="The shower in room 301 runs cold.")
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=4), now=filed + timedelta(hours=1),
                description="The washbasin in room 301 drains slowly.")
    repairs = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one()
    benchmark = db.session.execute(select(Benchmark).where(Benchmark.source_name == sys.argv[3])).scalar_one_or_none()
    if benchmark is None:
        benchmark = benchmarks.create({"source": sys.argv[3], "year": 2026, "service": "repairs",
                                       "class": "priority 1", "target": "response", "limit": "2 h",
                                       "calendar": "24x7", "share": "80%"}, actor=None, now=filed)
        benchmarks.link(repairs.id, "response", benchmark.id, actor=None, now=filed)
    stats.refresh_all()
    print(slow.reference)
"""


@pytest.fixture(scope="module")
def past_day(live_system) -> tuple[str, str]:
    """Add the requests of two days ago and the linked benchmark; return the day and the slow request."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=2)
    filed = datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    result = subprocess.run([sys.executable, "-c", SEED, live_system.seeded.password, filed.isoformat(), BENCHMARK],
                            cwd=ROOT, env=live_system.env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return day.isoformat(), result.stdout.split()[-1]


@pytest.fixture(scope="module")
def worker(live_system, tmp_path_factory):
    """A Celery worker on the live server's database and broker: it runs the replays."""
    started = Worker("standards", live_system.env, tmp_path_factory.mktemp("standards-worker") / "worker.log")
    started.start()
    try:
        started.wait_ready(timeout=60)
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_centre_head_replays_a_draft_against_a_benchmark_then_publishes_it(actors, shots, past_day, worker,
                                                                             language):
    day, slow = past_day
    t = texts(language)
    limit = LIMITS[language]
    head = actors.open("centre_head", "desktop", locale=BROWSER_LOCALES[language])
    problems = []
    head.on("console", lambda message: message.type == "error" and problems.append(message.text))

    # A draft of the repairs standard, its response limit tightened for every priority.
    head.goto("/standards/centres")
    expect(head.get_by_role("heading", level=1)).to_have_text(t("Service standards"))
    head.locator("article.standards-policy").filter(has=head.locator("h3 > code", has_text=re.compile(r"^repairs$"))).get_by_role(
        "button", name=t("New draft")).click()
    expect(head.get_by_role("heading", level=1)).to_have_text(re.compile(r"\d"))
    draft_url = head.url
    for priority in ("urgent", "high", "normal", "low"):
        head.locator(f"#target_response-minutes_{priority}").fill(str(limit))
    head.get_by_role("button", name=t("Save the draft")).click()
    minutes = t("%(num)s min", num=str(limit))
    expect(head.locator("#draft-lines")).to_contain_text(minutes)
    shots.take(head, "draft")

    # Replay it on the day of the two requests; the worker runs it and the page reloads with the result.
    head.get_by_role("link", name=t("Replay this draft on past requests")).click()
    expect(head.get_by_role("heading", level=1)).to_have_text(t("Replay a draft standard"))
    head.get_by_label(t("Name of the replay"), exact=True).fill(f"Response {limit} min")
    head.get_by_label(t("From"), exact=True).fill(day)
    head.get_by_label(t("To"), exact=True).fill(day)
    head.get_by_role("button", name=t("Start the replay")).click()
    expect(head.locator("#replay-progress")).to_be_visible()
    against = head.locator("#replay-benchmarks")
    expect(against).to_be_visible(timeout=30_000)
    row = against.locator("tbody tr").filter(has_text=BENCHMARK)
    expect(row).to_contain_text(t("Response"))
    expect(row).to_contain_text("50.0 %")  # the draft: one met, one late
    expect(row).to_contain_text(minutes)  # the draft's limit, not the published one
    expect(row).to_contain_text("80 %")
    expect(row.locator(".benchmark-gap")).to_have_text(t("%(value)s pts", value="−30.0"))
    expect(head.get_by_role("heading", name=t("The draft against the linked benchmarks"))).to_be_visible()
    shots.take(head, "replay")

    # The request whose response flips: both timelines.
    head.locator("#replay-flips").get_by_role("link", name=slow, exact=True).click()
    expect(head.get_by_role("heading", level=1)).to_contain_text(slow)
    expect(head.get_by_role("heading", name=t("Measured"), exact=True).first).to_be_visible()
    expect(head.get_by_role("heading", name=t("Under the draft"), exact=True).first).to_be_visible()
    assert head.locator(".timeline").count() >= 2
    shots.take(head, "timelines")

    # Back to the draft: publish it; the dashboard sets the new standard and the benchmark beside the figure.
    head.goto(draft_url)
    expect(head.get_by_role("link", name=f"Response {limit} min")).to_be_visible()  # the replay stays with it
    head.get_by_role("button", name=t("Publish"), exact=True).click()
    expect(head.locator(".flash-success")).to_be_visible()
    head.goto("/dashboard/centre")
    standard = head.locator("#figures-standards tbody tr").filter(has_text=t("Response"))
    expect(standard).to_contain_text(minutes)
    expect(standard).to_contain_text(f"{BENCHMARK} (2026)")
    expect(standard).to_contain_text(re.compile(r"\d+\.\d %"))  # the actual met share
    shots.take(head, "dashboard")
    assert not problems, problems
