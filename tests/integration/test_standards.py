"""Service standards: promised shares, drafts published from a date, and what they never touch."""

import copy
import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.factories import T0
from tests.integration import test_reports
from tests.integration.test_dashboards import WEEK as DASH_WEEK
from tests.integration.test_reports import NOW, WEEK
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.models import SlaPolicy, SlaPolicyVersion
from tracker.services import sla_config, weekly
from tracker.services.standards import promises

MONDAY = date(2026, 3, 2)


def _versions() -> int:
    return db.session.execute(select(func.count()).select_from(SlaPolicyVersion)).scalar_one()


def test_default_policies_promise_a_share_per_target(world):
    repairs = world.policies["repairs"].current_version.definition["targets"]
    assert repairs["response"]["share"] == 0.95
    assert repairs["response"]["calendar"] == "always"
    assert "share" not in repairs["confirmation"]


@pytest.mark.parametrize("share, accepted", [
    (0.95, 0.95), (1, 1.0), ("0.5", 0.5), (None, None), ("", None),
])
def test_a_share_between_nothing_and_everything_is_kept_as_a_fraction(world, share, accepted):
    definition = copy.deepcopy(world.policies["repairs"].current_version.definition)
    definition["targets"]["response"]["share"] = share
    checked = sla_config.validate_policy(definition)
    assert checked["targets"]["response"].get("share") == accepted


@pytest.mark.parametrize("share", [0, -0.1, 1.01, 95, "many"])
def test_a_share_over_100_percent_or_not_above_0_is_refused_and_nothing_stored(world, share):
    policy = world.policies["repairs"]
    definition = copy.deepcopy(policy.current_version.definition)
    definition["targets"]["response"]["share"] = share
    before = _versions()
    with pytest.raises(ValidationFailed) as refused:
        sla_config.save_policy_version(policy.id, definition=definition, actor=None, now=T0)
    assert "promised share" in str(refused.value)
    db.session.rollback()
    assert _versions() == before
    assert db.session.get(SlaPolicy, policy.id).current_version.definition["targets"]["response"]["share"] == 0.95


# ---------------------------------------------------------------- met % against the promised share

week = test_reports.week


def _csv(client, url) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True)[1:])))


def test_met_percent_is_read_against_the_promised_share(week, world, app):
    repairs = world.centres["repairs"].id
    rows = {c.target: c for c in promises.compare(WEEK, [repairs], NOW)}
    response = rows["response"]
    # test_reports: 2 met, 1 breached; the repairs standard promises 95 %.
    assert (response.met, response.breached, response.share) == (2, 1, 0.95)
    assert response.gap == pytest.approx(200 / 3 - 95)
    assert response.is_kept is False
    with app.test_request_context():
        assert promises.standard_text(response) == "30 min, 24×7, 95 %"
    # The week before counted nothing: no trend.
    assert response.previous_percent is None and response.trend is None
    # Confirmation states no share: nothing to keep or break.
    assert rows["confirmation"].share is None and rows["confirmation"].is_kept is None


def test_the_dashboards_and_their_file_show_the_gap_to_the_promise(week, world, client, login_as):
    login_as("leadership")
    rows = _csv(client, f"/dashboard/export/standards.csv?{DASH_WEEK}")
    response = next(r for r in rows if r["Centre"] == "Repair and maintenance" and r["Target"] == "Response")
    assert (response["Met %"], response["Promised %"], response["Gap to the promise"], response["Promise"]) == (
        "66.7", "95.0", "-28.3", "not kept")
    assert response["Own standard"] == "30 min, 24×7, 95 %"
    html = client.get(f"/dashboard?{DASH_WEEK}").get_data(as_text=True)
    assert 'id="figures-standards"' in html and "−28.3 pts" in html
    html = client.get(f"/dashboard/centre?{DASH_WEEK}&centre={world.centres['repairs'].id}").get_data(as_text=True)
    assert 'id="figures-standards"' in html and "not kept" in html


def test_the_weekly_report_stores_the_standard_beside_the_figure(week, world, client, login_as):
    report = weekly.generate(MONDAY, actor=None, now=NOW)
    repairs = weekly.read(report.content).centres[0]
    response = next(c for c in repairs.standards if c.target == "response")
    assert response.gap == pytest.approx(200 / 3 - 95) and response.share == 0.95
    login_as("leadership")
    html = client.get(f"/weekly/{MONDAY}").get_data(as_text=True)
    assert 'id="standard-repairs-response"' in html and "−28.3 pts" in html
