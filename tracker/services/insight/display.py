"""The wall display (数据大屏): its read-only links, and the figures it shows.

A display link is a secret address (``/display/<secret>``) an administrator
makes for a screen that has no logged-in session. The secret is
``disp_`` followed by 43 random URL-safe characters (256 bits); only its
SHA-256 is stored, as for API tokens, so a leaked database leaks no link.
A link shows every centre or one; revoking it answers the screen's next
refresh with 410 Gone. Making and revoking a link are administration
changes and go into the administration history (services.audit).

The figures are the leadership dashboard's, from the same services: period
figures from the daily summary (``reports.figures_by``, ``reports.trend``
style sums), met % against the promised share from
``standards.promises.compare``, and the "now" counts (backlog, breached
now, at risk now) kept every minute (``now_counts``; counted live when
those are out of date, and the payload's ``now_counted_at`` says which). Nothing
personal leaves here: no requester, technician, phone number or request
text, only counts per centre and target.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker.domain.i18n import N_
from tracker.errors import NotFound, TrackerError, ValidationFailed
from tracker.extensions import db
from tracker.models import Centre, DailyStat, DisplayLink, User
from tracker.models.stats import TARGET_COLUMNS
from tracker.services import audit
from tracker.services.insight import now_counts, reports
from tracker.services.sla.standards import promises

SECRET_PREFIX = "disp_"
# Shown in the list: "disp_" and the secret's first 6 characters.
DISPLAY_LENGTH = len(SECRET_PREFIX) + 6
NAME_MAX = 80
# The period figures cover this many local days, today included; the change
# is against the same number of days just before.
PERIOD_DAYS = 7
TREND_DAYS = 14
# A link's last_seen_at is written at most this often (a write per refresh is too many).
SEEN_EVERY = timedelta(minutes=5)


class LinkRevoked(TrackerError):
    """The display link was revoked: the screen must stop showing figures."""

    http_status = 410
    code = "revoked"


class LinkUnknown(NotFound):
    code = "not_found"


def hash_secret(secret: str) -> str:
    """Return the stored form of a link's secret: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------- links


