"""Drafts of service standards and their publication from a date.

A standard is a policy version; a draft is a version not yet published
(DESIGN.md, "Round two"). A draft starts as a copy of the policy's latest
published version, is edited and either discarded or published effective
from a local day: from then on requests filed get it, and requests filed
before keep the version they run under. Drafts never touch live tickets:
filing reads only published versions (``sla.POLICY_IN_FORCE``).

Who: an administrator, or the head of the one centre whose categories alone
use the policy. Leadership reads. Every change is in the administration
history (``services/audit.py``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import func, select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Category, Centre, SlaPolicy, SlaPolicyVersion, User, VersionStatus
from tracker.services.audit import act_as
from tracker.services.insight import reports
from tracker.services.sla import config as sla_config

READERS = (Role.ADMIN, Role.CENTRE_HEAD, Role.LEADERSHIP)


# ---------------------------------------------------------------- who


def policy_centres(policy_id: int) -> set[int]:
    """Return the centres whose categories (active or not) use the policy."""
    return set(db.session.execute(
        select(Category.centre_id).where(Category.sla_policy_id == policy_id).distinct()
    ).scalars())


def may_edit(actor: User | None, policy_id: int) -> bool:
    """Whether ``actor`` may draft and publish the policy's standards (None: a command, may)."""
    if actor is None:
        return True
    if not actor.is_active:
        return False
    if actor.has_role(Role.ADMIN):
        return True
    centres = policy_centres(policy_id)
    return len(centres) == 1 and actor.has_role(Role.CENTRE_HEAD, next(iter(centres)))


def may_read(actor: User) -> bool:
    return actor.is_active and actor.has_any_role(*READERS)


def _require_edit(actor: User | None, policy_id: int) -> None:
    if not may_edit(actor, policy_id):
        raise PermissionDenied()
    act_as(actor)


# ---------------------------------------------------------------- reading


@dataclass
class PolicyStandards:
    """A policy's standards as the list page shows them."""

    policy: SlaPolicy
    in_force: SlaPolicyVersion | None
    scheduled: list[SlaPolicyVersion]  # published, in force from a later day
    drafts: list[SlaPolicyVersion]
    may_edit: bool


def centre_standards(actor: User, now: datetime) -> list[tuple[Centre, list[PolicyStandards]]]:
    """Return, per centre the actor may read, the standards of the policies its categories use."""
    if not may_read(actor):
        raise PermissionDenied()
    centres = list(db.session.execute(select(Centre).order_by(Centre.sort_order, Centre.id)).scalars())
    if not actor.has_any_role(Role.ADMIN, Role.LEADERSHIP):
        own = actor.centre_ids(Role.CENTRE_HEAD)
        centres = [c for c in centres if c.id in own]
    uses = db.session.execute(
        select(Category.centre_id, Category.sla_policy_id).where(Category.sla_policy_id.is_not(None)).distinct()
    ).all()
    by_centre: dict[int, set[int]] = {}
    for centre_id, policy_id in uses:
        by_centre.setdefault(centre_id, set()).add(policy_id)
    cache: dict[int, PolicyStandards] = {}
    result = []
    for centre in centres:
        shown = []
        for policy_id in sorted(by_centre.get(centre.id, ())):
            if policy_id not in cache:
                cache[policy_id] = _policy_standards(policy_id, actor, now)
            shown.append(cache[policy_id])
        result.append((centre, shown))
    return result


def _policy_standards(policy_id: int, actor: User, now: datetime) -> PolicyStandards:
    from tracker.services.sla import clocks as sla

    policy = db.session.get(SlaPolicy, policy_id)
    versions = list(db.session.execute(
        select(SlaPolicyVersion).where(SlaPolicyVersion.policy_id == policy_id).order_by(SlaPolicyVersion.number)
    ).scalars())
    in_force_id = sla.policy_version_in_force(policy_id, now)
    in_force = next((v for v in versions if v.id == in_force_id), None)
    scheduled = [v for v in versions if v.status is VersionStatus.PUBLISHED and v.effective_from > now
                 and (in_force is None or v.published_at >= in_force.published_at)]
    drafts = [v for v in versions if v.is_draft]
    return PolicyStandards(policy, in_force, scheduled, drafts, may_edit(actor, policy_id))


