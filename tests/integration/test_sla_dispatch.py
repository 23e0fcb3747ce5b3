"""The dispatch target (filed -> assigned) on real requests: stored, swept, replayed, reported, shown."""

import copy
import html
import io
from datetime import date, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tests.integration.api_helpers import bearer, make_token
from tests.integration.test_admin_sla import _edit_form
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, Status
from tracker.extensions import db as _db
from tracker.forms.admin import PolicyForm
from tracker.models import EventKind, Notification, SlaPolicy, TicketEvent, TicketSla
from tracker.services.insight import reports, stats, weekly
from tracker.services.requests import tickets as svc
from tracker.services.sla import clocks as sla
from tracker.services.sla import config as sla_config
from tracker.services.sla import sweep as sla_sweep
from tracker.services.sla.standards import replay
from tracker.services.sla.standards.draft import Draft

DISPATCH = {
    "calendar": "always",
    "minutes": {"urgent": 20, "high": 20, "normal": 20, "low": 20},
    "at_risk": 0.75,
    "share": 0.95,
}


def _repairs() -> SlaPolicy:
    _db.session.expire_all()
    return _db.session.execute(select(SlaPolicy).where(SlaPolicy.code == "repairs")).scalar_one()


def with_dispatch(minutes: float = 20) -> None:
    """Give the repairs policy a dispatch target (a new version, as an administrator would)."""
    definition = copy.deepcopy(_repairs().current_version.definition)
    definition["targets"]["dispatch"] = DISPATCH | {"minutes": dict.fromkeys(DISPATCH["minutes"], minutes)}
    sla_config.save_policy_version(_repairs().id, definition=definition, actor=None, now=T0)


def rows(ticket) -> dict[Target, TicketSla]:
    _db.session.expire_all()
    return {
        r.target: r
        for r in _db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket.id)).scalars()
    }


def test_existing_policies_measure_no_dispatch(db, world):
    ticket = make_ticket(world)
    assert Target.DISPATCH not in rows(ticket)
    assert "dispatch" not in _repairs().current_version.definition["targets"]


def test_assigning_meets_dispatch_and_response_still_waits_for_acceptance(db, world):
    with_dispatch()
    ticket = make_ticket(world, status=Status.ASSIGNED)  # assigned at +10 min
    stored = rows(ticket)
    assert (stored[Target.DISPATCH].state, stored[Target.DISPATCH].milestone_at) == (
        TargetState.MET,
        T0 + timedelta(minutes=10),
    )
    assert stored[Target.DISPATCH].due_at == T0 + timedelta(minutes=20)
    assert stored[Target.RESPONSE].state is TargetState.RUNNING
    # The ticket's nearest deadline is no longer dispatch's.
    assert ticket.next_due_at == T0 + timedelta(minutes=30)


def test_taking_from_the_pool_meets_dispatch_at_the_take(db, world):
    with_dispatch()
    ticket = make_ticket(world)
    svc.transition(ticket.id, Action.TAKE, actor=world.users["technician"], now=T0 + timedelta(minutes=25))
    dispatch = rows(ticket)[Target.DISPATCH]
    assert (dispatch.state, dispatch.milestone_at) == (TargetState.BREACHED, T0 + timedelta(minutes=25))


def test_an_unassigned_request_escalates_on_dispatch_once_each_level(db, world):
    with_dispatch()
    ticket = make_ticket(world)
    assert ticket.next_due_at == T0 + timedelta(minutes=20)
    first = sla_sweep.sweep_due(T0 + timedelta(minutes=16))  # 75 % of 20 minutes is 15
    assert (first.at_risk, first.breached) == (1, 0)
    second = sla_sweep.sweep_due(T0 + timedelta(minutes=21))
    assert second.breached == 1
    again = sla_sweep.sweep_due(T0 + timedelta(minutes=21))
    assert (again.at_risk, again.breached, again.notices) == (0, 0, 0)
    _db.session.expire_all()
    flagged = [
        (e.kind, e.data["target"], e.data["level"])
        for e in _db.session.execute(
            select(TicketEvent)
            .where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.kind.in_([EventKind.SLA_AT_RISK, EventKind.SLA_BREACHED]),
            )
            .order_by(TicketEvent.id)
        ).scalars()
    ]
    assert flagged == [(EventKind.SLA_AT_RISK, "dispatch", 1), (EventKind.SLA_BREACHED, "dispatch", 2)]
    # Unassigned: at risk goes to the centre's dispatchers, the breach to its head.
    notices = {
        (n.kind, n.user_id)
        for n in _db.session.execute(
            select(Notification).where(Notification.idempotency_key.like(f"sla:{ticket.id}:dispatch:%"))
        ).scalars()
    }
    assert ("sla_at_risk", world.users["dispatcher"].id) in notices
    assert ("sla_breached", world.users["centre_head"].id) in notices
    assert rows(ticket)[Target.DISPATCH].state is TargetState.BREACHED


def test_replaying_the_published_versions_gives_back_the_stored_dispatch_outcomes(db, world):
    with_dispatch()
    make_ticket(world, status=Status.ACCEPTED)  # dispatched at +10: met
    make_ticket(world, status=Status.ACCEPTED, step=timedelta(minutes=25))  # at +25: late
    make_ticket(world)  # still waiting
    later = T0 + timedelta(hours=2, minutes=1)  # not 11:00 exactly: arrival is due then
    sla.refresh_due(later)
    _db.session.commit()
    result = replay.replay(replay.filters_for(reports.local_day(T0), reports.local_day(T0)), Draft(), later)
    assert result["differences"] == []
    assert result["totals"]["dispatch"]["stored"]["measured"] == 3


