"""JumpCloud's provisioning sequence through the production shape: gunicorn, 2 workers, PostgreSQL.

JumpCloud tests the connection (look up a test user by userName, create it,
delete it), then creates users with the enterprise extension, replaces them with
PUT, deactivates with PATCH ``active`` false (and PUT), and deletes them. Each
step is checked as JumpCloud sees it (status, body, ETag) and in the database
(member row, department, job title, sync log row). RFC 7644 §3.3-§3.6.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Member, SyncLog
from tests.conftest import TEST_DATABASE_URL
from tests.proof.support import HttpScim, Reply
from tests.scim.conftest import ENTERPRISE, PATCH_SCHEMA, USER_SCHEMA, add_source
from tests.servers import Server

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture(autouse=True)
def _postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip(
            "gunicorn against PostgreSQL only: its [postgresql] variant runs it"
            if TEST_DATABASE_URL
            else "gunicorn against PostgreSQL only: TEST_DATABASE_URL is not set"
        )


def jumpcloud_user(
    email: str, given: str, family: str, *, department: str, number: str, title: str, active: bool = True
) -> dict[str, Any]:
    """A User as JumpCloud sends it: both schemas, name parts, one work email, the enterprise extension."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": email,
        "externalId": f"jc-{number}",
        "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
        "displayName": f"{given} {family}",
        "title": title,
        "active": active,
        "emails": [{"value": email, "type": "work", "primary": True}],
        ENTERPRISE: {"department": department, "employeeNumber": number},
    }


def lookup(scim: HttpScim, email: str) -> Reply:
    return scim.request("GET", "/Users?filter=" + quote(f'userName eq "{email}"'))


def logs(app: Any) -> list[tuple[str, str, int, str | None]]:
    """(operation, result, status, object name) of every sync log row, oldest first."""
    with app.app_context():
        return [
            (r.operation, r.result, r.status_code, r.object_name)
            for r in db.session.scalars(select(SyncLog).order_by(SyncLog.id))
        ]


def member_row(app: Any, public_id: str) -> dict[str, Any] | None:
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.public_id == public_id))
        if member is None:
            return None
        return {
            "status": member.status,
            "name": member.name,
            "employee_id": member.employee_id,
            "title": member.job_title.name if member.job_title else None,
            "departments": [d.name for d in member.departments],
            "source_id": member.source_id,
            "first_name": member.first_name,
            "external_id": member.external_id,
        }


def test_jumpcloud_provisioning_sequence_through_gunicorn_on_postgresql_rfc7644_3(
    app: Any, runner: Any, org: Any, server: Server
) -> None:
    source = add_source(runner, org.name, "--activate")
    scim = HttpScim(f"{server.url}/scim/v2/{source.id}", source.token)

    # Test connection: look the test user up (none), create it, delete it.
    probe = "jumpcloud.test.user@acme.test"
    found = lookup(scim, probe)
    assert found.status == 200 and found.headers["content-type"].startswith("application/scim+json")
    assert found.json["schemas"] == [LIST_SCHEMA] and found.json["totalResults"] == 0
    made = scim.request(
        "POST", "/Users", jumpcloud_user(probe, "Test", "User", department="QA", number="T-0", title="Tester")
    )
    assert made.status == 201, made.text
    assert made.headers["location"] == made.json["meta"]["location"]
    assert made.headers["location"].endswith(f"/scim/v2/{source.id}/Users/{made.json['id']}")
    assert scim.request("DELETE", f"/Users/{made.json['id']}").status == 204

    # Create with the enterprise extension.
    email = "grace.hopper@acme.test"
    assert lookup(scim, email).json["totalResults"] == 0
    created = scim.request(
        "POST",
        "/Users",
        jumpcloud_user(email, "Grace", "Hopper", department="Research", number="E-1906", title="Rear Admiral"),
    )
    assert created.status == 201, created.text
    grace = created.json
    assert grace["userName"] == email and grace["active"] is True
    assert grace["title"] == "Rear Admiral" and grace["externalId"] == "jc-E-1906"
    assert grace[ENTERPRISE]["department"] == "Research" and grace[ENTERPRISE]["employeeNumber"] == "E-1906"
    assert created.headers["etag"] == grace["meta"]["version"]
    row = member_row(app, grace["id"])
    assert row is not None and row.pop("source_id") is not None
    assert row == {
        "status": "active",
        "name": "Grace Hopper",
        "employee_id": "E-1906",
        "title": "Rear Admiral",
        "departments": ["Research"],
        "first_name": "Grace",
        "external_id": email,
    }
    listed = lookup(scim, email.upper())
    assert listed.json["totalResults"] == 1 and listed.json["Resources"][0]["id"] == grace["id"]

    # Full PUT: every attribute as JumpCloud now has it.
    replaced = scim.request(
        "PUT",
        f"/Users/{grace['id']}",
        jumpcloud_user(email, "Grace", "Hopper-Murray", department="Computing", number="E-1906", title="Commodore"),
    )
    assert replaced.status == 200, replaced.text
    assert replaced.json["name"]["familyName"] == "Hopper-Murray" and replaced.json["title"] == "Commodore"
    assert replaced.json[ENTERPRISE]["department"] == "Computing"
    assert replaced.headers["etag"] != created.headers["etag"]
    row = member_row(app, grace["id"])
    assert (row["name"], row["title"], row["departments"]) == ("Grace Hopper-Murray", "Commodore", ["Computing"])

    # Deactivation: PATCH active false; then PUT active true and false again.
    patched = scim.request(
        "PATCH",
        f"/Users/{grace['id']}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    assert patched.status == 200 and patched.json["active"] is False
    assert member_row(app, grace["id"])["status"] == "inactive"
    body = jumpcloud_user(email, "Grace", "Hopper-Murray", department="Computing", number="E-1906", title="Commodore")
    assert scim.request("PUT", f"/Users/{grace['id']}", body).json["active"] is True
    assert member_row(app, grace["id"])["status"] == "active"
    body["active"] = False
    again = scim.request("PUT", f"/Users/{grace['id']}", body)
    assert again.status == 200 and again.json["active"] is False
    assert member_row(app, grace["id"])["status"] == "inactive"

    # Delete: the member deletion rule (Suspend) keeps her, inactive and no longer the source's.
    assert scim.request("DELETE", f"/Users/{grace['id']}").status == 204
    gone = scim.request("GET", f"/Users/{grace['id']}")
    assert gone.status == 404 and gone.json["status"] == "404"
    assert lookup(scim, email).json["totalResults"] == 0
    row = member_row(app, grace["id"])
    assert row["status"] == "inactive" and row["source_id"] is None

    assert logs(app) == [
        ("create", "success", 201, probe),
        ("delete", "success", 204, probe),
        ("create", "success", 201, email),
        ("update", "success", 200, email),
        ("deactivate", "success", 200, email),
        ("reactivate", "success", 200, email),
        ("deactivate", "success", 200, email),
        ("delete", "success", 204, email),
        ("request", "failure", 404, None),
    ]
