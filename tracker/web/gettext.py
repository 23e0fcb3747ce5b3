"""Template gettext that treats every translated string as text, not HTML.

Jinja's newstyle gettext wraps the translation in ``Markup`` on HTML pages,
so a message such as "Send it as Authorization: Bearer <token>." lost its
``<token>`` to the browser as an unknown tag. Messages hold no markup in this
project: here the translation is escaped like any value, the ``%(name)s``
variables too, and plain-text templates (emails) keep the text as is.
"""

from flask import Flask
from flask_babel import get_translations
from jinja2 import pass_context
from markupsafe import escape

from tracker.i18n import label_text


def _format(context, text: str, variables: dict):
    if context.eval_ctx.autoescape:
        return escape(text) % variables
    return text % variables


@pass_context
def gettext(__context, __string: str, **variables):
    return _format(__context, label_text(__string), variables)


@pass_context
def ngettext(__context, __singular: str, __plural: str, __num: int, **variables):
    variables.setdefault("num", __num)
    return _format(__context, get_translations().ungettext(__singular, __plural, __num), variables)


@pass_context
def pgettext(__context, __string_ctx: str, __string: str, **variables):
    variables.setdefault("context", __string_ctx)
    return _format(__context, get_translations().upgettext(__string_ctx, __string), variables)


@pass_context
def npgettext(__context, __string_ctx: str, __singular: str, __plural: str, __num: int, **variables):
    variables.setdefault("context", __string_ctx)
    variables.setdefault("num", __num)
    text = get_translations().unpgettext(__string_ctx, __singular, __plural, __num)
    return _format(__context, text, variables)


def register(app: Flask) -> None:
    """Replace the callables Flask-Babel installed; ``_`` resolves ``gettext``."""
    app.jinja_env.globals.update(gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext)