def test_a_draft_with_a_tighter_dispatch_flips_the_outcome(db, world):
    with_dispatch()
    make_ticket(world, status=Status.ASSIGNED)  # dispatched at +10 minutes
    definition = copy.deepcopy(_repairs().current_version.definition)
    definition["targets"]["dispatch"]["minutes"] = dict.fromkeys(DISPATCH["minutes"], 5)
    draft = Draft(policies={"repairs": definition})
    result = replay.replay(
        replay.filters_for(reports.local_day(T0), reports.local_day(T0)), draft, T0 + timedelta(days=1)
    )
    assert result["flips"]["met_to_late"] == 1


def test_dashboards_weekly_report_and_api_count_dispatch(db, world, client, login_as):
    with_dispatch()
    met = make_ticket(world, status=Status.ASSIGNED)
    make_ticket(world, status=Status.ASSIGNED, step=timedelta(minutes=30))  # dispatched at +30: late
    now = T0 + timedelta(days=10)
    sla.refresh_due(now)
    stats.refresh_all()
    _db.session.commit()
    day = reports.local_day(T0)
    _rows, total = reports.figures_by(reports.Filters(day, day), "centre", now)
    assert (total.met["dispatch"], total.breached["dispatch"], total.met_percent("dispatch")) == (1, 1, 50.0)

    report = weekly.generate(date(2026, 3, 2), actor=None, now=now)
    content = weekly.read(report.content)
    assert (content.total.figures.met["dispatch"], content.total.figures.breached["dispatch"]) == (1, 1)
    sheet = load_workbook(io.BytesIO(weekly.xlsx(report, "en")))["Summary"]
    headers = [c.value for c in sheet[1]]
    assert headers.index("Dispatch met") < headers.index("Response met")
    campus = [c.value for c in sheet[sheet.max_row]]
    assert campus[headers.index("Dispatch met %")] == 50.0

    login_as("leadership")
    page = html.unescape(client.get("/weekly/2026-03-02").get_data(as_text=True))
    assert "Dispatch on time" in page
    dashboard = html.unescape(
        client.get("/dashboard/details?first=2026-03-02&last=2026-03-02").get_data(as_text=True)
    )
    assert "Dispatch met %" in dashboard
    listed = client.get("/dashboard/tickets?figure=breached&target=dispatch&first=2026-03-02&last=2026-03-02")
    assert listed.status_code == 200

    secret = make_token(world, "dispatcher", now=now)
    answer = client.get(f"/api/v1/tickets/{met.reference}", headers=bearer(secret))
    targets = {t["target"]: t for t in answer.get_json()["sla_targets"]}
    assert targets["dispatch"]["state"] == "met"
    assert list(targets)[0] == "dispatch"


def test_the_request_page_shows_the_dispatch_timeline(db, world, client, login_as, monkeypatch):
    with_dispatch()
    ticket = make_ticket(world, status=Status.ASSIGNED)
    monkeypatch.setattr("tracker.web.tickets.utcnow", lambda: T0 + timedelta(minutes=12))
    login_as("dispatcher")
    page = html.unescape(client.get(f"/tickets/{ticket.reference}").get_data(as_text=True))
    assert "Dispatch" in page
    assert page.index("Dispatch") < page.index("Response")
    assert page.count('<svg class="timeline"') >= 2


def test_an_administrator_sets_and_clears_the_dispatch_target(db, world, client, login_as):
    login_as("admin")
    repairs = _repairs()
    data = _edit_form(repairs, PolicyForm)
    data.update(
        {
            "target_dispatch-enabled": "y",
            "target_dispatch-calendar": "always",
            "target_dispatch-minutes_urgent": "30m",
            "target_dispatch-minutes_high": "30m",
            "target_dispatch-minutes_normal": "30m",
            "target_dispatch-minutes_low": "30m",
            "target_dispatch-at_risk": "75",
            "target_dispatch-share": "95",
        }
    )
    assert post_form(client, f"/admin/policies/{repairs.id}", data).status_code == 302
    version = _repairs().current_version
    assert version.number == 2
    assert version.definition["targets"]["dispatch"] == {
        "calendar": "always",
        "minutes": dict.fromkeys(("urgent", "high", "normal", "low"), 30.0),
        "at_risk": 0.75,
        "share": 0.95,
    }
    form = html.unescape(client.get(f"/admin/policies/{repairs.id}").get_data(as_text=True))
    assert "Dispatch" in form

    data = _edit_form(_repairs(), PolicyForm)
    data.pop("target_dispatch-enabled")
    assert post_form(client, f"/admin/policies/{repairs.id}", data).status_code == 302
    assert "dispatch" not in _repairs().current_version.definition["targets"]
    assert _repairs().current_version.number == 3


def test_a_dispatch_target_without_any_time_is_refused_and_nothing_saved(db, world, client, login_as):
    login_as("admin")
    repairs = _repairs()
    data = _edit_form(repairs, PolicyForm)
    data.update(
        {
            "target_dispatch-enabled": "y",
            "target_dispatch-calendar": "always",
            "target_dispatch-at_risk": "75",
        }
    )
    answer = post_form(client, f"/admin/policies/{repairs.id}", data)
    assert answer.status_code == 200
    assert "Give the time for at least one priority." in html.unescape(answer.get_data(as_text=True))
    assert _repairs().current_version.number == 1
