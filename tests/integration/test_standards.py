"""Service standards: promised shares, drafts published from a date, and what they never touch."""

import copy
import csv
import io
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0
from tests.integration import test_reports
from tests.integration.test_dashboards import WEEK as DASH_WEEK
from tests.integration.test_reports import NOW, WEEK
from tracker.errors import Conflict, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.forms.admin import PolicyForm
from tracker.models import (
    AdminEvent,
    Benchmark,
    BenchmarkLink,
    SlaPolicy,
    SlaPolicyVersion,
    Ticket,
    TicketSla,
)
from tracker.services.insight import weekly
from tracker.services.insight.reports import Filters
from tracker.services.sla import config as sla_config
from tracker.services.sla.standards import benchmarks, drafts, promises

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
    with app.test_request_context(), force_locale("en"):
        assert promises.standard_text(response) == "30 min, 24×7, 95 %"
    with app.test_request_context(), force_locale("zh_CN"):
        assert promises.standard_text(response) == "30 分钟, 24×7, 95 %"
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
    html = client.get(f"/dashboard/details?{DASH_WEEK}").get_data(as_text=True)
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


# ---------------------------------------------------------------- drafts and publishing


def _response_minutes(version_id: int) -> float:
    return db.session.get(SlaPolicyVersion, version_id).definition["targets"]["response"]["minutes"]["normal"]


def _faster(definition: dict) -> dict:
    changed = copy.deepcopy(definition)
    changed["targets"]["response"]["minutes"] = {p: 20 for p in ("urgent", "high", "normal", "low")}
    changed["targets"]["response"]["share"] = 0.98
    return changed


