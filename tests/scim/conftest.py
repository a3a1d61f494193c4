"""SCIM fixtures: an active sync source made by the CLI and a client that speaks SCIM to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from portal.extensions import db
from portal.models import SyncLog

SCIM_JSON = "application/scim+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class SourceData:
    """A sync source as the CLI printed it."""

    id: str
    url: str
    token: str

    @property
    def path(self) -> str:
        return f"/scim/v2/{self.id}"


def add_source(runner: Any, org_name: str, *extra: str, provider: str = "generic") -> SourceData:
    """``flask sync-source add --org ... --provider PROVIDER --json`` and the printed id, URL and token.

    ``--base-url`` is the test client's own address: without it (or PUBLIC_BASE_URL) the command refuses.
    """
    result = runner.invoke(
        args=[
            "sync-source",
            "add",
            "--org",
            org_name,
            "--provider",
            provider,
            "--json",
            "--base-url",
            "http://localhost",
            *extra,
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    return SourceData(data["id"], data["url"], data["token"])


class Scim:
    """A SCIM client for one source: JSON bodies, the bearer header, paths relative to the base URL."""

    def __init__(self, client: Any, source: SourceData) -> None:
        self.client = client
        self.source = source
        self.token = source.token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        raw: bytes | str | None = None,
        content_type: str = SCIM_JSON,
        **kwargs: Any,
    ) -> Any:
        all_headers = {"Authorization": f"Bearer {token or self.token}"}
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.client.open(
            f"{self.source.path}{path}",
            method=method,
            data=data,
            headers=all_headers,
            content_type=content_type if data is not None else None,
            **kwargs,
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def ops(self, path: str, *operations: dict[str, Any], **kw: Any) -> Any:
        """PATCH with a PatchOp body holding ``operations``."""
        return self.patch(path, {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}, **kw)

    def create_user(self, user_name: str = "ann@acme.test", **attributes: Any) -> dict[str, Any]:
        """POST a user (201 expected) and return the resource."""
        response = self.post("/Users", user(user_name, **attributes))
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def user(user_name: str = "ann@acme.test", **attributes: Any) -> dict[str, Any]:
    """A minimal valid SCIM User: userName, displayName and the same work email."""
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": user_name.split("@")[0].title(),
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(attributes)
    return body


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The response is a SCIM error document (RFC 7644 §3.12) with this status and scimType."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def sync_logs(app: Any) -> list[SyncLog]:
    """Every sync log row, oldest first (detached copies of the values)."""
    with app.app_context():
        rows = db.session.scalars(db.select(SyncLog).order_by(SyncLog.id)).all()
        db.session.expunge_all()
        return list(rows)


@pytest.fixture
def source(app: Any, runner: Any, org: Any) -> SourceData:
    """An active generic sync source of ``org``, made with the CLI."""
    return add_source(runner, org.name, "--activate")


@pytest.fixture
def scim(client: Any, source: SourceData) -> Scim:
    return Scim(client, source)


@pytest.fixture
def rule_scim(client: Any, runner: Any, org: Any) -> Scim:
    """A SCIM client of an active source with the identity rule "userName must equal the work email" on
    (JumpCloud's default, the seed's FAQ note)."""
    return Scim(client, add_source(runner, org.name, "--activate", "--username-is-email"))
