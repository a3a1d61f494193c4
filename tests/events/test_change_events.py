"""Change events (issue 16): every write path leaves exactly the events its changes imply.

Each test drives one door (the console, SCIM, the CLI) through a path the suite already
exercises and compares the whole list of events written: (seq, type, object, changed fields,
actor type). Numbers are gap-free per organization, also after a refused request, and each
organization has its own sequence. SCIM tests quote RFC 7644 sections.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.core import events, fields, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import ChangeEvent, Department, Member, Organization, UserGroup, utcnow
from tests.factories import OrgData, make_org
from tests.scim.conftest import GROUP_SCHEMA, PATCH_SCHEMA, Scim, add_source, assert_scim_error, user

pytestmark = pytest.mark.both_databases

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def rows(app: Any, org_id: int, after: int = 0) -> list[tuple[int, str, str, list[str], str]]:
    """The organization's events after ``after``: (seq, type, object id, changed fields, actor type)."""
    with app.app_context():
        found = db.session.scalars(
            select(ChangeEvent).where(ChangeEvent.org_id == org_id, ChangeEvent.seq > after).order_by(ChangeEvent.seq)
        ).all()
        return [(e.seq, e.type, e.object_id, list(e.changed_fields), e.actor_type) for e in found]


def full(app: Any, org_id: int, seq: int) -> dict[str, Any]:
    """One event as the read API and webhooks show it."""
    with app.app_context():
        found = db.session.scalar(select(ChangeEvent).where(ChangeEvent.org_id == org_id, ChangeEvent.seq == seq))
        assert found is not None
        return events.document(found)


def last(app: Any, org_id: int) -> int:
    with app.app_context():
        return events.last_seq(org_id)


def public_id(app: Any, model: Any, **where: Any) -> str:
    with app.app_context():
        found = db.session.scalar(select(model.public_id).filter_by(**where))
        assert found is not None
        return str(found)


def row_id(app: Any, model: Any, **where: Any) -> int:
    with app.app_context():
        found = db.session.scalar(select(model.id).filter_by(**where))
        assert found is not None
        return int(found)


def _member_form(**values: str) -> dict[str, str]:
    form = {
        "external_id": "ann@acme.test",
        "email": "ann@acme.test",
        "name": "Ann",
        "first_name": "",
        "last_name": "",
        "another_name": "",
        "employee_id": "",
        "work_country": "",
        "mobile": "",
        "job_title": "",
        "employee_type_id": "",
        "department_id": "",
    }
    form.update(values)
    return form


# ---------------------------------------------------------------- the organization itself


def test_a_new_organization_starts_its_sequence_with_its_root_department(app, org):
    root = public_id(app, Department, org_id=org.id, parent_id=None)
    assert rows(app, org.id) == [(1, "department.created", root, [], "system")]
    event = full(app, org.id, 1)
    assert event["actor"] == {"type": "system", "id": None, "name": "CLI"}
    assert event["attributes"] == {"id": root, "name": "Acme", "parent_id": None, "source": None}


# ---------------------------------------------------------------- the console


