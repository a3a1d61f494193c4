"""CSV import of hand-managed members, as Lark's batch import: upload, preview, confirm.

Issue 13 section 3. Every row goes through the console's member writer (the Add member form's
validation); the preview writes nothing; the confirm is all or nothing; synced members never change.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.core import departments, fields, members, workforce
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import AdminLog, ChangeEvent, Member
from tests.conftest import Console
from tests.directory_support import make_source, sync_member
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

HEADER = "Name,Email,ExternalID,Mobile,Employee ID,Department,Job title,Workforce type"


@pytest.fixture(autouse=True)
def _import_folder(app: Any, tmp_path: Path) -> Path:
    """Uploads waiting for their confirm go to a folder of the test's own."""
    folder = tmp_path / "imports"
    app.config["MEMBER_IMPORT_FOLDER"] = str(folder)
    return folder


def _upload(console: Console, text: str | bytes, filename: str = "members.csv") -> Any:
    data = text.encode() if isinstance(text, str) else text
    console.get("/organization/members/import")
    return console.post(
        "/organization/members/import",
        {"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _token(html: str) -> str:
    found = re.search(r'action="/organization/members/import/([A-Za-z0-9_-]{32})"', html)
    assert found, "no Confirm form"
    return found.group(1)


def _confirm(console: Console, token: str) -> Any:
    return console.post(f"/organization/members/import/{token}")


def _members(app: Any) -> dict[str, Member]:
    with app.app_context():
        found = {m.email: m for m in db.session.scalars(select(Member))}
        for m in found.values():
            _ = (m.departments, m.job_title, m.employee_type, m.source_id)
        db.session.expunge_all()
        return found


def _hand_member(app: Any, org_id: int, email: str, name: str, **values: Any) -> int:
    with app.app_context():
        member = members.create_member(
            org_id, {"external_id": email, "email": email, "name": name, **values}, Actor.cli()
        )
        db.session.commit()
        return member.id


def _entries(app: Any, event_type: str) -> list[AdminLog]:
    with app.app_context():
        found = list(db.session.scalars(select(AdminLog).where(AdminLog.event_type == event_type)))
        db.session.expunge_all()
        return found


def _change_events(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ChangeEvent)) or 0


def _setup(app: Any, org_id: int) -> None:
    """A department Sales to name in the rows (the workforce types are the organization's defaults)."""
    with app.app_context():
        departments.create_department(org_id, "Sales", Actor.cli())
        db.session.commit()


def _errors(html: str) -> list[tuple[str, str, str]]:
    """(row, column, message) of each line of the errors table."""
    table = html.split('aria-label="Errors in the file"', 1)[1].split("</table>", 1)[0]
    return [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row))
        for row in re.findall(r"<tr>(.*?)</tr>", table)
        if "<td" in row
    ]


# ---------------------------------------------------------------- step 1: the template


def test_template_has_the_standard_columns_and_the_custom_fields_after_a_bom(app, org, console):
    with app.app_context():
        fields.create_field(org.id, "Shirt size", "option", Actor.cli(), options=["S", "M"])
        db.session.commit()
    response = console.get("/organization/members/import/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    header = body.decode("utf-8-sig").strip()
    assert header == (
        "Name,Email,ExternalID,Mobile,Employee ID,Department,Job title,Workforce type,"
        "First name,Last name,Another name,Work country or region,Shirt size"
    )


def test_upload_page_links_the_template_and_names_the_limits(app, org, console):
    html = console.get("/organization/members/import").get_data(as_text=True)
    assert 'href="/organization/members/import/template.csv"' in html
    assert 'enctype="multipart/form-data"' in html and "2 MiB" in html and "2,000 members" in html
    members_page = console.get("/organization/members").get_data(as_text=True)
    assert 'href="/organization/members/import"' in members_page


# ---------------------------------------------------------------- step 2: the preview


def test_preview_shows_new_and_updated_rows_and_writes_nothing(app, org, console):
    _setup(app, org.id)
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder")
    events_before = _change_events(app)
    csv_text = (
        f"{HEADER}\n"
        "Ada Lovelace,ada@acme.test,,+44 20 7946 0958,E-1,Sales,Engineer,Contractor\n"
        "Robert Builder,BOB@acme.test,,,,,,\n"
    )
    response = _upload(console, csv_text)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ">New<" in html and ">Update<" in html
    assert "Nothing is written until you confirm" in html
    _token(html)
    found = _members(app)
    assert set(found) == {"bob@acme.test"} and found["bob@acme.test"].name == "Bob Builder"
    assert _change_events(app) == events_before  # no member.created event of the preview reaches webhooks
    with app.app_context():
        assert workforce.lookup_title(org.id, "Engineer") is None
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(AdminLog).where(AdminLog.event_type.like("%member%")))
            == 1
        )


