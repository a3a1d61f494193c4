"""SCIM 2.0 request bodies as identity providers document sending them.

For the issue "Every identity provider's users as they send them".

Pure test data: dict/list/str constants only, no test functions, no imports from the app.
Each constant has a docstring (the string right after it) that names the document it
comes from (URL + section) and says whether the body is

* **verbatim**: copied from the document, JSON ``null``/``true``/``false`` written as
  ``None``/``True``/``False``, sample values kept as printed unless they were template
  placeholders (then replaced by ``example.test`` values and said so); or
* **reconstructed**: no verbatim body was found; the docstring says which documented
  facts the shape is built from, and what is guessed.

Sources were read from stored copies (the docs' own Git repositories where they exist:
``MicrosoftDocs/entra-docs``, ``okta/okta-developer-docs``, ``goauthentik/authentik``,
``AzureAD/SCIMReferenceCode``, ``python-scim/scim2-tester``); the public URL is given.

Things a receiver must cope with, seen in these documented bodies:

* ``userName`` is often **not** the work email (Entra: UPN or a GUID-like test name;
  Okta: the Okta login; authentik: the username; OneLogin: the ``scimusername`` parameter,
  "Username" by default; scim2-tester: a random UUID).
* A user can arrive with **no email at all** (Entra users without an Exchange mailbox,
  authentik users without an email, OneLogin's core template, scim2-tester).
* No ``displayName`` (Entra's documented Create User; OneLogin templates; older authentik).
* Email ``type`` is ``"work"`` (Entra, Okta, OneLogin), ``"other"`` (authentik), or absent.
* PATCH ops in any case (``Add``/``Replace``/``Remove`` from Entra), valuePath paths
  (``emails[type eq "work"].value``), path-less ``value`` objects, and even dotted keys
  inside a path-less value (Entra's ``aadOptscim062020`` flag), ``"False"`` as a string.

JumpCloud "Test Connection": see :data:`JUMPCLOUD_TEST_CONNECTION_SEQUENCE`.
"""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
"""RFC 7643 §4.1 core User schema URN."""

ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
"""RFC 7643 §4.3 enterprise User extension URN."""

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
"""RFC 7643 §4.2 Group schema URN."""

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
"""RFC 7644 §3.5.2 PatchOp message URN."""


# =====================================================================================
# Microsoft Entra ID (Azure AD) provisioning service
# =====================================================================================

ENTRA_TUTORIAL_URL = (
    "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups"
)
"""'Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID'
(source: MicrosoftDocs/entra-docs, docs/identity/app-provisioning/use-scim-to-provision-users-and-groups.md)."""

ENTRA_KNOWN_ISSUES_URL = (
    "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/"
    "application-provisioning-config-problem-scim-compatibility"
)
"""'Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra user
provisioning service' (source: MicrosoftDocs/entra-docs,
docs/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility.md)."""

ENTRA_TEST_CONNECTION_FILTER = 'userName eq "0d5a4a64-7c1f-4a4e-9e1b-4e5f8b2c3d10"'
"""Reconstructed filter of Entra's **Test Connection** probe.

Source: ENTRA_TUTORIAL_URL, section 'Integrate your SCIM endpoint with the Microsoft Entra
provisioning service' > 'Getting started', note under step 'Select Test Connection':
"Test Connection queries the SCIM endpoint for a user that doesn't exist, using a random GUID
as the matching property selected in the Microsoft Entra configuration. The expected correct
response is HTTP 200 OK with an empty SCIM ListResponse message."  The matching property is
``userName`` by default (section 'Understand the Microsoft Entra SCIM implementation': users are
"queried with their username and externalId"); the GUID here is made up. Sent as
``GET /Users?filter=<this>``. The same section also says Entra "makes requests to fetch a random
user and group to ensure that the endpoint and the credentials are valid".
"""

ENTRA_CREATE_USER: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [
        {
            "primary": True,
            "type": "work",
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        }
    ],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
}
"""VERBATIM. Entra's documented ``POST /Users``.

Source: ENTRA_TUTORIAL_URL, section 'SCIM protocol requests and responses' > 'User Operations'
> 'Create User' > 'Request' (*POST /Users*). Older revisions of the same page (azure-docs,
articles/active-directory/app-provisioning/use-scim-to-provision-users-and-groups.md) print the
same body with ``Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1`` /
``Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com``.
Notes: **no displayName**; ``userName`` is not an email and differs from the work email;
the client sends ``meta`` and an empty ``roles`` list; the enterprise schema is listed in
``schemas`` with no enterprise attributes in the body.
"""

