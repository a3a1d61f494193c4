"""Flask commands for operators and scripts: organizations, administrators, sync sources, the demo set-up."""

from __future__ import annotations

import json
import os
import secrets

import click
from flask import Flask, current_app, url_for
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from portal.core import administrators, organizations, sync_sources, unique
from portal.core.actors import Actor
from portal.core.errors import DomainError

from .extensions import db
from .models import DELETION_RULES, MATCH_ATTRIBUTES, PERMISSIONS, PROVIDERS, Organization, SyncSource, norm

org_cli = AppGroup("org", help="Organizations.")
admin_cli = AppGroup("admin", help="Administrators.")
source_cli = AppGroup("sync-source", help="Sync sources (identity providers pushing over SCIM).")
directory_cli = AppGroup("directory", help="The directory's data as a whole.")


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
        org = organizations.create_organization(name, admin_email, admin_password, Actor.cli())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(org.id)


@admin_cli.command("create")
@click.option("--org", "org_name", required=True, help="Organization name.")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="", help="Display name.")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice(PERMISSIONS),
    help="Grant a permission (repeatable).",
)
def admin_create(org_name: str, email: str, password: str, name: str, permissions: tuple[str, ...]) -> None:
    """Create an administrator of an organization with the given permissions."""
    try:
        org = organizations.find_organization(org_name)
        admin = administrators.create_admin(org, email, password, Actor.cli(), name=name, permissions=permissions)
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(admin.id)


@admin_cli.command("reset-password")
@click.option("--org", "org_name", required=True, help="Organization name.")
@click.option("--email", required=True, help="The administrator's sign-in email.")
@click.option(
    "--link",
    is_flag=True,
    help="Print a one-time set-password link (48 hours) instead of an initial password.",
)
@click.option(
    "--base-url",
    callback=lambda ctx, param, value: _check_base_url(ctx, param, value),
    default=None,
    help="External address of the portal for the link (default: PUBLIC_BASE_URL).",
)
def admin_reset_password(org_name: str, email: str, link: bool, base_url: str | None) -> None:
    """Give an administrator (the primary too) a new initial password, or a one-time set-password link.

    The way back in when nobody can sign in: whoever runs the server runs this. Either way the
    administrator's open sessions and earlier links end; an initial password must be changed at the next
    sign-in. The Admin log records the reset (actor CLI).
    """
    root = _public_root(base_url) if link else None
    try:
        org = organizations.find_organization(org_name)
        admin = administrators.find_admin(org.id, email)
        creds = administrators.reset_password(org.id, admin.id, Actor.cli(), delivery="link" if link else "password")
    except DomainError as exc:
        fail(exc.message)
        raise  # unreachable: fail exits
    db.session.commit()
    if creds.token is not None and root is not None:
        with current_app.test_request_context(base_url=root):
            url = url_for("account.set_password", token=creds.token, _external=True)
        hours = int(administrators.SET_PASSWORD_LINK_LIFETIME.total_seconds() // 3600)
        click.echo(f"Set-password link for {creds.admin.email} (works once, for {hours} hours):")
        click.echo(f"  {url}")
    else:
        click.echo(f"New initial password for {creds.admin.email} (shown only now; it must be changed at sign-in):")
        click.echo(f"  {creds.password}")


@click.command("demo")
@click.option(
    "--credentials-file",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the new administrator's credentials to this file (mode 600) instead of printing them: "
    "bin/run-all prints it once the server answers, then deletes it (make run).",
)
@with_appcontext
def demo(credentials_file: str | None) -> None:
    """Create the organization "Demo" and its primary admin when there is no organization yet."""
    if db.session.scalar(select(func.count()).select_from(Organization)):
        click.echo("An organization exists already; sign in with its administrator.")
        return
    email = "admin@demo.example"
    password = secrets.token_urlsafe(12)
    organizations.create_organization("Demo", email, password, Actor.cli())
    db.session.commit()
    lines = ["Demo organization: sign in with", f"  email:    {email}", f"  password: {password}"]
    if credentials_file:
        # Created with mode 600 from the start: the password is never readable by other users, even briefly.
        fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
        click.echo("Created the organization Demo; its administrator's credentials follow once the server is up.")
        return
    click.echo("Created the organization Demo. Sign in at http://127.0.0.1:5000/login with")
    click.echo(f"  email:    {email}")
    click.echo(f"  password: {password}")
    click.echo("(the password is shown only now)")


def _check_base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The --base-url option: an http(s) URL without query or fragment, trailing slash stripped."""
    if value is None:
        return None
    try:
        return sync_sources.check_base_url(value)
    except DomainError as exc:
        raise click.BadParameter(exc.message) from None


base_url_option = click.option(
    "--base-url",
    callback=_check_base_url,
    default=None,
    help="External address of the portal, e.g. https://portal.example.com, for the printed SCIM URL "
    "(default: PUBLIC_BASE_URL; one of the two is required).",
)


def _public_root(base_url: str | None) -> str:
    """The root of the printed SCIM URL; without --base-url or PUBLIC_BASE_URL, exit 1 before changing anything."""
    try:
        return sync_sources.public_root(base_url)
    except DomainError:
        fail(
            "PUBLIC_BASE_URL is not set, so the SCIM URL is unknown: pass --base-url https://portal.example.com "
            "(the address identity providers reach this portal at) or set PUBLIC_BASE_URL. Nothing was changed."
        )
        raise  # unreachable: fail exits


def _print_source(source: SyncSource, token: str | None, as_json: bool, root: str) -> None:
    """Print a source's id, SCIM base URL and token (shown only now), as text or JSON."""
    out = {"id": source.public_id, "url": sync_sources.scim_base_url(source, root), "token": token}
    if as_json:
        click.echo(json.dumps(out))
    else:
        for key, value in out.items():
            click.echo(f"{key}: {value}")


def _source(public_id: str) -> SyncSource:
    source = sync_sources.source_for_url(public_id)
    if source is None or source.is_deleted:
        fail(f"No sync source with id {public_id}")
    assert source is not None
    return source


def _workforce_rule(text: str) -> dict[str, str]:
    value, sep, type_name = text.partition("=")
    if not sep:
        fail(f"Write a workforce rule as VALUE=WORKFORCE TYPE, not {text!r}")
    return {"value": value.strip(), "workforce_type": type_name.strip()}


@source_cli.command("add")
@click.option("--org", "org_name", required=True, help="Organization name.")
@click.option("--provider", required=True, type=click.Choice(PROVIDERS))
@click.option("--name", default=None, help="Name of the sync source (default: the provider's name).")
@click.option("--activate", is_flag=True, help="Activate at once (Save and Activate); else it is saved inactive.")
@click.option("--deletion-rule", type=click.Choice(DELETION_RULES), default=None, help="Member deletion rule.")
@click.option(
    "--match-attribute",
    "match_attributes",
    multiple=True,
    type=click.Choice(MATCH_ATTRIBUTES),
    help="Attribute for identifying existing users (repeatable; default email).",
)
@click.option(
    "--workforce-rule",
    "workforce_rules",
    multiple=True,
    help='Workforce type rule "Regular=regular employee" (repeatable, 15 at most).',
)
@click.option(
    "--username-is-email/--username-may-differ",
    "username_is_email",
    default=None,
    help="The identity rule 'userName must equal the work email' (default: on for JumpCloud, off otherwise).",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "url", "token"} as JSON.')
@base_url_option
def source_add(
    org_name: str,
    provider: str,
    name: str | None,
    activate: bool,
    deletion_rule: str | None,
    match_attributes: tuple[str, ...],
    workforce_rules: tuple[str, ...],
    username_is_email: bool | None,
    as_json: bool,
    base_url: str | None,
) -> None:
    """Create a sync source and print its id, SCIM URL and token (the token is shown only now)."""
    root = _public_root(base_url)
    actor = Actor.cli()
    try:
        org = organizations.find_organization(org_name)
        source, token = sync_sources.create_source(org.id, provider, actor, name=name)
        sync_sources.configure_source(
            org.id,
            source.id,
            actor,
            deletion_rule=deletion_rule,
            match_attributes=list(match_attributes) if match_attributes else None,
            workforce_rules=[_workforce_rule(r) for r in workforce_rules] if workforce_rules else None,
            username_is_email=username_is_email,
        )
        sync_sources.set_active(org.id, source.id, activate, actor)
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    _print_source(source, token, as_json, root)


@source_cli.command("refresh-token")
@click.argument("source_id")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "url", "token"} as JSON.')
@base_url_option
def source_refresh_token(source_id: str, as_json: bool, base_url: str | None) -> None:
    """Issue a new token for the source; the old one stops working at once."""
    # Checked first: a refused command must not have killed the old token.
    root = _public_root(base_url)
    source = _source(source_id)
    try:
        token = sync_sources.refresh_token(source.org_id, source.id, Actor.cli())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    _print_source(source, token, as_json, root)


