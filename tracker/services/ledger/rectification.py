"""Rectification items: open them, work them through their life, and sweep their deadlines.

Every public function that changes data is one transaction: it checks,
changes rows, appends RectificationEvent rows and outbox rows, and
commits; on a refusal nothing is written. Functions take the actor (None
for the application itself) and ``now``; they never read the request or
the login. Who may do what from which status is decided in
``tracker.domain.rectification``.

Who sees an item: leadership and administrators every item; the staff of
its centre (technicians, dispatchers, heads) and its responsible person
that item. Requesters see none. Administrators read only.

Deadlines go through the same pattern as the SLA clocks: each item keeps
``next_check_at`` (its at-risk instant, then its due instant), every change
sets it again, and ``sweep_due`` reads the items whose instant has passed
through a partial index. Alerts are unique per (item, kind, deadline) and
inserted with ON CONFLICT DO NOTHING ... RETURNING; events and notices are
written only for the alerts a sweep inserted, in the same transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import Select, or_, select

from tracker.domain import rectification as domain
from tracker.domain.i18n import N_, TEXT_LANGUAGES
from tracker.domain.rectification import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    WORKING_STATUSES,
    Action,
    AtRiskRule,
    ItemStatus,
    Relation,
    Source,
)
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.domain.workflow import OPEN_STATUSES, Priority, TransitionRefused
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Category,
    Centre,
    Location,
    RectificationAlert,
    RectificationEvent,
    RectificationEventKind,
    RectificationItem,
    RectificationItemTicket,
    Ticket,
    User,
    UserRole,
)
from tracker.services import bulk
from tracker.services.insight import reports
from tracker.services.notify import outbox
from tracker.services.requests import attachments
from tracker.services.requests import tickets as ticket_service

log = logging.getLogger(__name__)

TITLE_MAX = 200
DESCRIPTION_MIN = 5
DESCRIPTION_MAX = 5000
TEXT_MAX = 5000
SOURCE_REF_MAX = 200
LINKS_MAX = 200
DEADLINE_MAX_DAYS = 3 * 366
# Items count in a counter of their own. Centre prefixes are 2-4 capital
# letters, so "#RC" can never be one of them.
COUNTER_PREFIX = "#RC"
REFERENCE_PREFIX = "RC"
# The owner type registered with the attachments service.
OWNER_TYPE = "rectification_item"

# The lines the new-item forms write above a cluster's requests and above
# survey responses. They are in the creator's language; pages and the API
# show them in the reader's (description_for).
CLUSTER_HEADER = N_("Requests behind this item:")
SURVEY_HEADER = N_("Survey responses behind this item:")
GENERATED_HEADERS = (CLUSTER_HEADER, SURVEY_HEADER)

EventKind = RectificationEventKind

# Only these read every item without being of its centre.
READ_ALL = (Role.LEADERSHIP, Role.ADMIN)


# ---------------------------------------------------------------- visibility and relations


def visible_items(user: User) -> Select:
    """Return a select of the items ``user`` may read."""
    query = select(RectificationItem)
    if user.has_any_role(*READ_ALL):
        return query
    conditions = [RectificationItem.responsible_id == user.id]
    centres = user.centre_ids()
    if centres:
        conditions.append(RectificationItem.centre_id.in_(centres))
    return query.where(or_(*conditions))


def can_view(user: User, item: RectificationItem) -> bool:
    """Return whether ``user`` may read ``item``."""
    return (
        user.has_any_role(*READ_ALL)
        or item.responsible_id == user.id
        or item.centre_id in user.centre_ids()
    )


def may_read_any(user: User) -> bool:
    """Return whether ``user`` may read items at all (the list pages)."""
    return user.has_any_role(*READ_ALL, *CENTRE_ROLES)


def get_visible(reference: str, user: User) -> RectificationItem:
    """Return the item by reference; NotFound also when ``user`` may not see it."""
    item = db.session.execute(
        select(RectificationItem).where(RectificationItem.reference == (reference or "").strip().upper())
    ).scalar_one_or_none()
    if item is None or not can_view(user, item):
        raise NotFound(N_("No rectification item %(reference)s that you can see."), reference=reference)
    return item


def centre_relations(user: User | None, centre_id: int) -> frozenset[Relation]:
    """Return how ``user`` stands to a centre's items in general (for opening one)."""
    if user is None:
        return frozenset({Relation.SYSTEM})
    found = set()
    if user.has_role(Role.DISPATCHER, centre_id) or user.has_role(Role.CENTRE_HEAD, centre_id):
        found.add(Relation.MANAGER)
    if user.has_role(Role.CENTRE_HEAD, centre_id):
        found.add(Relation.HEAD)
    if user.has_role(Role.LEADERSHIP):
        found.add(Relation.LEADERSHIP)
    return frozenset(found)


