"""Bulk-load a PostgreSQL database for benchmarks/sweep_bench.py: COPY, not the services.

Filing a million tickets through ``tickets.file_ticket`` would take hours,
so the rows are generated here and streamed with COPY, one connection per
table, all at once (PostgreSQL works on the previous chunk while Python
writes the next). The schema comes from the migrations, the calendars and
policies from ``sla_config.install_defaults``; only the bulk rows bypass the
services:

- closed and cancelled tickets: their events (filed, assigned, accepted,
  on site, resolved, confirmed; or filed, cancelled) and four ``ticket_slas``
  rows computed with the real calendars, exactly as ``sla._recompute`` would
  store them (``check_sample`` compares a sample with ``sla_clock.evaluate``);
  the escalations the sweep would have raised on the way (at risk, breached),
  their events and notices, and the assignment and resolution notices;
- open tickets: events up to their status; the targets already reached are
  exact, the running ones are RUNNING (PAUSED when on hold) with deadlines
  and next checks in the future. Those instants are synthetic (a real backlog
  this size would be long overdue), so nothing is due until a scenario makes
  it due;
- the breach block (the newest ``breach`` tickets): new tickets whose clocks
  are parked (``next_check_at`` NULL); the benchmark rewrites them before each
  scenario so that exactly their response targets are past due.

Foreign-key triggers are off while copying (``session_replication_role =
replica``); ``check_foreign_keys`` verifies every reference afterwards.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
import sqlalchemy as sa

TARGETS = ("response", "arrival", "resolution", "confirmation")
PRIORITIES = ("urgent", "high", "normal", "low")
SHANGHAI = 8 * 3600  # Asia/Shanghai is UTC+8 all year (no DST since 1991)

TICKET_COLS = (
    "id reference centre_id category_id location_id location_note priority status title description "
    "contact_phone source requester_id assignee_id status_before_hold hold_reason resolution_note "
    "materials_used created_at updated_at accepted_at arrived_at resolved_at closed_at cancelled_at "
    "sla_policy_version_id next_due_at is_sla_breached version"
).split()
EVENT_COLS = "id ticket_id kind actor_id created_at from_status to_status body data".split()
SLA_COLS = (
    "id ticket_id target policy_version_id calendar_version_id priority target_minutes state started_at "
    "due_at at_risk_at milestone_at elapsed_minutes paused_minutes is_pause_capped next_check_at computed_at"
).split()
ESCALATION_COLS = (
    "id ticket_id target level reason created_at acknowledged_at acknowledged_by_id next_action_at".split()
)
NOTIFICATION_COLS = (
    "id idempotency_key kind channel user_id webhook_id ticket_id escalation_id subject body link payload "
    "locale status attempts created_at next_attempt_at claimed_until sent_at read_at last_error"
).split()
TABLES = {
    "tickets": TICKET_COLS,
    "ticket_events": EVENT_COLS,
    "ticket_slas": SLA_COLS,
    "escalations": ESCALATION_COLS,
    "notifications": NOTIFICATION_COLS,
}
N = "\\N"
WEBHOOK_URL = "http://127.0.0.1:9/robot"  # loopback discard port: deliveries fail fast and are retried


# ---------------------------------------------------------------- plumbing


def conninfo(url: str) -> str:
    """Return a libpq connection string for a SQLAlchemy URL."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (ends its other sessions first)."""
    target = sa.make_url(url)
    admin = conninfo(str(target.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (target.database,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}"')
        conn.execute(f'CREATE DATABASE "{target.database}"')


def esc(text: str) -> str:
    """Escape a value for COPY's text format."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_EPOCH = date(1970, 1, 1)
_TOD = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_DAYS: dict[int, str] = {}


def ts(seconds: int) -> str:
    """Format epoch seconds as a UTC timestamp for COPY (fast: cached day strings)."""
    day, second = divmod(seconds, 86400)
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = (_EPOCH + timedelta(days=day)).isoformat()
    return f"{text} {_TOD[second]}+00"


def iso(seconds: int) -> str:
    """Format epoch seconds as ``datetime.isoformat()`` of an aware UTC datetime does."""
    day, second = divmod(seconds, 86400)
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = (_EPOCH + timedelta(days=day)).isoformat()
    return f"{text}T{_TOD[second]}+00:00"


def aware(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class CopyStreams:
    """One open COPY per table, each on its own connection, committed together by ``close``."""

    def __init__(self, url: str, tables: dict[str, list[str]]):
        self.connections, self.contexts, self.copies = {}, {}, {}
        for table, columns in tables.items():
            conn = psycopg.connect(conninfo(url))
            conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
            conn.execute("SET synchronous_commit = off")
            context = conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
            self.connections[table] = conn
            self.contexts[table] = context
            self.copies[table] = context.__enter__()

    def write(self, table: str, lines: list[str]) -> None:
        if lines:
            self.copies[table].write("".join(lines))

    def close(self) -> None:
        for table, context in self.contexts.items():
            context.__exit__(None, None, None)
            self.connections[table].commit()
            self.connections[table].close()


class Progress:
    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.started = self.last = time.perf_counter()
        self.rows = 0

    def update(self, done: int, rows: int, *, force: bool = False) -> None:
        self.rows = rows
        now = time.perf_counter()
        if force or now - self.last >= 5:
            self.last = now
            elapsed = now - self.started
            print(
                f"  {self.label}: {done:,}/{self.total:,} tickets, {rows:,} rows, "
                f"{rows / elapsed:,.0f} rows/s, {elapsed:.0f} s",
                flush=True,
            )


# ---------------------------------------------------------------- catalogue


@dataclass
class Catalog:
    policy_version_id: int
    policy: dict  # the stored definition of the policy every category uses
    calendar_versions: dict[str, int]  # calendar code -> version id
    calendars: dict  # calendar code -> BusinessCalendar
    centres: list[dict] = field(default_factory=list)  # id, code, prefix, weight, categories, techs, heads...
    requesters: list[int] = field(default_factory=list)
    locales: dict[int, str] = field(default_factory=dict)
    heads: dict[int, list[int]] = field(default_factory=dict)  # centre id -> head user ids
    email_off: set = field(default_factory=set)  # (user id, kind) with e-mail switched off
    webhooks: dict[int, list[int]] = field(default_factory=dict)  # centre id -> webhook ids for sla_breached


def build_catalog(ref: datetime, *, requesters: int = 3000) -> Catalog:
    """Create centres, categories, calendars, policies, users, preferences and webhooks (inside an app context)."""
    from werkzeug.security import generate_password_hash

    from tracker.demo_text import CATEGORIES, CENTRES
    from tracker.domain.roles import Role
    from tracker.extensions import db
    from tracker.models import (
        Category,
        Centre,
        NotificationPreference,
        SlaPolicyVersion,
        User,
        UserRole,
        Webhook,
        WebhookFormat,
    )
    from tracker.services.sla import clocks as sla
    from tracker.services.sla import config as sla_config
    from tracker.services.sla.holidays import known_years

    setup_at = ref - timedelta(days=5 * 366 + 30)
    years = [y for y in range(setup_at.year, ref.year + 2) if y in known_years()]
    policies = sla_config.install_defaults(actor=None, now=setup_at, china_years=years)
    # Every category runs under the four-target policy (response 30 min round
    # the clock, arrival, resolution, confirmation).
    policy = policies["repairs"]
    version = db.session.get(SlaPolicyVersion, policy.current_version_id)
    calendar_versions = {code: sla.current_calendar_version_id(code) for code in ("always", "office")}
    catalog = Catalog(
        policy_version_id=version.id,
        policy=version.definition,
        calendar_versions=calendar_versions,
        calendars={code: sla.calendar_version(vid) for code, vid in calendar_versions.items()},
    )
    for order, spec in enumerate(CENTRES, start=1):
        centre = Centre(
            code=spec.code,
            ref_prefix=spec.prefix,
            name_en=spec.name_en,
            name_zh=spec.name_zh,
            description_zh=spec.description[0],
            description_en=spec.description[1],
            sort_order=order * 10,
            created_at=setup_at,
        )
        db.session.add(centre)
        db.session.flush()
        categories = []
        for position, cat in enumerate(CATEGORIES.get(spec.code, ()), start=1):
            row = Category(
                centre_id=centre.id,
                code=cat.code,
                name_en=cat.name_en,
                name_zh=cat.name_zh,
                default_priority=cat.priority,
                sla_policy_id=policy.id,
                sort_order=position * 10,
            )
            db.session.add(row)
            db.session.flush()
            templates = [
                (
                    esc(t[0]),
                    esc(t[1]),
                    esc(t[2]),
                    esc(t[3]),
                    esc(json.dumps(t[0], ensure_ascii=False)),
                    esc(json.dumps(t[2], ensure_ascii=False)),
                )
                for t in cat.templates
            ] or [("报修", "请尽快处理。", "Request", "Please handle it.", '"报修"', '"Request"')]
            resolutions = [esc(r[0]) for r in cat.resolutions] or ["已处理。"]
            categories.append(
                {
                    "id": row.id,
                    "priority": cat.priority.value,
                    "weight": cat.weight,
                    "templates": templates,
                    "resolutions": resolutions,
                }
            )
        catalog.centres.append(
            {
                "id": centre.id,
                "code": spec.code,
                "prefix": spec.prefix,
                "weight": spec.weight,
                "technicians": spec.technicians * 3,
                "categories": categories,
            }
        )
    db.session.commit()

    # Users: written in bulk with one shared (cheap) password hash.
    password_hash = generate_password_hash(secrets.token_urlsafe(16), method="pbkdf2:sha256:1000")
    users, roles = [], []
    created = setup_at

    def add_user(username, display, role_list, locale="zh_CN"):
        user_id = len(users) + 1
        users.append(
            {
                "id": user_id,
                "username": username,
                "display_name": display,
                "email": f"{username}@campus.example.edu.cn",
                "phone": None,
                "password_hash": password_hash,
                "locale": locale,
                "is_active": True,
                "session_token": secrets.token_hex(8),
                "created_at": created,
                "last_login_at": None,
            }
        )
        for role, centre_id in role_list:
            roles.append({"user_id": user_id, "role": role.value, "centre_id": centre_id})
        catalog.locales[user_id] = locale
        return user_id

    for n in range(1, requesters + 1):
        kind = "student" if n % 5 else "staff"
        locale = "en" if n % 23 == 0 else "zh_CN"
        catalog.requesters.append(
            add_user(f"{kind}{n:05d}", f"{kind.title()} {n}", [(Role.REQUESTER, None)], locale)
        )
    for centre in catalog.centres:
        code, cid = centre["code"], centre["id"]
        centre["techs"] = [
            add_user(f"tech{n}.{code}", f"Tech {n} {code}", [(Role.TECHNICIAN, cid), (Role.REQUESTER, None)])
            for n in range(1, centre["technicians"] + 1)
        ]
        centre["dispatchers"] = [
            add_user(f"dispatch{n}.{code}", f"Dispatcher {n} {code}", [(Role.DISPATCHER, cid)])
            for n in (1, 2)
        ]
        catalog.heads[cid] = [
            add_user(f"head{n}.{code}", f"Head {n} {code}", [(Role.CENTRE_HEAD, cid)]) for n in (1, 2)
        ]
    for n in (1, 2, 3):
        add_user(f"leader{n}", f"Leader {n}", [(Role.LEADERSHIP, None)])
    add_user("admin", "Admin", [(Role.ADMIN, None)])
    db.session.execute(sa.insert(User.__table__), users)
    db.session.execute(sa.insert(UserRole.__table__), roles)

    # Some people switched e-mail off: the second head of every other centre
    # for SLA notices, a few requesters for resolutions.
    preferences = []
    for index, centre in enumerate(catalog.centres):
        if index % 2:
            head = catalog.heads[centre["id"]][1]
            for kind in ("sla_breached", "sla_at_risk"):
                preferences.append({"user_id": head, "kind": kind, "channel": "email", "is_enabled": False})
                catalog.email_off.add((head, kind))
    for user_id in catalog.requesters[::97]:
        preferences.append(
            {"user_id": user_id, "kind": "ticket_resolved", "channel": "email", "is_enabled": False}
        )
        catalog.email_off.add((user_id, "ticket_resolved"))
    db.session.execute(sa.insert(NotificationPreference.__table__), preferences)

    repairs = next(c for c in catalog.centres if c["code"] == "repairs")
    robot = Webhook(
        name="Repairs duty group (WeCom robot)",
        url=WEBHOOK_URL,
        format=WebhookFormat.WECOM,
        centre_id=repairs["id"],
        kinds=["sla_breached", "sla_escalated"],
        created_at=setup_at,
    )
    leadership = Webhook(
        name="Leadership (generic)",
        url=WEBHOOK_URL,
        format=WebhookFormat.GENERIC,
        centre_id=None,
        kinds=["sla_escalated"],
        created_at=setup_at,
    )
    db.session.add_all([robot, leadership])
    db.session.commit()
    catalog.webhooks[repairs["id"]] = [robot.id]
    for table in ("users", "user_roles"):
        db.session.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )
    db.session.commit()
    return catalog


# ---------------------------------------------------------------- tickets


@dataclass
class Plan:
    tickets: int
    open: int
    breach: int
    ref: int  # epoch seconds: "now" when loaded
    seed: int
    history_notices: bool = True
    has_is_open: bool = False  # tickets.is_open exists (migration 0004): fill it from the status


@dataclass
class LoadResult:
    rows: dict[str, int]
    seconds: float
    breach_lo: int
    breach_hi: int
    counters: dict[tuple[str, int], int]
    open_ids_sample: list[int]
    closed_ids_sample: list[int]


def _lognormal(rng, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def load_tickets(url: str, catalog: Catalog, plan: Plan, *, chunk: int = 20_000) -> LoadResult:
    """Generate and COPY the tickets and everything hanging off them."""
    rng = random.Random(plan.seed)
    rand, randint, uniform, choices = rng.random, rng.randint, rng.uniform, rng.choices
    total, breach = plan.tickets, plan.breach
    breach_lo = total - breach + 1
    ref = plan.ref

    # Who is open: the breach block, and the background backlog weighted towards recent tickets.
    background = plan.open - breach
    window = max(background * 3, min(total - breach, int(total * 0.4)))
    window = min(window, total - breach)
    open_ids: set[int] = set()
    while len(open_ids) < background:
        open_ids.add(breach_lo - 1 - int(window * rand() ** 1.5))
    cancelled_share = 50 / 850

    span_start = ref - (5 * 365 + 1) * 86400
    days = (ref - 3600 - span_start) // 86400
    # Filing time of day (local): quiet at night, peaks at 9-11 and 14-16.
    hour_weights = [1, 0.5, 0.3, 0.3, 0.3, 0.6, 1.5, 4, 9, 11, 10, 8, 5, 7, 10, 10, 9, 7, 5, 4, 4, 3, 2, 1.5]
    cum_hours, acc = [], 0.0
    for w in hour_weights:
        acc += w
        cum_hours.append(acc)
    hours = list(range(24))

    centres = catalog.centres
    centre_cum, acc = [], 0.0
    for c in centres:
        acc += c["weight"]
        centre_cum.append(acc)
        cat_acc, cat_cum = 0.0, []
        for cat in c["categories"]:
            cat_acc += cat["weight"]
            cat_cum.append(cat_acc)
        c["cat_cum"] = cat_cum
    requesters = catalog.requesters
    locales = catalog.locales
    email_off = catalog.email_off
    heads = catalog.heads
    hooks = catalog.webhooks

    policy_targets = catalog.policy["targets"]
    minutes = {t: {p: float(policy_targets[t]["minutes"][p]) for p in PRIORITIES} for t in TARGETS}
    share = {t: float(policy_targets[t].get("at_risk", 0.75)) for t in TARGETS}
    cal_code = {t: policy_targets[t]["calendar"] for t in TARGETS}
    cal_version = {t: catalog.calendar_versions[cal_code[t]] for t in TARGETS}
    cals = catalog.calendars
    pv = catalog.policy_version_id
    ack_minutes = float((catalog.policy.get("escalation") or {}).get("ack_minutes", 30))

    def clock(target, prio, start, end, reached):
        """Return (state, due, at_risk, elapsed minutes) of a finished target: reached or cancelled at ``end``."""
        seconds = minutes[target][prio] * 60.0
        if cal_code[target] == "always":
            due = start + int(seconds)
            risk = start + int(seconds * share[target])
            elapsed = (end - start) / 60.0
        else:
            calendar = cals[cal_code[target]]
            due = int(round(calendar.deadline_seconds(start, seconds)))
            risk = int(round(calendar.deadline_seconds(start, seconds * share[target])))
            elapsed = calendar.business_seconds(start, end) / 60.0 if end > start else 0.0
        if reached:
            state = "met" if end <= due else "breached"
        else:
            state = "breached" if due < end else "cancelled"
        return state, due, risk, round(elapsed, 4)

    counters: dict[tuple[str, int], int] = {}
    tables = dict(TABLES)
    if plan.has_is_open:
        tables["tickets"] = [*TICKET_COLS, "is_open"]
    open_suffix = "\tt\n" if plan.has_is_open else "\n"
    closed_suffix = "\tf\n" if plan.has_is_open else "\n"
    rows = dict.fromkeys(TABLES, 0)
    ids = dict.fromkeys(TABLES, 0)
    buffers = {t: [] for t in TABLES}
    streams = CopyStreams(url, tables)
    progress = Progress(total, "tickets")
    started = time.perf_counter()
    open_sample, closed_sample = [], []

    tb, eb, sb, xb, nb = (buffers[t] for t in TABLES)

    def event(ticket_id, kind, actor, at, from_status, to_status, body, data):
        ids["ticket_events"] += 1
        eb.append(
            f"{ids['ticket_events']}\t{ticket_id}\t{kind}\t{actor if actor else N}\t{ts(at)}\t"
            f"{from_status or N}\t{to_status or N}\t{body}\t{data}\n"
        )
        return ids["ticket_events"]

    def notice(
        key,
        kind,
        channel,
        user_id,
        webhook_id,
        ticket_id,
        escalation_id,
        subject,
        link,
        payload,
        locale,
        at,
        read,
    ):
        ids["notifications"] += 1
        sent = ts(at + randint(1, 20))
        in_app = channel == "in_app"
        nb.append(
            f"{ids['notifications']}\t{key}\t{kind}\t{channel}\t{user_id or N}\t{webhook_id or N}\t{ticket_id}\t"
            f"{escalation_id or N}\t{subject}\t\t{link}\t{payload}\t{locale}\tsent\t{0 if in_app else 1}\t"
            f"{ts(at)}\t{ts(at)}\t{N}\t{ts(at) if in_app else sent}\t{ts(read) if (in_app and read) else N}\t\n"
        )

    def to_people(key, kind, people, ticket_id, escalation_id, subject, link, payload, at, centre_id):
        for user_id in people:
            notice(
                f"{key}:in_app:u{user_id}",
                kind,
                "in_app",
                user_id,
                None,
                ticket_id,
                escalation_id,
                subject,
                link,
                payload,
                locales.get(user_id, "zh_CN"),
                at,
                at + randint(60, 86400) if rand() < 0.8 else 0,
            )
            if (user_id, kind) not in email_off:
                notice(
                    f"{key}:email:u{user_id}",
                    kind,
                    "email",
                    user_id,
                    None,
                    ticket_id,
                    escalation_id,
                    subject,
                    link,
                    payload,
                    locales.get(user_id, "zh_CN"),
                    at,
                    0,
                )
        if centre_id is not None and kind == "sla_breached":
            for hook in hooks.get(centre_id, ()):
                notice(
                    f"{key}:webhook:w{hook}",
                    kind,
                    "webhook",
                    None,
                    hook,
                    ticket_id,
                    escalation_id,
                    subject,
                    link,
                    payload,
                    "zh_CN",
                    at,
                    0,
                )

    def escalate(ticket_id, target, level, at, due, ref_text, title_json, centre_id, people, acker):
        """Write a past escalation the sweep raised at ``at``, its event and its notices."""
        ids["escalations"] += 1
        escalation_id = ids["escalations"]
        reason = "at_risk" if level == 1 else "breached"
        acknowledged = at + randint(60, int(ack_minutes * 60))
        xb.append(
            f"{escalation_id}\t{ticket_id}\t{target}\t{level}\t{reason}\t{ts(at)}\t{ts(acknowledged)}\t"
            f"{acker}\t{N}\n"
        )
        due_iso = iso(due)
        event(
            ticket_id,
            "sla_at_risk" if level == 1 else "sla_breached",
            None,
            at,
            None,
            None,
            "",
            f'{{"target": "{target}", "level": {level}, "reason": "{reason}", "escalation_id": {escalation_id}, '
            f'"due_at": "{due_iso}"}}',
        )
        if plan.history_notices:
            kind = "sla_at_risk" if level == 1 else "sla_breached"
            payload = (
                f'{{"reference": "{ref_text}", "title": {title_json}, "target": "{target}", "level": {level}, '
                f'"reason": "{reason}", "due_at": "{due_iso}"}}'
            )
            to_people(
                f"sla:{ticket_id}:{target}:{level}",
                kind,
                people,
                ticket_id,
                escalation_id,
                f"{ref_text} {target} level {level} ({reason})",
                f"/tickets/{ref_text}",
                payload,
                at,
                centre_id,
            )

    def sla_row(
        ticket_id, target, prio, state, started, due, risk, milestone, elapsed, paused, next_check, computed
    ):
        ids["ticket_slas"] += 1
        sb.append(
            f"{ids['ticket_slas']}\t{ticket_id}\t{target}\t{pv}\t{cal_version[target]}\t{prio}\t"
            f"{minutes[target][prio]}\t{state}\t{ts(started) if started else N}\t{ts(due) if due else N}\t"
            f"{ts(risk) if risk else N}\t{ts(milestone) if milestone else N}\t{elapsed}\t{paused}\tf\t"
            f"{ts(next_check) if next_check else N}\t{ts(computed)}\n"
        )

    def future_running(ticket_id, target, prio, started, computed, paused=False):
        """A running (or paused) target whose deadline lies in the future: synthetic instants."""
        at_risk = ref + randint(12 * 3600, 30 * 86400)
        due = at_risk + randint(600, 2 * 86400)
        elapsed = round(uniform(0, minutes[target][prio] * 0.7), 4)
        if paused:
            sla_row(
                ticket_id,
                target,
                prio,
                "paused",
                started,
                due,
                at_risk,
                None,
                elapsed,
                round(uniform(10, 600), 4),
                ref + randint(12 * 3600, 5 * 86400),
                computed,
            )
        else:
            sla_row(
                ticket_id,
                target,
                prio,
                "running",
                started,
                due,
                at_risk,
                None,
                elapsed,
                0.0,
                at_risk,
                computed,
            )
        return due

    for ticket_id in range(1, total + 1):
        # Where, what, who.
        centre = centres[_pick(centre_cum, rand())]
        category = centre["categories"][_pick(centre["cat_cum"], rand())]
        centre_id = centre["id"]
        template = category["templates"][randint(0, len(category["templates"]) - 1)]
        requester = requesters[randint(0, len(requesters) - 1)]
        english = locales.get(requester) == "en"
        title, description, title_json = (
            (template[2], template[3], template[5]) if english else (template[0], template[1], template[4])
        )
        prio = category["priority"]
        roll = rand()
        if roll < 0.08:
            prio = PRIORITIES[max(0, PRIORITIES.index(prio) - 1)]
        elif roll < 0.14:
            prio = PRIORITIES[min(3, PRIORITIES.index(prio) + 1)]
        techs = centre["techs"]
        tech = techs[randint(0, len(techs) - 1)]
        source = "qr" if rand() < 0.3 else "web"

        is_breach = ticket_id >= breach_lo
        is_open = is_breach or ticket_id in open_ids
        if is_breach:
            filed = ref - randint(60, 600)
        else:
            day = span_start // 86400 + (ticket_id - 1) * days // (total - breach)
            hour = hours[_pick(cum_hours, rand())]
            filed = day * 86400 + hour * 3600 + randint(0, 3599) - SHANGHAI
            filed = min(filed, ref - 3600)
        local_year = _local_year(filed)
        key = (centre["prefix"], local_year)
        counters[key] = counters.get(key, 0) + 1
        ref_text = f"{centre['prefix']}-{local_year}-{counters[key]:06d}"
        link = f"/tickets/{ref_text}"
        filed_data = f'{{"priority": "{prio}", "category_id": {category["id"]}, "source": "{source}"}}'
        event(ticket_id, "filed", requester, filed, None, "new", "", filed_data)

        accepted_at = arrived_at = resolved_at = closed_at = cancelled_at = None
        assignee = None
        hold_reason = None
        status_before_hold = None
        resolution_note = ""
        breached = False
        next_due = None
        version = 1

        if is_breach:
            # Parked: the benchmark sets real instants before each scenario.
            status = "new"
            for target in TARGETS:
                if target == "confirmation":
                    sla_row(ticket_id, target, prio, "pending", None, None, None, None, 0.0, 0.0, None, filed)
                else:
                    due = ref + 2 * 86400
                    sla_row(
                        ticket_id,
                        target,
                        prio,
                        "running",
                        filed,
                        due,
                        due - 3600,
                        None,
                        0.0,
                        0.0,
                        None,
                        filed,
                    )
            next_due = ref + 2 * 86400
            last = filed
        else:
            # A life: assign, accept, arrive, resolve, confirm (or cancel early).
            assign = filed + randint(30, 900)
            accept = assign + int(_lognormal(rng, 300, 0.8)) + 30
            arrive = accept + int(_lognormal(rng, 3600, 0.9)) + 60
            resolve = arrive + int(_lognormal(rng, 9000, 1.0)) + 300
            confirm = resolve + min(int(_lognormal(rng, 20 * 3600, 1.0)) + 600, 80 * 3600)
            horizon = ref - 120
            if is_open:
                status = choices(
                    ("accepted", "in_progress", "on_hold", "resolved", "reopened"),
                    cum_weights=(25, 60, 75, 95, 100),
                )[0]
                last_planned = {
                    "accepted": accept,
                    "in_progress": arrive,
                    "on_hold": arrive + 600,
                    "resolved": resolve,
                    "reopened": resolve + 3600,
                }[status]
            else:
                status = "cancelled" if rand() < cancelled_share else "closed"
                last_planned = confirm if status == "closed" else assign + 600
            if last_planned > horizon:
                # Filed recently: the same story, compressed to fit before now.
                factor = (horizon - filed) / (last_planned - filed)
                assign, accept, arrive, resolve, confirm = (
                    filed + max(1, int((x - filed) * factor))
                    for x in (assign, accept, arrive, resolve, confirm)
                )
                accept, arrive, resolve, confirm = (
                    max(accept, assign + 1),
                    max(arrive, accept + 2),
                    max(resolve, arrive + 3),
                    max(confirm, resolve + 4),
                )

            if status == "cancelled":
                cancelled_at = min(assign + randint(60, 3 * 3600), horizon)
                was_assigned = rand() < 0.5 and assign < cancelled_at
                prev = "new"
                if was_assigned:
                    assignee = tech
                    event(
                        ticket_id,
                        "assigned",
                        centre["dispatchers"][0],
                        assign,
                        "new",
                        "assigned",
                        "",
                        f'{{"action": "assign", "assignee_id": {tech}, "previous_assignee_id": null}}',
                    )
                    prev = "assigned"
                    version += 1
                event(
                    ticket_id,
                    "status_changed",
                    requester,
                    cancelled_at,
                    prev,
                    "cancelled",
                    "不需要了。",
                    '{"action": "cancel"}',
                )
                version += 1
                for target in TARGETS:
                    if target == "confirmation":
                        sla_row(
                            ticket_id,
                            target,
                            prio,
                            "pending",
                            None,
                            None,
                            None,
                            None,
                            0.0,
                            0.0,
                            None,
                            cancelled_at,
                        )
                        continue
                    state, due, risk, elapsed = clock(target, prio, filed, cancelled_at, False)
                    breached |= state == "breached"
                    if risk < cancelled_at:
                        escalate(
                            ticket_id,
                            target,
                            1,
                            risk + randint(0, 2),
                            due,
                            ref_text,
                            title_json,
                            centre_id,
                            [assignee] if assignee else centre["dispatchers"],
                            assignee or centre["dispatchers"][0],
                        )
                    if state == "breached":
                        escalate(
                            ticket_id,
                            target,
                            2,
                            due + randint(1, 3),
                            due,
                            ref_text,
                            title_json,
                            centre_id,
                            heads[centre_id],
                            heads[centre_id][0],
                        )
                    sla_row(
                        ticket_id,
                        target,
                        prio,
                        state,
                        filed,
                        due,
                        risk,
                        None,
                        elapsed,
                        0.0,
                        None,
                        cancelled_at,
                    )
                last = cancelled_at
            else:
                assignee = tech
                assign_event = event(
                    ticket_id,
                    "assigned",
                    centre["dispatchers"][0],
                    assign,
                    "new",
                    "assigned",
                    "",
                    f'{{"action": "assign", "assignee_id": {tech}, "previous_assignee_id": null}}',
                )
                event(
                    ticket_id,
                    "status_changed",
                    tech,
                    accept,
                    "assigned",
                    "accepted",
                    "",
                    '{"action": "accept"}',
                )
                accepted_at = accept
                version += 2
                if plan.history_notices:
                    key_base = f"ticket:{ticket_id}:event:{assign_event}"
                    payload = f'{{"reference": "{ref_text}", "title": {title_json}}}'
                    to_people(
                        key_base,
                        "ticket_assigned",
                        [tech],
                        ticket_id,
                        None,
                        f"{ref_text} ticket_assigned",
                        link,
                        payload,
                        assign,
                        None,
                    )
                steps = {
                    "accepted": 0,
                    "in_progress": 1,
                    "on_hold": 2,
                    "resolved": 3,
                    "reopened": 4,
                    "closed": 5,
                }
                depth = steps[status]
                if depth >= 1:
                    event(
                        ticket_id,
                        "status_changed",
                        tech,
                        arrive,
                        "accepted",
                        "in_progress",
                        "",
                        '{"action": "arrive"}',
                    )
                    arrived_at = arrive
                    version += 1
                hold_at = None
                if depth == 2:
                    hold_reason = "waiting_parts" if rand() < 0.6 else "third_party"
                    status_before_hold = "in_progress"
                    hold_at = min(arrive + 600, horizon)
                    event(
                        ticket_id,
                        "status_changed",
                        tech,
                        hold_at,
                        "in_progress",
                        "on_hold",
                        "",
                        f'{{"action": "hold", "hold_reason": "{hold_reason}"}}',
                    )
                    version += 1
                if depth >= 3:
                    resolution_note = category["resolutions"][randint(0, len(category["resolutions"]) - 1)]
                    resolve_event = event(
                        ticket_id,
                        "status_changed",
                        tech,
                        resolve,
                        "in_progress",
                        "resolved",
                        resolution_note,
                        '{"action": "resolve"}',
                    )
                    resolved_at = resolve
                    version += 1
                    if plan.history_notices:
                        key_base = f"ticket:{ticket_id}:event:{resolve_event}"
                        payload = f'{{"reference": "{ref_text}", "title": {title_json}}}'
                        to_people(
                            key_base,
                            "ticket_resolved",
                            [requester],
                            ticket_id,
                            None,
                            f"{ref_text} ticket_resolved",
                            link,
                            payload,
                            resolve,
                            None,
                        )
                reopen_at = None
                if depth == 4:
                    reopen_at = min(resolve + 3600, horizon)
                    event(
                        ticket_id,
                        "status_changed",
                        requester,
                        reopen_at,
                        "resolved",
                        "reopened",
                        "还是坏的。",
                        '{"action": "reopen"}',
                    )
                    version += 1
                if depth == 5:
                    event(
                        ticket_id,
                        "status_changed",
                        requester,
                        confirm,
                        "resolved",
                        "closed",
                        "",
                        '{"action": "confirm", "automatic": false}',
                    )
                    closed_at = confirm
                    version += 1
                last = {0: accept, 1: arrive, 2: hold_at, 3: resolve, 4: reopen_at, 5: confirm}[depth]

                # The targets: exact where reached, synthetic (future) where still running.
                reached = {
                    "response": accept,
                    "arrival": arrive if depth >= 1 else None,
                    "resolution": resolve if depth in (3, 5) else None,
                    "confirmation": confirm if depth == 5 else None,
                }
                starts = {
                    "response": filed,
                    "arrival": filed,
                    "resolution": filed,
                    "confirmation": resolve if depth in (3, 5) else None,
                }
                for target in TARGETS:
                    start = starts[target]
                    if start is None:
                        sla_row(
                            ticket_id, target, prio, "pending", None, None, None, None, 0.0, 0.0, None, last
                        )
                        continue
                    milestone = reached[target]
                    if milestone is None:
                        due = future_running(
                            ticket_id,
                            target,
                            prio,
                            start,
                            last,
                            paused=(depth == 2 and target == "resolution"),
                        )
                        if depth != 2 or target != "resolution":
                            next_due = due if next_due is None else min(next_due, due)
                        continue
                    state, due, risk, elapsed = clock(target, prio, start, milestone, True)
                    breached |= state == "breached"
                    if risk < milestone:
                        escalate(
                            ticket_id,
                            target,
                            1,
                            risk + randint(0, 2),
                            due,
                            ref_text,
                            title_json,
                            centre_id,
                            [tech],
                            tech,
                        )
                    if state == "breached":
                        escalate(
                            ticket_id,
                            target,
                            2,
                            due + randint(1, 3),
                            due,
                            ref_text,
                            title_json,
                            centre_id,
                            heads[centre_id],
                            heads[centre_id][0],
                        )
                    sla_row(
                        ticket_id, target, prio, state, start, due, risk, milestone, elapsed, 0.0, None, last
                    )
                if is_open and len(open_sample) < 2000 and rand() < 0.05:
                    open_sample.append(ticket_id)
                if status == "closed" and len(closed_sample) < 2000 and rand() < 0.01:
                    closed_sample.append(ticket_id)

        tb.append(
            f"{ticket_id}\t{ref_text}\t{centre_id}\t{category['id']}\t{N}\t\t{prio}\t{status}\t{title}\t"
            f"{description}\t\t{source}\t{requester}\t{assignee or N}\t{status_before_hold or N}\t"
            f"{hold_reason or N}\t{resolution_note}\t\t{ts(filed)}\t{ts(last)}\t"
            f"{ts(accepted_at) if accepted_at else N}\t{ts(arrived_at) if arrived_at else N}\t"
            f"{ts(resolved_at) if resolved_at else N}\t{ts(closed_at) if closed_at else N}\t"
            f"{ts(cancelled_at) if cancelled_at else N}\t{pv}\t{ts(next_due) if next_due else N}\t"
            f"{'t' if breached else 'f'}\t{version}{open_suffix if status not in ('closed', 'cancelled', 'resolved') else closed_suffix}"
        )
        ids["tickets"] += 1

        if ticket_id % chunk == 0 or ticket_id == total:
            for table, buffer in buffers.items():
                streams.write(table, buffer)
                rows[table] = ids[table]
                buffer.clear()
            progress.update(ticket_id, sum(rows.values()), force=ticket_id == total)

    print("  committing the COPY streams (PostgreSQL finishes the last chunks)...", flush=True)
    streams.close()
    return LoadResult(
        rows=dict(ids),
        seconds=time.perf_counter() - started,
        breach_lo=breach_lo,
        breach_hi=total,
        counters=counters,
        open_ids_sample=open_sample,
        closed_ids_sample=closed_sample,
    )


def _pick(cumulative: list[float], fraction: float) -> int:
    """Return the index drawn by ``fraction`` (0 <= fraction < 1) from cumulative weights."""
    return min(bisect_right(cumulative, fraction * cumulative[-1]), len(cumulative) - 1)


_YEARS: dict[int, int] = {}


def _local_year(seconds: int) -> int:
    """Return the campus-local year of an instant (epoch seconds)."""
    day = (seconds + SHANGHAI) // 86400
    year = _YEARS.get(day)
    if year is None:
        year = _YEARS[day] = (_EPOCH + timedelta(days=day)).year
    return year


# ---------------------------------------------------------------- after loading


def finish(url: str, result: LoadResult) -> None:
    """Reset the id sequences, store the reference counters, vacuum and analyse."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        for table in ("tickets", "ticket_events", "ticket_slas", "escalations", "notifications"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reference_counters (prefix, year, last_value) VALUES (%s, %s, %s)",
                [(prefix, year, value) for (prefix, year), value in result.counters.items()],
            )
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("VACUUM (ANALYZE)")
        print(f"  VACUUM (ANALYZE): {time.perf_counter() - started:.1f} s", flush=True)


def check_foreign_keys(url: str) -> list[str]:
    """Return the references that point nowhere (FK triggers were off while copying)."""
    checks = {
        "ticket_events.ticket_id": "SELECT count(*) FROM ticket_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM tickets t WHERE t.id = e.ticket_id)",
        "ticket_events.actor_id": "SELECT count(*) FROM ticket_events e WHERE e.actor_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = e.actor_id)",
        "ticket_slas.ticket_id": "SELECT count(*) FROM ticket_slas s WHERE NOT EXISTS "
        "(SELECT 1 FROM tickets t WHERE t.id = s.ticket_id)",
        "escalations.ticket_id": "SELECT count(*) FROM escalations x WHERE NOT EXISTS "
        "(SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)",
        "notifications.ticket_id": "SELECT count(*) FROM notifications n WHERE NOT EXISTS "
        "(SELECT 1 FROM tickets t WHERE t.id = n.ticket_id)",
        "notifications.escalation_id": "SELECT count(*) FROM notifications n WHERE n.escalation_id IS NOT NULL AND "
        "NOT EXISTS (SELECT 1 FROM escalations x WHERE x.id = n.escalation_id)",
        "notifications.user_id": "SELECT count(*) FROM notifications n WHERE n.user_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = n.user_id)",
        "tickets.requester_id": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = t.requester_id)",
        "tickets.assignee_id": "SELECT count(*) FROM tickets t WHERE t.assignee_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM users u WHERE u.id = t.assignee_id)",
        "tickets.category_id": "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
        "(SELECT 1 FROM categories c WHERE c.id = t.category_id)",
    }
    problems = []
    with psycopg.connect(conninfo(url)) as conn:
        for name, query in checks.items():
            missing = conn.execute(query).fetchone()[0]
            if missing:
                problems.append(f"{name}: {missing} rows point nowhere")
    return problems


