"""The one idempotency guard for everything that creates: a key creates once.

Every creating form carries a one-time token (forms.OnceForm), and an API
call may send an ``Idempotency-Key`` header. Before the creating service
runs, the caller ``claim``s the key in the service's own transaction: a row
(user, key, kind) under a unique constraint. When the service commits, a
``before_commit`` hook writes what it created into that row, so the key and
its object are committed together or not at all; when the service refuses
and rolls back, the claim goes with it and the form can be sent again.

A second submission with the same key (the browser's Back and submit
again, a double click, a client retrying after a timeout) finds the row
and lands on what the first one created. Two at the same instant: the
second one's insert waits for the first's transaction (PostgreSQL's unique
index, SQLite's BEGIN IMMEDIATE) and then finds its row.

Keys live KEY_TTL (24 h); an older key is forgotten when its user next
claims one and may then create again.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.domain.i18n import N_
from tracker.errors import TrackerError
from tracker.extensions import db
from tracker.models import (
    ApiToken,
    Attachment,
    Benchmark,
    Calendar,
    Category,
    Centre,
    Contractor,
    DisplayLink,
    EventKind,
    Feedback,
    FollowUp,
    IdempotencyKey,
    ImportRun,
    Location,
    Material,
    Quote,
    RectificationItem,
    SlaPolicy,
    SlaReplay,
    StockMovement,
    SupervisionOrder,
    SurveyImport,
    Ticket,
    TicketEvent,
    User,
    Webhook,
)

KEY_TTL = timedelta(hours=24)
KEY_MAX = 100  # the width of idempotency_keys.key

# What each kind of creation makes: the model, and which of its new rows
# counts (a comment is the "commented" event among the events written).
KINDS = {
    "ticket": (Ticket, None),
    "comment": (TicketEvent, lambda event: event.kind == EventKind.COMMENTED),
    "attachment": (Attachment, None),
    "rectification_item": (RectificationItem, None),
    "rating": (Feedback, None),
    "follow_up": (FollowUp, None),
    "user": (User, None),
    "centre": (Centre, None),
    "category": (Category, None),
    "location": (Location, None),
    "calendar": (Calendar, None),
    "policy": (SlaPolicy, None),
    "webhook": (Webhook, None),
    "api_token": (ApiToken, None),
    "display_link": (DisplayLink, None),
    "replay": (SlaReplay, None),
    "supervision_order": (SupervisionOrder, None),
    "benchmark": (Benchmark, None),
    "import_run": (ImportRun, None),
    "survey_import": (SurveyImport, None),
    "material": (Material, None),
    "stock_in": (StockMovement, None),
    "quote": (Quote, None),
    "contractor": (Contractor, None),
}

_PENDING = "idempotency.pending"  # session.info: the claims of the open transaction
_CREATED = "idempotency.created"  # session.info: the rows it inserted, in order
_KEYS = IdempotencyKey.__table__
# Built once per dialect: every creating form claims its key.
_CLAIM = {
    "sqlite": sqlite_insert(_KEYS).on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(_KEYS.c.id),
    "postgresql": pg_insert(_KEYS).on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(_KEYS.c.id),
}


class KeyReused(TrackerError):
    """The key was used for another request (another body or address); nothing changed."""

    http_status = 422
    code = "idempotency_key_reused"


class KeyInvalid(TrackerError):
    http_status = 400
    code = "invalid"


@dataclass
class Earlier:
    """What a key's first use created: ``object_id`` of ``kind`` (None if it no longer says)."""

    kind: str
    object_id: int | None


@dataclass
class _Claim:
    row_id: int
    kind: str
    object_id: int | None


def fingerprint(method: str, path: str, body: object) -> str:
    """Return the sha256 of a call's method, path and (JSON) body, key order aside."""
    text = json.dumps([method.upper(), path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str) -> str:
    """Return the key stripped; raise KeyInvalid when it is empty or too long."""
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise KeyInvalid(N_("The Idempotency-Key must be 1 to %(max)d printable characters."), max=KEY_MAX)
    return key


def claim(user: User, key: str, kind: str, *, now: datetime, digest: str = "",
          object_id: int | None = None) -> Earlier | None:
    """Claim ``key`` for ``user``'s creation of ``kind`` in the open transaction; no commit.

    Returns None when the key is new: the caller then runs the creating
    service, whose commit records what it created (or ``object_id``, for a
    form that acts on a known row). Returns the Earlier creation when the
    key was used before (the caller shows it and creates nothing). Raises
    KeyReused when the earlier use had another ``digest`` or kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    session = db.session
    # A key past its lifetime is forgotten (all of this user's, while here).
    session.execute(delete(_KEYS).where(_KEYS.c.user_id == user.id, _KEYS.c.created_at < now - KEY_TTL))
    # One statement for a new key (the usual case): an insert that skips a
    # taken key. A key taken by a transaction still open waits for it (the
    # unique index); then the row it committed is read as the earlier use.
    row_id = session.execute(
        _CLAIM[session.get_bind().dialect.name],
        {"user_id": user.id, "key": key, "kind": kind, "object_id": object_id,
         "fingerprint": digest, "created_at": now},
    ).scalar_one_or_none()
    if row_id is None:
        earlier = _earlier(user.id, key, kind, digest)
        if earlier is None:  # taken and given up since: the other transaction rolled back
            raise IntegrityError("claim", {"key": key}, Exception("idempotency key busy"))
        return earlier
    session.info.setdefault(_PENDING, []).append(_Claim(row_id, kind, object_id))
    session.info.setdefault(_CREATED, [])
    return None


def _earlier(user_id: int, key: str, kind: str, digest: str) -> Earlier | None:
    row = db.session.execute(
        select(_KEYS.c.kind, _KEYS.c.object_id, _KEYS.c.fingerprint)
        .where(and_(_KEYS.c.user_id == user_id, _KEYS.c.key == key))
    ).first()
    if row is None:
        return None
    if row.kind != kind or row.fingerprint != digest:
        raise KeyReused(N_("This Idempotency-Key was already used for another request; "
                           "send a new key for a new request."))
    return Earlier(kind=row.kind, object_id=row.object_id)


def note_created(row) -> None:
    """Count ``row`` as inserted in the open transaction (for rows written by Core, not by a flush)."""
    created = db.session.info.get(_CREATED)
    if created is not None:
        created.append(row)


def _matches(kind: str, row) -> bool:
    model, test = KINDS[kind]
    return isinstance(row, model) and (test is None or test(row))


@event.listens_for(Session, "after_flush")
def _collect(session, _context):
    created = session.info.get(_CREATED)
    if created is not None:
        created.extend(session.new)


@event.listens_for(Session, "before_commit")
def _record(session):
    claims = session.info.get(_PENDING)
    if not claims or session.in_nested_transaction():
        return  # a savepoint's release (next_reference's) is not the creation's commit
    session.flush()
    created = session.info.get(_CREATED, [])
    for claim in claims:
        object_id = claim.object_id
        if object_id is None:
            object_id = next((row.id for row in created if _matches(claim.kind, row)), None)
        if object_id is None:
            # Nothing was created after all: the key stays free for another try.
            session.execute(delete(_KEYS).where(_KEYS.c.id == claim.row_id))
        else:
            session.execute(update(_KEYS).where(_KEYS.c.id == claim.row_id).values(object_id=object_id))
    claims.clear()


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction):
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_CREATED, None)
