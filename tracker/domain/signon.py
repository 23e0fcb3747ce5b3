"""Sign-on: a directory's attributes turned into a profile and roles (pure).

CAS, OpenID Connect and LDAP all hand over a user name and a bag of
attributes, each a list of strings. This module reads the bag the same way
for all three: which attribute holds the name, the staff or student
number, the e-mail and the phone, and which attribute values give which
role (``TRACKER_SIGNON_ROLES``).
"""

from dataclasses import dataclass, field

from tracker.domain.roles import CENTRE_ROLES, Role

# Where each field is looked for, first match wins: the usual LDAP
# (inetOrgPerson, eduPerson), CAS and OpenID Connect names. Compared without case.
DEFAULT_ATTRIBUTES = {
    "name": ("displayName", "cn", "name", "commonName"),
    "number": (
        "employeeNumber",
        "studentNumber",
        "student_number",
        "employee_number",
        "staff_number",
        "eduPersonPrincipalName",
    ),
    "email": ("mail", "email"),
    "phone": ("mobile", "telephoneNumber", "phone_number", "phone"),
}
FIELD_LIMITS = {"name": 120, "number": 64, "email": 254, "phone": 40}


class MappingError(ValueError):
    """A role mapping rule cannot be read; the message says which and how to write it."""


@dataclass(frozen=True)
class RoleRule:
    """``attribute:value=role[@centre]``: a user whose ``attribute`` holds ``value`` gets ``role``."""

    attribute: str
    value: str
    role: Role
    centre: str | None = None

    def matches(self, attributes: dict[str, tuple[str, ...]]) -> bool:
        values = _values(attributes, self.attribute)
        return self.value == "*" and bool(values) or self.value.lower() in {v.lower() for v in values}


@dataclass(frozen=True)
class Profile:
    """Who the directory says signed in."""

    username: str
    display_name: str | None
    number: str | None = None
    email: str | None = None
    phone: str | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def parse_role_map(text: str | None) -> tuple[RoleRule, ...]:
    """Read ``TRACKER_SIGNON_ROLES``: rules separated by ``;`` or new lines.

    Each rule is ``attribute:value=role`` or ``attribute:value=role@centre``
    (a centre code; technician, dispatcher and centre head need one, the
    other roles take none). ``value`` may be ``*``: any value. Raises
    MappingError.
    """
    rules = []
    for raw in (text or "").replace("\n", ";").split(";"):
        item = raw.strip()
        if not item:
            continue
        # The last "=": a group's LDAP DN has "=" in it, a role never does.
        left, equals, right = item.rpartition("=")
        attribute, colon, value = left.partition(":")
        if not equals or not colon or not attribute.strip() or not value.strip() or not right.strip():
            raise MappingError(
                f"{item!r}: write attribute:value=role or attribute:value=role@centre, "
                "e.g. eduPersonAffiliation:student=requester; groups:repairs=technician@REPAIRS"
            )
        role_text, _, centre = right.strip().partition("@")
        try:
            role = Role(role_text.strip().lower())
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise MappingError(
                f"{item!r}: {role_text.strip()!r} is not a role; the roles are {roles}"
            ) from None
        centre = centre.strip() or None
        if role in CENTRE_ROLES and centre is None:
            raise MappingError(
                f"{item!r}: {role.value} is held for one centre: write {role.value}@CENTRE_CODE"
            )
        if role not in CENTRE_ROLES and centre is not None:
            raise MappingError(f"{item!r}: {role.value} is campus-wide: leave out @{centre}")
        rules.append(RoleRule(attribute.strip(), value.strip(), role, centre))
    return tuple(rules)


def roles_for(
    attributes: dict[str, tuple[str, ...]], rules: tuple[RoleRule, ...]
) -> set[tuple[Role, str | None]]:
    """Return the (role, centre code) pairs the rules give to these attributes."""
    return {(rule.role, rule.centre) for rule in rules if rule.matches(attributes)}


def normalise(attributes: dict) -> dict[str, tuple[str, ...]]:
    """Return the attributes as name -> tuple of non-empty strings (one value or a list, as sent)."""
    result: dict[str, tuple[str, ...]] = {}
    for name, value in (attributes or {}).items():
        values = value if isinstance(value, (list, tuple, set)) else [value]
        cleaned = tuple(
            str(v).strip() for v in values if v is not None and not isinstance(v, dict) and str(v).strip()
        )
        if cleaned:
            result[str(name)] = result.get(str(name), ()) + cleaned
    return result


def build_profile(
    username: str, attributes: dict, names: dict[str, tuple[str, ...]] | None = None
) -> Profile:
    """Return the profile in ``attributes``; ``display_name`` is None when the directory sent no name."""
    attrs = normalise(attributes)
    names = names or DEFAULT_ATTRIBUTES

    def first(kind: str) -> str | None:
        for name in names[kind]:
            values = _values(attrs, name)
            if values:
                return values[0][: FIELD_LIMITS[kind]]
        return None

    return Profile(
        username=(username or "").strip(),
        display_name=first("name"),
        number=first("number"),
        email=first("email"),
        phone=first("phone"),
        attributes=attrs,
    )


def _values(attributes: dict[str, tuple[str, ...]], name: str) -> tuple[str, ...]:
    wanted = name.lower()
    return next((v for k, v in attributes.items() if k.lower() == wanted), ())
