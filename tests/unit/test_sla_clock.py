"""The SLA clock: deadlines, milestones, pauses and caps, rebuilt from facts."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.domain.calendar import BusinessCalendar
from tracker.domain.sla_clock import Fact, PauseRule, Policy, Target, TargetRule, TargetState, evaluate
from tracker.domain.workflow import Priority, Status

SH = ZoneInfo("Asia/Shanghai")
WEEKDAY = [["08:30", "12:00"], ["14:00", "17:30"]]
ALWAYS = BusinessCalendar.from_dict(
    {"timezone": "Asia/Shanghai", "week": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
)
OFFICE = BusinessCalendar.from_dict(
    {
        "timezone": "Asia/Shanghai",
        "week": {"mon": WEEKDAY, "tue": WEEKDAY, "wed": WEEKDAY, "thu": WEEKDAY, "fri": WEEKDAY, "sat": [], "sun": []},
        "holidays": ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
        "extra_workdays": ["2026-10-10"],
    }
)
DAY = 420  # minutes in one office day

POLICY = Policy(
    targets={
        Target.RESPONSE: TargetRule({p: 30 for p in Priority}, ALWAYS),
        Target.ARRIVAL: TargetRule({Priority.URGENT: 60, Priority.HIGH: 120, Priority.NORMAL: 240}, OFFICE),
        Target.RESOLUTION: TargetRule(
            {Priority.URGENT: 240, Priority.HIGH: DAY, Priority.NORMAL: 3 * DAY, Priority.LOW: 5 * DAY}, OFFICE
        ),
        Target.CONFIRMATION: TargetRule({p: 4320 for p in Priority}, ALWAYS),
    },
    pauses={
        "waiting_parts": PauseRule(frozenset({Target.RESOLUTION}), cap_minutes=600),
        "requester_unavailable": PauseRule(frozenset({Target.ARRIVAL, Target.RESOLUTION}), cap_minutes=None),
    },
)


def at(text: str) -> datetime:
    """A Shanghai wall-clock time 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SH)


def filed(when: str, priority: Priority = Priority.HIGH) -> Fact:
    return Fact(at(when), status=Status.NEW, priority=priority)


def to(when: str, status: Status, **kw) -> Fact:
    return Fact(at(when), status=status, **kw)


def clock(facts, now: str, target: Target):
    return evaluate(POLICY, facts, at(now))[target]


# 2026-03-02 is a Monday.
MON = "2026-03-02"


@pytest.mark.parametrize(
    "facts, now, target, state, due",
    [
        # Response round the clock: 30 minutes even at night.
        ([filed(f"{MON} 23:50")], f"{MON} 23:55", Target.RESPONSE, TargetState.RUNNING, "2026-03-03 00:20"),
        # Accepting at the deadline is on time; a minute later is not.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:30", Status.ACCEPTED)], f"{MON} 10:00", Target.RESPONSE, TargetState.MET, f"{MON} 09:30"),
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:31", Status.ACCEPTED)], f"{MON} 10:00", Target.RESPONSE, TargetState.BREACHED, f"{MON} 09:30"),
        # Assigned is not a response: only acceptance is.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:05", Status.ASSIGNED)], f"{MON} 09:40", Target.RESPONSE, TargetState.BREACHED, f"{MON} 09:30"),
        # Resolution on office hours: filed Friday evening, due Monday at closing time.
        ([filed("2026-03-06 18:00")], "2026-03-07 10:00", Target.RESOLUTION, TargetState.RUNNING, "2026-03-09 17:30"),
        # Filed in the lunch gap: accrual starts at 14:00 (210 min), 30 more on Tuesday.
        ([filed(f"{MON} 12:30", Priority.URGENT)], f"{MON} 13:00", Target.RESOLUTION, TargetState.RUNNING, "2026-03-03 09:00"),
        # Across National Day: the moved Saturday (10 Oct) works, holidays do not.
        ([filed("2026-09-30 17:00")], "2026-10-03 10:00", Target.RESOLUTION, TargetState.RUNNING, "2026-10-08 17:00"),
        ([filed("2026-09-30 17:00", Priority.NORMAL)], "2026-10-03 10:00", Target.RESOLUTION, TargetState.RUNNING, "2026-10-10 17:00"),
        # Confirmation does not start before the resolution.
        ([filed(f"{MON} 09:00")], f"{MON} 10:00", Target.CONFIRMATION, TargetState.PENDING, None),
        # No arrival target for low priority in this policy: absent (checked below).
    ],
)
def test_deadline_and_state(facts, now, target, state, due):
    c = clock(facts, now, target)
    assert c.state is state
    assert c.due_at == (at(due) if due else None)


