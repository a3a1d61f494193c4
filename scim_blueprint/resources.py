"""SCIM resource representations (RFC 7643 §4.1 User, §4.3 Group, §3.1 meta) and the attribute catalogue.

This module is the contract between the SCIM write endpoints and the query /
discovery endpoints:

- ``user_to_scim(member, base_url)`` / ``group_to_scim(group, base_url, include_members)``
  render a stored object as a full SCIM resource (no nulls, ``id`` a string,
  ``meta`` with an absolute ``location`` and a weak ``version``).
- ``resource_base_url()`` is ``{PUBLIC_BASE_URL or the request's root}/scim/v2/{source}``, built by
  ``portal.core.sync_sources.scim_base_url``.
- ``user_scope(source)`` / ``group_scope(source)``: the WHERE conditions of what a
  source sees. A source sees only the members and groups it manages (data source
  = this source): a member unlinked by the "Suspend member" deletion rule, or
  made by hand, answers 404 to it; suspended members it manages stay visible.
- Members are read as ``portal.core.members.MemberRecord`` (their departments
  and groups with them); ``GROUP_LOAD_OPTIONS`` are the loader options a group
  query needs so that rendering a page of groups costs no query per row.
- ``USER_ATTRIBUTES``, ``ENTERPRISE_ATTRIBUTES``, ``GROUP_ATTRIBUTES`` describe
  exactly what is stored and returned (RFC 7643 §7): /Schemas is built from them,
  and every ``readWrite`` attribute listed round-trips through POST, PUT and PATCH.
- ``project(resource, attributes, excluded_attributes)`` applies the
  ``attributes`` / ``excludedAttributes`` parameters (RFC 7644 §3.4.2.5, §3.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, request
from sqlalchemy import ColumnElement
from sqlalchemy.orm import selectinload

from portal.core.members import MemberRecord

# The URNs are defined once, in the core; the door's modules read them here as ``resources.USER_SCHEMA`` ...
# (``X as X``: an explicit re-export)
from portal.core.scim_urns import (
    ENTERPRISE_SCHEMA as ENTERPRISE_SCHEMA,
    GROUP_SCHEMA as GROUP_SCHEMA,
    LIST_SCHEMA as LIST_SCHEMA,
    PATCH_SCHEMA as PATCH_SCHEMA,
    SEARCH_SCHEMA as SEARCH_SCHEMA,
    USER_SCHEMA as USER_SCHEMA,
)
from portal.core.sync_sources import SCIM_PATH, Source, scim_base_url
from portal.models import Member, UserGroup


def user_scope(source: Source) -> tuple[ColumnElement[bool], ...]:
    """The members a source sees over SCIM: those of its organization that it manages."""
    return (Member.org_id == source.org_id, Member.source_id == source.id)


def group_scope(source: Source) -> tuple[ColumnElement[bool], ...]:
    """The user groups a source sees over SCIM: those of its organization that it manages."""
    return (UserGroup.org_id == source.org_id, UserGroup.source_id == source.id)


#: loader options for rendering groups with their members
GROUP_LOAD_OPTIONS = (selectinload(UserGroup.members),)


# ---------------------------------------------------------------- attribute catalogue (RFC 7643 §7)


@dataclass(frozen=True)
class Attribute:
    """One attribute definition as /Schemas publishes it (RFC 7643 §7)."""

    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    case_exact: bool = False
    description: str = ""
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    def to_scim(self) -> dict[str, Any]:
        """The RFC 7643 §7 attribute definition, without nulls."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "mutability": self.mutability,
            "returned": self.returned,
        }
        if self.type in ("string", "reference", "binary"):
            out["caseExact"] = self.case_exact
        if self.type != "complex":
            out["uniqueness"] = self.uniqueness
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [sub.to_scim() for sub in self.sub_attributes]
        return out


#: the canonical types of RFC 7643 §4.1.2 (any other type is kept as sent)
_EMAIL_TYPES = ("work", "home", "other")
_PHONE_TYPES = ("work", "home", "mobile", "fax", "pager", "other")
_ADDRESS_TYPES = ("work", "home", "other")
#: a multi-valued entry's ``primary`` (RFC 7643 §2.4): returned only where it was sent
_PRIMARY = Attribute(
    "primary",
    type="boolean",
    description="The preferred entry, where the identity provider marked one; at most one is true.",
)