def relations(user: User | None, item: RectificationItem) -> frozenset[Relation]:
    """Return how ``user`` stands to ``item``; None is the application itself."""
    found = set(centre_relations(user, item.centre_id))
    if user is not None and item.responsible_id == user.id:
        found.add(Relation.RESPONSIBLE)
    return frozenset(found)


def available_actions(user: User, item: RectificationItem) -> list[Action]:
    """Return the actions ``user`` may take on ``item`` now."""
    if not user.is_active:
        return []
    return domain.allowed_actions(item.status, relations(user, item))


def may_create(user: User, centre_id: int | None = None) -> bool:
    """Return whether ``user`` may open an item (for ``centre_id``, or for some centre)."""
    if not user.is_active:
        return False
    if centre_id is None:
        return user.has_role(Role.LEADERSHIP) or bool(user.centre_ids(Role.DISPATCHER, Role.CENTRE_HEAD))
    return domain.may_create(centre_relations(user, centre_id))


def creatable_centres(user: User) -> list[Centre]:
    """Return the active centres ``user`` may open items for, in display order."""
    from tracker.services.requests import catalog

    return [c for c in catalog.active_centres() if may_create(user, c.id)]


def responsible_candidates(centre_id: int) -> list[User]:
    """Return who can be responsible for a centre's item: its active staff, by name."""
    return list(
        db.session.execute(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role.in_([r.value for r in CENTRE_ROLES]), UserRole.centre_id == centre_id,
                   User.is_active.is_(True))
            .order_by(User.display_name, User.id)
            .distinct()
        ).scalars()
    )


def items_for_ticket(ticket: Ticket, user: User) -> list[RectificationItem]:
    """Return the items linked to a request that ``user`` may see, newest first."""
    items = db.session.execute(
        select(RectificationItem)
        .join(RectificationItemTicket, RectificationItemTicket.item_id == RectificationItem.id)
        .where(RectificationItemTicket.ticket_id == ticket.id)
        .order_by(RectificationItem.id.desc())
    ).scalars()
    return [item for item in items if can_view(user, item)]


def linked_tickets(item: RectificationItem) -> list[Ticket]:
    """Return the requests linked to an item, oldest first."""
    return list(
        db.session.execute(
            select(Ticket)
            .join(RectificationItemTicket, RectificationItemTicket.ticket_id == Ticket.id)
            .where(RectificationItemTicket.item_id == item.id)
            .order_by(Ticket.created_at, Ticket.id)
        ).scalars()
    )


def events_of(item: RectificationItem) -> list[RectificationEvent]:
    return list(
        db.session.execute(
            select(RectificationEvent).where(RectificationEvent.item_id == item.id).order_by(RectificationEvent.id)
        ).scalars()
    )


def tickets_by_reference(references: Iterable[str], user: User) -> list[Ticket]:
    """Return the requests named by ``references`` that ``user`` may see, in the order given, once each.

    Raises ValidationFailed naming the first one that does not exist or is
    hidden from ``user`` (the two are not told apart), or when there are
    more than LINKS_MAX.
    """
    wanted: list[str] = []
    for reference in references:
        for part in str(reference).replace(",", " ").split():
            part = part.strip().upper()
            if part and part not in wanted:
                wanted.append(part)
    if len(wanted) > LINKS_MAX:
        raise ValidationFailed(N_("Link at most %(max)d requests at once."), max=LINKS_MAX)
    if not wanted:
        return []
    found = {
        t.reference: t
        for t in db.session.execute(select(Ticket).where(Ticket.reference.in_(wanted))).scalars()
    }
    result = []
    for reference in wanted:
        ticket = found.get(reference)
        if ticket is None or not ticket_service.can_view(user, ticket):
            raise ValidationFailed(N_("No request %(reference)s that you can see."), reference=reference)
        result.append(ticket)
    return result


