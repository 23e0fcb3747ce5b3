"""Saved replays: started through the API or the pages, run by the worker task, read back and shared;
the roles: administrators everything, centre heads their own centres, others 403.
"""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration.api_helpers import bearer, make_token
from tracker.domain.workflow import Status
from tracker.models import ReplayStatus, SlaPolicy, SlaReplay
from tracker.services.sla.standards import benchmarks, saved
from workers.tasks import standards as tasks

API = "/api/v1"
DAY = "2026-03-02"  # T0, Monday 09:00 in Shanghai


def _two_requests(world):
    """Two closed repairs requests of T0's day: one accepted after 20 minutes, one after 8."""
    slow = make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=4), now=T0 + timedelta(hours=1))
    return slow


def _tighter_repairs(db) -> dict:
    version = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one().current_version
    definition = json.loads(json.dumps(version.definition))
    definition["targets"]["response"]["minutes"]["high"] = 15
    definition["targets"]["response"]["share"] = 0.95
    return {"name": "response 15 min", "policies": {"repairs": definition}}


def _replays() -> int:
    from tracker.extensions import db

    return db.session.execute(select(func.count()).select_from(SlaReplay)).scalar_one()


def test_an_admin_starts_a_replay_through_the_api_and_reads_its_result(client, db, world):
    slow = _two_requests(world)
    token = make_token(world, "admin")
    answer = client.post(f"{API}/standards/replays", headers=bearer(token), json={
        "name": "Tighter response", "first": DAY, "last": DAY, "draft": _tighter_repairs(db),
        "as_of": (T0 + timedelta(days=10)).isoformat()})
    assert answer.status_code == 202, answer.get_json()
    started = answer.get_json()
    assert started["status"] == "queued"
    assert started["progress"] == {"done": 0, "total": 2, "percent": 0}
    assert answer.headers["Location"].endswith(f"/standards/replays/{started['id']}")

    assert tasks.replay(started["id"]) == "done"  # what the worker runs
    assert tasks.replay(started["id"]) is None  # a second copy does nothing

    read = client.get(answer.headers["Location"], headers=bearer(token)).get_json()
    assert read["status"] == "done"
    assert read["progress"] == {"done": 2, "total": 2, "percent": 100}
    result = read["result"]
    assert result["flips"]["met_to_late"] == 1
    assert result["flips"]["items"][0]["reference"] == slow.reference
    assert result["totals"]["response"]["draft"]["met_percent"] == 50.0
    assert read["draft"]["policies"]["repairs"]["targets"]["response"]["share"] == 0.95
    listed = client.get(f"{API}/standards/replays", headers=bearer(token)).get_json()["items"]
    assert [item["id"] for item in listed] == [started["id"]]
    assert "result" not in listed[0]


def test_centre_heads_replay_only_their_centres_and_other_roles_are_refused(client, db, world):
    _two_requests(world)
    head = make_token(world, "centre_head")  # repairs
    body = {"name": "x", "first": DAY, "last": DAY}
    dorm = client.post(f"{API}/standards/replays", headers=bearer(head),
                       json={**body, "centre_id": world.centres["dorm"].id})
    assert dorm.status_code == 403
    campus = client.post(f"{API}/standards/replays", headers=bearer(head, **{"Accept-Language": "en"}), json=body)
    assert campus.status_code == 400
    assert campus.get_json()["error"]["message"] == "Choose one of your centres."
    own = client.post(f"{API}/standards/replays", headers=bearer(head),
                      json={**body, "centre_id": world.centres["repairs"].id})
    assert own.status_code == 202
    for who in ("technician", "dispatcher", "leadership", "requester"):
        refused = client.post(f"{API}/standards/replays", headers=bearer(make_token(world, who)),
                              json={**body, "centre_id": world.centres["repairs"].id})
        assert refused.status_code == 403, who
    # The dorm's head cannot read the repairs replay; the admin can.
    dorm_head = make_token(world, "dorm_head")
    assert client.get(f"{API}/standards/replays/{own.get_json()['id']}", headers=bearer(dorm_head)).status_code == 403
    assert client.get(f"{API}/standards/replays/{own.get_json()['id']}",
                      headers=bearer(make_token(world, "admin"))).status_code == 200
    assert _replays() == 1


