"""Settings > Directory Sync in the console: the wizard, the Sync App card, the token lifecycle (seed 1.1, 2)."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from portal.core import sync_sources
from portal.extensions import db
from portal.models import AdminLog, Member, SyncSource, WorkforceType, utcnow
from tests.conftest import Console
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

BASE = "/settings/directory-sync"
TOKEN_RE = re.compile(r'id="scim-token" value="([^"]+)"')
URL_RE = re.compile(r'id="scim-url" value="([^"]+)"')


# ---------------------------------------------------------------- helpers


def _type_id(app: Any, org_id: int, name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(WorkforceType.id).where(WorkforceType.org_id == org_id, WorkforceType.name == name)
        )


def _source(app: Any, source_id: int) -> SyncSource:
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        db.session.expunge(source)
        return source


def _log(app: Any, event_type: str) -> list[AdminLog]:
    with app.app_context():
        rows = list(db.session.scalars(select(AdminLog).where(AdminLog.event_type == event_type).order_by(AdminLog.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _add_source(console: Console, provider: str = "jumpcloud") -> tuple[int, str]:
    """Add sync source > provider: returns the draft's id and the token shown on step 1."""
    response = console.post(f"{BASE}/new", {"provider": provider})
    assert response.status_code == 200
    source_id = int(re.search(r"/(\d+)/setup\?step=1$", response.headers["HX-Push-Url"]).group(1))
    return source_id, TOKEN_RE.search(response.get_data(as_text=True)).group(1)


