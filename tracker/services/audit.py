"""The administration history: who changed which account or catalogue row, when, and how.

Every flush that inserts or changes a user, a user's role or contractor,
a centre, a category, a place, a contractor or a follow-up rule writes an ``admin_events`` row in the same transaction
(a SQLAlchemy ``after_flush`` hook), whichever code made the change: the
admin pages, the API, the command line, an import that creates centres.
The services that check an administrator (``act_as``) name the actor; a
change made without one (the command line, the demo) has none.

Left out on purpose: a user's last login, session token and interface
language (their own use, not administration), and the password hash: a new
password is recorded as changed, nothing more.
"""

from __future__ import annotations

import enum
from datetime import date

from flask_babel import gettext
from sqlalchemy import Select, event, inspect, select
from sqlalchemy.orm import Session

from tracker.clock import utcnow
from tracker.domain.i18n import N_
from tracker.domain.roles import Role
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.models import (
    AdminEvent,
    Benchmark,
    BenchmarkLink,
    Category,
    Centre,
    Contractor,
    ContractorMember,
    DisplayLink,
    FollowUpRule,
    Location,
    SlaPolicyVersion,
    SurveyTopic,
    User,
    UserRole,
)

_ACTOR_KEY = "audit_actor_id"

# Entity names, as stored, and what each is called on the page.
ENTITIES = {
    "user": N_("User"),
    "centre": N_("Service centre"),
    "category": N_("Category"),
    "location": N_("Place"),
    "policy_version": N_("Service standard"),
    "benchmark": N_("Benchmark"),
    "benchmark_link": N_("Benchmark link"),
    "survey_topic": N_("Survey topic"),
    "display_link": N_("Display link"),
    "contractor": N_("Contractor"),
    "follow_up_rule": N_("Follow-up rule"),
}
_AUDITED = {
    User: "user", Centre: "centre", Category: "category", Location: "location",
    SlaPolicyVersion: "policy_version", Benchmark: "benchmark", BenchmarkLink: "benchmark_link",
    SurveyTopic: "survey_topic", DisplayLink: "display_link",
    Contractor: "contractor", FollowUpRule: "follow_up_rule",
}
# A display link's last_seen_at is its screen's use, written every few minutes: not administration.
# A follow-up rule's updated_at/updated_by_id are the history entry's own time and actor.
_IGNORED = {
    "id", "last_login_at", "session_token", "locale", "created_at", "last_seen_at", "updated_at", "updated_by_id",
}
_SECRET = {"password_hash": "password", "token_hash": "secret"}