ENTRA_PROVISION_USER_EXAMPLE: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
    ],
    "externalId": "jyoung",
    "userName": "jyoung@testuser.com",
    "active": True,
    "addresses": None,
    "displayName": "Joy Young",
    "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}],
    "meta": {"resourceType": "User"},
    "name": {"familyName": "Young", "givenName": "Joy"},
    "phoneNumbers": None,
    "preferredLanguage": None,
    "title": None,
    "department": None,
    "manager": None,
}
"""VERBATIM (including the document's typos). Entra's second documented ``POST /Users``.

Source: ENTRA_TUTORIAL_URL, section 'Build a SCIM endpoint' > 'Handling provisioning and
deprovisioning of users' > 'Example 2. Provision a user'.
Notes: ``userName`` (``jyoung@testuser.com``) differs from the work email
(``jyoung@Contoso.com``, mixed case); ``externalId`` is the mailNickname; explicit JSON ``null``
values; ``department``/``manager`` at the top level (not under the extension); and the second
schema URN is misspelt ``...enterprise:2.0User`` (no colon) in the document.
"""

ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "ada",
    "userName": "ada@contoso.onmicrosoft.com",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "ada.lovelace@example.test"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
    "roles": [],
}
"""RECONSTRUCTED. A cloud-only Entra user whose UPN is not her mail address.

Shape: ENTRA_CREATE_USER (verbatim shape). Mapping facts: ENTRA_TUTORIAL_URL, section 'Design
your user and group schema', tables: ``user-PrincipalName -> userName``,
``mail -> emails[type eq "work"].value``, ``mailNickname -> externalId``; required-attribute table
``loginName | userName | userPrincipalName`` and ``workMail | emails[type eq "work"].value | Mail``.
Values are invented (``*.onmicrosoft.com`` is the shape of a tenant's initial UPN domain).
"""

ENTRA_CREATE_USER_NO_EMAILS: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "grace",
    "userName": "grace@contoso.onmicrosoft.com",
    "active": True,
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
    "roles": [],
}
"""RECONSTRUCTED. An Entra user without a mailbox: no ``emails`` attribute at all.

Facts: ``emails[type eq "work"].value`` is mapped from ``mail`` (ENTRA_TUTORIAL_URL, mapping
tables), and "The value of the **mail** user attribute in Microsoft Entra ID is only populated
if the user has a Microsoft Exchange Mailbox" (Microsoft Learn, 'Tutorial: Configure Atlassian
Cloud for automatic user provisioning with Microsoft Entra ID', section 'Connector Limitations',
https://learn.microsoft.com/en-us/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial;
also MicrosoftDocs/azure-docs issue #49611). That Entra *omits* the attribute rather than sending
``null`` is NOT stated in the Microsoft pages found; it is reported in smallstep/docs PR #537
("Entra skips null attributes rather than sending them"). Shape as ENTRA_CREATE_USER.
"""

ENTRA_PATCH_REPLACE_USERNAME: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}],
}
"""VERBATIM. Entra renames a user (UPN change): ``PATCH /Users/5171a35d82074e068ce2``.

Source: ENTRA_TUTORIAL_URL, 'User Operations' > 'Update User [Single-valued properties]' > 'Request'.
Note the capitalised ``"Replace"``.
"""

ENTRA_PATCH_MULTI_VALUED: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ],
}
"""VERBATIM. ``PATCH /Users/6764549bef60420686bc``: valuePath on ``emails[type eq "work"]``.

Source: ENTRA_TUTORIAL_URL, 'User Operations' > 'Update User [Multi-valued properties]' > 'Request'.
"""

ENTRA_PATCH_REPLACE_MULTIPLE_ATTRIBUTES: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj",
        },
    ],
}
"""VERBATIM. Entra's default (no feature flag) multi-attribute update.

Source: ENTRA_KNOWN_ISSUES_URL, section 'Flags to alter the SCIM behavior' > 'Requests to
replace multiple attributes' > 'Without feature flag'.
"""

ENTRA_PATCH_REPLACE_MULTIPLE_ATTRIBUTES_SCIM_COMPLIANT: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            },
        },
    ],
}
"""VERBATIM. The same update with the ``aadOptscim062020`` flag: a path-less ``value`` whose keys
are attribute *paths* (``name.givenName``, a fully-qualified enterprise attribute).

Source: ENTRA_KNOWN_ISSUES_URL, 'Requests to replace multiple attributes' > 'With feature flag'.
The page says this behaviour "will become the default behavior over the next few months".
"""

