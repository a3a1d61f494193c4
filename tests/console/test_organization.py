"""Organization pages: Member and Department, User Group, Field Management.

Issue 5; seed 1.3 and "View data source information".
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from portal.core import departments, fields, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import AdminLog, Department, Field, Member, SyncSource, UserGroup, utcnow
from tests.directory_support import log_sync, make_source, sync_member
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases


def _hand_member(app: Any, org_id: int, user_name: str, name: str, **values: Any) -> int:
    with app.app_context():
        member = members.create_member(
            org_id, {"external_id": user_name, "email": user_name, "name": name, **values}, Actor.cli()
        )
        db.session.commit()
        return member.id


def _member_id(app: Any, user_name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Member.id).where(Member.external_id == user_name))


def _dept_id(app: Any, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Department.id).where(Department.name == name))


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="cell-primary">([^<]+)</span>', html)


class QueryCounter:
    """Counts the SQL statements a request runs."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    def __enter__(self) -> QueryCounter:
        with self.app.app_context():
            self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def _count(self, *args: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


# ---------------------------------------------------------------- access


def test_organization_pages_need_the_directory_permission(app, org, client):
    from tests.conftest import Console

    make_admin(app, org, "logs@acme.test", {"admin_log"}, password="another long password 1")
    viewer = Console(client)
    viewer.login("logs@acme.test", "another long password 1")
    for url in (
        "/organization/members",
        "/organization/members/departments",
        "/organization/groups",
        "/organization/fields",
    ):
        assert viewer.get(url).status_code == 403


# ---------------------------------------------------------------- Members tab


def test_members_tab_lists_every_column_with_data_source_for_scim_and_hand_made_members(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(
        app,
        org.id,
        source_id,
        "ada@acme.test",
        "Ada Lovelace",
        department="Engineering",
        job_title="Engineer",
        employee_id="E-1",
    )
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    html = console.get("/organization/members").get_data(as_text=True)
    for header in ("Name and email", "Department", "Job title", "Workforce type", "Status", "Data source"):
        # Name, Department and Status are links that sort (tests/console/test_member_search.py).
        assert re.search(rf'<th scope="col"[^>]*>\s*(<a [^>]*>)?{header}<', html), header
    assert "<td>SCIM data source (JumpCloud)</td>" in html
    assert "<td>Admin Console</td>" in html
    assert '<span class="cell-secondary">ada@acme.test</span>' in html
    assert "Engineering" in html and "Engineer" in html and ">Active<" in html
    assert _names(html) == ["Ada Lovelace", "Bob Builder"]
    assert "2 members" in html


@pytest.mark.parametrize("query", ["ada", "ADA", "ada.l@", "lovelace-id", "E-77"])
def test_search_finds_by_name_email_user_name_and_employee_id_prefix(app, org, console, query):
    source_id = make_source(app, org.id)
    sync_member(app, org.id, source_id, "ada.l@acme.test", "Ada Lovelace", employee_id="E-77")
    with app.app_context():
        db.session.get(Member, _member_id(app, "ada.l@acme.test")).external_id = "lovelace-id"
        db.session.commit()
    _hand_member(app, org.id, "grace@acme.test", "Grace Hopper", employee_id="E-88")
    html = console.get(f"/organization/members?q={query}", htmx=True).get_data(as_text=True)
    assert _names(html) == ["Ada Lovelace"]
    assert "1 member<" in html


def test_search_as_you_type_answers_a_fragment_and_the_page_reloads_from_the_url(app, org, console):
    _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    fragment = console.get("/organization/members?q=bo", htmx=True)
    body = fragment.get_data(as_text=True)
    assert body.startswith('<section id="member-results"')
    assert _names(body) == ["Bob Builder"]
    assert "HX-Request" in fragment.headers["Vary"]
    page = console.get("/organization/members?q=bo").get_data(as_text=True)
    assert "<html" in page and 'value="bo"' in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page and 'type="search"' in page


def test_search_treats_like_wildcards_as_text(app, org, console):
    _hand_member(app, org.id, "ada@acme.test", "Ada Lovelace")
    assert _names(console.get("/organization/members?q=%25", htmx=True).get_data(as_text=True)) == []
    assert _names(console.get("/organization/members?q=_da", htmx=True).get_data(as_text=True)) == []


def test_filters_by_department_with_sub_departments_status_and_data_source(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace", department="Engineering")
    with app.app_context():
        platform = departments.create_department(
            org.id, "Platform", Actor.cli(), parent_id=_dept_id(app, "Engineering")
        )
        db.session.commit()
        platform_id = platform.id
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder", department_ids=[platform_id])
    carol = _hand_member(app, org.id, "carol@acme.test", "Carol Client")
    with app.app_context():
        members.set_member_active(org.id, carol, False, Actor.cli())
        db.session.commit()

    def names(query: str) -> list[str]:
        return _names(console.get(f"/organization/members?{query}", htmx=True).get_data(as_text=True))

    assert names(f"department={_dept_id(app, 'Engineering')}") == ["Ada Lovelace", "Bob Builder"]
    assert names(f"department={platform_id}") == ["Bob Builder"]
    assert names("status=inactive") == ["Carol Client"]
    assert names("status=active") == ["Ada Lovelace", "Bob Builder"]
    assert names("source=console") == ["Bob Builder", "Carol Client"]
    assert names(f"source={source_id}") == ["Ada Lovelace"]
    assert names(f"source=console&status=active&department={platform_id}&q=bob") == ["Bob Builder"]


def test_numbered_pagination_with_total_count_keeps_the_filters(app, org, console):
    with app.app_context():
        for i in range(120):
            members.create_member(
                org.id,
                {"external_id": f"user{i:03}@acme.test", "email": f"user{i:03}@acme.test", "name": f"User {i:03}"},
                Actor.cli(),
            )
        db.session.commit()
    first = console.get("/organization/members").get_data(as_text=True)
    assert "120 members" in first
    assert _names(first)[0] == "User 000" and len(_names(first)) == 50
    assert 'aria-label="Page 3"' in first
    third = console.get("/organization/members?page=3").get_data(as_text=True)
    assert _names(third) == [f"User {i:03}" for i in range(100, 120)]
    assert "20 members" in console.get("/organization/members?q=user 1").get_data(as_text=True)
    filtered = console.get("/organization/members?q=user&status=active").get_data(as_text=True)
    assert "120 members" in filtered
    assert 'href="/organization/members?page=2&amp;q=user&amp;status=active"' in filtered


def test_members_page_runs_a_fixed_number_of_queries_whatever_the_rows(app, org, console):
    source_id = make_source(app, org.id)
    for i in range(3):
        sync_member(app, org.id, source_id, f"a{i}@acme.test", f"A {i}", department=f"Dept {i}", job_title=f"T{i}")
    with QueryCounter(app) as few:
        console.get("/organization/members")
    for i in range(3, 30):
        sync_member(app, org.id, source_id, f"a{i}@acme.test", f"A {i}", department=f"Dept {i}", job_title=f"T{i}")
    with QueryCounter(app) as many:
        console.get("/organization/members")
    assert many.count == few.count


# ---------------------------------------------------------------- member Details


def test_details_of_a_scim_member_show_every_field_the_data_source_and_sync_log(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    public_id = sync_member(
        app,
        org.id,
        source_id,
        "ada@acme.test",
        "Ada Lovelace",
        department="Engineering",
        job_title="Engineer",
        employee_id="E-1",
        first_name="Ada",
        last_name="Lovelace",
        mobile="+44 20 1234",
        work_country="GB",
        another_name="Countess",
    )
    html = console.get(f"/organization/members/{_member_id(app, 'ada@acme.test')}", htmx=True).get_data(as_text=True)
    assert "SCIM data source" in html and "<strong>JumpCloud</strong>" in html
    assert "Created by SCIM synchronization." in html
    for value in (
        "ada@acme.test",
        "Engineering",
        "Engineer",
        "E-1",
        "Ada",
        "Lovelace",
        "+44 20 1234",
        "GB",
        "Countess",
        public_id,
    ):
        assert value in html
    assert "Recent sync log entries" in html and "Create" in html
    assert f"/settings/directory-sync/{source_id}/sync-log" in html


def test_details_of_a_hand_made_member_say_admin_console(app, org, console):
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    html = console.get(f"/organization/members/{member_id}", htmx=True).get_data(as_text=True)
    assert "Admin Console" in html
    assert "Manually created by the administrator in the Directory Sync Portal Admin Console." in html
    assert "SCIM data source" not in html


def test_details_link_works_without_javascript_as_a_full_page(app, org, console):
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    html = console.get(f"/organization/members/{member_id}").get_data(as_text=True)
    assert "<html" in html and "Bob Builder" in html


def test_member_of_another_organization_is_not_found(app, org, console):
    other = make_org(app, name="Globex", email="owner@globex.test")
    member_id = _hand_member(app, other.id, "x@globex.test", "Xavier")
    assert console.get(f"/organization/members/{member_id}").status_code == 404
    assert console.post(f"/organization/members/{member_id}/delete").status_code == 404


# ---------------------------------------------------------------- add / edit by hand


def _member_form(**values: Any) -> dict[str, Any]:
    return {"name": "Ada Lovelace", "external_id": "ada@acme.test", "email": "ada@acme.test", **values}


def test_add_member_by_hand_gets_admin_console_as_data_source_and_an_admin_log_row(app, org, console):
    eng = _dept_id(app, "Acme")
    response = console.post(
        "/organization/members/new", _member_form(department_id=str(eng), job_title="Analyst"), htmx=True
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "members-changed"
    assert "Admin Console" in response.get_data(as_text=True)
    with app.app_context():
        member = db.session.scalar(select(Member))
        assert member.source_id is None and member.job_title.name == "Analyst"
        assert db.session.scalar(select(AdminLog.event_type).order_by(AdminLog.id.desc())) == "Add member"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "ADA@acme.test", "This email is already used by another member"),
        ("external_id", "ADA@ACME.TEST", "This user ID (ExternalID) is already used by another member"),
        ("employee_id", "E-1", "This employee ID is already used by another member"),
    ],
)
def test_uniqueness_message_is_shown_next_to_the_field_and_nothing_is_written(app, org, console, field, value, message):
    source_id = make_source(app, org.id)
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace", employee_id="E-1")
    values = {"name": "Other", "external_id": "other@acme.test", "email": "other@acme.test", field: value}
    response = console.post("/organization/members/new", values, htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="field-{field}"[^>]*aria-invalid="true"', html)
    assert f'<p class="field-error" id="field-{field}-error">' in html and message in html
    with app.app_context():
        assert db.session.scalar(select(Member.id).where(Member.name == "Other")) is None


def test_missing_required_field_is_refused_with_422_on_the_plain_form_too(app, org, console):
    response = console.post("/organization/members/new", _member_form(name=""))
    assert response.status_code == 422
    assert "Enter the member&#39;s name" in response.get_data(as_text=True)


def test_edit_hand_made_member_changes_fields(app, org, console):
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    response = console.post(
        f"/organization/members/{member_id}/edit",
        _member_form(name="Robert Builder", external_id="bob@acme.test", email="bob@acme.test", mobile="+1 555"),
    )
    assert response.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert (member.name, member.mobile) == ("Robert Builder", "+1 555")


def test_synced_member_fields_are_read_only_with_a_note_naming_the_source(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    member_id = _member_id(app, "ada@acme.test")
    form = console.get(f"/organization/members/{member_id}/edit", htmx=True).get_data(as_text=True)
    assert "Synced from JumpCloud" in form
    assert "written by the sync source JumpCloud" in form
    assert 'name="name"' not in form and 'name="email"' not in form

    console.post(f"/organization/members/{member_id}/edit", {"name": "Changed", "email": "x@acme.test"})
    with app.app_context():
        assert db.session.get(Member, member_id).name == "Ada Lovelace"


def test_synced_member_fields_are_refused_by_the_domain_too(app, org):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    with app.app_context():
        from portal.core.errors import Invalid

        with pytest.raises(Invalid, match="JumpCloud"):
            members.update_member(org.id, _member_id(app, "ada@acme.test"), {"name": "Changed"}, Actor.cli())


def test_custom_field_values_are_editable_for_synced_members(app, org, console):
    source_id = make_source(app, org.id)
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    with app.app_context():
        shirt = fields.create_field(org.id, "Shirt size", "option", Actor.cli(), options=["S", "M", "L"])
        badge = fields.create_field(org.id, "Badge number", "number", Actor.cli())
        db.session.commit()
        shirt_key, badge_key = shirt.key, badge.key
    member_id = _member_id(app, "ada@acme.test")
    bad = console.post(
        f"/organization/members/{member_id}/edit",
        {f"custom.{shirt_key}": "M", f"custom.{badge_key}": "twelve"},
        htmx=True,
    )
    assert bad.status_code == 422 and "Badge number must be a number" in bad.get_data(as_text=True)
    ok = console.post(
        f"/organization/members/{member_id}/edit", {f"custom.{shirt_key}": "M", f"custom.{badge_key}": "12"}, htmx=True
    )
    assert ok.status_code == 200
    with app.app_context():
        assert db.session.get(Member, member_id).custom_fields == {shirt_key: "M", badge_key: 12}


# ---------------------------------------------------------------- suspend / reactivate / delete


def test_suspend_reactivate_and_delete_a_hand_made_member(app, org, console):
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    suspended = console.post(f"/organization/members/{member_id}/suspend", htmx=True)
    assert suspended.status_code == 200 and ">Inactive<" in suspended.get_data(as_text=True)
    assert ">Inactive<" in console.get("/organization/members", htmx=True).get_data(as_text=True)
    reactivated = console.post(f"/organization/members/{member_id}/reactivate", htmx=True)
    assert ">Active<" in reactivated.get_data(as_text=True)
    deleted = console.post(f"/organization/members/{member_id}/delete", htmx=True)
    assert deleted.status_code == 200 and deleted.get_data(as_text=True) == ""
    assert deleted.headers["HX-Trigger"] == "members-changed"
    with app.app_context():
        assert db.session.get(Member, member_id) is None
        events = list(db.session.scalars(select(AdminLog.event_type).order_by(AdminLog.id)))
        assert events[-3:] == ["Suspend member", "Reactivate member", "Delete member"]


def test_synced_member_cannot_be_suspended_or_deleted_by_hand(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    member_id = _member_id(app, "ada@acme.test")
    for action in ("suspend", "delete"):
        response = console.post(f"/organization/members/{member_id}/{action}", htmx=True)
        assert "managed by the sync source JumpCloud" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Member, member_id).status == "active"


# ---------------------------------------------------------------- Departments tab


def test_department_tree_shows_member_counts_and_data_source(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace", department="Engineering")
    sync_member(app, org.id, source_id, "bob@acme.test", "Bob Builder", department="Engineering")
    with app.app_context():
        platform = departments.create_department(
            org.id, "Platform", Actor.cli(), parent_id=_dept_id(app, "Engineering")
        )
        db.session.commit()
        platform_id = platform.id
    _hand_member(app, org.id, "carol@acme.test", "Carol", department_ids=[platform_id])
    html = console.get("/organization/members/departments").get_data(as_text=True)
    assert re.search(r'tree-label">Acme</span>.*?<span class="count" title="Members">3</span>', html, re.S)
    assert re.search(r'tree-label">Engineering</span>.*?SCIM · JumpCloud.*?title="Members">3</span>', html, re.S)
    assert re.search(r'tree-label">Platform</span>\s*<span class="count" title="Members">1</span>', html)
    assert "<details open>" in html

    eng = console.get(f"/organization/members/departments/{_dept_id(app, 'Engineering')}", htmx=True).get_data(
        as_text=True
    )
    assert "SCIM data source" in eng and "<strong>JumpCloud</strong>" in eng
    plat = console.get(f"/organization/members/departments/{platform_id}", htmx=True).get_data(as_text=True)
    assert "Admin Console" in plat and "Manually created by the administrator" in plat


def test_department_tree_costs_the_same_queries_for_many_departments(app, org, console):
    with QueryCounter(app) as few:
        console.get("/organization/members/departments")
    with app.app_context():
        for i in range(20):
            departments.create_department(org.id, f"D{i}", Actor.cli())
        db.session.commit()
    with QueryCounter(app) as many:
        console.get("/organization/members/departments")
    assert many.count == few.count


def test_add_rename_and_move_a_department(app, org, console):
    added = console.post("/organization/members/departments/new", {"name": "Sales", "parent_id": ""}, htmx=True)
    assert added.status_code == 200 and added.headers["HX-Trigger"] == "departments-changed"
    console.post("/organization/members/departments/new", {"name": "EMEA"})
    sales, emea = _dept_id(app, "Sales"), _dept_id(app, "EMEA")
    moved = console.post(
        f"/organization/members/departments/{emea}/edit", {"name": "Europe", "parent_id": str(sales)}, htmx=True
    )
    assert moved.status_code == 200
    with app.app_context():
        dept = db.session.get(Department, emea)
        assert (dept.name, dept.parent_id) == ("Europe", sales)
        assert db.session.scalar(select(AdminLog.event_type).order_by(AdminLog.id.desc())) == "Edit department"


def test_moving_a_department_under_its_own_sub_department_is_refused(app, org, console):
    console.post("/organization/members/departments/new", {"name": "Sales"})
    sales = _dept_id(app, "Sales")
    console.post("/organization/members/departments/new", {"name": "EMEA", "parent_id": str(sales)})
    emea = _dept_id(app, "EMEA")
    response = console.post(
        f"/organization/members/departments/{sales}/edit", {"name": "Sales", "parent_id": str(emea)}, htmx=True
    )
    assert response.status_code == 422
    assert "cannot move under itself or one of its sub-departments" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Department, sales).parent_id == _dept_id(app, "Acme")


def test_move_choices_leave_out_the_department_and_its_sub_departments(app, org, console):
    console.post("/organization/members/departments/new", {"name": "Sales"})
    sales = _dept_id(app, "Sales")
    console.post("/organization/members/departments/new", {"name": "EMEA", "parent_id": str(sales)})
    html = console.get(f"/organization/members/departments/{sales}", htmx=True).get_data(as_text=True)
    select_html = html[html.index('id="edit-department-parent"') :]
    select_html = select_html[: select_html.index("</select>")]
    assert "EMEA" not in select_html and "Acme" in select_html


def test_duplicate_department_name_under_one_parent_is_shown_next_to_the_name(app, org, console):
    console.post("/organization/members/departments/new", {"name": "Sales"})
    response = console.post("/organization/members/departments/new", {"name": "sales"}, htmx=True)
    assert response.status_code == 422
    assert "already exists under Acme" in response.get_data(as_text=True)


def test_only_an_empty_department_can_be_deleted(app, org, console):
    console.post("/organization/members/departments/new", {"name": "Sales"})
    sales = _dept_id(app, "Sales")
    console.post("/organization/members/departments/new", {"name": "EMEA", "parent_id": str(sales)})
    emea = _dept_id(app, "EMEA")
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob", department_ids=[emea])

    refused = console.post(f"/organization/members/departments/{sales}/delete", htmx=True)
    assert refused.status_code == 422 and "has sub-departments" in refused.get_data(as_text=True)
    refused = console.post(f"/organization/members/departments/{emea}/delete", htmx=True)
    assert refused.status_code == 422 and "has members" in refused.get_data(as_text=True)
    root = console.post(f"/organization/members/departments/{_dept_id(app, 'Acme')}/delete", htmx=True)
    assert root.status_code == 422

    console.post(f"/organization/members/{member_id}/delete")
    assert console.post(f"/organization/members/departments/{emea}/delete", htmx=True).status_code == 200
    assert console.post(f"/organization/members/departments/{sales}/delete").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Department.id).where(Department.name.in_(["Sales", "EMEA"]))) is None


# ---------------------------------------------------------------- User Group


def _scim_group(app: Any, org_id: int, source_id: int, name: str, user_names: list[str]) -> int:
    with app.app_context():
        group = UserGroup(org_id=org_id, display_name=name, source_id=source_id, scim_external_id="g-1")
        group.members = list(db.session.scalars(select(Member).where(Member.external_id.in_(user_names))))
        db.session.add(group)
        db.session.commit()
        return group.id


def test_user_groups_show_member_counts_and_data_source(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    sync_member(app, org.id, source_id, "bob@acme.test", "Bob Builder")
    group_id = _scim_group(app, org.id, source_id, "Engineers", ["ada@acme.test", "bob@acme.test"])
    console.post("/organization/groups/new", {"display_name": "Book club", "description": "Reads"})
    html = console.get("/organization/groups").get_data(as_text=True)
    assert re.search(r'Book club</span>.*?<td class="num">0</td>\s*<td class="nowrap">Admin Console</td>', html, re.S)
    assert re.search(
        r'Engineers</span></td>\s*<td class="num">2</td>\s*<td class="nowrap">SCIM data source \(JumpCloud\)', html
    )

    details = console.get(f"/organization/groups/{group_id}", htmx=True).get_data(as_text=True)
    assert "SCIM data source" in details and "Ada Lovelace" in details and "Bob Builder" in details
    assert "Memberships come from JumpCloud" in details


def test_hand_made_group_members_can_be_added_and_removed(app, org, console):
    member_id = _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    console.post("/organization/groups/new", {"display_name": "Book club"})
    with app.app_context():
        group_id = db.session.scalar(select(UserGroup.id))
    added = console.post(f"/organization/groups/{group_id}/members", {"member": "BOB@acme.test"}, htmx=True)
    assert added.status_code == 200 and "Bob Builder" in added.get_data(as_text=True)
    unknown = console.post(f"/organization/groups/{group_id}/members", {"member": "nobody@acme.test"}, htmx=True)
    assert unknown.status_code == 422 and "No member has this email or user ID" in unknown.get_data(as_text=True)
    removed = console.post(f"/organization/groups/{group_id}/members/{member_id}/remove", htmx=True)
    assert "No members in this user group." in removed.get_data(as_text=True)


def test_duplicate_group_name_is_shown_next_to_the_name(app, org, console):
    console.post("/organization/groups/new", {"display_name": "Book club"})
    response = console.post("/organization/groups/new", {"display_name": "BOOK CLUB"}, htmx=True)
    assert response.status_code == 422
    assert "A user group named &#39;BOOK CLUB&#39; already exists" in response.get_data(as_text=True)


def test_scim_group_cannot_be_changed_by_hand(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    group_id = _scim_group(app, org.id, source_id, "Engineers", [])
    response = console.post(f"/organization/groups/{group_id}/delete", htmx=True)
    assert response.status_code == 422 and "managed by the sync source JumpCloud" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(UserGroup, group_id) is not None


def test_user_group_list_costs_the_same_queries_for_many_groups(app, org, console):
    with QueryCounter(app) as few:
        console.get("/organization/groups")
    for i in range(15):
        console.post("/organization/groups/new", {"display_name": f"G{i}"})
    with QueryCounter(app) as many:
        console.get("/organization/groups")
    assert many.count == few.count


# ---------------------------------------------------------------- Field Management


def test_field_management_lists_the_12_standard_fields_of_the_seed_table(app, org, console):
    html = console.get("/organization/fields").get_data(as_text=True)
    for label in (
        "ExternalID",
        "Email",
        "Department",
        "Name",
        "Employee ID",
        "Workforce type",
        "First name",
        "Job title",
        "Last name",
        "Work country or region",
        "Another name",
        "Mobile",
    ):
        assert f'<span class="cell-primary">{label}</span>' in html
    assert html.count("Standard field") == 12


def test_field_details_name_each_source_and_its_scim_attribute_seed_view_data_source(app, org, console):
    make_source(app, org.id, name="JumpCloud")
    make_source(app, org.id, name="Okta", provider="okta")
    with app.app_context():
        field_id = db.session.scalar(select(Field.id).where(Field.org_id == org.id, Field.key == "first_name"))
    html = console.get(f"/organization/fields/{field_id}", htmx=True).get_data(as_text=True)
    assert 'JumpCloud (SCIM): <span class="mono">name.givenName</span>' in html
    assert 'Okta (SCIM): <span class="mono">name.givenName</span>' in html
    assert "Read-only for synced members" in html


def test_field_details_show_required_and_unique(app, org, console):
    make_source(app, org.id, name="JumpCloud")
    with app.app_context():
        user_name = db.session.scalar(select(Field.id).where(Field.org_id == org.id, Field.key == "external_id"))
    html = console.get(f"/organization/fields/{user_name}", htmx=True).get_data(as_text=True)
    assert re.search(r"<dt>Required</dt>\s*<dd>Yes</dd>", html)
    assert re.search(r"<dt>Unique within the organization</dt>\s*<dd>Yes</dd>", html)
    assert 'JumpCloud (SCIM): <span class="mono">userName</span>' in html


def test_enterprise_attributes_are_named_as_in_the_seed_table(app, org, console):
    make_source(app, org.id, name="JumpCloud")
    with app.app_context():
        field_id = db.session.scalar(select(Field.id).where(Field.org_id == org.id, Field.key == "employee_id"))
    html = console.get(f"/organization/fields/{field_id}", htmx=True).get_data(as_text=True)
    assert 'JumpCloud (SCIM): <span class="mono">EnterpriseExtension.employeeNumber</span>' in html
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber" in html


def test_deleted_source_no_longer_writes_fields(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    with app.app_context():
        db.session.get(SyncSource, source_id).deleted_at = utcnow()
        db.session.commit()
        field_id = db.session.scalar(select(Field.id).where(Field.org_id == org.id, Field.key == "email"))
    html = console.get(f"/organization/fields/{field_id}", htmx=True).get_data(as_text=True)
    assert "JumpCloud (SCIM)" not in html


def test_add_custom_fields_of_each_type_and_details_say_admin_console(app, org, console):
    for name, kind, options in (
        ("T-shirt", "option", "S\nM\nL"),
        ("Start date", "date", ""),
        ("Desk", "number", ""),
        ("Nickname", "text", ""),
    ):
        response = console.post(
            "/organization/fields/new", {"name": name, "field_type": kind, "options": options}, htmx=True
        )
        assert response.status_code == 200, response.get_data(as_text=True)
    html = console.get("/organization/fields").get_data(as_text=True)
    assert html.count("Custom field") == 4
    with app.app_context():
        shirt = db.session.scalar(select(Field).where(Field.name == "T-shirt"))
        assert shirt.options == ["S", "M", "L"] and not shirt.standard
        assert db.session.scalar(select(AdminLog.event_type).order_by(AdminLog.id.desc())) == "Add field"
        shirt_id = shirt.id
    details = console.get(f"/organization/fields/{shirt_id}", htmx=True).get_data(as_text=True)
    assert "Admin Console" in details and "no sync source writes custom fields" in details


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "Email", "field_type": "text"}, "A field named &#39;Email&#39; already exists"),
        ({"name": "Size", "field_type": "option", "options": ""}, "An option field needs at least one option"),
        ({"name": "Size", "field_type": "colour"}, "Choose a field type"),
        ({"name": "", "field_type": "text"}, "Enter the field&#39;s name"),
    ],
)
def test_invalid_custom_field_is_refused_next_to_the_field(app, org, console, values, message):
    response = console.post("/organization/fields/new", values, htmx=True)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_standard_fields_cannot_be_deleted_custom_ones_can(app, org, console):
    with app.app_context():
        email = db.session.scalar(select(Field.id).where(Field.org_id == org.id, Field.key == "email"))
        custom = fields.create_field(org.id, "Desk", "number", Actor.cli())
        db.session.commit()
        custom_id = custom.id
    assert console.post(f"/organization/fields/{email}/delete", htmx=True).status_code == 422
    assert console.post(f"/organization/fields/{custom_id}/delete", htmx=True).status_code == 200
    with app.app_context():
        assert db.session.get(Field, custom_id) is None and db.session.get(Field, email) is not None


# ---------------------------------------------------------------- banners (seed 1.3)


def test_banner_counts_what_a_source_changed_seed_1_3(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    for i in range(12):
        sync_member(app, org.id, source_id, f"u{i}@acme.test", f"U {i}", department="Sales" if i < 6 else "Support")
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for _ in range(3):
            log_sync(source, "update")
        log_sync(source, "deactivate")
        log_sync(source, "create", status_code=409)  # a rejected request changed nothing
        db.session.commit()
    for url in (
        "/organization/members",
        "/organization/members/departments",
        "/organization/groups",
        "/organization/fields",
    ):
        html = console.get(url).get_data(as_text=True)
        assert "JumpCloud sync: 12 members created, 3 updated, 1 suspended, 2 departments created" in html, url
        assert f'href="/settings/directory-sync/{source_id}/sync-log"' in html


def test_banner_dismissal_is_per_admin_and_comes_back_after_new_changes(app, org, console, client):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    dismissed = console.post(f"/organization/banners/{source_id}/dismiss", htmx=True)
    assert dismissed.status_code == 204
    assert "JumpCloud sync:" not in console.get("/organization/members").get_data(as_text=True)

    from tests.conftest import Console

    make_admin(app, org, "dir@acme.test", {"directory"}, password="another long password 1")
    other = Console(app.test_client())
    other.login("dir@acme.test", "another long password 1")
    assert "JumpCloud sync: 1 member created" in other.get("/organization/members").get_data(as_text=True)

    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        log_sync(source, "update", at=utcnow() + timedelta(seconds=1))
        db.session.commit()
    assert "JumpCloud sync: 1 updated" in console.get("/organization/members").get_data(as_text=True)


def test_banner_of_another_organizations_source_is_not_shown_or_dismissable(app, org, console):
    other = make_org(app, name="Globex", email="owner@globex.test")
    source_id = make_source(app, other.id, name="Globex IdP")
    sync_member(app, other.id, source_id, "x@globex.test", "Xavier")
    assert "Globex IdP" not in console.get("/organization/members").get_data(as_text=True)
    console.post(f"/organization/banners/{source_id}/dismiss", htmx=True)
    with app.app_context():
        from portal.models import BannerDismissal

        assert db.session.scalar(select(BannerDismissal.source_id)) is None


def test_dismiss_needs_csrf(app, org, console):
    source_id = make_source(app, org.id)
    response = console.client.post(f"/organization/banners/{source_id}/dismiss")
    assert response.status_code == 400


def test_deleting_a_manager_keeps_the_members_they_managed(app, org, console):
    manager_id = _hand_member(app, org.id, "boss@acme.test", "The Boss")
    report_id = _hand_member(app, org.id, "report@acme.test", "A Report")
    with app.app_context():
        report = db.session.get(Member, report_id)
        report.manager_id = manager_id
        db.session.commit()
        version = db.session.get(Member, report_id).version
    assert console.post(f"/organization/members/{manager_id}/delete").status_code == 302
    with app.app_context():
        report = db.session.get(Member, report_id)
        assert report.manager_id is None and report.version == version + 1


def test_dismissing_twice_keeps_one_dismissal(app, org, console):
    from portal.models import BannerDismissal

    source_id = make_source(app, org.id)
    assert console.post(f"/organization/banners/{source_id}/dismiss", htmx=True).status_code == 204
    assert console.post(f"/organization/banners/{source_id}/dismiss").status_code == 302
    with app.app_context():
        assert len(db.session.scalars(select(BannerDismissal)).all()) == 1
