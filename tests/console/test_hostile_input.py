"""Hostile input to the console and sign-in: each answers a page, a form message or an empty list, never a 500.

Issue 12, "No 500, ever" (console and sign-in) and "Operating under faults" (busy database: 503; the
error page after a failed statement). Every test runs on SQLite and PostgreSQL: PostgreSQL refuses a
NUL, a value past a column's length and an id past INTEGER, where SQLite stores or binds them.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import sqlite3
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from portal.core import fields as core_fields, member_list, members as core_members, provisioning
from portal.core.actors import Actor
from portal.extensions import db
from portal.infra import db_errors
from portal.models import Admin, Department, Field, Member, SyncSource, UserGroup
from portal.views import web
from tests.conftest import Console
from tests.directory_support import log_sync, make_source, make_source_with_token
from tests.servers import gunicorn

pytestmark = pytest.mark.both_databases

#: one past the largest id a row can have (PostgreSQL's INTEGER), and one past every 64-bit integer
PAST_INTEGER = 2**31
HUGE = "99999999999999999999"
LOCKED = OperationalError("UPDATE members ...", {}, sqlite3.OperationalError("database is locked"))


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="cell-primary">([^<]*)</span>', html)


def _hand_member(app: Any, org_id: int, user_name: str, name: str) -> int:
    with app.app_context():
        member = core_members.create_member(
            org_id, {"external_id": user_name, "email": user_name, "name": name}, Actor.cli()
        )
        db.session.commit()
        return member.id


def _count(app: Any, model: type) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _field_error(body: str, message: str) -> bool:
    """Whether the form shows ``message`` beside a field."""
    return re.search(r'class="field-error"[^>]*>(<svg.*?</svg>)?<span>' + re.escape(message), body, re.S) is not None


def _get(console: Console, url: str) -> Any:
    """GET ``url`` and read the whole body (a streamed export holds its request open until read)."""
    response = console.get(url)
    response.get_data()
    response.close()
    return response


# ---------------------------------------------------------------- sign-in


def test_login_next_with_a_line_break_is_ignored_by_get_and_post(app, client, org):
    signed_in = Console(client)
    signed_in.get("/login")  # the sign-in form's CSRF token
    response = signed_in.post("/login?next=%2F%0D%0Ax", {"email": org.email, "password": org.password})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Signed in, the GET redirects at once: the unsafe target is ignored there too.
    response = signed_in.get("/login?next=%2F%0D%0Ax")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # A backslash target ("/\host" is "//host" to a browser) is a foreign one, ignored the same way.
    assert signed_in.get("/login?next=/%5Cevil.test").headers["Location"] == "/"
    # A safe target still works.
    assert signed_in.get("/login?next=/organization/members").headers["Location"] == "/organization/members"


def test_sign_in_with_a_nul_in_the_email_gets_the_one_message(app, client, org):
    visitor = Console(client)
    response = visitor.login(org.email.replace("@", "\x00@"), org.password)
    assert response.status_code == 401
    assert "Incorrect email or password." in response.get_data(as_text=True)


# ---------------------------------------------------------------- searches


def test_a_search_for_the_last_character_before_the_surrogates_finds_its_member_and_group(app, org, console):
    # "\ud7ff" is U+D7FF, the last character before the surrogates: the prefix range's upper bound
    # (the next character) was the lone surrogate U+D800, which no driver can send.
    _hand_member(app, org.id, "hangul@acme.test", "\ud7ffHangul")
    assert console.post("/organization/groups/new", {"display_name": "\ud7ffTeam"}).status_code == 302
    members = _get(console, "/organization/members?q=%ED%9F%BF")
    assert members.status_code == 200
    assert "\ud7ffHangul" in _names(members.get_data(as_text=True))
    groups = _get(console, "/organization/groups?q=%ED%9F%BF")
    assert groups.status_code == 200
    assert "\ud7ffTeam" in _names(groups.get_data(as_text=True))


def test_a_search_with_a_nul_lists_nothing_on_every_list(app, org, console):
    _hand_member(app, org.id, "ada@acme.test", "Ada")
    assert console.post("/organization/groups/new", {"display_name": "Admins"}).status_code == 302
    source_id = make_source(app, org.id)
    with app.app_context():
        log_sync(db.session.get(SyncSource, source_id), "create", object_name="ada@acme.test")
        db.session.commit()
    for url in (
        "/organization/members?q=%00",
        "/organization/members?q=Ada%00",
        "/organization/groups?q=%00",
        f"/settings/directory-sync/{source_id}/sync-log?q=%00",
        "/compliance/audit-log/admin?q=%00",
    ):
        response = _get(console, url)
        assert response.status_code == 200, url
        assert _names(response.get_data(as_text=True)) == [], url
    exported = _get(console, f"/settings/directory-sync/{source_id}/sync-log/export.csv?q=%00")
    assert exported.status_code == 200 and "ada@acme.test" not in exported.get_data(as_text=True)


# ---------------------------------------------------------------- time ranges


def test_an_end_on_the_last_day_a_date_holds_covers_everything_on_both_logs_and_exports(app, org, console):
    source_id = make_source(app, org.id)
    with app.app_context():
        log_sync(db.session.get(SyncSource, source_id), "create", object_name="ada@acme.test", at=datetime(2026, 3, 2))
        db.session.commit()
    sync_log = f"/settings/directory-sync/{source_id}/sync-log"
    for url in (f"{sync_log}?end=9999-12-31", f"{sync_log}?start=2026-01-01&end=9999-12-31T23:59"):
        response = _get(console, url)
        assert response.status_code == 200, url
        assert _names(response.get_data(as_text=True)) == ["ada@acme.test"], url
    exported = _get(console, f"{sync_log}/export.csv?end=9999-12-31")
    assert exported.status_code == 200 and "ada@acme.test" in exported.get_data(as_text=True)
    assert _get(console, f"{sync_log}?start=9999-12-31").status_code == 200
    # The Admin log spans at most 180 days: the last ones a date holds, empty.
    for url in (
        "/compliance/audit-log/admin?start=9999-12-01&end=9999-12-31",
        "/compliance/audit-log/admin/export.csv?start=9999-12-01&end=9999-12-31",
    ):
        response = _get(console, url)
        assert response.status_code == 200, url
        assert "Create organization" not in _names(response.get_data(as_text=True))


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("huge", [HUGE, str(PAST_INTEGER), "9" * 5000])
def test_an_id_past_integer_in_a_url_is_the_404_page(app, org, console, huge):
    for url in (f"/organization/members/{huge}", f"/compliance/audit-log/admin/{huge}"):
        response = _get(console, url)
        assert response.status_code == 404, url
        assert "Page not found" in response.get_data(as_text=True)
    assert console.post(f"/organization/members/{huge}/suspend").status_code == 404


def test_every_int_route_answers_404_for_an_id_past_integer(app, org, console):
    rules = [r for r in app.url_map.iter_rules() if any(type(c) is web.IdConverter for c in r._converters.values())]
    assert len(rules) > 20
    for rule in rules:
        url = rule.build({arg: PAST_INTEGER for arg in rule.arguments}, append_unknown=False)[1]
        method = "GET" if "GET" in rule.methods else "POST"
        response = console.get(url) if method == "GET" else console.post(url)
        assert response.status_code == 404, (method, url)


def test_a_huge_department_source_or_page_filter_is_ignored(app, org, console):
    _hand_member(app, org.id, "ada@acme.test", "Ada")
    for query in (f"department={HUGE}", f"source={HUGE}", f"page={HUGE}", f"department={PAST_INTEGER}", "page=²"):
        response = _get(console, f"/organization/members?{query}")
        assert response.status_code == 200, query
        assert _names(response.get_data(as_text=True)) == ["Ada"], query
    source_id = make_source(app, org.id)
    assert _get(console, f"/settings/directory-sync/{source_id}/sync-log?page={HUGE}").status_code == 200
    assert _get(console, f"/compliance/audit-log/admin?page={HUGE}").status_code == 200


def test_a_huge_notified_admin_id_in_the_wizard_is_refused_on_save(app, org, console):
    source_id = make_source(app, org.id)
    url = f"/settings/directory-sync/{source_id}/setup"
    step3 = {"step": 3, "nav": "next", "name": "JumpCloud", "deletion_rule": "suspend", "match_attribute": "email"}
    assert console.post(url, {**step3, "notified_admin_id": [str(org.admin_id), HUGE]}).status_code == 303
    response = console.post(url, {"step": 4, "nav": "save"})
    assert response.status_code == 422
    assert "Choose administrators of this organization" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SyncSource, source_id).notified_admin_ids == []


def test_a_huge_department_or_a_workforce_type_that_is_no_id_in_the_member_form_is_refused(app, org, console):
    values = {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test", "department_id": HUGE}
    response = console.post("/organization/members/new", values, htmx=True)
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Choose departments of this organization")
    for workforce_type in (":", HUGE, "²"):
        values = {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test"}
        response = console.post("/organization/members/new", {**values, "employee_type_id": workforce_type}, htmx=True)
        assert response.status_code == 422, workforce_type
        assert _field_error(response.get_data(as_text=True), "Choose a workforce type of this organization")
    assert _count(app, Member) == 0


# ---------------------------------------------------------------- text fields: one message on both databases


TOO_LONG = [
    # (url, form, field message, model whose rows must not change)
    (
        "/organization/members/new",
        {"name": "N" * 256, "external_id": "ada@acme.test", "email": "ada@acme.test"},
        "Name must be at most 255 characters",
        Member,
    ),
    (
        "/organization/members/new",
        {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test", "job_title": "J" * 201},
        "Job title must be at most 200 characters",
        Member,
    ),
    (
        "/organization/members/new",
        {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test", "mobile": "1" * 65},
        "Mobile must be at most 64 characters",
        Member,
    ),
    # "ß" compares as "ss": 200 of them fit the name, not its compared form (also 255 long)
    (
        "/organization/members/new",
        {"name": "ß" * 200, "external_id": "ada@acme.test", "email": "ada@acme.test"},
        "Name must be at most 255 characters",
        Member,
    ),
    (
        "/organization/groups/new",
        {"display_name": "G" * 256},
        "User group name must be at most 255 characters",
        UserGroup,
    ),
    (
        "/organization/members/departments/new",
        {"name": "D" * 201},
        "Department name must be at most 200 characters",
        None,
    ),
    (
        "/organization/fields/new",
        {"name": "F" * 201, "field_type": "text"},
        "Field name must be at most 200 characters",
        Field,
    ),
]

NOT_ALLOWED = [
    (
        "/organization/members/new",
        {"name": "Ada\x00", "external_id": "ada@acme.test", "email": "ada@acme.test"},
        "Name",
        Member,
    ),
    (
        "/organization/members/new",
        {"name": "Ada", "external_id": "ada\x00@acme.test", "email": "ada@acme.test"},
        "ExternalID",
        Member,
    ),
    (
        "/organization/members/new",
        {"name": "Ada", "external_id": "a@acme.test", "email": "a@acme.test", "job_title": "A\x00"},
        "Job title",
        Member,
    ),
    ("/organization/groups/new", {"display_name": "Admins\x00"}, "User group name", UserGroup),
    ("/organization/groups/new", {"display_name": "Admins", "description": "one\x00two"}, "Description", UserGroup),
    ("/organization/members/departments/new", {"name": "Sales\x00"}, "Department name", None),
    ("/organization/fields/new", {"name": "Shirt\x00", "field_type": "text"}, "Field name", Field),
    ("/organization/fields/new", {"name": "Shirt", "field_type": "option", "options": "S\nM\x00"}, "An option", Field),
]


@pytest.mark.parametrize(("url", "form", "message", "model"), TOO_LONG, ids=[m for _u, _f, m, _m in TOO_LONG])
def test_a_value_past_its_column_gets_the_same_form_message_on_both_databases(
    app, org, console, url, form, message, model
):
    before = _count(app, model or Department)
    response = console.post(url, form, htmx=True)
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), message), response.get_data(as_text=True)
    assert _count(app, model or Department) == before


@pytest.mark.parametrize(
    ("url", "form", "label", "model"), NOT_ALLOWED, ids=[f"{u}-{lb}" for u, _f, lb, _m in NOT_ALLOWED]
)
def test_a_nul_gets_the_same_form_message_on_both_databases(app, org, console, url, form, label, model):
    before = _count(app, model or Department)
    response = console.post(url, form, htmx=True)
    assert response.status_code == 422
    message = f"{label} contains a character that is not allowed"
    assert _field_error(response.get_data(as_text=True), message), response.get_data(as_text=True)
    assert _count(app, model or Department) == before


def test_a_group_description_keeps_its_line_breaks(app, org, console):
    assert (
        console.post("/organization/groups/new", {"display_name": "Ops", "description": "one\r\ntwo"}).status_code
        == 302
    )
    with app.app_context():
        assert db.session.scalar(sa.select(UserGroup.description)) == "one\r\ntwo"


def test_edits_get_the_same_messages(app, org, console):
    member_id = _hand_member(app, org.id, "ada@acme.test", "Ada")
    response = console.post(
        f"/organization/members/{member_id}/edit",
        {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test", "last_name": "L" * 256},
        htmx=True,
    )
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Last name must be at most 255 characters")
    assert console.post("/organization/groups/new", {"display_name": "Ops"}).status_code == 302
    with app.app_context():
        group_id = db.session.scalar(sa.select(UserGroup.id))
        dept_id = db.session.scalar(sa.select(Department.id).where(Department.parent_id.is_(None)))
    response = console.post(
        f"/organization/groups/{group_id}/edit", {"display_name": "Ops", "description": "\x00"}, htmx=True
    )
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Description contains a character that is not allowed")
    response = console.post(f"/organization/groups/{group_id}/members", {"member": "ada\x00@acme.test"}, htmx=True)
    assert response.status_code == 422
    assert "No member has this email or user ID" in response.get_data(as_text=True)
    assert (
        console.post("/organization/members/departments/new", {"name": "Sales", "parent_id": dept_id}).status_code
        == 302
    )
    with app.app_context():
        sales = db.session.scalar(sa.select(Department.id).where(Department.name == "Sales"))
    response = console.post(f"/organization/members/departments/{sales}/edit", {"name": "S\x00"}, htmx=True)
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Department name contains a character that is not allowed")
    with app.app_context():
        assert db.session.get(UserGroup, group_id).description is None
        assert db.session.get(Department, sales).name == "Sales"


def test_custom_field_values_with_a_nul_or_not_a_finite_number_are_refused(app, org, console):
    with app.app_context():
        shirt = core_fields.create_field(org.id, "Shirt", "text", Actor.cli())
        badge = core_fields.create_field(org.id, "Badge", "number", Actor.cli())
        keys = shirt.key, badge.key
        db.session.commit()
    member_id = _hand_member(app, org.id, "ada@acme.test", "Ada")
    url = f"/organization/members/{member_id}/edit"
    member = {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test"}
    response = console.post(url, {**member, f"custom.{keys[0]}": "M\x00"}, htmx=True)
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Shirt contains a character that is not allowed")
    for number in ("inf", "nan", "1e999"):
        response = console.post(url, {**member, f"custom.{keys[1]}": number}, htmx=True)
        assert response.status_code == 422, number
        assert _field_error(response.get_data(as_text=True), "Badge must be a number"), number
    assert console.post(url, {**member, "custom.\x00": "x"}, htmx=True).status_code == 422
    with app.app_context():
        assert db.session.get(Member, member_id).custom_fields in ({}, None)


def test_the_wizard_refuses_a_long_source_name_and_a_rule_value_with_a_nul(app, org, console):
    source_id = make_source(app, org.id)
    url = f"/settings/directory-sync/{source_id}/setup"
    response = console.post(url, {"step": 3, "nav": "next", "name": "S" * 201, "deletion_rule": "suspend"})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Sync source name must be at most 200 characters")
    with app.app_context():
        wt = db.session.scalar(sa.text("SELECT id FROM workforce_types ORDER BY id LIMIT 1"))
    response = console.post(url, {"step": 2, "nav": "next", "rule_value": ["Reg\x00"], "rule_type": [str(wt)]})
    assert response.status_code == 422
    assert "The employee type value contains a character that is not allowed" in response.get_data(as_text=True)
    # Saved through the domain too, whatever the wizard's state holds.
    from portal.core import sync_sources
    from portal.core.errors import Invalid

    with app.app_context(), pytest.raises(Invalid, match="Sync source name must be at most 200 characters"):
        sync_sources.configure_source(org.id, source_id, Actor.cli(), name="S" * 201)


def test_an_administrators_long_name_is_refused_with_a_message(app, org, console):
    response = console.post(
        "/settings/administrators/new",
        {"name": "N" * 201, "email": "sam@acme.test", "permissions": ["org_data_sync"], "delivery": "password"},
        htmx=True,
    )
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "Name must be at most 200 characters")
    with app.app_context():
        assert db.session.scalar(sa.select(Admin.id).where(Admin.email == "sam@acme.test")) is None


def test_an_organizations_long_name_is_refused_by_the_cli(app, runner):
    result = runner.invoke(
        args=[
            "org",
            "create",
            "O" * 201,
            "--admin-email",
            "a@acme.test",
            "--admin-password",
            "correct horse battery staple",
        ]
    )
    assert result.exit_code == 1
    assert "The organization's name must be at most 200 characters" in result.output


# ---------------------------------------------------------------- the error page after a failed statement


@pytest.fixture
def unpropagated(app: Any) -> Any:
    """The app answering an unexpected error with its 500 page, as in production (tests otherwise re-raise)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def _failed_flush(*_args: Any, **_kwargs: Any) -> Any:
    # A row the database refuses (NOT NULL): the session refuses every query until it is rolled back,
    # and on PostgreSQL the whole transaction is aborted.
    db.session.add(Department(org_id=None, name=None))
    db.session.flush()
    raise AssertionError("unreachable")