def _tickets_by_id(ticket_ids: Iterable[int], user: User) -> list[Ticket]:
    """Return the requests with these ids that ``user`` may see, in the order given, once each.

    Raises ValidationFailed as ``tickets_by_reference`` does.
    """
    wanted: list[int] = []
    for value in ticket_ids or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationFailed(N_("Choose requests from the list.")) from None
        if number not in wanted:
            wanted.append(number)
    if len(wanted) > LINKS_MAX:
        raise ValidationFailed(N_("Link at most %(max)d requests at once."), max=LINKS_MAX)
    if not wanted:
        return []
    found = {t.id: t for t in db.session.execute(select(Ticket).where(Ticket.id.in_(wanted))).scalars()}
    result = []
    for number in wanted:
        ticket = found.get(number)
        if ticket is None or not ticket_service.can_view(user, ticket):
            raise ValidationFailed(N_("No request #%(id)s that you can see."), id=number)
        result.append(ticket)
    return result


# ---------------------------------------------------------------- deadlines


def at_risk_rule() -> AtRiskRule:
    """Return the configured at-risk rule (TRACKER_RECTIFICATION_AT_RISK)."""
    config = current_app.config
    days = config.get("RECTIFICATION_AT_RISK_DAYS")
    if days:
        return AtRiskRule(share=None, days=int(days))
    return AtRiskRule(share=float(config.get("RECTIFICATION_AT_RISK_SHARE") or 0.75))


def _set_deadline(item: RectificationItem, due_on: date) -> None:
    item.due_on = due_on
    item.due_at = domain.due_instant(due_on, reports.campus_zone())
    item.at_risk_at = domain.at_risk_instant(item.created_at, item.due_at, at_risk_rule())


def _schedule(item: RectificationItem) -> None:
    """Set when the sweep must look at the item next.

    Possibly an instant already past (an at-risk warning given before a
    rejection): the sweep then finds its alert there and moves on.
    """
    if item.status in FINAL_STATUSES:
        item.next_check_at = None
    elif item.status in WORKING_STATUSES:
        item.next_check_at = min(item.at_risk_at, item.due_at)
    else:
        item.next_check_at = item.due_at


def _check_deadline(due_on, now: datetime, *, current: date | None = None) -> date:
    if not isinstance(due_on, date):
        raise ValidationFailed(N_("Give the deadline as a date."))
    today = reports.local_day(now)
    if due_on < today:
        raise ValidationFailed(N_("The deadline cannot be in the past."))
    if due_on > today + timedelta(days=DEADLINE_MAX_DAYS):
        raise ValidationFailed(N_("Choose a deadline within three years."))
    if current is not None and due_on == current:
        raise ValidationFailed(N_("The item is already due on that day."))
    return due_on


# ---------------------------------------------------------------- opening an item


@dataclass
class NewItem:
    """What the form for a new item submits."""

    centre_id: int
    title: str
    description: str
    responsible_id: int
    due_on: date
    source: Source | str = Source.OTHER
    source_ref: str = ""
    priority: Priority | str = Priority.NORMAL
    ticket_references: list[str] = field(default_factory=list)
    # Requests to link by id (another service's selection); checked like references.
    ticket_ids: list[int] = field(default_factory=list)
    location_id: int | None = None
    category_id: int | None = None


def _clean(value: str | None, *, required: str | None, max_len: int, min_len: int = 0,
           short: str | None = None) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(required)
    if text and len(text) < min_len:
        raise ValidationFailed(short or N_("Write at least %(min)d characters."), min=min_len)
    if len(text) > max_len:
        raise ValidationFailed(N_("The text is longer than %(max)d characters."), max=max_len)
    return text


def _responsible(user_id, centre_id: int) -> User:
    user = db.session.get(User, int(user_id)) if user_id not in (None, "") else None
    if user is None or not user.is_active or centre_id not in user.centre_ids():
        raise ValidationFailed(N_("Choose a responsible person from the staff of the item's centre."))
    return user


