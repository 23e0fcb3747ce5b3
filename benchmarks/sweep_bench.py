"""Measure the SLA sweep on PostgreSQL at scale: idle, a 10,000-breach burst, a naive loop, live latency.

    .venv/bin/python benchmarks/sweep_bench.py            # load 1,000,000 tickets (minutes), then measure
    .venv/bin/python benchmarks/sweep_bench.py --reuse    # measure again on the loaded database

Scenarios (docs/workers.md, "Measured", has the figures):

a. nothing newly due: ``sla_sweep.sweep_due(now)`` when no ``next_check_at``
   and no ``next_action_at`` has passed. Target < 50 ms.
b. 10,000 newly breached: the breach block's response deadlines are set in
   the last ten minutes; one ``sweep_due(now)`` end to end (committed, tasks
   published). Afterwards the events, level-2 escalations and outbox rows
   (per recipient and channel) are checked, then the block is reset so the
   scenario repeats. Target < 5 s.
c. the same breaches as a naive per-ticket loop (load, ``sla._recompute``,
   event and notices one by one, commit), checked the same way; reported as
   the ratio naive / sweep. By default on the first 1,000 of the block, the
   time scaled to 10,000 (the loop is linear; all of them take minutes):
   ``--naive-limit 10000`` runs them all.
d. breach-detection latency with the real worker and beat (default sweep
   interval): tickets whose response deadlines fall over the next minutes;
   latency = breach event ``created_at`` - ``due_at`` (and when the committed
   event was first seen). The million rows stay in the database meanwhile.

Needs PostgreSQL (the database is dropped and created) and Redis on
127.0.0.1 (db 13 by default, flushed before the worker starts).
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _bulkload as bulk  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
PROBE_TITLE = "latency probe"
SLA_EVENT_KINDS = ("sla_at_risk", "sla_breached", "sla_escalated")


# ---------------------------------------------------------------- small helpers


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def load_average() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def utcnow() -> datetime:
    return datetime.now(UTC)


def raw(url: str) -> psycopg.Connection:
    return psycopg.connect(bulk.conninfo(url))


@dataclass
class Meta:
    ref: int
    tickets: int
    open: int
    breach_lo: int
    breach_hi: int
    load_seconds: float
    rows: dict = field(default_factory=dict)

    @property
    def breach(self) -> int:
        return self.breach_hi - self.breach_lo + 1


def read_meta(url: str) -> Meta | None:
    try:
        with raw(url) as conn:
            rows = dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())
    except psycopg.Error:
        return None
    return Meta(
        ref=int(rows["ref"]),
        tickets=int(rows["tickets"]),
        open=int(rows["open"]),
        breach_lo=int(rows["breach_lo"]),
        breach_hi=int(rows["breach_hi"]),
        load_seconds=float(rows["load_seconds"]),
        rows=json.loads(rows["rows"]),
    )


def write_meta(url: str, meta: Meta) -> None:
    with raw(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        values = {
            "ref": meta.ref,
            "tickets": meta.tickets,
            "open": meta.open,
            "breach_lo": meta.breach_lo,
            "breach_hi": meta.breach_hi,
            "load_seconds": meta.load_seconds,
            "rows": json.dumps(meta.rows),
        }
        for key, value in values.items():
            conn.execute(
                "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, str(value)),
            )


# ---------------------------------------------------------------- loading


def load(url: str, options) -> Meta:
    from flask_migrate import upgrade

    from tracker import create_app

    started = time.perf_counter()
    ref = int(time.time())
    print(
        f"Loading {options.tickets:,} tickets ({options.open:,} open, {options.breach:,} in the breach block) "
        f"into {sa.make_url(url).database}",
        flush=True,
    )
    bulk.recreate_database(url)
    app = create_app()
    with app.app_context():
        upgrade(revision="heads")
        step = time.perf_counter()
        catalog = bulk.build_catalog(datetime.fromtimestamp(ref, UTC))
        print(
            f"  schema, calendars, policies, {len(catalog.centres)} centres and "
            f"{len(catalog.locales):,} users in {time.perf_counter() - started:.1f} s "
            f"(catalogue {time.perf_counter() - step:.1f} s)",
            flush=True,
        )
        plan = bulk.Plan(
            tickets=options.tickets,
            open=options.open,
            breach=options.breach,
            ref=ref,
            seed=options.seed,
            has_is_open="is_open" in ticket_columns(url),
        )
        result = bulk.load_tickets(url, catalog, plan)
        rows = result.rows
        print(
            "  rows: "
            + ", ".join(f"{table} {count:,}" for table, count in rows.items())
            + f" = {sum(rows.values()):,} in {result.seconds:.0f} s "
            f"({sum(rows.values()) / result.seconds:,.0f} rows/s)",
            flush=True,
        )
        bulk.finish(url, result)
        problems = bulk.check_foreign_keys(url)
        print(f"  foreign keys checked: {'all resolve' if not problems else problems}", flush=True)
        if problems:
            raise SystemExit("the loaded data is inconsistent")
        sample = result.closed_ids_sample[:150] + result.open_ids_sample[:50]
        mismatches = bulk.check_sample(sample, datetime.fromtimestamp(ref, UTC))
        print(
            f"  {len(sample)} sampled tickets (closed and open): stored finished targets "
            f"{'agree with sla_clock.evaluate' if not mismatches else 'DISAGREE'}",
            flush=True,
        )
        for line in mismatches[:10]:
            print("    " + line)
        if mismatches:
            raise SystemExit("the generated SLA rows disagree with the clock")
        from tracker.extensions import db

        db.engine.dispose()
    meta = Meta(
        ref=ref,
        tickets=options.tickets,
        open=options.open,
        breach_lo=result.breach_lo,
        breach_hi=result.breach_hi,
        load_seconds=time.perf_counter() - started,
        rows=rows,
    )
    write_meta(url, meta)
    print(
        f"Loaded in {meta.load_seconds:.0f} s ({meta.load_seconds / 60:.1f} min), "
        f"database size {database_size(url)}",
        flush=True,
    )
    return meta


def ticket_columns(url: str) -> set[str]:
    with raw(url) as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'tickets'"
            ).fetchall()
        }


def upgrade_schema(url: str) -> None:
    """Bring a reused database to the migrations' head, as a deployment does (``flask db upgrade``)."""
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.extensions import db

    with raw(url) as conn:
        before = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    started = time.perf_counter()
    app = create_app()
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    with raw(url) as conn:
        after = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    if after != before:
        print(f"  schema upgraded {before} -> {after} in {time.perf_counter() - started:.0f} s", flush=True)


