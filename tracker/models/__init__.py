"""Database models; importing this module registers every table."""

from tracker.models.centre import Category, Centre, Location, LocationKind
from tracker.models.outbox import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    Webhook,
    WebhookFormat,
)
from tracker.models.sla import Calendar, CalendarVersion, Escalation, SlaPolicy, SlaPolicyVersion, TicketSla
from tracker.models.stats import DailyStat, StatsDirty
from tracker.models.ticket import EventKind, ReferenceCounter, Source, Ticket, TicketEvent
from tracker.models.user import User, UserRole
from tracker.models.weekly import ReportStatus, WeeklyReport

__all__ = [
    "DailyStat",
    "StatsDirty",
    "Channel",
    "DeliveryStatus",
    "Escalation",
    "Notification",
    "NotificationPreference",
    "Webhook",
    "WebhookFormat",
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
    "ReportStatus",
    "WeeklyReport",
]
