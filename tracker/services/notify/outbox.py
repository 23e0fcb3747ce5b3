"""The notification outbox: queue notices with a change, deliver them once.

Queuing writes rows in the caller's transaction (so a notice exists exactly
when its cause does) and asks for a delivery task after the commit.
Delivery claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the work), sends each on its channel and marks it
sent, or schedules a retry with exponential backoff and records the error.
A unique idempotency key per notice makes any second write of it a no-op.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, cast, func, null, or_, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    User,
    UserRole,
    Webhook,
)
from tracker.queueing import publish_after_commit

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- kinds

# What a user can choose to receive, and the default per channel.
KINDS = {
    # To the centre's dispatchers: a request came in (the API and the page alike).
    "ticket_filed": {Channel.IN_APP: True, Channel.EMAIL: False},
    "ticket_assigned": {Channel.IN_APP: True, Channel.EMAIL: True},
    "ticket_resolved": {Channel.IN_APP: True, Channel.EMAIL: True},
    "ticket_reopened": {Channel.IN_APP: True, Channel.EMAIL: True},
    # To the centre's dispatchers: a technician declined, the request waits again.
    "ticket_declined": {Channel.IN_APP: True, Channel.EMAIL: True},
    "ticket_commented": {Channel.IN_APP: True, Channel.EMAIL: False},
    "ticket_status": {Channel.IN_APP: True, Channel.EMAIL: False},
    "sla_at_risk": {Channel.IN_APP: True, Channel.EMAIL: True},
    "sla_breached": {Channel.IN_APP: True, Channel.EMAIL: True},
    "sla_escalated": {Channel.IN_APP: True, Channel.EMAIL: True},
    # To leadership, once a week: the report for the weekly work meeting.
    "weekly_report": {Channel.IN_APP: True, Channel.EMAIL: True},
    # Rectification items: to their responsible person, centre heads and leadership.
    "rectification_assigned": {Channel.IN_APP: True, Channel.EMAIL: True},
    "rectification_submitted": {Channel.IN_APP: True, Channel.EMAIL: True},
    "rectification_rejected": {Channel.IN_APP: True, Channel.EMAIL: True},
    "rectification_verified": {Channel.IN_APP: True, Channel.EMAIL: False},
    "rectification_at_risk": {Channel.IN_APP: True, Channel.EMAIL: True},
    "rectification_overdue": {Channel.IN_APP: True, Channel.EMAIL: True},
    # Supervision orders: to the responsible person (issued, overdue) and the issuer (answered, overdue).
    "supervision_issued": {Channel.IN_APP: True, Channel.EMAIL: True},
    "supervision_answered": {Channel.IN_APP: True, Channel.EMAIL: True},
    "supervision_overdue": {Channel.IN_APP: True, Channel.EMAIL: True},
    # To a centre's heads: a low rating to visit, or the week's sample to call.
    "follow_up_due": {Channel.IN_APP: True, Channel.EMAIL: True},
    # Materials and paid repairs (services/materials): to a centre's heads, a
    # material at its low-stock threshold; to a requester, a quote to answer;
    # to the technician, the answer.
    "material_low_stock": {Channel.IN_APP: True, Channel.EMAIL: True},
    "quote_sent": {Channel.IN_APP: True, Channel.EMAIL: True},
    "quote_answered": {Channel.IN_APP: True, Channel.EMAIL: False},
}
USER_CHANNELS = (Channel.IN_APP, Channel.EMAIL)

KIND_LABELS = {
    "ticket_filed": N_("New request in your centre"),
    "ticket_assigned": N_("Request assigned"),
    "ticket_resolved": N_("Request resolved"),
    "ticket_reopened": N_("Request reopened"),
    "ticket_declined": N_("Request declined by a technician"),
    "ticket_commented": N_("New comment on a request"),
    "ticket_status": N_("Other changes to a request"),
    "sla_at_risk": N_("Deadline at risk"),
    "sla_breached": N_("Deadline passed"),
    "sla_escalated": N_("Late request escalated to leadership"),
    "weekly_report": N_("Weekly report ready"),
    "rectification_assigned": N_("Rectification item given to you"),
    "rectification_submitted": N_("Rectification item awaiting verification"),
    "rectification_rejected": N_("Rectification item rejected"),
    "rectification_verified": N_("Rectification item verified"),
    "rectification_at_risk": N_("Rectification deadline at risk"),
    "rectification_overdue": N_("Rectification item overdue"),
    "follow_up_due": N_("Follow-up to make"),
    "material_low_stock": N_("Material running low"),
    "quote_sent": N_("Quote for your request to answer"),
    "quote_answered": N_("Quote accepted or declined"),
    "supervision_issued": N_("Supervision order for you"),
    "supervision_answered": N_("Supervision order answered"),
    "supervision_overdue": N_("Supervision order overdue"),
}
assert set(KIND_LABELS) == set(KINDS)

# Not a user's choice: an administrator's test of a webhook.
TEST_KIND = "webhook_test"
# Every kind a notice can have, for lists of notices.
ALL_KIND_LABELS = KIND_LABELS | {TEST_KIND: N_("Webhook test message")}

CHANNEL_LABELS = {
    Channel.IN_APP: N_("In the application"),
    Channel.EMAIL: N_("E-mail"),
    Channel.WEBHOOK: N_("Webhook"),
}

STATUS_LABELS = {
    DeliveryStatus.PENDING: N_("Pending"),
    DeliveryStatus.SENDING: N_("Sending"),
    DeliveryStatus.SENT: N_("Sent"),
    DeliveryStatus.FAILED: N_("Failed"),
}


def preferences(user_ids: Iterable[int]) -> dict[tuple[int, str, Channel], bool]:
    """Return the stored choices of these users, keyed by (user, kind, channel)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(NotificationPreference).where(NotificationPreference.user_id.in_(ids))
    ).scalars()
    return {(r.user_id, r.kind, r.channel): r.is_enabled for r in rows}