def code_state() -> str:
    """Describe the code measured: the commit, and whether the sweep's files differ from it."""

    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    changed = git("status", "--porcelain", "--", "tracker", "workers", "migrations").splitlines()
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        f", {len(changed)} uncommitted changes under tracker/ workers/ migrations/"
        if changed
        else ", clean tree"
    )


def database_size(url: str) -> str:
    with raw(url) as conn:
        return conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]


# ---------------------------------------------------------------- keeping the database quiet


def delete_tickets_rows(conn: psycopg.Connection, ticket_ids: list[int], *, tickets: bool) -> None:
    """Delete what hangs off these tickets (and the tickets), dependents first, with FK triggers off.

    Deleting escalations the ordinary way cascades to ``notifications.escalation_id``,
    which has no index: one sequential scan of the whole outbox per deleted
    escalation (hours at 5 million notices). The dependents are deleted here
    explicitly instead, through indexed ``ticket_id`` columns.
    """
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute("DELETE FROM notifications WHERE ticket_id = ANY(%s)", (ticket_ids,))
    conn.execute("DELETE FROM escalations WHERE ticket_id = ANY(%s)", (ticket_ids,))
    if tickets:
        conn.execute("DELETE FROM ticket_events WHERE ticket_id = ANY(%s)", (ticket_ids,))
        conn.execute("DELETE FROM ticket_slas WHERE ticket_id = ANY(%s)", (ticket_ids,))
        conn.execute("DELETE FROM tickets WHERE id = ANY(%s)", (ticket_ids,))


def quiesce(url: str, meta: Meta) -> Meta:
    """Remove latency probes, park the breach block, and move the backlog's deadlines ahead if they came near."""
    with raw(url) as conn:
        probes = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM tickets WHERE title LIKE %s", (PROBE_TITLE + "%",)
            ).fetchall()
        ]
        if probes:
            delete_tickets_rows(conn, probes, tickets=True)
        conn.commit()
    park(url, meta)
    with raw(url) as conn:
        soon = utcnow() + timedelta(hours=2)
        due = conn.execute("SELECT count(*) FROM ticket_slas WHERE next_check_at <= %s", (soon,)).fetchone()[
            0
        ]
        acting = conn.execute(
            "SELECT count(*) FROM escalations WHERE next_action_at <= %s", (soon,)
        ).fetchone()[0]
        if acting:
            raise SystemExit(f"{acting} escalations are due within two hours; reload (without --reuse)")
        if due:
            shift = int(time.time()) - meta.ref
            print(
                f"  {due:,} clocks would be due within two hours: moving the open backlog's deadlines "
                f"{shift / 3600:.1f} h later",
                flush=True,
            )
            conn.execute(
                "UPDATE ticket_slas SET due_at = due_at + make_interval(secs => %s), "
                "at_risk_at = at_risk_at + make_interval(secs => %s), "
                "next_check_at = next_check_at + make_interval(secs => %s) WHERE next_check_at IS NOT NULL",
                (shift, shift, shift),
            )
            conn.execute(
                "UPDATE tickets SET next_due_at = next_due_at + make_interval(secs => %s) "
                "WHERE next_due_at IS NOT NULL AND status NOT IN ('closed', 'cancelled') "
                "AND id NOT BETWEEN %s AND %s",
                (shift, meta.breach_lo, meta.breach_hi),
            )
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) ticket_slas, tickets")
            meta.ref += shift
            write_meta(url, meta)
    vacuum(url)
    return meta