def test_a_priority_without_a_target_has_no_clock():
    assert Target.ARRIVAL not in evaluate(POLICY, [filed(f"{MON} 09:00", Priority.LOW)], at(f"{MON} 10:00"))


def test_open_ticket_past_its_deadline_is_breached_now_and_not_before():
    facts = [filed(f"{MON} 09:00")]
    assert clock(facts, f"{MON} 09:30", Target.RESPONSE).state is TargetState.RUNNING
    assert clock(facts, f"{MON} 09:31", Target.RESPONSE).state is TargetState.BREACHED


def test_at_risk_at_three_quarters_of_the_target():
    c = clock([filed(f"{MON} 09:00")], f"{MON} 09:10", Target.RESPONSE)
    assert c.at_risk_at == at(f"{MON} 09:22") + timedelta(seconds=30)
    assert not c.is_at_risk(at(f"{MON} 09:20"))
    assert c.is_at_risk(at(f"{MON} 09:25"))
    assert c.next_check_at == c.at_risk_at
    assert clock([filed(f"{MON} 09:00")], f"{MON} 09:25", Target.RESPONSE).next_check_at == at(f"{MON} 09:30")


def _held(reason: str, hold: str, resume: str | None):
    facts = [
        filed(f"{MON} 09:00"),
        to(f"{MON} 09:10", Status.ACCEPTED),
        to(f"{MON} 09:40", Status.IN_PROGRESS),
        to(hold, Status.ON_HOLD, hold_reason=reason),
    ]
    if resume:
        facts.append(to(resume, Status.IN_PROGRESS))
    return facts


def test_a_hold_pauses_only_the_targets_its_reason_names():
    facts = _held("waiting_parts", f"{MON} 10:00", f"{MON} 11:00")
    resolution = clock(facts, f"{MON} 11:30", Target.RESOLUTION)
    # 420 office minutes from 09:00 plus the hour on hold: Tuesday 10:00.
    assert resolution.due_at == at("2026-03-03 10:00")
    assert resolution.paused_minutes == {"waiting_parts": 60.0}
    assert resolution.elapsed_minutes == pytest.approx(90 + 0)  # 09:00-10:00 and 11:00-11:30
    arrival = clock(facts, f"{MON} 11:30", Target.ARRIVAL)
    assert arrival.state is TargetState.MET and arrival.milestone_at == at(f"{MON} 09:40")


def test_an_ongoing_hold_shows_paused_and_when_its_allowance_runs_out():
    facts = _held("waiting_parts", f"{MON} 10:00", None)
    c = clock(facts, f"{MON} 11:00", Target.RESOLUTION)
    assert c.state is TargetState.PAUSED
    assert c.next_check_at == at(f"{MON} 20:00")  # 600 minutes of allowance


def test_past_its_cap_a_hold_stops_pausing_and_the_clock_runs_again():
    facts = _held("waiting_parts", f"{MON} 10:00", None)
    c = clock(facts, "2026-03-03 11:00", Target.RESOLUTION)
    assert c.state is TargetState.RUNNING
    assert c.capped_reasons == {"waiting_parts"}
    assert c.paused_minutes == {"waiting_parts": 600.0}
    # Paused 10:00-20:00 Monday (office time lost: 10:00-12:00, 14:00-17:30 = 330 min).
    assert c.due_at == OFFICE.deadline(at(f"{MON} 09:00"), DAY, [(at(f"{MON} 10:00"), at(f"{MON} 20:00"))])


