"""``flask`` commands: create users, load demo data, set up SLA calendars and policies."""

import re
from collections import Counter

import click
from flask import Flask
from flask.cli import with_appcontext

from tracker.clock import utcnow
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.errors import TrackerError


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(seed_demo)
    app.cli.add_command(demo_password)
    app.cli.add_command(stats_rebuild)
    app.cli.add_command(contractor_add)
    app.cli.add_command(contractor_assign)
    app.cli.add_command(follow_up_rule)
    app.cli.add_command(import_china_holidays)
    app.cli.add_command(sla_defaults)
    app.cli.add_command(sla_sweep_command)
    app.cli.add_command(outbox_status)
    app.cli.add_command(outbox_deliver)
    app.cli.add_command(weekly_report)
    app.cli.add_command(follow_up_sample)
    app.cli.add_command(rectification_sweep_command)
    app.cli.add_command(import_tickets)
    standards_group.add_command(import_benchmarks)
    app.cli.add_command(standards_group)


def _parse_role(text: str) -> tuple[Role, int | None]:
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Centre

    name, _, centre_code = text.partition("@")
    try:
        role = Role(name.strip())
    except ValueError:
        raise click.BadParameter(
            f"unknown role {name!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None
    if role not in CENTRE_ROLES:
        return role, None
    if not centre_code:
        raise click.BadParameter(f"{role.value} needs a centre: {role.value}@<centre code>")
    centre = db.session.execute(select(Centre).where(Centre.code == centre_code)).scalar_one_or_none()
    if centre is None:
        raise click.BadParameter(f"no centre with code {centre_code!r}")
    return role, centre.id


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--email", default=None)
@click.option(
    "--role",
    "roles",
    multiple=True,
    default=["requester"],
    show_default=True,
    help="Role, repeatable; centre roles as role@centre, e.g. technician@repairs.",
)
@click.password_option(help="Asked for when not given.")
def create_user(username, display_name, email, roles, password):
    """Create a user with roles (e.g. --role admin)."""
    from tracker.services.admin import accounts

    parsed = [_parse_role(text) for text in roles]
    try:
        user = accounts.create_user(
            username=username,
            display_name=display_name,
            password=password,
            roles=parsed,
            email=email,
            now=utcnow(),
        )
    except TrackerError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created user {user.username} with roles {', '.join(r.role.value for r in user.roles)}")


@click.command("seed-demo")
@click.option("--days", default=365, show_default=True, help="How many days of tickets to generate.")
@click.option("--seed", "random_seed", default=2026, show_default=True, help="Random seed.")
@click.option("--password", default=None, help="Demo password for every demo user (default: generated).")
@click.option("--if-empty", is_flag=True, help="Do nothing when users exist already.")
def seed_demo(days, random_seed, password, if_empty):
    """Fill an empty database with centres, places, users and a year of tickets."""
    from tracker import demo

    try:
        demo.seed(days=days, random_seed=random_seed, password=password, if_empty=if_empty, echo=click.echo)
    except demo.SeedRefused as error:
        raise click.ClickException(str(error)) from None


@click.command("demo-password")
@click.option("--password", default=None, help="The new password (default: generated).")
def demo_password(password):
    """Give every demo user a new password and print it once."""
    from tracker import demo

    try:
        count, password = demo.reset_password(password)
    except demo.SeedRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"New password for {count} demo users: {password}")
    click.echo("Log in as " + ", ".join(username for _, username in demo.SHOWCASE) + ".")


