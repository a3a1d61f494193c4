"""Read API fixtures: API keys made through the domain, a client that sends them, and a small directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.factories import OrgData

ALL_SCOPES = ("members:read", "groups:read", "events:read")


def issue_key(
    app: Any, org: OrgData, scopes: tuple[str, ...] = ALL_SCOPES, expiry: str = "never", name: str = "svc"
) -> str:
    """Create an API key of ``org`` through the domain (as the CLI) and return its secret."""
    from portal.core import api_keys
    from portal.core.actors import Actor

    with app.app_context():
        created = api_keys.create_key(org.id, name, list(scopes), expiry, Actor.cli())
        db.session.commit()
        return created.secret


class Api:
    """A read API client with one key: paths relative to /api/v1."""

    def __init__(self, client: Any, key: str | None) -> None:
        self.client = client
        self.key = key

    def get(self, path: str, *, key: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        sent = {"Authorization": f"Bearer {key or self.key}"} if (key or self.key) else {}
        sent.update(headers or {})
        return self.client.get(f"/api/v1{path}", headers=sent, **kw)

    def walk(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a list, following next_cursor; each page must be 200."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = dict(params, **({"cursor": cursor} if cursor else {}))
            response = self.get(path, query_string=query)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            items.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return items

    def walk_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """Every change event, following next_cursor until a page is empty."""
        items: list[dict[str, Any]] = []
        after = None
        while True:
            query: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
            response = self.get("/events", query_string=query)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            if not body["data"]:
                return items
            items.extend(body["data"])
            after = body["next_cursor"]


def assert_api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The API's error document: ``{"error": {"code", "message"}}`` with the status and code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body


@dataclass
class Directory:
    """What ``make_directory`` made, by public id."""

    org: OrgData
    #: name -> public id, in creation (id) order
    members: dict[str, str] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    workforce_type_id: int = 0


def make_directory(app: Any, org: OrgData) -> Directory:
    """Departments Engineering > Backend and Sales, three members by hand (one suspended), a group of two."""
    from portal.core import departments, groups, members
    from portal.core.actors import Actor
    from portal.models import Department, Member, WorkforceType

    actor = Actor.cli()
    out = Directory(org)
    with app.app_context():
        eng = departments.create_department(org.id, "Engineering", actor)
        backend = departments.create_department(org.id, "Backend", actor, parent_id=eng.id)
        sales = departments.create_department(org.id, "Sales", actor)
        wt = db.session.scalar(
            sa.select(WorkforceType).where(WorkforceType.org_id == org.id).order_by(WorkforceType.id)
        )
        db.session.flush()
        people = [
            ("Ann Lee", "ann", [backend.id], "Engineer"),
            ("Bob Stone", "bob", [sales.id], "Seller"),
            ("Joanne Ray", "joanne", [eng.id], None),
        ]
        for name, user, dept_ids, title in people:
            values: dict[str, Any] = {
                "name": name,
                "external_id": f"{user}@{org.name.lower()}.test",
                "email": f"{user}@{org.name.lower()}.test",
                "department_ids": dept_ids,
                "employee_type_id": wt.id,
            }
            if title:
                values["job_title"] = title
            out.members[name] = members.create_member(org.id, values, actor).public_id
        joanne = db.session.scalar(sa.select(Member.id).where(Member.public_id == out.members["Joanne Ray"]))
        members.set_member_active(org.id, joanne, False, actor)
        group = groups.create_group(org.id, f"Team of {org.name}", actor)
        for user in ("ann", "bob"):
            groups.add_group_member(org.id, group.id, f"{user}@{org.name.lower()}.test", actor)
        out.groups[group.display_name] = group.public_id
        for dept in db.session.scalars(sa.select(Department).where(Department.org_id == org.id)):
            out.departments[dept.name] = dept.public_id
        out.workforce_type_id = wt.id
        db.session.commit()
    return out


@pytest.fixture
def directory(app: Any, org: OrgData) -> Directory:
    return make_directory(app, org)


@pytest.fixture
def api(client: Any, app: Any, org: OrgData) -> Api:
    """A client with a key of ``org`` holding every scope."""
    return Api(client, issue_key(app, org))