def test_a_malformed_draft_answers_400_in_the_callers_language_and_stores_nothing(client, db, world):
    _two_requests(world)
    token = make_token(world, "admin")
    bad = {"policies": {"repairs": {"targets": {"response": {"calendar": "always", "minutes": {"high": 30},
                                                             "share": 1.5}}}}}
    answer = client.post(f"{API}/standards/replays", headers=bearer(token, **{"Accept-Language": "zh-CN"}),
                         json={"name": "x", "first": DAY, "last": DAY, "draft": bad})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "响应：承诺比例须大于 0 % 且不超过 100 %。"
    shapeless = client.post(f"{API}/standards/replays", headers=bearer(token),
                            json={"name": "x", "first": DAY, "last": DAY, "draft": {"policies": {"repairs": []}}})
    assert shapeless.status_code == 400
    empty = client.post(f"{API}/standards/replays", headers=bearer(token, **{"Accept-Language": "en"}),
                        json={"name": "x", "first": "2020-01-01", "last": "2020-01-31"})
    assert empty.status_code == 400
    assert empty.get_json()["error"]["message"] == "No request was filed or measured in this period."
    assert _replays() == 0


def test_a_replay_of_a_policy_version_keeps_the_version_and_its_definition(db, world):
    _two_requests(world)
    version = world.policies["repairs"].current_version
    row = saved.start_replay(name="v", first=T0.date(), last=T0.date() + timedelta(days=1), centre_id=None,
                             draft=None, policy_version_id=version.id, actor=world.users["admin"],
                             now=T0 + timedelta(days=2))
    assert row.policy_version_id == version.id
    assert row.draft["policies"]["repairs"]["targets"] == version.definition["targets"]
    done = saved.execute_replay(row.id, now=T0 + timedelta(days=2))
    assert done.status is ReplayStatus.DONE
    assert done.result["changed_requests"] == 0


def test_the_pages_start_a_replay_show_the_comparison_a_flip_and_its_timelines(client, db, world, login_as):
    slow = _two_requests(world)
    login_as("admin")
    page = client.get("/standards/")
    assert page.status_code == 200
    assert "&#34;repairs&#34;: {" in page.get_data(as_text=True)  # the current standards, to edit
    answer = post_form(client, "/standards/", {
        "name": "Tighter response", "first": DAY, "last": DAY, "centre": str(world.centres["repairs"].id),
        "draft": json.dumps(_tighter_repairs(db))})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    replay_id = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    waiting = client.get(f"/standards/replays/{replay_id}").get_data(as_text=True)
    assert 'id="replay-progress"' in waiting and "js/job_progress.js" in waiting
    assert "<script>" not in waiting  # CSP: no inline script
    assert client.get(f"/standards/replays/{replay_id}.json").get_json()["is_finished"] is False
    tasks.replay(replay_id)
    assert client.get(f"/standards/replays/{replay_id}.json").get_json()["percent"] == 100
    done = client.get(f"/standards/replays/{replay_id}").get_data(as_text=True)
    assert slow.reference in done and 'id="replay-rows"' in done
    drill = client.get(f"/standards/replays/{replay_id}/requests/{slow.reference}")
    assert drill.status_code == 200
    assert drill.get_data(as_text=True).count('class="timeline"') >= 2

    # The shared link: leadership reads it; a requester may not.
    token = db.session.get(SlaReplay, replay_id).share_token
    post_form(client, "/logout")
    login_as("leadership")
    assert client.get(f"/standards/shared/{token}").status_code == 200
    assert client.get(f"/standards/replays/{replay_id}").status_code == 403
    post_form(client, "/logout")
    login_as("requester")
    assert client.get(f"/standards/shared/{token}").status_code == 403
    assert client.get("/standards/").status_code == 403


def test_a_bad_draft_on_the_page_is_flashed_and_nothing_is_stored(client, db, world, login_as):
    _two_requests(world)
    login_as("admin")
    answer = post_form(client, "/standards/", {"name": "x", "first": DAY, "last": DAY, "centre": "",
                                                "draft": "{not json"})
    assert answer.status_code == 400
    assert _replays() == 0


