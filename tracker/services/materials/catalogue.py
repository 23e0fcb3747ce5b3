"""A centre's catalogue of materials, stock-in, and the stock ledger.

Each public function is one transaction. The centre's heads (and
administrators) keep the catalogue; its staff read it.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from tracker.domain.i18n import N_
from tracker.domain.money import AmountRefused, parse_fen, parse_quantity
from tracker.domain.roles import Role
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, Material, MovementKind, StockMovement, User

CODE_MAX = 40
NAME_MAX = 120
UNIT_MAX = 20
NOTE_MAX = 500
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def may_manage(user: User, centre_id: int) -> bool:
    """Return whether ``user`` keeps ``centre_id``'s catalogue and stock (its heads, administrators)."""
    return user.is_active and (user.has_role(Role.ADMIN) or user.has_role(Role.CENTRE_HEAD, centre_id))


def may_view(user: User, centre_id: int) -> bool:
    """Return whether ``user`` may read ``centre_id``'s catalogue and ledger."""
    return user.is_active and (
        may_manage(user, centre_id)
        or user.has_any_role(Role.LEADERSHIP)
        or any(user.has_role(role, centre_id) for role in (Role.TECHNICIAN, Role.DISPATCHER))
    )


def centres_for(user: User) -> list[Centre]:
    """Return the active centres whose catalogue ``user`` may read, in the usual order."""
    centres = db.session.execute(
        select(Centre).where(Centre.is_active.is_(True)).order_by(Centre.sort_order, Centre.id)
    ).scalars()
    return [c for c in centres if may_view(user, c.id)]


def materials_of(centre_id: int, *, active_only: bool = False) -> list[Material]:
    """Return a centre's materials by code."""
    query = select(Material).where(Material.centre_id == centre_id)
    if active_only:
        query = query.where(Material.is_active.is_(True))
    return list(db.session.execute(query.order_by(Material.code)).scalars())


def get(material_id: int, user: User) -> Material:
    """Return a material ``user`` may read; NotFound otherwise."""
    material = db.session.get(Material, material_id)
    if material is None or not may_view(user, material.centre_id):
        raise NotFound(N_("No such material in a catalogue you can see."))
    return material


def ledger(material_id: int, *, limit: int = 200) -> list[StockMovement]:
    """Return a material's newest stock movements first."""
    return list(
        db.session.execute(
            select(StockMovement)
            .where(StockMovement.material_id == material_id)
            .order_by(StockMovement.id.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass
class MaterialInput:
    """What a head types for a material: texts as typed (amounts and numbers parsed here)."""

    code: str
    name_en: str
    name_zh: str
    unit: str
    unit_cost: str
    low_stock_threshold: str
    is_active: bool = True


def _refused(error: AmountRefused) -> ValidationFailed:
    return ValidationFailed(error.message, **error.params)


def _clean(data: MaterialInput) -> dict:
    code = (data.code or "").strip()
    if not code or len(code) > CODE_MAX or not _CODE.match(code):
        raise ValidationFailed(
            N_("Give a code of up to %(max)d letters, digits, points, dashes or underscores."), max=CODE_MAX
        )
    name_en, name_zh = (data.name_en or "").strip(), (data.name_zh or "").strip()
    if not name_en and not name_zh:
        raise ValidationFailed(N_("Give the material's name in at least one language."))
    if len(name_en) > NAME_MAX or len(name_zh) > NAME_MAX:
        raise ValidationFailed(N_("A name is longer than %(max)d characters."), max=NAME_MAX)
    unit = (data.unit or "").strip()
    if not unit or len(unit) > UNIT_MAX:
        raise ValidationFailed(
            N_("Give the unit (pcs, m, 个, 米…) in up to %(max)d characters."), max=UNIT_MAX
        )
    try:
        cost = parse_fen(data.unit_cost)
        threshold_text = (data.low_stock_threshold or "").strip()
        threshold = 0 if threshold_text in ("", "0") else parse_quantity(threshold_text)
    except AmountRefused as error:
        raise _refused(error) from None
    return {
        "code": code,
        "name_en": name_en,
        "name_zh": name_zh,
        "unit": unit,
        "unit_cost_fen": cost,
        "low_stock_threshold": threshold,
        "is_active": bool(data.is_active),
    }


def create_material(centre_id: int, data: MaterialInput, *, actor: User, now: datetime) -> Material:
    """Add a material (stock 0) to a centre's catalogue and return it.

    Raises PermissionDenied for someone who does not keep the catalogue,
    ValidationFailed for bad fields or a code already in the catalogue.
    """
    try:
        if not may_manage(actor, centre_id):
            raise PermissionDenied(N_("Only the centre's heads keep its catalogue of materials."))
        values = _clean(data)
        taken = db.session.execute(
            select(Material.id).where(Material.centre_id == centre_id, Material.code == values["code"])
        ).first()
        if taken:
            raise ValidationFailed(
                N_("The catalogue already has a material with code %(code)s."), code=values["code"]
            )
        material = Material(centre_id=centre_id, stock=0, created_at=now, **values)
        db.session.add(material)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return material


def update_material(material_id: int, data: MaterialInput, *, actor: User, now: datetime) -> Material:
    """Change a material's names, unit, unit cost, threshold or active flag; stock moves only by the ledger.

    A new unit cost applies to later jobs: the ledger keeps each job's cost.
    """
    try:
        material = db.session.get(Material, material_id)
        if material is None:
            raise NotFound()
        if not may_manage(actor, material.centre_id):
            raise PermissionDenied(N_("Only the centre's heads keep its catalogue of materials."))
        values = _clean(data)
        if values["code"] != material.code:
            taken = db.session.execute(
                select(Material.id).where(
                    Material.centre_id == material.centre_id, Material.code == values["code"]
                )
            ).first()
            if taken:
                raise ValidationFailed(
                    N_("The catalogue already has a material with code %(code)s."), code=values["code"]
                )
        for key, value in values.items():
            setattr(material, key, value)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return material


_MATERIALS = Material.__table__


def stock_in(material_id: int, quantity, *, actor: User, now: datetime, note: str = "") -> StockMovement:
    """Record that ``quantity`` of a material came into stock; return the ledger line.

    Raises ValidationFailed for a quantity that is not a positive whole
    number or a note that is too long; nothing changes then.
    """
    try:
        material = db.session.get(Material, material_id)
        if material is None:
            raise NotFound(N_("No such material in a catalogue you can see."))
        if not may_manage(actor, material.centre_id):
            raise PermissionDenied(N_("Only the centre's heads keep its catalogue of materials."))
        try:
            amount = parse_quantity(quantity)
        except AmountRefused as error:
            raise _refused(error) from None
        text = (note or "").strip()
        if len(text) > NOTE_MAX:
            raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=NOTE_MAX)
        # Added in the database, not read-and-written: a job taking stock meanwhile is not lost.
        after = db.session.execute(
            update(_MATERIALS)
            .where(_MATERIALS.c.id == material.id)
            .values(stock=_MATERIALS.c.stock + amount)
            .returning(_MATERIALS.c.stock)
        ).scalar_one()
        movement = StockMovement(
            material_id=material.id,
            centre_id=material.centre_id,
            kind=MovementKind.STOCK_IN,
            quantity=amount,
            stock_after=after,
            unit_cost_fen=material.unit_cost_fen,
            actor_id=actor.id,
            note=text,
            created_at=now,
        )
        db.session.add(movement)
        db.session.commit()
        db.session.refresh(material)
    except Exception:
        db.session.rollback()
        raise
    return movement
