"""Webhook endpoints that receive notices: group robots (WeCom, DingTalk) or other systems.

Administrators create, change and switch them off; nothing is deleted, so
the outbox rows that went to a webhook keep pointing at it. Every public
function that changes data checks everything first, then commits; on a
refusal nothing is written. ``actor`` None is the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from tracker.domain.addresses import is_local_name, is_public, literal_address
from tracker.domain.i18n import N_
from tracker.errors import NotFound, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, User, Webhook, WebhookFormat
from tracker.services.audit import require_admin as _require_admin
from tracker.services.notify.outbox import KINDS

NAME_MAX = 120
URL_MAX = 500
SECRET_MAX = 200

FORMAT_LABELS = {
    WebhookFormat.GENERIC: N_("Generic JSON"),
    WebhookFormat.WECOM: N_("WeCom group robot"),
    WebhookFormat.DINGTALK: N_("DingTalk group robot"),
}


def all_webhooks() -> list[Webhook]:
    """Return every webhook, active ones first, by name."""
    return list(
        db.session.execute(
            select(Webhook).order_by(Webhook.is_active.desc(), Webhook.name, Webhook.id)
        ).scalars()
    )


def get_webhook(webhook_id: int) -> Webhook:
    """Return the webhook; raises NotFound."""
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(N_("No such webhook."))
    return hook


def create_webhook(
    *,
    name: str,
    url: str,
    format: WebhookFormat | str,
    secret: str = "",
    centre_id: int | None = None,
    kinds: Iterable[str] = (),
    actor: User | None,
    now: datetime,
) -> Webhook:
    """Create an active webhook and commit.

    Raises PermissionDenied (not an administrator) and ValidationFailed for
    a missing name, a URL that is not http(s), an unknown format, centre or
    kind of notice, or no kind chosen.
    """
    _require_admin(actor)
    hook = Webhook(
        name=_name(name),
        url=check_url(url),
        format=_format(format),
        secret=_secret(secret),
        centre_id=_centre(centre_id),
        kinds=_kinds(kinds),
        is_active=True,
        created_at=now,
    )
    db.session.add(hook)
    db.session.commit()
    return hook


def update_webhook(
    webhook_id: int,
    *,
    name: str,
    url: str,
    format: WebhookFormat | str,
    secret: str | None = None,
    centre_id: int | None = None,
    kinds: Iterable[str] = (),
    is_active: bool = True,
    actor: User | None,
    now: datetime,
) -> Webhook:
    """Change a webhook; commit.

    ``secret`` None keeps the stored secret, "" removes it. Notices queued
    before the change go to the new address when they are delivered.
    Raises NotFound, PermissionDenied, ValidationFailed (as create_webhook).
    """
    _require_admin(actor)
    hook = get_webhook(webhook_id)
    values = {
        "name": _name(name),
        "url": check_url(url),
        "format": _format(format),
        "centre_id": _centre(centre_id),
        "kinds": _kinds(kinds),
        "is_active": bool(is_active),
    }
    if secret is not None:
        values["secret"] = _secret(secret)
    for key, value in values.items():
        setattr(hook, key, value)
    db.session.commit()
    return hook


def deactivate_webhook(webhook_id: int, *, actor: User | None, now: datetime) -> Webhook:
    """Switch a webhook off: it gets no new notices, and those waiting for it fail; commit."""
    _require_admin(actor)
    hook = get_webhook(webhook_id)
    hook.is_active = False
    db.session.commit()
    return hook


# ---------------------------------------------------------------- checks


def _name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise ValidationFailed(N_("Give the webhook a name."))
    if len(name) > NAME_MAX:
        raise ValidationFailed(N_("A webhook's name has at most %(max)d characters."), max=NAME_MAX)
    return name


def check_url(value: str) -> str:
    """Return the stripped address if it is an http(s) URL naming a host; raises ValidationFailed.

    Unless WEBHOOK_ALLOW_PRIVATE, a host that is this machine or a
    non-public address (domain/addresses) is refused.
    """
    url = (value or "").strip()
    if not url:
        raise ValidationFailed(N_("Give the webhook's address (URL)."))
    if len(url) > URL_MAX:
        raise ValidationFailed(N_("A webhook's address has at most %(max)d characters."), max=URL_MAX)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(c.isspace() for c in url)
    ):
        raise ValidationFailed(
            N_("A webhook's address starts with http:// or https:// and names a host, e.g. %(example)s."),
            example="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        )
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        # Names are resolved and checked again at every send: DNS may change.
        address = literal_address(parts.hostname)
        if is_local_name(parts.hostname) or (address is not None and not is_public(address)):
            raise ValidationFailed(N_(
                "A webhook's address must be on the internet: loopback, private and link-local addresses "
                "(such as %(host)s) are refused."), host=parts.hostname)
    return url


def _format(value: WebhookFormat | str) -> WebhookFormat:
    try:
        return WebhookFormat(value)
    except ValueError:
        raise ValidationFailed(N_("Choose the webhook's message format.")) from None


def _secret(value: str) -> str:
    secret = (value or "").strip()
    if len(secret) > SECRET_MAX:
        raise ValidationFailed(N_("A webhook's secret has at most %(max)d characters."), max=SECRET_MAX)
    return secret


def _centre(centre_id: int | None) -> int | None:
    if centre_id is None:
        return None
    if db.session.get(Centre, centre_id) is None:
        raise ValidationFailed(N_("No such service centre."))
    return centre_id


def _kinds(values: Iterable[str]) -> list[str]:
    chosen = set(values or ())
    unknown = chosen - set(KINDS)
    if unknown:
        raise ValidationFailed(N_("Unknown kind of notice: %(kinds)s."), kinds=", ".join(sorted(unknown)))
    if not chosen:
        raise ValidationFailed(N_("Choose at least one kind of notice the webhook receives."))
    # In the order of KINDS: stable for comparisons and the forms.
    return [kind for kind in KINDS if kind in chosen]