def test_console_member_paths_write_one_event_each(app, console, org):
    start = last(app, org.id)
    assert console.post("/organization/members/new", _member_form()).status_code == 302
    ann_id = row_id(app, Member, external_id="ann@acme.test")
    ann = public_id(app, Member, id=ann_id)
    assert console.post(f"/organization/members/{ann_id}/edit", _member_form(name="Ann Lee")).status_code == 302
    with app.app_context():
        shirt = fields.create_field(org.id, "Shirt size", "text", Actor.cli()).key
        db.session.commit()
    edited = console.post(
        f"/organization/members/{ann_id}/edit", {**_member_form(name="Ann Lee"), f"custom.{shirt}": "M"}
    )
    assert edited.status_code == 302
    # Saving the form unchanged changes nothing: no event.
    assert console.post(f"/organization/members/{ann_id}/edit", _member_form(name="Ann Lee")).status_code == 302
    assert console.post(f"/organization/members/{ann_id}/suspend").status_code == 302
    assert console.post(f"/organization/members/{ann_id}/reactivate").status_code == 302
    assert console.post(f"/organization/members/{ann_id}/delete").status_code == 302

    s = start
    assert rows(app, org.id, start) == [
        (s + 1, "member.created", ann, [], "admin"),
        (s + 2, "member.updated", ann, ["name"], "admin"),
        (s + 3, "member.updated", ann, ["custom_fields"], "admin"),
        (s + 4, "member.suspended", ann, ["status"], "admin"),
        (s + 5, "member.reactivated", ann, ["status"], "admin"),
        (s + 6, "member.deleted", ann, [], "admin"),
    ]
    created = full(app, org.id, s + 1)
    assert created["actor"] == {"type": "admin", "id": str(org.admin_id), "name": org.email}
    assert created["attributes"]["user_name"] == "ann@acme.test" and created["attributes"]["status"] == "active"
    assert full(app, org.id, s + 2)["attributes"] == {"name": "Ann Lee"}
    assert full(app, org.id, s + 3)["attributes"] == {"custom_fields": {shirt: "M"}}
    assert full(app, org.id, s + 4)["attributes"] == {"status": "suspended"}
    assert full(app, org.id, s + 6)["attributes"]["name"] == "Ann Lee"


def test_console_department_paths(app, console, org):
    start = last(app, org.id)
    root = public_id(app, Department, org_id=org.id, parent_id=None)
    console.post("/organization/members/departments/new", {"name": "Sales", "parent_id": ""})
    console.post("/organization/members/departments/new", {"name": "EMEA", "parent_id": ""})
    sales_id, emea_id = row_id(app, Department, name="Sales"), row_id(app, Department, name="EMEA")
    sales, emea = public_id(app, Department, id=sales_id), public_id(app, Department, id=emea_id)
    console.post(f"/organization/members/departments/{emea_id}/edit", {"name": "Europe", "parent_id": str(sales_id)})
    console.post(f"/organization/members/departments/{emea_id}/edit", {"name": "Europe", "parent_id": str(sales_id)})
    # Refused: Sales has a sub-department. Nothing is written.
    assert console.post(f"/organization/members/departments/{sales_id}/delete").status_code == 422
    console.post(f"/organization/members/departments/{emea_id}/delete")
    console.post(f"/organization/members/departments/{sales_id}/delete")

    s = start
    assert rows(app, org.id, start) == [
        (s + 1, "department.created", sales, [], "admin"),
        (s + 2, "department.created", emea, [], "admin"),
        (s + 3, "department.updated", emea, ["name", "parent_id"], "admin"),
        (s + 4, "department.deleted", emea, [], "admin"),
        (s + 5, "department.deleted", sales, [], "admin"),
    ]
    assert full(app, org.id, s + 1)["attributes"]["parent_id"] == root
    assert full(app, org.id, s + 3)["attributes"] == {"name": "Europe", "parent_id": sales}


def test_console_group_paths(app, console, org):
    for name in ("ann", "bob"):
        console.post(
            "/organization/members/new", _member_form(external_id=f"{name}@acme.test", email=f"{name}@acme.test")
        )
    bob_id = row_id(app, Member, external_id="bob@acme.test")
    bob = public_id(app, Member, id=bob_id)
    start = last(app, org.id)
    console.post("/organization/groups/new", {"display_name": "Book club", "description": "Reads"})
    group_id = row_id(app, UserGroup, display_name="Book club")
    group = public_id(app, UserGroup, id=group_id)
    console.post(f"/organization/groups/{group_id}/edit", {"display_name": "Readers", "description": "Reads"})
    console.post(f"/organization/groups/{group_id}/members", {"member": "BOB@acme.test"})
    console.post(f"/organization/groups/{group_id}/members", {"member": "bob@acme.test"})  # already in: nothing
    console.post(f"/organization/groups/{group_id}/members/{bob_id}/remove")
    console.post(f"/organization/groups/{group_id}/delete")

    s = start
    assert rows(app, org.id, start) == [
        (s + 1, "group.created", group, [], "admin"),
        (s + 2, "group.updated", group, ["display_name"], "admin"),
        (s + 3, "group.member_added", group, ["members"], "admin"),
        (s + 4, "group.member_removed", group, ["members"], "admin"),
        (s + 5, "group.deleted", group, [], "admin"),
    ]
    assert full(app, org.id, s + 3)["attributes"] == {"member": {"id": bob, "user_name": "bob@acme.test"}}
    assert full(app, org.id, s + 1)["attributes"]["description"] == "Reads"