def test_a_published_draft_applies_from_its_day_and_never_before(world, make_ticket):
    repairs = world.policies["repairs"]
    old = repairs.current_version_id
    draft = drafts.create_draft(repairs.id, actor=world.users["centre_head"], now=T0)
    drafts.save_draft(draft.id, definition=_faster(draft.definition), actor=world.users["centre_head"],
                      now=T0 + timedelta(minutes=5))
    # A draft touches nothing live: filing still takes the published version.
    while_draft = make_ticket(now=T0 + timedelta(minutes=10))
    assert while_draft.sla_policy_version_id == old

    drafts.publish(draft.id, effective_on=date(2026, 3, 3), actor=world.users["centre_head"],
                   now=T0 + timedelta(hours=1))
    published = db.session.get(SlaPolicyVersion, draft.id)
    # Tuesday 00:00 in Shanghai is Monday 16:00 UTC.
    assert published.effective_from == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert published.published_by_id == world.users["centre_head"].id
    assert db.session.get(SlaPolicy, repairs.id).current_version_id == draft.id
    before = make_ticket(now=datetime(2026, 3, 2, 15, 59, tzinfo=UTC))
    after = make_ticket(now=datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    assert before.sla_policy_version_id == old
    assert after.sla_policy_version_id == draft.id
    # The earlier tickets keep their version and their deadlines.
    assert db.session.get(Ticket, while_draft.id).sla_policy_version_id == old
    clocks = {row.target.value: row for row in db.session.execute(
        select(TicketSla).where(TicketSla.ticket_id == after.id)).scalars()}
    assert clocks["response"].target_minutes == 20
    assert _response_minutes(old) == 30


def test_publishing_for_today_starts_at_the_publishing_instant(world, make_ticket):
    repairs = world.policies["repairs"]
    old = repairs.current_version_id
    draft = drafts.create_draft(repairs.id, actor=None, now=T0)
    publish_at = T0 + timedelta(hours=2)
    drafts.publish(draft.id, effective_on=date(2026, 3, 2), actor=None, now=publish_at)
    assert db.session.get(SlaPolicyVersion, draft.id).effective_from == publish_at
    assert make_ticket(now=publish_at - timedelta(seconds=1)).sla_policy_version_id == old
    assert make_ticket(now=publish_at).sla_policy_version_id == draft.id


def test_a_day_before_today_is_refused_and_the_draft_stays_a_draft(world):
    draft = drafts.create_draft(world.policies["repairs"].id, actor=None, now=T0)
    with pytest.raises(ValidationFailed):
        drafts.publish(draft.id, effective_on=date(2026, 3, 1), actor=None, now=T0)
    db.session.rollback()
    assert db.session.get(SlaPolicyVersion, draft.id).is_draft


@pytest.mark.parametrize("break_it, words", [
    (lambda d: d["targets"]["response"].update(calendar="moon"), "choose a calendar"),
    (lambda d: d["targets"]["response"]["minutes"].update(normal=-5), "give a time above 0"),
    (lambda d: d["targets"]["response"].update(share=1.2), "promised share"),
    (lambda d: d["targets"].update(teleport={"calendar": "always", "minutes": {"normal": 10}}), "Unknown target"),
])
def test_a_malformed_draft_is_refused_and_nothing_is_stored(world, break_it, words):
    draft = drafts.create_draft(world.policies["repairs"].id, actor=None, now=T0)
    kept = copy.deepcopy(draft.definition)
    broken = copy.deepcopy(kept)
    break_it(broken)
    with pytest.raises(ValidationFailed) as refused:
        drafts.save_draft(draft.id, definition=broken, actor=None, now=T0)
    assert words in str(refused.value)
    db.session.rollback()
    assert db.session.get(SlaPolicyVersion, draft.id).definition == kept


def test_a_published_version_cannot_be_edited_or_discarded(world):
    version_id = world.policies["repairs"].current_version_id
    with pytest.raises(Conflict):
        drafts.save_draft(version_id, definition={}, actor=None, now=T0)
    db.session.rollback()
    with pytest.raises(Conflict):
        drafts.discard_draft(version_id, actor=None, now=T0)


def test_who_may_draft_a_policy(world):
    repairs, standard = world.policies["repairs"].id, world.policies["standard"].id
    u = world.users
    assert drafts.may_edit(u["admin"], repairs) and drafts.may_edit(u["admin"], standard)
    assert drafts.may_edit(u["centre_head"], repairs)  # only repairs' categories use it
    assert not drafts.may_edit(u["dorm_head"], repairs)
    assert drafts.may_edit(u["dorm_head"], standard)
    for name in ("leadership", "dispatcher", "technician", "requester"):
        assert not drafts.may_edit(u[name], repairs), name
        with pytest.raises(PermissionDenied):
            drafts.create_draft(repairs, actor=u[name], now=T0)
        db.session.rollback()


def test_every_change_to_a_standard_is_in_the_administration_history(world):
    head = world.users["centre_head"]
    repairs = world.policies["repairs"].id
    draft = drafts.create_draft(repairs, actor=head, now=T0)
    drafts.save_draft(draft.id, definition=_faster(draft.definition), actor=head, now=T0)
    drafts.publish(draft.id, effective_on=date(2026, 3, 3), actor=head, now=T0)
    second = drafts.create_draft(repairs, actor=head, now=T0)
    drafts.discard_draft(second.id, actor=head, now=T0)
    entries = db.session.execute(
        select(AdminEvent).where(AdminEvent.entity == "policy_version").order_by(AdminEvent.id)).scalars().all()
    mine = [(e.entity_id, e.action) for e in entries if e.actor_id == head.id]
    assert mine == [(draft.id, "created"), (draft.id, "changed"), (draft.id, "changed"),
                    (second.id, "created"), (second.id, "deleted")]
    published = [e for e in entries if e.entity_id == draft.id][-1]
    assert published.changes["status"] == ["draft", "published"]


# ---------------------------------------------------------------- benchmarks

ROOT = Path(__file__).resolve().parents[2]
IN_SHARED = Path("shared") / "data" / "service-benchmarks" / "benchmarks.csv"


def _shared_path() -> Path:
    """Return ../shared/... beside the clone; from a git worktree, beside the main clone it belongs to."""
    beside = ROOT.parent / IN_SHARED
    dot_git = ROOT / ".git"
    if not beside.exists() and dot_git.is_file():
        # "gitdir: <main clone>/.git/worktrees/<name>"
        gitdir = Path(dot_git.read_text().split(":", 1)[1].strip())
        main_clone = gitdir.parents[2]
        if (main_clone.parent / IN_SHARED).exists():
            return main_clone.parent / IN_SHARED
    return beside


SHARED_CSV = _shared_path()


def _shared_csv() -> bytes:
    if not SHARED_CSV.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_CSV} is missing: CI keeps /work/shared beside the clone")
        pytest.skip(f"{SHARED_CSV} is not beside this clone")
    return SHARED_CSV.read_bytes()


