"""Issue 18: every identity provider's users as they send them, replayed over HTTP on both databases.

Each test replays one documented sequence with the payloads of ``tests/scim/idp_payloads.py``
(each constant's docstring names its source: verbatim or reconstructed) against the SCIM door of
an active sync source made by the CLI, with the source's identity rule "userName must equal the
work email" **off** (``--username-may-differ``: the default for Okta, Entra ID and Generic) and
**on** (``--username-is-email``: JumpCloud's default) where the rule decides the answer.

With the rule off, RFC 7643 §4.1.1 holds: ``userName`` is the only required attribute, the work
email is optional (``emails``: the "work" entry, else the primary one, else the first; RFC 7643
§2.4, §4.1.2), and a missing ``displayName`` is derived from ``name.formatted``, else given + family
name, else ``userName``. With it on, a create or change that breaks it is refused with
400 ``invalidValue`` (RFC 7644 §3.12) and nothing is written.

For every member created, ``GET /Users/{id}`` (RFC 7644 §3.4.1) returns ``userName`` as sent and the
derived ``displayName``, and the console's Members page lists the member with its email, or its
userName where it has none, and never the text "None".
"""

from __future__ import annotations

import copy
import html
import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member, SyncSource, UserGroup
from tests.conftest import Console
from tests.scim import idp_payloads as idp
from tests.scim.conftest import Scim, add_source, assert_scim_error

pytestmark = pytest.mark.both_databases

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
RULE_FLAGS = {"off": "--username-may-differ", "on": "--username-is-email"}
BOTH_RULES = pytest.mark.parametrize("rule", ["off", "on"])
#: what the rule's refusals all say (portal.core.provisioning._require)
RULE_REFUSAL = "this source's rule"

DISPLAY_NAME_REQUIRED = "displayName is required"
WORK_EMAIL_REQUIRED = "A work email is required"
MUST_EQUAL = "must equal the work email"


# ---------------------------------------------------------------- helpers


def _source(client: Any, runner: Any, org: Any, rule: str | None, provider: str = "generic") -> Scim:
    """An active source of ``provider`` with the rule on/off (``None``: the provider's default)."""
    flags = ["--activate"] + ([RULE_FLAGS[rule]] if rule else [])
    return Scim(client, add_source(runner, org.name, *flags, provider=provider))


def _lookup(scim: Scim, user_name: str) -> dict[str, Any]:
    """``GET /Users?filter=userName eq "..."`` (RFC 7644 §3.4.2.2): the ListResponse."""
    response = scim.get("/Users?filter=" + quote(f'userName eq "{user_name}"'))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [LIST_SCHEMA]
    return body


def _emails(resource: dict[str, Any]) -> list[str]:
    return [entry["value"] for entry in resource.get("emails") or []]


def _stored_email(app: Any, public_id: str) -> str | None:
    """The member's email: the one of the emails sent that the console shows and matching uses."""
    with app.app_context():
        return db.session.scalar(sa.select(Member.email).where(Member.public_id == public_id))


def _members_page(app: Any, org: Any) -> str:
    """The console's Members page as the organization's primary administrator sees it (own cookie jar)."""
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    response = console.get("/organization/members")
    assert response.status_code == 200
    return response.get_data(as_text=True)


_ROW = re.compile(r'<span class="cell-primary">(.*?)</span><span class="cell-secondary">(.*?)</span>', re.S)


def _member_rows(page: str) -> dict[str, str]:
    """Member name -> the text under it (email or userName), as the Members table shows them."""
    return {html.unescape(name): html.unescape(second) for name, second in _ROW.findall(page)}