def vacuum(url: str) -> None:
    """Vacuum the tables the scenarios write and reset, so every run starts from a steady state."""
    started = time.perf_counter()
    with psycopg.connect(bulk.conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) notifications, escalations, ticket_events, ticket_slas, tickets")
    print(
        f"  VACUUM (ANALYZE) of the tables the scenarios touch: {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def park(url: str, meta: Meta) -> None:
    """Put the breach block back at rest: no SLA events, escalations or notices; clocks not checked."""
    lo, hi = meta.breach_lo, meta.breach_hi
    with raw(url) as conn:
        delete_tickets_rows(conn, list(range(lo, hi + 1)), tickets=False)
        conn.execute(
            "DELETE FROM ticket_events WHERE ticket_id BETWEEN %s AND %s AND kind = ANY(%s)",
            (lo, hi, list(SLA_EVENT_KINDS)),
        )
        conn.execute(
            "UPDATE ticket_slas SET next_check_at = NULL, "
            "state = CASE WHEN target = 'confirmation' THEN 'pending' ELSE 'running' END "
            "WHERE ticket_id BETWEEN %s AND %s",
            (lo, hi),
        )
        at_risk = ", is_sla_at_risk = false" if "is_sla_at_risk" in ticket_columns(url) else ""
        conn.execute(
            f"UPDATE tickets SET is_sla_breached = false{at_risk} WHERE id BETWEEN %s AND %s", (lo, hi)
        )
        conn.commit()


# ---------------------------------------------------------------- the breach block


class Block:
    """The newest tickets, made due on demand: exactly their response targets are past due."""

    def __init__(self, url: str, meta: Meta, seed: int):
        from sqlalchemy import select

        from tracker.domain.roles import Role
        from tracker.extensions import db
        from tracker.models import SlaPolicyVersion, Ticket, TicketSla, UserRole
        from tracker.services.sla import clocks as sla

        self.url, self.lo, self.hi = url, meta.breach_lo, meta.breach_hi
        self.rng = random.Random(seed)
        self.tickets = db.session.execute(
            select(
                Ticket.id,
                Ticket.centre_id,
                Ticket.priority,
                Ticket.requester_id,
                Ticket.category_id,
                Ticket.sla_policy_version_id,
            )
            .where(Ticket.id.between(self.lo, self.hi))
            .order_by(Ticket.id)
        ).all()
        self.technicians = defaultdict(list)
        self.dispatchers = defaultdict(list)
        for user_id, role, centre_id in db.session.execute(
            select(UserRole.user_id, UserRole.role, UserRole.centre_id)
        ).all():
            if role is Role.TECHNICIAN:
                self.technicians[centre_id].append(user_id)
            elif role is Role.DISPATCHER:
                self.dispatchers[centre_id].append(user_id)
        version_id = self.tickets[0].sla_policy_version_id
        rows = db.session.execute(select(TicketSla).where(TicketSla.ticket_id == self.lo)).scalars()
        calendars = {row.target: row.calendar_version_id for row in rows}
        self.policy = sla.policy_of(db.session.get(SlaPolicyVersion, version_id), calendars)
        db.session.rollback()

    def prepare(self, now: datetime) -> None:
        """Make every response target of the block due within the ten minutes before ``now``.

        The tickets are rewritten as filed (half of them also assigned) half
        an hour before their deadline, and their stored clocks are what
        ``sla._recompute`` stores at their last event, computed by
        ``sla_clock.evaluate``: the response targets' next checks have passed,
        the arrival and resolution targets are not at risk yet.
        """
        from tracker.domain.sla_clock import Fact, evaluate
        from tracker.domain.workflow import Priority, Status

        park(self.url, Meta(0, 0, 0, self.lo, self.hi, 0))
        base = int(now.timestamp())
        events, clocks_rows, ticket_rows = [], [], []
        for ticket in self.tickets:
            due = base - self.rng.randint(1, 600)
            filed = due - 1800
            priority = Priority(ticket.priority)
            facts = [Fact(bulk.aware(filed), status=Status.NEW, priority=priority)]
            data = json.dumps(
                {"priority": priority.value, "category_id": ticket.category_id, "source": "web"}
            )
            events.append((ticket.id, "filed", ticket.requester_id, bulk.aware(filed), None, "new", "", data))
            status, assignee, last = "new", None, filed
            if self.rng.random() < 0.5:
                last = filed + self.rng.randint(60, 600)
                assignee = self.rng.choice(self.technicians[ticket.centre_id])
                facts.append(Fact(bulk.aware(last), status=Status.ASSIGNED))
                events.append(
                    (
                        ticket.id,
                        "assigned",
                        self.dispatchers[ticket.centre_id][0],
                        bulk.aware(last),
                        "new",
                        "assigned",
                        "",
                        json.dumps(
                            {"action": "assign", "assignee_id": assignee, "previous_assignee_id": None}
                        ),
                    )
                )
                status = "assigned"
            at = bulk.aware(last)
            clocks = evaluate(self.policy, facts, at)
            for target, clock in clocks.items():
                clocks_rows.append(
                    (
                        ticket.id,
                        target.value,
                        clock.priority.value,
                        clock.target_minutes,
                        clock.state.value,
                        clock.started_at,
                        clock.due_at,
                        clock.at_risk_at,
                        clock.milestone_at,
                        round(clock.elapsed_minutes, 4),
                        clock.next_check_at,
                        at,
                    )
                )
            next_due = min(
                c.due_at for c in clocks.values() if c.due_at is not None and c.milestone_at is None
            )
            ticket_rows.append((ticket.id, status, assignee, bulk.aware(filed), at, next_due))
        with raw(self.url) as conn:
            conn.execute("DELETE FROM ticket_events WHERE ticket_id BETWEEN %s AND %s", (self.lo, self.hi))
            with conn.cursor().copy(
                "COPY ticket_events (ticket_id, kind, actor_id, created_at, from_status, "
                "to_status, body, data) FROM STDIN"
            ) as copy:
                for row in events:
                    copy.write_row(row)
            conn.execute(
                "CREATE TEMP TABLE prep_slas (ticket_id int, target text, priority text, target_minutes "
                "float, state text, started_at timestamptz, due_at timestamptz, at_risk_at timestamptz, "
                "milestone_at timestamptz, elapsed_minutes float, next_check_at timestamptz, "
                "computed_at timestamptz) ON COMMIT DROP"
            )
            with conn.cursor().copy("COPY prep_slas FROM STDIN") as copy:
                for row in clocks_rows:
                    copy.write_row(row)
            conn.execute(
                "UPDATE ticket_slas s SET priority = p.priority, target_minutes = p.target_minutes, state = p.state, "
                "started_at = p.started_at, due_at = p.due_at, at_risk_at = p.at_risk_at, "
                "milestone_at = p.milestone_at, elapsed_minutes = p.elapsed_minutes, paused_minutes = 0, "
                "is_pause_capped = false, next_check_at = p.next_check_at, computed_at = p.computed_at "
                "FROM prep_slas p WHERE s.ticket_id = p.ticket_id AND s.target = p.target"
            )
            conn.execute(
                "CREATE TEMP TABLE prep_tickets (id int, status text, assignee_id int, "
                "created_at timestamptz, updated_at timestamptz, next_due_at timestamptz) ON COMMIT DROP"
            )
            with conn.cursor().copy("COPY prep_tickets FROM STDIN") as copy:
                for row in ticket_rows:
                    copy.write_row(row)
            conn.execute(
                "UPDATE tickets t SET status = p.status, assignee_id = p.assignee_id, created_at = p.created_at, "
                "updated_at = p.updated_at, next_due_at = p.next_due_at, is_sla_breached = false, "
                "version = t.version + 1 FROM prep_tickets p WHERE t.id = p.id"
            )
            conn.commit()

    def expected_notices(self, upto: int | None = None) -> Counter:
        """Return the outbox rows a breach of the block's responses (tickets up to ``upto``) must write.

        Counted per (recipient, channel), from the centre heads, their
        preferences and the webhooks as stored.
        """
        with raw(self.url) as conn:
            heads = defaultdict(list)
            for user_id, centre_id in conn.execute(
                "SELECT r.user_id, r.centre_id FROM user_roles r JOIN users u ON u.id = r.user_id "
                "WHERE r.role = 'centre_head' AND u.is_active"
            ).fetchall():
                heads[centre_id].append(user_id)
            email_off = {
                row[0]
                for row in conn.execute(
                    "SELECT user_id FROM notification_preferences WHERE kind = 'sla_breached' AND channel = 'email' "
                    "AND NOT is_enabled"
                ).fetchall()
            }
            hooks = conn.execute(
                "SELECT id, centre_id FROM webhooks WHERE is_active AND kinds::jsonb ? 'sla_breached'"
            ).fetchall()
        expected = Counter()
        for ticket in self.tickets:
            if upto is not None and ticket.id > upto:
                continue
            for user_id in heads[ticket.centre_id]:
                expected[(f"u{user_id}", "in_app")] += 1
                if user_id not in email_off:
                    expected[(f"u{user_id}", "email")] += 1
            for hook_id, centre_id in hooks:
                if centre_id is None or centre_id == ticket.centre_id:
                    expected[(f"w{hook_id}", "webhook")] += 1
        return expected

    def verify(self, now: datetime, expected: Counter, upto: int | None = None) -> tuple[dict, list[str]]:
        """Check what one sweep at ``now`` wrote for the block (its tickets up to ``upto``); return (counts, problems).

        Tickets after ``upto`` (a naive run on a prefix) must be untouched and still due.
        """
        problems = []
        upto = self.hi if upto is None else upto
        size = sum(1 for t in self.tickets if t.id <= upto)
        rest = len(self.tickets) - size
        hi, self.hi = self.hi, upto  # the checks below look at [lo, upto]
        try:
            counts = self._verify(now, expected, size, problems)
        finally:
            self.hi = hi
        with raw(self.url) as conn:
            untouched = conn.execute(
                "SELECT count(*) FROM ticket_slas WHERE ticket_id > %s AND ticket_id <= %s "
                "AND target = 'response' AND state = 'running' AND next_check_at <= %s",
                (upto, self.hi, now),
            ).fetchone()[0]
            others = conn.execute(
                "SELECT count(*) FROM ticket_slas WHERE next_check_at <= %s AND "
                "NOT (ticket_id > %s AND ticket_id <= %s)",
                (now, upto, self.hi),
            ).fetchone()[0]
        if untouched != rest:
            problems.append(f"{untouched} block tickets past {upto} still due, expected {rest}")
        if others:
            problems.append(f"{others} clocks still due after the run")
        return counts, problems

    def _verify(self, now: datetime, expected: Counter, size: int, problems: list[str]) -> dict:
        with raw(self.url) as conn:
            q = conn.execute
            events = q(
                "SELECT kind, count(*), count(DISTINCT (ticket_id, data::jsonb->>'target')) FROM ticket_events "
                "WHERE ticket_id BETWEEN %s AND %s AND kind = ANY(%s) GROUP BY kind",
                (self.lo, self.hi, list(SLA_EVENT_KINDS)),
            ).fetchall()
            events = {kind: (n, distinct) for kind, n, distinct in events}
            breached_events = events.get("sla_breached", (0, 0))
            if breached_events != (size, size):
                problems.append(
                    f"sla_breached events: {breached_events[0]} ({breached_events[1]} distinct), "
                    f"expected {size}"
                )
            if set(events) - {"sla_breached"}:
                problems.append(f"unexpected SLA events: {events}")
            at = q(
                "SELECT count(*) FROM ticket_events WHERE ticket_id BETWEEN %s AND %s AND kind = 'sla_breached' "
                "AND created_at = %s AND data::jsonb->>'target' = 'response'",
                (self.lo, self.hi, now),
            ).fetchone()[0]
            if at != size:
                problems.append(
                    f"{at} breach events are for the response target at the sweep's instant, expected {size}"
                )
            levels = dict(
                q(
                    "SELECT level, count(*) FROM escalations WHERE ticket_id BETWEEN %s AND %s GROUP BY level",
                    (self.lo, self.hi),
                ).fetchall()
            )
            if levels != {2: size}:
                problems.append(f"escalations per level {levels}, expected {{2: {size}}}")
            linked = q(
                "SELECT count(*) FROM ticket_events e JOIN escalations x ON x.id = (e.data::jsonb->>'escalation_id')::int "
                "AND x.ticket_id = e.ticket_id WHERE e.ticket_id BETWEEN %s AND %s AND e.kind = 'sla_breached'",
                (self.lo, self.hi),
            ).fetchone()[0]
            if linked != size:
                problems.append(f"{linked} breach events name their escalation, expected {size}")
            actual = Counter()
            for who, channel, n in q(
                "SELECT CASE WHEN user_id IS NOT NULL THEN 'u' || user_id ELSE 'w' || webhook_id END, channel, count(*) "
                "FROM notifications WHERE ticket_id BETWEEN %s AND %s GROUP BY 1, 2",
                (self.lo, self.hi),
            ).fetchall():
                actual[(who, channel)] = n
            if actual != expected:
                diff = {
                    k: (actual.get(k, 0), expected.get(k, 0))
                    for k in set(actual) | set(expected)
                    if actual.get(k, 0) != expected.get(k, 0)
                }
                problems.append(f"outbox rows differ (actual, expected): {dict(list(diff.items())[:8])}")
            duplicates = q(
                "SELECT count(*) FROM (SELECT escalation_id, channel, user_id, webhook_id FROM notifications "
                "WHERE ticket_id BETWEEN %s AND %s GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
                (self.lo, self.hi),
            ).fetchone()[0]
            if duplicates:
                problems.append(f"{duplicates} duplicated notices")
            wrong_kind = q(
                "SELECT count(*) FROM notifications n LEFT JOIN escalations x ON x.id = n.escalation_id "
                "WHERE n.ticket_id BETWEEN %s AND %s AND (n.kind <> 'sla_breached' OR x.level IS DISTINCT FROM 2 "
                "OR x.ticket_id <> n.ticket_id)",
                (self.lo, self.hi),
            ).fetchone()[0]
            if wrong_kind:
                problems.append(f"{wrong_kind} notices not tied to a level-2 escalation of their ticket")
            states = dict(
                q(
                    "SELECT target || ':' || state, count(*) FROM ticket_slas WHERE ticket_id BETWEEN %s AND %s "
                    "GROUP BY 1",
                    (self.lo, self.hi),
                ).fetchall()
            )
            if states.get("response:breached") != size:
                problems.append(
                    f"response targets breached: {states.get('response:breached')}, expected {size}"
                )
            flagged = q(
                "SELECT count(*) FROM tickets WHERE id BETWEEN %s AND %s AND is_sla_breached",
                (self.lo, self.hi),
            ).fetchone()[0]
            if flagged != size:
                problems.append(f"{flagged} block tickets flagged breached, expected {size}")
        return {
            "events": breached_events[0],
            "escalations": levels.get(2, 0),
            "notices": sum(actual.values()),
            "notices_by_channel": dict(sorted(_by_channel(actual).items())),
        }


def _by_channel(counter: Counter) -> Counter:
    result = Counter()
    for (_, channel), n in counter.items():
        result[channel] += n
    return result


# ---------------------------------------------------------------- the naive loop


def naive_sweep(now: datetime, limit: int | None = None) -> dict:
    """Flag due clocks the naive way: per due ticket, load, recompute in full, write one by one, commit.

    Uses the real services and models: ``sla._recompute`` rebuilds the
    ticket's clocks from its events, the escalation, event and notices are
    written per ticket (``outbox.queue`` with one notice), and every ticket is
    its own transaction. Same outcome as the sweep (checked by ``Block.verify``).
    ``limit``: handle only the first due tickets (by id).
    """
    from sqlalchemy import select

    from tracker.domain.roles import Role
    from tracker.domain.sla_clock import TargetState
    from tracker.extensions import db
    from tracker.models import Escalation, Ticket, TicketEvent, TicketSla
    from tracker.services.notify import outbox
    from tracker.services.sla import clocks as sla
    from tracker.services.sla import sweep as sla_sweep

    counts = Counter()
    due = sorted(
        set(db.session.execute(select(TicketSla.ticket_id).where(TicketSla.next_check_at <= now)).scalars())
    )
    db.session.commit()
    commit_seconds = 0.0
    for ticket_id in due[:limit]:
        ticket = db.session.get(Ticket, ticket_id)
        clocks = sla._recompute(ticket, now)
        rules = sla_sweep._policy_rules([ticket.sla_policy_version_id]).get(
            ticket.sla_policy_version_id, sla_sweep.DEFAULT_ESCALATION
        )
        counts["tickets"] += 1
        for target, clock in clocks.items():
            if clock.state is TargetState.BREACHED and clock.milestone_at is None:
                level, reason = sla_sweep.BREACHED, "breached"
            elif clock.is_at_risk(now):
                level, reason = sla_sweep.AT_RISK, "at_risk"
            else:
                continue
            if db.session.execute(
                select(Escalation.id).where(
                    Escalation.ticket_id == ticket.id, Escalation.target == target, Escalation.level == level
                )
            ).first():
                continue
            escalation = Escalation(
                ticket_id=ticket.id,
                target=target,
                level=level,
                reason=reason,
                created_at=now,
                next_action_at=sla_sweep._next_action(level, now, clock.due_at, rules, acknowledged=False),
            )
            db.session.add(escalation)
            db.session.flush()
            due_iso = clock.due_at.isoformat() if clock.due_at else None
            db.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    kind=sla_sweep.LEVEL_EVENT[level],
                    actor_id=None,
                    created_at=now,
                    body="",
                    data={
                        "target": target.value,
                        "level": level,
                        "reason": reason,
                        "escalation_id": escalation.id,
                        "due_at": due_iso,
                    },
                )
            )
            if level == sla_sweep.AT_RISK:
                people = (
                    [ticket.assignee_id]
                    if ticket.assignee_id
                    else outbox.users_with_role(Role.DISPATCHER, ticket.centre_id)
                )
            else:
                people = outbox.users_with_role(Role.CENTRE_HEAD, ticket.centre_id)
            key = f"sla:{ticket.id}:{target.value}:{level}"
            notice = outbox.Notice(
                kind=sla_sweep.LEVEL_KIND[level],
                key=key,
                subject=f"{ticket.reference} {target.value} level {level} ({reason})",
                payload={
                    "reference": ticket.reference,
                    "title": ticket.title,
                    "target": target.value,
                    "level": level,
                    "reason": reason,
                    "due_at": due_iso,
                },
                ticket_id=ticket.id,
                centre_id=ticket.centre_id,
                escalation_id=escalation.id,
                link=f"/tickets/{ticket.reference}",
            )
            counts["notices"] += len(outbox.queue([notice], {key: people}, now=now))
            counts[reason] += 1
        started = time.perf_counter()
        db.session.commit()
        commit_seconds += time.perf_counter() - started
    counts["commit_seconds"] = round(commit_seconds, 2)
    return dict(counts)


