"""Database models; importing this module registers every table."""

from tracker.models.centre import Category, Centre, Location, LocationKind
from tracker.models.sla import Calendar, CalendarVersion, SlaPolicy, SlaPolicyVersion, TicketSla
from tracker.models.ticket import EventKind, ReferenceCounter, Source, Ticket, TicketEvent
from tracker.models.user import User, UserRole

__all__ = [
    "Calendar",
    "CalendarVersion",
    "SlaPolicy",
    "SlaPolicyVersion",
    "TicketSla",
    "Category",
    "Centre",
    "EventKind",
    "Location",
    "LocationKind",
    "ReferenceCounter",
    "Source",
    "Ticket",
    "TicketEvent",
    "User",
    "UserRole",
]
