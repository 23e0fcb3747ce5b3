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
    app.cli.add_command(import_china_holidays)
    app.cli.add_command(sla_defaults)
    app.cli.add_command(sla_sweep_command)
    app.cli.add_command(outbox_status)
    app.cli.add_command(outbox_deliver)
    app.cli.add_command(weekly_report)


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
    from tracker.services import accounts

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
    click.echo("Log in as student, staff, tech.repairs, dispatch.repairs, head.repairs, leader or admin.")


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
    from tracker.services import holidays

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
    from tracker.services import holidays, sla_config

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
    from tracker.services import sla_sweep

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
    from tracker.services import outbox

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
    from tracker.services import outbox

    result = outbox.deliver(utcnow, limit=limit)
    click.echo(f"outbox: {result.sent} sent, {result.retried} to retry, {result.failed} failed")


@click.command("stats-rebuild")
def stats_rebuild():
    """Recompute the dashboards' daily summary for every day (after an upgrade or a bulk load)."""
    from tracker.services import stats

    marked = stats.mark_everything()
    click.echo(f"{marked:,} day-centre pairs to compute")

    def progress(done, total):
        if done % 2000 == 0 or done == total:
            click.echo(f"  {done:,} of {total:,}")

    stats.refresh_all(progress=progress)
    click.echo("daily summary rebuilt")


@click.command("weekly-report")
@click.option("--week", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Any day of the week to report on (YYYY-MM-DD); default: the last full week.")
@click.option("--email", is_flag=True, help="Tell leadership, unless they were told of this week already.")
@with_appcontext
def weekly_report(week, email):
    """Generate (or regenerate) a week's report now and print its headline figures."""
    from tracker.services import weekly

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