# ---------------------------------------------------------------- profiling


@contextmanager
def sql_timer(engine):
    """Collect the time spent in the database per kind of statement."""
    stats = defaultdict(lambda: [0, 0.0, 0])  # executions, seconds, rows (executemany parameter sets)

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_t", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info["bench_t"].pop()
        words = statement.split()
        label = " ".join(words[:3]) if words[0] in ("INSERT", "DELETE") else " ".join(words[:2])
        if words[0] == "SELECT":
            table = next((words[i + 1] for i, w in enumerate(words) if w == "FROM"), "?")
            label = f"SELECT … FROM {table}" + (" FOR UPDATE" if "FOR UPDATE" in statement else "")
        if words[0] == "UPDATE":
            label = f"UPDATE {words[1]}"
        entry = stats[label]
        entry[0] += 1
        entry[1] += elapsed
        entry[2] += len(parameters) if executemany and isinstance(parameters, list) else 1

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def print_profile(profile: cProfile.Profile, stats: dict, total: float) -> None:
    sql_seconds = sum(v[1] for v in stats.values())
    print(
        f"    wall {total:.2f} s; inside cursor.execute (PostgreSQL + driver) {sql_seconds:.2f} s "
        f"({100 * sql_seconds / total:.0f} %); the rest is Python",
        flush=True,
    )
    print("    statements: calls, parameter sets, seconds", flush=True)
    for label, (calls, seconds, sets) in sorted(stats.items(), key=lambda kv: -kv[1][1])[:12]:
        print(f"      {seconds:7.3f} s  {calls:6d} calls {sets:7d} sets  {label[:90]}", flush=True)
    split = profile_split(profile)
    print(
        f"    split of the wall time: waiting for PostgreSQL {split['server']:.2f} s; psycopg turning "
        f"named-parameter statements into PostgreSQL's (_query2pg_nocache: statements over "
        f"4096 bytes or 50 parameters are parsed anew each time) {split['convert']:.2f} s; "
        f"adapting parameter values {split['dump']:.2f} s; SQLAlchemy building parameters "
        f"{split['sqlalchemy_params']:.2f} s; JSON encoding {split['json']:.2f} s",
        flush=True,
    )
    buffer = io.StringIO()
    pstats.Stats(profile, stream=buffer).sort_stats("tottime").print_stats(14)
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("    cProfile, by own time:", flush=True)
    for line in lines[start : start + 15]:
        print("      " + line[:150], flush=True)


