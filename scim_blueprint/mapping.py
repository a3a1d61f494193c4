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
    """The entry of ``type_`` (any case), else the primary one, else the first (the seed's work value)."""
    entries = entries or []
    for entry in entries:
        if (entry.get("type") or "").lower() == type_:
            return entry
    for entry in entries:
        if entry.get("primary"):
            return entry
    return entries[0] if entries else None


def member_values(user: dict[str, Any]) -> dict[str, Any]:
    """Member field values from a loaded SCIM User (``schemas.UserSchema``); ``active`` only when given."""
    name = user.get("name") or {}
    enterprise = user.get("enterprise") or {}
    email = pick(user.get("emails"))
    phone = pick(user.get("phone_numbers"))
    address = pick(user.get("addresses"))
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
