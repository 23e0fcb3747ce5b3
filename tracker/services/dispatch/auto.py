"""Automatic dispatch at filing, and the centres' dispatch settings.

A request of a category with automatic dispatch on is assigned **in the
transaction that files it**, before it is first written (docs/dispatch.md,
"Why at filing"): nobody can see it unassigned, so no dispatcher, worker or
second web process can assign it as well; no broker is needed, so nothing
waits for one; and its clocks are computed once, with the assignment in
them. Two requests filed at the same instant go to two technicians: each
filing locks the turn row of the technician it chooses (``_claim``).
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.workflow import Action
from tracker.errors import NotFound, PermissionDenied
from tracker.extensions import db
from tracker.models import (
    Category,
    CategoryDispatch,
    CentreDispatch,
    DispatchTurn,
    TechnicianSkill,
    Ticket,
    TicketEvent,
    User,
)
from tracker.services.dispatch import suggest


def dispatch_new(ticket: Ticket, now: datetime) -> TicketEvent | None:
    """Assign a ticket being filed (not yet written) to the best technician on duty; return the event, or None.

    None when its category has no automatic dispatch or nobody fits: the
    request waits in the dispatch queue. No commit (services.tickets.file_ticket).
    """
    from tracker.services.requests import tickets

    if ticket.is_auto_dispatch is None:  # not read with the catalogue (tickets.new_ticket)
        setting = db.session.get(CategoryDispatch, ticket.category_id)
        ticket.is_auto_dispatch = setting is not None and setting.is_auto_dispatch
    if not ticket.is_auto_dispatch:
        return None
    best = _claim(suggest.fitting_now(ticket.centre_id, ticket.category_id, now), now)
    if best is None:
        return None
    # The technician with their roles in one statement, held by the ticket: the
    # assignment's check (``tickets._assign``) and the answer's name of them load nothing more.
    ticket.assignee = db.session.execute(_TECHNICIAN, {"user_id": best.user.id}).unique().scalar_one()
    event = tickets.apply(ticket, Action.ASSIGN, actor=None, now=now, assignee_id=best.user.id)
    event.data = {**event.data, "auto": True}
    return event


_TURNS = DispatchTurn.__table__


@functools.cache
def _take_first_free(count: int):
    """Return the claim for ``count`` technicians, best first (``u0`` …): built once per count (filing is hot).

    Locks and moves the turn row of the first one no other transaction holds.
    """
    ids = [bindparam(f"u{i}", type_=_TURNS.c.user_id.type) for i in range(count)]
    free = (
        select(_TURNS.c.user_id)
        .where(_TURNS.c.user_id.in_(ids))
        .order_by(case(*((_TURNS.c.user_id == id_, i) for i, id_ in enumerate(ids))))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(_TURNS)
        .where(_TURNS.c.user_id == free)
        .values(last_dispatched_at=bindparam("now", type_=_TURNS.c.last_dispatched_at.type))
        .returning(_TURNS.c.user_id)
    )


# The technician with their roles in one statement (filing is hot: built once).
_TECHNICIAN = select(User).options(joinedload(User.roles)).where(User.id == bindparam("user_id"))


def _claim(ranked: list[suggest.Candidate], now: datetime) -> suggest.Candidate | None:
    """Return the first of ``ranked`` whose turn row this transaction could take, skipping those another holds.

    Taking a turn row locks it and moves its round robin to ``now``, in one
    statement. Two filings at the same instant each lock the technician
    they choose until they commit (``FOR UPDATE SKIP LOCKED``): the second
    skips the first's choice and takes the next best. When every one is
    held (more filings at once than technicians on duty) it waits for the
    best one. Turn rows are made with the shifts (roster.save_shifts); a
    technician without one is taken unlocked, and given one. SQLite has no
    row locks: its writers queue whole transactions, so nothing is skipped.
    """
    if not ranked:
        return None
    # The technicians with a turn row ranked before the first without one, if any.
    lockable = []
    for candidate in ranked:
        if candidate.last_dispatched_at is None:  # no turn row read with them (no shift through the roster)
            break
        lockable.append(candidate)
    if lockable:
        values = {f"u{i}": c.user.id for i, c in enumerate(lockable)}
        taken = db.session.execute(_take_first_free(len(lockable)), values | {"now": now}).scalar()
        if taken is not None:
            return next(c for c in lockable if c.user.id == taken)
    if len(lockable) < len(ranked):
        chosen = ranked[len(lockable)]
        try:
            # Two filings may both add it.
            with db.session.begin_nested():
                db.session.add(DispatchTurn(user_id=chosen.user.id, last_dispatched_at=now))
        except IntegrityError:
            pass
        return chosen
    # Every one is held: wait for the best one's row (the UPDATE waits for its lock).
    db.session.execute(update(_TURNS).where(_TURNS.c.user_id == ranked[0].user.id).values(last_dispatched_at=now))
    return ranked[0]


# ---------------------------------------------------------------- settings


def can_configure(user: User, centre_id: int) -> bool:
    """Return whether ``user`` may change the centre's dispatch settings and skills: its head, or an administrator."""
    return user.has_role(Role.ADMIN) or user.has_role(Role.CENTRE_HEAD, centre_id)