#: the core User attributes stored and returned (RFC 7643 §4.1), mapped as in the seed's table
USER_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "userName",
        required=True,
        uniqueness="server",
        description="Unique identifier for the user; equals the work email (the seed's ExternalID).",
    ),
    Attribute(
        "name",
        type="complex",
        description="The components of the user's name.",
        sub_attributes=(
            Attribute("givenName", description="Given name (FirstName)."),
            Attribute("familyName", description="Family name (LastName)."),
        ),
    ),
    Attribute("displayName", required=True, description="The name of the user (Name)."),
    Attribute("nickName", description="Another name of the user (AnotherName)."),
    Attribute("title", description="Job title (JobTitleID), found or created by name."),
    Attribute("userType", description="Employee type, mapped through the workforce type rules."),
    Attribute("active", type="boolean", description="Active, or suspended when false."),
    Attribute(
        "emails",
        type="complex",
        multi_valued=True,
        description=(
            "Email addresses, kept as sent. The member's email is the work one, else the primary one, else the "
            "first; it must equal userName where the source's rule says so."
        ),
        sub_attributes=(
            Attribute("value", description="Email address; the member's email is unique in the organization."),
            Attribute("display", description="A label for the address, as sent."),
            Attribute("type", canonical_values=_EMAIL_TYPES, description="The kind of address, as sent."),
            _PRIMARY,
        ),
    ),
    Attribute(
        "phoneNumbers",
        type="complex",
        multi_valued=True,
        description=(
            "Phone numbers, kept as sent. The member's Mobile is the work one, else the primary one, else the first."
        ),
        sub_attributes=(
            Attribute("value", description="Phone number."),
            Attribute("display", description="A label for the number, as sent."),
            Attribute("type", canonical_values=_PHONE_TYPES, description="The kind of number, as sent."),
            _PRIMARY,
        ),
    ),
    Attribute(
        "addresses",
        type="complex",
        multi_valued=True,
        description=(
            "Addresses, kept as sent. The member's work country or region is the country of the work one, "
            "else the primary one, else the first."
        ),
        sub_attributes=(
            Attribute("formatted", description="The full address, as it is displayed."),
            Attribute("streetAddress", description="Street address."),
            Attribute("locality", description="City or locality."),
            Attribute("region", description="State or region."),
            Attribute("postalCode", description="Postal code."),
            Attribute("country", description="Country or region."),
            Attribute("type", canonical_values=_ADDRESS_TYPES, description="The kind of address, as sent."),
            _PRIMARY,
        ),
    ),
    Attribute(
        "groups",
        type="complex",
        multi_valued=True,
        mutability="readOnly",
        description="The user groups the user belongs to.",
        sub_attributes=(
            Attribute("value", mutability="readOnly", description="The group's id."),
            Attribute(
                "$ref",
                type="reference",
                mutability="readOnly",
                reference_types=("Group",),
                description="The group's URI.",
            ),
            Attribute("display", mutability="readOnly", description="The group's displayName."),
        ),
    ),
)

#: the enterprise extension attributes stored and returned (RFC 7643 §4.3)
ENTERPRISE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("employeeNumber", uniqueness="server", description="Employee ID, unique in the organization."),
    Attribute("department", description="Department (DepartmentIDs), found or created by name."),
    Attribute(
        "manager",
        type="complex",
        description="The user's manager.",
        sub_attributes=(
            Attribute("value", description="The manager's id (or the reference as received)."),
            Attribute(
                "$ref",
                type="reference",
                mutability="readOnly",
                reference_types=("User",),
                description="The manager's URI, when the manager is a member.",
            ),
            Attribute("displayName", mutability="readOnly", description="The manager's displayName."),
        ),
    ),
)

