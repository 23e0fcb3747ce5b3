"""Contractors (外包单位): outside companies, and the technicians who work for one."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import Conflict, NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Contractor, ContractorMember, User

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def create(*, code: str, name_en: str, name_zh: str, now: datetime) -> Contractor:
    """Add a contractor; commit. Raises ValidationFailed (bad code or names), Conflict (code in use)."""
    code = (code or "").strip().lower()
    if not CODE.match(code):
        raise ValidationFailed(N_("A contractor's code is 1 to 32 lowercase letters, digits, - or _."))
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en or not name_zh or len(name_en) > 120 or len(name_zh) > 120:
        raise ValidationFailed(
            N_("Give the contractor's name in English and in Chinese (at most 120 characters).")
        )
    if db.session.execute(select(Contractor.id).where(Contractor.code == code)).first() is not None:
        raise Conflict(N_("A contractor with the code %(code)s exists already."), code=code)
    contractor = Contractor(code=code, name_en=name_en, name_zh=name_zh, is_active=True, created_at=now)
    db.session.add(contractor)
    db.session.commit()
    return contractor


def assign(user_id: int, contractor_id: int | None, *, now: datetime) -> None:
    """Make a technician work for a contractor (None: for the campus itself); commit.

    A technician belongs to one contractor at most: a new one replaces the old.
    Raises NotFound, ValidationFailed (not a technician).
    """
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
    if db.session.get(Contractor, contractor_id) is None:
        raise NotFound()
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