def settings(centre_id: int) -> tuple[CentreDispatch | None, dict[int, CategoryDispatch]]:
    """Return the centre's settings row (None: defaults) and its categories' rows by category id."""
    rows = db.session.execute(
        select(CategoryDispatch)
        .join(Category, Category.id == CategoryDispatch.category_id)
        .where(Category.centre_id == centre_id)
    ).scalars()
    return db.session.get(CentreDispatch, centre_id), {r.category_id: r for r in rows}


def shows_duty_phone(centre_id: int) -> bool:
    row = db.session.get(CentreDispatch, centre_id)
    return bool(row and row.shows_duty_phone)


def is_emergency(category_id: int) -> bool:
    row = db.session.get(CategoryDispatch, category_id)
    return bool(row and row.is_emergency)


def save_settings(
    centre_id: int,
    *,
    shows_duty_phone: bool,
    auto_dispatch: set[int],
    emergency: set[int],
    actor: User,
    now: datetime,
) -> None:
    """Store the centre's dispatch settings: which categories are dispatched automatically, which are emergencies."""
    if not can_configure(actor, centre_id):
        raise PermissionDenied(N_("Only the centre's head may change how it dispatches."))
    categories = db.session.execute(select(Category).where(Category.centre_id == centre_id)).scalars().all()
    if not categories and db.session.get(CentreDispatch, centre_id) is None:
        from tracker.models import Centre

        if db.session.get(Centre, centre_id) is None:
            raise NotFound()
    try:
        centre_row = db.session.get(CentreDispatch, centre_id)
        if centre_row is None:
            centre_row = CentreDispatch(centre_id=centre_id)
            db.session.add(centre_row)
        centre_row.shows_duty_phone = shows_duty_phone
        _, rows = settings(centre_id)
        for category in categories:
            row = rows.get(category.id)
            if row is None:
                row = CategoryDispatch(category_id=category.id)
                db.session.add(row)
            row.is_auto_dispatch = category.id in auto_dispatch
            row.is_emergency = category.id in emergency
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def save_skills(user_id: int, centre_id: int, category_ids: set[int], *, actor: User) -> None:
    """Replace a technician's skills in one centre with ``category_ids`` (of that centre)."""
    if not can_configure(actor, centre_id):
        raise PermissionDenied(N_("Only the centre's head may change its technicians' skills."))
    user = db.session.get(User, user_id)
    if user is None or not user.has_role(Role.TECHNICIAN, centre_id):
        raise NotFound()
    own = set(db.session.execute(select(Category.id).where(Category.centre_id == centre_id)).scalars())
    try:
        for skill in db.session.execute(
            select(TechnicianSkill).where(
                TechnicianSkill.user_id == user_id, TechnicianSkill.category_id.in_(own)
            )
        ).scalars():
            db.session.delete(skill)
        db.session.flush()
        for category_id in sorted(category_ids & own):
            db.session.add(TechnicianSkill(user_id=user_id, category_id=category_id))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
