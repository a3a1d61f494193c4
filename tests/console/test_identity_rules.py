"""Identity rules per source in the console (issue 18): "userName must equal the work email".

The seed's note holds for JumpCloud ("userName and Emails(type=work).Value should use the
same value, otherwise the synchronization will fail"); Okta, Entra ID and generic SCIM
clients send a login, a UPN or a username (RFC 7643 requires only userName). The rule is a
setting of each source: the wizard's General settings, Preview, Edit, the details page,
Field Management, the setup guides, and every member page when a member has no email.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AdminLog, Field, Member, SyncSource, UserGroup
from tests.conftest import Console
from tests.directory_support import make_source, make_source_with_token

pytestmark = pytest.mark.both_databases

BASE = "/settings/directory-sync"
LABEL = "userName must equal the work email"
CHECKBOX_RE = re.compile(r'<input type="checkbox" name="username_is_email" value="on"( checked)?>')


# ---------------------------------------------------------------- helpers


def _add_source(console: Console, provider: str) -> int:
    """Add sync source > provider; the draft's id."""
    response = console.post(f"{BASE}/new", {"provider": provider})
    assert response.status_code == 200
    return int(re.search(r"/(\d+)/setup\?step=1$", response.headers["HX-Push-Url"]).group(1))


def _checked(page: str) -> bool:
    """Whether step 3 shows the rule's checkbox checked (the box must be there)."""
    match = CHECKBOX_RE.search(page)
    assert match, "no checkbox for the rule"
    return bool(match.group(1))


def _general_settings(console: Console, source_id: int, *, rule: bool, nav: str = "next", **extra: Any) -> Any:
    """Post step 3 as the browser does: the hidden "off", then "on" when the box is checked."""
    return console.post(
        f"{BASE}/{source_id}/setup",
        {
            "step": 3,
            "nav": nav,
            "name": "Directory",
            "deletion_rule": "suspend",
            "match_attribute": ["email"],
            "username_is_email": ["off", "on"] if rule else ["off"],
            **extra,
        },
    )


def _source(app: Any, source_id: int) -> SyncSource:
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        db.session.expunge(source)
        return source


def _rule_changes(app: Any) -> list[Any]:
    """The rule's before/after in each "Edit sync configurations" entry that changed it."""
    with app.app_context():
        entries = db.session.scalars(
            select(AdminLog).where(AdminLog.event_type == "Edit sync configurations").order_by(AdminLog.id)
        )
        return [e.changes[LABEL] for e in entries if LABEL in e.changes]


def _text(page: str) -> str:
    """The page's visible text: each tag a space, entities decoded, runs of white space one space."""
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S))
    return re.sub(r"\s+", " ", html.unescape(text))


def _field_id(app: Any, org_id: int, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Field.id).where(Field.org_id == org_id, Field.key == key))


def _scim_create(app: Any, public_id: str, token: str, body: dict[str, Any]) -> Any:
    return app.test_client().post(
        f"/scim/v2/{public_id}/Users",
        headers={"Authorization": f"Bearer {token}"},
        data=json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **body}),
        content_type="application/scim+json",
    )


def _okta_member_without_email(app: Any, org_id: int, *, unlink: bool = False) -> int:
    """A member Okta created with the userName "jdoe" and a name only (the rule is off for Okta).

    ``unlink``: then Okta deletes it, and the deletion rule Suspend member leaves it with no source.
    """
    source_id, public_id, token = make_source_with_token(app, org_id, name="Okta", provider="okta")
    body = {"userName": "jdoe", "name": {"givenName": "Jane", "familyName": "Doe"}}
    response = _scim_create(app, public_id, token, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    if unlink:
        deleted = app.test_client().delete(
            f"/scim/v2/{public_id}/Users/{response.get_json()['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert deleted.status_code == 204
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.external_id == "jdoe"))
        assert member.email is None and member.source_id == (None if unlink else source_id)
        return member.id


# ---------------------------------------------------------------- wizard: General settings


@pytest.mark.parametrize(
    ("provider", "on"), [("jumpcloud", True), ("okta", False), ("entra", False), ("generic", False)]
)
def test_general_settings_preset_the_rule_by_provider(console: Console, provider: str, on: bool) -> None:
    source_id = _add_source(console, provider)
    page = console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)
    assert _checked(page) is on
    text = _text(page)
    assert LABEL in text
    assert "When on, each user needs a work email equal to its userName , or the sync of that user fails" in text
    assert "JumpCloud needs it on" in text


def test_turning_the_rule_on_for_okta_is_saved_and_logged(app: Any, console: Console) -> None:
    source_id = _add_source(console, "okta")
    assert _general_settings(console, source_id, rule=True).status_code == 303
    preview = _text(console.get(f"{BASE}/{source_id}/setup?step=4").get_data(as_text=True))
    assert re.search(rf"{LABEL}\s+On", preview)
    assert console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "save"}).status_code == 303
    assert _source(app, source_id).username_is_email is True
    assert _rule_changes(app) == [["Off", "On"]]


