"""`flask sync-source add|refresh-token|activate|deactivate` for operators and scripts (issue 3, CLI)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import sync_sources
from portal.extensions import db
from portal.models import AdminLog, SyncSource
from tests.scim.conftest import Scim, SourceData, add_source, assert_scim_error, user

pytestmark = pytest.mark.both_databases


def _row(app: Any, public_id: str) -> SyncSource:
    with app.app_context():
        row = db.session.scalar(sa.select(SyncSource).where(SyncSource.public_id == public_id))
        db.session.expunge(row)
        return row


def test_add_prints_id_url_token_as_json_and_logs_actor_cli(app: Any, runner: Any, org: Any) -> None:
    """Issue 3, CLI: sync-source add with every option; --json prints id, url, token; admin log actor CLI."""
    app.config["PUBLIC_BASE_URL"] = "https://sync_sources.example.com"
    result = runner.invoke(
        args=[
            "sync-source",
            "add",
            "--org",
            "ACME",
            "--provider",
            "okta",
            "--name",
            "Okta prod",
            "--activate",
            "--deletion-rule",
            "delete",
            "--match-attribute",
            "employee_id",
            "--match-attribute",
            "email",
            "--workforce-rule",
            "Regular=regular employee",
            "--workforce-rule",
            "Intern = intern",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"id", "url", "token"}
    assert data["url"] == f"https://sync_sources.example.com/scim/v2/{data['id']}"
    row = _row(app, data["id"])
    assert (row.provider, row.name, row.status, row.deletion_rule) == ("okta", "Okta prod", "active", "delete")
    assert row.match_attributes == ["email", "employee_id"]
    assert [r["value"] for r in row.workforce_rules] == ["Regular", "Intern"]
    assert row.token_hash == sync_sources.hash_token(data["token"]) and data["token"] not in (
        row.token_prefix or "x" * 99
    )
    with app.app_context():
        entries = db.session.scalars(
            sa.select(AdminLog).where(AdminLog.target_id == data["id"]).order_by(AdminLog.id)
        ).all()
        assert [e.event_type for e in entries] == [
            "Add sync source",
            "Edit sync configurations",
            "Activate/Deactivate or Stop Sync Settings",
        ]
        assert {e.actor for e in entries} == {"CLI"}


def test_add_without_json_prints_lines_and_saves_inactive(app: Any, runner: Any, org: Any) -> None:
    """Issue 3, CLI: without --activate the source is saved, not activated (seed 1.1 step 6, Save)."""
    result = runner.invoke(
        args=[
            "sync-source",
            "add",
            "--org",
            org.name,
            "--provider",
            "jumpcloud",
            "--base-url",
            "https://portal.example.com",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.strip().splitlines())
    assert set(lines) == {"id", "url", "token"}
    assert _row(app, lines["id"]).status == "inactive"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--org", "Nope", "--provider", "okta"], "No organization"),
        (["--org", "Acme", "--provider", "okta", "--workforce-rule", "Regular"], "VALUE=WORKFORCE TYPE"),
        (["--org", "Acme", "--provider", "okta", "--workforce-rule", "Regular=astronaut"], "workforce type"),
    ],
)
def test_add_refuses_bad_input_and_writes_nothing(app: Any, runner: Any, org: Any, args: list, message: str) -> None:
    """Issue 3, CLI: bad input exits 1 and writes nothing."""
    result = runner.invoke(args=["sync-source", "add", "--base-url", "https://portal.example.com", *args])
    assert result.exit_code == 1 and message in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncSource)) == 0


def test_refresh_token_kills_the_old_token_at_once(app: Any, runner: Any, client: Any, source: SourceData) -> None:
    """Issue 3, CLI: refresh-token issues a new token; the old one stops working at once (DESIGN.md, Token)."""
    scim = Scim(client, source)
    scim.create_user()
    result = runner.invoke(args=["sync-source", "refresh-token", source.id, "--json", "--base-url", "http://localhost"])
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)
    assert new["id"] == source.id and new["token"] != source.token
    assert_scim_error(scim.post("/Users", user("bob@acme.test")), 401)
    assert scim.post("/Users", user("bob@acme.test"), token=new["token"]).status_code == 201


def test_activate_and_deactivate(app: Any, runner: Any, client: Any, org: Any) -> None:
    """Issue 3, CLI: activate / deactivate (seed 2, Activate / Deactivate)."""
    source = add_source(runner, org.name)
    scim = Scim(client, source)
    assert_scim_error(scim.post("/Users", user()), 403)
    assert runner.invoke(args=["sync-source", "activate", source.id]).exit_code == 0
    assert scim.post("/Users", user()).status_code == 201
    assert runner.invoke(args=["sync-source", "deactivate", source.id]).exit_code == 0
    assert_scim_error(scim.get("/Users/x"), 403)
    assert runner.invoke(args=["sync-source", "activate", "no-such-id"]).exit_code == 1
