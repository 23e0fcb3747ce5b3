"""Jinja filters and globals shared by every page."""

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_babel import format_datetime, format_number, get_locale, gettext
from flask_login import current_user
from jinja2 import Undefined

from tracker.domain import workflow
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.domain.sla_clock import STATE_LABELS, TARGET_LABELS
from tracker.forms import one_time_key
from tracker.i18n import label_text, when


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # Browsers drop tabs and newlines inside addresses: "/\t/evil.example" would become "//evil.example".
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def url_host(url: str | None) -> str:
    """Return the host of an address: lists show it without a path or query that may hold a key."""
    try:
        return urlsplit(url or "").hostname or ""
    except ValueError:
        return ""


def localized(obj, field: str = "name") -> str:
    """Return a bilingual row's text (``name``, ``description``) in the reader's language, else the other."""
    if obj is None:
        return ""
    if field == "name":  # also report sections and other rows that only know their name
        return obj.name_for(str(get_locale()))
    return obj.text_for(field, str(get_locale()))


def survey_topic(key: str | None) -> str:
    """Return a survey response's topic in the reader's language (as imported when it has no names)."""
    from tracker.services.ledger import surveys

    if not key:
        return ""
    names = g.get("survey_topic_names")
    if names is None:  # one read per page, however many responses it lists
        names = g.survey_topic_names = surveys.topic_names()
    return surveys.topic_label(key, str(get_locale()), names)


def datetime_local(value: datetime | None, fmt: str = "medium") -> str:
    """Format an aware datetime in the campus time zone and the user's locale."""
    if value is None:
        return "—"
    return format_datetime(value, fmt)


def day_label(value) -> str:
    """Format a local date with its weekday: "Saturday, March 7, 2026", 2026年3月7日星期六 (the duty roster)."""
    from flask_babel import format_date

    return format_date(value, "full")


def share_percent(share) -> str:
    """Return a promised share (a fraction) as a page shows it: "95 %", "99.5 %"; "—" when none."""
    if share is None or isinstance(share, Undefined) or share == "":
        return "—"
    return f"{float(share) * 100:.1f}".removesuffix(".0") + " %"


def _label(table):
    def label(value) -> str:
        if value is None or value == "":
            return ""
        try:
            return label_text(table[type(next(iter(table)))(value)])
        except (KeyError, ValueError):
            return str(value)

    return label


def register(app: Flask) -> None:
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["survey_topic"] = survey_topic
    app.jinja_env.filters["dt"] = datetime_local
    # A date or an instant inside a sentence: one format in every message (tracker/i18n.py).
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["day_label"] = day_label
    app.jinja_env.filters["status_label"] = _label(workflow.STATUS_LABELS)
    app.jinja_env.filters["priority_label"] = _label(workflow.PRIORITY_LABELS)
    app.jinja_env.filters["hold_reason_label"] = _label(workflow.HOLD_REASON_LABELS)
    app.jinja_env.filters["action_label"] = _label(workflow.ACTION_LABELS)
    app.jinja_env.filters["role_label"] = _label(ROLE_LABELS)
    app.jinja_env.filters["target_label"] = _label(TARGET_LABELS)
    app.jinja_env.filters["sla_state_label"] = _label(STATE_LABELS)
    app.jinja_env.filters["duration"] = business_duration
    app.jinja_env.filters["share_percent"] = share_percent
    from tracker.services.notify import outbox, webhooks
    from tracker.services.requests import escalations

    app.jinja_env.filters["kind_label"] = _label(outbox.ALL_KIND_LABELS)
    app.jinja_env.filters["channel_label"] = _label(outbox.CHANNEL_LABELS)
    app.jinja_env.filters["delivery_label"] = _label(outbox.STATUS_LABELS)
    app.jinja_env.filters["webhook_format_label"] = _label(webhooks.FORMAT_LABELS)
    app.jinja_env.filters["escalation_level_label"] = _label(escalations.LEVEL_LABELS)
    app.jinja_env.filters["escalation_reason_label"] = _label(escalations.REASON_LABELS)
    app.jinja_env.filters["url_host"] = url_host
    from tracker.services.ledger import follow_ups

    app.jinja_env.filters["follow_up_kind_label"] = _label(follow_ups.KIND_LABELS)
    from tracker.services import supervision
    from tracker.web import supervision as supervision_pages

    app.jinja_env.filters["supervision_status_label"] = _label(supervision.STATUS_LABELS)
    app.jinja_env.filters["supervision_outcome_label"] = lambda order: gettext(
        supervision.OUTCOME_LABELS[supervision.outcome(order)])
    app.jinja_env.filters["supervision_outcome_text"] = _label(supervision.OUTCOME_LABELS)
    app.jinja_env.filters["supervision_link"] = supervision.link
    app.jinja_env.globals["supervision_panel"] = supervision_pages.panel
    app.jinja_env.filters["follow_up_result_label"] = _label(follow_ups.RESULT_LABELS)
    from tracker.domain.money import format_fen
    from tracker.services.materials import quotes as material_quotes

    app.jinja_env.filters["quote_status_label"] = _label(material_quotes.QUOTE_STATUS_LABELS)
    # Money is integer fen: shown as yuan, "¥1,234.50".
    app.jinja_env.filters["yuan"] = lambda fen: "¥" + format_fen(fen or 0)
    from tracker.web.timeline import timeline_svg

    app.jinja_env.globals["timeline_svg"] = timeline_svg
    # A hand-written creating form's one-time key (forms.OnceForm for the others).
    app.jinja_env.globals["one_time_key"] = one_time_key

    @app.context_processor
    def _globals():
        logged_in = bool(current_user and current_user.is_authenticated)
        nav_items = _nav_items() if logged_in else []
        return {
            "current_locale": str(get_locale()),
            "Role": Role,
            "nav_items": nav_items,
            "nav_primary": _nav_primary(nav_items),
            "unread_count": _unread_count() if logged_in else 0,
            "request_path": request.full_path.rstrip("?") if request else "/",
        }


