"""The SCIM URL the CLI prints is never made up: PUBLIC_BASE_URL or ``--base-url``, else the command refuses.

Issue "One core you can see": the SCIM base URL is built in one function
(``portal.core.sync_sources.scim_base_url``); without a known root the CLI used
to print ``http://127.0.0.1:5000/...``, a wrong address for any script.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import sync_sources
from portal.core.errors import Invalid
from portal.extensions import db
from portal.models import AdminLog, SyncSource
from tests.scim.conftest import Scim, SourceData, add_source, user

pytestmark = pytest.mark.both_databases

ADD = ["sync-source", "add", "--provider", "okta", "--activate", "--json"]


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_add_without_public_base_url_or_base_url_is_refused_and_creates_nothing(
    app: Any, runner: Any, org: Any
) -> None:
    assert not app.config["PUBLIC_BASE_URL"]
    logged = _count(app, AdminLog)
    result = runner.invoke(args=[*ADD, "--org", org.name])
    assert result.exit_code == 1
    assert "PUBLIC_BASE_URL is not set" in result.output and "--base-url" in result.output
    assert "127.0.0.1" not in result.output and "token" not in result.output
    assert _count(app, SyncSource) == 0
    assert _count(app, AdminLog) == logged


def test_add_with_base_url_prints_a_url_under_it(app: Any, runner: Any, org: Any) -> None:
    result = runner.invoke(args=[*ADD, "--org", org.name, "--base-url", "https://sync.example.com/portal/"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["url"].startswith("https://sync.example.com/portal/scim/v2/")
    assert data["url"] == f"https://sync.example.com/portal/scim/v2/{data['id']}"
    assert _count(app, SyncSource) == 1


def test_add_with_public_base_url_prints_a_url_under_it(app: Any, runner: Any, org: Any) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://portal.example.com"
    result = runner.invoke(args=[*ADD, "--org", org.name])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["url"] == f"https://portal.example.com/scim/v2/{data['id']}"


def test_base_url_wins_over_public_base_url(app: Any, runner: Any, org: Any) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://portal.example.com"
    result = runner.invoke(args=[*ADD, "--org", org.name, "--base-url", "http://10.0.0.5:8000"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["url"].startswith("http://10.0.0.5:8000/scim/v2/")


@pytest.mark.parametrize(
    "bad",
    [
        "portal.example.com",
        "ftp://portal.example.com",
        "https://",
        "https:///path",
        "https://portal.example.com/?x=1",
        "https://portal.example.com/#top",
        "https://portal.example.com?",
        "http://portal.example.com:port",
        "http://portal example.com",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_bad_base_url_is_refused_and_creates_nothing(app: Any, runner: Any, org: Any, bad: str) -> None:
    result = runner.invoke(args=[*ADD, "--org", org.name, "--base-url", bad])
    assert result.exit_code == 2
    assert "--base-url" in result.output and "http:// or https://" in result.output
    assert _count(app, SyncSource) == 0


def test_refresh_token_without_a_root_is_refused_and_the_old_token_keeps_working(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    source: SourceData = add_source(runner, org.name, "--activate")
    scim = Scim(client, source)
    result = runner.invoke(args=["sync-source", "refresh-token", source.id, "--json"])
    assert result.exit_code == 1 and "PUBLIC_BASE_URL is not set" in result.output
    assert scim.post("/Users", user()).status_code == 201
    result = runner.invoke(
        args=["sync-source", "refresh-token", source.id, "--json", "--base-url", "https://sync.example.com"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["url"] == f"https://sync.example.com/scim/v2/{source.id}"


def test_the_core_builds_the_url_from_root_then_public_base_url_then_fallback(app: Any) -> None:
    with app.app_context():
        app.config["PUBLIC_BASE_URL"] = ""
        with pytest.raises(Invalid):
            sync_sources.scim_base_url("abc")
        assert sync_sources.scim_base_url("abc", fallback="http://localhost/") == "http://localhost/scim/v2/abc"
        assert sync_sources.scim_base_url("abc", "https://a.example/") == "https://a.example/scim/v2/abc"
        app.config["PUBLIC_BASE_URL"] = "https://portal.example.com"
        assert (
            sync_sources.scim_base_url("abc", fallback="http://localhost/") == "https://portal.example.com/scim/v2/abc"
        )
        assert sync_sources.scim_base_url("abc", "https://a.example") == "https://a.example/scim/v2/abc"
