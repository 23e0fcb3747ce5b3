"""What a job used, taken from stock when its technician resolves it.

Stock is taken with one conditional UPDATE per material
(``stock = stock - q WHERE stock >= q``): two technicians resolving at
once cannot take the same last items, on PostgreSQL (the row lock makes
the second wait and re-check) as on SQLite (one writer at a time). The
``stock >= 0`` check constraint is the last guard.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from tracker.domain.i18n import N_
from tracker.domain.money import AmountRefused, parse_quantity
from tracker.domain.roles import Role
from tracker.domain.workflow import Action
from tracker.errors import Conflict, ValidationFailed
from tracker.extensions import db
from tracker.models import EventKind, Material, MovementKind, StockMovement, Ticket, TicketEvent, User
from tracker.services.notify import outbox
from tracker.services.requests import tickets as ticket_service

# Lines a resolution form offers; more than any job uses.
LINES_MAX = 20
LOW_STOCK_KIND = "material_low_stock"


@dataclass(frozen=True)
class UsedLine:
    """One line of the resolution form, as typed: a material's id and a quantity."""

    material_id: object = None
    quantity: object = None


def parse_lines(lines: Sequence[UsedLine]) -> list[tuple[int, int]]:
    """Return (material id, quantity) pairs from the form's lines, blank lines skipped, repeats added up.

    Checks the quantities only; ``take`` checks the materials. Raises
    ValidationFailed with the line's number.
    """
    if len(lines) > LINES_MAX:
        raise ValidationFailed(N_("A job can record at most %(max)d materials."), max=LINES_MAX)
    totals: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        chosen = str(line.material_id if line.material_id is not None else "").strip()
        typed = str(line.quantity if line.quantity is not None else "").strip()
        if not chosen and not typed:
            continue
        if not chosen:
            raise ValidationFailed(N_("Line %(line)d: choose a material from the catalogue."), line=number)
        try:
            material_id = int(chosen)
        except ValueError:
            raise ValidationFailed(
                N_("Line %(line)d: there is no such material in this centre's catalogue."), line=number
            ) from None
        try:
            quantity = parse_quantity(typed)
        except AmountRefused as error:
            raise ValidationFailed(
                N_("Line %(line)d: %(problem)s"), line=number, problem=_message(error)
            ) from None
        totals[material_id] = totals.get(material_id, 0) + quantity
    return sorted(totals.items())


def _message(error: AmountRefused):
    from tracker.domain.i18n import Message

    return Message(error.message, **error.params)


_MATERIALS = Material.__table__


def take(
    ticket: Ticket, used: list[tuple[int, int]], *, actor: User | None, now: datetime
) -> list[StockMovement]:
    """Take ``used`` (parse_lines) from stock for ``ticket`` and record it in its history; no commit.

    Materials are taken in id order, so two jobs never wait on each other
    in a circle. Raises ValidationFailed for a material that is not an
    active one of the ticket's centre, Conflict when stock is short.
    """
    if not used:
        return []
    ids = [material_id for material_id, _ in used]
    materials = {m.id: m for m in db.session.execute(select(Material).where(Material.id.in_(ids))).scalars()}
    movements = []
    lines = []
    for material_id, quantity in used:
        material = materials.get(material_id)
        if material is None or material.centre_id != ticket.centre_id or not material.is_active:
            raise ValidationFailed(N_("There is no such material in this centre's catalogue."))
        after = db.session.execute(
            update(_MATERIALS)
            .where(_MATERIALS.c.id == material_id, _MATERIALS.c.stock >= quantity)
            .values(stock=_MATERIALS.c.stock - quantity)
            .returning(_MATERIALS.c.stock)
        ).scalar_one_or_none()
        if after is None:
            left = db.session.execute(
                select(_MATERIALS.c.stock).where(_MATERIALS.c.id == material_id)
            ).scalar_one()
            raise Conflict(
                N_(
                    "Only %(stock)d %(unit)s of “%(name)s” left in stock: record a stock-in first, or use less."
                ),
                stock=left,
                unit=material.unit,
                name=material,
            )
        movement = StockMovement(
            material_id=material_id,
            centre_id=material.centre_id,
            kind=MovementKind.USED,
            quantity=-quantity,
            stock_after=after,
            unit_cost_fen=material.unit_cost_fen,
            ticket_id=ticket.id,
            actor_id=actor.id if actor is not None else None,
            created_at=now,
        )
        db.session.add(movement)
        movements.append(movement)
        lines.append(
            {
                "material_id": material_id,
                "code": material.code,
                "name_en": material.name_en,
                "name_zh": material.name_zh,
                "unit": material.unit,
                "quantity": quantity,
                "unit_cost_fen": material.unit_cost_fen,
                "cost_fen": quantity * material.unit_cost_fen,
            }
        )
        before = after + quantity
        if after <= material.low_stock_threshold < before:
            db.session.flush()
            _notify_low(material, after, movement, now=now)
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind=EventKind.MATERIALS_USED,
            actor_id=actor.id if actor is not None else None,
            created_at=now,
            body="",
            data={"lines": lines, "total_fen": sum(line["cost_fen"] for line in lines)},
        )
    )
    return movements


def _notify_low(material: Material, stock: int, movement: StockMovement, *, now: datetime) -> None:
    """Tell the centre's heads that a material fell to its low-stock threshold; no commit."""
    heads = outbox.users_with_role(Role.CENTRE_HEAD, material.centre_id)
    key = f"material:{material.id}:low:{movement.id}"
    outbox.queue(
        [
            outbox.Notice(
                kind=LOW_STOCK_KIND,
                key=key,
                subject=f"{material.code} {LOW_STOCK_KIND} {stock}",
                payload={
                    "material_en": material.name_en,
                    "material_zh": material.name_zh,
                    "code": material.code,
                    "stock": stock,
                    "unit": material.unit,
                    "threshold": material.low_stock_threshold,
                },
                centre_id=material.centre_id,
                link=f"/materials/item/{material.id}",
            )
        ],
        {key: heads},
        now=now,
    )


def resolve(
    ticket_id: int,
    *,
    actor: User,
    now: datetime,
    resolution_note: str,
    materials_used: str = "",
    lines: Sequence[UsedLine] = (),
    final_charge: str | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """Resolve a ticket with the materials it used and, for a paid repair, its final charge.

    One transaction: the resolution, the stock taken, the ledger lines,
    the history and any low-stock notice. Raises as
    ``tickets.transition``, ``parse_lines``, ``take`` and
    ``quotes.record_charge``; on a refusal nothing changes.
    """
    from tracker.services.materials import quotes

    used = parse_lines(lines)

    def record(ticket: Ticket, _event) -> None:
        take(ticket, used, actor=actor, now=now)
        quotes.record_charge(ticket, final_charge, actor=actor, now=now)

    return ticket_service.transition(
        ticket_id,
        Action.RESOLVE,
        actor=actor,
        now=now,
        resolution_note=resolution_note,
        materials_used=materials_used,
        expected_version=expected_version,
        before_commit=record,
    )