def test_an_approved_extension_raises_the_cap_from_its_approval_on():
    facts = _held("waiting_parts", f"{MON} 10:00", None)
    facts.append(Fact(at("2026-03-03 09:00"), extension=("waiting_parts", 600)))
    c = clock(facts, "2026-03-03 10:00", Target.RESOLUTION)
    # Counted: 10:00-20:00 Monday, then again from the approval at 09:00 Tuesday.
    assert c.state is TargetState.PAUSED
    assert c.paused_minutes == {"waiting_parts": 660.0}
    assert c.next_check_at == at("2026-03-03 19:00")  # 600 more minutes from 09:00


def test_an_uncapped_reason_pauses_until_resumed():
    facts = _held("requester_unavailable", f"{MON} 10:00", None)
    c = clock(facts, "2026-03-10 10:00", Target.RESOLUTION)
    assert c.state is TargetState.PAUSED and c.next_check_at is None


def test_a_hold_after_the_deadline_does_not_undo_the_breach():
    facts = _held("requester_unavailable", "2026-03-03 11:00", None)
    assert clock(facts, "2026-03-03 12:00", Target.RESOLUTION).state is TargetState.BREACHED


def test_priority_change_keeps_the_start_and_measures_against_the_new_target():
    facts = [filed(f"{MON} 09:00", Priority.NORMAL), Fact(at(f"{MON} 10:00"), priority=Priority.URGENT)]
    c = clock(facts, f"{MON} 10:30", Target.RESOLUTION)
    assert c.started_at == at(f"{MON} 09:00")
    # 240 office minutes from 09:00: 180 before lunch, 60 after.
    assert (c.priority, c.target_minutes, c.due_at) == (Priority.URGENT, 240, at(f"{MON} 15:00"))


def test_a_finished_target_keeps_the_priority_it_had_at_its_milestone():
    facts = [
        filed(f"{MON} 09:00", Priority.NORMAL),
        to(f"{MON} 09:20", Status.ACCEPTED),
        Fact(at(f"{MON} 10:00"), priority=Priority.URGENT),
    ]
    arrival = evaluate(POLICY, facts, at(f"{MON} 10:30"))[Target.ARRIVAL]
    assert arrival.priority is Priority.URGENT  # still running
    response = evaluate(POLICY, facts, at(f"{MON} 10:30"))[Target.RESPONSE]
    assert (response.priority, response.state) == (Priority.NORMAL, TargetState.MET)


def test_reopen_does_not_count_the_wait_for_the_requester():
    facts = [
        filed(f"{MON} 09:00", Priority.URGENT),
        to(f"{MON} 09:05", Status.ACCEPTED),
        to(f"{MON} 10:00", Status.RESOLVED),
        to("2026-03-03 09:00", Status.REOPENED),
        to("2026-03-03 09:10", Status.ACCEPTED),
        to("2026-03-03 10:00", Status.RESOLVED),
    ]
    resolution = clock(facts, "2026-03-03 11:00", Target.RESOLUTION)
    # 60 minutes Monday + 60 minutes Tuesday of a 240-minute target.
    assert (resolution.state, resolution.milestone_at) == (TargetState.MET, at("2026-03-03 10:00"))
    assert resolution.elapsed_minutes == pytest.approx(120)
    confirmation = clock(facts, "2026-03-03 11:00", Target.CONFIRMATION)
    assert confirmation.started_at == at("2026-03-03 10:00")
    assert confirmation.state is TargetState.RUNNING


