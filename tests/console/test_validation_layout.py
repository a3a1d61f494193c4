"""Input and length (issue 13, point 5): one length limit per field for both doors, real email and phone
checks in the console, and forms that show every error at once.

SCIM (RFC 7643 §4.1.2): an email "SHOULD" follow RFC 5321 and a phone number "SHOULD" follow RFC 3966,
so what an identity provider sends is stored as sent; only a value longer than its column is refused,
with 400 invalidValue (RFC 7644 §3.12), by the same rule as the console's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.core import administrators, contact, members
from portal.core.actors import Actor
from portal.core.errors import Invalid
from portal.extensions import db
from portal.models import Field, Member
from tests.conftest import Console
from tests.scim.conftest import Scim, add_source, assert_scim_error, user

pytestmark = pytest.mark.both_databases


@pytest.fixture
def scim(client: Any, runner: Any, org: Any) -> Scim:
    return Scim(client, add_source(runner, org.name, "--activate"))


def _form(**values: str) -> dict[str, str]:
    base = {"name": "Ida", "external_id": "ida@acme.test", "email": "ida@acme.test"}
    return {**base, **values}


def _errors(html: str) -> dict[str, str]:
    """The field errors a form shows: field id -> message."""
    return {
        field: re.sub(r"\s+", " ", message).strip()
        for field, message in re.findall(
            r'<p class="field-error" id="field-([\w-]+)-error">.*?<span>(.*?)</span>', html, re.S
        )
    }


def _count(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Member.id))) or 0


# ---------------------------------------------------------------- one length limit, both doors


def test_a_name_of_255_characters_is_kept_and_one_of_256_refused_in_the_console(app: Any, console: Console) -> None:
    assert console.post("/organization/members/new", _form(name="N" * 255), htmx=True).status_code == 200
    refused = console.post(
        "/organization/members/new", _form(name="M" * 256, external_id="x@acme.test", email="x@acme.test"), htmx=True
    )
    assert refused.status_code == 422
    assert _errors(refused.get_data(as_text=True)) == {"name": "Name must be at most 255 characters"}
    assert _count(app) == 1


def test_scim_refuses_a_name_past_the_same_limit_with_400_invalid_value_rfc7644_3_12(app: Any, scim: Scim) -> None:
    assert scim.post("/Users", user("ann@acme.test", displayName="N" * 255)).status_code == 201
    body = assert_scim_error(scim.post("/Users", user("bob@acme.test", displayName="N" * 256)), 400, "invalidValue")
    assert "255" in body["detail"]
    assert _count(app) == 1


def test_scim_refuses_a_value_whose_compared_form_is_past_the_column(app: Any, scim: Scim) -> None:
    # 200 "ß" pass the schema's 255, but the name is compared (and stored for that) as 400 "s":
    # PostgreSQL refused the statement (a 500), SQLite kept a value the other database cannot.
    body = assert_scim_error(scim.post("/Users", user("ann@acme.test", displayName="ß" * 200)), 400, "invalidValue")
    assert body["detail"] == "displayName must be at most 255 characters"
    # Every attribute at fault is named at once, and the console says the same for the same value.
    both = assert_scim_error(
        scim.post("/Users", user("ann@acme.test", displayName="ß" * 200, nickName="ﬃ" * 100)), 400, "invalidValue"
    )
    assert both["detail"] == "displayName must be at most 255 characters; nickName must be at most 255 characters"
    with app.app_context():
        with pytest.raises(Invalid, match="Name must be at most 255 characters"):
            members.create_member(app_org_id(app), _form(name="ß" * 200), Actor.cli())
    assert _count(app) == 0


def app_org_id(app: Any) -> int:
    from portal.models import Organization

    return db.session.scalar(select(Organization.id))


def test_scim_put_and_patch_go_through_the_same_limit(app: Any, scim: Scim) -> None:
    created = scim.create_user("ann@acme.test")
    put = scim.put(f"/Users/{created['id']}", user("ann@acme.test", displayName="ß" * 200))
    assert_scim_error(put, 400, "invalidValue")
    patch = scim.ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "ß" * 150})
    assert_scim_error(patch, 400, "invalidValue")
    with app.app_context():
        assert db.session.scalar(select(Member.name)) == "Ann"


# ---------------------------------------------------------------- email and mobile


@pytest.mark.parametrize("email", ["ida@acme", "ida", "ida@@acme.test", "ida acme@acme.test", "@acme.test"])
def test_the_console_refuses_an_email_that_is_no_address(app: Any, console: Console, email: str) -> None:
    response = console.post("/organization/members/new", _form(email=email), htmx=True)
    assert response.status_code == 422
    assert _errors(response.get_data(as_text=True))["email"].startswith("Enter a valid email address")
    assert _count(app) == 0


def test_members_and_administrators_share_one_email_check(app: Any, org: Any) -> None:
    assert contact.email_problem("ida@acme") is not None and contact.email_problem("ida@acme.test") is None
    with app.app_context():
        with pytest.raises(Invalid) as admin_refusal:
            administrators.check_email_address("ida@acme")
        with pytest.raises(Invalid) as member_refusal:
            members.create_member(org.id, _form(email="ida@acme"), Actor.cli())
    assert admin_refusal.value.message == member_refusal.value.message == contact.email_problem("ida@acme")


@pytest.mark.parametrize(
    "mobile",
    ["+1 555 0100", "+44 (20) 7946-0958", "(555) 010-0123", "555.010.0123", "+4930123456 x12", "+1 555 0100 ext. 7"],
)
def test_the_console_accepts_phone_numbers_in_common_formats(app: Any, console: Console, mobile: str) -> None:
    assert console.post("/organization/members/new", _form(mobile=mobile), htmx=True).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Member.mobile)) == mobile


@pytest.mark.parametrize("mobile", ["555-CALL-NOW", "call me", "12", "+1 555 0100 +2", "1" * 16])
def test_the_console_refuses_a_mobile_that_is_no_phone_number(app: Any, console: Console, mobile: str) -> None:
    response = console.post("/organization/members/new", _form(mobile=mobile), htmx=True)
    assert response.status_code == 422
    assert _errors(response.get_data(as_text=True))["mobile"].startswith("Enter a phone number")
    assert _count(app) == 0


def test_scim_stores_a_providers_phone_number_and_email_as_sent_rfc7643_4_1_2(app: Any, scim: Scim) -> None:
    # phoneNumbers and emails are free text in SCIM ("SHOULD" RFC 3966 / RFC 5321): never refused over it.
    body = user("ida@acme", phoneNumbers=[{"value": "call reception, ext 12", "type": "work"}])
    assert scim.post("/Users", body).status_code == 201
    with app.app_context():
        assert db.session.execute(select(Member.email, Member.mobile)).one() == ("ida@acme", "call reception, ext 12")


def test_editing_another_field_keeps_a_value_a_provider_once_sent(
    app: Any, org: Any, console: Console, scim: Scim
) -> None:
    created = scim.create_user("ida@acme", phoneNumbers=[{"value": "call reception", "type": "work"}])
    scim.delete(f"/Users/{created['id']}")  # the Suspend rule: kept, unlinked, now edited by hand
    with app.app_context():
        member_id = db.session.scalar(select(Member.id))
    saved = console.post(
        f"/organization/members/{member_id}/edit",
        {"name": "Ida Renamed", "external_id": "ida@acme", "email": "ida@acme", "mobile": "call reception"},
        htmx=True,
    )
    assert saved.status_code == 200
    refused = console.post(
        f"/organization/members/{member_id}/edit",
        {"name": "Ida Renamed", "external_id": "ida@acme", "email": "ida@acme", "mobile": "call me"},
        htmx=True,
    )
    assert refused.status_code == 422 and set(_errors(refused.get_data(as_text=True))) == {"mobile"}


# ---------------------------------------------------------------- every error at once


def test_the_member_form_shows_every_error_at_once(app: Any, org: Any, console: Console) -> None:
    with app.app_context():
        from portal.core import fields

        badge = fields.create_field(org.id, "Badge number", "number", Actor.cli())
        db.session.commit()
        key = badge.key
    response = console.post(
        "/organization/members/new",
        {
            "name": "",
            "external_id": "ida@acme.test",
            "email": "ida@acme",
            "mobile": "call me",
            f"custom.{key}": "seven",
        },
        htmx=True,
    )
    assert response.status_code == 422
    errors = _errors(response.get_data(as_text=True))
    assert set(errors) == {"name", "email", "mobile", f"custom-{key}"}
    assert errors["name"] == "Enter the member's name".replace("'", "&#39;")
    assert errors[f"custom-{key}"] == "Badge number must be a number"
    html = response.get_data(as_text=True)
    for field in ("name", "email", "mobile"):
        assert re.search(rf'id="field-{field}"[^>]*aria-invalid="true"', html)
    assert _count(app) == 0


def test_a_fixed_field_drops_its_stale_error(app: Any, console: Console) -> None:
    first = console.post("/organization/members/new", _form(name="", email="ida@acme"), htmx=True)
    assert set(_errors(first.get_data(as_text=True))) == {"name", "email"}
    second = console.post("/organization/members/new", _form(name="Ida", email="ida@acme"), htmx=True)
    assert set(_errors(second.get_data(as_text=True))) == {"email"}
    assert "data-field-clear" in second.get_data(as_text=True)  # static/js/layout.js clears an error as it is fixed


def test_the_custom_field_and_administrator_forms_show_every_error_at_once(app: Any, console: Console) -> None:
    field = console.post("/organization/fields/new", {"name": "", "field_type": "colour", "options": ""}, htmx=True)
    assert field.status_code == 422
    assert set(_errors(field.get_data(as_text=True))) == {"name", "field_type"}
    admin = console.post(
        "/settings/administrators/new", {"name": "", "email": "ida@acme", "permissions": "everything", "delivery": "x"}
    )
    assert admin.status_code == 422
    html = admin.get_data(as_text=True)
    assert set(_errors(html)) == {"name", "email"}
    assert "Unknown permission" in html and "Choose how the administrator gets a password" in html
    with app.app_context():
        assert db.session.scalar(select(func.count(Field.id)).where(Field.standard.is_(False))) == 0
