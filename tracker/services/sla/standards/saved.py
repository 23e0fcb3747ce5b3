"""Saved replays: start one (a worker runs it), follow its progress, read its result, share it.

Who: an administrator for any centre or the whole campus; a centre head
for one of their centres (a centre head's replay always names the centre).
A shared link (its token) lets administrators, leadership and centre heads
read a replay they could not list.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.domain.sla_clock import Clock, Target, evaluate
from tracker.errors import NotFound, PermissionDenied, TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    ReplayStatus,
    SlaPolicyVersion,
    SlaReplay,
    Ticket,
    TicketEvent,
    User,
)
from tracker.queueing import publish_after_commit
from tracker.services.sla import clocks as sla
from tracker.services.sla.standards import replay as replays
from tracker.services.sla.standards.draft import Draft, parse_draft

NAME_MAX = 200


def can_replay(actor: User | None, centre_id: int | None = None) -> bool:
    """Return whether ``actor`` may replay (``centre_id``: for that centre; None: the whole campus)."""
    if actor is None or not actor.is_active:
        return False
    if actor.has_role(Role.ADMIN):
        return True
    heads = actor.centre_ids(Role.CENTRE_HEAD)
    return bool(heads) if centre_id is None else centre_id in heads


def _authorise(actor: User | None, centre_id: int | None) -> None:
    if actor is None:
        return  # a command
    if centre_id is None and actor.is_active and not actor.has_role(Role.ADMIN) \
            and actor.centre_ids(Role.CENTRE_HEAD):
        raise ValidationFailed(N_("Choose one of your centres."))
    if not can_replay(actor, centre_id):
        raise PermissionDenied()


def current_document(actor: User | None) -> dict:
    """Return a draft document copying the current standards the actor may replay: a start for edits.

    Administrators get every active policy; a centre head the policies their
    centres' categories use.
    """
    from tracker.models import Category, SlaPolicy

    query = select(SlaPolicy).where(SlaPolicy.is_active, SlaPolicy.current_version_id.is_not(None))
    if actor is not None and not actor.has_role(Role.ADMIN):
        used = select(Category.sla_policy_id).where(Category.centre_id.in_(actor.centre_ids(Role.CENTRE_HEAD)
                                                                             or {-1}))
        query = query.where(SlaPolicy.id.in_(used))
    return {"policies": {policy.code: policy.current_version.definition
                         for policy in db.session.execute(query.order_by(SlaPolicy.code)).scalars()}}


def draft_of_version(version_id: int, *, actor: User | None = None) -> dict:
    """Return the draft document that replays a stored policy version (a draft version) under its policy's code.

    With an ``actor``, only a version of a policy they may replay
    (``current_document``); raises NotFound otherwise.
    """
    version = db.session.get(SlaPolicyVersion, version_id)
    if version is None or (actor is not None and version.policy.code not in current_document(actor)["policies"]):
        raise NotFound()
    return {"policies": {version.policy.code: version.definition}}


def start_replay(*, name: str, first: date, last: date, centre_id: int | None, draft: dict | None,
                 policy_version_id: int | None = None, as_of: datetime | None = None, actor: User | None,
                 now: datetime) -> SlaReplay:
    """Record a replay and queue it for a worker (``standards.replay``); commit.

    ``draft``: a draft document (docs/standards.md); None or {} replays the
    published versions, or the ``policy_version_id`` given. Raises
    ValidationFailed for a bad name, period or draft, or a period with no
    request; PermissionDenied outside the actor's centres. Nothing is stored
    then.
    """
    _authorise(actor, centre_id)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(N_("Give the replay a name."))
    filters = replays.filters_for(first, last, centre_id=centre_id)
    if not draft and policy_version_id is not None:
        draft = draft_of_version(policy_version_id)
    elif policy_version_id is not None and db.session.get(SlaPolicyVersion, policy_version_id) is None:
        raise NotFound()
    checked = parse_draft(draft) if draft else Draft()
    total = replays.count_candidates(filters)
    if total == 0:
        raise ValidationFailed(N_("No request was filed or measured in this period."))
    row = SlaReplay(
        name=name[:NAME_MAX],
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        centre_id=centre_id,
        policy_version_id=policy_version_id,
        params={"first": first.isoformat(), "last": last.isoformat(), "centre_id": centre_id,
                "as_of": (as_of or now).isoformat()},
        draft=checked.document,
        status=ReplayStatus.QUEUED,
        progress_done=0,
        progress_total=total,
        message="",
        share_token=secrets.token_urlsafe(24),
    )
    db.session.add(row)
    db.session.flush()
    publish_after_commit("standards.replay", row.id)
    db.session.commit()
    return row


def _filters(row: SlaReplay):
    params = row.params
    return replays.filters_for(date.fromisoformat(params["first"]), date.fromisoformat(params["last"]),
                               centre_id=params.get("centre_id"))


def _draft(row: SlaReplay) -> Draft:
    return parse_draft(row.draft) if row.draft and any(row.draft.get(k) for k in ("policies", "categories",
                                                                                      "calendars")) else Draft()


# A running replay writes its heartbeat with every chunk's progress (a few
# seconds apart); one silent this long lost its worker (killed, machine
# restarted). It is queued again once, then failed (``reclaim_stalled``).
STALLED_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 2
STALLED_MESSAGE = N_("The worker running this replay stopped twice without finishing it. Start the replay again; "
                     "if it stops again, tell the administrator.")


class _TakenOver(Exception):
    """The row is no longer this worker's: it was found stalled and queued again (or failed)."""