def test_confirmation_met_by_the_requester_or_by_the_automatic_closure():
    base = [filed(f"{MON} 09:00"), to(f"{MON} 09:05", Status.ACCEPTED), to(f"{MON} 10:00", Status.RESOLVED)]
    by_requester = base + [to(f"{MON} 18:00", Status.CLOSED)]
    assert clock(by_requester, "2026-03-09 00:00", Target.CONFIRMATION).state is TargetState.MET
    late_by_requester = base + [to("2026-03-06 10:00", Status.CLOSED)]
    assert clock(late_by_requester, "2026-03-09 00:00", Target.CONFIRMATION).state is TargetState.BREACHED
    automatic = base + [Fact(at("2026-03-05 10:00") + timedelta(seconds=3), status=Status.CLOSED, is_automatic=True)]
    assert clock(automatic, "2026-03-09 00:00", Target.CONFIRMATION).state is TargetState.MET


def test_cancelling_stops_the_clock_but_does_not_hide_a_breach():
    on_time = [filed(f"{MON} 09:00"), to(f"{MON} 09:10", Status.CANCELLED)]
    assert clock(on_time, "2026-03-09 00:00", Target.RESPONSE).state is TargetState.CANCELLED
    late = [filed(f"{MON} 09:00"), to(f"{MON} 10:00", Status.CANCELLED)]
    assert clock(late, "2026-03-09 00:00", Target.RESPONSE).state is TargetState.BREACHED


def test_the_same_history_always_gives_the_same_result():
    facts = _held("waiting_parts", f"{MON} 10:00", f"{MON} 15:00")
    assert evaluate(POLICY, facts, at("2026-03-04 10:00")) == evaluate(POLICY, facts, at("2026-03-04 10:00"))


@pytest.mark.parametrize(
    "facts, message",
    [
        ([], "first fact"),
        ([Fact(at(f"{MON} 09:00"))], "first fact"),
        ([filed(f"{MON} 09:00"), to(f"{MON} 08:00", Status.ACCEPTED)], "out of order"),
    ],
)
def test_malformed_history_is_refused(facts, message):
    with pytest.raises(ValueError, match=message):
        evaluate(POLICY, facts, at(f"{MON} 10:00"))


def test_timeline_splits_running_paused_and_outside_hours():
    facts = _held("waiting_parts", f"{MON} 10:00", f"{MON} 11:00")
    c = evaluate(POLICY, facts, at(f"{MON} 15:00"), with_segments=True)[Target.RESOLUTION]
    assert [(s.start, s.end, s.kind, s.reason) for s in c.segments] == [
        (at(f"{MON} 09:00"), at(f"{MON} 10:00"), "running", None),
        (at(f"{MON} 10:00"), at(f"{MON} 11:00"), "paused", "waiting_parts"),
        (at(f"{MON} 11:00"), at(f"{MON} 12:00"), "running", None),
        (at(f"{MON} 12:00"), at(f"{MON} 14:00"), "outside_hours", None),
        (at(f"{MON} 14:00"), at(f"{MON} 15:00"), "running", None),
    ]
    running = sum((s.end - s.start).total_seconds() / 60 for s in c.segments if s.kind == "running")
    assert running == pytest.approx(c.elapsed_minutes)


@pytest.mark.parametrize(
    "start, end",
    [
        (f"{MON} 07:00", f"{MON} 19:00"),
        (f"{MON} 09:15", "2026-03-09 09:15"),
        ("2026-09-30 16:00", "2026-10-12 09:00"),
        (f"{MON} 12:10", f"{MON} 13:50"),
    ],
)
def test_working_periods_add_up_to_business_minutes(start, end):
    periods = OFFICE.working_periods(at(start), at(end))
    assert all(a < b for a, b in periods)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(periods, periods[1:], strict=False))
    assert all(at(start) <= a and b <= at(end) for a, b in periods)
    total = sum((b - a).total_seconds() / 60 for a, b in periods)
    assert total == pytest.approx(OFFICE.business_minutes(at(start), at(end)))


# ---------------------------------------------------------------- dispatch (issue 17)

DISPATCH_POLICY = Policy(
    targets={
        Target.DISPATCH: TargetRule({p: 30 for p in Priority}, ALWAYS),
        Target.RESPONSE: TargetRule({p: 10 for p in Priority}, ALWAYS),
        Target.RESOLUTION: TargetRule({p: DAY for p in Priority}, OFFICE),
    },
    pauses={"requester_unavailable": PauseRule(frozenset({Target.DISPATCH}), cap_minutes=60)},
)