def create_item(new: NewItem, *, actor: User, now: datetime,
                on_created: Callable[[RectificationItem], None] | None = None) -> RectificationItem:
    """Open an item, link its requests, tell its responsible person; commit; return it.

    ``on_created(item)`` runs inside the same transaction once the item and
    its history row are flushed, before the commit: other sources (survey
    responses, visit records) link themselves to the item there, and
    whatever it raises rolls everything back.
    Raises PermissionDenied when ``actor`` may not open items for the
    centre, ValidationFailed for bad details or a request ``actor`` cannot see.
    """
    try:
        centre = db.session.get(Centre, int(new.centre_id)) if new.centre_id not in (None, "") else None
        if centre is None or not centre.is_active:
            raise ValidationFailed(N_("Choose a service centre."))
        if not may_create(actor, centre.id):
            raise PermissionDenied(N_("You may not open rectification items for this centre."))
        title = _clean(new.title, required=N_("Give the item a title."), max_len=TITLE_MAX)
        description = _clean(new.description, required=N_("Describe the problem to fix."), max_len=DESCRIPTION_MAX,
                             min_len=DESCRIPTION_MIN,
                             short=N_("Describe the problem in at least %(min)d characters."))
        try:
            source = Source(new.source)
        except ValueError:
            raise ValidationFailed(N_("Choose where the problem was raised.")) from None
        source_ref = _clean(new.source_ref, required=None, max_len=SOURCE_REF_MAX)
        try:
            priority = Priority(new.priority or Priority.NORMAL)
        except ValueError:
            raise ValidationFailed(N_("Choose a priority.")) from None
        responsible = _responsible(new.responsible_id, centre.id)
        due_on = _check_deadline(new.due_on, now)
        location = category = None
        if new.location_id not in (None, ""):
            location = db.session.get(Location, int(new.location_id))
            if location is None:
                raise ValidationFailed(N_("Choose a place from the list."))
        if new.category_id not in (None, ""):
            category = db.session.get(Category, int(new.category_id))
            if category is None:
                raise ValidationFailed(N_("Choose a category from the list."))
        linked = tickets_by_reference(new.ticket_references, actor)
        for ticket in _tickets_by_id(new.ticket_ids, actor):
            if ticket not in linked:
                linked.append(ticket)

        item = RectificationItem(
            reference=_next_reference(now),
            title=title,
            description=description,
            source=source,
            source_ref=source_ref,
            centre_id=centre.id,
            location_id=location.id if location else None,
            category_id=category.id if category else None,
            responsible_id=responsible.id,
            created_by_id=actor.id,
            priority=priority,
            status=ItemStatus.OPEN,
            created_at=now,
            updated_at=now,
            rejection_count=0,
            fix_summary="",
        )
        _set_deadline(item, due_on)
        _schedule(item)
        db.session.add(item)
        db.session.flush()
        _link(item, linked, actor=actor, now=now)
        event = _record(item, EventKind.CREATED, actor=actor, now=now, to_status=ItemStatus.OPEN, body=description,
                        data={"source": source.value, "source_ref": source_ref, "due_on": due_on.isoformat(),
                              "responsible_id": responsible.id, "priority": priority.value,
                              "ticket_ids": [t.id for t in linked], "references": [t.reference for t in linked]})
        db.session.flush()
        if on_created is not None:
            on_created(item)
            db.session.flush()
        _notify(item, "rectification_assigned", [responsible.id], actor=actor, now=now, event=event)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def _next_reference(now: datetime) -> str:
    return ticket_service.next_reference(REFERENCE_PREFIX, now, counter=COUNTER_PREFIX, digits=4)


def _link(item: RectificationItem, tickets: list[Ticket], *, actor: User | None, now: datetime) -> list[Ticket]:
    """Link the requests not linked yet (no commit); return them."""
    if not tickets:
        return []
    present = set(db.session.execute(
        select(RectificationItemTicket.ticket_id).where(RectificationItemTicket.item_id == item.id)
    ).scalars())
    added = [t for t in tickets if t.id not in present]
    for ticket in added:
        db.session.add(RectificationItemTicket(item_id=item.id, ticket_id=ticket.id, linked_at=now,
                                               linked_by_id=actor.id if actor else None))
    return added