def test_preview_shows_every_error_by_row_and_column_and_offers_no_confirm(app, org, console):
    _setup(app, org.id)
    _hand_member(app, org.id, "taken@acme.test", "Taken", employee_id="E-9")
    with app.app_context():
        badge = fields.create_field(org.id, "Badge", "number", Actor.cli())
        db.session.commit()
        assert badge.key
    csv_text = (
        "Name,Email,Employee ID,Department,Workforce type,Badge\n"
        "Ada Lovelace,ada@acme,,Marketing,,\n"  # row 2: a bad email and an unknown department
        ",cy@acme.test,,,Astronaut,\n"  # row 3: no name, an unknown workforce type
        "Dup,ada@acme.test,,,,\n"  # row 4: fine
        "Dup again,ADA@acme.test,,,,twelve\n"  # row 5: the email of row 4, a badge that is no number
        "Eve,eve@acme.test,E-9,,,\n"  # row 6: an employee ID another member has
    )
    response = _upload(console, csv_text)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = _errors(html)
    cells = {(row, column) for row, column, _message in errors}
    assert cells == {
        ("2", "Email"),
        ("2", "Department"),
        ("3", "Name"),
        ("3", "Workforce type"),
        ("5", "Email"),
        ("5", "Badge"),
        ("6", "Employee ID"),
    }
    messages = {(row, column): message for row, column, message in errors}
    assert "No department is named &#39;Marketing&#39;" in messages[("2", "Department")]
    assert messages[("5", "Email")] == "The same email is on row 4"
    assert "Badge must be a number" in messages[("5", "Badge")]
    assert "employee ID is already used by another member" in messages[("6", "Employee ID")]
    assert (
        "/organization/members/import/" not in html.split("Upload the corrected file", 1)[0].split("Import summary")[1]
    )
    assert "Nothing was written" in html
    assert set(_members(app)) == {"taken@acme.test"}