ENTRA_PATCH_DISABLE_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}
"""VERBATIM. Entra disables a user, default behaviour: ``"value": "False"`` is a **string**.

Source: ENTRA_KNOWN_ISSUES_URL, 'Requests made to disable users' > 'Without feature flag'.
(The tutorial's 'Disable User' request shows the boolean form, op ``Replace``, Operations first.)
"""

ENTRA_PATCH_DISABLE_USER_SCIM_COMPLIANT: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}
"""VERBATIM. Same, with the ``aadOptscim062020`` flag (boolean, lower-case op).

Source: ENTRA_KNOWN_ISSUES_URL, 'Requests made to disable users' > 'With feature flag'.
"""

ENTRA_PATCH_ADD_MANAGER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "Add",
            "path": "manager",
            "value": [
                {
                    "$ref": "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                    "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                }
            ],
        }
    ],
}
"""VERBATIM. Entra sets a manager: path ``manager`` (not the enterprise URN), value a *list*.

Source: ENTRA_TUTORIAL_URL, 'Handling provisioning and deprovisioning of users' > 'Example 5.
Request from Microsoft Entra ID to an SCIM endpoint to update a user'. ``http://...`` is printed
so in the document.
"""

ENTRA_PATCH_PHONE_AND_ADDRESS_PATHS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 303 555 0101"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 303 555 0100"},
        {"op": "Add", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 303 555 0199"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.lovelace@example.test"},
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Boulder"},
        {"op": "Add", "path": 'addresses[type eq "work"].region', "value": "CO"},
        {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "80301"},
        {"op": "Add", "path": 'addresses[type eq "work"].country', "value": "US"},
    ],
}
"""RECONSTRUCTED. Entra updating phone and address attributes through valuePath paths.

No Microsoft page found prints a PATCH with these paths. The paths are Entra's documented target
attributes: ENTRA_TUTORIAL_URL, section 'Design your user and group schema', user-attribute table
(``mobile -> phoneNumbers[type eq "mobile"].value``, ``telephone-Number ->
phoneNumbers[type eq "work"].value``, ``Facsimile-TelephoneNumber -> phoneNumbers[type eq "fax"].value``,
``streetAddress -> addresses[type eq "work"].streetAddress``, ``postalCode ->
addresses[type eq "work"].postalCode``); 'Microsoft Entra ID SCIM API schema documentation'
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/entra-id-scim-api-schema-documentation,
'User - Core': ``addresses[type eq "work"].locality | city``, ``.region | state``, "Only one addresses
value is allowed, and it requires a type of 'work'"). The op spelling (``Add`` for newly set values,
``Replace`` for changed ones) follows ENTRA_KNOWN_ISSUES_URL ('Requests to add a single-value string
attribute' without flag uses ``"op": "Add"``); a third-party capture of an Entra PATCH with exactly
these ``Add`` paths is in the README of github.com/Great-Side-Projects/scim-service-server
(section 'PATCH /Users/{id}'). Values are invented.
"""

ENTRA_CREATE_GROUP: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
    ],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}
"""VERBATIM. Entra's ``POST /Groups``: no ``members`` (groups are "created with an empty members
list"; members follow by PATCH), plus a Microsoft schema URN.

Source: ENTRA_TUTORIAL_URL, 'Group Operations' > 'Create Group' > 'Request'.
"""

ENTRA_PATCH_GROUP_ADD_MEMBERS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}],
}
"""VERBATIM. ``PATCH /Groups/a99962b9f99d4c4fac67`` adding a member; ``"$ref": null``.

Source: ENTRA_TUTORIAL_URL, 'Group Operations' > 'Update Group [Add Members]' > 'Request'.
Expected response: 204 No Content.
"""

ENTRA_PATCH_GROUP_REMOVE_MEMBERS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}],
}
"""VERBATIM. ``PATCH /Groups/a99962b9f99d4c4fac67`` removing a member by ``value`` list (not a filter).

Source: ENTRA_TUTORIAL_URL, 'Group Operations' > 'Update Group [Remove Members]' > 'Request'.
(ENTRA_KNOWN_ISSUES_URL, 'Requests made to remove a group member' > 'Without feature flag', shows the
same without ``$ref``; for the flagged form see ENTRA_PATCH_GROUP_REMOVE_MEMBER_SCIM_COMPLIANT.)
"""