def _unread_count() -> int:
    """Return the current user's unread in-app notices, counted once per request (header badge)."""
    if "unread_count" not in g:
        from tracker.services.notify import outbox

        g.unread_count = outbox.unread_count(current_user)
    return g.unread_count


# The header's links (templates/base.html): on a desk the first five of a user's links in this
# order sit in the bar, and the others are grouped under "More", so that the bar is one row at
# 1280 px in both languages (tests/browser/test_header.py). A link added to _nav_items() and not
# named here always goes under "More".
NAV_RANK = (
    "queue.mine", "queue.dispatch", "tickets.index", "dashboards.index", "dashboards.centre",
    "escalations.index", "admin.index", "admin_ops.index", "tickets.new", "tickets.mine",
    "rectification.index", "weekly.index",
)
NAV_IN_BAR = 5


def _nav_primary(items: list[tuple[str, str]]) -> frozenset[str]:
    """Return the endpoints of ``items`` shown in the bar itself on a desk."""
    mine = {endpoint for endpoint, _label in items}
    return frozenset([endpoint for endpoint in NAV_RANK if endpoint in mine][:NAV_IN_BAR])


def _nav_items() -> list[tuple[str, str]]:
    """Return (endpoint, label msgid) pairs the current user may open."""
    from tracker.auth.roles import CENTRE_MANAGERS, READ_ALL, STAFF

    items = []
    if current_user.has_role(Role.REQUESTER):
        items.append(("tickets.new", gettext("New request")))
        items.append(("tickets.mine", gettext("My requests")))
    if current_user.has_any_role(*STAFF):
        items.append(("queue.mine", gettext("My queue")))
    if current_user.has_any_role(*CENTRE_MANAGERS):
        items.append(("queue.dispatch", gettext("Dispatch")))
    if current_user.has_any_role(*STAFF, *READ_ALL):
        items.append(("tickets.index", gettext("All requests")))
    if current_user.has_any_role(*READ_ALL):
        items.append(("dashboards.index", gettext("Dashboard")))
    if current_user.has_any_role(*CENTRE_MANAGERS):
        items.append(("dashboards.centre", gettext("Centre dashboard")))
    if current_user.has_any_role(*STAFF, Role.LEADERSHIP):
        items.append(("escalations.index", gettext("Escalations")))
    if current_user.has_any_role(*CENTRE_MANAGERS, Role.ADMIN):
        items.append(("dispatch.roster", gettext("Duty roster")))
    if current_user.has_role(Role.TECHNICIAN):
        items.append(("dispatch.my_shifts", gettext("My shifts")))
    if current_user.has_any_role(*STAFF, *READ_ALL):
        items.append(("supervision.index", gettext("Supervision")))
    if current_user.has_any_role(*CENTRE_MANAGERS, *READ_ALL):
        items.append(("weekly.index", gettext("Weekly report")))
    if current_user.has_any_role(*STAFF, *READ_ALL):
        items.append(("rectification.index", gettext("Rectification")))
    if current_user.has_any_role(Role.CENTRE_HEAD, *READ_ALL):
        items.append(("follow_ups.index", gettext("Follow-ups")))
    if current_user.has_any_role(Role.TECHNICIAN, Role.CENTRE_HEAD, Role.LEADERSHIP, Role.ADMIN):
        items.append(("scorecards.index", gettext("Scorecards")))
    if current_user.has_any_role(Role.CENTRE_HEAD, *READ_ALL):
        items.append(("surveys.index", gettext("Surveys")))
    if current_user.has_any_role(Role.CENTRE_HEAD, *READ_ALL):
        items.append(("standards_admin.centres", gettext("Standards")))
    if current_user.has_any_role(*STAFF, *READ_ALL):
        items.append(("materials.index", gettext("Materials")))
    if current_user.has_any_role(*CENTRE_MANAGERS, Role.ADMIN):
        items.append(("qr.index", gettext("QR codes")))
    if current_user.has_any_role(Role.CENTRE_HEAD, Role.ADMIN):
        items.append(("standards.index", gettext("Replay a draft standard")))
    if current_user.has_role(Role.ADMIN):
        items.append(("admin.index", gettext("Administration")))
        items.append(("admin_ops.index", gettext("Operations")))
    return items


def business_duration(minutes: float | None) -> str:
    """Format minutes as "2 h 05 min", "45 min" or "1,276 h"; negative values as their size."""
    if minutes is None:
        return "—"
    total = int(round(abs(minutes)))
    hours, mins = divmod(total, 60)
    # Business time has no days: a "day" would mean 24 h on one calendar
    # and 7 h on another. Long spans read in hours.
    if hours >= 100:
        return gettext("%(h)s h", h=format_number(hours))
    if hours:
        return gettext("%(h)d h %(m)02d min", h=hours, m=mins)
    return gettext("%(m)d min", m=mins)
