"""The seed's attribute table in code: SCIM User <-> member fields (DESIGN.md, "Attribute mapping").

| SCIM                                   | member field      |
|----------------------------------------|-------------------|
| userName                               | external_id       |
| emails (work, else primary, else first)| email             |
| enterprise department                  | department (name) |
| displayName                            | name              |
| enterprise employeeNumber              | employee_id       |
| userType                               | user_type -> workforce type by the source's rules |
| name.givenName / name.familyName       | first_name / last_name |
| title                                  | job_title (name)  |
| addresses (work/primary/first).country | work_country      |
| nickName                               | another_name      |
| phoneNumbers (work/primary/first).value| mobile            |
| enterprise manager                     | manager (reference as received) |
| externalId                             | scim_external_id  |
| active                                 | active (status active / inactive) |

The reverse direction is ``resources.user_to_scim``.
"""

from __future__ import annotations

from typing import Any


def pick(entries: list[dict[str, Any]] | None, type_: str = "work") -> dict[str, Any] | None:
    """The entry of ``type_`` (any case), else the primary one, else the first (the seed's work value).

    Of several entries of ``type_``, the primary one, else the first of them.
    """
    entries = entries or []
    typed = [entry for entry in entries if (entry.get("type") or "").lower() == type_]
    for entry in typed:
        if entry.get("primary") is True:
            return entry
    if typed:
        return typed[0]
    for entry in entries:
        if entry.get("primary"):
            return entry
    return entries[0] if entries else None


#: a loaded entry's keys -> their SCIM names (RFC 7643 §4.1.2); the others are spelt the same
_SCIM_KEYS = {"street_address": "streetAddress", "postal_code": "postalCode"}


def kept(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A multi-valued attribute as kept: each entry in its SCIM form, with only the sub-attributes sent.

    None when the attribute was not sent (an explicit empty list stays ``[]``); an entry
    left with nothing is dropped. ``primary`` stays only where it was sent (true or false).
    """
    if entries is None:
        return None
    out = []
    for entry in entries:
        shaped = {_SCIM_KEYS.get(key, key): value for key, value in entry.items() if value is not None}
        if shaped:
            out.append(shaped)
    return out


def member_values(user: dict[str, Any]) -> dict[str, Any]:
    """Member field values from a loaded SCIM User (``schemas.UserSchema``); ``active`` only when given.

    ``emails``, ``phone_numbers`` and ``addresses`` are kept as sent (``kept``); the
    member's email, mobile and work country derive from them by ``pick``.
    """
    name = user.get("name") or {}
    enterprise = user.get("enterprise") or {}
    emails = kept(user.get("emails"))
    phone_numbers = kept(user.get("phone_numbers"))
    addresses = kept(user.get("addresses"))
    email = pick(emails)
    phone = pick(phone_numbers)
    address = pick(addresses)
    values: dict[str, Any] = {
        "external_id": user.get("user_name"),
        "email": email.get("value") if email else None,
        "name": user.get("display_name"),
        "first_name": name.get("given_name"),
        "last_name": name.get("family_name"),
        # Not stored: what a missing displayName falls back to, where the source's rule allows one.
        "formatted_name": name.get("formatted"),
        "another_name": user.get("nick_name"),
        "employee_id": enterprise.get("employee_number"),
        "user_type": user.get("user_type"),
        "job_title": user.get("title"),
        "department": enterprise.get("department"),
        "work_country": address.get("country") if address else None,
        "mobile": phone.get("value") if phone else None,
        "manager": enterprise.get("manager"),
        "scim_external_id": user.get("external_id"),
        "emails": emails,
        "phone_numbers": phone_numbers,
        "addresses": addresses,
    }
    if user.get("active") is not None:
        values["active"] = user["active"]
    return values


def group_values(group: dict[str, Any]) -> dict[str, Any]:
    """Group values from a loaded SCIM Group (``schemas.GroupSchema``); member ids in order, once each."""
    members = [m["value"] for m in group.get("members") or [] if m.get("value")]
    return {
        "display_name": group.get("display_name"),
        "scim_external_id": group.get("external_id"),
        "member_ids": list(dict.fromkeys(members)),
    }