def test_deleting_a_manager_updates_the_members_it_managed(app, org):
    with app.app_context():
        boss = members.create_member(
            org.id, {"external_id": "boss@acme.test", "email": "boss@acme.test", "name": "Boss"}, Actor.cli()
        )
        db.session.commit()
        boss_id, boss_public = boss.id, boss.public_id
    source = add_source_for(app, org)
    scim = source
    worker = scim.create_user("dev@acme.test", **{ENTERPRISE: {"manager": {"value": boss_public}}})
    start = last(app, org.id)
    with app.app_context():
        members.delete_member(org.id, boss_id, Actor.cli())
        db.session.commit()
    assert rows(app, org.id, start) == [
        (start + 1, "member.deleted", boss_public, [], "system"),
        (start + 2, "member.updated", worker["id"], ["manager"], "system"),
    ]
    assert full(app, org.id, start + 2)["attributes"] == {"manager": {"ref": boss_public}}


# ---------------------------------------------------------------- SCIM


def add_source_for(app: Any, org: OrgData, *extra: str) -> Scim:
    """An active generic sync source of ``org`` (made with the CLI) and its SCIM client."""
    source = add_source(app.test_cli_runner(), org.name, "--activate", *extra)
    return Scim(app.test_client(), source)


def _source_public_id(scim: Scim) -> str:
    return scim.source.id


def test_scim_users_rfc7644_3_3_3_5_3_6(app, org):
    scim = add_source_for(app, org, "--deletion-rule", "delete")
    start = last(app, org.id)
    # §3.3 POST with a department the organization lacks: the department is made first.
    ann = scim.create_user("ann@acme.test", **{ENTERPRISE: {"department": "Engineering"}})
    engineering = public_id(app, Department, name="Engineering")
    # §3.5.1 PUT: a replaced name.
    body = user("ann@acme.test", displayName="Ann Lee", **{ENTERPRISE: {"department": "Engineering"}})
    assert scim.put(f"/Users/{ann['id']}", body).status_code == 200
    # §3.5.2 PATCH active=false, then active=true.
    assert scim.ops(f"/Users/{ann['id']}", {"op": "replace", "path": "active", "value": False}).status_code == 200
    assert scim.ops(f"/Users/{ann['id']}", {"op": "replace", "value": {"active": True}}).status_code == 200
    # A PATCH that changes nothing writes no event.
    assert (
        scim.ops(f"/Users/{ann['id']}", {"op": "replace", "path": "displayName", "value": "Ann Lee"}).status_code == 200
    )
    # §3.6 DELETE under the rule "Delete member".
    assert scim.delete(f"/Users/{ann['id']}").status_code == 204

    s = start
    assert rows(app, org.id, start) == [
        (s + 1, "department.created", engineering, [], "source"),
        (s + 2, "member.created", ann["id"], [], "source"),
        (s + 3, "member.updated", ann["id"], ["name"], "source"),
        (s + 4, "member.suspended", ann["id"], ["status"], "source"),
        (s + 5, "member.reactivated", ann["id"], ["status"], "source"),
        (s + 6, "member.deleted", ann["id"], [], "source"),
    ]
    created = full(app, org.id, s + 2)
    assert created["actor"]["id"] == _source_public_id(scim)
    assert created["attributes"]["departments"] == [{"id": engineering, "name": "Engineering"}]
    assert created["attributes"]["source"]["id"] == _source_public_id(scim)


def test_scim_delete_under_the_suspend_rule_suspends_and_unlinks(app, org):
    scim = add_source_for(app, org)
    ann = scim.create_user("ann@acme.test")
    start = last(app, org.id)
    assert scim.delete(f"/Users/{ann['id']}").status_code == 204
    assert rows(app, org.id, start) == [(start + 1, "member.suspended", ann["id"], ["status", "source"], "source")]
    assert full(app, org.id, start + 1)["attributes"] == {"status": "suspended", "source": None}


