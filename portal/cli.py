"""Flask commands for operators and scripts: organizations, administrators, the demo set-up."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from . import directory
from .actors import Actor
from .errors import DomainError
from .extensions import db
from .models import PERMISSIONS, Organization

org_cli = AppGroup("org", help="Organizations.")
admin_cli = AppGroup("admin", help="Administrators.")


def fail(message: str) -> None:
    """Roll back, print the message on stderr and exit 1."""
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


@org_cli.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="Email of the primary administrator.")
@click.option("--admin-password", required=True, help="Initial password of the primary administrator.")
def org_create(name: str, admin_email: str, admin_password: str) -> None:
    """Create an organization and its primary administrator; print the organization id."""
    try:
        org = directory.create_organization(name, admin_email, admin_password, Actor.cli())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(org.id)


@admin_cli.command("create")
@click.option("--org", "org_name", required=True, help="Organization name.")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--permission", "permissions", multiple=True, type=click.Choice(PERMISSIONS),
              help="Grant a permission (repeatable).")
def admin_create(org_name: str, email: str, password: str, name: str, permissions: tuple[str, ...]) -> None:
    """Create an administrator of an organization with the given permissions."""
    try:
        org = directory.find_organization(org_name)
        admin = directory.create_admin(org, email, password, Actor.cli(), name=name, permissions=set(permissions))
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(admin.id)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Create the organization "Demo" and its primary admin when there is no organization yet."""
    if db.session.scalar(select(func.count()).select_from(Organization)):
        click.echo("An organization exists already; sign in with its administrator.")
        return
    email = "admin@demo.example"
    password = secrets.token_urlsafe(12)
    directory.create_organization("Demo", email, password, Actor.cli())
    db.session.commit()
    click.echo("Created the organization Demo. Sign in at http://127.0.0.1:5000/login with")
    click.echo(f"  email:    {email}")
    click.echo(f"  password: {password}")
    click.echo("(the password is shown only now)")


def init_app(app: Flask) -> None:
    """Attach the command groups to ``flask``."""
    app.cli.add_command(org_cli)
    app.cli.add_command(admin_cli)
    app.cli.add_command(demo)
