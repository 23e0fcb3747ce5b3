"""Creating and versioning business calendars and SLA policies.

Saving a calendar or a policy never changes a version: it adds one and makes
it current. Tickets keep the versions they run under.
"""

from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import func, select

from tracker.domain.calendar import BusinessCalendar, CalendarError
from tracker.domain.i18n import N_, Label, Message
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.domain.workflow import HOLD_REASON_LABELS, PRIORITY_LABELS, HoldReason, Priority
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Calendar,
    CalendarVersion,
    Category,
    SlaPolicy,
    SlaPolicyVersion,
    User,
    VersionStatus,
)
from tracker.services.audit import require_admin as _require_admin

MINUTES_MAX = 60 * 24 * 365


def _names(code: str, name_en: str, name_zh: str) -> tuple[str, str, str]:
    code = (code or "").strip().lower()
    if not code or len(code) > 48 or not all(c.isalnum() or c in "._-" for c in code):
        raise ValidationFailed(N_("A code has letters, digits, dots, dashes or underscores."))
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en or not name_zh:
        raise ValidationFailed(N_("Give the name in English and in Chinese."))
    return code, name_en[:120], name_zh[:120]


# ---------------------------------------------------------------- calendars


def validate_calendar(definition: dict) -> dict:
    """Return the calendar definition normalised; ValidationFailed naming the field otherwise."""
    try:
        return BusinessCalendar.from_dict(definition).to_dict()
    except CalendarError as error:
        detail = Message(error.template, **error.params) if error.template else str(error)
        raise ValidationFailed(N_("The calendar is not valid: %(error)s"), error=detail) from None


def create_calendar(
    *, code: str, name_en: str, name_zh: str, definition: dict, follows_china_holidays: bool = False,
    note: str = "", actor: User | None, now: datetime,
) -> Calendar:
    """Create a calendar with its first version and commit."""
    _require_admin(actor)
    code, name_en, name_zh = _names(code, name_en, name_zh)
    if db.session.execute(select(Calendar.id).where(Calendar.code == code)).first():
        raise ValidationFailed(N_("The code %(code)s is taken."), code=code)
    normalised = validate_calendar(definition)
    calendar = Calendar(
        code=code, name_en=name_en, name_zh=name_zh, follows_china_holidays=follows_china_holidays, created_at=now
    )
    db.session.add(calendar)
    db.session.flush()
    _add_calendar_version(calendar, normalised, note=note, actor=actor, now=now)
    db.session.commit()
    return calendar


def save_calendar_version(
    calendar_id: int, *, definition: dict, name_en: str | None = None, name_zh: str | None = None,
    follows_china_holidays: bool | None = None, note: str = "", actor: User | None, now: datetime,
    on_saved=None,
) -> CalendarVersion | None:
    """Add a version of a calendar when its definition changed; commit.

    Returns the new version, or None when only the names changed.
    ``on_saved(calendar, version)`` runs before the commit (version None:
    nothing changed), for the caller's own rows in the same transaction.
    """
    _require_admin(actor)
    # Locked: two admins saving at once get versions n and n+1, not a clash.
    calendar = db.session.execute(
        select(Calendar).where(Calendar.id == calendar_id).with_for_update()
    ).scalar_one_or_none()
    if calendar is None:
        raise NotFound()
    if name_en is not None or name_zh is not None:
        _, calendar.name_en, calendar.name_zh = _names(
            calendar.code, name_en or calendar.name_en, name_zh or calendar.name_zh
        )
    if follows_china_holidays is not None:
        calendar.follows_china_holidays = follows_china_holidays
    normalised = validate_calendar(definition)
    version = None
    if calendar.current_version is None or calendar.current_version.definition != normalised:
        version = _add_calendar_version(calendar, normalised, note=note, actor=actor, now=now)
    if on_saved is not None:
        on_saved(calendar, version)
    db.session.commit()
    return version


