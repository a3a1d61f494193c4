"""A member write on SQLite opens no temporary file.

The search triggers on ``members`` make each INSERT, DELETE and renaming UPDATE a statement that writes
several tables, so SQLite keeps a statement journal of every page it changes (all the member indexes' pages,
some 90 KiB). Past 64 KiB that journal went to a new file in /var/tmp, created and unlinked inside the
write lock: 9% of a create's CPU. With ``temp_store=MEMORY`` it stays in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from portal.extensions import db
from tests.scim.conftest import ENTERPRISE, USER_SCHEMA
from tests.scim.rows import scim_body


def _temporary_files() -> list[str]:
    """The files this process holds open that SQLite made as temporary ones (``etilqs_*``, unlinked)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


@pytest.fixture
def open_after_statements(app: Any) -> Iterator[list[str]]:
    """The temporary files open after each statement (a spilled statement journal lives until COMMIT)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's temporary files")
        if not Path("/proc/self/fd").is_dir():
            pytest.skip("needs /proc to list the open files")
        engine = db.engine
    seen: list[str] = []

    def look(*args: Any) -> None:
        seen.extend(_temporary_files())

    event.listen(engine, "after_cursor_execute", look)
    yield seen
    event.remove(engine, "after_cursor_execute", look)


def _user(n: int, title: str = "Engineer") -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": f"user{n}@acme.com",
        "name": {"givenName": "User", "familyName": f"Number{n}"},
        "displayName": f"User Number{n}",
        "emails": [{"value": f"user{n}@acme.com", "type": "work", "primary": True}],
        "title": title,
        "active": True,
        ENTERPRISE: {"employeeNumber": f"E{n}", "department": "Engineering"},
    }


def test_creating_renaming_and_deleting_a_user_open_no_temporary_file_rfc7644_3_3(
    scim: Any, open_after_statements: list[str]
) -> None:
    """RFC 7644 §3.3 (create), §3.5.1 (replace), §3.6 (delete), each through every member index."""
    for n in range(2, 200):  # enough members for each index to have pages of its own
        assert scim.post("/Users", _user(n)).status_code == 201
    open_after_statements.clear()
    created = scim.post("/Users", _user(1))
    assert created.status_code == 201, created.get_data(as_text=True)
    member_id = scim_body(created)["id"]
    renamed = dict(_user(1, title="Manager"), displayName="Renamed Person", name={"givenName": "Renamed"})
    replaced = scim.put(f"/Users/{member_id}", renamed)
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    assert scim_body(replaced)["displayName"] == "Renamed Person"
    assert scim.delete(f"/Users/{member_id}").status_code == 204
    assert scim.get(f"/Users/{member_id}").status_code == 404
    assert open_after_statements == []