def test_a_failed_statement_gets_the_consoles_own_500_page_with_its_headers(unpropagated, org, console, monkeypatch):
    monkeypatch.setattr(member_list, "list_members", _failed_flush)
    response = console.get("/organization/members")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "app-brand" in body and org.name in body  # the full page: the session answered again
    assert response.headers["Content-Security-Policy"] == web.CSP
    assert response.headers["X-Frame-Options"] == "DENY"


def test_when_even_the_rollback_fails_the_error_page_is_still_the_consoles(unpropagated, org, console, monkeypatch):
    monkeypatch.setattr(member_list, "list_members", _failed_flush)

    def rollback_fails() -> None:
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.session, "rollback", rollback_fails)
    response = console.get("/organization/members")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == web.CSP


def test_when_the_error_page_fails_a_bare_one_with_the_headers_answers(unpropagated, org, console, monkeypatch):
    monkeypatch.setattr(member_list, "list_members", _failed_flush)

    def page_fails(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("the database is gone"))

    monkeypatch.setattr(web, "render", page_fails)
    response = console.get("/organization/members")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body and "app-brand" not in body
    assert response.headers["Content-Security-Policy"] == web.CSP


# ---------------------------------------------------------------- a busy database: 503 with Retry-After


def _locked(*_args: Any, **_kwargs: Any) -> Any:
    raise LOCKED


