"""Sending one notice on its channel: e-mail or a webhook.

Messages are rendered at delivery, in the recipient's language. A failure
raises: ``PermanentFailure`` when retrying cannot help (no address), any
other exception to be retried with backoff by the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, format_percent, gettext

from tracker.domain.addresses import is_local_name, is_public
from tracker.domain.i18n import N_, pick
from tracker.domain.markup import markdown_field, neutralise_mentions
from tracker.domain.sla_clock import TARGET_LABELS, Target
from tracker.i18n import when
from tracker.models import Channel, Notification, WebhookFormat
from tracker.services.ledger import feedback_links


class PermanentFailure(Exception):
    """Retrying cannot deliver this notice."""


SUBJECTS = {
    "sla_at_risk": N_("[%(reference)s] %(target)s at risk: due %(due)s"),
    "sla_breached": N_("[%(reference)s] %(target)s deadline passed (%(due)s)"),
    "sla_escalated": N_("[%(reference)s] Escalated to you: %(target)s late since %(due)s"),
    "ticket_filed": N_("[%(reference)s] New request: %(title)s"),
    "ticket_assigned": N_("[%(reference)s] Assigned to you: %(title)s"),
    "ticket_resolved": N_("[%(reference)s] Resolved: please confirm the fix"),
    "ticket_reopened": N_("[%(reference)s] Reopened by the requester"),
    "ticket_declined": N_("[%(reference)s] Declined by the technician: back in the queue"),
    "ticket_commented": N_("[%(reference)s] New comment: %(title)s"),
    "ticket_status": N_("[%(reference)s] %(title)s"),
    "webhook_test": N_("Test message from the campus service desk"),
    "weekly_report": N_("Weekly report: %(first)s – %(last)s"),
    "rectification_assigned": N_("[%(reference)s] Rectification item for you: %(title)s"),
    "rectification_submitted": N_("[%(reference)s] Awaiting your verification: %(title)s"),
    "rectification_rejected": N_("[%(reference)s] Fix rejected: %(title)s"),
    "rectification_verified": N_("[%(reference)s] Verified: %(title)s"),
    "rectification_at_risk": N_("[%(reference)s] Rectification due %(due)s is at risk"),
    "rectification_overdue": N_("[%(reference)s] Rectification overdue since %(due)s"),
    "supervision_issued": N_("[%(reference)s] Supervision order for you, answer by %(due)s"),
    "supervision_answered": N_("[%(reference)s] Supervision order answered"),
    "supervision_overdue": N_("[%(reference)s] Supervision order overdue since %(due)s"),
    "follow_up_due": N_("[%(reference)s] Rated %(rating)s of 5: follow up by %(due)s"),
    # follow_up_due of the weekly sample (not a kind of its own).
    "follow_up_sample": N_("%(count)s closed requests to call back by %(due)s"),
    "material_low_stock": N_("Low stock: %(material)s, %(stock)s %(unit)s left"),
    "quote_sent": N_("[%(reference)s] Quote of ¥%(amount)s: accept or decline"),
    # quote_answered, by the answer (not kinds of their own).
    "quote_accepted": N_("[%(reference)s] Quote of ¥%(amount)s accepted: go on with the work"),
    "quote_declined": N_("[%(reference)s] Quote of ¥%(amount)s declined"),
}

LINES = {
    "sla_at_risk": N_("The %(target)s target of this request will be late at %(due)s unless it is acted on."),
    "sla_breached": N_("The %(target)s target of this request was due at %(due)s and is late."),
    "sla_escalated": N_("The %(target)s target was due at %(due)s and is still late; it is escalated to you."),
    "ticket_filed": N_("A new request came in for your centre."),
    "ticket_assigned": N_("This request was assigned to you."),
    "ticket_resolved": N_("The technician resolved your request. Please confirm the fix or reopen the request."),
    "ticket_reopened": N_("The requester reopened this request."),
    "ticket_declined": N_("The technician declined this request; it waits in the dispatch queue. Reason: %(reason)s"),
    "ticket_commented": N_("There is a new comment on this request."),
    "ticket_status": N_("The request changed."),
    "webhook_test": N_("%(actor)s sent this test message to the webhook “%(name)s”. If you can read it, it works."),
    "weekly_report": N_("The weekly report for %(first)s – %(last)s is ready."),
    "rectification_assigned": N_("You are responsible for this rectification item, due %(due)s."),
    "rectification_submitted": N_("The fix of this rectification item was submitted: verify it or reject it."),
    "rectification_rejected": N_("Leadership rejected the fix of this rectification item: it is back in progress."),
    "rectification_verified": N_("Leadership verified the fix of this rectification item: it is closed."),
    "rectification_at_risk": N_("This rectification item is due %(due)s and is not done yet."),
    "rectification_overdue": N_("This rectification item was due %(due)s and is not verified yet."),
    "supervision_issued": N_("Leadership put this under supervision and made you responsible: answer by %(due)s."),
    "supervision_answered": N_("The responsible person answered your supervision order: close it or follow up."),
    "supervision_overdue": N_("The supervision order was due %(due)s and is not answered yet."),
    "follow_up_due": N_("The requester rated this request %(rating)s of 5. Visit them and record the follow-up."),
    "follow_up_sample": N_("%(count)s requests closed last week were drawn for a follow-up call. Record each call."),
    "material_low_stock": N_("%(material)s (%(code)s) is down to %(stock)s %(unit)s, at or below its threshold of "
                             "%(threshold)s. Record a stock-in when it arrives."),
    "quote_sent": N_("This repair is paid. The technician quotes ¥%(amount)s. Accept or decline the quote on the "
                     "request's page; work waits for your answer."),
    "quote_accepted": N_("The requester accepted the quote of ¥%(amount)s. Go on with the work."),
    "quote_declined": N_("The requester declined the quote of ¥%(amount)s. Do what is free of charge, or resolve "
                         "the request saying so."),
}


@dataclass
class Message:
    subject: str
    text: str
    url: str
    line: str = ""  # the first line of the text: what happened, without the footer


# Values of a notice's payload that the application writes itself (instants,
# enum values, numbers): the others were typed by someone.
_OWN_VALUES = frozenset({"target", "due_at", "due_on", "week_start", "week_end"})


def render(notification: Notification, locale: str | None = None, *, field: Callable[[str], str] | None = None
           ) -> Message:
    """Return the notice's subject, text and link in ``locale``, by default its recipient's language.

    ``field`` is applied to every typed value placed into the message
    (titles, comments, names): a webhook format escapes them with it.
    """
    field = field or (lambda text: text)
    payload = {key: field(value) if isinstance(value, str) and key not in _OWN_VALUES else value
               for key, value in (notification.payload or {}).items()}
    payload.setdefault("name", "")
    payload.setdefault("actor", "")
    base = current_app.config["TRACKER_BASE_URL"].rstrip("/")
    url = base + notification.link if notification.link else base
    locale = locale or notification.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        if payload.get("target"):
            payload["target"] = gettext(TARGET_LABELS[Target(payload["target"])])
        if payload.get("due_at"):
            payload["due"] = when(datetime.fromisoformat(payload["due_at"]))
        if notification.kind == "weekly_report":
            payload.update(_week_params(payload))
        if payload.get("due_on"):  # rectification items are due at the end of a local day
            payload["due"] = when(date.fromisoformat(payload["due_on"]))
        payload.setdefault("due", "—")
        payload.setdefault("title", "")
        payload.setdefault("reference", "")
        wording = notification.kind
        if wording == "follow_up_due" and payload.get("count") is not None:
            wording = "follow_up_sample"
        if wording == "quote_answered":
            wording = "quote_accepted" if payload.get("accepted") else "quote_declined"
        if notification.kind == "material_low_stock":
            payload["material"] = field(pick(
                (notification.payload or {}).get("material_zh"), (notification.payload or {}).get("material_en"),
                str(locale)))
        subject = gettext(SUBJECTS.get(wording, "%(reference)s"), **_params(payload))
        line = gettext(LINES.get(wording, "%(title)s"), **_params(payload))
        lines = [line]
        if notification.kind == "weekly_report":
            lines += ["", *_weekly_lines(payload, str(locale), field)]
        about = f"{payload['reference']} {payload['title']}".strip()
        if about:  # a webhook's test message is about no request
            lines += ["", about]
        if payload.get("comment"):
            lines += ["", payload["comment"]]
        rating_path = feedback_links.link_path(notification)
        if rating_path:  # the requester's own e-mail only: the link rates without a login
            lines += ["", gettext("Rate the service from 1 to 5 (no login needed):"), base + rating_path]
        lines += ["", url, "", gettext("You can choose which notices you receive on your account page.")]
    return Message(subject=subject, text="\n".join(lines), url=url, line=line)


def _week_params(payload: dict) -> dict:
    first, last = payload.get("week_start"), payload.get("week_end")
    return {
        "first": when(date.fromisoformat(first)) if first else "",
        "last": when(date.fromisoformat(last)) if last else "",
    }


def _percent(value) -> str:
    return "—" if value is None else format_percent(value / 100, "#,##0.0%")


def _weekly_lines(payload: dict, locale: str, field: Callable[[str], str]) -> list[str]:
    """Return the weekly report's headline figures, a line per centre and one for the campus."""
    lines = [gettext("The week's figures per centre:")]
    for row in [*payload.get("headline", []), payload.get("total")]:
        if not row:
            continue
        if row.get("name_en") or row.get("name_zh"):
            name = field(pick(row.get("name_zh"), row.get("name_en"), locale))
        else:
            name = gettext("Campus total")
        lines.append(gettext(
            "%(centre)s: %(received)d received, %(resolved)d resolved, %(backlog)d open; on time: "
            "response %(response)s, resolution %(resolution)s; missed deadlines: %(breached)d",
            centre=name, received=row.get("received", 0), resolved=row.get("resolved", 0),
            backlog=row.get("backlog", 0), response=_percent(row.get("response_percent")),
            resolution=_percent(row.get("resolution_percent")), breached=row.get("breached", 0),
        ))
    ledger = payload.get("rectification")
    if ledger:
        lines += ["", gettext(
            "Rectification items: %(opened)d opened, %(verified)d verified (%(on_time)d on time), "
            "%(rejected)d rejected; %(active)d on the backlog, %(overdue)d overdue",
            **{k: ledger.get(k, 0) for k in ("opened", "verified", "on_time", "rejected", "active", "overdue")},
        )]
    return lines