def wants(choices: dict, user_id: int, kind: str, channel: Channel) -> bool:
    return choices.get((user_id, kind, channel), KINDS.get(kind, {}).get(channel, False))


def choices_for(user: User) -> dict[tuple[str, Channel], bool]:
    """Return what the user receives per (kind, channel): their choice, else the default."""
    choices = preferences([user.id])
    return {(kind, channel): wants(choices, user.id, kind, channel) for kind in KINDS for channel in USER_CHANNELS}


def set_preferences(user: User, chosen: dict[tuple[str, Channel], bool]) -> None:
    """Store a user's choices (kind, channel) -> enabled; commit."""
    existing = {
        (r.kind, r.channel): r
        for r in db.session.execute(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        ).scalars()
    }
    for (kind, channel), enabled in chosen.items():
        if kind not in KINDS or channel not in USER_CHANNELS:
            continue
        row = existing.get((kind, channel))
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, channel=channel, is_enabled=enabled))
        else:
            row.is_enabled = enabled
    db.session.commit()


# ---------------------------------------------------------------- recipients


def users_with_role(role: Role, centre_id: int | None = None) -> list[int]:
    """Return the active users holding ``role`` (in ``centre_id`` for centre roles)."""
    query = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.is_active.is_(True))
    )
    if centre_id is not None:
        query = query.where(UserRole.centre_id == centre_id)
    return sorted(set(db.session.execute(query).scalars()))


@dataclass(frozen=True)
class People:
    """Users with what ``queue`` needs to know of them for some kinds of notice."""

    kinds: frozenset[str]
    by_role: dict[Role, list[int]]  # sorted ids, as users_with_role gives them
    choices: dict[tuple[int, str, Channel], bool]  # their stored choices for ``kinds``
    locales: dict[int, str | None]
    # The centre's active webhooks (its own and the site-wide ones) with their kinds, read with them.
    centre_id: int | None = None
    webhooks: list[tuple[int, list[str] | None]] | None = None