def check_sample(ticket_ids: list[int], now: datetime) -> list[str]:
    """Compare the stored rows of finished targets with ``sla_clock.evaluate`` on the tickets' events.

    Inside an app context. Running targets of open tickets are synthetic and
    left out; every target that reached its milestone, or was cancelled, must
    match to the second.
    """
    from sqlalchemy import select

    from tracker.domain.sla_clock import TargetState, evaluate
    from tracker.extensions import db
    from tracker.models import SlaPolicyVersion, Ticket, TicketSla
    from tracker.services.sla import clocks as sla

    problems = []
    for ticket_id in ticket_ids:
        ticket = db.session.get(Ticket, ticket_id)
        rows = {
            r.target: r
            for r in db.session.execute(select(TicketSla).where(TicketSla.ticket_id == ticket_id)).scalars()
        }
        version = db.session.get(SlaPolicyVersion, ticket.sla_policy_version_id)
        calendars = {t: r.calendar_version_id for t, r in rows.items()}
        clocks = evaluate(sla.policy_of(version, calendars), sla.facts_from(sla._events(ticket)), now)
        for target, clock in clocks.items():
            row = rows[target]
            if row.state in (TargetState.RUNNING, TargetState.PAUSED):
                continue  # an open ticket's running target: synthetic future instants
            stored = (
                row.state,
                row.due_at,
                row.at_risk_at,
                row.milestone_at,
                round(row.elapsed_minutes, 3),
                row.next_check_at,
            )
            expected = (
                clock.state,
                clock.due_at,
                clock.at_risk_at,
                clock.milestone_at,
                round(clock.elapsed_minutes, 3),
                clock.next_check_at,
            )
            if stored != expected:
                problems.append(f"ticket {ticket_id} {target}: stored {stored}, evaluate {expected}")
        db.session.expunge_all()
    db.session.rollback()
    return problems