def test_turning_the_rule_off_for_jumpcloud_is_saved_and_logged(app: Any, console: Console) -> None:
    source_id = _add_source(console, "jumpcloud")
    assert _general_settings(console, source_id, rule=False).status_code == 303
    preview = _text(console.get(f"{BASE}/{source_id}/setup?step=4").get_data(as_text=True))
    assert re.search(rf"{LABEL}\s+Off", preview)
    assert console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "activate"}).status_code == 303
    assert _source(app, source_id).username_is_email is False
    assert _rule_changes(app) == [["On", "Off"]]


def test_the_rule_is_kept_across_back_and_next_and_reaches_the_source_only_on_save(app: Any, console: Console) -> None:
    source_id = _add_source(console, "entra")
    response = _general_settings(console, source_id, rule=True, nav="back")
    assert response.headers["Location"].endswith("step=2")
    assert _checked(console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)) is True
    console.post(f"{BASE}/{source_id}/setup", {"step": 2, "nav": "next"})
    assert _checked(console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)) is True
    assert _source(app, source_id).username_is_email is False
    assert _rule_changes(app) == []


def test_a_post_without_the_setting_leaves_it_as_it_was(app: Any, console: Console) -> None:
    source_id = _add_source(console, "jumpcloud")
    console.post(f"{BASE}/{source_id}/setup", {"step": 3, "nav": "next", "name": "JC", "deletion_rule": "suspend"})
    console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "save"})
    assert _source(app, source_id).username_is_email is True


def test_edit_shows_the_saved_rule_changes_it_logs_it_and_the_next_scim_request_follows_it(
    app: Any, console: Console, org: Any
) -> None:
    source_id, public_id, token = make_source_with_token(app, org.id, name="JumpCloud")
    jdoe = {"userName": "jdoe", "displayName": "Jane Doe", "emails": [{"type": "work", "value": "jane@acme.test"}]}
    assert _scim_create(app, public_id, token, jdoe).status_code == 400

    assert console.get(f"{BASE}/{source_id}/edit").status_code == 302
    assert _checked(console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)) is True
    _general_settings(console, source_id, rule=False)
    assert console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "save"}).status_code == 303

    assert _source(app, source_id).username_is_email is False
    assert _rule_changes(app) == [["On", "Off"]]
    assert _scim_create(app, public_id, token, jdoe).status_code == 201
    details = _text(console.get(f"{BASE}/{source_id}").get_data(as_text=True))
    assert re.search(rf"{LABEL}\s+Off", details)
    log = _text(console.get("/compliance/audit-log/admin").get_data(as_text=True))
    assert "Edit sync configurations" in log


def test_details_page_shows_the_rule(console: Console, app: Any, org: Any) -> None:
    jumpcloud, okta = make_source(app, org.id, name="JumpCloud"), make_source(app, org.id, name="Okta", provider="okta")
    assert re.search(rf"{LABEL}\s+On", _text(console.get(f"{BASE}/{jumpcloud}").get_data(as_text=True)))
    assert re.search(rf"{LABEL}\s+Off", _text(console.get(f"{BASE}/{okta}").get_data(as_text=True)))


# ---------------------------------------------------------------- externalId as a match attribute


def test_externalid_is_an_attribute_for_identifying_existing_users(app: Any, console: Console) -> None:
    source_id = _add_source(console, "okta")
    page = console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)
    assert re.search(r'value="scim_external_id">\s*<span class="checkbox-text">externalId</span>', page)
    _general_settings(console, source_id, rule=False, match_attribute=["email", "scim_external_id"])
    preview = _text(console.get(f"{BASE}/{source_id}/setup?step=4").get_data(as_text=True))
    assert "Username, Email, externalId" in preview
    console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "save"})
    assert _source(app, source_id).match_attributes == ["email", "scim_external_id"]
    assert "Username, Email, externalId" in _text(console.get(f"{BASE}/{source_id}").get_data(as_text=True))
    console.get(f"{BASE}/{source_id}/edit")
    assert 'value="scim_external_id" checked' in console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)


# ---------------------------------------------------------------- setup guides


def _guide(console: Console, provider: str) -> str:
    source_id = _add_source(console, provider)
    page = console.get(f"{BASE}/{source_id}/setup?step=1").get_data(as_text=True)
    return _text(re.search(r'<aside class="card guide".*?</aside>', page, re.S).group(0))


def test_jumpcloud_guide_says_username_and_work_email_must_be_the_same_seed_faq(console: Console) -> None:
    guide = _guide(console, "jumpcloud")
    assert "userName and the work email" in guide and "must use the same value, otherwise the sync fails" in guide
    assert f"Keep {LABEL} on" in guide


@pytest.mark.parametrize(
    ("provider", "username_is"),
    [
        ("okta", "Okta sends the Okta username (the user's login) as userName"),
        ("entra", "Entra ID sends the user principal name (UPN) as userName"),
        ("generic", "Send userName , your client's username for the user: RFC 7643 requires only it"),
    ],
)
def test_other_guides_say_what_username_is_and_never_ask_for_the_same_value(
    console: Console, provider: str, username_is: str
) -> None:
    guide = _guide(console, provider)
    assert username_is in guide
    assert LABEL in guide and "is off for" in guide
    assert "same value" not in guide and "must use" not in guide