# What centre_people reads of each person: id, language, role, and a choice (kind, channel, on) or NULLs.
_PERSON = (User.id, User.locale, UserRole.role, NotificationPreference.kind, NotificationPreference.channel,
           NotificationPreference.is_enabled)


def _people_query(roles, kinds, centre_id):
    """Return the select of ``_PERSON`` for the active holders of a role among ``roles`` in ``centre_id``.

    With their choices of a kind among ``kinds`` (an outer join: NULLs
    without). ``roles`` and ``kinds`` are the conditions on ``UserRole.role``
    and ``NotificationPreference.kind``, ``centre_id`` a SQL expression.
    """
    return (
        select(*_PERSON)
        .join(UserRole, UserRole.user_id == User.id)
        .outerjoin(NotificationPreference, and_(NotificationPreference.user_id == User.id, kinds))
        .where(roles, UserRole.centre_id == centre_id, User.is_active.is_(True))
    )


# Built once (filing is the hot path).
_CENTRE_PEOPLE = _people_query(UserRole.role.in_(bindparam("roles", expanding=True)),
                               NotificationPreference.kind.in_(bindparam("kinds", expanding=True)),
                               bindparam("centre_id"))


_HOOKS = Webhook.__table__.c
# Core, built once: queuing needs the ids only, and every filing asks.
_ACTIVE_WEBHOOKS = select(_HOOKS.id, _HOOKS.kinds).where(
    _HOOKS.is_active.is_(True), or_(_HOOKS.centre_id.is_(None), _HOOKS.centre_id == bindparam("centre_id"))
)
# The people and, in rows with no role, the centre's webhooks: one statement (issue 20).
_CENTRE_PEOPLE_AND_HOOKS = union_all(
    _CENTRE_PEOPLE.add_columns(cast(null(), Webhook.kinds.type).label("hook_kinds")),
    _ACTIVE_WEBHOOKS.with_only_columns(_HOOKS.id, null(), null(), null(), null(), null(), _HOOKS.kinds),
)


def centre_people(centre_id: int, roles: Sequence[Role], kind: str, *more_kinds: str) -> People:
    """Return the active holders of ``roles`` in a centre with their choices for ``kind`` (and ``more_kinds``) and languages.

    One statement instead of users_with_role, preferences and the languages
    read one after the other (filing a ticket: docs/api.md, "Intake speed";
    a filing dispatched automatically tells the dispatchers and the
    technician with it: docs/workers.md, "Automatic dispatch burst"). The
    centre's webhooks come in the same statement (``People.webhooks``):
    ``queue`` does not read them again for the centre's notices.
    """
    kinds = frozenset((kind, *more_kinds))
    rows = db.session.execute(
        _CENTRE_PEOPLE_AND_HOOKS,
        {"kinds": sorted(kinds), "roles": [Role(r).value for r in roles], "centre_id": centre_id},
    ).all()
    return _people_of(rows, centre_id, roles, kinds)


# Filing, on PostgreSQL: the people ``centre_people(centre, FILING_ROLES,
# "ticket_filed")`` reads and the centre's webhooks, as two JSON columns of
# the filing's catalogue statement (services.requests.tickets; issue 20).
FILING_ROLES = (Role.DISPATCHER, Role.CENTRE_HEAD)
FILING_KIND = "ticket_filed"


def filing_people_columns(centre_id) -> tuple:
    """Return the two JSON columns that read a filing's people and webhooks for the centre ``centre_id`` (a SQL expression).

    ``filing_people`` turns their values into what ``centre_people`` returns:
    the same query (``_people_query``), its rows gathered as JSON.
    """
    # Not IN (…): an expanding list makes SQLAlchemy render the statement anew at every execution.
    people = (
        _people_query(or_(*(UserRole.role == role.value for role in FILING_ROLES)),
                      NotificationPreference.kind == FILING_KIND, centre_id)
        .with_only_columns(func.json_agg(func.json_build_array(*_PERSON)), maintain_column_froms=False)
        .scalar_subquery()
    )
    hooks = (
        select(func.json_agg(func.json_build_array(_HOOKS.id, _HOOKS.kinds)))
        .where(_HOOKS.is_active.is_(True), or_(_HOOKS.centre_id.is_(None), _HOOKS.centre_id == centre_id))
        .scalar_subquery()
    )
    return people, hooks