def test_a_row_matching_a_synced_member_is_an_error_and_the_synced_member_is_untouched(app, org, console):
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace")
    response = _upload(console, "Name,Email\nAda Renamed,ada@acme.test\nBob,bob@acme.test\n")
    assert response.status_code == 422
    errors = _errors(response.get_data(as_text=True))
    assert errors == [
        ("2", "Email", "Ada Lovelace is synced from the sync source JumpCloud: an import never changes synced members")
    ]
    found = _members(app)
    assert set(found) == {"ada@acme.test"} and found["ada@acme.test"].name == "Ada Lovelace"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Name,Email\n".encode("utf-16"), "The file is not UTF-8 text"),
        ("Name,Email\nZoë,zoe@acme.test\n".encode("latin-1"), "The file is not UTF-8 text"),
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (b"Name,Email\n", "The file has no members below its header row"),
        (b"Name,Email,Favourite colour\nAda,ada@acme.test,red\n", "Unknown column: use the headers of the template"),
        (b"Name,Mobile\nAda,+1 555\n", "The Email column is missing"),
        (b"Name,Email,E-mail\nAda,a@acme.test,b@acme.test\n", "The Email column appears twice"),
        (b'Name,Email\n"Ada" Lovelace,ada@acme.test\n', "The file is not valid CSV near line 2"),
        (("Name,Email\n" + "A,a@acme.test\n" * 2001).encode(), "The file has more than 2,000 members"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_what_to_fix(app, org, console, content, message):
    response = _upload(console, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _members(app) == {}


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(app, org, console):
    big = b"Name,Email\n" + b"A,a@acme.test\n" * (2 * 1024 * 1024 // 14 + 10)
    response = _upload(console, big)
    assert response.status_code in (413, 422)
    assert "The file is larger than 2 MiB" in response.get_data(as_text=True)
    far_too_big = big * 2
    response = _upload(console, far_too_big)
    assert response.status_code == 413
    assert "The file is larger than 2 MiB" in response.get_data(as_text=True)


def test_a_file_over_the_consoles_usual_1_mib_body_is_read(app, org, console):
    """The upload has a body limit of its own (2 MiB and the form), above the console's 1 MiB."""
    padded = "Name,Email\nAda Lovelace,ada@acme.test\n" + (" " * 100_000 + "\n") * 15
    assert len(padded) > 1024 * 1024
    response = _upload(console, padded)
    assert response.status_code == 200
    assert ">New<" in response.get_data(as_text=True)


def test_bom_semicolons_and_header_aliases_are_read(app, org, console):
    text = "\ufeffFull name;E-mail;User ID\nZoë Müller;zoe@acme.test;zmuller\n"
    response = _upload(console, text.encode("utf-8"))
    assert response.status_code == 200
    assert _confirm(console, _token(response.get_data(as_text=True))).status_code == 200
    zoe = _members(app)["zoe@acme.test"]
    assert (zoe.name, zoe.external_id) == ("Zoë Müller", "zmuller")


# ---------------------------------------------------------------- step 3: the confirm


def test_confirm_writes_every_row_in_one_transaction_with_one_import_entry(app, org, console):
    _setup(app, org.id)
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder", mobile="+1 202 555 0100")
    with app.app_context():
        shirt = fields.create_field(org.id, "Shirt size", "option", Actor.cli(), options=["S", "M"])
        db.session.commit()
        shirt_key = shirt.key
    csv_text = (
        f"{HEADER},Shirt size\n"
        "Ada Lovelace,ada@acme.test,,+44 20 7946 0958,E-1,Sales,Engineer,Contractor,M\n"
        "Robert Builder,bob@acme.test,,,,Sales,,,\n"
        "Cy Twombly,cy@acme.test,cy-id,,,,,,\n"
    )
    preview = _upload(console, csv_text, filename="new hires.csv")
    assert preview.status_code == 200
    done = _confirm(console, _token(preview.get_data(as_text=True)))
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "Import done" in html and "Imported: 2 created, 1 updated, 0 unchanged." in html

    found = _members(app)
    ada, bob, cy = found["ada@acme.test"], found["bob@acme.test"], found["cy@acme.test"]
    assert ada.source_id is None and ada.external_id == "ada@acme.test"  # the user ID taken from the email
    assert [d.name for d in ada.departments] == ["Sales"]
    assert (ada.job_title.name, ada.employee_type.name, ada.employee_id) == ("Engineer", "contractor", "E-1")
    assert ada.custom_fields == {shirt_key: "M"}
    assert (bob.name, bob.mobile, [d.name for d in bob.departments]) == ("Robert Builder", "+1 202 555 0100", ["Sales"])
    assert cy.external_id == "cy-id"

    entries = _entries(app, "Import members")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.target_name == "new hires.csv" and entry.target_type == "members"
    assert entry.changes["members created"] == [None, ["Ada Lovelace (ada@acme.test)", "Cy Twombly (cy@acme.test)"]]
    assert entry.changes["members updated"] == [None, ["Robert Builder (bob@acme.test)"]]
    assert entry.summary.startswith("Imported new hires.csv: 2 members created, 1 updated, 0 unchanged.")
    # One entry for the import, none per member (Bob's "Add member" is the test's own, before the import).
    assert len(_entries(app, "Add member")) == 1 and _entries(app, "Edit member") == []

    again = _confirm(console, _token(preview.get_data(as_text=True)))
    assert again.status_code == 410 and "upload the file again" in again.get_data(as_text=True)


def test_an_error_found_at_the_confirm_writes_nothing(app, org, console):
    """The directory changed between the preview and the confirm: one row fails, so no row is written."""
    preview = _upload(
        console, "Name,Email,Employee ID\nAda,ada@acme.test,E-1\nBob,bob@acme.test,E-2\nCy,cy@acme.test,\n"
    )
    assert preview.status_code == 200
    token = _token(preview.get_data(as_text=True))
    _hand_member(app, org.id, "other@acme.test", "Other", employee_id="E-2")
    done = _confirm(console, token)
    assert done.status_code == 422
    errors = _errors(done.get_data(as_text=True))
    assert [(row, column) for row, column, _ in errors] == [("3", "Employee ID")]
    assert set(_members(app)) == {"other@acme.test"}
    assert _entries(app, "Import members") == []


def test_an_update_changes_only_the_cells_given_and_a_same_row_is_no_change(app, org, console):
    _hand_member(app, org.id, "bob@acme.test", "Bob Builder", mobile="+1 202 555 0100", employee_id="B-1")
    preview = _upload(console, "Name,Email,Mobile,Employee ID\nBob Builder,bob@acme.test,,\nBob Builder,,,\n")
    assert preview.status_code == 422  # the second row has no email: the form requires one
    preview = _upload(console, "Name,Email,Mobile,Employee ID\nBob Builder,bob@acme.test,,\n")
    html = preview.get_data(as_text=True)
    assert ">No change<" in html
    assert _confirm(console, _token(html)).status_code == 200
    bob = _members(app)["bob@acme.test"]
    assert (bob.mobile, bob.employee_id) == ("+1 202 555 0100", "B-1")
    entry = _entries(app, "Import members")[0]
    assert entry.summary.startswith("Imported members.csv: 0 members created, 0 updated, 1 unchanged.")


def test_an_upload_is_bound_to_the_admin_who_made_it_and_expires(app, org, console, _import_folder):
    preview = _upload(console, "Name,Email\nAda,ada@acme.test\n")
    token = _token(preview.get_data(as_text=True))
    make_admin(app, org, "other@acme.test", {"directory"}, password="another long password 1")
    other = Console(app.test_client())
    other.login("other@acme.test", "another long password 1")
    other.get("/organization/members/import")
    assert other.post(f"/organization/members/import/{token}").status_code == 410
    assert console.post("/organization/members/import/not-a-token").status_code == 410

    kept = _import_folder / f"{token}.json"
    payload = json.loads(kept.read_text())
    assert payload["org_id"] == org.id and oct(os.stat(kept).st_mode & 0o777) == "0o600"
    payload["created"] = time.time() - 7200
    kept.write_text(json.dumps(payload))
    assert _confirm(console, token).status_code == 410
    assert _members(app) == {}


def test_import_needs_the_directory_permission(app, org, client):
    make_admin(app, org, "logs@acme.test", {"admin_log"}, password="another long password 1")
    viewer = Console(client)
    viewer.login("logs@acme.test", "another long password 1")
    assert viewer.get("/organization/members/import").status_code == 403
    assert viewer.get("/organization/members/import/template.csv").status_code == 403
    response = viewer.post(
        "/organization/members/import",
        {"file": (io.BytesIO(b"Name,Email\nAda,ada@acme.test\n"), "m.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_job_titles_are_made_only_when_the_import_is_confirmed(app, org, console):
    preview = _upload(console, "Name,Email,Job title\nAda,ada@acme.test,Astronomer\n")
    with app.app_context():
        assert workforce.lookup_title(org.id, "Astronomer") is None
    _confirm(console, _token(preview.get_data(as_text=True)))
    with app.app_context():
        assert workforce.lookup_title(org.id, "Astronomer") is not None