def _add_calendar_version(calendar: Calendar, definition: dict, *, note: str, actor, now) -> CalendarVersion:
    number = (
        db.session.execute(
            select(func.max(CalendarVersion.number)).where(CalendarVersion.calendar_id == calendar.id)
        ).scalar()
        or 0
    ) + 1
    version = CalendarVersion(
        calendar_id=calendar.id,
        number=number,
        definition=definition,
        note=(note or "").strip()[:1000],
        created_at=now,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(version)
    db.session.flush()
    calendar.current_version_id = version.id
    return version


# ---------------------------------------------------------------- policies


def validate_policy(definition: dict, *, calendars=()) -> dict:
    """Return the policy definition normalised; ValidationFailed naming the field otherwise.

    ``calendars``: codes a target may name besides the stored calendars'
    (a replay's draft brings its own). A target's optional ``share`` is the
    promised share of requests within the limit, above 0 and at most 1.
    """
    if not isinstance(definition, dict):
        raise ValidationFailed(N_("The policy is not valid."))
    targets = definition.get("targets") or {}
    if not targets:
        raise ValidationFailed(N_("A policy needs at least one target."))
    result = {"targets": {}, "pauses": {}}
    for name, rule in targets.items():
        try:
            target = Target(name)
        except ValueError:
            raise ValidationFailed(N_("Unknown target %(name)s."), name=str(name)) from None
        code = (rule or {}).get("calendar")
        if not code or code not in calendars and not db.session.execute(
            select(Calendar.id).where(Calendar.code == code)
        ).first():
            raise ValidationFailed(N_("%(target)s: choose a calendar."), target=Label(TARGET_LABELS[target]))
        minutes = {}
        for priority in Priority:
            value = (rule.get("minutes") or {}).get(priority.value)
            if value in (None, ""):
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = -1
            if not 0 < value <= MINUTES_MAX:
                raise ValidationFailed(
                    N_("%(target)s, %(priority)s: give a time above 0 and up to %(max)d minutes."),
                    target=Label(TARGET_LABELS[target]), priority=Label(PRIORITY_LABELS[priority]), max=MINUTES_MAX,
                )
            minutes[priority.value] = value
        if not minutes:
            raise ValidationFailed(N_("%(target)s: give the time for at least one priority."),
                                   target=Label(TARGET_LABELS[target]))
        try:
            at_risk = float(rule.get("at_risk", 0.75))
        except (TypeError, ValueError):
            at_risk = -1
        if not 0 < at_risk < 1:
            raise ValidationFailed(N_("%(target)s: the at-risk share is between 1 %% and 99 %%."),
                                   target=Label(TARGET_LABELS[target]))
        checked = {"calendar": code, "minutes": minutes, "at_risk": at_risk}
        share = _validate_share(rule.get("share"), target)
        if share is not None:
            checked["share"] = share
        result["targets"][target.value] = checked
    for reason, rule in (definition.get("pauses") or {}).items():
        try:
            HoldReason(reason)
        except ValueError:
            raise ValidationFailed(N_("Unknown hold reason %(reason)s."), reason=str(reason)) from None
        paused = []
        for name in (rule or {}).get("targets", []):
            if name not in result["targets"]:
                raise ValidationFailed(
                    N_("“%(reason)s” pauses %(target)s, which the policy does not measure."),
                    reason=Label(HOLD_REASON_LABELS[HoldReason(reason)]),
                    target=Label(TARGET_LABELS[Target(name)]) if name in set(Target) else str(name),
                )
            paused.append(name)
        cap = (rule or {}).get("cap_minutes")
        if cap not in (None, ""):
            try:
                cap = float(cap)
            except (TypeError, ValueError):
                cap = -1
            if not 0 < cap <= MINUTES_MAX:
                raise ValidationFailed(N_("“%(reason)s”: the cap is above 0 and up to %(max)d minutes."),
                                       reason=Label(HOLD_REASON_LABELS[HoldReason(reason)]), max=MINUTES_MAX)
        else:
            cap = None
        if paused:
            result["pauses"][reason] = {"targets": sorted(paused), "cap_minutes": cap}
    result["escalation"] = _validate_escalation(definition.get("escalation") or {})
    return result


def _validate_share(value, target: Target) -> float | None:
    """Return the promised share as a fraction (0 < share <= 1), None when not given."""
    if value in (None, ""):
        return None
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = -1
    if not 0 < share <= 1:
        raise ValidationFailed(N_("%(target)s: the promised share is above 0 %% and at most 100 %%."),
                               target=Label(TARGET_LABELS[target]))
    return round(share, 4)


def _validate_escalation(rules: dict) -> dict:
    """Return escalation settings: minutes to acknowledge, minutes of breach before leadership, quiet calendar."""
    result = {}
    for name, default, message in (
        ("ack_minutes", 30, N_("Escalations: the time to acknowledge is between 1 and %(max)d minutes.")),
        ("leadership_after_minutes", 120,
         N_("Escalations: the time before leadership hears of a breach is between 1 and %(max)d minutes.")),
    ):
        value = rules.get(name, default)
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = -1
        if not 0 < value <= MINUTES_MAX:
            raise ValidationFailed(message, max=MINUTES_MAX)
        result[name] = value
    quiet = rules.get("defer_non_urgent_to") or None
    if quiet is not None and not db.session.execute(select(Calendar.id).where(Calendar.code == quiet)).first():
        raise ValidationFailed(N_("Escalations: choose the calendar whose hours non-urgent notices wait for."))
    result["defer_non_urgent_to"] = quiet
    return result


def create_policy(
    *, code: str, name_en: str, name_zh: str, definition: dict, note: str = "", actor: User | None, now: datetime
) -> SlaPolicy:
    """Create a policy with its first version and commit."""
    _require_admin(actor)
    code, name_en, name_zh = _names(code, name_en, name_zh)
    if db.session.execute(select(SlaPolicy.id).where(SlaPolicy.code == code)).first():
        raise ValidationFailed(N_("The code %(code)s is taken."), code=code)
    normalised = validate_policy(definition)
    policy = SlaPolicy(code=code, name_en=name_en, name_zh=name_zh, created_at=now)
    db.session.add(policy)
    db.session.flush()
    _add_policy_version(policy, normalised, note=note, actor=actor, now=now)
    db.session.commit()
    return policy


def save_policy_version(
    policy_id: int, *, definition: dict, name_en: str | None = None, name_zh: str | None = None,
    note: str = "", actor: User | None, now: datetime,
) -> SlaPolicyVersion | None:
    """Add a version of a policy when its definition changed; commit. None when unchanged."""
    _require_admin(actor)
    policy = db.session.execute(
        select(SlaPolicy).where(SlaPolicy.id == policy_id).with_for_update()
    ).scalar_one_or_none()
    if policy is None:
        raise NotFound()
    if name_en is not None or name_zh is not None:
        _, policy.name_en, policy.name_zh = _names(policy.code, name_en or policy.name_en, name_zh or policy.name_zh)
    normalised = validate_policy(definition)
    version = None
    if policy.current_version is None or policy.current_version.definition != normalised:
        version = _add_policy_version(policy, normalised, note=note, actor=actor, now=now)
    db.session.commit()
    return version


def _add_policy_version(policy: SlaPolicy, definition: dict, *, note: str, actor, now) -> SlaPolicyVersion:
    number = (
        db.session.execute(
            select(func.max(SlaPolicyVersion.number)).where(SlaPolicyVersion.policy_id == policy.id)
        ).scalar()
        or 0
    ) + 1
    version = SlaPolicyVersion(
        policy_id=policy.id,
        number=number,
        definition=definition,
        note=(note or "").strip()[:1000],
        created_at=now,
        created_by_id=actor.id if actor is not None else None,
        # Saved here, a version is published and in force at once; drafts
        # are services/sla/standards/drafts.py's.
        status=VersionStatus.PUBLISHED,
        effective_from=now,
        published_at=now,
        published_by_id=actor.id if actor is not None else None,
    )
    db.session.add(version)
    db.session.flush()
    policy.current_version_id = version.id
    return version


def assign_policy(category_id: int, policy_id: int | None, *, actor: User | None, now: datetime) -> Category:
    """Point a category at a policy (None: no SLA); tickets filed from now on use it."""
    _require_admin(actor)
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFound()
    if policy_id is not None and db.session.get(SlaPolicy, policy_id) is None:
        raise ValidationFailed(N_("Choose a policy."))
    category.sla_policy_id = policy_id
    db.session.commit()
    return category


# ---------------------------------------------------------------- defaults

_WEEKDAY = [["08:30", "12:00"], ["14:00", "17:30"]]

DEFAULT_CALENDARS = {
    "always": {
        "name_en": "Round the clock (24x7)",
        "name_zh": "全天候（7×24小时）",
        "follows_china_holidays": False,
        "definition": {"timezone": "Asia/Shanghai", "week": {d: [["00:00", "24:00"]] for d in
                       ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
    },
    "office": {
        "name_en": "Office hours (Mon-Fri, China holidays)",
        "name_zh": "工作时间（周一至周五，法定节假日除外）",
        "follows_china_holidays": True,
        "definition": {"timezone": "Asia/Shanghai",
                       "week": {**{d: _WEEKDAY for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": [], "sun": []}},
    },
}

_DAY = 7 * 60  # one working day of the office calendar, in minutes

DEFAULT_POLICIES = {
    "repairs": {
        "name_en": "Repairs: 30-minute response round the clock",
        "name_zh": "维修：全天候30分钟响应",
        "definition": {
            "targets": {
                "response": {"calendar": "always", "minutes": {"urgent": 30, "high": 30, "normal": 30, "low": 30},
                             "at_risk": 0.75, "share": 0.95},
                "arrival": {"calendar": "office", "minutes": {"urgent": 60, "high": 120, "normal": 240, "low": _DAY},
                            "at_risk": 0.75, "share": 0.9},
                "resolution": {"calendar": "office",
                               "minutes": {"urgent": 240, "high": _DAY, "normal": 3 * _DAY, "low": 5 * _DAY},
                               "at_risk": 0.75, "share": 0.9},
                "confirmation": {"calendar": "always",
                                 "minutes": {"urgent": 4320, "high": 4320, "normal": 4320, "low": 4320},
                                 "at_risk": 0.75},
            },
            "pauses": {
                "waiting_parts": {"targets": ["resolution"], "cap_minutes": 3 * 1440},
                "requester_unavailable": {"targets": ["arrival", "resolution"], "cap_minutes": 1440},
                "third_party": {"targets": ["resolution"], "cap_minutes": 5 * 1440},
                "access_denied": {"targets": ["arrival", "resolution"], "cap_minutes": 1440},
                "scheduled": {"targets": ["arrival", "resolution"], "cap_minutes": 7 * 1440},
                # A paid repair waiting for the requester's consent to its quote (docs/materials.md).
                "awaiting_consent": {"targets": ["arrival", "resolution"], "cap_minutes": 3 * 1440},
            },
            # Repairs answers round the clock: its notices go out at once.
            "escalation": {"ack_minutes": 15, "leadership_after_minutes": 120, "defer_non_urgent_to": None},
        },
    },
    "standard": {
        "name_en": "Standard service: office hours",
        "name_zh": "标准服务：工作时间",
        "definition": {
            "targets": {
                "response": {"calendar": "office", "minutes": {"urgent": 60, "high": 120, "normal": 240, "low": _DAY},
                             "at_risk": 0.75, "share": 0.95},
                "resolution": {"calendar": "office",
                               "minutes": {"urgent": _DAY, "high": 3 * _DAY, "normal": 5 * _DAY, "low": 10 * _DAY},
                               "at_risk": 0.75, "share": 0.9},
                "confirmation": {"calendar": "always",
                                 "minutes": {"urgent": 4320, "high": 4320, "normal": 4320, "low": 4320},
                                 "at_risk": 0.75},
            },
            "pauses": {
                "waiting_parts": {"targets": ["resolution"], "cap_minutes": 5 * 1440},
                "requester_unavailable": {"targets": ["resolution"], "cap_minutes": 2 * 1440},
                "third_party": {"targets": ["resolution"], "cap_minutes": 10 * 1440},
                "scheduled": {"targets": ["resolution"], "cap_minutes": 14 * 1440},
                "awaiting_consent": {"targets": ["resolution"], "cap_minutes": 5 * 1440},
            },
            # Office-hours centres: at-risk notices that are not urgent wait for the office.
            "escalation": {"ack_minutes": 60, "leadership_after_minutes": 480, "defer_non_urgent_to": "office"},
        },
    },
}


def install_defaults(*, actor: User | None, now: datetime, china_years: range | None = None) -> dict[str, SlaPolicy]:
    """Create the default calendars and policies if absent; return the policies by code.

    ``china_years``: import China's holidays into the office calendar for these years.
    """
    for code, spec in DEFAULT_CALENDARS.items():
        if db.session.execute(select(Calendar.id).where(Calendar.code == code)).first():
            continue
        definition = copy.deepcopy(spec["definition"])
        if spec["follows_china_holidays"] and china_years:
            from tracker.services.sla.holidays import china_days

            found = china_days(china_years)
            definition["holidays"] = found.holidays
            definition["extra_workdays"] = found.extra_workdays
        create_calendar(
            code=code, name_en=spec["name_en"], name_zh=spec["name_zh"], definition=definition,
            follows_china_holidays=spec["follows_china_holidays"], note="default", actor=actor, now=now,
        )
    policies = {}
    for code, spec in DEFAULT_POLICIES.items():
        policy = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == code)).scalar_one_or_none()
        if policy is None:
            policy = create_policy(
                code=code, name_en=spec["name_en"], name_zh=spec["name_zh"],
                definition=copy.deepcopy(spec["definition"]), note="default", actor=actor, now=now,
            )
        policies[code] = policy
    return policies