# Field names as the forms label them (the history shows these).
FIELD_LABELS = {
    "username": N_("User name"),
    "display_name": N_("Display name"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "is_active": N_("Active"),
    "password": N_("Password"),
    "roles": N_("Roles"),
    "code": N_("Code"),
    "name_en": N_("Name (English)"),
    "name_zh": N_("Name (Chinese)"),
    "ref_prefix": N_("Reference prefix"),
    "description": N_("Description"),
    "description_en": N_("Description (English)"),
    "description_zh": N_("Description (Chinese)"),
    "key": N_("Topic as imported"),
    "sort_order": N_("Sort order"),
    "centre_id": N_("Service centre"),
    "default_priority": N_("Default priority"),
    "sla_policy_id": N_("SLA policy"),
    "parent_id": N_("Part of"),
    "kind": N_("Kind"),
    "category_id": N_("Category"),
    "policy_id": N_("SLA policy"),
    "number": N_("Version"),
    "definition": N_("Definition"),
    "note": N_("Note"),
    "status": N_("Status"),
    "effective_from": N_("In force from"),
    "published_at": N_("Published"),
    "published_by_id": N_("Published by"),
    "created_by_id": N_("Created by"),
    "source_name": N_("Source"),
    "source_url": N_("Address"),
    "read_year": N_("Year read"),
    "country": N_("Country"),
    "service": N_("Service"),
    "service_class": N_("Class"),
    "target": N_("Target"),
    "limit_amount": N_("Limit"),
    "limit_unit": N_("Unit"),
    "calendar": N_("Calendar"),
    "share": N_("Share"),
    "priority": N_("Priority"),
    "benchmark_id": N_("Benchmark"),
    "name": N_("Name"),
    "prefix": N_("Link"),
    "secret": N_("Secret"),
    "revoked_at": N_("Revoked"),
    "revoked_by_id": N_("Revoked by"),
    "share_percent": N_("Follow-up share (%)"),
    "is_complaint": N_("Complaints (followed up in full)"),
    "contractor_id": N_("Contractor"),
}


def require_admin(actor: User | None) -> None:
    """Refuse an actor who is not an active administrator (None: a command); name them for the history."""
    if actor is not None and (not actor.is_active or not actor.has_role(Role.ADMIN)):
        raise PermissionDenied()
    act_as(actor)


def act_as(actor: User | None) -> None:
    """Name the user whose changes the current transaction records (None: nobody, e.g. a command)."""
    db.session.info[_ACTOR_KEY] = actor.id if actor is not None else None


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return gettext(label) if label else name


def entity_label(name: str) -> str:
    label = ENTITIES.get(name)
    return gettext(label) if label else name


def events(entity: str | None = None, entity_id: int | None = None) -> Select:
    """Return the query of the history, newest first, for one kind or one row."""
    query = select(AdminEvent).order_by(AdminEvent.at.desc(), AdminEvent.id.desc())
    if entity is not None:
        query = query.where(AdminEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AdminEvent.entity_id == entity_id)
    return query


def recent(entity: str, entity_id: int, limit: int = 20) -> list[AdminEvent]:
    """Return the newest entries of one row's history."""
    return list(db.session.execute(events(entity, entity_id).limit(limit)).scalars())


# ---------------------------------------------------------------- recording


def plain(value):
    """Return a column value as JSON holds it: an enum as its value, a date or time in ISO 8601."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    return value


def _column_changes(obj, created: bool) -> dict:
    state = inspect(obj)
    changes = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in _IGNORED:
            continue
        history = state.attrs[name].history
        if created:
            after = plain(getattr(obj, name))
            if name in _SECRET:
                changes[_SECRET[name]] = ["", "set"]
            elif after not in (None, ""):
                changes[name] = [None, after]
            continue
        if not history.has_changes():
            continue
        before = plain(history.deleted[0]) if history.deleted else None
        after = plain(history.added[0]) if history.added else None
        if before == after:
            continue
        if name in _SECRET:
            changes[_SECRET[name]] = ["", "changed"]
        else:
            changes[name] = [before, after]
    return changes


def _role_text(role: UserRole, centre_codes: dict[int, str]) -> str:
    """Return "technician@repairs" (the centre's code), or the role alone."""
    value = plain(role.role)
    if role.centre_id is None:
        return value
    return f"{value}@{centre_codes.get(role.centre_id, role.centre_id)}"


@event.listens_for(Session, "after_flush")
def _record(session: Session, _context) -> None:
    entries: dict[tuple[str, int], dict] = {}

    def entry(entity: str, entity_id: int, action: str) -> dict:
        return entries.setdefault((entity, entity_id), {"action": action, "changes": {}})

    for obj in session.new:
        entity = _AUDITED.get(type(obj))
        if entity is not None:
            entry(entity, obj.id, "created")["changes"].update(_column_changes(obj, created=True))
    for obj in session.dirty:
        entity = _AUDITED.get(type(obj))
        if entity is None or not session.is_modified(obj, include_collections=False):
            continue
        changes = _column_changes(obj, created=False)
        if changes:
            entry(entity, obj.id, "changed")["changes"].update(changes)
    for obj in session.deleted:
        entity = _AUDITED.get(type(obj))
        if entity is not None:
            entry(entity, obj.id, "deleted")
    # A technician's contractor is a change to the user (a technician works for one at most).
    for obj in session.new:
        if isinstance(obj, ContractorMember):
            entry("user", obj.user_id, "changed")["changes"]["contractor_id"] = [None, obj.contractor_id]
    for obj in session.dirty:
        if isinstance(obj, ContractorMember):
            history = inspect(obj).attrs["contractor_id"].history
            if history.deleted and history.added and history.deleted[0] != history.added[0]:
                change = [history.deleted[0], history.added[0]]
                entry("user", obj.user_id, "changed")["changes"]["contractor_id"] = change
    for obj in session.deleted:
        if isinstance(obj, ContractorMember):
            entry("user", obj.user_id, "changed")["changes"]["contractor_id"] = [obj.contractor_id, None]
    role_changes = [(o, "added") for o in session.new if isinstance(o, UserRole)]
    role_changes += [(o, "removed") for o in session.deleted if isinstance(o, UserRole)]
    if role_changes:
        # Through the connection: no autoflush inside a flush.
        centre_ids = {o.centre_id for o, _ in role_changes if o.centre_id is not None}
        codes = dict(session.connection().execute(
            select(Centre.id, Centre.code).where(Centre.id.in_(centre_ids))
        ).all()) if centre_ids else {}
        for obj, kind in role_changes:
            if obj.user_id is None:
                continue
            roles = entry("user", obj.user_id, "changed")["changes"].setdefault("roles", {"added": [], "removed": []})
            roles[kind].append(_role_text(obj, codes))
    for value in entries.values():
        roles = value["changes"].get("roles")
        if roles is not None:
            roles["added"].sort()
            roles["removed"].sort()
    now = utcnow()
    actor_id = session.info.get(_ACTOR_KEY)
    rows = [
        {"at": now, "actor_id": actor_id, "entity": entity, "entity_id": entity_id,
         "action": value["action"], "changes": value["changes"]}
        for (entity, entity_id), value in sorted(entries.items())
    ]
    if rows:
        session.connection().execute(AdminEvent.__table__.insert(), rows)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_actor(session: Session) -> None:
    session.info.pop(_ACTOR_KEY, None)
