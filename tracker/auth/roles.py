"""Roles and the page permission groups built from them.

Centre-scoped checks (which tickets, which centre) happen in the services;
this table only says which roles may open an area at all.
"""

from tracker.domain.roles import CENTRE_ROLES, ROLE_LABELS, Role

__all__ = ["CENTRE_ROLES", "ROLE_LABELS", "Role", "STAFF", "READ_ALL", "CENTRE_MANAGERS"]

# Work the centres' queues.
STAFF = (Role.TECHNICIAN, Role.DISPATCHER, Role.CENTRE_HEAD)
# Assign work and watch a centre.
CENTRE_MANAGERS = (Role.DISPATCHER, Role.CENTRE_HEAD)
# Read every ticket on campus.
READ_ALL = (Role.LEADERSHIP, Role.ADMIN)