def test_scim_post_adopting_a_console_member_is_an_update_of_its_source(app, org):
    with app.app_context():
        made = members.create_member(
            org.id, {"external_id": "ann@acme.test", "email": "ann@acme.test", "name": "Ann"}, Actor.cli()
        )
        db.session.commit()
        ann = made.public_id
    scim = add_source_for(app, org)
    start = last(app, org.id)
    linked = scim.create_user("ann@acme.test")
    assert linked["id"] == ann
    # The POST states the whole resource (RFC 7644 §3.3): its emails are kept as sent, and the source manages it.
    assert rows(app, org.id, start) == [(start + 1, "member.updated", ann, ["emails", "source"], "source")]


def test_a_refused_scim_request_writes_no_event_and_leaves_no_gap_rfc7644_3_12(app, org):
    scim = add_source_for(app, org)
    scim.create_user("ann@acme.test")
    before = last(app, org.id)
    # 409 uniqueness (RFC 7644 §3.3): a second user with the same userName.
    assert_scim_error(scim.post("/Users", user("ANN@acme.test")), 409, "uniqueness")
    # 400 after a department was made in the same request: rolled back together.
    refused = scim.post(
        "/Users", {**user("bob@acme.test"), "emails": "not a list", ENTERPRISE: {"department": "Ghosts"}}
    )
    assert refused.status_code == 400
    assert last(app, org.id) == before
    bob = scim.create_user("bob@acme.test")
    assert rows(app, org.id, before) == [(before + 1, "member.created", bob["id"], [], "source")]
    with app.app_context():
        assert db.session.scalar(select(Department.id).where(Department.name == "Ghosts")) is None


def test_scim_groups_rfc7644_3_3_3_5_3_6(app, org):
    scim = add_source_for(app, org)
    ann, bob, cat = (scim.create_user(f"{n}@acme.test") for n in ("ann", "bob", "cat"))
    start = last(app, org.id)
    made = scim.post(
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": bob["id"]}, {"value": ann["id"]}]},
    )
    assert made.status_code == 201
    group = made.get_json()["id"]
    # §3.5.2 PATCH: add cat, remove ann (one event per member, written together).
    patched = scim.patch(
        f"/Groups/{group}",
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": cat["id"]}]},
                {"op": "remove", "path": f'members[value eq "{ann["id"]}"]'},
            ],
        },
    )
    assert patched.status_code in (200, 204)
    # §3.5.1 PUT: renamed, members replaced by ann alone.
    put = scim.put(
        f"/Groups/{group}", {"schemas": [GROUP_SCHEMA], "displayName": "Sales EMEA", "members": [{"value": ann["id"]}]}
    )
    assert put.status_code == 200
    assert scim.delete(f"/Groups/{group}").status_code == 204

    s = start
    assert rows(app, org.id, start) == [
        (s + 1, "group.created", group, [], "source"),
        (s + 2, "group.member_added", group, ["members"], "source"),
        (s + 3, "group.member_added", group, ["members"], "source"),
        (s + 4, "group.member_added", group, ["members"], "source"),
        (s + 5, "group.member_removed", group, ["members"], "source"),
        (s + 6, "group.updated", group, ["display_name"], "source"),
        (s + 7, "group.member_added", group, ["members"], "source"),
        (s + 8, "group.member_removed", group, ["members"], "source"),
        (s + 9, "group.member_removed", group, ["members"], "source"),
        (s + 10, "group.deleted", group, [], "source"),
    ]
    # Members in userName order within one write.
    added = [full(app, org.id, s + n)["attributes"]["member"]["user_name"] for n in (2, 3, 4, 7)]
    assert added == ["ann@acme.test", "bob@acme.test", "cat@acme.test", "ann@acme.test"]
    removed = [full(app, org.id, s + n)["attributes"]["member"]["id"] for n in (5, 8, 9)]
    assert removed == [ann["id"], bob["id"], cat["id"]]