def _years(ctx, param, value) -> range | None:
    """Read "2025-2027" or "2025" as a range of years."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*([0-9]{4})\s*(?:-\s*([0-9]{4})\s*)?", value)
    if match is None:
        raise click.BadParameter("write a year or a range of years, e.g. 2025-2027")
    first, last = int(match[1]), int(match[2] or match[1])
    if last < first:
        raise click.BadParameter(f"{last} is before {first}")
    if last - first >= 50:
        raise click.BadParameter("at most 50 years at once")
    return range(first, last + 1)


def _echo_china_days(found) -> None:
    """Print the imported days per year, and a WARNING line per year without data."""
    holidays = Counter(day[:4] for day in found.holidays)
    workdays = Counter(day[:4] for day in found.extra_workdays)
    for year in found.years:
        click.echo(
            f"{year}: {holidays[str(year)]} days off, {workdays[str(year)]} weekend working days"
        )
    for year in found.missing_years:
        click.echo(f"WARNING: no published holiday data for {year} in the installed chinesecalendar package")


@click.command("import-china-holidays")
@click.option("--calendar", "code", default="office", show_default=True, help="Code of the calendar.")
@click.option("--years", required=True, callback=_years, help="A year or a range, e.g. 2025-2027.")
@with_appcontext
def import_china_holidays(code, years):
    """Add China's statutory holidays and moved working days to a calendar.

    Exits with 1 when none of the years has published data.
    """
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Calendar
    from tracker.services.sla import holidays

    calendar = db.session.execute(select(Calendar).where(Calendar.code == code)).scalar_one_or_none()
    if calendar is None:
        codes = ", ".join(db.session.execute(select(Calendar.code).order_by(Calendar.code)).scalars()) or "none"
        raise click.ClickException(f"no calendar with code {code!r}; calendars: {codes}")
    try:
        version, found = holidays.import_china_holidays(calendar.id, years, actor=None, now=utcnow())
    except TrackerError as error:
        _echo_china_days(holidays.china_days(years))
        raise click.ClickException(str(error)) from None
    _echo_china_days(found)
    if version is None:
        click.echo(f"calendar {calendar.code} already had these days: no new version")
    else:
        click.echo(f"calendar {calendar.code}: version {version.number}")


@click.command("sla-defaults")
@click.option(
    "--china-years", callback=_years, default=None,
    help="Import China's holidays for these years (e.g. 2024-2026) into a newly created office calendar.",
)
@with_appcontext
def sla_defaults(china_years):
    """Create the default calendars and SLA policies where they are missing; safe to run again."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Calendar, SlaPolicy
    from tracker.services.sla import config as sla_config
    from tracker.services.sla import holidays

    def existing(model, codes) -> set[str]:
        return set(db.session.execute(select(model.code).where(model.code.in_(codes))).scalars())

    calendars_before = existing(Calendar, list(sla_config.DEFAULT_CALENDARS))
    policies_before = existing(SlaPolicy, list(sla_config.DEFAULT_POLICIES))
    try:
        sla_config.install_defaults(actor=None, now=utcnow(), china_years=china_years)
    except TrackerError as error:
        raise click.ClickException(str(error)) from None
    for code, spec in sla_config.DEFAULT_CALENDARS.items():
        calendar = db.session.execute(select(Calendar).where(Calendar.code == code)).scalar_one()
        number = calendar.current_version.number if calendar.current_version else 0
        if code in calendars_before:
            click.echo(f"calendar {code}: found (version {number})")
            if spec["follows_china_holidays"] and china_years:
                click.echo(
                    f"  holidays not changed; add years with: flask import-china-holidays --calendar {code} "
                    f"--years {china_years.start}-{china_years.stop - 1}"
                )
            continue
        click.echo(f"calendar {code}: created (version {number})")
        if spec["follows_china_holidays"] and china_years:
            _echo_china_days(holidays.china_days(china_years))
    for code in sla_config.DEFAULT_POLICIES:
        policy = db.session.execute(select(SlaPolicy).where(SlaPolicy.code == code)).scalar_one()
        number = policy.current_version.number if policy.current_version else 0
        state = "found" if code in policies_before else "created"
        click.echo(f"policy {code}: {state} (version {number})")


# ---------------------------------------------------------------- operations