def _record(item: RectificationItem, kind: EventKind, *, actor: User | None, now: datetime,
            from_status: ItemStatus | None = None, to_status: ItemStatus | None = None, body: str = "",
            data: dict | None = None) -> RectificationEvent:
    event = RectificationEvent(
        item_id=item.id,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        created_at=now,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )
    db.session.add(event)
    return event


def _notify(item: RectificationItem, kind: str, people: Iterable[int | None], *, actor: User | None,
            now: datetime, event: RectificationEvent, comment: str = "") -> None:
    """Queue one notice of ``kind`` about an event to ``people`` but the actor (no commit)."""
    recipients = sorted({p for p in people if p is not None and (actor is None or p != actor.id)})
    if not recipients:
        return
    key = f"rectification:{item.id}:event:{event.id}"
    payload = {"reference": item.reference, "title": item.title, "due_on": item.due_on.isoformat()}
    if comment:
        payload["comment"] = comment[:500]
    outbox.queue(
        [outbox.Notice(kind=kind, key=key, subject=f"{item.reference} {kind}", payload=payload,
                       centre_id=item.centre_id, link=item_link(item.reference))],
        {key: recipients},
        now=now,
    )


def item_link(reference: str) -> str:
    """Return the path of an item's page: the link of its notices, by which they name it."""
    return f"/rectification/{reference}"


# ---------------------------------------------------------------- changes


def _lock(item_id: int, expected_version: int | None) -> RectificationItem:
    return ticket_service.lock_versioned(
        RectificationItem, item_id, expected_version,
        stale=N_("Someone else changed this rectification item a moment ago. Look at it again and retry."),
    )


def _check(action: Action, item: RectificationItem, actor: User | None) -> ItemStatus:
    if actor is not None and not actor.is_active:
        raise PermissionDenied()
    if actor is not None and not can_view(actor, item):
        raise NotFound()
    try:
        return domain.decide(action, item.status, relations(actor, item))
    except TransitionRefused as refused:
        raise Conflict(refused.message, **refused.params) from None


@dataclass
class Change:
    """The details an action may need; each action reads its own."""

    text: str = ""
    percent: int | str | None = None
    responsible_id: int | None = None
    due_on: date | None = None
    references: list[str] = field(default_factory=list)
    # Verify although linked requests are still open (the verifier saw them).
    verify_anyway: bool = False


def transition(item_id: int, action: Action | str, *, actor: User, now: datetime, change: Change | None = None,
               expected_version: int | None = None) -> RectificationItem:
    """Apply ``action`` to an item as ``actor``; record it; queue its notices; commit; return the item.

    Raises Conflict when the item's status or the actor's relation to it
    does not allow the action (or the item changed since
    ``expected_version``), ValidationFailed for missing or bad details,
    NotFound when the actor cannot see the item.
    """
    change = change or Change()
    action = Action(action)
    if action is Action.ATTACH:
        raise ValueError("evidence is added through the attachments service")
    try:
        item = _lock(item_id, expected_version if action is not Action.COMMENT else None)
        target = _check(action, item, actor)
        before = item.status
        event, notices = _HANDLERS[action](item, target, actor=actor, now=now, change=change)
        if action is not Action.COMMENT:
            item.updated_at = now
            _schedule(item)
        db.session.flush()
        for kind, people, comment in notices:
            _notify(item, kind, people, actor=actor, now=now, event=event, comment=comment)
        # Whatever the actor was told about the item, they have now acted on it.
        outbox.mark_acted(actor, now=now, link=item_link(item.reference))
        log.debug("rectification %s: %s %s -> %s", item.reference, action.value, before.value, item.status.value)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def _text(change: Change, message: str | None, max_len: int = TEXT_MAX) -> str:
    return _clean(change.text, required=message, max_len=max_len)