# ---------------------------------------------------------------- Field Management


def test_field_management_says_email_is_required_where_a_sources_rule_says_so(
    app: Any, console: Console, org: Any
) -> None:
    make_source(app, org.id, name="JumpCloud")
    make_source(app, org.id, name="Okta", provider="okta")
    table = _text(console.get("/organization/fields").get_data(as_text=True))
    assert "Email Standard field Text Required where a source's rule says so" in table
    assert "ExternalID Standard field Text Required Unique" in table
    assert f"JumpCloud (SCIM) {LABEL}: On Okta (SCIM) {LABEL}: Off" in table

    url = f"/organization/fields/{_field_id(app, org.id, 'email')}"
    email = _text(console.get(url, htmx=True).get_data(as_text=True))
    assert "Required Required where a source's rule says so, and for members added in the Admin Console" in email
    assert f'JumpCloud (SCIM): emails[type eq "work"].value {LABEL}: On (the work email is required' in email
    assert f'Okta (SCIM): emails[type eq "work"].value {LABEL}: Off (the work email is optional' in email


def test_externalid_field_shows_each_sources_rule(app: Any, console: Console, org: Any) -> None:
    make_source(app, org.id, name="JumpCloud")
    make_source(app, org.id, name="Entra", provider="entra")
    url = f"/organization/fields/{_field_id(app, org.id, 'external_id')}"
    details = _text(console.get(url, htmx=True).get_data(as_text=True))
    assert f"JumpCloud (SCIM): userName {LABEL}: On" in details
    assert f"Entra (SCIM): userName {LABEL}: Off" in details
    assert "Required Yes" in details


def test_fields_the_rule_does_not_bind_show_no_rule(app: Any, console: Console, org: Any) -> None:
    make_source(app, org.id, name="JumpCloud")
    url = f"/organization/fields/{_field_id(app, org.id, 'first_name')}"
    assert LABEL not in console.get(url, htmx=True).get_data(as_text=True)


# ---------------------------------------------------------------- members without an email


def test_a_member_without_email_shows_its_username_and_never_none(app: Any, console: Console, org: Any) -> None:
    member_id = _okta_member_without_email(app, org.id)
    listing = _text(console.get("/organization/members").get_data(as_text=True))
    assert re.search(r"Jane Doe\s+jdoe", listing)
    details = _text(console.get(f"/organization/members/{member_id}", htmx=True).get_data(as_text=True))
    assert re.search(r"ExternalID \(userName\)\s+jdoe", details) and re.search(r"Email\s+—", details)
    for page in (listing, details):
        assert not re.search(r"\bNone\b", page)


def test_a_member_without_email_joins_a_group_by_username_and_is_named_by_it(
    app: Any, console: Console, org: Any
) -> None:
    member_id = _okta_member_without_email(app, org.id)
    console.post("/organization/groups/new", {"display_name": "Book club"})
    with app.app_context():
        group_id = db.session.scalar(select(UserGroup.id))
    added = console.post(f"/organization/groups/{group_id}/members", {"member": "JDOE"}, htmx=True)
    assert added.status_code == 200
    members_table = _text(
        re.search(r'<table class="table table-compact">.*?</table>', added.get_data(as_text=True), re.S).group(0)
    )
    assert re.search(r"Email or userName.*Jane Doe\s+jdoe", members_table, re.S)
    assert not re.search(r"\bNone\b", members_table)
    console.post(f"/organization/groups/{group_id}/members/{member_id}/remove", htmx=True)
    with app.app_context():
        changes = [
            e.changes["members"]
            for e in db.session.scalars(
                select(AdminLog).where(AdminLog.event_type == "Edit user group").order_by(AdminLog.id)
            )
        ]
    assert changes == [[None, "+ jdoe"], ["- jdoe", None]]


def test_add_member_in_the_console_still_needs_an_email(app: Any, console: Console) -> None:
    response = console.post(
        "/organization/members/new", {"name": "Hand Made", "external_id": "hand", "email": ""}, htmx=True
    )
    assert response.status_code == 422 and "Enter a valid email address" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.external_id == "hand")) is None


def test_a_member_a_source_unlinked_without_email_can_be_edited_without_one(
    app: Any, console: Console, org: Any
) -> None:
    member_id = _okta_member_without_email(app, org.id, unlink=True)
    form = console.get(f"/organization/members/{member_id}/edit", htmx=True).get_data(as_text=True)
    assert 'name="email"' in form and not re.search(r'name="email"[^>]*\brequired\b', form)
    response = console.post(
        f"/organization/members/{member_id}/edit",
        {"name": "Jane Q. Doe", "external_id": "jdoe", "email": ""},
        htmx=True,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.name == "Jane Q. Doe" and member.email is None
