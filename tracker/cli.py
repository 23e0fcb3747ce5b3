"""``flask`` commands: create users, load demo data."""

import click
from flask import Flask

from tracker.clock import utcnow
from tracker.domain.roles import CENTRE_ROLES, Role
from tracker.errors import TrackerError


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(seed_demo)
    app.cli.add_command(demo_password)


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
