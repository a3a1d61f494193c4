"""Settings > Directory Sync > Sync log (seed section 3 "Log management", issue 4 "Sync log")."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from markupsafe import escape

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin, SyncLog, SyncSource, utcnow
from tests.conftest import Console
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 3, 2, 9, 0, 0)


def add_source(app: Any, org: Any, provider: str = "jumpcloud") -> int:
    """A sync source of ``org`` created the way the wizard does."""
    with app.app_context():
        admin = db.session.get(Admin, org.admin_id)
        source, _token = sync_sources.create_source(org.id, provider, Actor.for_admin(admin, "198.51.100.4"))
        db.session.commit()
        return source.id


def add_log(app: Any, org_id: int, source_id: int, **values: Any) -> int:
    """A sync log row as the SCIM receiver writes it (defaults: a successful member create)."""
    row = {
        "org_id": org_id,
        "source_id": source_id,
        "created_at": T0,
        "operation": "create",
        "object_type": "member",
        "object_id": "9f0c3a8e-0000-4000-8000-000000000001",
        "object_name": "ada@example.com",
        "result": "success",
        "status_code": 201,
        "changes": {},
        "associated": [],
        "notes": [],
        "duration_ms": 12,
        "request_id": "req-1",
        "method": "POST",
        "path": "/scim/v2/x/Users",
        "request_body": {"userName": "ada@example.com"},
    }
    row.update(values)
    with app.app_context():
        entry = SyncLog(**row)
        db.session.add(entry)
        db.session.commit()
        return entry.id


def url(source_id: int, rest: str = "") -> str:
    return f"/settings/directory-sync/{source_id}/sync-log{rest}"


def names_in(html: str) -> list[str]:
    """Object names of the table rows, top to bottom."""
    return re.findall(r'<span class="cell-primary">([^<]*)</span>', html)


@pytest.fixture
def source_id(app: Any, org: Any) -> int:
    return add_source(app, org)


def test_table_lists_the_sources_operations_newest_first_seed_3(app, org, console, source_id):
    for minutes, name in ((0, "first@example.com"), (10, "third@example.com"), (5, "second@example.com")):
        add_log(app, org.id, source_id, object_name=name, created_at=T0 + timedelta(minutes=minutes))
    response = console.get(url(source_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert names_in(html) == ["third@example.com", "second@example.com", "first@example.com"]
    for column in ("Time (UTC)", "Operation", "Object", "Result", "Message"):
        assert f">{column}</th>" in html
    assert "3 requests" in html


def test_message_shows_the_error_of_a_failure_and_the_changes_of_a_success(app, org, console, source_id):
    add_log(
        app,
        org.id,
        source_id,
        object_name="bob@example.com",
        result="failure",
        status_code=409,
        scim_type="uniqueness",
        error_detail="userName is already taken in this organization",
    )
    add_log(
        app,
        org.id,
        source_id,
        object_name="cy@example.com",
        operation="update",
        status_code=200,
        changes={"name": ["Cy", "Cyrus"], "mobile": [None, "+1 555"]},
        created_at=T0 - timedelta(minutes=1),
    )
    html = console.get(url(source_id)).get_data(as_text=True)
    assert "userName is already taken in this organization" in html
    assert "Failed · 409" in html
    assert "Name: Cy → Cyrus · Mobile: (empty) → +1 555" in html


def test_message_names_the_associated_objects_or_the_changed_fields_seed_3(app, org, console, source_id):
    add_log(
        app,
        org.id,
        source_id,
        object_name="new@example.com",
        associated=[
            {"type": "department", "name": "Research", "created": True},
            {"type": "job_title", "name": "Engineer", "created": False},
        ],
    )
    add_log(
        app,
        org.id,
        source_id,
        object_name="many@example.com",
        operation="update",
        changes={f"field_{i}": ["a", "b"] for i in range(6)},
        created_at=T0 - timedelta(minutes=1),
    )
    html = console.get(url(source_id)).get_data(as_text=True)
    assert "Department Research (new) · Job title Engineer" in html
    assert "Changed Field 0, Field 1, Field 2, Field 3 and 2 more" in html


FILTER_CASES = [
    ("operation=deactivate", {"operation": "deactivate"}),
    ("operation=link", {"operation": "link"}),
    ("result=failure", {"result": "failure", "status_code": 409}),
    ("object_type=group", {"object_type": "group"}),
    ("q=GRACE", {"object_name": "grace.hopper@example.com"}),
    ("start=2026-03-02T09:30&end=2026-03-02T09:40", {"created_at": T0 + timedelta(minutes=35)}),
]


@pytest.mark.parametrize("query,matching", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_each_filter_keeps_only_matching_rows_issue_4(app, org, console, source_id, query, matching):
    add_log(app, org.id, source_id, object_name="other@example.com")
    add_log(app, org.id, source_id, **{"object_name": "match@example.com", **matching})
    html = console.get(url(source_id, f"?{query}")).get_data(as_text=True)
    expected = matching.get("object_name", "match@example.com")
    assert names_in(html) == [expected]
    assert "1 request" in html


def test_filters_combine_and_survive_in_the_pushed_url(app, org, console, source_id):
    add_log(app, org.id, source_id, object_name="a@example.com", operation="update", result="failure", status_code=400)
    add_log(app, org.id, source_id, object_name="b@example.com", operation="update")
    add_log(app, org.id, source_id, object_name="c@example.com", operation="create", result="failure", status_code=400)
    html = console.get(url(source_id, "?operation=update&result=failure")).get_data(as_text=True)
    assert names_in(html) == ["a@example.com"]
    # The chosen values are selected again when the URL is reloaded as a full page.
    assert '<option value="update" selected>' in html
    assert '<option value="failure" selected>' in html


def test_search_takes_like_wildcards_literally(app, org, console, source_id):
    add_log(app, org.id, source_id, object_name="ann_lee@example.com")
    add_log(app, org.id, source_id, object_name="annXlee@example.com")
    html = console.get(url(source_id, "?q=ann_lee")).get_data(as_text=True)
    assert names_in(html) == ["ann_lee@example.com"]
    assert names_in(console.get(url(source_id, "?q=%25")).get_data(as_text=True)) == []


def test_unknown_filter_values_mean_all(app, org, console, source_id):
    add_log(app, org.id, source_id)
    html = console.get(url(source_id, "?operation=drop+table&result=maybe")).get_data(as_text=True)
    assert names_in(html) == ["ada@example.com"]


def test_an_end_before_the_start_is_a_message_next_to_the_field(app, org, console, source_id):
    add_log(app, org.id, source_id)
    response = console.get(url(source_id, "?start=2026-03-02T10:00&end=2026-03-02T09:00"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="sync-log-end-error"' in html and "The end time must be after the start time." in html
    assert names_in(html) == []


def test_pagination_counts_in_sql_and_pages_through_every_row(app, org, console, source_id):
    with app.app_context():
        db.session.add_all(
            [
                SyncLog(
                    org_id=org.id,
                    source_id=source_id,
                    created_at=T0 + timedelta(seconds=i),
                    operation="update",
                    object_type="member",
                    object_name=f"user{i:02d}@example.com",
                    result="success",
                    status_code=200,
                    changes={},
                    associated=[],
                    notes=[],
                    request_body={},
                )
                for i in range(30)
            ]
        )
        db.session.commit()
    first = console.get(url(source_id, "?operation=update")).get_data(as_text=True)
    assert "30 requests" in first
    assert len(names_in(first)) == 25 and names_in(first)[0] == "user29@example.com"
    # Page links keep the filters.
    assert "page=2" in first and "operation=update" in first
    second = console.get(url(source_id, "?operation=update&page=2")).get_data(as_text=True)
    assert names_in(second) == [f"user{i:02d}@example.com" for i in range(4, -1, -1)]
    beyond = console.get(url(source_id, "?operation=update&page=99")).get_data(as_text=True)
    assert names_in(beyond) == names_in(second)


def test_htmx_gets_the_panel_and_a_reload_the_full_page(app, org, console, source_id):
    add_log(app, org.id, source_id)
    fragment = console.get(url(source_id, "?result=success"), htmx=True)
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="log-panel"') and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    page = console.get(url(source_id, "?result=success")).get_data(as_text=True)
    assert "<html" in page and 'id="log-panel"' in page
    # The filter form pushes its URL, so the browser's address always reloads this state.
    assert 'hx-push-url="true"' in page


def test_details_show_changes_associated_objects_duration_and_redacted_request_seed_3(app, org, console, source_id):
    log_id = add_log(
        app,
        org.id,
        source_id,
        object_name="ada@example.com",
        duration_ms=87,
        changes={
            "name": [None, "Ada Lovelace"],
            "job_title": [None, "Engineer"],
            "external_id": [None, "ada@example.com"],
        },
        associated=[
            {"type": "department", "name": "Research", "created": True},
            {"type": "job_title", "name": "Engineer", "created": False},
        ],
        notes=["Matched the existing member by email"],
        request_body={"userName": "ada@example.com", "password": "hunter2-secret-value", "name": {"givenName": "Ada"}},
    )
    response = console.get(url(source_id, f"/{log_id}"), htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Sync log details" in html
    assert "Ada Lovelace" in html and "(empty)" in html  # before and after
    # Changed fields carry the seed's attribute table labels.
    assert '<th scope="row" class="mono">ExternalID</th>' in html
    assert "Department" in html and "Research" in html and "Created" in html
    assert "Job title" in html and "Engineer" in html and "Existing" in html
    assert "87 ms" in html
    assert "Matched the existing member by email" in html
    assert "hunter2-secret-value" not in html and "password" not in html
    assert "&#34;givenName&#34;: &#34;Ada&#34;" in html or "&quot;givenName&quot;: &quot;Ada&quot;" in html
    # Without htmx the same details are a page of their own.
    page = console.get(url(source_id, f"/{log_id}")).get_data(as_text=True)
    assert "<html" in page and "Research" in page


HINTS = [
    (
        {
            "status_code": 409,
            "scim_type": "uniqueness",
            "error_detail": "email is already taken in this organization",
            "request_body": {"userName": "dup@example.com", "emails": [{"type": "work", "value": "dup@example.com"}]},
        },
        "Another member already uses this email: dup@example.com.",
    ),
    (
        {
            "status_code": 409,
            "scim_type": "uniqueness",
            "error_detail": "employeeNumber is already taken",
            "request_body": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E-7"}},
        },
        "Another member already uses this employee ID: E-7.",
    ),
    (
        {
            "status_code": 409,
            "scim_type": "uniqueness",
            "error_detail": "userName is already taken",
            "object_name": "taken@example.com",
            "request_body": {},
        },
        "Another member already uses this userName: taken@example.com.",
    ),
    (
        {
            "status_code": 409,
            "scim_type": "uniqueness",
            "error_detail": "A user with this mobile already exists",
            "request_body": {"phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]},
        },
        "Another member already uses this mobile: +1 555 0100.",
    ),
    (
        {
            "status_code": 409,
            "scim_type": "uniqueness",
            "error_detail": "The member with this email is managed by another active sync source (Okta)",
        },
        "Deactivate that source first",
    ),
    (
        {
            "status_code": 400,
            "scim_type": "invalidValue",
            "error_detail": "userName 'ada' must equal the work email 'ada@example.com'",
        },
        "In JumpCloud make the work email equal to the username",
    ),
    (
        {"status_code": 403, "error_detail": "sync source is not activated", "operation": "request"},
        "Activate the sync source",
    ),
    ({"status_code": 401, "error_detail": "invalid token", "operation": "request"}, "Copy the token again"),
    (
        {"status_code": 401, "error_detail": "the token expired", "operation": "request"},
        "The token has expired. Click Refresh token",
    ),
]


@pytest.mark.parametrize(
    "values,expected",
    HINTS,
    ids=[
        "email",
        "employee-id",
        "username",
        "mobile",
        "other-source",
        "invalid-value",
        "not-activated",
        "bad-token",
        "expired-token",
    ],
)
def test_details_of_a_failure_show_the_error_and_a_hint_to_fix_it_issue_4(
    app, org, console, source_id, values, expected
):
    log_id = add_log(app, org.id, source_id, **{"result": "failure", **values})
    html = console.get(url(source_id, f"/{log_id}"), htmx=True).get_data(as_text=True)
    assert "How to fix it" in html
    assert expected in html
    assert escape(values["error_detail"]) in html


def test_csv_export_has_the_filtered_rows_and_neutralises_formulas_issue_4(app, org, console, source_id):
    add_log(
        app,
        org.id,
        source_id,
        object_name='=HYPERLINK("http://evil")',
        result="failure",
        status_code=400,
        scim_type="invalidValue",
        error_detail="+1 bad value",
        created_at=T0 + timedelta(minutes=2),
    )
    add_log(
        app,
        org.id,
        source_id,
        object_name="@SUM(A1)",
        result="failure",
        status_code=409,
        error_detail="-oops",
        created_at=T0 + timedelta(minutes=1),
    )
    add_log(app, org.id, source_id, object_name="ok@example.com")
    response = console.get(url(source_id, "/export.csv?result=failure"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:6] == ["Time (UTC)", "Operation", "Object type", "Object", "Object ID", "Result"]
    assert len(rows) == 3
    assert rows[1][0] == "2026-03-02 09:02:00"
    assert rows[1][3] == '\'=HYPERLINK("http://evil")'
    assert rows[1][8] == "'+1 bad value"
    assert rows[2][3] == "'@SUM(A1)" and rows[2][8] == "'-oops"
    assert "ok@example.com" not in response.get_data(as_text=True)


def test_the_page_links_the_export_with_the_current_filters(app, org, console, source_id):
    html = console.get(url(source_id, "?operation=delete&q=x")).get_data(as_text=True)
    assert f'href="{url(source_id, "/export.csv")}?operation=delete&amp;q=x"' in html


def test_object_names_and_errors_are_escaped_not_run(app, org, console, source_id):
    evil = "<script>alert('x')</script>"
    log_id = add_log(
        app,
        org.id,
        source_id,
        object_name=evil,
        result="failure",
        status_code=400,
        error_detail=f"bad {evil}",
        request_body={"userName": evil},
    )
    for html in (
        console.get(url(source_id)).get_data(as_text=True),
        console.get(url(source_id, f"/{log_id}"), htmx=True).get_data(as_text=True),
    ):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(" in html


def _admin_console(client: Any, app: Any, org: Any, permissions: set[str]) -> Console:
    make_admin(app, org, "helper@acme.test", permissions)
    c = Console(client)
    assert c.login("helper@acme.test", "another long password").status_code == 302
    return c


def test_an_admin_without_the_sync_permission_gets_403_seed_intro(app, org, client, source_id):
    log_id = add_log(app, org.id, source_id)
    c = _admin_console(client, app, org, {"admin_log", "directory"})
    for path in (url(source_id), url(source_id, f"/{log_id}"), url(source_id, "/export.csv")):
        assert c.get(path).status_code == 403
    # The navigation hides the area the admin may not open.
    assert "/settings/directory-sync/" not in c.get("/compliance/audit-log/admin").get_data(as_text=True)


def test_an_admin_with_the_sync_permission_reads_the_log_seed_intro(app, org, client, source_id):
    add_log(app, org.id, source_id)
    c = _admin_console(client, app, org, {"org_data_sync"})
    assert c.get(url(source_id)).status_code == 200
    assert c.get(url(source_id, "/export.csv")).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, app, org, source_id):
    response = client.get(url(source_id))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_organizations_source_and_entries_stay_hidden(app, org, console, source_id):
    other = make_org(app, "Globex", "owner@globex.test")
    other_source = add_source(app, other)
    other_log = add_log(app, other.id, other_source, object_name="secret@globex.test")
    add_log(app, org.id, source_id, object_name="mine@acme.test")
    assert console.get(url(other_source)).status_code == 404
    assert console.get(url(other_source, "/export.csv")).status_code == 404
    assert console.get(url(other_source, f"/{other_log}")).status_code == 404
    # An entry of another source is not reachable under this source's address either.
    assert console.get(url(source_id, f"/{other_log}")).status_code == 404
    html = console.get(url(source_id)).get_data(as_text=True)
    assert "secret@globex.test" not in html and "mine@acme.test" in html


def test_a_second_source_of_the_same_org_has_its_own_log(app, org, console, source_id):
    second = add_source(app, org, "okta")
    add_log(app, org.id, second, object_name="okta-user@acme.test")
    add_log(app, org.id, source_id, object_name="jc-user@acme.test")
    assert names_in(console.get(url(source_id)).get_data(as_text=True)) == ["jc-user@acme.test"]


def test_a_deleted_sources_log_is_gone_with_its_card(app, org, console, source_id):
    add_log(app, org.id, source_id)
    with app.app_context():
        db.session.execute(sa.update(SyncSource).where(SyncSource.id == source_id).values(deleted_at=utcnow()))
        db.session.commit()
    assert console.get(url(source_id)).status_code == 404


def test_the_log_has_no_write_routes(app, org, console, source_id):
    log_id = add_log(app, org.id, source_id)
    assert console.post(url(source_id, f"/{log_id}")).status_code == 405
    assert console.client.delete(url(source_id, f"/{log_id}")).status_code == 405