ENTRA_PATCH_GROUP_REMOVE_MEMBER_SCIM_COMPLIANT: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "remove", "path": 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]'}],
}
"""VERBATIM. Member removal with the ``aadOptscim062020`` flag (valuePath filter, no value).

Source: ENTRA_KNOWN_ISSUES_URL, 'Requests made to remove a group member' > 'With feature flag'.
"""

ENTRA_PATCH_GROUP_RENAME: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}
    ],
}
"""VERBATIM. ``PATCH /Groups/fa2ce26709934589afc5``.

Source: ENTRA_TUTORIAL_URL, 'Group Operations' > 'Update Group [Non-member attributes]' > 'Request'.
"""


# =====================================================================================
# Okta (SCIM 2.0 app integrations)
# =====================================================================================

OKTA_SCIM20_URL = "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20"
"""'Okta and SCIM Version 2.0' (SCIM 2.0 protocol reference). Source: okta/okta-developer-docs,
packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md (formerly
https://developer.okta.com/docs/reference/scim/scim-20/)."""

OKTA_USER_LOOKUP_QUERY = "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"
"""VERBATIM query string of Okta's pre-create lookup ``GET /scim/v2/Users?<this>``
(``User-Agent: Okta SCIM Client 1.0.0``).

Source: OKTA_SCIM20_URL, 'SCIM User operations' > 'Create Users' > 'Determine if the User already
exists'. Okta accepts either an empty ListResponse or a 404 error body when nobody matches.
"""

OKTA_CREATE_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
"""VERBATIM. Okta's ``POST /scim/v2/Users``.

Source: OKTA_SCIM20_URL, 'SCIM User operations' > 'Create Users' > 'Create the User'.
Notes: carries a ``password`` and an empty ``groups`` list; ``userName`` is the Okta
application username (see OKTA_CREATE_USER_LOGIN_DIFFERS_FROM_EMAIL).
"""

OKTA_CREATE_USER_LOGIN_DIFFERS_FROM_EMAIL: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "jdoe@acme.com",
    "name": {"givenName": "John", "familyName": "Doe"},
    "emails": [{"primary": True, "value": "john.doe@acme.com", "type": "work"}],
    "displayName": "John Doe",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h8",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
"""RECONSTRUCTED. Okta user whose login (``jdoe@acme.com``) is not the email (``john.doe@acme.com``).

Shape: OKTA_CREATE_USER (verbatim). Facts: "The default username format for SCIM integrations is
to use the Okta Username" (Okta support, 'How to Change Username Format for SCIM Integrations With
Specific Requirements',
https://support.okta.com/help/s/article/how-to-change-username-format-for-scim-integrations-with-specific-requirements;
presets include Okta Username ``user.login``, Email ``user.email``, Email Prefix, per
https://support.okta.com/help/s/article/Application-Usernames-are-not-being-updated-automatically);
Okta's 'Build your SCIM API service' guide (section 'Basic user schema') lists ``userName`` and
``emails`` as separate required attributes and says "Keep your user ID value distinct from the
user's email address". Values from the issue text; externalId invented.
"""

OKTA_PATCH_DEACTIVATE_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}
"""VERBATIM. Okta deactivates a user with a path-less replace (OIN integrations; AIW apps use PUT).

Source: OKTA_SCIM20_URL, 'Update a specific User (PATCH)'.
"""

OKTA_CREATE_GROUP: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "displayName": "Test SCIMv2",
    "members": [],
}
"""VERBATIM. Okta Group Push: ``POST /scim/v2/Groups``.

Source: OKTA_SCIM20_URL, 'SCIM Group operations' > 'Create Groups'.
"""

OKTA_PATCH_GROUP_MEMBERS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "remove", "path": 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]'},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}],
        },
    ],
}
"""VERBATIM. ``PATCH /scim/v2/Groups/abf4dd94-a4c0-4f67-89c9-76b03340cb9b``: remove by filter, add by list.

Source: OKTA_SCIM20_URL, 'Update specific Group membership'. ``display`` is the member's userName.
"""

OKTA_PATCH_GROUP_REPLACE_MEMBERS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "replace",
            "path": "members",
            "value": [
                {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
                {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"},
            ],
        }
    ],
}
"""VERBATIM. Okta's full membership push with ``replace``.

Source: OKTA_SCIM20_URL, 'Update specific Group membership' (second request).
"""

OKTA_PATCH_GROUP_RENAME: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}
    ],
}
"""VERBATIM. Okta group name update: path-less replace whose value includes ``id``; sent "each time
there is a group membership update operation".

Source: OKTA_SCIM20_URL, 'Update a specific Group name'.
"""