def profile_split(profile: cProfile.Profile) -> dict[str, float]:
    """Return seconds spent in a few places of interest, from the profile.

    ``server``: own time of psycopg's ``Connection.wait``, which blocks on the
    socket (its C wait loop is not profiled separately); the generator it runs
    (query conversion, parameter adaptation) is profiled and excluded.
    """
    stats = pstats.Stats(profile).stats
    split = dict.fromkeys(("server", "convert", "dump", "sqlalchemy_params", "json"), 0.0)
    for (filename, _, name), (_, _, own, cumulative, _) in stats.items():
        if filename.endswith("psycopg/connection.py") and name == "wait":
            split["server"] += own
        elif filename.endswith("psycopg/_queries.py") and name in ("_query2pg_nocache", "_query2pg"):
            split["convert"] += cumulative
        elif filename.endswith("psycopg/_queries.py") and name == "dump":
            split["dump"] += cumulative
        elif filename.endswith("sqlalchemy/sql/compiler.py") and name == "construct_params":
            split["sqlalchemy_params"] += cumulative
        elif filename.endswith("json/encoder.py") and name == "encode":
            split["json"] += cumulative
    return split


# ---------------------------------------------------------------- scenarios


def scenario_idle(url: str, repeats: int) -> dict:
    from tracker.services.sla import sweep as sla_sweep

    now = utcnow()
    with raw(url) as conn:
        due = conn.execute("SELECT count(*) FROM ticket_slas WHERE next_check_at <= %s", (now,)).fetchone()[0]
        acting = conn.execute(
            "SELECT count(*) FROM escalations WHERE next_action_at <= %s", (now,)
        ).fetchone()[0]
    assert due == 0 and acting == 0, (due, acting)
    sla_sweep.sweep_due(now)  # warm: connection pool, statement cache
    times = []
    for _ in range(repeats):
        now = utcnow()
        started = time.perf_counter()
        result = sla_sweep.sweep_due(now)
        times.append(time.perf_counter() - started)
        assert result.clocks == 0 and result.notices == 0, str(result)
    return {"runs": times}