def _params(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if isinstance(v, str | int | float)}


def repeats_are_recognised(notification: Notification) -> bool:
    """Return whether the far end can tell a second copy of this notice from a new one.

    E-mail carries a stable Message-ID and the generic webhook an
    Idempotency-Key; group robots post whatever they get to the group.
    """
    if notification.channel is Channel.WEBHOOK:
        hook = notification.webhook
        return hook is not None and hook.format is WebhookFormat.GENERIC
    return True


def prepare(notification: Notification) -> Callable[[], None]:
    """Read and render what delivering the notice needs; return the sending itself, which reads no row.

    The outbox ends its transaction between the two, so that no
    transaction (on SQLite, no write lock) is held while the far end
    answers. Raises PermanentFailure when no send can succeed.
    """
    if notification.channel is Channel.EMAIL:
        email = _email(notification, render(notification))
        return lambda: _transmit_email(email, notification_id=notification.id)
    if notification.channel is Channel.WEBHOOK:
        request, robot = _webhook_request(notification)
        return lambda: _post(request, robot=robot)
    return lambda: None  # in-app notices are delivered by being stored


def send(notification: Notification) -> None:
    """Deliver one notice; raise on failure."""
    prepare(notification)()


# ---------------------------------------------------------------- e-mail


def _message_id(notification: Notification) -> str:
    # Stable per notice: a receiver that sees it twice can tell.
    digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:24]
    return f"<{digest}.{notification.id}@service-desk>"