def dispatch(facts, now: str):
    return evaluate(DISPATCH_POLICY, facts, at(now))[Target.DISPATCH]


@pytest.mark.parametrize(
    "facts, now, state, due, milestone",
    [
        # Round the clock: 30 minutes from filing, even on a Saturday night.
        ([filed("2026-03-07 02:00")], "2026-03-07 02:10", TargetState.RUNNING, "2026-03-07 02:30", None),
        # Assigning is the dispatch milestone; at the deadline is on time.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:30", Status.ASSIGNED)], f"{MON} 10:00", TargetState.MET,
         f"{MON} 09:30", f"{MON} 09:30"),
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:31", Status.ASSIGNED)], f"{MON} 10:00", TargetState.BREACHED,
         f"{MON} 09:30", f"{MON} 09:31"),
        # Nobody assigned past the deadline: breached now.
        ([filed(f"{MON} 09:00")], f"{MON} 09:45", TargetState.BREACHED, f"{MON} 09:30", None),
        # A technician taking it from the pool skips dispatch: the take is the milestone.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:12", Status.ACCEPTED)], f"{MON} 10:00", TargetState.MET,
         f"{MON} 09:30", f"{MON} 09:12"),
        # The first assignment counts: a decline back to the pool does not undo it.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:05", Status.ASSIGNED), to(f"{MON} 09:08", Status.NEW)],
         f"{MON} 10:00", TargetState.MET, f"{MON} 09:30", f"{MON} 09:05"),
        # Cancelled before anyone was assigned, within the limit: cancelled, not counted.
        ([filed(f"{MON} 09:00"), to(f"{MON} 09:10", Status.CANCELLED)], f"{MON} 10:00", TargetState.CANCELLED,
         f"{MON} 09:30", None),
    ],
)
def test_dispatch_runs_from_filing_to_the_first_assignment(facts, now, state, due, milestone):
    result = dispatch(facts, now)
    assert (result.state, result.due_at, result.milestone_at) == (
        state, at(due), at(milestone) if milestone else None)


def test_dispatch_comes_first_in_the_chain_and_response_starts_at_filing():
    facts = [filed(f"{MON} 09:00"), to(f"{MON} 09:20", Status.ASSIGNED), to(f"{MON} 09:25", Status.ACCEPTED)]
    clocks = evaluate(DISPATCH_POLICY, facts, at(f"{MON} 10:00"))
    assert list(clocks)[0] is Target.DISPATCH
    assert clocks[Target.DISPATCH].state is TargetState.MET
    # Response keeps its own limit (10 min from filing): accepted at 25 min is late.
    assert clocks[Target.RESPONSE].state is TargetState.BREACHED


def test_dispatch_on_an_office_calendar_waits_for_the_opening():
    policy = Policy(targets={Target.DISPATCH: TargetRule({p: 30 for p in Priority}, OFFICE)})
    result = evaluate(policy, [filed("2026-03-06 18:00")], at("2026-03-07 10:00"))[Target.DISPATCH]
    assert (result.state, result.due_at) == (TargetState.RUNNING, at("2026-03-09 09:00"))


def test_a_hold_comes_after_dispatch_so_a_rule_pausing_dispatch_changes_nothing():
    # Holds start from accepted or on site (workflow.RULES): dispatch is done by then.
    facts = [filed(f"{MON} 09:00"), to(f"{MON} 09:10", Status.ASSIGNED), to(f"{MON} 09:12", Status.ACCEPTED),
             to(f"{MON} 09:15", Status.ON_HOLD, hold_reason="requester_unavailable")]
    result = dispatch(facts, f"{MON} 11:00")
    assert (result.state, result.milestone_at, result.paused_minutes) == (TargetState.MET, at(f"{MON} 09:10"), {})
    assert result.elapsed_minutes == 10.0
