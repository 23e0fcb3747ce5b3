"""Roles a user can hold; some are held per service centre."""

from enum import StrEnum

from tracker.domain.i18n import N_


class Role(StrEnum):
    REQUESTER = "requester"
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    CENTRE_HEAD = "centre_head"
    LEADERSHIP = "leadership"
    ADMIN = "admin"


# These are held for one centre each; the others are campus-wide.
CENTRE_ROLES = frozenset({Role.TECHNICIAN, Role.DISPATCHER, Role.CENTRE_HEAD})

ROLE_LABELS = {
    Role.REQUESTER: N_("Requester"),
    Role.TECHNICIAN: N_("Technician"),
    Role.DISPATCHER: N_("Dispatcher"),
    Role.CENTRE_HEAD: N_("Centre head"),
    Role.LEADERSHIP: N_("Leadership"),
    Role.ADMIN: N_("Administrator"),
}