def _email(notification: Notification, message: Message) -> EmailMessage:
    user = notification.user
    if user is None or not user.email:
        raise PermanentFailure("the recipient has no e-mail address")
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = user.email
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = _message_id(notification)
    email["X-Tracker-Notification"] = notification.idempotency_key
    email.set_content(message.text)
    return email


def _transmit_email(email: EmailMessage, *, notification_id: int) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        # The embedded default has no mail server: keep the mail as a file.
        folder = Path(config["MAIL_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notification_id:08d}.eml").write_bytes(bytes(email))
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(email)


# ---------------------------------------------------------------- webhooks


# What each format does to typed text: one function per syntax
# (domain/markup), the same for every format that has that syntax. The
# generic JSON is plain text for machines: mentions are neutralised in its
# subject and text, and ``payload`` carries the values as they were typed.
FIELD_ESCAPES: dict[WebhookFormat, Callable[[str], str]] = {
    WebhookFormat.GENERIC: neutralise_mentions,
    WebhookFormat.WECOM: markdown_field,
    WebhookFormat.DINGTALK: markdown_field,
}
assert set(FIELD_ESCAPES) == set(WebhookFormat)


def webhook_body(notification: Notification) -> tuple[dict, dict[str, str]]:
    """Return the JSON body and extra headers for the notice's webhook format, typed text escaped."""
    hook = notification.webhook
    message = render(notification, field=FIELD_ESCAPES[hook.format])
    if hook.format is WebhookFormat.WECOM:
        # WeCom group robot: markdown message.
        content = f"**{message.subject}**\n{message.text}"
        return {"msgtype": "markdown", "markdown": {"content": content[:4000]}}, {}
    if hook.format is WebhookFormat.DINGTALK:
        # DingTalk group robot: markdown message with a title.
        return {"msgtype": "markdown", "markdown": {"title": message.subject[:60], "text": message.text[:4000]}}, {}
    body = {
        "id": notification.id,
        "idempotency_key": notification.idempotency_key,
        "kind": notification.kind,
        "created_at": notification.created_at.isoformat(),
        "subject": message.subject,
        "text": message.text,
        "url": message.url,
        "payload": notification.payload,
    }
    headers = {"Idempotency-Key": notification.idempotency_key}
    if hook.secret:
        raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        headers["X-Tracker-Signature"] = "sha256=" + hmac.new(hook.secret.encode(), raw, hashlib.sha256).hexdigest()
    return body, headers


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """Return a DingTalk robot URL with its timestamp and HMAC-SHA256 signature."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp}&sign={sign}"


# ---------------------------------------------------------------- where webhooks may go


class RefusedDestination(PermanentFailure):
    """The webhook's host is this machine or a private address (WEBHOOK_ALLOW_PRIVATE is off)."""


def check_destination(url: str) -> None:
    """Resolve the URL's host now; raise RefusedDestination if any of its addresses is not public.

    The address was checked when saved, but a name's DNS answer may have
    changed since (or point inside the campus network from the start).
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if is_local_name(host):
        raise RefusedDestination(f"the webhook's host {host} is this machine")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:  # retried: DNS may answer later
        raise OSError(f"cannot resolve the webhook's host {host}: {error}") from None
    for *_, sockaddr in infos:
        if not is_public(sockaddr[0]):
            raise RefusedDestination(f"the webhook's host {host} resolves to {sockaddr[0]}, which is not public")


def _public_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):  # noqa: SLF001
    # Checked once connected, before a byte is sent: the name may resolve
    # differently than a moment ago (DNS rebinding).
    sock = socket.create_connection(address, timeout, source_address)
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise RefusedDestination(f"the webhook's host {address[0]} connected to {peer}, which is not public")
    return sock


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_connection


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_connection


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A robot answers where it was asked; a redirect could lead anywhere
    # (inside the network too): it is an error, retried like any other.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(url: str) -> urllib.request.OpenerDirector:
    if current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        return urllib.request.build_opener(_NoRedirect)
    check_destination(url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(parts.hostname or ""):
        # Through the operator's proxy: the peer is the proxy, the name was checked above.
        return urllib.request.build_opener(_NoRedirect)
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect, _PublicHTTPHandler,
                                       _PublicHTTPSHandler)


def _webhook_request(notification: Notification) -> tuple[urllib.request.Request, bool]:
    """Return the POST for the notice's webhook and whether it goes to a group robot."""
    hook = notification.webhook
    if hook is None or not hook.is_active:
        raise PermanentFailure("the webhook is gone or switched off")
    body, headers = webhook_body(notification)
    url = hook.url
    if hook.format is WebhookFormat.DINGTALK and hook.secret:
        url = dingtalk_signed_url(url, hook.secret)
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8", **headers}
    )
    return request, hook.format in (WebhookFormat.WECOM, WebhookFormat.DINGTALK)


def _post(request: urllib.request.Request, *, robot: bool) -> None:
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    with _opener(request.full_url).open(request, timeout=timeout) as response:
        answer = response.read(65536)
    if robot:
        # The robots answer 200 with an error code in the body.
        try:
            code = json.loads(answer or b"{}").get("errcode", 0)
        except ValueError:
            code = None
        if code not in (0, None):
            raise RuntimeError(f"robot answered errcode {code}: {answer[:200]!r}")