def test_a_replay_that_fails_in_the_worker_says_why_and_is_not_run_again(db, world):
    _two_requests(world)
    row = saved.start_replay(name="x", first=T0.date(), last=T0.date(), centre_id=None, draft=None,
                             actor=world.users["admin"], now=T0)
    row.params = {**row.params, "first": "2026-03-09"}  # now after its last day
    db.session.commit()
    assert tasks.replay(row.id) == "failed"
    db.session.refresh(row)
    assert (row.status, row.message) == (ReplayStatus.FAILED, "The period ends before it starts.")
    assert tasks.replay(row.id) is None


def test_a_draft_versions_replay_started_from_its_page_stays_attached_to_it(client, db, world, login_as):
    from tracker.services.sla.standards import drafts

    _two_requests(world)
    admin = world.users["admin"]
    draft = drafts.create_draft(world.policies["repairs"].id, actor=admin, now=T0 + timedelta(days=1))
    login_as("admin")
    form = client.get(f"/standards/?version={draft.id}").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{draft.id}"' in form
    answer = post_form(client, "/standards/", {
        "name": "Why draft 2", "first": DAY, "last": DAY, "centre": "", "version": str(draft.id),
        "draft": json.dumps(saved.draft_of_version(draft.id))})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    row = db.session.execute(select(SlaReplay)).scalar_one()
    assert row.policy_version_id == draft.id
    # The draft's page lists it: the record of why the version was changed.
    page = client.get(f"/standards/drafts/{draft.id}").get_data(as_text=True)
    assert f"/standards/replays/{row.id}" in page and "Why draft 2" in page
    # A version id that does not exist is refused and nothing more is stored.
    refused = post_form(client, "/standards/", {
        "name": "x", "first": DAY, "last": DAY, "centre": "", "version": "999999", "draft": ""})
    assert refused.status_code in (400, 404)
    assert _replays() == 1


def test_a_replay_sets_the_drafts_figure_beside_the_linked_benchmarks(client, db, world, login_as):
    _two_requests(world)
    repairs = world.policies["repairs"].id
    with_share = benchmarks.create({"source": "Campus A", "year": 2026, "service": "repairs", "target": "response",
                                    "limit": "2 h", "calendar": "24x7", "share": "80%"}, actor=None, now=T0)
    limit_only = benchmarks.create({"source": "Campus B", "year": 2026, "service": "repairs", "target": "response",
                                    "limit": "2 h"}, actor=None, now=T0)
    benchmarks.link(repairs, "response", with_share.id, actor=None, now=T0)
    benchmarks.link(repairs, "response", limit_only.id, actor=None, now=T0)
    draft = _tighter_repairs(db)
    for priority in draft["policies"]["repairs"]["targets"]["response"]["minutes"]:
        draft["policies"]["repairs"]["targets"]["response"]["minutes"][priority] = 15
    row = saved.start_replay(name="Tighter", first=T0.date(), last=T0.date(), centre_id=world.centres["repairs"].id,
                             draft=draft, as_of=T0 + timedelta(days=10), actor=None, now=T0 + timedelta(days=10))
    tasks.replay(row.id)

    against = db.session.get(SlaReplay, row.id).result["benchmarks"]
    assert [(c["target"], c["met"], c["breached"], c["share"], c["limit_low"]) for c in against] == [
        ("response", 1, 1, 0.95, 15.0)]  # the draft's figure and limit, not the published standard's
    assert [(b["source_name"], b["gap"]) for b in against[0]["benchmarks"]] == [("Campus A", -30.0),
                                                                                ("Campus B", None)]
    login_as("admin")
    page = client.get(f"/standards/replays/{row.id}").get_data(as_text=True)
    table = page[page.index('id="replay-benchmarks"'):]
    assert "Campus A (2026)" in table and "2 h, 24×7, 80 %" in table and "−30.0 pts" in table
    assert "our limit 15 min vs theirs 2 h" in table