#: the Group attributes stored and returned (RFC 7643 §4.2)
GROUP_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "displayName", required=True, uniqueness="server", description="The group's name, unique in the organization."
    ),
    Attribute(
        "members",
        type="complex",
        multi_valued=True,
        description="The group's members.",
        # RFC 7643 §4.2 and §8.7.1: entries are added and removed, their sub-attributes are immutable; display
        # too (§2.4: "having a mutability of immutable"; §8.7.1 omits it, erratum 6011). A reference is case
        # exact (§2.3.7). Groups do not nest here: $ref and type name Users only.
        sub_attributes=(
            Attribute("value", mutability="immutable", description="The member's id."),
            Attribute(
                "$ref",
                type="reference",
                mutability="immutable",
                case_exact=True,
                reference_types=("User",),
                description="The member's URI; sent without value, its last path segment is the id.",
            ),
            Attribute("display", mutability="immutable", description="The member's displayName (set by the server)."),
            Attribute("type", mutability="immutable", canonical_values=("User",), description="Always User."),
        ),
    ),
)

#: common attributes of every resource (RFC 7643 §3.1); ``externalId`` is stored and filterable
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        mutability="readOnly",
        returned="always",
        uniqueness="server",
        case_exact=True,
        description="Unique identifier of the resource, issued by the service provider.",
    ),
    Attribute("externalId", case_exact=True, description="The identity provider's own id for the resource."),
)


# ---------------------------------------------------------------- rendering


def resource_base_url() -> str:
    """The SCIM base URL of the authenticated source (built by the core): absolute, right behind a proxy."""
    if g.get("source") is not None:
        source_id = g.source.public_id
    else:  # before authentication: the id as written in the URL
        source_id = request.path.partition(f"{SCIM_PATH}/")[2].partition("/")[0]
    return scim_base_url(source_id, fallback=request.url_root)


