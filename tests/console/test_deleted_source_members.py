"""Issue 12, item 8: members of a deleted sync source are no longer stuck.

Before, once their source was deleted, Suspend, Delete and Edit refused with "managed by the sync
source X" (a source that no longer exists), and Edit silently changed nothing. Now deleting a source
hands what it managed to the Admin Console: its members, user groups and departments get the Admin
Console as data source, the console changes them like any hand-made one, the Members page says
"Admin Console", and the "Delete sync source" Admin log entry counts them. The SCIM ETag (RFC 7644
§3.14, the version) of a handed-over member and group moves, as for any change of theirs.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AdminLog, Department, Member, SyncSource, UserGroup
from tests.conftest import Console
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA, Scim, SourceData, add_source, user

pytestmark = pytest.mark.both_databases

MEMBERS = "/organization/members"
SOURCES = "/settings/directory-sync"


def _synced(app: Any, client: Any, runner: Any, org: Any) -> tuple[SourceData, dict[str, Any]]:
    """An active source named "Okta EU" that synced Ada and Bob (department Research) and the group Researchers."""
    source = add_source(runner, org.name, "--activate", "--name", "Okta EU")
    scim = Scim(client, source)
    people = {}
    for user_name in ("ada@acme.test", "bob@acme.test"):
        body = user(user_name, schemas=[USER_SCHEMA, ENTERPRISE], **{ENTERPRISE: {"department": "Research"}})
        response = scim.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        people[user_name] = response.get_json()
    group = scim.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Researchers",
            "members": [{"value": people["ada@acme.test"]["id"]}],
        },
    )
    assert group.status_code == 201, group.get_json()
    return source, {"users": people, "group": group.get_json()}


def _ids(app: Any, public_id: str) -> dict[str, Any]:
    with app.app_context():
        source_id = db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == public_id))
        return {
            "source": source_id,
            "ada": db.session.scalar(sa.select(Member.id).where(Member.external_id == "ada@acme.test")),
            "bob": db.session.scalar(sa.select(Member.id).where(Member.external_id == "bob@acme.test")),
            "group": db.session.scalar(sa.select(UserGroup.id).where(UserGroup.display_name == "Researchers")),
            "department": db.session.scalar(sa.select(Department.id).where(Department.name == "Research")),
        }


def _data_sources(app: Any) -> dict[str, int | None]:
    with app.app_context():
        rows: dict[str, int | None] = {}
        for model, label in ((Member, Member.external_id), (UserGroup, UserGroup.display_name)):
            rows.update(dict(tuple(row) for row in db.session.execute(sa.select(label, model.source_id))))
        departments = sa.select(Department.name, Department.source_id).where(Department.parent_id.is_not(None))
        rows.update(dict(tuple(row) for row in db.session.execute(departments)))
        return rows


def _delete_source(console: Console, source_id: int) -> None:
    assert console.post(f"{SOURCES}/{source_id}/delete").status_code == 303


def test_deleting_a_source_hands_its_members_groups_and_departments_to_the_admin_console_issue_12(
    app, client, runner, org, console
) -> None:
    source, synced = _synced(app, client, runner, org)
    ids = _ids(app, source.id)
    assert set(_data_sources(app).values()) == {ids["source"]}
    page = console.get(MEMBERS, htmx=True).get_data(as_text=True)
    assert "SCIM data source (Okta EU)" in page

    _delete_source(console, ids["source"])

    assert _data_sources(app) == {
        "ada@acme.test": None,
        "bob@acme.test": None,
        "Researchers": None,
        "Research": None,
    }
    page = console.get(MEMBERS, htmx=True).get_data(as_text=True)
    assert "Okta EU" not in page and page.count("<td>Admin Console</td>") == 2
    assert "Admin Console" in console.get(f"{MEMBERS}/{ids['ada']}", htmx=True).get_data(as_text=True)
    assert "Admin Console" in console.get(f"/organization/groups/{ids['group']}", htmx=True).get_data(as_text=True)
    tree = console.get(f"{MEMBERS}/departments").get_data(as_text=True)
    assert "SCIM · Okta EU" not in tree
    # The Members page's "Admin Console" filter lists them.
    listed = console.get(f"{MEMBERS}?source=console", htmx=True).get_data(as_text=True)
    assert "ada@acme.test" in listed and "bob@acme.test" in listed
    with app.app_context():
        [entry] = db.session.scalars(sa.select(AdminLog).where(AdminLog.event_type == "Delete sync source"))
        assert entry.target_name == "Okta EU" and entry.changes == {"status": ["active", "deleted"]}
        summary = "2 members, 1 user group and 1 department now have the Admin Console as data source"
        assert entry.summary == summary
        # Their version (the SCIM ETag) moved: the record changed.
        ada = db.session.get(Member, ids["ada"])
        assert ada.version > int(synced["users"]["ada@acme.test"]["meta"]["version"].strip('W/"'))


def test_a_member_of_a_deleted_source_can_be_edited_suspended_and_deleted_in_the_console_issue_12(
    app, client, runner, org, console
) -> None:
    source, _ = _synced(app, client, runner, org)
    ids = _ids(app, source.id)
    refused = console.post(f"{MEMBERS}/{ids['ada']}/suspend", htmx=True)
    assert "managed by the sync source Okta EU" in refused.get_data(as_text=True)  # while the source exists

    _delete_source(console, ids["source"])

    form = console.get(f"{MEMBERS}/{ids['ada']}/edit", htmx=True).get_data(as_text=True)
    assert 'name="name"' in form and "Synced from" not in form
    edited = console.post(
        f"{MEMBERS}/{ids['ada']}/edit",
        {"name": "Ada King", "external_id": "ada@acme.test", "email": "ada.king@acme.test"},
        htmx=True,
    )
    assert edited.status_code == 200, edited.get_data(as_text=True)
    suspended = console.post(f"{MEMBERS}/{ids['ada']}/suspend", htmx=True)
    assert suspended.status_code == 200 and ">Inactive<" in suspended.get_data(as_text=True)
    deleted = console.post(f"{MEMBERS}/{ids['bob']}/delete", htmx=True)
    assert deleted.status_code == 200 and "managed by" not in deleted.get_data(as_text=True)

    with app.app_context():
        ada = db.session.get(Member, ids["ada"])
        assert (ada.name, ada.email, ada.status) == ("Ada King", "ada.king@acme.test", "inactive")
        assert db.session.get(Member, ids["bob"]) is None
        events = list(db.session.scalars(sa.select(AdminLog.event_type).order_by(AdminLog.id)))
        assert events[-3:] == ["Edit member", "Suspend member", "Delete member"]


def test_a_group_of_a_deleted_source_can_be_renamed_in_the_console_issue_12(app, client, runner, org, console) -> None:
    source, _ = _synced(app, client, runner, org)
    ids = _ids(app, source.id)
    url = f"/organization/groups/{ids['group']}/edit"
    assert console.post(url, {"display_name": "Research team"}, htmx=True).status_code == 422  # source exists

    _delete_source(console, ids["source"])

    response = console.post(url, {"display_name": "Research team"}, htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(UserGroup, ids["group"]).display_name == "Research team"


def test_deleting_a_source_leaves_other_sources_members_with_their_source_issue_12(
    app, client, runner, org, console
) -> None:
    source, _ = _synced(app, client, runner, org)
    other = Scim(client, add_source(runner, org.name, "--activate", "--name", "Entra"))
    other.create_user("cy@acme.test")
    ids = _ids(app, source.id)

    _delete_source(console, ids["source"])

    with app.app_context():
        entra = db.session.scalar(sa.select(SyncSource.id).where(SyncSource.name == "Entra"))
        assert db.session.scalar(sa.select(Member.source_id).where(Member.external_id == "cy@acme.test")) == entra
        [entry] = db.session.scalars(sa.select(AdminLog).where(AdminLog.event_type == "Delete sync source"))
        assert entry.summary.startswith("2 members,")