@source_cli.command("activate")
@click.argument("source_id")
def source_activate(source_id: str) -> None:
    """Activate the source: SCIM requests are served."""
    _set_active(source_id, True)


@source_cli.command("deactivate")
@click.argument("source_id")
def source_deactivate(source_id: str) -> None:
    """Deactivate the source: every SCIM request is refused."""
    _set_active(source_id, False)


@source_cli.command("delete")
@click.argument("source_id")
def source_delete(source_id: str) -> None:
    """Delete the source for good: its token dies; its members keep their data and become unmanaged."""
    source = _source(source_id)
    sync_sources.delete_source(source.org_id, source.id, Actor.cli())
    db.session.commit()
    click.echo(f"Deleted sync source {source.public_id} ({source.name})")


def _set_active(source_id: str, active: bool) -> None:
    source = _source(source_id)
    try:
        sync_sources.set_active(source.org_id, source.id, active, Actor.cli())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(f"{source.name} is {source.status}")


@directory_cli.command("check-names")
def directory_check_names() -> None:
    """List the names that would be one name once compared after Unicode normalization; exit 1 if any.

    Reads only the plain columns, so it runs on a database not yet upgraded: run it before
    ``flask db upgrade``, which refuses while these collisions remain.
    """
    collisions = unique.norm_collisions(db.session.connection(), norm)
    db.session.rollback()
    if not collisions:
        click.echo("No names collide")
        return
    for line in collisions:
        click.echo(line)
    count = len(collisions)
    fail(
        f"{count} name{'s' if count != 1 else ''} would collide once compared after Unicode normalization: "
        "rename or remove all but one of each, then run flask db upgrade"
    )


def init_app(app: Flask) -> None:
    """Attach the command groups to ``flask``."""
    app.cli.add_command(org_cli)
    app.cli.add_command(admin_cli)
    app.cli.add_command(source_cli)
    app.cli.add_command(directory_cli)
    app.cli.add_command(demo)