def scenario_burst(url: str, block: Block, repeats: int, expected: Counter, profile: bool) -> dict:
    from tracker.extensions import db
    from tracker.services.sla import sweep as sla_sweep

    times, checks, results, breakdowns = [], [], [], []
    for run in range(repeats + (1 if profile else 0)):
        profiled = run == repeats
        block.prepare(utcnow())
        now = utcnow()
        if profiled:
            print("  profiled run (not counted):", flush=True)
            profiler = cProfile.Profile()
            with sql_timer(db.engine) as stats:
                started = time.perf_counter()
                profiler.enable()
                result = sla_sweep.sweep_due(now)
                profiler.disable()
                elapsed = time.perf_counter() - started
            print_profile(profiler, stats, elapsed)
        else:
            with sql_timer(db.engine) as stats:
                started = time.perf_counter()
                result = sla_sweep.sweep_due(now)
                elapsed = time.perf_counter() - started
            times.append(elapsed)
            results.append(str(result))
            outbox_seconds = stats["INSERT INTO notifications"][1]
            other_seconds = sum(v[1] for k, v in stats.items() if k != "INSERT INTO notifications")
            print(f"  run {run + 1}: {elapsed:.2f} s ({result}); load {load_average()}", flush=True)
            print(
                f"    in cursor.execute: outbox INSERTs {outbox_seconds:.2f} s "
                f"({stats['INSERT INTO notifications'][0]} statements), other statements {other_seconds:.2f} s; "
                f"outside the driver {elapsed - outbox_seconds - other_seconds:.2f} s",
                flush=True,
            )
            breakdowns.append((outbox_seconds, other_seconds, elapsed - outbox_seconds - other_seconds))
        counts, problems = block.verify(now, expected)
        checks.append((counts, problems))
        if problems:
            print("    CHECK FAILED: " + "; ".join(problems), flush=True)
        park(block.url, Meta(0, 0, 0, block.lo, block.hi, 0))
    return {"runs": times, "checks": checks, "results": results, "breakdowns": breakdowns}


def scenario_naive(url: str, block: Block, repeats: int, limit: int) -> dict:
    from tracker.extensions import db

    limit = min(limit, len(block.tickets))
    upto = block.tickets[limit - 1].id
    expected = block.expected_notices(upto)
    times, checks, statements = [], [], None
    for run in range(repeats):
        block.prepare(utcnow())
        now = utcnow()
        with sql_timer(db.engine) as stats:
            started = time.perf_counter()
            counts = naive_sweep(now, limit)
            elapsed = time.perf_counter() - started
        statements = dict(stats)
        times.append(elapsed)
        print(
            f"  run {run + 1}: {elapsed:.1f} s for {limit:,} tickets ({1000 * elapsed / limit:.1f} ms per ticket; "
            f"{counts}); load {load_average()}",
            flush=True,
        )
        verified, problems = block.verify(now, expected, upto)
        checks.append((verified, problems))
        if problems:
            print("    CHECK FAILED: " + "; ".join(problems), flush=True)
        park(block.url, Meta(0, 0, 0, block.lo, block.hi, 0))
    sql_seconds = sum(v[1] for v in statements.values())
    print(
        f"  last run: inside cursor.execute {sql_seconds:.1f} s, commits {counts['commit_seconds']:.1f} s, "
        f"the rest (Python, ORM) {times[-1] - sql_seconds - counts['commit_seconds']:.1f} s; "
        f"{sum(v[0] for v in statements.values()) / limit:.1f} statements per ticket",
        flush=True,
    )
    for label, (calls, seconds, _sets) in sorted(statements.items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"      {seconds:7.2f} s  {calls:6d} calls  {label[:90]}", flush=True)
    return {"runs": times, "checks": checks, "tickets": limit, "per_ticket": [t / limit for t in times]}


def _flush_broker(broker: str) -> None:
    import redis

    redis.Redis.from_url(broker, socket_connect_timeout=5).flushdb()