def _assert_created(
    app: Any,
    org: Any,
    scim: Scim,
    response: Any,
    sent: dict[str, Any],
    *,
    display_name: str,
    email: str | None,
) -> dict[str, Any]:
    """201 with the resource, the same on GET /Users/{id}, and the member on the console's Members page."""
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert response.headers["Location"] == created["meta"]["location"]  # RFC 7644 §3.3
    fetched = scim.get(f"/Users/{created['id']}")
    assert fetched.status_code == 200, fetched.get_data(as_text=True)
    for resource in (created, fetched.get_json()):
        assert resource["userName"] == sent["userName"]
        assert resource["displayName"] == display_name
        # Every email sent is returned (RFC 7643 §2.4); none when none was sent.
        if email:
            assert email in _emails(resource)
        else:
            assert _emails(resource) == []
        assert "password" not in resource  # RFC 7643 §4.1.1: returned "never"
    assert _stored_email(app, created["id"]) == email
    page = _members_page(app, org)
    rows = _member_rows(page)
    assert rows.get(display_name) == (email or sent["userName"]), rows
    results = page[page.index('id="member-results"') :]
    assert not re.search(r"\bNone\b", results), "the Members table shows the text None"
    return created


def _assert_refused(scim: Scim, response: Any, sent: dict[str, Any], because: str) -> None:
    """400 invalidValue naming the source's rule, and nobody was created (RFC 7644 §3.12)."""
    body = assert_scim_error(response, 400, "invalidValue")
    assert RULE_REFUSAL in body["detail"] and because in body["detail"], body["detail"]
    assert _lookup(scim, sent["userName"])["totalResults"] == 0


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in keys}


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(body), **changes}


# ---------------------------------------------------------------- Microsoft Entra ID


@BOTH_RULES
def test_entra_upn_differs_from_mail_entra_tutorial_rfc7643_4_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL (reconstructed on the verbatim Create User shape;
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
    'Design your user and group schema': userPrincipalName -> userName, mail -> emails[type eq "work"].value).

    Off: 201 (RFC 7644 §3.3), displayName derived from name.formatted "Ada Lovelace" (Entra sends none),
    email the work mail. On: 400 invalidValue; with a displayName added the refusal is the rule itself.
    """
    scim = _source(client, runner, org, rule, provider="entra")
    sent = idp.ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email="ada.lovelace@example.test")
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)
    named = _with(sent, displayName="Ada Lovelace")
    _assert_refused(scim, scim.post("/Users", named), named, MUST_EQUAL)


@BOTH_RULES
def test_entra_user_without_mail_entra_tutorial_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ENTRA_CREATE_USER_NO_EMAILS (reconstructed: "The value of the mail user attribute in Microsoft
    Entra ID is only populated if the user has a Microsoft Exchange Mailbox",
    https://learn.microsoft.com/en-us/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial).

    Off: 201 with no email (RFC 7643 §4.1.1 requires only userName), displayName "Grace Hopper" from
    name.formatted; the Members page shows the userName under the name. On: 400 invalidValue; with a
    displayName added the refusal is the missing work email.
    """
    scim = _source(client, runner, org, rule, provider="entra")
    sent = idp.ENTRA_CREATE_USER_NO_EMAILS
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Grace Hopper", email=None)
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)
    named = _with(sent, displayName="Grace Hopper")
    _assert_refused(scim, scim.post("/Users", named), named, WORK_EMAIL_REQUIRED)


