"""What history supports: the limit a period achieved for a share, beside the current and the draft's."""

import json
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from tests.factories import T0, make_ticket
from tracker.domain.workflow import Status
from tracker.errors import ValidationFailed
from tracker.services.sla.standards import history
from tracker.services.sla.standards import replay as replays
from tracker.services.sla.standards.draft import parse_draft

DAY = date(2026, 3, 2)  # T0's local day


@pytest.mark.parametrize(("values", "share", "needed"), [
    ([8, 20], 0.5, 8), ([8, 20], 0.9, 20), ([8, 20], 1.0, 20),
    (list(range(1, 101)), 0.95, 95), (list(range(1, 101)), 0.951, 96), ([], 0.9, None),
])
def test_the_limit_needed_is_what_the_share_of_requests_stayed_within(values, share, needed):
    assert history.needed_minutes(values, share) == needed


def test_history_gives_the_limit_achieved_per_category_priority_and_target_beside_the_draft(db, world):
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))  # accepted after 20 min
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=4), now=T0 + timedelta(hours=1))  # after 8
    filters = replays.filters_for(DAY, DAY)
    rows = {(r["category"], r["priority"], r["target"]): r for r in history.supported(filters, 0.5)}
    response = rows[("water", "high", "response")]
    assert (response["measured"], response["needed_minutes"], response["current_minutes"]) == (2, 8.0, 30.0)
    assert response["within_current"] == 1.0 and response["draft_minutes"] is None

    version = world.policies["repairs"].current_version
    definition = json.loads(json.dumps(version.definition))
    definition["targets"]["response"]["minutes"]["high"] = 15
    definition["targets"]["response"]["share"] = 0.95
    draft = parse_draft({"policies": {"repairs": definition}})
    drafted = {(r["category"], r["priority"], r["target"]): r for r in history.supported(filters, 0.5, draft=draft)}
    response = drafted[("water", "high", "response")]
    # The draft's own share wins: to promise 95 % it would take the slower one's 20 minutes.
    assert (response["share"], response["needed_minutes"], response["draft_minutes"]) == (0.95, 20.0, 15)


def test_history_refuses_a_bad_share_and_an_empty_period(app, db, world):
    with pytest.raises(ValidationFailed) as refused:
        history.supported(replays.filters_for(DAY, DAY), 1.5)
    with app.test_request_context(), force_locale("en"):
        assert refused.value.translated() == "Give a share above 0 and at most 1, e.g. 0.95."
    with pytest.raises(ValidationFailed):
        history.supported(replays.filters_for(DAY, DAY), 0.9)


def test_the_command_line_says_what_a_promise_would_need(app, db, world, tmp_path):
    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))
    out = tmp_path / "history.json"
    answer = app.test_cli_runner().invoke(args=["standards", "history", "--weeks", "520", "--share", "0.9",
                                                "--json", str(out)])
    assert answer.exit_code == 0, answer.output
    assert "water high   response     to promise 90 % you would need 20 min (of 1)" in answer.output
    assert json.loads(out.read_text())["rows"]


def test_the_history_page_shows_the_limits_to_admins_and_a_centre_head_for_their_centre(client, db, world, login_as):
    from tests.conftest import post_form

    make_ticket(world, status=Status.CLOSED, step=timedelta(minutes=10))
    login_as("admin")
    page = client.get("/standards/history?weeks=520&share=90&centre=")
    assert page.status_code == 200
    assert 'id="history-rows"' in page.get_data(as_text=True)
    post_form(client, "/logout")
    login_as("dorm_head")
    refused = client.get(f"/standards/history?weeks=520&share=90&centre={world.centres['repairs'].id}")
    assert refused.status_code == 400
    assert 'id="history-rows"' not in refused.get_data(as_text=True)
