"""What webhooks receive: typed text made inert in every format, and no post to private addresses.

Delivery runs in this process (``outbox.deliver``) against the webhook
receiver on 127.0.0.1 of the worker tests (``tests/integration/workers.py``).
"""

import json
import re

import pytest
from sqlalchemy import select

from tests.factories import make_ticket
from tests.integration import workers
from tracker.clock import utcnow
from tracker.domain.markup import ZERO_WIDTH_SPACE as ZW
from tracker.errors import ValidationFailed
from tracker.models import Channel, DeliveryStatus, Notification, Webhook, WebhookFormat
from tracker.services.notify import outbox, webhooks

artifacts, webhook_receiver = workers.artifacts, workers.webhook_receiver

HOSTILE = "[Urgent: re-login here](http://evil.example/login) <@all>"
# A Markdown link, emphasis or a mention that nothing escaped.
UNESCAPED_LINK = re.compile(r"(?<!\\)\]\(")
MENTION = re.compile(r"@(all|everyone|here)\b|<@")


@pytest.fixture
def allow_private(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)


def add_hook(world, url: str, format: WebhookFormat) -> int:
    hook = webhooks.create_webhook(name="Repairs <@all> group", url=url, format=format, kinds=["ticket_filed"],
                                   actor=world.users["admin"], now=utcnow())
    return hook.id


@pytest.mark.parametrize("format", list(WebhookFormat))
def test_a_hostile_title_reaches_every_webhook_format_as_plain_text(db, world, webhook_receiver, allow_private,
                                                                    format):
    add_hook(world, webhook_receiver.url, format)
    make_ticket(world, now=utcnow(), title=HOSTILE)
    result = outbox.deliver(utcnow)

    assert result.sent == 1
    [request] = webhook_receiver.received()
    body = json.loads(request["raw"])
    if format is WebhookFormat.GENERIC:
        shown = [body["subject"], body["text"]]
        assert body["payload"]["title"] == HOSTILE  # the data as typed, for machines
        assert f"<{ZW}@{ZW}all>" in body["text"]
    elif format is WebhookFormat.WECOM:
        shown = [body["markdown"]["content"]]
    else:
        shown = [body["markdown"]["title"], body["markdown"]["text"]]
    for text in shown:
        assert not MENTION.search(text), text
    if format is not WebhookFormat.GENERIC:  # plain text otherwise: a link is shown as typed
        assert not any(UNESCAPED_LINK.search(text) for text in shown), shown
        assert r"\[Urgent: re-login here\]\(http://evil.example/login\)" in shown[-1]


def test_a_test_message_escapes_the_admins_webhook_name(db, world, webhook_receiver, allow_private):
    hook_id = add_hook(world, webhook_receiver.url, WebhookFormat.WECOM)
    outbox.queue_test(hook_id, actor=world.users["admin"], now=utcnow())
    outbox.deliver(utcnow)

    [request] = webhook_receiver.received()
    content = json.loads(request["raw"])["markdown"]["content"]
    assert "Repairs \\<" in content and not MENTION.search(content)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://127.1/hook", "http://2130706433/hook", "http://localhost/hook",
    "http://api.localhost/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook", "http://192.168.0.10/hook",
    "http://[fe80::1]/hook", "http://224.0.0.1/hook",
])
def test_a_webhook_to_a_private_address_is_refused_when_saved(db, world, url):
    with pytest.raises(ValidationFailed, match="loopback, private and link-local"):
        add_hook(world, url, WebhookFormat.GENERIC)
    assert db.session.execute(select(Webhook)).first() is None


def test_a_private_address_is_accepted_when_the_setting_allows_it(db, world, allow_private):
    add_hook(world, "http://192.168.0.10/hook", WebhookFormat.WECOM)
    assert db.session.execute(select(Webhook.url)).scalar_one() == "http://192.168.0.10/hook"


def test_a_webhook_now_on_a_private_address_is_not_posted_and_fails_for_good(db, world, webhook_receiver, app,
                                                                           monkeypatch):
    # Saved while allowed (or its name resolved elsewhere then): the send checks again.
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    hook_id = add_hook(world, webhook_receiver.url, WebhookFormat.GENERIC)
    local_id = add_hook(world, webhook_receiver.url.replace("127.0.0.1", "localhost"), WebhookFormat.WECOM)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    make_ticket(world, now=utcnow())

    result = outbox.deliver(utcnow)

    assert (result.sent, result.failed) == (0, 2)
    assert webhook_receiver.received() == []
    rows = db.session.execute(select(Notification).where(Notification.channel == Channel.WEBHOOK)
                              .order_by(Notification.webhook_id)).scalars().all()
    assert [(r.webhook_id, r.status, r.attempts) for r in rows] == [
        (hook_id, DeliveryStatus.FAILED, 1), (local_id, DeliveryStatus.FAILED, 1)]
    assert "resolves to 127.0.0.1, which is not public" in rows[0].last_error
    assert "is this machine" in rows[1].last_error
