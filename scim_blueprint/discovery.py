"""Service provider discovery (RFC 7644 §4; RFC 7643 §5 ServiceProviderConfig, §6 ResourceTypes, §7 Schemas).

/Schemas is built from the attribute catalogue of resources.py, the same one the
resources are rendered and written with, so it publishes exactly what is stored
and returned. Only GET is routed: any other method answers 405 and an unknown
path 404, both as SCIM errors (portal/web.py hands /scim/ routing errors to scim_error).
/Bulk and /Me, which this service provider does not implement, answer 501 to every
method, after authentication like every other endpoint (RFC 7644 §3.7, §3.11, §3.12).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from portal.core.scim_urns import RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SPC_SCHEMA

from . import patch, resources
from .blueprint import bp
from .errors import ScimError
from .query import MAX_RESULTS
from .views import respond

#: (id, endpoint, description, schema, extension schemas) of each resource type
RESOURCE_TYPES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("User", "/Users", "A member of the organization", resources.USER_SCHEMA, (resources.ENTERPRISE_SCHEMA,)),
    ("Group", "/Groups", "A user group of the organization", resources.GROUP_SCHEMA, ()),
)

#: (schema URN, name, description, attributes) of each published schema
SCHEMAS: tuple[tuple[str, str, str, tuple[resources.Attribute, ...]], ...] = (
    (resources.USER_SCHEMA, "User", "User Account", resources.COMMON_ATTRIBUTES + resources.USER_ATTRIBUTES),
    (resources.ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", resources.ENTERPRISE_ATTRIBUTES),
    (resources.GROUP_SCHEMA, "Group", "Group", resources.COMMON_ATTRIBUTES + resources.GROUP_ATTRIBUTES),
)


def _meta(resource_type: str, path: str) -> dict[str, str]:
    return {"resourceType": resource_type, "location": f"{resources.resource_base_url()}{path}"}


def _list(resources_: list[dict[str, Any]]) -> Response:
    return respond(
        {
            "schemas": [resources.LIST_SCHEMA],
            "totalResults": len(resources_),
            "startIndex": 1,
            "itemsPerPage": len(resources_),
            "Resources": resources_,
        }
    )


def service_provider_config() -> dict[str, Any]:
    """What this service provider supports (RFC 7643 §5)."""
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        # RFC 7643 §5 gives patch only "supported". The operation cap is published next to it, under
        # the name and meaning §5 gives bulk's "maxOperations": that is where a reader looks for it,
        # and a client that does not know the attribute ignores it. Not under bulk: bulk is not
        # supported, and its maxOperations counts the operations of a /Bulk request, not a PATCH's.
        "patch": {"supported": True, "maxOperations": patch.max_operations()},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The sync source's token, sent as Authorization: Bearer <token>",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": _meta("ServiceProviderConfig", "/ServiceProviderConfig"),
    }


def resource_type(
    type_id: str, endpoint: str, description: str, schema: str, extensions: tuple[str, ...]
) -> dict[str, Any]:
    """One ResourceType (RFC 7643 §6)."""
    document: dict[str, Any] = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": type_id,
        "name": type_id,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
    }
    if extensions:
        document["schemaExtensions"] = [{"schema": urn, "required": False} for urn in extensions]
    document["meta"] = _meta("ResourceType", f"/ResourceTypes/{type_id}")
    return document


def schema(urn: str, name: str, description: str, attributes: tuple[resources.Attribute, ...]) -> dict[str, Any]:
    """One Schema with its attribute definitions (RFC 7643 §7)."""
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": [attribute.to_scim() for attribute in attributes],
        "meta": _meta("Schema", f"/Schemas/{urn}"),
    }


# OPTIONS is not answered automatically: every method but GET is a 405 SCIM error here.
_GET_ONLY = {"strict_slashes": False, "provide_automatic_options": False}


@bp.get("/ServiceProviderConfig", **_GET_ONLY)
def get_service_provider_config(source_id: str) -> Response:
    """GET /ServiceProviderConfig."""
    return respond(service_provider_config())


@bp.get("/ResourceTypes", **_GET_ONLY)
def list_resource_types(source_id: str) -> Response:
    """GET /ResourceTypes: a ListResponse of User and Group."""
    return _list([resource_type(*entry) for entry in RESOURCE_TYPES])


@bp.get("/ResourceTypes/<type_id>", **_GET_ONLY)
def get_resource_type(source_id: str, type_id: str) -> Response:
    """GET /ResourceTypes/{id}."""
    for entry in RESOURCE_TYPES:
        if entry[0].lower() == type_id.lower():
            return respond(resource_type(*entry))
    raise ScimError(404, f"No resource type {type_id!r}")


@bp.get("/Schemas", **_GET_ONLY)
def list_schemas(source_id: str) -> Response:
    """GET /Schemas: a ListResponse of the User, Enterprise User and Group schemas."""
    return _list([schema(*entry) for entry in SCHEMAS])


@bp.get("/Schemas/<path:urn>", **_GET_ONLY)
def get_schema(source_id: str, urn: str) -> Response:
    """GET /Schemas/{urn}."""
    for entry in SCHEMAS:
        if entry[0].lower() == urn.lower():
            return respond(schema(*entry))
    raise ScimError(404, f"No schema {urn!r}")


# ---------------------------------------------------------------- endpoints not implemented: 501, after authentication

#: every method, OPTIONS included (answered here, not by Flask), so each gets the same 501
_ANY_METHOD = {
    "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    "strict_slashes": False,
    "provide_automatic_options": False,
}


@bp.route("/Bulk", **_ANY_METHOD)
def bulk(source_id: str) -> Response:
    """/Bulk: 501 (RFC 7644 §3.7 and §3.12; ServiceProviderConfig says ``bulk.supported`` false)."""
    raise ScimError(
        501,
        "Bulk operations are not supported (RFC 7644 §3.7; see /ServiceProviderConfig, bulk.supported is false): "
        "send one request per resource",
    )


@bp.route("/Me", **_ANY_METHOD)
def me(source_id: str) -> Response:
    """/Me: 501 (RFC 7644 §3.11: a service provider that does not support the alias answers 501).

    The authenticated subject is a sync source (its bearer token), not a User, so /Me names no
    resource. Authentication still comes first: without a valid token the answer is 401.
    """
    raise ScimError(
        501,
        "/Me is not supported (RFC 7644 §3.11): the token authenticates a sync source, not a user; use /Users/{id}",
    )