def get_version(version_id: int) -> SlaPolicyVersion:
    version = db.session.get(SlaPolicyVersion, version_id)
    if version is None:
        raise NotFound()
    return version


# ---------------------------------------------------------------- changing


def create_draft(policy_id: int, *, actor: User | None, now: datetime, note: str = "") -> SlaPolicyVersion:
    """Add a draft copied from the policy's latest published version; commit and return it."""
    _require_edit(actor, policy_id)
    policy = db.session.execute(
        select(SlaPolicy).where(SlaPolicy.id == policy_id).with_for_update()
    ).scalar_one_or_none()
    if policy is None:
        raise NotFound(N_("No such SLA policy."))
    base = policy.current_version.definition if policy.current_version else {"targets": {}}
    number = (db.session.execute(
        select(func.max(SlaPolicyVersion.number)).where(SlaPolicyVersion.policy_id == policy.id)
    ).scalar() or 0) + 1
    draft = SlaPolicyVersion(
        policy_id=policy.id, number=number, definition=copy.deepcopy(base), note=(note or "").strip()[:1000],
        created_at=now, created_by_id=actor.id if actor is not None else None, status=VersionStatus.DRAFT,
    )
    db.session.add(draft)
    db.session.commit()
    return draft


def _locked_draft(version_id: int) -> SlaPolicyVersion:
    version = db.session.execute(
        select(SlaPolicyVersion).where(SlaPolicyVersion.id == version_id).with_for_update()
    ).scalar_one_or_none()
    if version is None:
        raise NotFound()
    if not version.is_draft:
        raise Conflict(N_("Version %(number)d is published: it never changes. Make a new draft."),
                       number=version.number)
    return version


def save_draft(version_id: int, *, definition: dict, note: str | None = None, actor: User | None,
               now: datetime) -> SlaPolicyVersion:
    """Replace a draft's definition after validating it; commit. Nothing changes when it is refused."""
    version = get_version(version_id)
    _require_edit(actor, version.policy_id)
    version = _locked_draft(version_id)
    checked = sla_config.validate_policy(definition)
    version.definition = checked
    if note is not None:
        version.note = note.strip()[:1000]
    db.session.commit()
    return version


def discard_draft(version_id: int, *, actor: User | None, now: datetime) -> None:
    """Delete a draft; commit."""
    version = get_version(version_id)
    _require_edit(actor, version.policy_id)
    version = _locked_draft(version_id)
    db.session.delete(version)
    db.session.commit()


def effective_instant(day: date, now: datetime) -> datetime:
    """Return when a standard published at ``now`` for local ``day`` starts: that day's 00:00, or ``now`` if later.

    Raises ValidationFailed for a day before today (campus time).
    """
    today = reports.local_day(now)
    if day < today:
        raise ValidationFailed(N_("A standard takes effect today or later, not on %(day)s."), day=day)
    start = datetime.combine(day, time(0), tzinfo=reports.campus_zone())
    return max(start, now)


def publish(version_id: int, *, effective_on: date, actor: User | None, now: datetime) -> SlaPolicyVersion:
    """Publish a draft, in force for requests filed from ``effective_on`` (local day, today or later); commit.

    The draft is validated again (a calendar may have gone since it was
    saved). It becomes the policy's latest published version.
    """
    version = get_version(version_id)
    _require_edit(actor, version.policy_id)
    policy = db.session.execute(
        select(SlaPolicy).where(SlaPolicy.id == version.policy_id).with_for_update()
    ).scalar_one()
    version = _locked_draft(version_id)
    starts = effective_instant(effective_on, now)
    version.definition = sla_config.validate_policy(version.definition)
    version.status = VersionStatus.PUBLISHED
    version.effective_from = starts
    version.published_at = now
    version.published_by_id = actor.id if actor is not None else None
    policy.current_version_id = version.id
    db.session.commit()
    return version