def create_link(
    *, name: str, centre_id: int | None, actor: User | None, now: datetime
) -> tuple[DisplayLink, str]:
    """Make a display link and commit; return it and its secret (shown once, never stored).

    Raises PermissionDenied unless ``actor`` is an active administrator;
    ValidationFailed for an empty or long name or an unknown or inactive centre.
    """
    audit.require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(N_("Give the display link a name, e.g. where the screen hangs."))
    if len(name) > NAME_MAX:
        raise ValidationFailed(N_("A name has at most %(max)d characters."), max=NAME_MAX)
    if centre_id is not None:
        centre = db.session.get(Centre, centre_id)
        if centre is None or not centre.is_active:
            raise ValidationFailed(N_("Choose an active service centre, or all centres."))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    link = DisplayLink(
        name=name,
        centre_id=centre_id,
        prefix=secret[:DISPLAY_LENGTH],
        token_hash=hash_secret(secret),
        created_at=now,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(link)
    db.session.commit()
    return link, secret


def links() -> list[DisplayLink]:
    """Return every display link, newest first (revoked ones too)."""
    return list(
        db.session.execute(
            select(DisplayLink)
            .options(
                joinedload(DisplayLink.centre),
                joinedload(DisplayLink.created_by),
                joinedload(DisplayLink.revoked_by),
            )
            .order_by(DisplayLink.id.desc())
        ).scalars()
    )


def revoke_link(link_id: int, *, actor: User | None, now: datetime) -> DisplayLink:
    """Revoke a display link and commit; revoking a revoked link changes nothing.

    Raises PermissionDenied unless ``actor`` is an active administrator;
    NotFound for a link that does not exist.
    """
    audit.require_admin(actor)
    link = db.session.get(DisplayLink, link_id)
    if link is None:
        raise NotFound(N_("No such display link."))
    if link.revoked_at is None:
        link.revoked_at = now
        link.revoked_by_id = actor.id if actor is not None else None
        db.session.commit()
    return link


def open_link(secret: str, *, now: datetime) -> DisplayLink:
    """Return the link a secret opens, noting when it was last seen (at most every few minutes; commits then).

    Raises LinkUnknown for a secret that opens no link, LinkRevoked for a
    revoked one.
    """
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        raise LinkUnknown(N_("This display link does not exist. Ask an administrator for a new one."))
    link = db.session.execute(
        select(DisplayLink).where(DisplayLink.token_hash == hash_secret(secret))
    ).scalar_one_or_none()
    if link is None:
        raise LinkUnknown(N_("This display link does not exist. Ask an administrator for a new one."))
    if link.revoked_at is not None:
        raise LinkRevoked(N_("This display link was revoked. Ask an administrator for a new one."))
    if link.last_seen_at is None or now - link.last_seen_at >= SEEN_EVERY:
        link.last_seen_at = now
        db.session.commit()
    return link


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Period:
    first: date
    last: date


def period(now: datetime) -> Period:
    """Return the display's period: the last PERIOD_DAYS local days, today included."""
    today = reports.local_day(now)
    return Period(first=today - timedelta(days=PERIOD_DAYS - 1), last=today)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _change(current: int | float | None, before: int | float | None) -> int | float | None:
    if current is None or before is None:
        return None
    return (
        round(current - before, 1)
        if isinstance(current, float) or isinstance(before, float)
        else current - before
    )


def figures(centre_id: int | None, *, now: datetime, locale: str) -> dict:
    """Return the display's figures for one centre (or all, None) as plain JSON values.

    Only counts, shares and the centres' names: nothing about a person.
    """
    window = period(now)
    centres = [
        c
        for c in db.session.execute(
            select(Centre).where(Centre.is_active.is_(True)).order_by(Centre.sort_order, Centre.id)
        ).scalars()
        if centre_id is None or c.id == centre_id
    ]
    if centre_id is not None and not centres:
        centre = db.session.get(Centre, centre_id)
        centres = [centre] if centre is not None else []
    centre_ids = [c.id for c in centres]
    filters = reports.Filters(first=window.first, last=window.last, centre_id=centre_id)
    counted = now_counts.current(filters, now, by=("centre_id",), backlog_by=True)
    by_centre = _centre_figures(filters, counted, centre_ids)
    total = reports.Figures()
    for row in by_centre.values():
        for name in (
            "received",
            "resolved",
            "rating_sum",
            "rating_count",
            "backlog",
            "breached_now",
            "at_risk_now",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    previous = _period_sums(promises.previous_period(filters), centre_id)
    comparisons = promises.compare(filters, centre_ids, promises.standard_instant(filters, now))
    standard = {(c.centre_id, c.target): c for c in comparisons}

    targets = []
    for target in TARGET_COLUMNS:
        shown = [standard[(cid, target)] for cid in centre_ids if (cid, target) in standard]
        if not shown:
            continue
        met = sum(c.met for c in shown)
        breached = sum(c.breached for c in shown)
        previous_met = sum(c.previous_met for c in shown)
        previous_breached = sum(c.previous_breached for c in shown)
        promised = [c for c in shown if c.share is not None and c.met_percent is not None]
        entry = {
            "target": target,
            "met_percent": _percent(None if met + breached == 0 else 100.0 * met / (met + breached)),
            "measured": met + breached,
            "previous_percent": _percent(
                None
                if previous_met + previous_breached == 0
                else 100.0 * previous_met / (previous_met + previous_breached)
            ),
            "centres_kept": sum(1 for c in promised if c.is_kept),
            "centres_measured": len(promised),
        }
        entry["change"] = _change(entry["met_percent"], entry["previous_percent"])
        if len(centre_ids) == 1:
            only = shown[0]
            entry["promised_percent"] = _percent(only.promised_percent)
            entry["kept"] = only.is_kept
        else:
            entry["promised_percent"] = None
            entry["kept"] = None if not promised else all(c.is_kept for c in promised)
        targets.append(entry)
    shown_targets = [t["target"] for t in targets]

    satisfaction = total.satisfaction
    previous_satisfaction = (
        (previous["rating_sum"] / previous["rating_count"]) if previous["rating_count"] else None
    )
    grid = []
    for centre in centres:
        row = by_centre[centre.id]
        cells = {}
        for target in shown_targets:
            comparison = standard.get((centre.id, target))
            cells[target] = (
                None
                if comparison is None
                else {
                    "met_percent": _percent(comparison.met_percent),
                    "promised_percent": _percent(comparison.promised_percent),
                    "kept": comparison.is_kept,
                    "gap": _percent(comparison.gap),
                }
            )
        grid.append(
            {
                "code": centre.code,
                "name": centre.name_for(locale),
                "received": row.received,
                "resolved": row.resolved,
                "backlog": row.backlog,
                "breached_now": row.breached_now,
                "at_risk_now": row.at_risk_now,
                "satisfaction": None if row.satisfaction is None else round(row.satisfaction, 2),
                "targets": cells,
            }
        )
    return {
        "as_of": now.isoformat(),
        # When the backlog, breached and at-risk counts were made: the stored counts' instant, None when
        # they were counted for this request (the stored ones missing or out of date).
        "now_counted_at": None if counted.counted_at is None else counted.counted_at.isoformat(),
        "period": {"first": window.first.isoformat(), "last": window.last.isoformat(), "days": PERIOD_DAYS},
        "scope": None if centre_id is None else (centres[0].code if centres else None),
        "kpis": {
            "received": {"value": total.received, "change": total.received - previous["received"]},
            "resolved": {"value": total.resolved, "change": total.resolved - previous["resolved"]},
            "backlog": {"value": total.backlog},
            "breached_now": {"value": total.breached_now},
            "at_risk_now": {"value": total.at_risk_now},
            "satisfaction": {
                "value": None if satisfaction is None else round(satisfaction, 2),
                "change": None
                if satisfaction is None or previous_satisfaction is None
                else round(satisfaction - previous_satisfaction, 2),
                "rated": total.rating_count,
            },
        },
        "targets": targets,
        "centres": grid,
        "trend": _trend(centre_id, reports.local_day(now)),
    }


# figures(), kept per (centre, language) for a few seconds: every screen
# showing the same scope in a web process shares one computation.
_cache: dict[tuple[int | None, str], tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def shared_figures(centre_id: int | None, *, now: datetime, locale: str, max_age: float) -> dict:
    """Return ``figures()``, computed at most once every ``max_age`` seconds per centre and language.

    The "now" counts cost in proportion to the open and late requests (tens
    of milliseconds at a million tickets); a campus with a screen in every
    centre's office asks for the same figures many times a minute. The
    payload's ``as_of`` says when they were counted, and the screen shows it.
    ``max_age`` 0 computes every time.
    """
    if max_age <= 0:
        return figures(centre_id, now=now, locale=locale)
    key = (centre_id, locale)
    with _cache_lock:
        kept = _cache.get(key)
    if kept is not None and time.monotonic() - kept[0] < max_age:
        return kept[1]
    payload = figures(centre_id, now=now, locale=locale)
    with _cache_lock:
        _cache[key] = (time.monotonic(), payload)
    return payload


def _centre_figures(
    filters: reports.Filters, counted: now_counts.NowFigures, centre_ids: list[int]
) -> dict[int, reports.Figures]:
    """Return per centre the period's sums from the daily summary and the "now" counts (``counted``).

    The dashboards' definitions (the summary's columns; ``now_counts``), by
    centre only: the display needs no ageing, no awaiting confirmation and
    no per-category or per-technician split, which are most of
    ``reports.figures_by``'s cost at a million tickets (docs/dashboards.md,
    the wall display).
    """
    result = {cid: reports.Figures(key=cid) for cid in centre_ids}
    columns = ("received", "resolved", "rating_sum", "rating_count")
    sums = select(
        DailyStat.centre_id, *(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in columns)
    ).where(
        DailyStat.day >= filters.first, DailyStat.day <= filters.last, DailyStat.centre_id.in_(centre_ids)
    )
    for cid, *values in db.session.execute(sums.group_by(DailyStat.centre_id)):
        for name, value in zip(columns, values, strict=True):
            setattr(result[cid], name, int(value or 0))
    for name in ("backlog", "breached_now", "at_risk_now"):
        for cid, number in counted.by[name]["centre_id"].items():
            if cid in result:
                setattr(result[cid], name, number)
    return result


def _period_sums(filters: reports.Filters, centre_id: int | None) -> dict[str, int]:
    """Return received, resolved and the ratings of the period before, from the daily summary."""
    columns = ("received", "resolved", "rating_sum", "rating_count")
    query = select(*(func.coalesce(func.sum(getattr(DailyStat, c)), 0) for c in columns)).where(
        DailyStat.day >= filters.first, DailyStat.day <= filters.last
    )
    if centre_id is not None:
        query = query.where(DailyStat.centre_id == centre_id)
    values = db.session.execute(query).one()
    return {name: int(value or 0) for name, value in zip(columns, values, strict=True)}


def _trend(centre_id: int | None, today: date) -> list[dict]:
    """Return received and resolved per local day over the last TREND_DAYS days (zeros too)."""
    first = today - timedelta(days=TREND_DAYS - 1)
    query = (
        select(
            DailyStat.day,
            func.coalesce(func.sum(DailyStat.received), 0),
            func.coalesce(func.sum(DailyStat.resolved), 0),
        )
        .where(DailyStat.day >= first, DailyStat.day <= today)
        .group_by(DailyStat.day)
    )
    if centre_id is not None:
        query = query.where(DailyStat.centre_id == centre_id)
    counted = {day: (int(r), int(s)) for day, r, s in db.session.execute(query)}
    days = [first + timedelta(days=n) for n in range(TREND_DAYS)]
    return [
        {"day": d.isoformat(), "received": counted.get(d, (0, 0))[0], "resolved": counted.get(d, (0, 0))[1]}
        for d in days
    ]