@BOTH_RULES
def test_entra_documented_create_user_without_display_name_entra_tutorial_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ENTRA_CREATE_USER, verbatim: 'User Operations' > 'Create User' > 'Request' of
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    (no displayName, a GUID-like userName, a different work email, ``meta`` and ``roles: []`` sent).

    Off: 201 (RFC 7644 §3.3); displayName derived from name.formatted ("givenName familyName");
    ``meta`` from the client ignored (RFC 7643 §3.1: read-only). On: 400 invalidValue.
    """
    scim = _source(client, runner, org, rule, provider="entra")
    sent = idp.ENTRA_CREATE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        created = _assert_created(
            app,
            org,
            scim,
            response,
            sent,
            display_name="givenName familyName",
            email="Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        )
        assert created["externalId"] == sent["externalId"] and created["meta"]["resourceType"] == "User"
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


@BOTH_RULES
def test_entra_provision_user_example_with_nulls_and_misspelt_urn_entra_tutorial_rfc7643_4_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ENTRA_PROVISION_USER_EXAMPLE, verbatim with the document's typos: 'Build a SCIM endpoint' >
    'Handling provisioning and deprovisioning of users' > 'Example 2. Provision a user' of
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    (JSON nulls, ``...enterprise:2.0User`` misspelt, userName jyoung@testuser.com, mail jyoung@Contoso.com).

    Off: 201 (RFC 7644 §3.3; null is "unassigned", RFC 7643 §2.5), displayName as sent, the mixed-case
    mail stored. On: 400 invalidValue: the userName is not the work email.
    """
    scim = _source(client, runner, org, rule, provider="entra")
    sent = idp.ENTRA_PROVISION_USER_EXAMPLE
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Joy Young", email="jyoung@Contoso.com")
        return
    _assert_refused(scim, response, sent, MUST_EQUAL)


def test_missing_display_name_is_name_formatted_before_given_and_family_name_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any
) -> None:
    """Which name a missing displayName is derived from, where Entra's sample cannot tell (its
    name.formatted "givenName familyName" is also given + family): ENTRA_CREATE_USER with another
    name.formatted gives that formatted name (rule off, the Entra default)."""
    scim = _source(client, runner, org, "off", provider="entra")
    sent = _with(
        idp.ENTRA_CREATE_USER, name={"formatted": "Dr. Ada King", "givenName": "Ada", "familyName": "Lovelace"}
    )
    _assert_created(
        app,
        org,
        scim,
        scim.post("/Users", sent),
        sent,
        display_name="Dr. Ada King",
        email="Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
    )


