"""Every writable attribute the catalogue advertises (and /Schemas publishes) round-trips exactly
through POST, PUT and PATCH (RFC 7643 §7 mutability readWrite; issue 3, /Schemas)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scim_blueprint import resources
from tests.scim.conftest import ENTERPRISE, Scim, sync_logs, user

pytestmark = pytest.mark.both_databases

#: one value per writable attribute path, as a client would send it
SAMPLES: dict[str, Any] = {
    "name.givenName": "Grace",
    "name.familyName": "Hopper",
    "displayName": "Grace Hopper",
    "nickName": "Amazing",
    "title": "Rear Admiral",
    "userType": "Contractor",
    "active": False,
    "phoneNumbers.value": "+1 202 555 0101",
    "phoneNumbers.display": "+1 (202) 555-0101",
    "phoneNumbers.type": "work",
    "phoneNumbers.primary": True,
    "addresses.formatted": "1 Navy Way\nArlington, VA 22202\nUS",
    "addresses.streetAddress": "1 Navy Way",
    "addresses.locality": "Arlington",
    "addresses.region": "VA",
    "addresses.postalCode": "22202",
    "addresses.country": "US",
    "addresses.type": "work",
    "addresses.primary": True,
    "emails.value": None,
    "emails.display": "Grace at work",
    "emails.type": "work",
    "emails.primary": True,
    "userName": None,
    f"{ENTERPRISE}:employeeNumber": "42",
    f"{ENTERPRISE}:department": "Navy",
    f"{ENTERPRISE}:manager.value": "grace-manager-ref",
    "externalId": "ext-grace",
}


def _writable(attributes: tuple[resources.Attribute, ...], prefix: str = "") -> Iterator[str]:
    for attr in attributes:
        if attr.mutability not in ("readWrite", "immutable", "writeOnly"):
            continue
        path = f"{prefix}{attr.name}"
        if attr.sub_attributes:
            yield from _writable(attr.sub_attributes, f"{path}.")
        else:
            yield path


WRITABLE = [
    *_writable(resources.USER_ATTRIBUTES),
    *_writable(resources.COMMON_ATTRIBUTES),
    *(f"{ENTERPRISE}:{p}" for p in _writable(resources.ENTERPRISE_ATTRIBUTES)),
]


def test_catalogue_writable_attributes_all_have_samples_rfc7643_7() -> None:
    assert set(WRITABLE) <= set(SAMPLES), set(WRITABLE) - set(SAMPLES)


def _get(document: dict[str, Any], path: str) -> Any:
    container = document
    if path.startswith(ENTERPRISE):
        container, path = document.get(ENTERPRISE, {}), path[len(ENTERPRISE) + 1 :]
    head, _, sub = path.partition(".")
    value = container.get(head)
    if sub:
        value = value[0].get(sub) if isinstance(value, list) else (value or {}).get(sub)
    return value


def _full_user(email: str) -> dict[str, Any]:
    return user(
        email,
        name={"givenName": "Grace", "familyName": "Hopper"},
        displayName="Grace Hopper",
        nickName="Amazing",
        title="Rear Admiral",
        userType="Contractor",
        active=False,
        emails=[{"value": email, "display": "Grace at work", "type": "work", "primary": True}],
        phoneNumbers=[{"value": "+1 202 555 0101", "display": "+1 (202) 555-0101", "type": "work", "primary": True}],
        addresses=[
            {
                "formatted": "1 Navy Way\nArlington, VA 22202\nUS",
                "streetAddress": "1 Navy Way",
                "locality": "Arlington",
                "region": "VA",
                "postalCode": "22202",
                "country": "US",
                "type": "work",
                "primary": True,
            }
        ],
        externalId="ext-grace",
        **{ENTERPRISE: {"employeeNumber": "42", "department": "Navy", "manager": {"value": "grace-manager-ref"}}},
    )


@pytest.mark.parametrize("path", [p for p in WRITABLE if SAMPLES.get(p) is not None])
def test_writable_attribute_round_trips_through_post_put_and_patch_rfc7643_7(scim: Scim, path: str) -> None:
    expected = SAMPLES[path]
    created = scim.post("/Users", _full_user("grace@acme.test")).get_json()
    assert _get(created, path) == expected
    assert _get(scim.get(f"/Users/{created['id']}").get_json(), path) == expected
    put = scim.put(f"/Users/{created['id']}", _full_user("grace@acme.test")).get_json()
    assert _get(put, path) == expected
    assert scim.put(f"/Users/{created['id']}", user("grace@acme.test")).status_code == 200  # cleared
    patch_path = (
        path.replace(".", '[type eq "work"].', 1)
        if path.split(".")[0] in ("phoneNumbers", "addresses")
        else path.replace(":manager.value", ":manager")
    )
    if path.endswith(".type"):
        return  # the type is the filter of the entry itself
    patched = scim.ops(f"/Users/{created['id']}", {"op": "replace", "path": patch_path, "value": expected})
    assert patched.status_code == 200, patched.get_json()
    assert _get(patched.get_json(), path) == expected


def test_password_in_a_patch_never_reaches_the_sync_log_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    """Issue 3, Sync log: the request body is stored with secrets removed (Okta pushes passwords by PATCH)."""
    created = scim.create_user()
    scim.ops(
        f"/Users/{created['id']}",
        {"op": "replace", "value": {"password": "T0p-secret"}},
        {"op": "replace", "path": "password", "value": "T0p-secret"},
    )
    assert "T0p-secret" not in str([r.request_body for r in sync_logs(app)])