def filing_people(centre_id: int, people: list | None, hooks: list | None) -> People:
    """Return ``centre_people(centre_id, FILING_ROLES, FILING_KIND)`` from the values of ``filing_people_columns``."""
    rows = [(*row, None) for row in people or ()]
    rows += [(hook_id, None, None, None, None, None, kinds) for hook_id, kinds in hooks or ()]
    return _people_of(rows, centre_id, FILING_ROLES, frozenset((FILING_KIND,)))


def _people_of(rows, centre_id: int, roles: Sequence[Role], kinds: frozenset[str]) -> People:
    """Return the People of ``centre_people``'s rows: (user, locale, role, kind, channel, enabled, None) or a webhook's (id, None ×5, kinds)."""
    holders: dict[Role, set[int]] = {role: set() for role in roles}
    choices, locales, hooks = {}, {}, []
    for user_id, locale, role, chosen_kind, channel, is_enabled, hook_kinds in rows:
        if role is None:  # a webhook
            hooks.append((user_id, hook_kinds))
            continue
        holders[Role(role)].add(user_id)
        locales[user_id] = locale
        if channel is not None:
            choices[(user_id, chosen_kind, Channel(channel))] = is_enabled
    return People(kinds, {role: sorted(ids) for role, ids in holders.items()}, choices, locales,
                  centre_id, sorted(hooks))


def webhook_ids(kind: str, centre_id: int | None) -> list[int]:
    """Return the active webhooks for ``kind`` notices of a centre (its own and the site-wide ones)."""
    return _hooks_for(kind, _centre_webhooks(centre_id))


def _centre_webhooks(centre_id: int | None) -> list[tuple[int, list[str] | None]]:
    """Return the active webhooks of a centre (its own and the site-wide ones) with their kinds."""
    return [tuple(row) for row in db.session.execute(_ACTIVE_WEBHOOKS, {"centre_id": centre_id}).all()]


def _hooks_for(kind: str, hooks: list[tuple[int, list[str] | None]]) -> list[int]:
    return [hook_id for hook_id, kinds in hooks if kind in (kinds or [])]


# ---------------------------------------------------------------- queuing


@dataclass
class Notice:
    """What to tell, before it is fanned out to recipients and channels."""

    kind: str
    key: str  # unique per cause, e.g. "sla:123:response:2"
    subject: str  # an English summary for admin lists; messages are rendered per locale
    payload: dict = field(default_factory=dict)
    ticket_id: int | None = None
    centre_id: int | None = None
    escalation_id: int | None = None
    link: str = ""
    not_before: datetime | None = None