@BOTH_RULES
def test_entra_upn_only_rename_patch_entra_tutorial_rfc7644_3_5_2_3(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ENTRA_PATCH_REPLACE_USERNAME, verbatim: 'User Operations' > 'Update User [Single-valued
    properties]' of https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    (``"op": "Replace"`` capitalised, only userName changes: a UPN change).

    Off: on the created ENTRA_CREATE_USER, 200 (RFC 7644 §3.5.2.3) with the new userName and the work
    email unchanged. On: on a user that keeps the rule (userName = work email), 400 invalidValue
    (the new userName is not the work email) and the user is unchanged.
    """
    scim = _source(client, runner, org, rule, provider="entra")
    mail = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    new_user_name = idp.ENTRA_PATCH_REPLACE_USERNAME["Operations"][0]["value"]
    if rule == "off":
        created = scim.post("/Users", idp.ENTRA_CREATE_USER).get_json()
    else:
        created = scim.create_user(mail, **_without(idp.ENTRA_CREATE_USER, "userName"), displayName="Test User")
    url = f"/Users/{created['id']}"
    response = scim.patch(url, idp.ENTRA_PATCH_REPLACE_USERNAME)
    after = scim.get(url).get_json()
    if rule == "off":
        assert response.status_code == 200, response.get_json()
        for resource in (response.get_json(), after):
            assert resource["userName"] == new_user_name
            assert _emails(resource) == [mail]
            assert resource["displayName"] == "givenName familyName"
        assert _lookup(scim, new_user_name)["totalResults"] == 1
        return
    body = assert_scim_error(response, 400, "invalidValue")
    assert MUST_EQUAL in body["detail"], body
    assert (after["userName"], _emails(after)) == (mail, [mail])
    assert after["meta"]["version"] == created["meta"]["version"]


def test_entra_test_connection_filter_answers_an_empty_list_entra_tutorial_rfc7644_3_4_2(
    client: Any, runner: Any, org: Any
) -> None:
    """ENTRA_TEST_CONNECTION_FILTER (reconstructed from 'Getting started' of
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups:
    "The expected correct response is HTTP 200 OK with an empty SCIM ListResponse message").
    RFC 7644 §3.4.2 (ListResponse), §3.4.2.2 (filter); a created user does not match the random GUID."""
    scim = _source(client, runner, org, None, provider="entra")
    scim.post("/Users", idp.ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL)
    response = scim.get("/Users?filter=" + quote(idp.ENTRA_TEST_CONNECTION_FILTER))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == 0 and body.get("Resources", []) == []


@pytest.mark.parametrize(
    "provider, refused", [("entra", False), ("okta", False), ("generic", False), ("jumpcloud", True)]
)
def test_the_rule_defaults_by_provider_seed_faq(
    app: Any, client: Any, runner: Any, org: Any, provider: str, refused: bool
) -> None:
    """Without --username-is-email/--username-may-differ the rule is on for JumpCloud only: Entra's
    UPN != mail user (ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL, with a displayName so only the rule
    decides) is 201 for Entra ID, Okta and Generic and 400 invalidValue for JumpCloud (RFC 7644 §3.12)."""
    scim = _source(client, runner, org, None, provider=provider)
    sent = _with(idp.ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL, displayName="Ada Lovelace")
    response = scim.post("/Users", sent)
    if refused:
        _assert_refused(scim, response, sent, MUST_EQUAL)
    else:
        _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email="ada.lovelace@example.test")


# ---------------------------------------------------------------- Okta


@BOTH_RULES
def test_okta_login_differs_from_email_okta_scim_2_0_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """OKTA_CREATE_USER_LOGIN_DIFFERS_FROM_EMAIL (reconstructed on the verbatim 'Create the User' body of
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20; "The default username format for
    SCIM integrations is to use the Okta Username").

    Off: 201 with userName jdoe@acme.com, the work email john.doe@acme.com, displayName as sent and the
    password never returned (RFC 7643 §4.1.1). On: 400 invalidValue (userName must equal the work email).
    """
    scim = _source(client, runner, org, rule, provider="okta")
    sent = idp.OKTA_CREATE_USER_LOGIN_DIFFERS_FROM_EMAIL
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="John Doe", email="john.doe@acme.com")
        return
    _assert_refused(scim, response, sent, MUST_EQUAL)


@BOTH_RULES
def test_okta_lookup_then_create_okta_scim_2_0_rfc7644_3_4_2_and_3_3(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """Okta's documented create: 'SCIM User operations' > 'Create Users' of
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20: first 'Determine if the User
    already exists' (OKTA_USER_LOOKUP_QUERY, verbatim, URL-encoded), an empty ListResponse (RFC 7644
    §3.4.2), then 'Create the User' (OKTA_CREATE_USER, verbatim) 201 (§3.3); the lookup then finds it.
    userName equals the work email, so both settings of the rule accept it. Creating it again is
    409 uniqueness (§3.3, §3.12)."""
    scim = _source(client, runner, org, rule, provider="okta")
    lookup = scim.get(f"/Users?{idp.OKTA_USER_LOOKUP_QUERY}", headers={"User-Agent": "Okta SCIM Client 1.0.0"})
    assert lookup.status_code == 200, lookup.get_data(as_text=True)
    empty = lookup.get_json()
    assert empty["schemas"] == [LIST_SCHEMA] and empty["totalResults"] == 0 and empty.get("Resources", []) == []
    sent = idp.OKTA_CREATE_USER
    created = _assert_created(
        app, org, scim, scim.post("/Users", sent), sent, display_name="Test User", email="test.user@okta.local"
    )
    assert created["externalId"] == "00ujl29u0le5T6Aj10h7" and created["active"] is True
    found = scim.get(f"/Users?{idp.OKTA_USER_LOOKUP_QUERY}").get_json()
    assert found["totalResults"] == 1 and [r["id"] for r in found["Resources"]] == [created["id"]]
    assert_scim_error(scim.post("/Users", sent), 409, "uniqueness")


# ---------------------------------------------------------------- OneLogin


@BOTH_RULES
def test_onelogin_v2_enterprise_user_onelogin_template_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ONELOGIN_V2_ENTERPRISE_USER (reconstructed rendering of a vendor's 'SCIM Provisioner with SAML
    (SCIM v2 Enterprise)' template; userName is the ``scimusername`` parameter, "the Username attribute
    by default", https://developers.onelogin.com/scim/define-user-schema and OneLogin KB0013904).

    Off: 201; no displayName and no name.formatted, so displayName is given + family name "Ada Lovelace";
    userName "alovelace" (not an email). On: 400 invalidValue.
    """
    scim = _source(client, runner, org, rule)
    sent = idp.ONELOGIN_V2_ENTERPRISE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email="ada.lovelace@example.test")
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