@click.command("sla-sweep")
@with_appcontext
def sla_sweep_command():
    """Flag SLA clocks that changed by now and act on due escalations, once."""
    from tracker.services.sla import sweep as sla_sweep

    result = sla_sweep.sweep_due(utcnow())
    click.echo(f"SLA sweep: {result}")


def _recipient(notification) -> str:
    if notification.user is not None:
        return f"user {notification.user.username}"
    if notification.webhook is not None:
        return f"webhook {notification.webhook.name}"
    return "-"


@click.command("outbox-status")
@with_appcontext
def outbox_status():
    """Print how many notices are in each delivery state, and the last 10 failures."""
    from tracker.services.notify import outbox

    overview = outbox.overview(utcnow(), failed_limit=10)
    for status, count in overview.counts.items():
        click.echo(f"{status.value}: {count}")
    minutes = int(outbox.STUCK_GRACE.total_seconds() // 60)
    click.echo(f"stuck (due more than {minutes} min ago): {overview.stuck}")
    if not overview.failed:
        click.echo("no failures")
        return
    click.echo("last failures:")
    for n in overview.failed:
        error = " ".join((n.last_error or "").split())[:200]
        click.echo(f"  #{n.id} {n.kind} {n.channel.value} to {_recipient(n)}, {n.attempts} attempts: {error}")


@click.command("outbox-deliver")
@click.option("--limit", default=5000, show_default=True, type=click.IntRange(min=1), help="At most this many.")
@with_appcontext
def outbox_deliver(limit):
    """Deliver the due notices now (when no worker runs) and print the counts."""
    from tracker.services.notify import outbox

    result = outbox.deliver(utcnow, limit=limit)
    click.echo(f"outbox: {result.sent} sent, {result.retried} to retry, {result.failed} failed")


@click.command("stats-rebuild")
def stats_rebuild():
    """Recompute the dashboards' daily summary for every day (after an upgrade or a bulk load)."""
    from tracker.services.insight import stats

    marked = stats.mark_everything()
    click.echo(f"{marked:,} day-centre pairs to compute")

    def progress(done, total):
        if done % 2000 == 0 or done == total:
            click.echo(f"  {done:,} of {total:,}")

    stats.refresh_all(progress=progress)
    click.echo("daily summary rebuilt")


@click.command("contractor-add")
@click.argument("code")
@click.option("--name-en", required=True, help="The company's name in English.")
@click.option("--name-zh", required=True, help="The company's name in Chinese.")
@with_appcontext
def contractor_add(code, name_en, name_zh):
    """Add a contractor (an outside company whose technicians work on campus)."""
    from tracker.services.insight.scorecards import contractors

    try:
        contractor = contractors.create(code=code, name_en=name_en, name_zh=name_zh, now=utcnow())
    except TrackerError as refused:
        raise click.ClickException(refused.translated()) from None
    click.echo(f"contractor {contractor.code} added (id {contractor.id})")


@click.command("contractor-assign")
@click.argument("username")
@click.argument("code", required=False)
@with_appcontext
def contractor_assign(username, code):
    """Make a technician work for the contractor CODE (without CODE: for the campus itself)."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Contractor, User
    from tracker.services.insight.scorecards import contractors

    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {username}")
    contractor_id = None
    if code:
        contractor_id = db.session.execute(select(Contractor.id).where(Contractor.code == code)).scalar()
        if contractor_id is None:
            raise click.ClickException(f"no contractor {code}")
    try:
        contractors.assign(user.id, contractor_id, now=utcnow())
    except TrackerError as refused:
        raise click.ClickException(refused.translated()) from None
    click.echo(f"{username} works for {code or 'the campus'}")


@click.command("follow-up-rule")
@click.argument("centre")
@click.argument("share")
@click.option("--category", default=None, help="The category's code; without it the centre's default.")
@click.option("--complaint", is_flag=True, help="The category is complaints: followed up in full (100 %).")
@with_appcontext
def follow_up_rule(centre, share, category, complaint):
    """Set the share (whole percent) of a centre's closed requests that gets a follow-up call."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import Category, Centre
    from tracker.services.insight.scorecards import rules

    centre_id = db.session.execute(select(Centre.id).where(Centre.code == centre)).scalar()
    if centre_id is None:
        raise click.ClickException(f"no centre {centre}")
    category_id = None
    if category:
        category_id = db.session.execute(
            select(Category.id).where(Category.centre_id == centre_id, Category.code == category)).scalar()
        if category_id is None:
            raise click.ClickException(f"no category {category} in {centre}")
    try:
        rule = rules.set_rule(centre_id, category_id, share, is_complaint=complaint, actor=None, now=utcnow())
    except TrackerError as refused:
        raise click.ClickException(refused.translated()) from None
    click.echo(f"follow-up rule of {centre}/{category or '*'}: {rule.share_percent} %")


@click.command("follow-up-sample")
@click.option("--week", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Any day of the week whose closed requests to draw from (YYYY-MM-DD); default: the last full week.")
@with_appcontext
def follow_up_sample(week):
    """Draw a week's sample of closed requests for follow-up calls, for the centres not drawn yet."""
    from datetime import timedelta

    from tracker.services.ledger import follow_ups

    now = utcnow()
    monday = follow_ups.sample_week(now) if week is None else week.date() - timedelta(days=week.weekday())
    drawn = follow_ups.draw_sample(monday, now=now)
    click.echo(f"follow-up sample of the week of {monday.isoformat()}: "
               + (", ".join(f"centre {c}: {len(ids)}" for c, ids in drawn.items()) or "drawn already (or size 0)"))


@click.command("weekly-report")
@click.option("--week", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Any day of the week to report on (YYYY-MM-DD); default: the last full week.")
@click.option("--email", is_flag=True, help="Tell leadership, unless they were told of this week already.")
@with_appcontext
def weekly_report(week, email):
    """Generate (or regenerate) a week's report now and print its headline figures."""
    from tracker.services.insight import weekly

    now = utcnow()
    day = week.date() if week is not None else weekly.last_full_week(now)

    def progress(done, total):
        click.echo(f"  step {done} of {total}")

    click.echo(f"weekly report of the week of {weekly.week_of(day).isoformat()}")
    try:
        report = weekly.generate(day, actor=None, now=now, progress=progress, notify=email)
    except TrackerError as error:
        raise click.ClickException(str(error)) from None
    if report is None:
        raise click.ClickException("another generation of this week took over; see the report's page")
    content = weekly.read(report.content)

    def percent(value):
        return "-" if value is None else f"{value:.1f} %"

    for section in [*content.centres, content.total]:
        f = section.figures
        click.echo(
            f"{section.name_en or 'Campus total'}: {f.received} received, {f.resolved} resolved, "
            f"{f.closed} closed, {f.backlog} open; on time: response {percent(f.met_percent('response'))}, "
            f"resolution {percent(f.met_percent('resolution'))}; missed deadlines: {sum(f.breached.values())}"
        )
    sent = "leadership told" if report.notified_at is not None else "leadership not told"
    click.echo(f"stored as generation {report.generation} ({sent})")


@click.command("rectification-sweep")
@with_appcontext
def rectification_sweep_command():
    """Flag rectification items that became at risk or overdue, and tell their people, now."""
    from tracker.services.ledger import rectification

    click.echo(f"rectification sweep: {rectification.sweep_due(utcnow())}")


def _import_files(paths) -> list[dict]:
    """Expand files and folders (their .csv, .csv.gz and .xlsx files, sorted) into the run's file list."""
    from pathlib import Path

    from tracker.services.requests import importer

    files = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(importer.SUFFIXES))
            if not found:
                raise click.BadParameter(f"{given}: no .csv, .csv.gz or .xlsx file in this folder")
            files.extend({"name": p.name, "path": str(p.resolve())} for p in found)
        elif path.is_file():
            files.append({"name": path.name, "path": str(path.resolve())})
        else:
            raise click.BadParameter(f"{given}: no such file or folder")
    return files


def _require_schema_at_head() -> None:
    """Stop with what to do when the database's schema is not at the migrations' heads (a fresh checkout)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app

    from tracker.extensions import db

    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    current = set(MigrationContext.configure(db.session.connection()).get_current_heads())
    db.session.commit()
    if current != heads:
        state = "is empty" if not current else f"is at {', '.join(sorted(current))}"
        raise click.ClickException(
            f"the database {state}, not at the latest migration: "
            "run `flask --app wsgi db upgrade heads` first, then this command again")


@click.command("import-tickets")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--mapping", "--preset", "mapping_code", required=True,
              help="Code (or name) of a saved mapping, or a preset shipped with the application (boston-311).")
@click.option("--dry-run", is_flag=True, help="Check every row and report; change nothing.")
@click.option("--time-zone", default=None, help="The source's time zone, instead of the mapping's.")
@click.option("--encoding", default="utf-8", show_default=True,
              type=click.Choice(["utf-8", "gb18030", "big5", "cp1252"], case_sensitive=False),
              help="Encoding of CSV files (gb18030: files from Chinese office software).")
@click.option("--as-of", default=None,
              help="Read open tickets' clocks at this local time of the source (ISO, e.g. 2016-01-13T00:00); "
                   "default now.")
@click.option("--batch-size", default=None, type=click.IntRange(100, 100_000),
              help="Rows a batch (each commits with the progress); default: sized to about a second each.")
@click.option("--errors", "show_errors", default=20, show_default=True, help="Row errors to print.")
@with_appcontext
def import_tickets(paths, mapping_code, dry_run, time_zone, encoding, as_of, batch_size, show_errors):
    """Import historical tickets from CSV, CSV.GZ or XLSX files (or folders of them) with a saved mapping.

    Runs here, in this process, with its progress printed; the same source
    row never makes two tickets. Exits with status 1 when the run failed.
    """
    import sys
    from datetime import datetime

    from flask_babel import force_locale

    from tracker.services.requests import importer

    _require_schema_at_head()
    now = utcnow()
    importer.ensure_builtin_mappings(now=now)
    mapping = importer.mapping_by_code(mapping_code) or next(
        (m for m in importer.all_mappings() if m.name == mapping_code), None)
    if mapping is None:
        codes = ", ".join(m.code for m in importer.all_mappings())
        raise click.BadParameter(f"no mapping {mapping_code!r}; saved mappings: {codes}")
    files = _import_files(paths)
    instant = None
    if as_of:
        try:
            local = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(f"--as-of: {as_of!r} is not an ISO date and time") from None
        instant = importer.ensure_aware(local, time_zone or mapping.time_zone)
    try:
        run = importer.create_run(mapping=mapping, files=files, dry_run=dry_run, as_of=instant,
                                  time_zone=time_zone, encoding=encoding.lower(), actor=None, now=now)
    except TrackerError as error:
        raise click.ClickException(str(error)) from None
    kind = "dry run" if dry_run else "import"
    click.echo(f"{kind} {run.id}: {len(files)} file(s), {run.progress_total:,} bytes, mapping {mapping.code}, "
               f"time zone {run.settings['time_zone']}, encoding {encoding.lower()}, as of {run.as_of.isoformat()}")
    shown = {"at": -1}
    tty = sys.stderr.isatty()

    def progress(current):
        percent = current.percent
        line = (f"{current.phase:8} {percent:3d}%  rows {current.rows_total:,}  imported {current.rows_imported:,}  "
                f"skipped {current.rows_skipped:,}  refused {current.rows_error:,}")
        if tty:
            click.echo("\r" + line, nl=False, err=True)
        elif percent // 10 != shown["at"] // 10 or percent == 100:
            click.echo(line, err=True)
        shown["at"] = percent

    started = datetime.now()
    done = importer.execute_run(run.id, batch_size=batch_size, progress=progress)
    if tty:
        click.echo("", err=True)
    seconds = (datetime.now() - started).total_seconds()
    if done is None:
        raise click.ClickException(f"run {run.id} was taken by another process")
    with force_locale("en"):
        for error in importer.row_errors(done.id, size=show_errors):
            click.echo(f"  {error.file_name}, row {error.row_number}: {importer.error_text(error)}")
    if done.rows_error > show_errors:
        click.echo(f"  ... {done.rows_error - show_errors:,} more row errors (see the run's page)")
    report = done.report or {}
    click.echo(f"{done.status.value}: {done.rows_total:,} rows, {done.rows_imported:,} "
               f"{'would be imported' if dry_run else 'imported'}, {done.rows_skipped:,} imported before (skipped), "
               f"{done.rows_error:,} refused, in {seconds:.1f} s")
    for name, counts in sorted((report.get("sla") or {}).items()):
        click.echo(f"  SLA {name}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    if report.get("warnings"):
        click.echo("  warnings: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report["warnings"].items())))
    if done.status.value != "done":
        raise click.ClickException(done.message or "the run failed")


@click.group("standards")
def standards_group():
    """Service standards: replay a period under a draft, what history supports, benchmarks."""


@standards_group.command("replay")
@click.option("--current", "is_current", is_flag=True, help="Replay the published versions (equals the stored figures).")
@click.option("--draft", "draft_path", type=click.Path(exists=True, dir_okay=False),
              help="A draft as JSON (docs/standards.md).")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First local day.")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last local day (included).")
@click.option("--centre", "centre_code", default=None, help="Only this centre (its code).")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Processes replaying slices of the requests.")
@click.option("--as-of", "as_of", default=None,
              help="Read open requests' clocks at this instant (ISO with its offset, e.g. 2016-01-13T05:00+00:00); "
                   "default now.")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False), help="Write the result here.")
@with_appcontext
def standards_replay(is_current, draft_path, first, last, centre_code, processes, as_of, json_path):
    """Replay the requests of a period under a draft (or the published versions); write the figures as JSON.

    Nothing stored changes and no notice is sent.
    """
    import json
    import sys
    import time
    from datetime import datetime

    from flask_babel import force_locale

    from tracker.services.sla.standards import replay as replays
    from tracker.services.sla.standards.draft import Draft, parse_draft

    if is_current == bool(draft_path):
        raise click.UsageError("give either --current or --draft FILE.json")
    now = utcnow()
    if as_of:
        try:
            now = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(f"--as-of: {as_of!r} is not an ISO date and time") from None
        if now.tzinfo is None:
            raise click.BadParameter("--as-of: give the offset, e.g. +00:00")
    tty = sys.stderr.isatty()
    shown = {"at": -1}

    def progress(done, total):
        percent = 100 * done // total if total else 100
        line = f"replayed {done:,} of {total:,} requests ({percent}%)"
        if tty:
            click.echo("\r" + line, nl=False, err=True)
        elif percent // 10 != shown["at"] // 10:
            click.echo(line, err=True)
        shown["at"] = percent

    with force_locale("en"):
        try:
            if draft_path:
                with open(draft_path, encoding="utf-8") as handle:
                    try:
                        document = json.load(handle)
                    except ValueError as error:
                        raise click.ClickException(f"{draft_path}: not JSON ({error})") from None
                draft = parse_draft(document)
            else:
                draft = Draft()
            filters = replays.filters_for(first.date(), last.date(), centre_code=centre_code)
            started = time.perf_counter()
            result = replays.replay(filters, draft, now, progress=progress, processes=processes)
        except TrackerError as error:
            raise click.ClickException(error.translated()) from None
    seconds = time.perf_counter() - started
    if tty:
        click.echo("", err=True)
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, ensure_ascii=False, indent=1)
    rate = result["requests"] / seconds if seconds else 0
    click.echo(f"{result['requests']:,} requests replayed in {seconds:.1f} s ({rate:,.0f}/s); "
               f"{result['changed_requests']:,} changed; flips: {result['flips']['met_to_late']:,} met -> late, "
               f"{result['flips']['late_to_met']:,} late -> met; written to {json_path}")
    for target, sides in result["totals"].items():
        click.echo(f"  {target:13} stored {_percent(sides['stored']['met_percent'])} of "
                   f"{sides['stored']['measured']:,}   replayed {_percent(sides['draft']['met_percent'])} of "
                   f"{sides['draft']['measured']:,}")


def _percent(value) -> str:
    return "   —  " if value is None else f"{value:5.1f}%"


def _duration(minutes) -> str:
    if minutes is None:
        return "—"
    minutes = round(float(minutes))
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


@standards_group.command("history")
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(1, 520), help="The last N weeks.")
@click.option("--share", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="The share to promise, e.g. 0.95 (a draft target's own share wins).")
@click.option("--centre", "centre_code", default=None, help="Only this centre (its code).")
@click.option("--draft", "draft_path", type=click.Path(exists=True, dir_okay=False),
              help="Set the draft's limits beside (docs/standards.md).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the rows here.")
@with_appcontext
def standards_history(weeks, share, centre_code, draft_path, json_path):
    """Show the limit the last N weeks achieved for a share, per centre, category, priority and target."""
    import json

    from flask_babel import force_locale

    from tracker.services.insight import reports
    from tracker.services.sla.standards import history
    from tracker.services.sla.standards import replay as replays
    from tracker.services.sla.standards.draft import parse_draft

    with force_locale("en"):
        try:
            draft = None
            if draft_path:
                with open(draft_path, encoding="utf-8") as handle:
                    draft = parse_draft(json.load(handle))
            first, last = history.weeks_back(reports.local_day(utcnow()), weeks)
            rows = history.supported(replays.filters_for(first, last, centre_code=centre_code), share, draft=draft)
        except TrackerError as error:
            raise click.ClickException(error.translated()) from None
        except ValueError as error:
            raise click.ClickException(f"{draft_path}: not JSON ({error})") from None
    click.echo(f"{first} to {last}:")
    for row in rows:
        line = (f"  {row['centre']}/{row['category']} {row['priority']:6} {row['target']:12} "
                f"to promise {row['share'] * 100:.0f} % you would need {_duration(row['needed_minutes'])} "
                f"(of {row['measured']:,}); measured against {_duration(row['current_minutes'])}, "
                f"{row['within_current'] * 100:.0f} % within")
        if row["draft_minutes"] is not None:
            line += f"; the draft promises {_duration(row['draft_minutes'])}"
        click.echo(line)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"first": first.isoformat(), "last": last.isoformat(), "rows": rows}, handle,
                      ensure_ascii=False, indent=1)


@click.command("import-benchmarks")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", "read_year", type=int, default=None,
              help="The year the values were read, for rows without a year column (default: this year).")
@click.option("--locale", default="en", show_default=True, help="Language of the messages (en or zh_CN).")
@with_appcontext
def import_benchmarks(path, read_year, locale):
    """Import benchmarks from a CSV file: all rows or, with any bad row, none (each bad row is listed)."""
    from flask_babel import force_locale

    from tracker.services.sla.standards import benchmarks

    with open(path, "rb") as handle:
        data = handle.read()
    now = utcnow()
    result = benchmarks.import_csv(data, read_year=read_year or now.year, actor=None, now=now)
    with force_locale(locale):
        for row in result.errors:
            click.echo(f"row {row.row}: {row.error.translated()}", err=True)
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} bad rows: nothing was imported")
    click.echo(f"{result.created} benchmarks imported, {result.skipped} already in the register")