# =====================================================================================
# OneLogin (SCIM Provisioner with SAML connectors)
# =====================================================================================

ONELOGIN_DEFINE_USER_SCHEMA_URL = "https://developers.onelogin.com/scim/define-user-schema"
"""OneLogin Developers, 'Step 1. Define Your SCIM User Schema'."""

ONELOGIN_CORE_USER_TEMPLATE: dict[str, Any] = {
    "schemas": ["urn:scim:schemas:core:1.0"],
    "userName": "{$parameters.scimusername}",
    "name": {
        "givenName": "{$user.firstname}",
        "familyName": "{$user.lastname}",
        "formatted": "{$user.display_name}",
    },
}
"""VERBATIM template (placeholders kept). 'OneLogin Core User Schema', "the minimum set of
attributes required by the OneLogin provisioning service".

Source: ONELOGIN_DEFINE_USER_SCHEMA_URL. No ``emails``, no ``displayName``; SCIM 1.1 schema URN.
"""

ONELOGIN_ENTERPRISE_USER_TEMPLATE: dict[str, Any] = {
    "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
    "userName": "{$parameters.scimusername}",
    "name": {
        "familyName": "{$user.lastname}",
        "givenName": "{$user.firstname}",
        "formatted": "{$user.display_name}",
    },
    "emails": {"value": "{$user.email}", "type": "work", "primary": True},
    "title": "{$parameters.title}",
    "urn:scim:schemas:extension:enterprise:1.0": {
        "department": "{$parameters.department}",
        "manager": {
            "managerId": "{$parameters.external_manager_id}",
            "displayName": "{$user.manager_firstname} {$user.manager_lastname}",
        },
    },
}
"""VERBATIM template (placeholders kept). 'OneLogin Enterprise User Schema'.

Source: ONELOGIN_DEFINE_USER_SCHEMA_URL. Note ``emails`` is a single *object*, not a list, and the
SCIM 1.1 URNs / ``managerId``.
"""

ONELOGIN_V2_ENTERPRISE_TEMPLATE_VENDOR: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "userName": "{$parameters.scimusername}",
    "name": {"familyName": "{$user.lastname}", "givenName": "{$user.firstname}"},
    "title": "{$parameters.title}",
    "userType": "{$parameters.userType}",
    "timezone": "{$parameters.timezone}",
    "emails": [{"value": "{$user.email}", "type": "work", "primary": True}],
    "addresses": [{"locality": "{$user.city}", "region": "{$user.state}", "country": "{$user.country}"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "organization": "{$parameters.organization}",
        "division": "{$parameters.division}",
        "department": "{$parameters.department}",
        "manager": {
            "value": "{$parameters.external_manager_id}",
            "displayName": "{$user.manager_firstname} {$user.manager_lastname}",
        },
    },
}
"""VERBATIM template, but NOT OneLogin's own default: a vendor's template for the
'SCIM Provisioner with SAML (SCIM v2 Enterprise)' connector.

OneLogin's *default* SCIM JSON Template text for the v2 Enterprise connector was **not found** in the
stored sources (OneLogin KB0013904 'Creating SCIM Custom Connectors',
https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904, describes the
connector but its template text was not retrievable). This one is from Living Security, 'Configuring
SCIM for OneLogin' (https://www.livingsecurity.com/migration/support/configuring-scim-for-onelogin),
step 7. Other vendors' v2 templates seen: Docker Hub (core 2.0, ``emails`` without ``type``),
Burp Suite DAST (``type: "work"`` plus ``displayName``), ConfigCat (only ``userName`` +
``displayName``). Note ``addresses`` without ``type``.
"""

ONELOGIN_V2_ENTERPRISE_USER: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "userName": "alovelace",
    "name": {"familyName": "Lovelace", "givenName": "Ada"},
    "title": "Analyst",
    "userType": "Employee",
    "timezone": "Europe/London",
    "emails": [{"value": "ada.lovelace@example.test", "type": "work", "primary": True}],
    "addresses": [{"locality": "London", "region": "Greater London", "country": "GB"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "organization": "Analytical Engines",
        "division": "Research",
        "department": "Engineering",
        "manager": {"value": "charles.babbage", "displayName": "Charles Babbage"},
    },
}
"""RECONSTRUCTED rendering of ONELOGIN_V2_ENTERPRISE_TEMPLATE_VENDOR with example values.

``userName`` is the ``scimusername`` parameter, which "uses the Username attribute by default"
(OneLogin KB0013904, section 'Parameters'), so it need not be the email. No ``displayName``.
How OneLogin renders a template field whose OneLogin value is empty (empty string vs. omitted) is
not documented in the sources found.
"""