@BOTH_RULES
def test_onelogin_core_user_without_email_onelogin_define_user_schema_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """ONELOGIN_CORE_USER: the 'OneLogin Core User Schema' template of
    https://developers.onelogin.com/scim/define-user-schema rendered ("the minimum set of attributes
    required by the OneLogin provisioning service"): no emails, no displayName, a SCIM 1.1 schema URN.

    Off: 201, displayName "Ada Lovelace" from name.formatted; the Members page shows the userName.
    On: 400 invalidValue.
    """
    scim = _source(client, runner, org, rule)
    sent = idp.ONELOGIN_CORE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email=None)
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


# ---------------------------------------------------------------- authentik

#: the default mapping's body before displayName and active were added (revision 017b470b of
#: blueprints/system/providers-scim.yaml, AUTHENTIK_DEFAULT_USER_MAPPING_EXPRESSION's docstring)
AUTHENTIK_CREATE_USER_OLDER_MAPPING = _without(idp.AUTHENTIK_CREATE_USER, "displayName", "active")


@BOTH_RULES
def test_authentik_default_mapping_without_display_name_authentik_rfc7643_2_4(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """AUTHENTIK_CREATE_USER as the older default mapping sends it (no displayName, no active): source
    github.com/goauthentik/authentik, authentik/providers/scim/tests/test_user.py ``test_user_create`` and
    blueprints/system/providers-scim.yaml. userName "ada" is the authentik username; the only email has
    ``type: "other"``, ``primary: true``.

    Off: 201; the stored email is that "other" one (no "work" entry, so the primary one: RFC 7643 §2.4),
    displayName "Ada Lovelace" from name.formatted. On: 400 invalidValue.
    """
    scim = _source(client, runner, org, rule)
    sent = AUTHENTIK_CREATE_USER_OLDER_MAPPING
    response = scim.post("/Users", sent)
    if rule == "off":
        created = _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email="ada@example.test")
        assert created["active"] is True  # RFC 7643 §4.1.1: active when not said otherwise
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


@BOTH_RULES
def test_authentik_current_default_mapping_authentik_rfc7643_2_4(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """AUTHENTIK_CREATE_USER (verbatim shape of authentik's ``test_user_create``, values substituted):
    the current default mapping, with displayName. Off: 201, email the "other" one. On: 400 invalidValue:
    the "other" email is taken as the work email and the username "ada" is not it."""
    scim = _source(client, runner, org, rule)
    sent = idp.AUTHENTIK_CREATE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="Ada Lovelace", email="ada@example.test")
        return
    _assert_refused(scim, response, sent, MUST_EQUAL)


@BOTH_RULES
def test_authentik_user_without_email_authentik_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """AUTHENTIK_CREATE_USER_NO_EMAIL (reconstructed from AUTHENTIK_DEFAULT_USER_MAPPING_EXPRESSION:
    ``"emails": []`` and ``familyName: ""`` for a one-word name). Off: 201 with no email; the Members page
    shows the userName. On: 400 invalidValue (a work email is required)."""
    scim = _source(client, runner, org, rule)
    sent = idp.AUTHENTIK_CREATE_USER_NO_EMAIL
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="svc-backup", email=None)
        return
    _assert_refused(scim, response, sent, WORK_EMAIL_REQUIRED)