def test_scim_post_group_adopting_a_console_group(app, console, org):
    console.post("/organization/groups/new", {"display_name": "Sales", "description": ""})
    group = public_id(app, UserGroup, display_name="Sales")
    scim = add_source_for(app, org)
    ann = scim.create_user("ann@acme.test")
    start = last(app, org.id)
    linked = scim.post(
        "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": ann["id"]}]}
    )
    assert linked.status_code == 201 and linked.get_json()["id"] == group
    assert rows(app, org.id, start) == [
        (start + 1, "group.updated", group, ["source"], "source"),
        (start + 2, "group.member_added", group, ["members"], "source"),
    ]


# ---------------------------------------------------------------- the CLI


def test_cli_source_deletion_hands_every_object_to_the_console_as_an_update(app, runner, org):
    scim = add_source_for(app, org)
    ann = scim.create_user("ann@acme.test", **{ENTERPRISE: {"department": "Engineering"}})
    bob = scim.create_user("bob@acme.test")
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales"}).get_json()["id"]
    engineering = public_id(app, Department, name="Engineering")
    start = last(app, org.id)
    result = runner.invoke(args=["sync-source", "delete", scim.source.id])
    assert result.exit_code == 0, result.output
    assert rows(app, org.id, start) == [
        (start + 1, "member.updated", ann["id"], ["source"], "system"),
        (start + 2, "member.updated", bob["id"], ["source"], "system"),
        (start + 3, "group.updated", group, ["source"], "system"),
        (start + 4, "department.updated", engineering, ["source"], "system"),
    ]
    assert full(app, org.id, start + 1)["attributes"] == {"source": None}