def _worker_dies(monkeypatch, replay_id: int, at):
    """A worker takes the replay, writes one chunk's progress (its heartbeat at ``at``) and is killed."""

    def killed(filters, draft, now, *, progress, processes):
        progress(1, 2)
        raise KeyboardInterrupt  # not an Exception: nothing after it runs, as with a SIGKILL

    with monkeypatch.context() as patch:
        patch.setattr(saved.replays, "replay", killed)
        with pytest.raises(KeyboardInterrupt):
            saved.execute_replay(replay_id, now=at, clock=lambda: at)


def test_a_replay_whose_worker_died_is_queued_again_once_then_failed_with_why(client, db, world, monkeypatch):
    _two_requests(world)
    row = saved.start_replay(name="x", first=T0.date(), last=T0.date(), centre_id=None, draft=None,
                             actor=world.users["admin"], now=T0)
    published = []
    monkeypatch.setattr(saved, "publish_after_commit", lambda name, *args: published.append((name, *args)))
    _worker_dies(monkeypatch, row.id, T0)
    db.session.refresh(row)
    assert (row.status, row.attempts, row.heartbeat_at, row.progress_done) == (ReplayStatus.RUNNING, 1, T0, 1)

    # A heartbeat younger than the limit: a slow worker keeps its replay.
    assert saved.reclaim_stalled(T0 + timedelta(minutes=9)) == {"requeued": [], "failed": []}
    # Older: its worker died. Queued again, once, for another worker.
    assert saved.reclaim_stalled(T0 + timedelta(minutes=11)) == {"requeued": [row.id], "failed": []}
    db.session.refresh(row)
    assert (row.status, row.progress_done, row.heartbeat_at) == (ReplayStatus.QUEUED, 0, None)
    assert published == [("standards.replay", row.id)]

    # The second worker dies too: the replay fails, and says why in the reader's language.
    _worker_dies(monkeypatch, row.id, T0 + timedelta(minutes=12))
    assert saved.reclaim_stalled(T0 + timedelta(minutes=30)) == {"requeued": [], "failed": [row.id]}
    db.session.refresh(row)
    assert (row.status, row.attempts, row.message) == (ReplayStatus.FAILED, 2, saved.STALLED_MESSAGE)
    assert published == [("standards.replay", row.id)]
    assert saved.reclaim_stalled(T0 + timedelta(hours=2)) == {"requeued": [], "failed": []}
    assert tasks.replay(row.id) is None  # a failed replay is not run again
    token = make_token(world, "admin")
    english = client.get(f"{API}/standards/replays/{row.id}", headers=bearer(token, **{"Accept-Language": "en"}))
    assert english.get_json()["status"] == "failed"
    assert english.get_json()["message"].startswith("The worker running this replay stopped twice")
    chinese = client.get(f"{API}/standards/replays/{row.id}", headers=bearer(token, **{"Accept-Language": "zh-CN"}))
    assert chinese.get_json()["message"].startswith("运行此回放的后台进程两次中途停止")


def test_a_worker_whose_replay_was_taken_over_stops_and_writes_nothing(db, world, monkeypatch):
    _two_requests(world)
    row = saved.start_replay(name="x", first=T0.date(), last=T0.date(), centre_id=None, draft=None,
                             actor=world.users["admin"], now=T0)
    monkeypatch.setattr(saved, "publish_after_commit", lambda name, *args: None)
    seen = []

    def stalls(filters, draft, now, *, progress, processes):
        progress(1, 2)
        # Meanwhile its heartbeat was found too old: another worker is to run it.
        seen.append(saved.reclaim_stalled(T0 + timedelta(hours=1)))
        progress(2, 2)
        raise AssertionError("a worker whose replay was taken over goes on")

    with monkeypatch.context() as patch:
        patch.setattr(saved.replays, "replay", stalls)
        assert saved.execute_replay(row.id, now=T0, clock=lambda: T0) is None
    assert seen == [{"requeued": [row.id], "failed": []}]
    db.session.refresh(row)
    assert (row.status, row.progress_done, row.result, row.message) == (ReplayStatus.QUEUED, 0, None, "")

    # The next worker runs it; its heartbeat moves with its progress.
    assert tasks.replay(row.id) == "done"
    db.session.refresh(row)
    assert row.attempts == 2 and row.heartbeat_at is not None and row.heartbeat_at >= row.started_at