@pytest.mark.parametrize(
    "emails, stored",
    [
        ([{"value": "ada@example.test", "type": "other", "primary": True}], "ada@example.test"),
        (
            [
                {"value": "ada@example.test", "type": "other", "primary": True},
                {"value": "ada@work.test", "type": "Work"},
            ],
            "ada@work.test",
        ),
        (
            [
                {"value": "ada@home.test", "type": "home"},
                {"value": "ada@example.test", "type": "other", "primary": True},
            ],
            "ada@example.test",
        ),
        ([{"value": "ada@home.test", "type": "home"}, {"value": "ada@example.test", "type": "other"}], "ada@home.test"),
    ],
    ids=["other-primary", "work-beats-primary", "primary-beats-first", "else-first"],
)
def test_stored_email_is_work_else_primary_else_first_rfc7643_2_4(
    app: Any, client: Any, runner: Any, org: Any, emails: list[dict[str, Any]], stored: str
) -> None:
    """Which of several emails is the member's email (rule off): the "work" one (type compared without
    case), else the primary one, else the first (RFC 7643 §2.4). Shapes on AUTHENTIK_CREATE_USER's."""
    scim = _source(client, runner, org, "off")
    sent = _with(AUTHENTIK_CREATE_USER_OLDER_MAPPING, emails=emails)
    _assert_created(app, org, scim, scim.post("/Users", sent), sent, display_name="Ada Lovelace", email=stored)


def test_authentik_other_email_type_round_trips_rfc7643_2_4(client: Any, runner: Any, org: Any) -> None:
    """AUTHENTIK_CREATE_USER's email ``{"type": "other", "primary": true}`` is read back as sent by
    GET /Users/{id} (RFC 7643 §2.4: type and primary are the client's; RFC 7644 §3.4.1)."""
    scim = _source(client, runner, org, "off")
    created = scim.post("/Users", idp.AUTHENTIK_CREATE_USER).get_json()
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    assert fetched["emails"] == [{"value": "ada@example.test", "type": "other", "primary": True}]


# ---------------------------------------------------------------- generic SCIM clients


@BOTH_RULES
def test_generic_random_user_name_and_random_email_scim2_tester_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """SCIM2_TESTER_CREATE_USER with an email as scim2-tester fills one (github.com/python-scim/scim2-tester,
    scim2_tester/filling.py: a random UUID as userName, ``f"{uuid4()}@{uuid4()}.com"`` as emails[].value).

    Off: 201; no name at all, so displayName is the userName; the email is stored. On: 400 invalidValue.
    """
    scim = _source(client, runner, org, rule)
    sent = _with(
        idp.SCIM2_TESTER_CREATE_USER,
        userName=str(uuid.uuid4()),
        emails=[{"value": f"{uuid.uuid4()}@{uuid.uuid4()}.com"}],
    )
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name=sent["userName"], email=sent["emails"][0]["value"])
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


@BOTH_RULES
def test_generic_user_without_email_scim2_tester_rfc7643_4_1_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """SCIM2_TESTER_CREATE_USER (reconstructed from scim2-tester's ``crud:create`` check,
    github.com/python-scim/scim2-tester, scim2_tester/checkers/resource_post.py): only a random userName.
    Off: 201, displayName = userName, no email; the Members page shows the userName. On: 400 invalidValue."""
    scim = _source(client, runner, org, rule)
    sent = idp.SCIM2_TESTER_CREATE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name=sent["userName"], email=None)
        return
    _assert_refused(scim, response, sent, DISPLAY_NAME_REQUIRED)


