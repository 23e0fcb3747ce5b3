"""A draft to replay: policy definitions by policy code or category, and calendars of its own.

The format (docs/standards.md)::

    {"name": "Repairs: arrival within 2 h",          # optional
     "policies": {"repairs": {<policy definition>}},  # by policy code
     "categories": {"repairs/plumbing": {<policy definition>}},  # by centre/category code
     "calendars": {"office-2027": {<calendar definition>}}}

A policy definition is SlaPolicyVersion.definition's format; each target may
carry ``"share": 0.95``, the promised share. A target's calendar code names a
calendar of the draft, else a stored one. The draft is checked with the
same rules as a saved policy (``sla_config.validate_policy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from tracker.domain.calendar import BusinessCalendar
from tracker.domain.i18n import N_
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.models import Category, Centre, SlaPolicy
from tracker.services.sla import config as sla_config

_FIELDS = ("name", "policies", "categories", "calendars")


@dataclass(frozen=True)
class Draft:
    """A checked draft. Empty (``Draft()``): the published versions themselves."""

    policies: dict[str, dict] = field(default_factory=dict)  # policy code -> normalised definition
    categories: dict[int, dict] = field(default_factory=dict)  # category id -> normalised definition
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)  # code -> calendar
    document: dict = field(default_factory=dict)  # the normalised draft as given (saved with a replay)

    @property
    def is_current(self) -> bool:
        return not (self.policies or self.categories or self.calendars)


def _shaped(definition, where: str) -> dict:
    """Refuse a definition whose parts are not the mappings validate_policy reads."""
    mapping = (dict,)
    ok = isinstance(definition, mapping) and isinstance(definition.get("targets") or {}, mapping) \
        and isinstance(definition.get("pauses") or {}, mapping) \
        and isinstance(definition.get("escalation") or {}, mapping) \
        and all(isinstance(rule, mapping) and isinstance(rule.get("minutes") or {}, mapping)
                for rule in (definition.get("targets") or {}).values()) \
        and all(isinstance(rule, mapping) and isinstance(rule.get("targets") or [], list)
                for rule in (definition.get("pauses") or {}).values())
    if not ok:
        raise ValidationFailed(N_("The draft is not valid: %(where)s is not a policy definition."), where=where)
    return definition


def parse_draft(data) -> Draft:
    """Return the checked Draft of a draft document; ValidationFailed naming what is wrong."""
    if not isinstance(data, dict):
        raise ValidationFailed(N_("The draft is not valid: expected an object with policies, categories or calendars."))
    for key in data:
        if key not in _FIELDS:
            raise ValidationFailed(N_("The draft is not valid: unknown field %(field)s."), field=str(key))
    for key in ("policies", "categories", "calendars"):
        if not isinstance(data.get(key) or {}, dict):
            raise ValidationFailed(N_("The draft is not valid: %(field)s is not an object."), field=key)
    calendars: dict[str, BusinessCalendar] = {}
    calendar_documents = {}
    for code, definition in (data.get("calendars") or {}).items():
        normalised = sla_config.validate_calendar(definition)
        calendars[str(code)] = BusinessCalendar.from_dict(normalised)
        calendar_documents[str(code)] = normalised
    known_policies = set(db.session.execute(select(SlaPolicy.code)).scalars())
    policies = {}
    for code, definition in (data.get("policies") or {}).items():
        if code not in known_policies:
            raise ValidationFailed(N_("The draft names an unknown policy %(code)s."), code=str(code))
        policies[code] = sla_config.validate_policy(_shaped(definition, code), calendars=calendars)
    categories_by_code = {
        f"{centre}/{category}": category_id
        for category_id, centre, category in db.session.execute(
            select(Category.id, Centre.code, Category.code).join(Centre, Centre.id == Category.centre_id)
        )
    }
    categories = {}
    category_documents = {}
    for code, definition in (data.get("categories") or {}).items():
        category_id = categories_by_code.get(code)
        if category_id is None:
            raise ValidationFailed(N_("The draft names an unknown category %(code)s (write centre/category)."),
                                   code=str(code))
        categories[category_id] = category_documents[code] = sla_config.validate_policy(
            _shaped(definition, code), calendars=calendars)
    if not (policies or categories or calendars):
        raise ValidationFailed(N_("The draft changes nothing: give policies, categories or calendars."))
    document = {"policies": policies, "categories": category_documents, "calendars": calendar_documents}
    if data.get("name"):
        document["name"] = str(data["name"])[:200]
    return Draft(policies=policies, categories=categories, calendars=calendars, document=document)