ONELOGIN_CORE_USER: dict[str, Any] = {
    "schemas": ["urn:scim:schemas:core:1.0"],
    "userName": "alovelace",
    "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
}
"""RECONSTRUCTED rendering of ONELOGIN_CORE_USER_TEMPLATE: a user with no ``emails`` at all and a
SCIM 1.1 schema URN. OneLogin "will set the $user.display_name value as a concatenation of the
firstname and lastname values" (ONELOGIN_DEFINE_USER_SCHEMA_URL). scim.dev's OneLogin guide
(https://scim.dev/guide/applications/onelogin) uses exactly this template against a ``/scim/v2/`` base URL.
"""


# =====================================================================================
# authentik (outgoing SCIM provider)
# =====================================================================================

AUTHENTIK_DEFAULT_USER_MAPPING_EXPRESSION = """\
# Some implementations require givenName and familyName to be set
givenName, familyName = request.user.name, ""
# This default sets givenName to the name before the first space
# and the remainder as family name
# if the user's name has no space the givenName is the entire name
# (this might cause issues with some SCIM implementations)
if " " in request.user.name:
    givenName, _, familyName = request.user.name.partition(" ")

# photos supports URLs to images, however authentik might return data URIs
avatar = request.user.avatar
photos = []
if "://" in avatar:
    photos = [{"value": avatar, "type": "photo"}]

locale = request.user.locale()
if locale == "":
    locale = None

emails = []
if request.user.email != "":
    emails.append({
        "value": request.user.email,
        "type": "other",
        "primary": True,
    })
return {
    "userName": request.user.username,
    "name": {
        "formatted": request.user.name,
        "givenName": givenName,
        "familyName": familyName,
    },
    "displayName": request.user.name,
    "photos": photos,
    "locale": locale,
    "active": request.user.is_active,
    "emails": emails,
}
"""
"""VERBATIM. The expression of the managed mapping "authentik default SCIM Mapping: User"
(``managed: goauthentik.io/providers/scim/user``).

Source: github.com/goauthentik/authentik, blueprints/system/providers-scim.yaml (commit 5d88802c).
An older revision (017b470b) has no ``displayName`` and no ``active`` keys. The client adds ``schemas`` and, when
the mapping sets none, ``externalId = str(user.uid)`` (authentik/providers/scim/clients/users.py,
``to_schema``); ``None`` values are dropped (authentik/policies/utils.py ``delete_none_values``).
"""

AUTHENTIK_CREATE_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "active": True,
    "emails": [{"primary": True, "type": "other", "value": "ada@example.test"}],
    "externalId": "5f0c7a3e9b2d4c61a8e7f3b2d1c0a9e8f7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2",
    "name": {"familyName": "Lovelace", "formatted": "Ada Lovelace", "givenName": "Ada"},
    "displayName": "Ada Lovelace",
    "userName": "ada",
}
"""VERBATIM shape, values substituted. authentik's ``POST /Users`` with the default mapping.

Source: github.com/goauthentik/authentik, authentik/providers/scim/tests/test_user.py,
``SCIMUserTests.test_user_create`` (expected ``mock.request_history[1].body``), where the test user is
``username=uid, name=f"{uid} {uid}", email=f"{uid}@goauthentik.io"``; here uid -> ``ada`` /
``Ada Lovelace`` / ``ada@example.test`` and ``externalId`` (``user.uid``, a hex digest) is invented.
Notes: **userName is the authentik username, not the email**; email ``type`` is ``"other"``;
``locale``/``photos`` absent in the test (avatars disabled).
"""

AUTHENTIK_CREATE_USER_NO_EMAIL: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "active": True,
    "emails": [],
    "externalId": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
    "name": {"familyName": "", "formatted": "svc-backup", "givenName": "svc-backup"},
    "displayName": "svc-backup",
    "userName": "svc-backup",
}
"""RECONSTRUCTED. An authentik user with no email and a one-word name.

From AUTHENTIK_DEFAULT_USER_MAPPING_EXPRESSION: ``emails`` stays ``[]`` when ``request.user.email ==
""``, and a name without a space becomes ``givenName`` = whole name, ``familyName = ""``. Only
``None`` values are stripped (``delete_none_values``), so ``"emails": []`` and ``"familyName": ""``
are expected on the wire; no authentik test pins this body.
"""