def execute_replay(replay_id: int, *, now: datetime, processes: int = 1, clock=utcnow) -> SlaReplay | None:
    """Run a queued replay to its end and store its result; None when another worker has it (or had it).

    Safe to run twice: only one caller claims the queued row. The progress
    and the heartbeat (``clock()``) are committed after every chunk; a
    failure marks the row failed with why. A worker whose row was taken
    over meanwhile (found stalled: ``reclaim_stalled``) stops and writes
    nothing more.
    """
    claimed = db.session.execute(
        update(SlaReplay)
        .where(SlaReplay.id == replay_id, SlaReplay.status == ReplayStatus.QUEUED)
        .values(status=ReplayStatus.RUNNING, started_at=now, heartbeat_at=clock(), attempts=SlaReplay.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    row = db.session.get(SlaReplay, replay_id)
    db.session.refresh(row)
    attempt = row.attempts
    mine = (SlaReplay.id == replay_id, SlaReplay.status == ReplayStatus.RUNNING, SlaReplay.attempts == attempt)

    def progress(done: int, total: int) -> None:
        written = db.session.execute(
            update(SlaReplay).where(*mine)
            .values(progress_done=done, progress_total=total, heartbeat_at=clock())
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if not written:
            raise _TakenOver()

    try:
        as_of = datetime.fromisoformat(row.params["as_of"])
        result = replays.replay(_filters(row), _draft(row), as_of, progress=progress, processes=processes)
    except _TakenOver:
        db.session.rollback()
        return None
    except Exception as error:  # noqa: BLE001 - recorded on the row: its page says why
        db.session.rollback()
        # In English: a worker has no reader's language (the page shows it as is).
        message = (str(error) if isinstance(error, TrackerError) else f"{type(error).__name__}: {error}")[:4000]
        db.session.execute(update(SlaReplay).where(*mine)
                           .values(status=ReplayStatus.FAILED, finished_at=now, message=message)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        return db.session.get(SlaReplay, replay_id)
    written = db.session.execute(
        update(SlaReplay).where(*mine)
        .values(result=result, progress_done=result["requests"], progress_total=result["requests"],
                status=ReplayStatus.DONE, finished_at=now, heartbeat_at=clock())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not written:
        return None
    row = db.session.get(SlaReplay, replay_id)
    db.session.refresh(row)
    return row


def reclaim_stalled(now: datetime, *, stalled_after: timedelta = STALLED_AFTER) -> dict[str, list[int]]:
    """Queue again, once, the running replays whose heartbeat stopped; fail those already retried. Commit.

    A replay is stalled when it is running and its heartbeat (else its
    start) is older than ``stalled_after``: its worker died. Each row is
    changed only if its heartbeat is still the one read, so a worker that
    writes progress meanwhile keeps its replay. Returns the ids
    {"requeued": [...], "failed": [...]}. The periodic task
    ``standards.reclaim_stalled`` runs this.
    """
    cutoff = now - stalled_after
    stalled = db.session.execute(
        select(SlaReplay.id, SlaReplay.attempts, SlaReplay.heartbeat_at).where(
            SlaReplay.status == ReplayStatus.RUNNING,
            func.coalesce(SlaReplay.heartbeat_at, SlaReplay.started_at, SlaReplay.created_at) < cutoff,
        ).order_by(SlaReplay.id)
    ).all()
    outcome: dict[str, list[int]] = {"requeued": [], "failed": []}
    for replay_id, attempts, heartbeat_at in stalled:
        same = (SlaReplay.id == replay_id, SlaReplay.status == ReplayStatus.RUNNING, SlaReplay.attempts == attempts,
                SlaReplay.heartbeat_at.is_(None) if heartbeat_at is None else SlaReplay.heartbeat_at == heartbeat_at)
        if attempts < MAX_ATTEMPTS:
            values = {"status": ReplayStatus.QUEUED, "progress_done": 0, "started_at": None, "heartbeat_at": None}
            kind = "requeued"
        else:
            values = {"status": ReplayStatus.FAILED, "finished_at": now, "message": STALLED_MESSAGE}
            kind = "failed"
        changed = db.session.execute(
            update(SlaReplay).where(*same).values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            outcome[kind].append(replay_id)
            if kind == "requeued":
                publish_after_commit("standards.replay", replay_id)
    db.session.commit()
    return outcome


def shown_message(row: SlaReplay) -> str:
    """Return a replay's message as shown: the stalled-replay message in the reader's language, others as written."""
    if row.message == STALLED_MESSAGE:
        return _(STALLED_MESSAGE)
    return row.message or ""


def get_replay(replay_id: int, *, actor: User | None) -> SlaReplay:
    """Return a replay the actor may read: NotFound, or PermissionDenied outside their centres."""
    row = db.session.get(SlaReplay, replay_id)
    if row is None:
        raise NotFound()
    if actor is not None and not (can_replay(actor, row.centre_id) or row.created_by_id == actor.id):
        raise PermissionDenied()
    return row


def shared_replay(token: str, *, actor: User | None) -> SlaReplay:
    """Return the replay of a shared link, for administrators, leadership and centre heads."""
    row = db.session.execute(select(SlaReplay).where(SlaReplay.share_token == token)).scalar_one_or_none()
    if row is None or not token:
        raise NotFound()
    if actor is not None and not (actor.is_active and (actor.has_any_role(Role.ADMIN, Role.LEADERSHIP)
                                                       or actor.centre_ids(Role.CENTRE_HEAD))):
        raise PermissionDenied()
    return row


def list_replays(*, actor: User | None, limit: int = 100, policy_version_id: int | None = None) -> list[SlaReplay]:
    """Return the newest replays the actor may read (of one policy version: the record of why it changed)."""
    query = select(SlaReplay).order_by(SlaReplay.id.desc()).limit(limit)
    if policy_version_id is not None:
        query = query.where(SlaReplay.policy_version_id == policy_version_id)
    if actor is not None and not actor.has_role(Role.ADMIN):
        query = query.where(SlaReplay.centre_id.in_(actor.centre_ids(Role.CENTRE_HEAD) or {-1}))
    return list(db.session.execute(query).scalars())


def replay_instant(row: SlaReplay) -> datetime:
    """Return the instant a replay read open requests' clocks at."""
    return datetime.fromisoformat(row.params["as_of"])


def timelines(row: SlaReplay, reference: str) -> tuple[Ticket, dict[Target, Clock], dict[Target, Clock]]:
    """Return a request of the replay and its clocks (with timelines) as stored and under the draft.

    Both at the replay's instant. Raises NotFound for a request outside the
    replay's centre.
    """
    ticket = db.session.execute(select(Ticket).where(Ticket.reference == reference)).scalar_one_or_none()
    if ticket is None or (row.centre_id is not None and ticket.centre_id != row.centre_id):
        raise NotFound()
    as_of = datetime.fromisoformat(row.params["as_of"])
    stored = sla.clocks_for(ticket, as_of, with_segments=True)
    rules = replays.Rules(_draft(row))
    pinned = {r.target: (r.calendar_version_id, r.policy_version_id) for r in ticket.slas}
    events = list(db.session.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).scalars())
    chosen = rules.drafted(ticket.category_id, ticket.sla_policy_version_id, pinned)
    drafted = {}
    if chosen is not None:
        code, _definition, policy = chosen
        drafted = evaluate(sla.policy_for_ticket(policy, code, events), sla.facts_from(events), as_of,
                           with_segments=True)
    return ticket, stored, drafted