def _stop(process: subprocess.Popen, name: str) -> None:
    """Stop a process this script started (and its children, in its own process group)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        print(f"  {name} did not stop in 20 s: killing its process group {process.pid}", flush=True)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # Prefork children normally leave with the parent; make sure none lingers.
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return
    time.sleep(2)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def scenario_latency(
    url: str, broker: str, env: dict, instance: Path, count: int, window: float, seed: int
) -> dict:
    from sqlalchemy import select

    from tracker.domain.roles import Role
    from tracker.extensions import db
    from tracker.models import Category, TicketSla, User, UserRole
    from tracker.services.requests import tickets as ticket_service

    _flush_broker(broker)
    logs = instance / "logs"
    logs.mkdir(exist_ok=True)
    worker_log, beat_log = logs / "worker.log", logs / "beat.log"
    command = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    # The wait below reads the sweep's "succeeded" line (DEBUG by default: workers/logs.py).
    env = {**env, "TRACKER_ROUTINE_TASK_LOG_LEVEL": "INFO"}
    with open(worker_log, "w") as out_w, open(beat_log, "w") as out_b:
        worker = subprocess.Popen(
            command + ["worker", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=out_w,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        beat = subprocess.Popen(
            command + ["beat", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=out_b,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while "sla.sweep_due" not in worker_log.read_text() or "succeeded" not in worker_log.read_text():
            if time.monotonic() > deadline or worker.poll() is not None or beat.poll() is not None:
                raise SystemExit(f"worker or beat did not start; see {worker_log} and {beat_log}")
            time.sleep(0.5)
        print(
            f"  worker and beat running (pids {worker.pid}, {beat.pid}); the first sweep has run", flush=True
        )

        rng = random.Random(seed)
        requesters = list(
            db.session.execute(
                select(User).join(UserRole).where(UserRole.role == Role.REQUESTER).limit(200)
            ).scalars()
        )
        categories = list(db.session.execute(select(Category)).scalars())
        start = utcnow() + timedelta(seconds=30)
        step = window / max(count - 1, 1)
        due_at, ids = {}, []
        filing_started = time.perf_counter()
        for index in range(count):
            due = start + timedelta(seconds=index * step)
            category = rng.choice(categories)
            ticket = ticket_service.file_ticket(
                ticket_service.NewTicket(
                    centre_id=category.centre_id,
                    category_id=category.id,
                    title=f"{PROBE_TITLE} {index}",
                    description="Breach-detection latency probe.",
                ),
                requester=rng.choice(requesters),
                now=due - timedelta(minutes=30),
            )
            ids.append(ticket.id)
        for ticket_id, due in db.session.execute(
            select(TicketSla.ticket_id, TicketSla.due_at).where(
                TicketSla.ticket_id.in_(ids), TicketSla.target == "response"
            )
        ).all():
            due_at[ticket_id] = due
        db.session.rollback()
        print(
            f"  filed {count} tickets in {time.perf_counter() - filing_started:.1f} s; response deadlines from "
            f"{min(due_at.values()):%H:%M:%S} to {max(due_at.values()):%H:%M:%S} UTC",
            flush=True,
        )

        seen: dict[int, tuple[datetime, datetime]] = {}
        give_up = max(due_at.values()) + timedelta(seconds=90)
        with raw(url) as conn:
            conn.autocommit = True
            while len(seen) < count and utcnow() < give_up:
                rows = conn.execute(
                    "SELECT ticket_id, created_at FROM ticket_events WHERE kind = 'sla_breached' "
                    "AND ticket_id = ANY(%s) AND data::jsonb->>'target' = 'response'",
                    ([i for i in ids if i not in seen],),
                ).fetchall()
                observed = utcnow()
                for ticket_id, created_at in rows:
                    seen.setdefault(ticket_id, (created_at, observed))
                time.sleep(0.1)
    finally:
        _stop(beat, "beat")
        _stop(worker, "worker")
    missing = count - len(seen)
    event_latency = [(created - due_at[t]).total_seconds() for t, (created, _) in seen.items()]
    seen_latency = [(observed - due_at[t]).total_seconds() for t, (_, observed) in seen.items()]
    sweeps = []
    for line in worker_log.read_text().splitlines():
        if "sla sweep:" in line and " in " in line and line.rstrip().endswith("ms"):
            sweeps.append(float(line.rstrip()[:-2].rsplit(" in ", 1)[1]))
    with raw(url) as conn:
        delete_tickets_rows(conn, ids, tickets=True)
        conn.commit()
    _flush_broker(broker)
    return {
        "count": count,
        "missing": missing,
        "event": event_latency,
        "seen": seen_latency,
        "sweep_ms": sweeps,
        "worker_log": str(worker_log),
    }


# ---------------------------------------------------------------- report


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--broker-url", default=DEFAULT_BROKER, help="Redis for the worker and beat (flushed)"
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=150_000)
    parser.add_argument("--breach", type=int, default=10_000)
    parser.add_argument(
        "--reuse", action="store_true", help="skip loading when the database holds the same counts"
    )
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--idle-runs", type=int, default=20)
    parser.add_argument("--burst-runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument(
        "--naive-limit",
        type=int,
        default=1000,
        help="tickets the naive loop handles (of the block); its time is scaled to the block",
    )
    parser.add_argument("--latency-tickets", type=int, default=300)
    parser.add_argument(
        "--latency-window", type=float, default=120.0, help="seconds over which deadlines fall"
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the worker and beat in d (repeatable)",
    )
    parser.add_argument("--skip", default="", help="comma-separated scenarios to skip (a,b,c,d)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled burst run")
    options = parser.parse_args()
    skip = set(filter(None, options.skip.split(",")))
    url = options.database_url

    instance = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    # The app's folder (attachments, the metrics' files) goes with the run.
    atexit.register(shutil.rmtree, instance, ignore_errors=True)
    env_vars = {
        "DATABASE_URL": url,
        "TRACKER_ENV": "development",
        "SECRET_KEY": "x",
        "CELERY_BROKER_URL": options.broker_url,
        "TRACKER_INSTANCE_PATH": str(instance),
    }
    os.environ.update(env_vars)
    os.environ.pop("TRACKER_SLA_SWEEP_SECONDS", None)  # measure the default interval
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    for item in options.worker_env:
        key, _, value = item.partition("=")
        env[key] = value

    with raw(sa.make_url(url).set(database="postgres").render_as_string(hide_password=False)) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "work_mem", "synchronous_commit")
        }
    print(f"Code: {code_state()}", flush=True)
    print(
        f"Python {platform.python_version()}, PostgreSQL {server} ({', '.join(f'{k} {v}' for k, v in settings.items())}), "
        f"{os.cpu_count()} CPUs, load {load_average()}",
        flush=True,
    )

    meta = read_meta(url) if options.reuse else None
    if meta and (meta.tickets, meta.open, meta.breach) != (options.tickets, options.open, options.breach):
        print("  the database holds other counts: loading again", flush=True)
        meta = None
    if meta is None:
        meta = load(url, options)
    else:
        print(
            f"Reusing {sa.make_url(url).database}: {meta.tickets:,} tickets ({meta.open:,} open), loaded in "
            f"{meta.load_seconds:.0f} s; {database_size(url)}",
            flush=True,
        )
        upgrade_schema(url)
    meta = quiesce(url, meta)

    from tracker import create_app
    from tracker.extensions import db

    app = create_app()
    report = {}
    with app.app_context():
        with raw(url) as conn:
            counts = dict(
                conn.execute(
                    "SELECT 'open', count(*) FROM tickets WHERE status NOT IN ('closed', 'cancelled') UNION ALL "
                    "SELECT 'tickets', count(*) FROM tickets UNION ALL SELECT 'ticket_slas', count(*) FROM ticket_slas "
                    "UNION ALL SELECT 'ticket_events', count(*) FROM ticket_events UNION ALL "
                    "SELECT 'notifications', count(*) FROM notifications UNION ALL "
                    "SELECT 'escalations', count(*) FROM escalations"
                ).fetchall()
            )
        print("Data: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
        block = Block(url, meta, options.seed)
        expected = block.expected_notices()

        if "a" not in skip:
            print(f"\na. nothing newly due: sweep_due(now), {options.idle_runs} runs", flush=True)
            report["a"] = scenario_idle(url, options.idle_runs)
            runs = report["a"]["runs"]
            print(
                f"  best {fmt_ms(min(runs))}, median {fmt_ms(statistics.median(runs))}, "
                f"max {fmt_ms(max(runs))}",
                flush=True,
            )
        if "b" not in skip:
            print(
                f"\nb. {meta.breach:,} newly breached: one sweep_due(now) end to end, {options.burst_runs} runs; "
                f"expected outbox rows {dict(_by_channel(expected))}",
                flush=True,
            )
            report["b"] = scenario_burst(url, block, options.burst_runs, expected, not options.no_profile)
        if "c" not in skip:
            print(
                f"\nc. the same breaches as a naive per-ticket loop: the first {min(options.naive_limit, meta.breach):,} "
                f"of the {meta.breach:,}, {options.naive_runs} run(s)",
                flush=True,
            )
            report["c"] = scenario_naive(url, block, options.naive_runs, options.naive_limit)
        db.session.remove()
        if "d" not in skip:
            if "b" not in skip or "c" not in skip:
                vacuum(url)
            print(
                f"\nd. breach-detection latency: real worker and beat (sweep every "
                f"{app.config['SLA_SWEEP_SECONDS']:g} s), {options.latency_tickets} deadlines over "
                f"{options.latency_window:g} s"
                + (f"; worker env {' '.join(options.worker_env)}" if options.worker_env else ""),
                flush=True,
            )
            report["d"] = scenario_latency(
                url,
                options.broker_url,
                env,
                instance,
                options.latency_tickets,
                options.latency_window,
                options.seed,
            )
        db.session.remove()
        db.engine.dispose()

    print_summary(report, meta, options)


def print_summary(report: dict, meta: Meta, options) -> None:
    rows = [("scenario", "target", "runs", "best", "median", "verdict")]
    if "a" in report:
        runs = report["a"]["runs"]
        rows.append(
            (
                "a. sweep, nothing newly due",
                "< 50 ms",
                str(len(runs)),
                fmt_ms(min(runs)),
                fmt_ms(statistics.median(runs)),
                "met" if statistics.median(runs) < 0.05 else "MISSED",
            )
        )
    burst = None
    if "b" in report:
        runs = report["b"]["runs"]
        burst = statistics.median(runs)
        ok = all(not p for _, p in report["b"]["checks"])
        rows.append(
            (
                f"b. sweep, {meta.breach:,} newly breached (committed)",
                "< 5 s",
                str(len(runs)),
                f"{min(runs):.2f} s",
                f"{burst:.2f} s",
                ("met" if burst < 5 else "MISSED") + ("" if ok else ", CHECKS FAILED"),
            )
        )
    if "c" in report:
        c = report["c"]
        per_ticket = statistics.median(c["per_ticket"])
        scaled = per_ticket * meta.breach
        ok = all(not p for _, p in c["checks"])
        ratio = f"{scaled / burst:.0f}x the sweep" if burst else "-"
        label = f"c. naive per-ticket loop, {meta.breach:,} " + (
            "(measured)" if c["tickets"] == meta.breach else f"(scaled from {c['tickets']:,})"
        )
        rows.append(
            (
                label,
                "ratio",
                str(len(c["runs"])),
                f"{min(c['per_ticket']) * meta.breach:.1f} s",
                f"{scaled:.1f} s",
                ratio + ("" if ok else ", CHECKS FAILED"),
            )
        )
    if "d" in report:
        d = report["d"]
        ev, seen = d["event"], d["seen"]
        if ev:
            rows.append(
                (
                    f"d. latency, event created_at - due_at ({len(ev)}/{d['count']} flagged)",
                    "seconds",
                    "1",
                    f"p50 {percentile(ev, 0.5):.2f} s",
                    f"p90 {percentile(ev, 0.9):.2f} s",
                    f"p99 {percentile(ev, 0.99):.2f} s, max {max(ev):.2f} s",
                )
            )
            rows.append(
                (
                    "   latency, committed event first seen - due_at",
                    "seconds",
                    "1",
                    f"p50 {percentile(seen, 0.5):.2f} s",
                    f"p90 {percentile(seen, 0.9):.2f} s",
                    f"p99 {percentile(seen, 0.99):.2f} s, max {max(seen):.2f} s",
                )
            )
        if d["missing"]:
            rows.append(
                ("   NOT flagged within 90 s of the last deadline", "", "", str(d["missing"]), "", "MISSED")
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\nResults")
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if "b" in report and report["b"]["checks"]:
        counts = report["b"]["checks"][0][0]
        print(
            f"\nChecked after every burst and naive run: {counts['events']:,} sla_breached events, "
            f"{counts['escalations']:,} level-2 escalations, {counts['notices']:,} outbox rows "
            f"{counts['notices_by_channel']}, none duplicated, each tied to its escalation."
        )
    if "d" in report and report["d"]["sweep_ms"]:
        sweeps = report["d"]["sweep_ms"]
        print(
            f"Worker sweeps that flagged something during d: {len(sweeps)}, median {statistics.median(sweeps):.0f} ms, "
            f"max {max(sweeps):.0f} ms (worker log: {report['d']['worker_log']})"
        )
    print(
        f"\nLoad: {meta.tickets:,} tickets in {meta.load_seconds:.0f} s ({meta.load_seconds / 60:.1f} min) when loaded."
    )
    print("Command: " + " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    main()
