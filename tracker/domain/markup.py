"""Making typed text inert before it goes into a chat message: Markdown and mentions.

A request's title, a comment, a name typed by a user or an administrator
is placed into webhook messages that group robots render. Each syntax has
one function here, used by every webhook format (``services/notify/channels``).
"""

from __future__ import annotations

import re

# Characters with a meaning in the Markdown of the group robots (WeCom,
# DingTalk) and of CommonMark: links and images ([ ] ( ) !), emphasis and
# code (* _ ~ `), headings and quotes (# >), tags and autolinks (< >),
# tables (|) and the escape itself. A backslash before any ASCII
# punctuation shows the character as typed.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\]()<>#|!])")

# A zero-width space after "@" (or after "<" opening a mention tag) shows
# the same text but is no mention: "@all", "@everyone", "@here", "@13800000000",
# "<@userid>", "<!channel>", "<at user_id=...>".
ZERO_WIDTH_SPACE = "\u200b"
_MENTION = re.compile(r"(@)(?=\S)|(<)(?=[@!]|at\b)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Return ``text`` with every Markdown special character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def neutralise_mentions(text: str) -> str:
    """Return ``text`` with every "@" mention (and mention tag) broken by a zero-width space."""
    return _MENTION.sub(lambda m: (m.group(1) or m.group(2)) + ZERO_WIDTH_SPACE, text)


def markdown_field(text: str) -> str:
    """Return typed text safe to place in a Markdown message: no mention, no markup."""
    return escape_markdown(neutralise_mentions(text))