_INSERT_NEW_NOTICES = (
    pg_insert(Notification.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(Notification.__table__.c.id)
)
# A change notifies a handful of people: on PostgreSQL one INSERT for them
# costs less than bulk's temporary table and COPY (four statements), which
# pays off for a sweep's thousands of rows.
FEW_ROWS = 20


def _insert_ignoring_duplicates(rows: list[dict]) -> list[int]:
    """Insert notification rows; a row whose idempotency key exists is skipped. Return new ids."""
    from tracker.services import bulk

    if not rows:
        return []
    if len(rows) <= FEW_ROWS and db.session.get_bind().dialect.name == "postgresql":
        # Given all the rows, SQLAlchemy sends one multi-row INSERT (insertmanyvalues).
        return list(db.session.execute(_INSERT_NEW_NOTICES, rows).scalars())
    inserted = bulk.insert_ignoring_conflicts(
        Notification.__table__, rows, conflict=["idempotency_key"], returning=["id"]
    )
    return [row[0] for row in inserted]


_suppressed: ContextVar[bool] = ContextVar("outbox_suppressed", default=False)


@contextmanager
def suppressed():
    """Within the block, queue no notices (replaying history: demo data, imports)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def is_suppressed() -> bool:
    """Return whether notices are suppressed here (``suppressed``): nobody need be looked up for them."""
    return _suppressed.get()


def queue(notices: Sequence[Notice], recipients: dict[str, list[int]], *, now: datetime,
          people: People | None = None) -> list[int]:
    """Write the rows for ``notices`` to their recipients (no commit); return new row ids.

    ``recipients`` maps a notice's key to user ids. Each user gets the
    channels they chose; matching webhooks get one row per notice. In-app
    notices are delivered by being written: they are stored as sent.
    ``people`` (centre_people) saves reading the recipients' choices and
    languages again when it covers them all and the notices' kinds.
    """
    if _suppressed.get():
        return []
    rows = notice_rows(notices, recipients, now=now, people=people)
    ids = _insert_ignoring_duplicates(rows)
    publish_inserted(rows, ids)
    return ids


def notice_rows(notices: Sequence[Notice], recipients: dict[str, list[int]], *, now: datetime,
                people: People | None = None) -> list[dict]:
    """Return the outbox rows ``queue`` writes for ``notices`` (their columns by name), writing nothing.

    For a caller that writes them with other rows in one statement (filing
    on PostgreSQL: services.requests.tickets), then calls ``publish_inserted``.
    """
    users = {uid for ids in recipients.values() for uid in ids}
    if people is not None and all(n.kind in people.kinds for n in notices) and users <= people.locales.keys():
        choices, locales = people.choices, people.locales
    else:
        choices = preferences(users)
        locales = (
            dict(db.session.execute(select(User.id, User.locale).where(User.id.in_(users))).all()) if users else {}
        )
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    # One read per centre, whatever the kinds (a dispatched filing queues two).
    webhook_cache: dict[int | None, list[tuple[int, list[str] | None]]] = {}
    if people is not None and people.webhooks is not None:
        webhook_cache[people.centre_id] = people.webhooks
    rows = []
    for notice in notices:
        base = {
            "kind": notice.kind,
            "ticket_id": notice.ticket_id,
            "escalation_id": notice.escalation_id,
            "subject": notice.subject[:300],
            "body": "",
            "link": notice.link,
            "payload": notice.payload,
            "attempts": 0,
            "created_at": now,
            "last_error": "",
        }
        for user_id in recipients.get(notice.key, []):
            for channel in USER_CHANNELS:
                if not wants(choices, user_id, notice.kind, channel):
                    continue
                in_app = channel is Channel.IN_APP
                rows.append(
                    base
                    | {
                        "idempotency_key": f"{notice.key}:{channel.value}:u{user_id}",
                        "channel": channel.value,
                        "user_id": user_id,
                        "webhook_id": None,
                        "locale": locales.get(user_id) or default_locale,
                        "status": (DeliveryStatus.SENT if in_app else DeliveryStatus.PENDING).value,
                        "sent_at": now if in_app else None,
                        "next_attempt_at": now if in_app else (notice.not_before or now),
                    }
                )
        if notice.centre_id not in webhook_cache:
            webhook_cache[notice.centre_id] = _centre_webhooks(notice.centre_id)
        for hook_id in _hooks_for(notice.kind, webhook_cache[notice.centre_id]):
            rows.append(
                base
                | {
                    "idempotency_key": f"{notice.key}:webhook:w{hook_id}",
                    "channel": Channel.WEBHOOK.value,
                    "user_id": None,
                    "webhook_id": hook_id,
                    "locale": default_locale,
                    "status": DeliveryStatus.PENDING.value,
                    "sent_at": None,
                    "next_attempt_at": notice.not_before or now,
                }
            )
    return rows


def publish_inserted(rows: list[dict], ids: list[int]) -> None:
    """Have the rows just inserted (``ids``, of ``rows``) delivered once the transaction commits."""
    if any(row["channel"] != Channel.IN_APP.value for row in rows):
        # RETURNING gives the inserted ids only, in no promised order: the
        # worker looks at all of them and skips what is not due or in-app.
        for start in range(0, len(ids), 500):
            publish_after_commit("notifications.deliver", ids[start : start + 500])


# ---------------------------------------------------------------- in-app


# Written as literals, the same text as the partial indexes' predicates:
# PostgreSQL's generic plans and SQLite use a partial index only then.
IN_APP = text("notifications.channel = 'in_app'")
UNREAD = text("notifications.channel = 'in_app' AND notifications.read_at IS NULL")
STILL_DUE = text("notifications.status IN ('pending', 'sending')")


def unread_count(user: User) -> int:
    return db.session.execute(
        select(func.count()).select_from(Notification).where(Notification.user_id == user.id, UNREAD)
    ).scalar_one()


def inbox(user: User, limit: int = 100) -> list[Notification]:
    return list(
        db.session.execute(
            select(Notification)
            .where(Notification.user_id == user.id, IN_APP)
            .order_by(Notification.id.desc())
            .limit(limit)
        ).scalars()
    )


def open_notice(user: User, notification_id: int, *, now: datetime) -> Notification:
    """Mark one of the user's in-app notices read (if unread); commit; return it.

    Raises NotFound when the notice is not this user's in-app notice, so
    nobody learns whether another user's notice exists.
    """
    notification = db.session.execute(
        select(Notification).where(
            Notification.id == notification_id,
            Notification.user_id == user.id,
            Notification.channel == Channel.IN_APP,
        )
    ).scalar_one_or_none()
    if notification is None:
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = now
    db.session.commit()
    return notification


def mark_read(user: User, *, now: datetime, notification_id: int | None = None) -> int:
    """Mark one (or all) of the user's in-app notices read; commit; return how many."""
    statement = update(Notification).where(Notification.user_id == user.id, UNREAD)
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    count = db.session.execute(statement.values(read_at=now)).rowcount
    db.session.commit()
    return count


def mark_acted(user: User | None, *, now: datetime, ticket_id: int | None = None,
               escalation_id: int | None = None, link: str | None = None) -> int:
    """Mark ``user``'s unread notices about a subject read: they acted on it (no commit); return how many.

    The one place where acting marks notices read, called by the services
    that change a subject in the same transaction as the change. A notice
    names its subject by ``ticket_id``, ``escalation_id`` or, for anything
    else (a rectification item), ``link``, the subject's page; give exactly
    one. None as ``user`` (the application) marks nothing.
    """
    given = [(column, value) for column, value in ((Notification.ticket_id, ticket_id),
                                                   (Notification.escalation_id, escalation_id),
                                                   (Notification.link, link)) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of ticket_id, escalation_id, link")
    if user is None:
        return 0
    column, value = given[0]
    statement = update(Notification).where(Notification.user_id == user.id, UNREAD, column == value)
    return db.session.execute(statement.values(read_at=now).execution_options(synchronize_session=False)).rowcount


# ---------------------------------------------------------------- delivery

# A claimed batch waits its turn OUTBOX_CLAIM_SECONDS (120 s) before another
# worker may take it; each notice's claim is renewed to as long again just
# before it is sent, far more than one send takes (WEBHOOK_TIMEOUT_SECONDS,
# 15 s per SMTP step).
BACKOFF_MAX_SECONDS = 6 * 3600
CUT_OFF = "the worker stopped while sending it: it may have arrived; retry it if it did not"


@dataclass
class DeliveryResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # claimed, then taken by another worker before its turn

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def _claim_length() -> timedelta:
    return timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])