@pytest.mark.parametrize("text, parsed", [
    ("30 min", (30, "minutes")), ("2 h", (2, "hours")), ("3 working days", (3, "working_days")),
    ("4 working hours", (4, "working_hours")), ("", (None, None)), ("  ", (None, None)), ("24 h", (24, "hours")),
    ("60 min", (60, "minutes")), ("1 working day", (1, "working_days")),
])
def test_limits_as_sources_write_them_parse(text, parsed):
    assert benchmarks.parse_limit(text) == parsed


@pytest.mark.parametrize("text", ["soon", "30", "-2 h", "0 min", "3 fortnights"])
def test_a_limit_that_is_not_one_is_refused(text):
    with pytest.raises(ValidationFailed):
        benchmarks.parse_limit(text)


@pytest.mark.parametrize("text, calendar", [
    ("24x7", "24x7"), ("working hours", "working_hours"), ("working days", "working_days"), ("", None)])
def test_calendars_as_sources_write_them_parse(text, calendar):
    assert benchmarks.parse_calendar(text) == calendar


def test_the_published_values_import_and_a_second_import_adds_nothing(world):
    data = _shared_csv()
    result = benchmarks.import_csv(data, read_year=2026, actor=world.users["admin"], now=T0)
    lines = len([line for line in data.decode("utf-8").splitlines()[1:] if line.strip()])
    assert (result.errors, result.created, result.skipped) == ([], lines, 0)
    rows = benchmarks.all_benchmarks()
    alberta = next(b for b in rows if b.source_name == "University of Alberta facilities" and b.target == "response")
    assert (alberta.limit_amount, alberta.limit_unit, alberta.calendar, alberta.share) == (2, "hours", "24x7", 0.95)
    assert alberta.read_year == 2026 and alberta.source_url.startswith("https://www.ualberta.ca/")
    small = next(b for b in rows if b.service_class == "small repairs")
    assert (small.limit_amount, small.limit_unit, small.calendar, small.share) == (None, None, None, 0.95)
    again = benchmarks.import_csv(data, read_year=2026, actor=world.users["admin"], now=T0)
    assert (again.errors, again.created, again.skipped) == ([], 0, lines)


BAD_CSV = """source,url,service,class,target,limit,calendar,share
Good campus,https://example.edu/a,repairs,urgent,response,1 h,24x7,95%
Bad limit,https://example.edu/b,repairs,urgent,response,soon,24x7,
Bad share,https://example.edu/c,repairs,urgent,response,2 h,24x7,120%
Nothing to compare,https://example.edu/d,repairs,urgent,response,,,
Bad calendar,https://example.edu/e,repairs,urgent,response,2 h,lunar,
"""


def test_a_file_with_bad_rows_names_each_by_number_and_stores_nothing(world, app):
    before = db.session.execute(select(func.count()).select_from(Benchmark)).scalar_one()
    result = benchmarks.import_csv(BAD_CSV, read_year=2026, actor=world.users["admin"], now=T0)
    assert [e.row for e in result.errors] == [3, 4, 5, 6]
    assert result.created == 0
    with app.test_request_context(), force_locale("zh_CN"):
        assert "不是" in result.errors[0].error.translated()
    assert db.session.execute(select(func.count()).select_from(Benchmark)).scalar_one() == before


# ---------------------------------------------------------------- pages


def test_who_opens_the_standards_pages(client, world, login_as):
    for url in ("/standards/centres", "/standards/benchmarks", "/standards/links"):
        assert client.get(url).status_code == 302, url  # anonymous: to the login page
    login_as("technician")
    for url in ("/standards/centres", "/standards/benchmarks", "/standards/links"):
        assert client.get(url).status_code == 403, url
    assert post_form(client, f"/standards/policies/{world.policies['repairs'].id}/drafts").status_code == 403
    post_form(client, "/logout")
    login_as("leadership")
    html = client.get("/standards/centres").get_data(as_text=True)
    assert "Repair and maintenance" in html and "Dormitory management" in html
    assert "30 min, 24×7, 95 %" in html and "New draft" not in html
    assert post_form(client, f"/standards/policies/{world.policies['repairs'].id}/drafts").status_code == 403
    assert post_form(client, "/standards/benchmarks", {"source_name": "X"}).status_code == 403