def _walk(
    console: Console,
    source_id: int,
    *,
    rules: list[tuple[str, int]],
    admins: list[int],
    deletion_rule: str = "suspend",
    match: tuple[str, ...] = ("email",),
    finish: str = "save",
) -> Any:
    """Steps 1 to 4 with Next, then Save or Save and Activate."""
    url = f"{BASE}/{source_id}/setup"
    assert console.post(url, {"step": 1, "nav": "next"}).status_code == 303
    response = console.post(
        url, {"step": 2, "nav": "next", "rule_value": [v for v, _ in rules], "rule_type": [str(t) for _, t in rules]}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    response = console.post(
        url,
        {
            "step": 3,
            "nav": "next",
            "name": "JumpCloud production",
            "deletion_rule": deletion_rule,
            "notified_admin_id": [str(a) for a in admins],
            "match_attribute": list(match),
        },
    )
    assert response.status_code == 303
    return console.post(url, {"step": 4, "nav": finish})


def _scim(app: Any, source_id: int, token: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    """One request to the source's SCIM ``/Users`` with this bearer token, as an identity provider sends it."""
    public_id = _source(app, source_id).public_id
    return app.test_client().open(
        f"/scim/v2/{public_id}/Users",
        method=method,
        headers={"Authorization": f"Bearer {token}"},
        data=json.dumps(body) if body is not None else None,
        content_type="application/scim+json",
    )


def _user(user_name: str, user_type: str | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": user_name.split("@")[0].title(),
        "emails": [{"type": "work", "value": user_name, "primary": True}],
    }
    if user_type:
        user["userType"] = user_type
    return user


# ---------------------------------------------------------------- empty state, provider panel


def test_empty_state_explains_sync_sources_and_offers_add_sync_source_seed_1_1_step_1(console: Console) -> None:
    page = console.get(f"{BASE}/").get_data(as_text=True)
    assert "No sync source yet" in page
    assert "A sync source connects an identity provider" in page
    assert f'href="{BASE}/new"' in page and "Add sync source" in page


def test_sync_source_panel_offers_the_four_providers_seed_1_1_step_2(console: Console) -> None:
    page = console.get(f"{BASE}/new").get_data(as_text=True)
    for value, label in (
        ("jumpcloud", "JumpCloud"),
        ("okta", "Okta"),
        ("entra", "Microsoft Entra ID"),
        ("generic", "Generic SCIM 2.0"),
    ):
        assert f'name="provider" value="{value}"' in page and label in page


def test_unknown_provider_is_refused_and_nothing_is_created(app: Any, console: Console) -> None:
    response = console.post(f"{BASE}/new", {"provider": "onelogin"})
    assert response.status_code == 422
    assert "Choose one of" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(SyncSource.id)) is None


# ---------------------------------------------------------------- step 1: access security


def test_configure_access_security_shows_url_and_token_once_seed_1_1_step_3(app: Any, console: Console) -> None:
    source_id, token = _add_source(console)
    source = _source(app, source_id)
    assert source.status == "draft" and source.token_hash == sync_sources.hash_token(token)
    page = console.get(f"{BASE}/{source_id}/setup?step=1").get_data(as_text=True)
    assert URL_RE.search(page).group(1) == f"http://localhost/scim/v2/{source.public_id}"
    assert "Copy URL" in page and 'data-copy-target="#scim-url"' in page
    # Reloaded, the token is gone: only its prefix and expiry remain.
    assert token not in page and TOKEN_RE.search(page) is None
    assert f"{source.token_prefix}…" in page and "Refresh token" in page
    assert [e.target_name for e in _log(app, "Add sync source")] == ["JumpCloud"]


def test_first_display_of_the_token_has_copy_token(console: Console) -> None:
    page = console.post(f"{BASE}/new", {"provider": "okta"}).get_data(as_text=True)
    assert 'data-copy-target="#scim-token"' in page and "Copy Token" in page
    assert "Set up Okta" in page


def test_scim_url_uses_public_base_url_when_set(app: Any, console: Console) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://portal.example.com"
    source_id, _ = _add_source(console)
    page = console.get(f"{BASE}/{source_id}/setup?step=1").get_data(as_text=True)
    assert URL_RE.search(page).group(1) == f"https://portal.example.com/scim/v2/{_source(app, source_id).public_id}"


def test_draft_source_is_denied_by_scim_seed_1_1_step_6(app: Any, console: Console) -> None:
    source_id, token = _add_source(console)
    assert _source(app, source_id).status == "draft"
    assert _scim(app, source_id, token).status_code == 403
    assert _scim(app, source_id, token, "POST", _user("ann@acme.test")).status_code == 403


def test_jumpcloud_guide_carries_the_seed_steps_and_warnings_seed_1_2(console: Console) -> None:
    source_id, _ = _add_source(console)
    page = console.get(f"{BASE}/{source_id}/setup?step=2").get_data(as_text=True)
    for label in (
        "SSO Applications",
        "Custom Application",
        "Identity Management",
        "SCIM API",
        "SCIM 2.0",
        "Base URL",
        "Test User Email",
        "could be deactivated after the test",
        "Enable management of User Groups and Group Membership",
    ):
        assert label in page


# ---------------------------------------------------------------- step 2: set attributes


def test_wizard_step_is_in_the_url_and_reloads_as_a_full_page(console: Console) -> None:
    source_id, _ = _add_source(console)
    response = console.post(f"{BASE}/{source_id}/setup", {"step": 1, "nav": "next"}, htmx=True)
    assert response.headers["HX-Push-Url"] == f"{BASE}/{source_id}/setup?step=2"
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'id="wizard"' in fragment and "Set attributes" in fragment
    page = console.get(f"{BASE}/{source_id}/setup?step=2").get_data(as_text=True)
    assert "<html" in page and "Field value of Employee Type in JumpCloud" in page and "Name of Workforce Type" in page


def test_more_than_15_rules_are_refused_next_to_the_rules_seed_1_1_step_4(app: Any, console: Console, org: Any) -> None:
    source_id, _ = _add_source(console)
    intern = _type_id(app, org.id, "intern")
    response = console.post(
        f"{BASE}/{source_id}/setup",
        {"step": 2, "nav": "next", "rule_value": [f"Type {i}" for i in range(16)], "rule_type": [str(intern)] * 16},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="rules-error">.*You can configure 15 sync rules at most', page, re.S)
    assert _source(app, source_id).workforce_rules == []


def test_fifteen_rules_are_accepted_seed_1_1_step_4(app: Any, console: Console, org: Any) -> None:
    source_id, _ = _add_source(console)
    intern = _type_id(app, org.id, "intern")
    response = _walk(console, source_id, rules=[(f"Type {i}", intern) for i in range(15)], admins=[])
    assert response.status_code == 303
    assert len(_source(app, source_id).workforce_rules) == 15


def test_a_value_twice_in_any_case_is_refused_next_to_the_row_seed_1_1_step_4(
    app: Any, console: Console, org: Any
) -> None:
    source_id, _ = _add_source(console)
    regular, consultant = _type_id(app, org.id, "regular employee"), _type_id(app, org.id, "consultant")
    response = console.post(
        f"{BASE}/{source_id}/setup",
        {"step": 2, "nav": "next", "rule_value": ["Regular", "REGULAR"], "rule_type": [str(regular), str(consultant)]},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="rule-value-1-error">.*has two rules', page, re.S)
    assert 'id="rule-value-0-error"' not in page
    assert 'value="REGULAR"' in page  # what was typed stays in the form


def test_rule_without_workforce_type_is_refused_next_to_its_select(app: Any, console: Console) -> None:
    source_id, _ = _add_source(console)
    response = console.post(
        f"{BASE}/{source_id}/setup", {"step": 2, "nav": "next", "rule_value": ["Regular"], "rule_type": [""]}
    )
    assert response.status_code == 422
    assert re.search(r'id="rule-type-0-error">.*Choose a workforce type', response.get_data(as_text=True), re.S)


def test_workforce_type_choice_lists_the_organizations_types(console: Console) -> None:
    source_id, _ = _add_source(console)
    page = console.get(f"{BASE}/{source_id}/setup?step=2").get_data(as_text=True)
    for name in ("regular employee", "intern", "consultant", "contractor"):
        assert f">{name}</option>" in page
    assert "data-row-add" in page and "data-row-remove" in page and 'data-max-rows="15"' in page


def test_values_are_kept_when_going_back(app: Any, console: Console, org: Any) -> None:
    source_id, _ = _add_source(console)
    regular = _type_id(app, org.id, "regular employee")
    url = f"{BASE}/{source_id}/setup"
    console.post(url, {"step": 2, "nav": "next", "rule_value": ["Regular"], "rule_type": [str(regular)]})
    response = console.post(
        url, {"step": 3, "nav": "back", "name": "JC EU", "deletion_rule": "delete", "match_attribute": ["mobile"]}
    )
    assert response.headers["Location"].endswith("step=2")
    page = console.get(f"{url}?step=2").get_data(as_text=True)
    assert 'value="Regular"' in page and f'value="{regular}" selected' in page
    page = console.get(f"{url}?step=3").get_data(as_text=True)
    assert 'value="JC EU"' in page
    assert 'value="delete" checked' in page and 'value="mobile" checked' in page
    assert 'value="email" checked' not in page
    # Nothing reaches the source before Save.
    assert _source(app, source_id).workforce_rules == []


# ---------------------------------------------------------------- step 3: general settings


def test_general_settings_defaults_email_and_lists_sync_admins_seed_1_1_step_5(
    app: Any, console: Console, org: Any
) -> None:
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    make_admin(app, org, "logs@acme.test", {"admin_log"})
    source_id, _ = _add_source(console)
    page = console.get(f"{BASE}/{source_id}/setup?step=3").get_data(as_text=True)
    assert "Member deletion rule" in page and "Suspend member" in page and "Delete member" in page
    assert "Administrator notification" in page and "expired" in page
    assert "Select attributes for identifying existing users when creating new users" in page
    assert 'value="email" checked' in page and 'value="employee_id" checked' not in page
    assert "sync@acme.test" in page and org.email in page and "logs@acme.test" not in page


# ---------------------------------------------------------------- step 4: preview, save


def test_preview_summarizes_every_choice_seed_1_1_step_6(app: Any, console: Console, org: Any) -> None:
    source_id, _ = _add_source(console)
    regular = _type_id(app, org.id, "regular employee")
    url = f"{BASE}/{source_id}/setup"
    console.post(url, {"step": 2, "nav": "next", "rule_value": ["Regular"], "rule_type": [str(regular)]})
    console.post(
        url,
        {
            "step": 3,
            "nav": "next",
            "name": "JC",
            "deletion_rule": "delete",
            "notified_admin_id": [str(org.admin_id)],
            "match_attribute": ["email", "employee_id"],
        },
    )
    page = console.get(f"{url}?step=4").get_data(as_text=True)
    for text in (
        "Regular",
        "regular employee",
        "Delete member",
        org.email,
        "Username, Email, Employee ID",
        'name="nav" value="save"',
        'name="nav" value="activate"',
        ">Save and Activate<",
    ):
        assert text in page


def test_save_keeps_the_source_inactive_and_scim_denied_seed_1_1_step_6(app: Any, console: Console, org: Any) -> None:
    source_id, token = _add_source(console)
    regular = _type_id(app, org.id, "regular employee")
    response = _walk(console, source_id, rules=[("Regular", regular)], admins=[org.admin_id], deletion_rule="delete")
    assert response.status_code == 303 and response.headers["Location"] == f"{BASE}/"
    source = _source(app, source_id)
    assert source.status == "inactive" and source.name == "JumpCloud production"
    assert source.workforce_rules == [{"value": "Regular", "workforce_type_id": regular}]
    assert source.deletion_rule == "delete" and source.notified_admin_ids == [org.admin_id]
    assert _scim(app, source_id, token, "POST", _user("ann@acme.test")).status_code == 403
    [edit] = _log(app, "Edit sync configurations")
    assert edit.changes["deletion_rule"] == ["Suspend member", "Delete member"]
    # The administrator who set it up was ticked for its failures from the start (issue 13): no change.
    assert "notified_admins" not in edit.changes
    assert edit.changes["workforce_rules"] == [[], ["Regular = regular employee"]]
    page = console.get(f"{BASE}/").get_data(as_text=True)
    assert "saved but not active" in page and ">Inactive<" in page and ">Activate<" in page


def test_save_and_activate_lets_scim_in_seed_1_1_step_6(app: Any, console: Console, org: Any) -> None:
    source_id, token = _add_source(console)
    response = _walk(console, source_id, rules=[], admins=[], finish="activate")
    assert response.status_code == 303
    assert _source(app, source_id).status == "active"
    assert _scim(app, source_id, token, "POST", _user("ann@acme.test")).status_code == 201
    [entry] = _log(app, "Activate/Deactivate or Stop Sync Settings")
    assert entry.changes == {"status": ["draft", "active"]} and entry.actor == org.email


def test_save_answers_htmx_with_a_full_page_redirect(app: Any, console: Console) -> None:
    source_id, _ = _add_source(console)
    url = f"{BASE}/{source_id}/setup"
    console.post(url, {"step": 3, "nav": "next", "name": "JC", "deletion_rule": "suspend"})
    response = console.post(url, {"step": 4, "nav": "activate"}, htmx=True)
    assert response.headers["HX-Redirect"] == f"{BASE}/"


def test_a_domain_refusal_on_save_returns_to_the_step_with_the_message(app: Any, console: Console) -> None:
    source_id, _ = _add_source(console)
    url = f"{BASE}/{source_id}/setup"
    console.post(url, {"step": 3, "nav": "back", "name": "JC", "deletion_rule": "archive"})
    response = console.post(url, {"step": 4, "nav": "save"})
    assert response.status_code == 422
    assert "Choose Suspend member or Delete member" in response.get_data(as_text=True)
    assert "General settings" in response.get_data(as_text=True)
    assert _source(app, source_id).status == "draft"


def test_edit_reopens_the_wizard_filled_in_and_takes_effect_on_save_seed_2(
    app: Any, console: Console, org: Any
) -> None:
    source_id, token = _add_source(console)
    regular, intern = _type_id(app, org.id, "regular employee"), _type_id(app, org.id, "intern")
    _walk(console, source_id, rules=[("Regular", regular)], admins=[], finish="activate")
    response = console.get(f"{BASE}/{source_id}/edit")
    assert response.headers["Location"].endswith(f"/{source_id}/setup?step=1")
    page = console.get(f"{BASE}/{source_id}/setup?step=2").get_data(as_text=True)
    assert 'value="Regular"' in page
    url = f"{BASE}/{source_id}/setup"
    console.post(
        url, {"step": 2, "nav": "next", "rule_value": ["Regular", "Student"], "rule_type": [str(regular), str(intern)]}
    )
    # Until Save, the running sync keeps the old rules.
    created = _scim(app, source_id, token, "POST", _user("before@acme.test", "Student"))
    assert created.status_code == 201
    page = console.get(f"{url}?step=4").get_data(as_text=True)
    assert 'value="activate"' not in page and "take effect at the next request" in page
    assert console.post(url, {"step": 4, "nav": "save"}).status_code == 303
    assert _source(app, source_id).status == "active"
    # The next SCIM request uses the edited rules.
    assert _scim(app, source_id, token, "POST", _user("after@acme.test", "student")).status_code == 201
    with app.app_context():
        types = dict(
            db.session.execute(
                select(Member.external_id, WorkforceType.name).join(
                    WorkforceType, Member.employee_type_id == WorkforceType.id, isouter=True
                )
            ).all()
        )
    assert types == {"before@acme.test": None, "after@acme.test": "intern"}


# ---------------------------------------------------------------- card and details


def test_card_shows_provider_status_connection_members_and_token_expiry_seed_2(
    app: Any, console: Console, org: Any
) -> None:
    source_id, _ = _add_source(console)
    _walk(console, source_id, rules=[], admins=[], finish="activate")
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for n in range(3):
            db.session.add(
                Member(
                    org_id=org.id,
                    external_id=f"u{n}@acme.test",
                    email=f"u{n}@acme.test",
                    name=f"User {n}",
                    source_id=source_id,
                )
            )
        source.last_request_at = utcnow()
        source.last_status = 201
        db.session.commit()
    page = console.get(f"{BASE}/").get_data(as_text=True)
    card = re.search(rf'<article[^>]*id="source-{source_id}".*?</article>', page, re.S).group(0)
    for text in (
        "JumpCloud production",
        "JumpCloud",
        ">Active<",
        ">Connected<",
        "Members synced",
        ">3<",
        "Token expires",
        ">Deactivate<",
        ">Edit<",
        ">Sync log<",
        "Delete",
    ):
        assert text in card
    assert f'href="{BASE}/{source_id}/sync-log"' in card


def test_cards_count_members_in_one_query(app: Any, console: Console) -> None:
    for provider in ("jumpcloud", "okta", "entra"):
        _add_source(console, provider)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert console.get(f"{BASE}/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in statements if "FROM members" in s]) == 1


def test_connection_badge_polls_until_connected_and_shows_the_last_error(app: Any, console: Console) -> None:
    source_id, _ = _add_source(console)
    badge = console.get(f"{BASE}/{source_id}/connection", htmx=True).get_data(as_text=True)
    assert "Waiting for first request" in badge and 'hx-trigger="every 5s"' in badge
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        source.last_request_at, source.last_status, source.last_error = utcnow(), 403, "sync source is not activated"
        db.session.commit()
    badge = console.get(f"{BASE}/{source_id}/connection", htmx=True).get_data(as_text=True)
    assert "Failing" in badge and "sync source is not activated" in badge and "every 5s" in badge
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        source.last_status, source.last_error = 200, None
        db.session.commit()
    badge = console.get(f"{BASE}/{source_id}/connection", htmx=True).get_data(as_text=True)
    assert "Connected" in badge and "hx-trigger" not in badge


def test_polling_stops_once_the_source_is_deleted(console: Console) -> None:
    source_id, _ = _add_source(console)
    console.post(f"{BASE}/{source_id}/delete")
    response = console.get(f"{BASE}/{source_id}/connection", htmx=True)
    assert response.status_code == 286 and response.get_data(as_text=True) == ""


@pytest.mark.parametrize("days, warned", [(10, True), (30, False), (-1, True)])
def test_token_expiry_is_warned_14_days_ahead(app: Any, console: Console, days: int, warned: bool) -> None:
    source_id, _ = _add_source(console)
    # Noon of the expiry date: UTC calendar days, as the card prints the date (portal.core.token_expiry).
    expires = datetime.combine(utcnow().date() + timedelta(days=days), time(12))
    with app.app_context():
        db.session.get(SyncSource, source_id).token_expires_at = expires
        db.session.commit()
    page = console.get(f"{BASE}/").get_data(as_text=True)
    label = "Token expired" if days < 0 else f"Token expires in {days} days"
    assert (label in page) is warned


def test_deactivate_and_activate_from_the_card_seed_2(app: Any, console: Console) -> None:
    source_id, token = _add_source(console)
    _walk(console, source_id, rules=[], admins=[], finish="activate")
    card = console.post(f"{BASE}/{source_id}/deactivate", htmx=True).get_data(as_text=True)
    assert card.lstrip().startswith(f'<article class="card app-card" id="source-{source_id}"')
    assert ">Inactive<" in card and ">Activate<" in card
    assert _scim(app, source_id, token).status_code == 403
    card = console.post(f"{BASE}/{source_id}/activate", htmx=True).get_data(as_text=True)
    assert ">Active<" in card and ">Deactivate<" in card
    assert _scim(app, source_id, token).status_code == 200
    changes = [e.changes["status"] for e in _log(app, "Activate/Deactivate or Stop Sync Settings")]
    assert changes == [["draft", "active"], ["active", "inactive"], ["inactive", "active"]]


def test_details_page_shows_the_configuration_and_actions_seed_2(app: Any, console: Console, org: Any) -> None:
    source_id, token = _add_source(console)
    regular = _type_id(app, org.id, "regular employee")
    _walk(console, source_id, rules=[("Regular", regular)], admins=[org.admin_id], finish="activate")
    page = console.get(f"{BASE}/{source_id}").get_data(as_text=True)
    for text in (
        "JumpCloud production",
        "Access security",
        "Regular",
        "regular employee",
        "Suspend member",
        org.email,
        ">Deactivate<",
        ">Edit<",
        ">Sync log<",
        ">Delete<",
        "Refresh token",
        "cannot be undone",
        "synced so far are kept",
    ):
        assert text in page
    assert token not in page


def test_delete_kills_the_token_and_keeps_members_seed_2(app: Any, console: Console, org: Any) -> None:
    source_id, token = _add_source(console)
    _walk(console, source_id, rules=[], admins=[], finish="activate")
    ann = {**_user("ann@acme.test"), "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]}
    assert _scim(app, source_id, token, "POST", ann).status_code == 201
    response = console.post(f"{BASE}/{source_id}/delete")
    assert response.status_code == 303
    source = _source(app, source_id)
    assert source.deleted_at is not None and source.token_hash is None
    assert _scim(app, source_id, token).status_code == 404
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.external_id == "ann@acme.test"))
        # Kept with its data, as an Admin Console member now (issue 12).
        assert member.source_id is None and member.mobile == "+1 555 0100" and member.status == "active"
    page = console.get(f"{BASE}/").get_data(as_text=True)
    assert "was deleted" in page and "No sync source yet" in page
    assert console.get(f"{BASE}/{source_id}").status_code == 404
    [entry] = _log(app, "Delete sync source")
    assert entry.target_name == "JumpCloud production"


def test_refresh_token_shows_the_new_token_once_and_kills_the_old_one(app: Any, console: Console) -> None:
    source_id, old = _add_source(console)
    _walk(console, source_id, rules=[], admins=[], finish="activate")
    response = console.post(f"{BASE}/{source_id}/token", {"back": "detail"})
    assert response.headers["HX-Push-Url"] == f"{BASE}/{source_id}"
    page = response.get_data(as_text=True)
    new = TOKEN_RE.search(page).group(1)
    assert new != old and "Copy Token" in page
    assert _scim(app, source_id, old).status_code == 401 and _scim(app, source_id, new).status_code == 200
    assert TOKEN_RE.search(console.get(f"{BASE}/{source_id}").get_data(as_text=True)) is None
    assert len(_log(app, "Refresh token")) == 1


def test_refresh_from_the_wizard_returns_to_step_1_with_the_new_token(console: Console) -> None:
    source_id, old = _add_source(console)
    response = console.post(f"{BASE}/{source_id}/token", {"back": "wizard"})
    assert response.headers["HX-Push-Url"] == f"{BASE}/{source_id}/setup?step=1"
    assert TOKEN_RE.search(response.get_data(as_text=True)).group(1) != old
    assert TOKEN_RE.search(console.get(f"{BASE}/{source_id}/setup?step=1").get_data(as_text=True)) is None


def test_an_issued_token_never_travels_in_the_session_cookie(app: Any, console: Console) -> None:
    # The session cookie is signed, not encrypted: a token in it would sit readable in the browser.
    response = console.post(f"{BASE}/new", {"provider": "jumpcloud"})
    token = TOKEN_RE.search(response.get_data(as_text=True)).group(1)
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = console.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and "_user_id" in serializer.loads(cookie.value)
    assert token not in repr(serializer.loads(cookie.value))


# ---------------------------------------------------------------- permissions, CSRF, tenancy


def test_admin_without_sync_permission_can_neither_see_nor_change_seed_1(app: Any, client: Any, org: Any) -> None:
    owner = Console(client)
    owner.login(org.email, org.password)
    source_id, _ = _add_source(owner)
    owner.client.post("/logout", data={"csrf_token": owner.token})
    make_admin(app, org, "logs@acme.test", {"admin_log", "directory"})
    other = Console(client)
    assert other.login("logs@acme.test", "another long password").status_code == 302
    other.get("/login")
    for url in (f"{BASE}/", f"{BASE}/new", f"{BASE}/{source_id}", f"{BASE}/{source_id}/setup?step=2"):
        assert other.get(url).status_code == 403
    for url in (
        f"{BASE}/new",
        f"{BASE}/{source_id}/deactivate",
        f"{BASE}/{source_id}/delete",
        f"{BASE}/{source_id}/token",
        f"{BASE}/{source_id}/setup",
    ):
        assert other.post(url, {"provider": "okta", "step": 4, "nav": "activate"}).status_code == 403
    assert _source(app, source_id).status == "draft" and _source(app, source_id).deleted_at is None


def test_admin_with_org_data_sync_permission_manages_sync_seed_1(app: Any, client: Any, org: Any) -> None:
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    admin = Console(client)
    assert admin.login("sync@acme.test", "another long password").status_code == 302
    admin.get(f"{BASE}/")
    source_id, _ = _add_source(admin)
    assert _log(app, "Add sync source")[0].actor == "sync@acme.test"


def test_writes_without_csrf_token_are_refused(app: Any, console: Console) -> None:
    source_id, _ = _add_source(console)
    for url in (
        f"{BASE}/new",
        f"{BASE}/{source_id}/activate",
        f"{BASE}/{source_id}/delete",
        f"{BASE}/{source_id}/token",
        f"{BASE}/{source_id}/setup",
    ):
        response = console.client.post(url, data={"provider": "okta", "step": 4, "nav": "activate"})
        assert response.status_code == 400
    source = _source(app, source_id)
    assert source.status == "draft" and source.deleted_at is None
    with app.app_context():
        assert db.session.scalar(select(SyncSource.id).where(SyncSource.provider == "okta")) is None


def test_another_organizations_source_is_not_found(app: Any, console: Console) -> None:
    from tests.factories import make_org

    other = make_org(app, "Globex", "owner@globex.test")
    with app.app_context():
        from portal.core.actors import Actor

        source, _ = sync_sources.create_source(other.id, "okta", Actor.cli())
        db.session.commit()
        foreign = source.id
    assert console.get(f"{BASE}/{foreign}").status_code == 404
    assert console.post(f"{BASE}/{foreign}/delete").status_code == 404
    assert _source(app, foreign).deleted_at is None