def _due_condition(now: datetime):
    # Pending and due, or claimed by a worker that died (its claim expired).
    return and_(STILL_DUE, or_(
        and_(Notification.status == DeliveryStatus.PENDING, Notification.next_attempt_at <= now),
        and_(Notification.status == DeliveryStatus.SENDING, Notification.claimed_until < now),
    ))


def claim(now: datetime, *, ids: Sequence[int] | None = None, limit: int = 50) -> dict[int, int]:
    """Claim up to ``limit`` due notices for this worker; commit; return their ids with their attempts.

    Each claim adds an attempt: ``attempts`` then names the claim, and a
    worker whose claim expired and was taken over (the count moved on)
    can neither renew it nor send.
    """
    query = (
        select(Notification.id, Notification.attempts)
        .where(_due_condition(now), Notification.channel != Channel.IN_APP)
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    claimed = {notification_id: attempts + 1 for notification_id, attempts in db.session.execute(query).all()}
    if claimed:
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(list(claimed)))
            .values(
                status=DeliveryStatus.SENDING,
                claimed_until=now + _claim_length(),
                attempts=Notification.attempts + 1,
            )
        )
    db.session.commit()
    return claimed


def _start_sending(notification_id: int, attempts: int, now: datetime) -> bool:
    """Renew this worker's claim and record that the send starts; commit; return whether the claim was ours."""
    renewed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == DeliveryStatus.SENDING,
               Notification.attempts == attempts)
        .values(claimed_until=now + _claim_length(), send_started_at=now)
    ).rowcount
    db.session.commit()
    return renewed == 1


