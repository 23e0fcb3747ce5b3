"""Jinja filters and globals shared by every page."""

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, request
from flask_babel import format_datetime, format_number, get_locale, gettext
from flask_login import current_user

from tracker.domain import workflow
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.domain.sla_clock import STATE_LABELS, TARGET_LABELS


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def localized(obj) -> str:
    """Return a bilingual row's name in the current language."""
    if obj is None:
        return ""
    return obj.name_for(str(get_locale()))


def datetime_local(value: datetime | None, fmt: str = "medium") -> str:
    """Format an aware datetime in the campus time zone and the user's locale."""
    if value is None:
        return "—"
    return format_datetime(value, fmt)


def _label(table):
    def label(value) -> str:
        if value is None or value == "":
            return ""
        try:
            return gettext(table[type(next(iter(table)))(value)])
        except (KeyError, ValueError):
            return str(value)

    return label


def register(app: Flask) -> None:
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["dt"] = datetime_local
    app.jinja_env.filters["status_label"] = _label(workflow.STATUS_LABELS)
    app.jinja_env.filters["priority_label"] = _label(workflow.PRIORITY_LABELS)
    app.jinja_env.filters["hold_reason_label"] = _label(workflow.HOLD_REASON_LABELS)
    app.jinja_env.filters["action_label"] = _label(workflow.ACTION_LABELS)
    app.jinja_env.filters["role_label"] = _label(ROLE_LABELS)
    app.jinja_env.filters["target_label"] = _label(TARGET_LABELS)
    app.jinja_env.filters["sla_state_label"] = _label(STATE_LABELS)
    app.jinja_env.filters["duration"] = business_duration
    from tracker.web.timeline import timeline_svg

    app.jinja_env.globals["timeline_svg"] = timeline_svg

    @app.context_processor
    def _globals():
        return {
            "current_locale": str(get_locale()),
            "Role": Role,
            "nav_items": _nav_items() if current_user and current_user.is_authenticated else [],
            "request_path": request.full_path.rstrip("?") if request else "/",
        }


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
    if current_user.has_role(Role.ADMIN):
        items.append(("admin.index", gettext("Administration")))
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
