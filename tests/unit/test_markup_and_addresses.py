"""Typed text made inert for chat messages, and the addresses webhooks may go to (tracker/domain)."""

import pytest

from tracker.domain.addresses import is_local_name, is_public, literal_address
from tracker.domain.markup import ZERO_WIDTH_SPACE as ZW
from tracker.domain.markup import escape_markdown, markdown_field, neutralise_mentions


@pytest.mark.parametrize("typed, escaped", [
    ("[Urgent](http://evil.example/login)", r"\[Urgent\]\(http://evil.example/login\)"),
    ("**bold** _it_ ~x~ `code`", r"\*\*bold\*\* \_it\_ \~x\~ \`code\`"),
    ("# heading\n> quote", "\\# heading\n\\> quote"),
    ("![img](x) a|b \\", r"\!\[img\]\(x\) a\|b \\"),
    ('<font color="warning">x</font>', r'\<font color="warning"\>x\</font\>'),
    ("水管漏水 3-2", "水管漏水 3-2"),
])
def test_escape_markdown_shows_every_special_character_as_typed(typed, escaped):
    assert escape_markdown(typed) == escaped


@pytest.mark.parametrize("typed, neutral", [
    ("<@all>", f"<{ZW}@{ZW}all>"),
    ("@all @everyone @here", f"@{ZW}all @{ZW}everyone @{ZW}here"),
    ("<@U123> <!channel>", f"<{ZW}@{ZW}U123> <{ZW}!channel>"),
    ('<at user_id="all">x</at>', f'<{ZW}at user_id="all">x</at>'),
    ("a @ b, no mention", "a @ b, no mention"),
])
def test_neutralise_mentions_breaks_every_mention_form(typed, neutral):
    assert neutralise_mentions(typed) == neutral


def test_markdown_field_leaves_no_link_and_no_mention():
    field = markdown_field("[Urgent: re-login here](http://evil.example/login) <@all>")
    assert "](" not in field and "@all" not in field and "<@" not in field


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700::1111", True),
    ("127.0.0.1", False), ("127.8.9.10", False), ("::1", False), ("0.0.0.0", False), ("::", False),
    ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False), ("100.64.0.1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("fe80::1%eth0", False), ("fc00::1", False),
    ("224.0.0.1", False), ("239.255.255.250", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False),
    ("64:ff9b::7f00:1", False), ("::127.0.0.1", False),
])
def test_only_public_unicast_addresses_are_public(address, public):
    assert is_public(address) is public


@pytest.mark.parametrize("host, address", [
    ("127.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"), ("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ("example.org", None), ("cafe", None), ("qyapi.weixin.qq.com", None),
])
def test_literal_address_reads_every_spelling_the_resolver_accepts(host, address):
    found = literal_address(host)
    assert (str(found) if found is not None else None) == address


@pytest.mark.parametrize("host, local", [
    ("localhost", True), ("LOCALHOST.", True), ("api.localhost", True), ("localhost.localdomain", True),
    ("example.org", False), ("localhost.example.org", False),
])
def test_local_names_are_this_machine(host, local):
    assert is_local_name(host) is local