def backoff(attempts: int) -> timedelta:
    """Return the wait before attempt ``attempts + 1``: doubling, at most 6 h, with jitter.

    The first wait is OUTBOX_BACKOFF_SECONDS (30 s unless configured).
    """
    base = current_app.config["OUTBOX_BACKOFF_SECONDS"]
    seconds = min(base * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def deliver(now_fn, *, ids: Sequence[int] | None = None, limit: int = 200) -> DeliveryResult:
    """Deliver due notices (only ``ids`` when given) until none is left or ``limit`` is reached.

    ``now_fn`` gives the current instant (deliveries take time). Each notice
    is marked sent (or rescheduled) in its own transaction right after its
    attempt, so a worker that dies loses at most the notice in hand, which
    its expired claim makes due again. Before the send its claim is renewed
    and ``send_started_at`` committed: a notice found claimed, expired and
    started was cut off mid-send. It is sent again where the far end can
    recognise a repeat (e-mail's Message-ID, the generic webhook's
    Idempotency-Key) and failed, for an administrator to retry, where it
    cannot (group robots): docs/workers.md, "Delivery guarantees".
    """
    from tracker.services.notify import channels

    result = DeliveryResult()
    max_attempts = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    while result.claimed < limit:
        claimed = claim(now_fn(), ids=ids, limit=min(50, limit - result.claimed))
        if not claimed:
            break
        for notification_id, attempts in claimed.items():
            notification = db.session.get(Notification, notification_id)
            if notification.attempts != attempts or notification.status is not DeliveryStatus.SENDING:
                result.skipped += 1  # our claim expired before its turn and another worker took it
                db.session.commit()
                continue
            if notification.send_started_at is not None and not channels.repeats_are_recognised(notification):
                notification.status = DeliveryStatus.FAILED
                notification.last_error = CUT_OFF
                notification.claimed_until = notification.send_started_at = None
                result.failed += 1
                log.error("notification %s was cut off mid-send; not sent again: %s", notification.id, CUT_OFF)
                db.session.commit()
                continue
            if notification.send_started_at is not None:
                log.warning("notification %s was cut off mid-send; sending it again", notification.id)
            if not _start_sending(notification_id, attempts, now_fn()):
                result.skipped += 1
                continue
            try:
                transmit = channels.prepare(notification)
                db.session.commit()  # nothing held while the far end answers (SQLite: the write lock)
                transmit()
            except Exception as error:  # any failure of the far end is retried
                attempts = notification.attempts
                notification.last_error = f"{type(error).__name__}: {error}"[:2000]
                notification.claimed_until = notification.send_started_at = None
                if attempts >= max_attempts or isinstance(error, channels.PermanentFailure):
                    notification.status = DeliveryStatus.FAILED
                    result.failed += 1
                    log.error("notification %s failed for good after %d attempts: %s",
                              notification.id, attempts, notification.last_error)
                else:
                    notification.status = DeliveryStatus.PENDING
                    notification.next_attempt_at = now_fn() + backoff(attempts)
                    result.retried += 1
                    log.warning("notification %s attempt %d failed: %s", notification.id, attempts,
                                notification.last_error)
            else:
                notification.status = DeliveryStatus.SENT
                notification.sent_at = now_fn()
                notification.claimed_until = notification.send_started_at = None
                notification.last_error = ""  # earlier failures no longer matter
                result.sent += 1
            db.session.commit()
    return result


def retry_now(notification_id: int, *, now: datetime) -> bool:
    """Put a failed notice back in the queue (admins); commit; return whether it was failed."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.status is not DeliveryStatus.FAILED:
        return False
    notification.status = DeliveryStatus.PENDING
    notification.next_attempt_at = now
    notification.attempts = 0
    notification.claimed_until = notification.send_started_at = None
    # Registered before the commit: a publish asked for after it would wait
    # for the session's next commit, which may never come.
    publish_after_commit("notifications.deliver", [notification_id])
    db.session.commit()
    return True


def state_counts() -> dict[str, int]:
    """Return how many notices are in each delivery state (operations)."""
    return {
        str(status): count
        for status, count in db.session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    }


STUCK_GRACE = timedelta(minutes=5)


def stuck_count(now: datetime, *, grace: timedelta = STUCK_GRACE) -> int:
    """Return how many notices are overdue by more than ``grace``: due but nobody delivers them.

    A notice queued a moment ago is due at once and normally gone within
    seconds; one still waiting minutes later means no worker is running or
    the broker lost its task (operations).
    """
    return db.session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.channel != Channel.IN_APP, _due_condition(now - grace))
    ).scalar_one()


def failed_notices(limit: int = 100) -> list[Notification]:
    """Return the notices that failed for good, newest first, with recipient and webhook loaded."""
    return list(
        db.session.execute(
            select(Notification)
            .where(Notification.status == DeliveryStatus.FAILED)
            .options(joinedload(Notification.user), joinedload(Notification.webhook))
            .order_by(Notification.id.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass
class Overview:
    counts: dict[DeliveryStatus, int]  # every state, zero included
    stuck: int  # see stuck_count
    failed: list[Notification]  # the latest failures, newest first


def overview(now: datetime, *, failed_limit: int = 100) -> Overview:
    """Return the outbox at a glance for operations: states, stuck notices, latest failures."""
    counts = state_counts()
    return Overview(
        counts={status: counts.get(status.value, 0) for status in DeliveryStatus},
        stuck=stuck_count(now),
        failed=failed_notices(limit=failed_limit),
    )


def queue_test(webhook_id: int, *, actor: User | None, now: datetime) -> Notification:
    """Queue one test message to a webhook; commit; return its notice.

    Each call writes a new notice (its key is unique), delivered like any
    other. Raises NotFound, PermissionDenied (not an administrator) and
    ValidationFailed when the webhook is switched off.
    """
    if actor is not None and (not actor.is_active or not actor.has_role(Role.ADMIN)):
        raise PermissionDenied()
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(N_("No such webhook."))
    if not hook.is_active:
        raise ValidationFailed(N_("The webhook is switched off: switch it on before sending a test message."))
    notification = Notification(
        idempotency_key=f"{TEST_KIND}:w{hook.id}:{uuid.uuid4().hex}",
        kind=TEST_KIND,
        channel=Channel.WEBHOOK,
        user_id=None,
        webhook_id=hook.id,
        subject=f"test message to webhook {hook.name}"[:300],
        body="",
        link="",
        payload={"name": hook.name, "actor": actor.display_name if actor is not None else ""},
        locale=current_app.config["BABEL_DEFAULT_LOCALE"],
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        last_error="",
    )
    db.session.add(notification)
    db.session.flush()
    publish_after_commit("notifications.deliver", [notification.id])
    db.session.commit()
    return notification