# =====================================================================================
# JumpCloud (Identity Management > custom SCIM integration)
# =====================================================================================

JUMPCLOUD_CUSTOM_SCIM_URL = "https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration"
"""JumpCloud Support, 'Identity Management using a Custom SCIM Integration' (also at
https://support.jumpcloud.com/s/article/Custom-SCIM-Identity-Management)."""

JUMPCLOUD_TEST_CONNECTION_SEQUENCE: list[dict[str, Any]] = [
    {
        "method": "POST",
        "path": "/Users",
        "documented": True,
        "what": "create a test user; its email is the admin-entered 'Test User Email'",
    },
    {
        "method": "POST",
        "path": "/Groups",
        "documented": True,
        "what": "create a test group",
    },
    {
        "method": "DELETE",
        "path": "/Users/{id}",
        "documented": True,
        "what": "delete the test user; if DELETE is not supported for users, deactivate it instead",
    },
    {
        "method": "DELETE",
        "path": "/Groups/{id}",
        "documented": True,
        "what": "delete the test group (if DELETE is supported)",
    },
]
"""What JumpCloud's **Test Connection** does, as far as JumpCloud documents it.

Source: JUMPCLOUD_CUSTOM_SCIM_URL, section 'Considerations' / 'Important Considerations':
"A test user and test group are created to test the integration. Both will be deleted if the DELETE
method is supported by the service provider. If the DELETE method is not supported for users, then
the test user will be deactivated and will have to be manually deleted if allowed by the service
provider." and "You provide a test user account to allow validation with applications that require
verified domains for users." (the Identity Management tab's fields are Base URL, Token Key,
Test User Email, then 'Test Connection' and 'Activate'; also in vendor guides, e.g. BoxyHQ
https://boxyhq.com/docs/directory-sync/providers/jumpcloud, PropelAuth
https://docs.byo.propelauth.com/scim/example-setup-guides/jumpcloud). The same page warns: "Enter a
test email address for changing any settings, i.e., attributes or any other changes, in an active
SCIM configuration" (section 'Editing a Custom SCIM Identity Management Connector'), i.e. the test
runs again on every edit.

NOT documented (do not rely on it either way): the order of the user and group steps; whether a
``GET /Users?filter=userName eq "..."`` lookup precedes the POST (JumpCloud does log a
``user_lookup_provision`` event "when trying to lookup a user to determine if the user needs to be
created or updated" during normal provisioning, same page, 'SCIM DI User Events'); how
"deactivated" is sent (PATCH vs PUT ``active: false``); the exact test-user and test-group bodies.
"""

JUMPCLOUD_TEST_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "jumpcloud.test.user@example.test",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"value": "jumpcloud.test.user@example.test", "type": "work", "primary": True}],
    "active": True,
}
"""RECONSTRUCTED, mostly guessed. The test user JumpCloud's Test Connection POSTs.

No JumpCloud document shows this body. Only the email is known (the admin's 'Test User Email',
JUMPCLOUD_CUSTOM_SCIM_URL). ``userName`` = that email is an assumption: JumpCloud's pre-built
connector pages map JumpCloud ``username`` -> SCIM ``userName`` (e.g. 'Integrate with Heap',
https://jumpcloud.com/support/integrate-with-heap, 'Attribute Mappings'), and the custom connector's
mapping table was not retrievable. Names are invented.
"""


# =====================================================================================
# Generic SCIM clients / conformance tools
# =====================================================================================

SCIM2_TESTER_CREATE_USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "3f1c2b7e-8a4d-4f6b-9c0e-2d5a7b8c9e01",
}
"""RECONSTRUCTED. scim2-tester's ``crud:create`` check: a User with a random UUID as ``userName`` and
no email.

Source: github.com/python-scim/scim2-tester, scim2_tester/checkers/resource_post.py
(``object_creation``: "Creates a test object with all required fields populated with valid data";
in scim2-models ``User.user_name`` is the only ``Required.true`` attribute,
scim2_models/rfc7643/user.py) and scim2_tester/filling.py (``generate_random_value``: a string field
without ``examples`` gets ``str(uuid.uuid4())``; only ``emails[].value`` gets
``f"{uuid4()}@{uuid4()}.com"``). The UUID is fixed here.
"""