def _percent(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 100:
        raise ValidationFailed(N_("Give the progress as a whole percentage from 0 to 100."))
    return number


def _move(item: RectificationItem, target: ItemStatus, kind: EventKind, *, actor, now, body="", data=None):
    before = item.status
    item.status = target
    if target is ItemStatus.IN_PROGRESS and item.started_at is None:
        item.started_at = now
    return _record(item, kind, actor=actor, now=now, from_status=before, to_status=target, body=body,
                   data=data)


def _heads(centre_id: int) -> list[int]:
    return outbox.users_with_role(Role.CENTRE_HEAD, centre_id)


def _start(item, target, *, actor, now, change):
    note = _text(change, None)
    return _move(item, target, EventKind.STARTED, actor=actor, now=now, body=note), []


def _update(item, target, *, actor, now, change):
    note = _text(change, N_("Say what was done."))
    percent = _percent(change.percent)
    if percent is not None:
        item.progress_percent = percent
    data = {"percent": percent}
    if item.status is target:
        event = _record(item, EventKind.PROGRESS_UPDATED, actor=actor, now=now, body=note, data=data)
    else:  # the first update of an open item starts the work
        event = _move(item, target, EventKind.PROGRESS_UPDATED, actor=actor, now=now, body=note, data=data)
    return event, []


def _submit(item, target, *, actor, now, change):
    summary = _text(change, N_("Summarise the fix for leadership to verify."))
    item.fix_summary = summary
    item.submitted_at = now
    event = _move(item, target, EventKind.SUBMITTED, actor=actor, now=now, body=summary)
    return event, [("rectification_submitted", outbox.users_with_role(Role.LEADERSHIP), "")]


def open_linked_tickets(item: RectificationItem) -> list[Ticket]:
    """Return the linked requests still being worked (work is owed on them), oldest first."""
    return [t for t in linked_tickets(item) if t.status in OPEN_STATUSES]


def _verify(item, target, *, actor, now, change):
    note = _text(change, None)
    still_open = open_linked_tickets(item)
    if still_open and not change.verify_anyway:
        raise ValidationFailed(
            N_("Requests linked to this item are still open: %(references)s. Nothing was changed; to verify the "
               "item all the same, tick “Verify anyway”."),
            references=", ".join(t.reference for t in still_open),
        )
    item.verified_at = now
    item.verified_by_id = actor.id
    # Verified is done: the last reported progress no longer says how far it got.
    item.progress_percent = 100
    data = {"on_time": now < item.due_at, "due_on": item.due_on.isoformat()}
    if still_open:
        data["open_requests"] = [t.reference for t in still_open]
    event = _move(item, target, EventKind.VERIFIED, actor=actor, now=now, body=note, data=data)
    return event, [("rectification_verified", [item.responsible_id, *_heads(item.centre_id)], note)]


def _reject(item, target, *, actor, now, change):
    reason = _text(change, N_("Say why the fix is not accepted."))
    item.rejection_count = (item.rejection_count or 0) + 1
    event = _move(item, target, EventKind.REJECTED, actor=actor, now=now, body=reason,
                  data={"rejection": item.rejection_count})
    return event, [("rectification_rejected", [item.responsible_id, *_heads(item.centre_id)], reason)]


def _cancel(item, target, *, actor, now, change):
    reason = _text(change, N_("Say why the item is cancelled."))
    item.cancelled_at = now
    return _move(item, target, EventKind.CANCELLED, actor=actor, now=now, body=reason), []


def _reassign(item, target, *, actor, now, change):
    person = _responsible(change.responsible_id, item.centre_id)
    if person.id == item.responsible_id:
        raise ValidationFailed(N_("%(name)s is responsible already."), name=person.display_name)
    note = _text(change, None)
    previous = item.responsible_id
    item.responsible_id = person.id
    event = _record(item, EventKind.REASSIGNED, actor=actor, now=now, body=note,
                    data={"from": previous, "to": person.id})
    return event, [("rectification_assigned", [person.id], note)]


def _reschedule(item, target, *, actor, now, change):
    due_on = _check_deadline(change.due_on, now, current=item.due_on)
    reason = _text(change, N_("Say why the deadline changes."))
    previous = item.due_on
    _set_deadline(item, due_on)
    event = _record(item, EventKind.DEADLINE_CHANGED, actor=actor, now=now, body=reason,
                    data={"from": previous.isoformat(), "to": due_on.isoformat()})
    return event, []


def _comment(item, target, *, actor, now, change):
    text = _text(change, N_("Write a comment first."))
    return _record(item, EventKind.COMMENTED, actor=actor, now=now, body=text), []


def _link_more(item, target, *, actor, now, change):
    tickets = tickets_by_reference(change.references, actor)
    if not tickets:
        raise ValidationFailed(N_("Give the references of the requests to link."))
    added = _link(item, tickets, actor=actor, now=now)
    if not added:
        raise ValidationFailed(N_("These requests are linked already."))
    event = _record(item, EventKind.TICKETS_LINKED, actor=actor, now=now,
                    data={"ticket_ids": [t.id for t in added], "references": [t.reference for t in added]})
    return event, []


_HANDLERS = {
    Action.START: _start,
    Action.UPDATE: _update,
    Action.SUBMIT: _submit,
    Action.VERIFY: _verify,
    Action.REJECT: _reject,
    Action.CANCEL: _cancel,
    Action.REASSIGN: _reassign,
    Action.RESCHEDULE: _reschedule,
    Action.COMMENT: _comment,
    Action.LINK: _link_more,
}


# ---------------------------------------------------------------- evidence


def may_attach(user: User, item: RectificationItem) -> bool:
    """Return whether ``user`` may add evidence to ``item`` now."""
    return Action.ATTACH in available_actions(user, item)


def _load(item_id: int) -> RectificationItem | None:
    return db.session.get(RectificationItem, item_id)


def _lock_for_evidence(item_id: int) -> RectificationItem | None:
    return db.session.execute(
        select(RectificationItem).where(RectificationItem.id == item_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _record_evidence(item: RectificationItem, attachment, actor: User, now: datetime) -> None:
    """Append the evidence event of an attachment being stored (no commit: the attachments service commits).

    The item's row is left as it is: a form opened before the upload stays valid.
    """
    _record(item, EventKind.EVIDENCE_ADDED, actor=actor, now=now,
            data={"attachment_id": attachment.id, "file_name": attachment.original_name,
                  "content_type": attachment.content_type})
    outbox.mark_acted(actor, now=now, link=item_link(item.reference))


def evidence_of(item: RectificationItem) -> list:
    """Return the item's evidence files, oldest first (the caller has checked the reader may see the item)."""
    return attachments.attachments_of(OWNER_TYPE, item.id)


# Evidence is stored by the attachments service, with these rules: who sees
# the item sees its files; who may "add evidence" (domain.RULES) adds them.
attachments.register_owner(
    OWNER_TYPE,
    load=_load,
    lock=_lock_for_evidence,
    can_view=can_view,
    can_attach=may_attach,
    event=_record_evidence,
)


# ---------------------------------------------------------------- the deadline sweep


@dataclass
class SweepResult:
    items: int = 0  # items looked at
    at_risk: int = 0
    overdue: int = 0
    notices: int = 0
    seconds: float = 0.0

    def __str__(self):
        return (f"{self.items} items, {self.at_risk} at risk, {self.overdue} overdue, {self.notices} notices "
                f"in {self.seconds * 1000:.0f} ms")


AT_RISK, OVERDUE = "at_risk", "overdue"
ALERT_EVENT = {AT_RISK: EventKind.AT_RISK, OVERDUE: EventKind.OVERDUE}
ALERT_KIND = {AT_RISK: "rectification_at_risk", OVERDUE: "rectification_overdue"}


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def sweep_due(now: datetime, *, batch_size: int | None = None) -> SweepResult:
    """Flag the items that became at risk or overdue by ``now`` and tell their people; commit per batch.

    Safe to run twice at once: each alert, event and notice is written once.
    """
    started = time.perf_counter()
    batch_size = batch_size or current_app.config["SLA_SWEEP_BATCH"]
    result = SweepResult()
    seen: set[int] = set()
    while _sweep_batch(now, batch_size, result, seen):
        pass
    result.seconds = time.perf_counter() - started
    return result


def _sweep_batch(now: datetime, batch_size: int, result: SweepResult, seen: set[int]) -> bool:
    """Process one batch of due items; return whether to go on."""
    items = RectificationItem.__table__
    query = (
        select(items.c.id, items.c.status, items.c.due_at, items.c.at_risk_at)
        .where(items.c.next_check_at <= now)
        .order_by(items.c.next_check_at)
        .limit(batch_size)
    )
    if _is_postgres():
        # Another sweep takes the next rows instead of waiting for these.
        query = query.with_for_update(skip_locked=True)
    rows = db.session.execute(query).all()
    if not rows:
        db.session.rollback()
        return False
    if all(row.id in seen for row in rows):
        log.error("rectification sweep: %d items stay due after processing (ids %s…)", len(rows),
                  [r.id for r in rows[:5]])
        db.session.rollback()
        return False
    seen.update(row.id for row in rows)
    result.items += len(rows)
    updates, wanted = [], []
    for row in rows:
        status = ItemStatus(row.status)
        if status not in ACTIVE_STATUSES:
            following = None
        elif now >= row.due_at:
            wanted.append((row.id, OVERDUE, row.due_at))
            following = None
        elif now >= row.at_risk_at:
            if status in WORKING_STATUSES:
                wanted.append((row.id, AT_RISK, row.due_at))
            following = row.due_at
        else:
            following = row.at_risk_at if status in WORKING_STATUSES else row.due_at
        updates.append({"id": row.id, "next_check_at": following})
    bulk.update_by_id(items, updates)
    if wanted:
        created = bulk.insert_ignoring_conflicts(
            RectificationAlert.__table__,
            [{"item_id": item_id, "kind": kind, "due_at": due_at, "created_at": now} for item_id, kind, due_at in wanted],
            conflict=["item_id", "kind", "due_at"],
            returning=["id", "item_id", "kind"],
        )
        _announce(created, now, result)
    db.session.commit()
    return True


def _announce(created: list[tuple], now: datetime, result: SweepResult) -> None:
    """Write the events and notices of the alerts this sweep inserted (no commit)."""
    if not created:
        return
    items = {
        row.id: row
        for row in db.session.execute(
            select(RectificationItem.id, RectificationItem.reference, RectificationItem.title,
                   RectificationItem.centre_id, RectificationItem.responsible_id, RectificationItem.due_on,
                   RectificationItem.due_at, RectificationItem.status)
            .where(bulk.ids_in(RectificationItem.id, sorted({c[1] for c in created})))
        ).all()
    }
    heads: dict[int, list[int]] = {}
    leaders: list[int] | None = None
    events, notices, recipients = [], [], {}
    for alert_id, item_id, kind in sorted(created):
        item = items[item_id]
        if item.centre_id not in heads:
            heads[item.centre_id] = _heads(item.centre_id)
        people = [item.responsible_id, *heads[item.centre_id]]
        if kind == OVERDUE:
            result.overdue += 1
            if leaders is None:
                leaders = outbox.users_with_role(Role.LEADERSHIP)
            people += leaders
        else:
            result.at_risk += 1
        events.append({
            "item_id": item_id,
            "kind": ALERT_EVENT[kind].value,
            "actor_id": None,
            "created_at": now,
            "from_status": None,
            "to_status": None,
            "body": "",
            "data": {"alert_id": alert_id, "due_on": item.due_on.isoformat(), "due_at": item.due_at.isoformat()},
        })
        key = f"rectification:{item_id}:{kind}:{int(item.due_at.timestamp())}"
        notices.append(outbox.Notice(
            kind=ALERT_KIND[kind],
            key=key,
            subject=f"{item.reference} {kind} (due {item.due_on.isoformat()})",
            payload={"reference": item.reference, "title": item.title, "due_on": item.due_on.isoformat()},
            centre_id=item.centre_id,
            link=item_link(item.reference),
        ))
        recipients[key] = sorted(set(people))
    bulk.insert(RectificationEvent.__table__, events)
    result.notices += len(outbox.queue(notices, recipients, now=now))


def description_for(item: RectificationItem, locale: str | None) -> str:
    """Return the item's description with its generated lines in ``locale``.

    The header above a cluster's requests ("Requests behind this item:")
    or above survey responses was written in whichever language its
    creator read; each line that is such a header in any language is
    given in ``locale``. Items written before this change read the same way.
    """
    text = item.description or ""
    headers = _generated_headers()
    if not any(line.strip() in headers for line in text.split("\n")):
        return text
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        wanted = {msgid: gettext(msgid) for msgid in GENERATED_HEADERS}
    return "\n".join(wanted[headers[line.strip()]] if line.strip() in headers else line
                     for line in text.split("\n"))


def _generated_headers() -> dict[str, str]:
    """Return each generated header in every language, mapped to its msgid."""
    headers = {}
    for locale, _suffix in TEXT_LANGUAGES:
        with force_locale(locale):
            headers.update({gettext(msgid): msgid for msgid in GENERATED_HEADERS})
    return headers