def scim_datetime(value: datetime) -> str:
    """An RFC 3339 UTC timestamp with microseconds, so ``gt`` filters on it are exact."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag(obj: MemberRecord | UserGroup) -> str:
    """The weak ETag of a resource (RFC 7644 §3.14): its optimistic-lock version."""
    return f'W/"{obj.version}"'


def _meta(obj: MemberRecord | UserGroup, resource_type: str, location: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": scim_datetime(obj.created_at),
        "lastModified": scim_datetime(obj.updated_at),
        "location": location,
        "version": etag(obj),
    }


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


def user_location(base_url: str, public_id: str) -> str:
    """The absolute URI of a User."""
    return f"{base_url}/Users/{public_id}"


def group_location(base_url: str, public_id: str) -> str:
    """The absolute URI of a Group."""
    return f"{base_url}/Groups/{public_id}"


def _manager(member: MemberRecord, base_url: str) -> dict[str, Any] | None:
    if member.manager_public_id is not None:
        return _drop_empty(
            {
                "value": member.manager_ref or member.manager_public_id,
                "$ref": user_location(base_url, member.manager_public_id),
                "displayName": member.manager_name,
            }
        )
    if member.manager_ref:
        return {"value": member.manager_ref}
    return None


def _derived(member: MemberRecord) -> dict[str, list[dict[str, Any]] | None]:
    """The entries a member's own fields make, for a member with none kept (made in the console, or
    synced before they were kept): one work entry each, the email the primary one (the server's choice)."""
    return {
        "emails": [{"value": member.email, "type": "work", "primary": True}] if member.email else None,
        "phone_numbers": [{"value": member.mobile, "type": "work"}] if member.mobile else None,
        "addresses": [{"country": member.work_country, "type": "work"}] if member.work_country else None,
    }


def _entries(kept: list[dict[str, Any]] | None, derived: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A multi-valued attribute: the entries kept as sent (copies: a PATCH edits its document in
    place), else the derived ones."""
    return [dict(entry) for entry in kept] if kept is not None else derived


def unkept_unless_changed(member: MemberRecord, values: dict[str, Any]) -> dict[str, Any]:
    """A PATCH's mapped values, where the member had no entries kept and the PATCH left the derived
    ones as they were: those stay not kept (None), so a PATCH of another attribute keeps, and logs,
    nothing the identity provider did not send."""
    for key, derived in _derived(member).items():
        if getattr(member, key) is None and values.get(key) == derived:
            values[key] = None
    return values


def user_to_scim(member: MemberRecord, base_url: str) -> dict[str, Any]:
    """The full SCIM User (RFC 7643 §4.1 + enterprise extension §4.3) of a member record."""
    derived = _derived(member)
    enterprise = _drop_empty(
        {
            "employeeNumber": member.employee_id,
            "department": member.departments[0][1] if member.departments else None,
            "manager": _manager(member, base_url),
        }
    )
    resource = _drop_empty(
        {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": member.public_id,
            "externalId": member.scim_external_id,
            "userName": member.external_id,
            "name": _drop_empty({"givenName": member.first_name, "familyName": member.last_name}),
            "displayName": member.name,
            "nickName": member.another_name,
            "title": member.job_title,
            "userType": member.user_type,
            "emails": _entries(member.emails, derived["emails"]),
            "phoneNumbers": _entries(member.phone_numbers, derived["phone_numbers"]),
            "addresses": _entries(member.addresses, derived["addresses"]),
            "groups": [
                {"value": public_id, "$ref": group_location(base_url, public_id), "display": display_name}
                for public_id, display_name in member.groups
            ],
            ENTERPRISE_SCHEMA: enterprise,
        }
    )
    resource["active"] = member.active
    resource["meta"] = _meta(member, "User", user_location(base_url, member.public_id))
    return resource


def group_to_scim(group: UserGroup, base_url: str, include_members: bool = True) -> dict[str, Any]:
    """The full SCIM Group (RFC 7643 §4.2); ``include_members=False`` never touches the members."""
    resource = _drop_empty(
        {
            "schemas": [GROUP_SCHEMA],
            "id": group.public_id,
            "externalId": group.scim_external_id,
            "displayName": group.display_name,
        }
    )
    if include_members:
        resource["members"] = [
            {"value": m.public_id, "$ref": user_location(base_url, m.public_id), "display": m.name, "type": "User"}
            for m in group.members
        ]
    resource["meta"] = _meta(group, "Group", group_location(base_url, group.public_id))
    return resource


# ---------------------------------------------------------------- attributes / excludedAttributes

#: returned whatever ``attributes`` / ``excludedAttributes`` say (RFC 7643 §7 returned "always")
ALWAYS_RETURNED = frozenset({"id", "schemas"})


def _split(names: str | None) -> list[list[str]]:
    """``"userName, name.givenName, urn:...:User:department"`` -> lower-cased attribute paths."""
    paths = []
    for raw in (names or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        lowered = raw.lower()
        for urn in (ENTERPRISE_SCHEMA, USER_SCHEMA, GROUP_SCHEMA):
            if lowered.startswith(urn.lower() + ":"):
                rest = raw[len(urn) + 1 :]
                paths.append(([urn.lower()] if urn == ENTERPRISE_SCHEMA else []) + rest.lower().split("."))
                break
            if lowered == urn.lower():
                paths.append([urn.lower()])
                break
        else:
            paths.append(lowered.split("."))
    return paths


def _keep(value: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        wanted = [p[1:] for p in paths if p and p[0] == key.lower()]
        if not wanted:
            continue
        if any(not rest for rest in wanted):
            out[key] = item
        elif isinstance(item, dict):
            kept = _keep(item, wanted)
            if kept:
                out[key] = kept
        elif isinstance(item, list):
            kept_items = [_keep(v, wanted) for v in item if isinstance(v, dict)]
            kept_items = [v for v in kept_items if v]
            if kept_items:
                out[key] = kept_items
    return out


def _drop(value: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        dropped = [p[1:] for p in paths if p and p[0] == key.lower()]
        if any(not rest for rest in dropped) and key.lower() not in ALWAYS_RETURNED:
            continue
        if dropped and isinstance(item, dict):
            item = _drop(item, dropped)
        elif dropped and isinstance(item, list):
            item = [_drop(v, dropped) if isinstance(v, dict) else v for v in item]
        out[key] = item
    return out


def project(
    resource: dict[str, Any], attributes: str | None = None, excluded_attributes: str | None = None
) -> dict[str, Any]:
    """Apply ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5); id and schemas always stay."""
    if attributes:
        kept = _keep(resource, _split(attributes))
        for key in resource:
            if key.lower() in ALWAYS_RETURNED:
                kept[key] = resource[key]
        return {k: kept[k] for k in resource if k in kept}
    if excluded_attributes:
        return _drop(resource, _split(excluded_attributes))
    return resource
