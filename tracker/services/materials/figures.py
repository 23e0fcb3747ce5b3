"""Materials and charges per request, per centre and per period: read-only figures.

Read from the stock ledger and the charges (rows only for jobs that used
materials or were charged), through their (centre, instant) indexes; the
dashboards, the weekly report and the exports all call these.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import distinct, func, select

from tracker.domain.i18n import N_
from tracker.extensions import db
from tracker.models import Centre, Charge, Material, MovementKind, StockMovement, Ticket, User


@dataclass
class TicketMaterials:
    lines: list[dict]
    total_fen: int


def ticket_materials(ticket_id: int) -> TicketMaterials:
    """Return what a request used (material, quantity, unit cost then, cost) and the total cost."""
    rows = db.session.execute(
        select(StockMovement, Material)
        .join(Material, Material.id == StockMovement.material_id)
        .where(StockMovement.ticket_id == ticket_id, StockMovement.kind == MovementKind.USED)
        .order_by(StockMovement.id)
    ).all()
    lines = [
        {
            "material": material,
            "quantity": -movement.quantity,
            "unit_cost_fen": movement.unit_cost_fen,
            "cost_fen": movement.cost_fen,
            "at": movement.created_at,
        }
        for movement, material in rows
    ]
    return TicketMaterials(lines, sum(line["cost_fen"] for line in lines))


@dataclass
class CentreFigures:
    centre: Centre
    jobs: int = 0  # requests that used catalogue materials
    cost_fen: int = 0
    charges: int = 0
    charged_fen: int = 0
    top: list[tuple[Material, int, int]] = field(default_factory=list)  # (material, quantity, cost)


def _centre_filter(column, centre_ids: Iterable[int] | None):
    return column.in_(list(centre_ids)) if centre_ids is not None else True


def period_figures(
    centre_ids: Iterable[int] | None, start: datetime, end: datetime, *, top: int = 3
) -> list[CentreFigures]:
    """Return per centre, for [start, end): jobs with materials, their cost, charges and the top materials.

    ``centre_ids`` None means every centre. Centres with nothing are left out.
    """
    ids = list(centre_ids) if centre_ids is not None else None
    used = (
        StockMovement.kind == MovementKind.USED,
        StockMovement.created_at >= start,
        StockMovement.created_at < end,
        _centre_filter(StockMovement.centre_id, ids),
    )
    per_centre = db.session.execute(
        select(
            StockMovement.centre_id,
            func.count(distinct(StockMovement.ticket_id)),
            func.sum(-StockMovement.quantity * StockMovement.unit_cost_fen),
        )
        .where(*used)
        .group_by(StockMovement.centre_id)
    ).all()
    charged = db.session.execute(
        select(Charge.centre_id, func.count(), func.sum(Charge.amount_fen))
        .where(Charge.recorded_at >= start, Charge.recorded_at < end, _centre_filter(Charge.centre_id, ids))
        .group_by(Charge.centre_id)
    ).all()
    by_material = db.session.execute(
        select(
            StockMovement.centre_id,
            StockMovement.material_id,
            func.sum(-StockMovement.quantity),
            func.sum(-StockMovement.quantity * StockMovement.unit_cost_fen),
        )
        .where(*used)
        .group_by(StockMovement.centre_id, StockMovement.material_id)
    ).all()
    wanted = {row[0] for row in per_centre} | {row[0] for row in charged}
    if not wanted:
        return []
    centres = {c.id: c for c in db.session.execute(select(Centre).where(Centre.id.in_(wanted))).scalars()}
    figures = {cid: CentreFigures(centres[cid]) for cid in wanted}
    for cid, jobs, cost in per_centre:
        figures[cid].jobs, figures[cid].cost_fen = int(jobs), int(cost or 0)
    for cid, count, amount in charged:
        figures[cid].charges, figures[cid].charged_fen = int(count), int(amount or 0)
    materials = (
        {
            m.id: m
            for m in db.session.execute(
                select(Material).where(Material.id.in_({row[1] for row in by_material}))
            ).scalars()
        }
        if by_material
        else {}
    )
    ranked: dict[int, list] = {}
    for cid, material_id, quantity, cost in by_material:
        ranked.setdefault(cid, []).append((materials[material_id], int(quantity), int(cost or 0)))
    for cid, rows in ranked.items():
        figures[cid].top = sorted(rows, key=lambda row: (-row[2], row[0].code))[:top]
    return sorted(figures.values(), key=lambda f: (f.centre.sort_order, f.centre.id))


def low_stock(centre_ids: Iterable[int] | None) -> list[Material]:
    """Return the active materials at or below their low-stock threshold."""
    query = select(Material).where(
        Material.is_active.is_(True), Material.stock <= Material.low_stock_threshold
    )
    if centre_ids is not None:
        query = query.where(Material.centre_id.in_(list(centre_ids)))
    return list(db.session.execute(query.order_by(Material.centre_id, Material.code)).scalars())


# ---------------------------------------------------------------- export records (services/insight/exports.py writes them)

USAGE_COLUMNS = [
    ("at", N_("When")),
    ("centre", N_("Centre")),
    ("reference", N_("Request")),
    ("kind", N_("Movement")),
    ("code", N_("Code")),
    ("material", N_("Material")),
    ("unit", N_("Unit")),
    ("quantity", N_("Quantity")),
    ("unit_cost", N_("Unit cost (yuan)")),
    ("cost", N_("Cost (yuan)")),
    ("stock_after", N_("Stock after")),
    ("by", N_("By")),
    ("note", N_("Note")),
]

CHARGE_COLUMNS = [
    ("recorded_at", N_("Recorded")),
    ("centre", N_("Centre")),
    ("reference", N_("Request")),
    ("requester", N_("Requester")),
    ("requester_username", N_("Account")),
    ("quoted", N_("Quoted (yuan)")),
    ("consented_at", N_("Accepted by the requester")),
    ("amount", N_("Charged (yuan)")),
    ("recorded_by", N_("Recorded by")),
]


def _yuan(fen: int) -> Decimal:
    # A number in the spreadsheet (finance adds them up), exact: never a float.
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def usage_records(
    centre_ids: Iterable[int] | None, start: datetime, end: datetime, locale: str | None
) -> Iterator[dict]:
    """Yield the ledger lines of [start, end) (stock-in and use), oldest first, as export records."""
    ids = list(centre_ids) if centre_ids is not None else None
    rows = db.session.execute(
        select(StockMovement, Material, Centre, Ticket.reference, User.display_name)
        .join(Material, Material.id == StockMovement.material_id)
        .join(Centre, Centre.id == StockMovement.centre_id)
        .outerjoin(Ticket, Ticket.id == StockMovement.ticket_id)
        .outerjoin(User, User.id == StockMovement.actor_id)
        .where(
            StockMovement.created_at >= start,
            StockMovement.created_at < end,
            _centre_filter(StockMovement.centre_id, ids),
        )
        .order_by(StockMovement.id)
        .execution_options(yield_per=500)
    )
    for movement, material, centre, reference, actor in rows:
        yield {
            "at": movement.created_at,
            "centre": centre.name_for(locale),
            "reference": reference or "",
            "kind": movement.kind.value,
            "code": material.code,
            "material": material.name_for(locale),
            "unit": material.unit,
            "quantity": abs(movement.quantity),  # the movement says in or out
            "unit_cost": _yuan(movement.unit_cost_fen),
            "cost": _yuan(movement.cost_fen if movement.kind is MovementKind.USED else 0),
            "stock_after": movement.stock_after,
            "by": actor or "",
            "note": movement.note,
        }


def charge_records(
    centre_ids: Iterable[int] | None, start: datetime, end: datetime, locale: str | None
) -> Iterator[dict]:
    """Yield the final charges recorded in [start, end), with the consent they rest on, as export records."""
    from sqlalchemy.orm import aliased

    from tracker.models import Quote

    requester, recorder = aliased(User), aliased(User)
    ids = list(centre_ids) if centre_ids is not None else None
    rows = db.session.execute(
        select(Charge, Quote, Centre, Ticket.reference, requester, recorder.display_name)
        .join(Quote, Quote.id == Charge.quote_id)
        .join(Centre, Centre.id == Charge.centre_id)
        .join(Ticket, Ticket.id == Charge.ticket_id)
        .join(requester, requester.id == Charge.requester_id)
        .join(recorder, recorder.id == Charge.recorded_by_id)
        .where(Charge.recorded_at >= start, Charge.recorded_at < end, _centre_filter(Charge.centre_id, ids))
        .order_by(Charge.recorded_at, Charge.id)
    )
    for charge, quote, centre, reference, person, recorded_by in rows:
        yield {
            "recorded_at": charge.recorded_at,
            "centre": centre.name_for(locale),
            "reference": reference,
            "requester": person.display_name,
            "requester_username": person.username,
            "quoted": _yuan(quote.total_fen),
            "consented_at": quote.decided_at,
            "amount": _yuan(charge.amount_fen),
            "recorded_by": recorded_by,
        }
