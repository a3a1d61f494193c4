"""Synced objects are protected (issue 13, point 4).

A department a sync source made keeps the name the source gave it, whichever door asks (the
core refuses a rename, the console shows the name read-only with the reason); it can still move
in the tree. A synced member's Edit shows its fields read-only with one line naming the source,
custom fields editable. Deactivating an active source asks first, and every destructive
confirmation is the one red dialog.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from portal.core import departments, fields, members
from portal.core.actors import Actor
from portal.core.errors import Invalid
from portal.extensions import db
from portal.models import AdminLog, Department, Member, SyncSource
from tests.conftest import Console
from tests.directory_support import make_source, sync_member

pytestmark = pytest.mark.both_databases


def _dept_id(app: Any, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Department.id).where(Department.name == name))


def _synced_sales(app: Any, org: Any) -> tuple[int, int]:
    """JumpCloud synced a member into the department "Sales" it created; returns (source id, department id)."""
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace", department="Sales")
    return source_id, _dept_id(app, "Sales")


# ---------------------------------------------------------------- synced departments


def test_the_core_refuses_to_rename_a_synced_department_naming_its_source(app: Any, org: Any) -> None:
    _source_id, sales = _synced_sales(app, org)
    with app.app_context():
        with pytest.raises(Invalid, match="sync source JumpCloud") as refused:
            departments.update_department(org.id, sales, Actor.cli(), name="Sales & BD")
        assert refused.value.field == "name"
        db.session.rollback()
        assert db.session.get(Department, sales).name == "Sales"


def test_a_rename_refused_leaves_no_second_department_after_the_next_scim_create(app: Any, org: Any) -> None:
    # The story: "Sales" renamed to "Sales & BD", then a SCIM create with "Sales" made a second "Sales".
    source_id, sales = _synced_sales(app, org)
    with app.app_context():
        with pytest.raises(Invalid):
            departments.update_department(org.id, sales, Actor.cli(), name="Sales & BD")
        db.session.rollback()
    sync_member(app, org.id, source_id, "bob@acme.test", "Bob Builder", department="Sales")
    with app.app_context():
        assert db.session.scalars(select(Department.id).where(Department.name == "Sales")).all() == [sales]


def test_a_synced_department_can_still_move_and_keep_its_name(app: Any, org: Any, console: Console) -> None:
    _source_id, sales = _synced_sales(app, org)
    console.post("/organization/members/departments/new", {"name": "Commercial"})
    commercial = _dept_id(app, "Commercial")
    # The console's form sends no name for a synced department: only the parent.
    moved = console.post(f"/organization/members/departments/{sales}/edit", {"parent_id": str(commercial)}, htmx=True)
    assert moved.status_code == 200
    # The same name sent back (an old form, another client) is no rename either.
    same = console.post(
        f"/organization/members/departments/{sales}/edit", {"name": "Sales", "parent_id": str(commercial)}, htmx=True
    )
    assert same.status_code == 200
    with app.app_context():
        dept = db.session.get(Department, sales)
        assert (dept.name, dept.parent_id) == ("Sales", commercial)
        assert db.session.scalar(select(AdminLog.event_type).order_by(AdminLog.id.desc())) == "Edit department"


def test_the_console_refuses_a_synced_rename_with_422_and_the_reason(app: Any, org: Any, console: Console) -> None:
    _source_id, sales = _synced_sales(app, org)
    response = console.post(f"/organization/members/departments/{sales}/edit", {"name": "Sales & BD"}, htmx=True)
    assert response.status_code == 422
    assert "The name comes from the sync source JumpCloud" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Department, sales).name == "Sales"


def test_a_synced_department_shows_its_name_read_only_with_the_reason(app: Any, org: Any, console: Console) -> None:
    _source_id, sales = _synced_sales(app, org)
    html = console.get(f"/organization/members/departments/{sales}", htmx=True).get_data(as_text=True)
    assert 'name="name"' not in html
    assert re.search(r'class="synced-note".*The name comes from the sync source JumpCloud', html, re.S)
    assert 'id="edit-department-parent"' in html and ">Move<" in html
    # A hand-made department is renamed as before.
    console.post("/organization/members/departments/new", {"name": "Legal"})
    legal = console.get(f"/organization/members/departments/{_dept_id(app, 'Legal')}", htmx=True)
    assert 'name="name"' in legal.get_data(as_text=True)


def test_a_department_left_by_a_deleted_source_is_renamed_by_hand(app: Any, org: Any, console: Console) -> None:
    source_id, sales = _synced_sales(app, org)
    console.post(f"/settings/directory-sync/{source_id}/delete")
    renamed = console.post(f"/organization/members/departments/{sales}/edit", {"name": "Sales & BD"}, htmx=True)
    assert renamed.status_code == 200
    with app.app_context():
        assert db.session.get(Department, sales).name == "Sales & BD"


# ---------------------------------------------------------------- synced members


def test_edit_on_a_synced_member_shows_read_only_fields_and_one_line_naming_the_source(
    app: Any, org: Any, console: Console
) -> None:
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    with app.app_context():
        member_id = db.session.scalar(select(Member.id).where(Member.external_id == "ada@acme.test"))
    html = console.get(f"/organization/members/{member_id}/edit", htmx=True).get_data(as_text=True)
    notes = re.findall(r'<p class="synced-note" role="note">.*?<span>(.*?)</span></p>', html, re.S)
    assert notes == [
        "Synced from JumpCloud: these fields are written by the sync source JumpCloud (SCIM data source). "
        "Change this member in the identity provider."
    ]
    assert "<dd>Ada Lovelace</dd>" in html and 'name="name"' not in html
    # No custom field: nothing to save, and the way out says where it goes.
    assert 'type="submit"' not in html and "Back to details" in html


def test_a_synced_members_custom_fields_stay_editable_beside_the_read_only_fields(
    app: Any, org: Any, console: Console
) -> None:
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    with app.app_context():
        badge = fields.create_field(org.id, "Badge number", "number", Actor.cli())
        db.session.commit()
        key = badge.key
        member_id = db.session.scalar(select(Member.id).where(Member.external_id == "ada@acme.test"))
    html = console.get(f"/organization/members/{member_id}/edit", htmx=True).get_data(as_text=True)
    assert f'name="custom.{key}"' in html and ">Save<" in html and 'class="synced-note"' in html
    saved = console.post(f"/organization/members/{member_id}/edit", {f"custom.{key}": "7"}, htmx=True)
    assert saved.status_code == 200
    with app.app_context():
        assert db.session.get(Member, member_id).custom_fields == {key: 7}


# ---------------------------------------------------------------- confirmations


def test_deactivate_asks_for_confirmation_on_the_card_and_the_details_page(
    app: Any, org: Any, console: Console
) -> None:
    source_id = make_source(app, org.id, name="JumpCloud")
    for url in ("/settings/directory-sync/", f"/settings/directory-sync/{source_id}"):
        html = console.get(url).get_data(as_text=True)
        form = re.search(r'<form[^>]*action="/settings/directory-sync/\d+/deactivate"[^>]*>', html)
        assert form is not None and f'data-confirm="#confirm-deactivate-{source_id}"' in form.group(0), url
        dialog = re.search(rf'<dialog class="([^"]*)" id="confirm-deactivate-{source_id}".*?</dialog>', html, re.S)
        assert dialog is not None and "confirm-danger" in dialog.group(1).split()
        assert "Deactivate JumpCloud?" in dialog.group(0) and "denied until you activate" in dialog.group(0)
        assert 'class="btn btn-danger" type="submit" value="confirm" data-confirm-accept>Deactivate<' in dialog.group(0)
    # The confirmed form posts as before.
    assert console.post(f"/settings/directory-sync/{source_id}/deactivate").status_code == 303
    with app.app_context():
        assert db.session.get(SyncSource, source_id).status == "inactive"


def test_every_destructive_confirm_dialog_is_the_one_red_component(app: Any, org: Any, console: Console) -> None:
    source_id = make_source(app, org.id, name="JumpCloud")
    pages = [
        console.get(url).get_data(as_text=True)
        for url in ("/settings/directory-sync/", f"/settings/directory-sync/{source_id}")
    ]
    dialogs = [
        d
        for html in pages
        for d in re.findall(r'<dialog class="modal[^"]*" id="confirm-(?:delete|deactivate)-[^"]+"', html)
    ]
    assert len(dialogs) == 4 and all("confirm-danger" in d for d in dialogs)
    # app.js's dialog for data-confirm-message (Delete member, department, field, group) is the same component.
    from pathlib import Path

    script = (Path(app.root_path).parent / "static" / "js" / "app.js").read_text()
    assert "dialog.className = 'modal confirm-danger'" in script
    assert "icon.className = 'modal-icon modal-icon-danger'" in script and "ok.className = 'btn btn-danger'" in script


def test_a_hand_made_members_edit_is_unchanged(app: Any, org: Any, console: Console) -> None:
    with app.app_context():
        bob = members.create_member(
            org.id, {"external_id": "bob@acme.test", "email": "bob@acme.test", "name": "Bob"}, Actor.cli()
        )
        db.session.commit()
        bob_id = bob.id
    html = console.get(f"/organization/members/{bob_id}/edit", htmx=True).get_data(as_text=True)
    assert 'name="name"' in html and "synced-note" not in html and ">Cancel<" in html
