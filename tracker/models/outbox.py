"""The notification outbox, users' notification choices, and webhook endpoints."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import StrEnumType, UTCDateTime


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; admins see the error


class Notification(db.Model):
    """One message to one recipient on one channel.

    Written in the same transaction as the change that causes it; a worker
    delivers it and marks it sent. ``idempotency_key`` is unique: whatever
    writes it twice (two sweeps, a retried task) writes it once.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        # Partial indexes: most rows are sent (and in-app rows are sent when
        # written), so the delivery index holds only what is still due; at a
        # million notices a month, full indexes cost every sweep dearly.
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        Index(
            "ix_notifications_inbox",
            "user_id",
            "id",
            postgresql_where=text("channel = 'in_app'"),
            sqlite_where=text("channel = 'in_app'"),
        ),
        Index(
            "ix_notifications_unread",
            "user_id",
            postgresql_where=text("channel = 'in_app' AND read_at IS NULL"),
            sqlite_where=text("channel = 'in_app' AND read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(16), default="zh_CN")
    status: Mapped[DeliveryStatus] = mapped_column(StrEnumType(DeliveryStatus, 16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Not before this instant: first attempt (non-urgent notices wait for
    # working hours) and, after a failure, the backoff.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Committed just before a send, cleared with its outcome: a claim found
    # expired with it set was cut off mid-send (the notice may have arrived).
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")

    user = relationship("User")
    webhook = relationship("Webhook")
    ticket = relationship("Ticket")


class NotificationPreference(db.Model):
    """A user's choice for one kind of notice on one channel (absent: the default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 16))
    is_enabled: Mapped[bool] = mapped_column(Boolean)


class WebhookFormat(StrEnum):
    GENERIC = "generic"  # our JSON
    WECOM = "wecom"  # WeCom (企业微信) group robot, markdown message
    DINGTALK = "dingtalk"  # DingTalk (钉钉) group robot, markdown, optional signature


class Webhook(db.Model):
    """An endpoint that receives notices: a group robot or another system."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    format: Mapped[WebhookFormat] = mapped_column(StrEnumType(WebhookFormat, 16))
    # DingTalk "sign" secret, or the HMAC key for the generic format.
    secret: Mapped[str] = mapped_column(String(200), default="")
    # None: every centre.
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    # Which kinds of notice it receives (list of kind names).
    kinds: Mapped[list] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    centre = relationship("Centre")
