"""The signed rating link of a "resolved" e-mail: its token and path.

Below ``feedback`` (which reads the tokens back) so that the e-mail
channel can put the link into a message without importing the rating
service and, through it, follow-ups and the outbox.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tracker.extensions import db
from tracker.models import Channel, Notification, Ticket

LINK_SALT = "tracker.feedback-link.v1"


class _IssuedAtSigner(TimestampSigner):
    """A timestamp signer that signs a given instant: the notice's, not the rendering's.

    The same notice then renders the same link however often it is sent
    again, and the link's lifetime runs from the notice.
    """

    def __init__(self, *args, issued_at: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._issued_at = issued_at

    def get_timestamp(self) -> int:
        return self._issued_at if self._issued_at is not None else super().get_timestamp()


def link_token(ticket_id: int, requester_id: int, *, issued_at: datetime) -> str:
    """Return the signed token of a rating link for a request and its requester, issued at ``issued_at``."""
    serializer = URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=LINK_SALT, signer=_IssuedAtSigner,
        signer_kwargs={"issued_at": int(issued_at.timestamp())},
    )
    return serializer.dumps({"t": int(ticket_id), "u": int(requester_id)})


def link_path(notification: Notification) -> str | None:
    """Return the rating link's path for a "resolved" e-mail to the request's requester, else None.

    Only the requester's own e-mail carries it: a webhook posts to a group,
    and the in-app notice is read logged in, next to the page's own form.
    """
    if (notification.kind != "ticket_resolved" or notification.channel is not Channel.EMAIL
            or notification.ticket_id is None or notification.user_id is None):
        return None
    ticket = db.session.get(Ticket, notification.ticket_id)
    if ticket is None or ticket.requester_id != notification.user_id:
        return None
    return "/feedback/" + link_token(ticket.id, notification.user_id, issued_at=notification.created_at)