def test_a_centre_head_drafts_edits_and_publishes_their_standard_on_the_pages(client, world, login_as):
    head = login_as("centre_head")
    repairs = world.policies["repairs"]
    html = client.get("/standards/centres").get_data(as_text=True)
    assert "Dormitory management" not in html and "New draft" in html
    # The dorm's policy is not theirs.
    assert post_form(client, f"/standards/policies/{world.policies['standard'].id}/drafts").status_code == 403

    created = post_form(client, f"/standards/policies/{repairs.id}/drafts")
    assert created.status_code == 302
    draft = db.session.execute(select(SlaPolicyVersion).where(
        SlaPolicyVersion.policy_id == repairs.id, SlaPolicyVersion.status == "draft")).scalar_one()
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert f"/standards/?version={draft.id}" in page
    # The link opens the replay form with that version as the draft, kept with the replay.
    replay_form = client.get(f"/standards/?version={draft.id}").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{draft.id}"' in replay_form
    assert '&#34;repairs&#34;' in replay_form or '"repairs"' in replay_form
    # Another centre's policy version is not theirs to replay.
    other = world.policies["standard"].current_version_id
    assert client.get(f"/standards/?version={other}").status_code == 404
    data = PolicyForm.data_from(repairs, draft)
    form = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, list):
                    form[f"{key}-{sub}"] = v
                elif v is True:
                    form[f"{key}-{sub}"] = "y"
                elif v not in (False, None):
                    form[f"{key}-{sub}"] = str(v)
        elif key not in ("name_zh", "name_en"):
            form[key] = value
    form["target_response-share"] = "120"
    refused = post_form(client, f"/standards/drafts/{draft.id}", form, follow_redirects=True)
    assert "the promised share is above 0 % and at most 100 %" in refused.get_data(as_text=True)
    assert db.session.get(SlaPolicyVersion, draft.id).definition["targets"]["response"]["share"] == 0.95
    form["target_response-share"] = "98"
    assert post_form(client, f"/standards/drafts/{draft.id}", form).status_code == 302
    assert db.session.get(SlaPolicyVersion, draft.id).definition["targets"]["response"]["share"] == 0.98

    today = promises_day()
    yesterday = (today - timedelta(days=1)).isoformat()
    late = post_form(client, f"/standards/drafts/{draft.id}/publish", {"effective_on": yesterday},
                     follow_redirects=True)
    assert "takes effect today or later" in late.get_data(as_text=True)
    assert db.session.get(SlaPolicyVersion, draft.id).is_draft
    published = post_form(client, f"/standards/drafts/{draft.id}/publish", {"effective_on": today.isoformat()})
    assert published.status_code == 302
    version = db.session.get(SlaPolicyVersion, draft.id)
    assert not version.is_draft and version.published_by_id == head.id


def promises_day() -> date:
    from tracker.clock import utcnow
    from tracker.services.insight import reports

    return reports.local_day(utcnow())


