"""Contractors (外包单位): outside companies, and the technicians who work for one."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import Conflict, NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Contractor, ContractorMember, User, UserRole
from tracker.services import audit

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _names(name_en: str, name_zh: str) -> tuple[str, str]:
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en or not name_zh or len(name_en) > 120 or len(name_zh) > 120:
        raise ValidationFailed(
            N_("Give the contractor's name in English and in Chinese (at most 120 characters).")
        )
    return name_en, name_zh


def create(*, code: str, name_en: str, name_zh: str, now: datetime, actor: User | None = None) -> Contractor:
    """Add a contractor; commit. Raises ValidationFailed (bad code or names), Conflict (code in use).

    ``actor`` None is the command line; a user must be an administrator.
    """
    audit.require_admin(actor)
    code = (code or "").strip().lower()
    if not CODE.match(code):
        raise ValidationFailed(N_("A contractor's code is 1 to 32 lowercase letters, digits, - or _."))
    name_en, name_zh = _names(name_en, name_zh)
    if db.session.execute(select(Contractor.id).where(Contractor.code == code)).first() is not None:
        raise Conflict(N_("A contractor with the code %(code)s exists already."), code=code)
    contractor = Contractor(code=code, name_en=name_en, name_zh=name_zh, is_active=True, created_at=now)
    db.session.add(contractor)
    db.session.commit()
    return contractor


def update(
    contractor_id: int, *, name_en: str, name_zh: str, is_active: bool, actor: User | None = None
) -> Contractor:
    """Rename a contractor, or (de)activate it; commit. Its code stays: exports and the history name it.

    A deactivated contractor keeps its technicians and its scorecards; no
    technician can be assigned to it. Raises NotFound, ValidationFailed.
    """
    audit.require_admin(actor)
    contractor = db.session.get(Contractor, contractor_id)
    if contractor is None:
        raise NotFound()
    contractor.name_en, contractor.name_zh = _names(name_en, name_zh)
    contractor.is_active = bool(is_active)
    db.session.commit()
    return contractor


def assign(user_id: int, contractor_id: int | None, *, now: datetime, actor: User | None = None) -> None:
    """Make a technician work for a contractor (None: for the campus itself); commit.

    A technician belongs to one contractor at most: a new one replaces the old.
    Raises NotFound, ValidationFailed (not a technician, an inactive contractor).
    """
    audit.require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    if not user.has_role(Role.TECHNICIAN):
        raise ValidationFailed(N_("Only technicians work for a contractor."))
    member = db.session.get(ContractorMember, user_id)
    if contractor_id is None:
        if member is not None:
            db.session.delete(member)
        db.session.commit()
        return
    contractor = db.session.get(Contractor, contractor_id)
    if contractor is None:
        raise NotFound()
    if not contractor.is_active:
        raise ValidationFailed(N_("That contractor is no longer active: reactivate it first."))
    if member is None:
        db.session.add(ContractorMember(user_id=user_id, contractor_id=contractor_id, since=now))
    elif member.contractor_id != contractor_id:
        member.contractor_id, member.since = contractor_id, now
    db.session.commit()


def of_user(user_id: int) -> Contractor | None:
    return db.session.execute(
        select(Contractor)
        .join(ContractorMember, ContractorMember.contractor_id == Contractor.id)
        .where(ContractorMember.user_id == user_id)
    ).scalar_one_or_none()


def all_contractors() -> list[Contractor]:
    return list(db.session.execute(select(Contractor).order_by(Contractor.code)).scalars())


def technicians(centre_ids: set[int] | None = None) -> list[tuple[User, Contractor | None]]:
    """Return technicians (of ``centre_ids``; None: all) with their contractor, by display name."""
    ids = select(UserRole.user_id).where(UserRole.role == Role.TECHNICIAN)
    if centre_ids is not None:
        ids = ids.where(UserRole.centre_id.in_(centre_ids))
    rows = db.session.execute(
        select(User, Contractor)
        .outerjoin(ContractorMember, ContractorMember.user_id == User.id)
        .outerjoin(Contractor, Contractor.id == ContractorMember.contractor_id)
        .where(User.id.in_(ids))
        .order_by(User.display_name, User.username)
    ).all()
    return [(user, contractor) for user, contractor in rows]
