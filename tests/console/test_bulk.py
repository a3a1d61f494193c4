"""Bulk work: the user group's member picker, and the Members tab's actions on several members at once.

Issue 13 section 3. Each change goes through the one member writer and the group writer, skips what a
sync source manages, and leaves one Admin log entry naming every member it changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.core import departments, groups, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import AdminLog, Member, UserGroup, group_members
from tests.conftest import Console
from tests.directory_support import make_source, sync_member
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases


def _hand_member(app: Any, org_id: int, email: str, name: str, **values: Any) -> int:
    with app.app_context():
        member = members.create_member(
            org_id, {"external_id": email, "email": email, "name": name, **values}, Actor.cli()
        )
        db.session.commit()
        return member.id


def _synced(app: Any, org_id: int, source_id: int, email: str, name: str, **values: Any) -> int:
    sync_member(app, org_id, source_id, email, name, **values)
    with app.app_context():
        return db.session.scalar(select(Member.id).where(Member.external_id == email))


def _group(app: Any, org_id: int, name: str, source_id: int | None = None) -> int:
    with app.app_context():
        if source_id is None:
            group = groups.create_group(org_id, name, Actor.cli())
        else:
            group = UserGroup(org_id=org_id, display_name=name, source_id=source_id, scim_external_id="g-1")
            db.session.add(group)
        db.session.commit()
        return group.id


def _department(app: Any, org_id: int, name: str) -> int:
    with app.app_context():
        dept = departments.create_department(org_id, name, Actor.cli())
        db.session.commit()
        return dept.id


def _status(app: Any, member_id: int) -> str:
    with app.app_context():
        return db.session.get(Member, member_id).status


def _entries(app: Any, event_type: str) -> list[AdminLog]:
    with app.app_context():
        found = list(
            db.session.scalars(select(AdminLog).where(AdminLog.event_type == event_type).order_by(AdminLog.id))
        )
        db.session.expunge_all()
        return found


def _in_group(app: Any, group_id: int) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(select(group_members.c.member_id).where(group_members.c.group_id == group_id)))


# ---------------------------------------------------------------- the group's member picker


def test_group_drawer_offers_a_search_picker_instead_of_an_exact_email_box(app, org, console):
    group_id = _group(app, org.id, "Book club")
    html = console.get(f"/organization/groups/{group_id}", htmx=True).get_data(as_text=True)
    assert 'id="group-picker-q"' in html and f'hx-get="/organization/groups/{group_id}/picker"' in html
    assert f'action="/organization/groups/{group_id}/members/add"' in html
    assert "Email or user ID of a member" not in html


def test_picker_search_answers_checkboxes_and_marks_members_already_in_the_group(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    adam = _hand_member(app, org.id, "adam@acme.test", "Adam Smith")
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    group_id = _group(app, org.id, "Book club")
    with app.app_context():
        groups.add_group_members(org.id, group_id, [db.session.get(Member, adam).public_id], Actor.cli())
        db.session.commit()
    response = console.get(f"/organization/groups/{group_id}/picker?q=ada", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'name="member_ids" value="{ada}">' in html
    assert f'name="member_ids" value="{adam}" checked disabled>' in html and "already in this user group" in html
    assert "Bob Builder" not in html


def test_picker_keeps_members_ticked_in_an_earlier_search(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    group_id = _group(app, org.id, "Book club")
    html = console.get(f"/organization/groups/{group_id}/picker?q=bob&member_ids={ada}", htmx=True).get_data(
        as_text=True
    )
    assert "Selected (1)" in html and f'value="{ada}" checked>' in html
    assert "Bob Builder" in html


def test_picker_with_an_empty_search_lists_nobody_and_says_what_to_do(app, org, console):
    _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Book club")
    html = console.get(f"/organization/groups/{group_id}/picker?q=", htmx=True).get_data(as_text=True)
    assert "Ada Lovelace" not in html and "tick the members to add" in html


def test_picker_adds_several_members_in_one_post_with_one_admin_log_entry(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    bob = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    cy = _synced(app, org.id, source_id, "cy@acme.test", "Cy Twombly")
    group_id = _group(app, org.id, "Book club")
    before = len(_entries(app, "Edit user group"))
    response = console.post(
        f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada), str(bob), str(cy)]}, htmx=True
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "groups-changed"
    html = response.get_data(as_text=True)
    assert "Ada Lovelace" in html and "Bob Builder" in html and "Cy Twombly" in html
    assert _in_group(app, group_id) == {ada, bob, cy}
    entries = _entries(app, "Edit user group")
    assert len(entries) == before + 1
    assert entries[-1].changes["members added"] == [None, ["ada@acme.test", "bob@acme.test", "cy@acme.test"]]
    assert "ada@acme.test" in entries[-1].summary and "cy@acme.test" in entries[-1].summary


def test_picker_adding_members_already_in_the_group_writes_no_entry(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Book club")
    console.post(f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada)]}, htmx=True)
    before = len(_entries(app, "Edit user group"))
    again = console.post(f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada)]}, htmx=True)
    assert again.status_code == 200
    assert len(_entries(app, "Edit user group")) == before


def test_picker_with_nothing_ticked_is_refused_next_to_the_picker(app, org, console):
    group_id = _group(app, org.id, "Book club")
    response = console.post(f"/organization/groups/{group_id}/members/add", {}, htmx=True)
    assert response.status_code == 422
    assert 'id="group-picker-error"' in response.get_data(as_text=True)
    assert "Select at least one member" in response.get_data(as_text=True)


def test_synced_group_stays_read_only_picker_and_post_alike(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Engineers", source_id=source_id)
    drawer = console.get(f"/organization/groups/{group_id}", htmx=True).get_data(as_text=True)
    assert 'id="group-picker' not in drawer and "change them in the identity provider" in drawer
    response = console.post(f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada)]}, htmx=True)
    assert response.status_code == 422
    assert "managed by the sync source JumpCloud" in response.get_data(as_text=True)
    assert _in_group(app, group_id) == set()


def test_picker_ignores_members_of_another_organization(app, org, console):
    other = make_org(app, "Globex", "owner@globex.test")
    stranger = _hand_member(app, other.id, "eve@globex.test", "Eve Stranger")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Book club")
    response = console.post(
        f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada), str(stranger)]}, htmx=True
    )
    assert response.status_code == 200
    assert _in_group(app, group_id) == {ada}
    assert "Eve" not in console.get(f"/organization/groups/{group_id}/picker?q=eve", htmx=True).get_data(as_text=True)


def test_picker_works_without_javascript_as_pages(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Book club")
    page = console.get(f"/organization/groups/{group_id}/picker?q=ada")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<title>Add members to Book club" in html and f'value="{ada}"' in html
    added = console.post(f"/organization/groups/{group_id}/members/add", {"member_ids": [str(ada)]})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/organization/groups/{group_id}")
    assert _in_group(app, group_id) == {ada}


# ---------------------------------------------------------------- the Members tab's bulk actions


def test_members_tab_has_a_checkbox_per_member_a_select_all_and_the_bulk_bar(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    _group(app, org.id, "Book club")
    html = console.get("/organization/members").get_data(as_text=True)
    assert 'data-bulk-all aria-label="Select all members on this page"' in html
    assert f'name="member_ids" value="{ada}" form="bulk-form" aria-label="Select Ada Lovelace"' in html
    assert 'id="bulk-form"' in html and "/static/js/bulk.js" in html
    for action in ("suspend", "reactivate", "move", "add_to_group"):
        assert f'name="action" value="{action}"' in html
    assert '<option value="' in html and ">Book club</option>" in html


def test_bulk_suspend_skips_synced_members_and_leaves_one_entry_naming_every_member_suspended(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    bob = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    cy = _synced(app, org.id, source_id, "cy@acme.test", "Cy Twombly")
    response = console.post(
        "/organization/members/bulk", {"action": "suspend", "member_ids": [str(ada), str(bob), str(cy)]}, htmx=True
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "members-changed"
    html = response.get_data(as_text=True)
    assert "Suspended 2 members." in html and "Skipped 1:" in html
    assert "Cy Twombly is managed by the sync source JumpCloud; suspend the user in the identity provider" in html
    assert (_status(app, ada), _status(app, bob), _status(app, cy)) == ("inactive", "inactive", "active")
    entries = _entries(app, "Suspend member")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.target_type == "members" and entry.target_name == "2 members"
    assert entry.changes["members"] == [None, ["Ada Lovelace (ada@acme.test)", "Bob Builder (bob@acme.test)"]]
    assert entry.changes["status"] == ["active", "inactive"]
    assert "ada@acme.test" in entry.summary and "cy@acme.test" not in entry.summary


def test_bulk_reactivate_reports_members_already_active(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    bob = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    console.post(f"/organization/members/{ada}/suspend", htmx=True)
    response = console.post(
        "/organization/members/bulk", {"action": "reactivate", "member_ids": [str(ada), str(bob)]}, htmx=True
    )
    html = response.get_data(as_text=True)
    assert "Reactivated 1 member." in html and "1 member already active." in html
    assert _status(app, ada) == "active"
    entries = _entries(app, "Reactivate member")
    assert len(entries) == 1 and entries[0].changes["members"] == [None, ["Ada Lovelace (ada@acme.test)"]]


def test_bulk_move_to_department_skips_synced_members_and_logs_one_entry(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sales = _department(app, org.id, "Sales")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    bob = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    cy = _synced(app, org.id, source_id, "cy@acme.test", "Cy Twombly", department="Engineering")
    before = len(_entries(app, "Edit member"))
    response = console.post(
        "/organization/members/bulk",
        {"action": "move", "department_id": str(sales), "member_ids": [str(ada), str(bob), str(cy)]},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Moved 2 members." in html
    assert "Cy Twombly is managed by the sync source JumpCloud; change the department in the identity provider" in html
    with app.app_context():
        depts = {m.id: [d.name for d in m.departments] for m in db.session.scalars(select(Member))}
    assert depts == {ada: ["Sales"], bob: ["Sales"], cy: ["Engineering"]}
    entries = _entries(app, "Edit member")
    assert len(entries) == before + 1
    assert entries[-1].changes["members"][1] == ["Ada Lovelace (ada@acme.test)", "Bob Builder (bob@acme.test)"]
    assert entries[-1].changes["departments"] == [None, ["Sales"]]
    assert entries[-1].summary.startswith("Moved 2 members to Sales: ")


def test_bulk_move_to_a_department_of_another_organization_is_refused(app, org, console):
    other = make_org(app, "Globex", "owner@globex.test")
    elsewhere = _department(app, other.id, "Elsewhere")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    response = console.post(
        "/organization/members/bulk",
        {"action": "move", "department_id": str(elsewhere), "member_ids": [str(ada)]},
        htmx=True,
    )
    assert response.status_code == 422
    assert "Choose a department of this organization" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Member, ada).departments == []


def test_bulk_add_to_group_takes_synced_members_too_in_one_entry(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    cy = _synced(app, org.id, source_id, "cy@acme.test", "Cy Twombly")
    group_id = _group(app, org.id, "Book club")
    response = console.post(
        "/organization/members/bulk",
        {"action": "add_to_group", "group_id": str(group_id), "member_ids": [str(ada), str(cy)]},
        htmx=True,
    )
    assert response.status_code == 200 and "Added to the group 2 members." in response.get_data(as_text=True)
    assert _in_group(app, group_id) == {ada, cy}
    entries = [e for e in _entries(app, "Edit user group") if "members added" in e.changes]
    assert len(entries) == 1 and entries[0].changes["members added"] == [None, ["ada@acme.test", "cy@acme.test"]]


def test_bulk_add_to_a_synced_group_is_refused_and_writes_nothing(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    group_id = _group(app, org.id, "Engineers", source_id=source_id)
    response = console.post(
        "/organization/members/bulk",
        {"action": "add_to_group", "group_id": str(group_id), "member_ids": [str(ada)]},
        htmx=True,
    )
    assert response.status_code == 422 and "JumpCloud" in response.get_data(as_text=True)
    assert _in_group(app, group_id) == set()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "suspend"}, "Select at least one member"),
        ({"action": "explode", "member_ids": ["1"]}, "Choose what to do with the selected members"),
        ({"action": "move", "member_ids": ["1"]}, "Choose a department of this organization"),
        ({"action": "suspend", "member_ids": [str(i) for i in range(1, 502)]}, "Select at most 500 members at a time"),
    ],
)
def test_bulk_without_a_selection_or_a_target_is_refused_with_a_message(app, org, console, data, message):
    _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    response = console.post("/organization/members/bulk", data, htmx=True)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _entries(app, "Suspend member") == []


def test_bulk_leaves_members_of_another_organization_alone(app, org, console):
    other = make_org(app, "Globex", "owner@globex.test")
    stranger = _hand_member(app, other.id, "eve@globex.test", "Eve Stranger")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    response = console.post(
        "/organization/members/bulk", {"action": "suspend", "member_ids": [str(ada), str(stranger)]}, htmx=True
    )
    assert "Suspended 1 member." in response.get_data(as_text=True)
    assert "1 member no longer exist" in response.get_data(as_text=True)
    assert _status(app, stranger) == "active"


def test_bulk_action_without_javascript_answers_a_page(app, org, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    response = console.post("/organization/members/bulk", {"action": "suspend", "member_ids": [str(ada)]})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<h1 class="page-title">Member and Department</h1>' in html and "Suspended 1 member." in html


def test_bulk_needs_the_directory_permission_and_csrf(app, org, client, console):
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    no_token = console.client.post("/organization/members/bulk", data={"action": "suspend", "member_ids": [str(ada)]})
    assert no_token.status_code == 400
    make_admin(app, org, "logs@acme.test", {"admin_log"}, password="another long password 1")
    viewer = Console(app.test_client())
    viewer.login("logs@acme.test", "another long password 1")
    refused = viewer.post("/organization/members/bulk", {"action": "suspend", "member_ids": [str(ada)]})
    assert refused.status_code == 403
    assert _status(app, ada) == "active"


def test_a_member_the_writer_refuses_is_skipped_with_its_reason_and_the_others_change(app, org, console):
    """The writer's own refusal of one member (here: a member left without a name) skips that member only."""
    sales = _department(app, org.id, "Sales")
    ada = _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    with app.app_context():
        db.session.get(Member, ada).name = ""
        db.session.commit()
    bob = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    response = console.post(
        "/organization/members/bulk",
        {"action": "move", "department_id": str(sales), "member_ids": [str(ada), str(bob)]},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert "Moved 1 member." in html and "(ada@acme.test)</strong>: Enter the member&#39;s name" in html
    with app.app_context():
        assert [d.name for d in db.session.get(Member, bob).departments] == ["Sales"]
        assert db.session.get(Member, ada).departments == []
