"""Database models; importing this module registers every table."""

from tracker.models.api_token import ApiToken
from tracker.models.attachment import Attachment
from tracker.models.audit import AdminEvent
from tracker.models.benchmarks import Benchmark, BenchmarkLink
from tracker.models.centre import Category, Centre, Location, LocationKind
from tracker.models.dispatch import (
    CategoryDispatch,
    CentreDispatch,
    DispatchTurn,
    Shift,
    ShiftKind,
    TechnicianSkill,
)
from tracker.models.display import DisplayLink
from tracker.models.feedback import (
    Feedback,
    FeedbackChannel,
    FollowUp,
    FollowUpKind,
    FollowUpResult,
    FollowUpSample,
    FollowUpStatus,
)
from tracker.models.idempotency import IdempotencyKey
from tracker.models.imports import ImportMapping, ImportRowError, ImportRun, RunStatus
from tracker.models.materials import Charge, Material, MovementKind, Quote, QuoteStatus, StockMovement
from tracker.models.outbox import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    Webhook,
    WebhookFormat,
)
from tracker.models.rectification import (
    RectificationAlert,
    RectificationEvent,
    RectificationEventKind,
    RectificationItem,
    RectificationItemTicket,
)
from tracker.models.scorecards import (
    Contractor,
    ContractorMember,
    DailyTechnicianHold,
    DailyTechnicianStat,
    FollowUpRule,
)
from tracker.models.signon import SignonIdentity
from tracker.models.sla import (
    Calendar,
    CalendarEnteredDay,
    CalendarVersion,
    Escalation,
    SlaPolicy,
    SlaPolicyVersion,
    TicketSla,
    VersionStatus,
)
from tracker.models.standards import ReplayStatus, SlaReplay
from tracker.models.stats import (
    DailyAssigneeStat,
    DailyCentreStat,
    DailyStat,
    NowCount,
    NowCountRun,
    NowEscalation,
    StatsDirty,
)
from tracker.models.supervision import OrderStatus, SupervisionOrder
from tracker.models.survey import (
    ImportStatus,
    SurveyImport,
    SurveyImportError,
    SurveyMapping,
    SurveyResponse,
    SurveyTopic,
)
from tracker.models.ticket import EventKind, ReferenceCounter, Source, Ticket, TicketEvent
from tracker.models.user import LoginFailure, User, UserRole
from tracker.models.weekly import ReportStatus, WeeklyReport

__all__ = [
    "DisplayLink",
    "Charge",
    "Material",
    "MovementKind",
    "Quote",
    "QuoteStatus",
    "StockMovement",
    "SignonIdentity",
    "CategoryDispatch",
    "CentreDispatch",
    "DispatchTurn",
    "Shift",
    "ShiftKind",
    "TechnicianSkill",
    "Contractor",
    "ContractorMember",
    "DailyTechnicianHold",
    "DailyTechnicianStat",
    "FollowUpRule",
    "OrderStatus",
    "SupervisionOrder",
    "IdempotencyKey",
    "ReplayStatus",
    "SlaReplay",
    "AdminEvent",
    "LoginFailure",
    "Benchmark",
    "BenchmarkLink",
    "VersionStatus",
    "ApiToken",
    "DailyAssigneeStat",
    "DailyCentreStat",
    "DailyStat",
    "StatsDirty",
    "NowCount",
    "NowCountRun",
    "NowEscalation",
    "Channel",
    "DeliveryStatus",
    "Escalation",
    "Notification",
    "NotificationPreference",
    "Webhook",
    "WebhookFormat",
    "Calendar",
    "CalendarEnteredDay",
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
    "RectificationAlert",
    "RectificationEvent",
    "RectificationEventKind",
    "RectificationItem",
    "RectificationItemTicket",
    "Attachment",
    "ImportMapping",
    "ImportRowError",
    "ImportRun",
    "RunStatus",
    "Feedback",
    "FeedbackChannel",
    "FollowUp",
    "FollowUpKind",
    "FollowUpResult",
    "FollowUpSample",
    "FollowUpStatus",
    "ImportStatus",
    "SurveyImport",
    "SurveyImportError",
    "SurveyMapping",
    "SurveyResponse",
    "SurveyTopic",
]