def test_cli_org_create_writes_the_root_department_event(app, runner):
    result = runner.invoke(
        args=["org", "create", "Globex", "--admin-email", "it@globex.test", "--admin-password", "a long passphrase 42"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        org_id = db.session.scalar(select(Organization.id).where(Organization.name == "Globex"))
    root = public_id(app, Department, org_id=org_id, parent_id=None)
    assert rows(app, org_id) == [(1, "department.created", root, [], "system")]


# ---------------------------------------------------------------- numbering


def test_two_organizations_have_their_own_sequences(app, org):
    other = make_org(app, "Globex", "owner@globex.test")
    acme, globex = add_source_for(app, org), add_source_for(app, other)
    for n in range(3):
        acme.create_user(f"a{n}@acme.test")
        globex.create_user(f"g{n}@globex.test")
    assert [r[0] for r in rows(app, org.id)] == [1, 2, 3, 4]
    assert [r[0] for r in rows(app, other.id)] == [1, 2, 3, 4]
    # One token never writes into the other organization's sequence.
    assert {r[4] for r in rows(app, other.id)[1:]} == {"source"}


def test_a_rolled_back_savepoint_takes_its_events_with_it(app, org):
    start = last(app, org.id)
    with app.app_context():
        try:
            with db.session.begin_nested():
                members.create_member(
                    org.id, {"external_id": "x@acme.test", "email": "x@acme.test", "name": "X"}, Actor.cli()
                )
                raise RuntimeError("refused after the write")
        except RuntimeError:
            pass
        kept = members.create_member(
            org.id, {"external_id": "y@acme.test", "email": "y@acme.test", "name": "Y"}, Actor.cli()
        )
        db.session.commit()
        kept_id = kept.public_id
    assert rows(app, org.id, start) == [(start + 1, "member.created", kept_id, [], "system")]


def test_concurrent_writers_of_one_organization_get_numbers_without_gaps_or_repeats(app, org):
    """8 threads create members in one organization at once: the numbers are exactly 1..N (PostgreSQL's
    row lock on the counter; SQLite's single writer)."""
    per_thread = 10
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def create(thread: int) -> None:
        try:
            with app.app_context():
                barrier.wait(10)
                for n in range(per_thread):
                    values = {
                        "external_id": f"t{thread}-{n}@acme.test",
                        "email": f"t{thread}-{n}@acme.test",
                        "name": "T",
                    }
                    members.create_member(org.id, values, Actor.cli())
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    found = rows(app, org.id)
    assert [r[0] for r in found] == list(range(1, 8 * per_thread + 2))
    assert sum(1 for r in found if r[1] == "member.created") == 8 * per_thread
    assert last(app, org.id) == 8 * per_thread + 1


def test_prune_deletes_events_older_than_the_cutoff_in_batches(app, org):
    scim = add_source_for(app, org)
    for n in range(5):
        scim.create_user(f"u{n}@acme.test")
    with app.app_context():
        old = db.session.scalars(select(ChangeEvent).where(ChangeEvent.org_id == org.id).order_by(ChangeEvent.seq))
        for event in list(old)[:4]:
            event.created_at = utcnow() - timedelta(days=200)
        db.session.commit()
        assert events.prune(utcnow() - timedelta(days=180), batch=3) == 4
    assert [r[0] for r in rows(app, org.id)] == [5, 6]
    # Numbers are never reused: the next event is 7.
    scim.create_user("next@acme.test")
    assert rows(app, org.id)[-1][0] == 7


# ---------------------------------------------------------------- the console's CSV import and bulk actions


def test_csv_import_confirm_writes_the_events_of_its_rows_and_the_preview_none(app, console, org, tmp_path):
    app.config["MEMBER_IMPORT_FOLDER"] = str(tmp_path / "imports")
    with app.app_context():
        members.create_member(
            org.id, {"external_id": "bob@acme.test", "email": "bob@acme.test", "name": "Bob"}, Actor.cli()
        )
        db.session.commit()
    bob = public_id(app, Member, external_id="bob@acme.test")
    start = last(app, org.id)
    csv_text = (
        "Name,Email,ExternalID\nAda Lovelace,ada@acme.test,\nRobert Builder,bob@acme.test,\nBob,nobody-new@acme.test,\n"
    )
    console.get("/organization/members/import")
    preview = console.post(
        "/organization/members/import",
        {"file": (io.BytesIO(csv_text.encode()), "members.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    assert last(app, org.id) == start  # the preview is rolled back: no number taken
    token = re.search(r'action="/organization/members/import/([A-Za-z0-9_-]{32})"', preview.get_data(as_text=True))
    assert token is not None
    assert console.post(f"/organization/members/import/{token.group(1)}").status_code == 200
    ada = public_id(app, Member, external_id="ada@acme.test")
    newcomer = public_id(app, Member, external_id="nobody-new@acme.test")
    assert rows(app, org.id, start) == [
        (start + 1, "member.created", ada, [], "admin"),
        (start + 2, "member.updated", bob, ["name"], "admin"),
        (start + 3, "member.created", newcomer, [], "admin"),
    ]


def test_bulk_suspend_and_add_to_group_write_one_event_per_member(app, console, org):
    ids = {}
    with app.app_context():
        for name in ("ann", "bob", "cy"):
            made = members.create_member(
                org.id, {"external_id": f"{name}@acme.test", "email": f"{name}@acme.test", "name": name}, Actor.cli()
            )
            ids[name] = (made.id, made.public_id)
        db.session.commit()
    console.post("/organization/groups/new", {"display_name": "Sales", "description": ""})
    group_id = row_id(app, UserGroup, display_name="Sales")
    group = public_id(app, UserGroup, id=group_id)
    start = last(app, org.id)
    chosen = [str(ids[n][0]) for n in ("ann", "cy")]
    assert (
        console.post("/organization/members/bulk", {"action": "suspend", "member_ids": chosen}, htmx=True).status_code
        == 200
    )
    added = console.post(
        "/organization/members/bulk",
        {"action": "add_to_group", "group_id": str(group_id), "member_ids": chosen},
        htmx=True,
    )
    assert added.status_code == 200
    assert rows(app, org.id, start) == [
        (start + 1, "member.suspended", ids["ann"][1], ["status"], "admin"),
        (start + 2, "member.suspended", ids["cy"][1], ["status"], "admin"),
        (start + 3, "group.member_added", group, ["members"], "admin"),
        (start + 4, "group.member_added", group, ["members"], "admin"),
    ]