MS_SCIM_REFERENCE_USER: dict[str, Any] = {
    "userName": "UserName123",
    "active": True,
    "displayName": "BobIsAmazing",
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "externalId": "6b3f0c52-3d0a-4c8e-9f5e-1a2b3c4d5e6f",
    "name": {"formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan"},
    "emails": [
        {"Primary": True, "type": "work", "value": "testing@bob.com"},
        {"Primary": False, "type": "home", "value": "testinghome@bob.com"},
    ],
}
"""VERBATIM except ``externalId``. Microsoft's SCIM reference-code test user: ``userName`` is not an
email, and the sub-attribute is spelt ``"Primary"`` (attribute names are case-insensitive, RFC 7643 §2.1).

Source: github.com/AzureAD/SCIMReferenceCode, Microsoft.SCIM.PlaywrightTests/json/user1.json;
``"externalId": "${__UUID}"`` there is a template placeholder, replaced by a fixed UUID. (The same
folder's user_noname.json has no ``userName`` at all.) Note: Okta's Runscope 'Okta SCIM 2.0 Spec
Test' does NOT cover this case: its ``randomUsername`` is an email such as
``Runscope300Hfluaklab151@example.com`` (Okta, 'Build your SCIM API service' > 'Test your SCIM API').
"""


# =====================================================================================
# Indexes for parametrised tests
# =====================================================================================

USER_CREATE_PAYLOADS: dict[str, dict[str, Any]] = {
    "entra_create_user": ENTRA_CREATE_USER,
    "entra_provision_user_example": ENTRA_PROVISION_USER_EXAMPLE,
    "entra_upn_differs_from_mail": ENTRA_CREATE_USER_UPN_DIFFERS_FROM_MAIL,
    "entra_no_emails": ENTRA_CREATE_USER_NO_EMAILS,
    "okta_create_user": OKTA_CREATE_USER,
    "okta_login_differs_from_email": OKTA_CREATE_USER_LOGIN_DIFFERS_FROM_EMAIL,
    "onelogin_v2_enterprise_user": ONELOGIN_V2_ENTERPRISE_USER,
    "onelogin_core_user": ONELOGIN_CORE_USER,
    "authentik_create_user": AUTHENTIK_CREATE_USER,
    "authentik_no_email": AUTHENTIK_CREATE_USER_NO_EMAIL,
    "jumpcloud_test_user": JUMPCLOUD_TEST_USER,
    "scim2_tester_create_user": SCIM2_TESTER_CREATE_USER,
    "ms_scim_reference_user": MS_SCIM_REFERENCE_USER,
}
"""Every ``POST /Users`` body above, by name (templates excluded: they hold OneLogin placeholders)."""

USER_PATCH_PAYLOADS: dict[str, dict[str, Any]] = {
    "entra_replace_username": ENTRA_PATCH_REPLACE_USERNAME,
    "entra_multi_valued": ENTRA_PATCH_MULTI_VALUED,
    "entra_replace_multiple": ENTRA_PATCH_REPLACE_MULTIPLE_ATTRIBUTES,
    "entra_replace_multiple_scim_compliant": ENTRA_PATCH_REPLACE_MULTIPLE_ATTRIBUTES_SCIM_COMPLIANT,
    "entra_disable_user": ENTRA_PATCH_DISABLE_USER,
    "entra_disable_user_scim_compliant": ENTRA_PATCH_DISABLE_USER_SCIM_COMPLIANT,
    "entra_add_manager": ENTRA_PATCH_ADD_MANAGER,
    "entra_phone_and_address_paths": ENTRA_PATCH_PHONE_AND_ADDRESS_PATHS,
    "okta_deactivate_user": OKTA_PATCH_DEACTIVATE_USER,
}
"""Every ``PATCH /Users/{id}`` body above, by name."""

GROUP_PAYLOADS: dict[str, dict[str, Any]] = {
    "entra_create_group": ENTRA_CREATE_GROUP,
    "entra_add_members": ENTRA_PATCH_GROUP_ADD_MEMBERS,
    "entra_remove_members": ENTRA_PATCH_GROUP_REMOVE_MEMBERS,
    "entra_remove_member_scim_compliant": ENTRA_PATCH_GROUP_REMOVE_MEMBER_SCIM_COMPLIANT,
    "entra_rename_group": ENTRA_PATCH_GROUP_RENAME,
    "okta_create_group": OKTA_CREATE_GROUP,
    "okta_group_members": OKTA_PATCH_GROUP_MEMBERS,
    "okta_replace_members": OKTA_PATCH_GROUP_REPLACE_MEMBERS,
    "okta_rename_group": OKTA_PATCH_GROUP_RENAME,
}
"""Every ``/Groups`` body above (POST and PATCH), by name."""