def test_a_locked_database_is_the_consoles_503_page_with_retry_after(app, org, console, monkeypatch):
    monkeypatch.setattr(member_list, "list_members", _locked)
    response = console.get("/organization/members")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(db_errors.RETRY_AFTER_SECONDS)
    assert response.headers["Content-Security-Policy"] == web.CSP
    assert "The database is busy" in response.get_data(as_text=True)


def test_a_locked_database_on_a_write_is_503_and_keeps_nothing(app, org, console, monkeypatch):
    monkeypatch.setattr(core_members, "create_member", _locked)
    values = {"name": "Ada", "external_id": "ada@acme.test", "email": "ada@acme.test"}
    response = console.post("/organization/members/new", values)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(db_errors.RETRY_AFTER_SECONDS)
    assert _count(app, Member) == 0


def test_a_locked_database_is_a_scim_503_error_with_retry_after_rfc7644_3_12(app, org, monkeypatch):
    _source_id, public_id, token = make_source_with_token(app, org.id)
    monkeypatch.setattr(provisioning, "provision_member", _locked)
    response = app.test_client().post(
        f"/scim/v2/{public_id}/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.test"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(db_errors.RETRY_AFTER_SECONDS)
    assert response.mimetype == "application/scim+json"
    body = response.get_json(force=True)
    # RFC 7644 §3.12: the error schema, the status as a string, a detail
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "503" and "busy" in body["detail"]
    assert _count(app, Member) == 0


def test_a_commit_that_finds_the_database_locked_is_503_too(unpropagated, org, console, monkeypatch):
    real_commit = db.session.commit

    def commit_locked() -> None:
        raise LOCKED

    monkeypatch.setattr(db.session, "commit", commit_locked)
    response = console.post("/organization/groups/new", {"display_name": "Ops"})
    monkeypatch.setattr(db.session, "commit", real_commit)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(db_errors.RETRY_AFTER_SECONDS)
    assert _count(unpropagated, UserGroup) == 0


def test_busy_means_a_lock_or_a_serialization_conflict_not_any_database_error():
    import psycopg.errors

    assert db_errors.is_busy(LOCKED)
    for busy in (psycopg.errors.LockNotAvailable, psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
        assert db_errors.is_busy(OperationalError("UPDATE", {}, busy("busy")))
    assert not db_errors.is_busy(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x")))
    assert not db_errors.is_busy(IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL")))
    assert not db_errors.is_busy(None)


# ---------------------------------------------------------------- a chunked body over the size limit: 413

TWO_MIB = 2 * 1024 * 1024


def _chunked(client: Any, url: str, body: bytes, headers: dict[str, str]) -> Any:
    """POST ``body`` without a length, as a server hands a ``Transfer-Encoding: chunked`` one to the app."""
    return client.post(
        url,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", **headers},
        # The test client would send the length of a stream it can measure: here there is none.
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )


def test_a_chunked_scim_body_over_the_limit_is_413_not_cut_short_rfc7644_3_12(app, org):
    _source_id, public_id, token = make_source_with_token(app, org.id)
    body = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "' + b"a" * TWO_MIB + b'"}'
    response = _chunked(
        app.test_client(),
        f"/scim/v2/{public_id}/Users",
        body,
        {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    assert response.status_code == 413
    document = response.get_json(force=True)
    assert document["status"] == "413" and document["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert _count(app, Member) == 0


def test_a_chunked_scim_body_under_the_limit_is_read_whole(app, org):
    _source_id, public_id, token = make_source_with_token(app, org.id)
    body = json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@acme.test",
            "displayName": "Ada",
            "emails": [{"value": "ada@acme.test", "type": "work", "primary": True}],
        }
    )
    response = _chunked(
        app.test_client(),
        f"/scim/v2/{public_id}/Users",
        body.encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    assert response.status_code == 201
    assert _count(app, Member) == 1


def test_a_chunked_console_form_over_the_limit_is_the_413_page(app, org, console):
    body = urlencode({"csrf_token": console.token, "display_name": "x" * TWO_MIB}).encode()
    response = _chunked(
        console.client, "/organization/groups/new", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == web.CSP
    assert _count(app, UserGroup) == 0


def _send_chunked(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Send ``body`` chunked over a real connection; the server may answer (and close) before it is all sent."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in {"Transfer-Encoding": "chunked", **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered 413 and closed without reading the rest: its answer is waiting
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_413_through_gunicorn_for_both_doors(app, org, database_url, tmp_path):
    _source_id, public_id, token = make_source_with_token(app, org.id)
    big_json = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "' + b"a" * TWO_MIB + b'"}'
    with gunicorn(database_url, tmp_path, workers=1) as server:
        status, _headers, body = _send_chunked(
            server.url,
            f"/scim/v2/{public_id}/Users",
            big_json,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        )
        assert status == 413
        assert json.loads(body)["status"] == "413"  # RFC 7644 §3.12
        status, headers, body = _send_chunked(
            server.url,
            "/login",
            urlencode({"email": "x" * TWO_MIB, "password": "p"}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 413
        assert b"Request too large" in body and headers["Content-Security-Policy"] == web.CSP
    assert _count(app, Member) == 0