def test_the_benchmark_page_imports_a_file_and_reports_bad_rows_by_number(client, world, login_as):
    login_as("admin")
    response = post_form(client, "/standards/benchmarks/import", {
        "read_year": "2026", "file": (io.BytesIO(BAD_CSV.encode()), "bad.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    for row in (3, 4, 5, 6):
        assert f"Row {row}:" in html
    assert db.session.execute(select(func.count()).select_from(Benchmark)).scalar_one() == 0
    good = BAD_CSV.splitlines()[:2]
    response = post_form(client, "/standards/benchmarks/import", {
        "read_year": "2026", "file": (io.BytesIO("\n".join(good).encode()), "good.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "1 benchmarks imported" in response.get_data(as_text=True)
    assert "1 h, 24×7, 95 %" in client.get("/standards/benchmarks").get_data(as_text=True)


def _benchmark(**values) -> Benchmark:
    base = {"source": "Campus A", "url": "https://a.example.edu/", "year": 2026, "service": "repairs",
            "class": "priority 1", "target": "response"}
    return benchmarks.create({**base, **values}, actor=None, now=T0)


def test_dashboards_and_the_weekly_report_set_actual_standard_and_benchmark_side_by_side(
        week, world, client, login_as, app):
    repairs = world.policies["repairs"].id
    with_share = _benchmark(limit="2 h", calendar="24x7", share="95%")
    limit_only = _benchmark(source="Campus B", limit="2 h", calendar="24x7")
    head = world.users["centre_head"]
    benchmarks.link(repairs, "response", with_share.id, actor=head, now=T0)
    benchmarks.link(repairs, "response", limit_only.id, actor=head, now=T0)
    with pytest.raises(ValidationFailed):
        benchmarks.link(repairs, "response", limit_only.id, actor=head, now=T0)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        benchmarks.link(repairs, "response", limit_only.id, actor=world.users["dorm_head"], now=T0)
    db.session.rollback()

    response = next(c for c in promises.compare(WEEK, [world.centres["repairs"].id], NOW) if c.target == "response")
    assert [b.source_name for b in response.benchmarks] == ["Campus A", "Campus B"]
    assert response.benchmarks[0].gap == pytest.approx(200 / 3 - 95)
    assert response.benchmarks[1].gap is None
    with app.test_request_context(), force_locale("en"):
        assert promises.limits_text(response, response.benchmarks[1]) == "our limit 30 min vs theirs 2 h"

    login_as("leadership")
    rows = _csv(client, f"/dashboard/export/standards.csv?{DASH_WEEK}")
    row = next(r for r in rows if r["Centre"] == "Repair and maintenance" and r["Target"] == "Response")
    assert row["Benchmark"] == "Campus A (2026): 2 h, 24×7, 95 %; Campus B (2026): 2 h, 24×7"
    assert row["Gap to the benchmark"] == "−28.3 pts; our limit 30 min vs theirs 2 h"

    report = weekly.generate(MONDAY, actor=None, now=NOW)
    stored = next(c for c in weekly.read(report.content).centres[0].standards if c.target == "response")
    assert [b.gap for b in stored.benchmarks][1] is None
    assert stored.benchmarks[0].gap == pytest.approx(200 / 3 - 95)
    html = client.get(f"/weekly/{MONDAY}").get_data(as_text=True)
    assert "our limit 30 min vs theirs 2 h" in html


def test_a_centre_head_links_a_standard_on_the_page(client, world, login_as):
    benchmark = _benchmark(limit="2 h", calendar="24x7", share="95%")
    login_as("centre_head")
    page = client.get("/standards/links").get_data(as_text=True)
    assert f'value="{world.policies["repairs"].id}:response"' in page
    assert f'value="{world.policies["standard"].id}:response"' not in page  # the dorm's
    response = post_form(client, "/standards/links", {
        "policy_target": f"{world.policies['repairs'].id}:response", "priority": "", "benchmark": str(benchmark.id)})
    assert response.status_code == 302
    assert "Campus A (2026)" in client.get("/standards/links").get_data(as_text=True)
    refused = post_form(client, "/standards/links", {
        "policy_target": f"{world.policies['standard'].id}:response", "priority": "", "benchmark": str(benchmark.id)})
    assert refused.status_code == 200  # not a choice offered to them: the form refuses it
    assert db.session.execute(select(func.count()).select_from(BenchmarkLink)).scalar_one() == 1


def test_a_period_is_read_against_the_standard_in_force_when_it_ended(week, world):
    repairs = world.centres["repairs"].id
    draft = drafts.create_draft(world.policies["repairs"].id, actor=None, now=NOW)
    drafts.save_draft(draft.id, definition=_faster(draft.definition), actor=None, now=NOW)
    drafts.publish(draft.id, effective_on=date(2026, 3, 21), actor=None, now=NOW)
    # The week of 2 March ended under the 95 % promise; a period running on 21 March reads 98 %.
    ended = promises.standard_instant(WEEK, NOW + timedelta(days=30))
    assert {c.target: c.share for c in promises.compare(WEEK, [repairs], ended)}["response"] == 0.95
    later = Filters(first=date(2026, 3, 16), last=date(2026, 3, 22))
    running = promises.standard_instant(later, datetime(2026, 3, 21, 4, 0, tzinfo=UTC))
    assert {c.target: c.share for c in promises.compare(later, [repairs], running)}["response"] == 0.98


def test_the_admin_policy_page_marks_a_draft_in_the_version_history(client, world, login_as):
    repairs = world.policies["repairs"]
    drafts.create_draft(repairs.id, actor=None, now=T0)
    login_as("admin")
    html = client.get(f"/admin/policies/{repairs.id}").get_data(as_text=True)
    assert html.count("Draft, not published") == 1
    assert "Version 2" in html


def test_a_request_filed_before_the_first_version_took_effect_runs_under_it(world, make_ticket):
    # The defaults were installed at T0; a back-dated request (an import, say) has nothing older.
    first = world.policies["repairs"].current_version_id
    draft = drafts.create_draft(world.policies["repairs"].id, actor=None, now=T0)
    drafts.publish(draft.id, effective_on=date(2026, 3, 3), actor=None, now=T0)
    assert make_ticket(now=T0 - timedelta(days=1)).sla_policy_version_id == first