@BOTH_RULES
def test_ms_scim_reference_user_capitalised_primary_rfc7643_2_1(
    app: Any, client: Any, runner: Any, org: Any, rule: str
) -> None:
    """MS_SCIM_REFERENCE_USER (verbatim but externalId: github.com/AzureAD/SCIMReferenceCode,
    Microsoft.SCIM.PlaywrightTests/json/user1.json): userName "UserName123", two emails spelt ``"Primary"``
    (names are case-insensitive, RFC 7643 §2.1). Off: 201, the work email stored. On: 400 invalidValue."""
    scim = _source(client, runner, org, rule)
    sent = idp.MS_SCIM_REFERENCE_USER
    response = scim.post("/Users", sent)
    if rule == "off":
        _assert_created(app, org, scim, response, sent, display_name="BobIsAmazing", email="testing@bob.com")
        return
    _assert_refused(scim, response, sent, MUST_EQUAL)


# ---------------------------------------------------------------- multi-valued PATCH by filter


def test_mobile_only_user_edited_by_filter_entra_rfc7644_3_5_2_3(app: Any, client: Any, runner: Any, org: Any) -> None:
    """A user with only a mobile phone, then Entra's path ``phoneNumbers[type eq "mobile"].value``
    (ENTRA_PATCH_PHONE_AND_ADDRESS_PATHS, reconstructed from the mapping ``mobile ->
    phoneNumbers[type eq "mobile"].value`` of
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups;
    "Replace" for a changed value, ENTRA_KNOWN_ISSUES_URL).

    RFC 7644 §3.5.2.3: the replace changes the value of the entry the filter matches, and only it;
    the phone keeps its type (RFC 7643 §2.4), GET returns the one mobile number with the new value.
    """
    scim = _source(client, runner, org, None, provider="entra")
    sent = _with(
        idp.ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL, phoneNumbers=[{"value": "+1 303 555 0101", "type": "mobile"}]
    )
    created = scim.post("/Users", sent)
    assert created.status_code == 201, created.get_json()
    url = f"/Users/{created.get_json()['id']}"
    response = scim.ops(
        url, {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 303 555 0111"}
    )
    assert response.status_code == 200, response.get_json()
    for resource in (response.get_json(), scim.get(url).get_json()):
        assert resource["phoneNumbers"] == [{"value": "+1 303 555 0111", "type": "mobile"}], resource
    with app.app_context():
        assert db.session.scalar(sa.select(Member.mobile)) == "+1 303 555 0111"


# ---------------------------------------------------------------- group adoption


@pytest.mark.parametrize(
    "provider, body",
    [("okta", idp.OKTA_CREATE_GROUP), ("entra", _without(idp.ENTRA_CREATE_GROUP, "displayName"))],
    ids=["okta", "entra"],
)
def test_group_made_in_the_console_is_adopted_by_post_groups_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any, provider: str, body: dict[str, Any]
) -> None:
    """A user group made in the console, then the source's POST /Groups with the same displayName
    (OKTA_CREATE_GROUP, verbatim: 'Create Groups' of https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20;
    ENTRA_CREATE_GROUP, verbatim: 'Group Operations' > 'Create Group' of
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups):
    201 (RFC 7644 §3.3) with the console's group, now linked to the source: one group of that name,
    its SCIM id the console group's, its data source the sync source."""
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    made = console.post("/organization/groups/new", {"display_name": "Engineering", "description": ""})
    assert made.status_code in (200, 302), made.get_data(as_text=True)
    with app.app_context():
        hand_made = db.session.scalar(sa.select(UserGroup).where(UserGroup.display_name == "Engineering"))
        assert hand_made is not None and hand_made.source_id is None
        hand_made_id = hand_made.public_id
    scim = _source(client, runner, org, None, provider=provider)
    response = scim.post("/Groups", _with(body, displayName="Engineering"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["id"] == hand_made_id
    with app.app_context():
        linked = db.session.execute(
            sa.select(UserGroup.public_id, SyncSource.public_id)
            .join(SyncSource, SyncSource.id == UserGroup.source_id, isouter=True)
            .where(UserGroup.display_name == "Engineering")
        ).all()
    assert [tuple(row) for row in linked] == [(hand_made_id, scim.source.id)]
    assert scim.get(f"/Groups/{hand_made_id}").status_code == 200
