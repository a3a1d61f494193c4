"""The SCIM schema URNs (RFC 7643 §3, §4, §5-7; RFC 7644 §3.4.2, §3.4.3, §3.5.2, §3.12), defined once.

They live in the core because both sides need them: the SCIM door (``scim_blueprint``) speaks them,
and the core names SCIM attributes in the Field Management labels (``ENTERPRISE_PREFIX``). The door
may import the core, never the other way round, so this is the one module both can import.
"""

from __future__ import annotations

#: resource schemas (RFC 7643 §4.1, §4.3, §4.2)
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

#: an enterprise extension attribute's full name is this prefix and the attribute (``...:User:department``)
ENTERPRISE_PREFIX = ENTERPRISE_SCHEMA + ":"

#: protocol messages (RFC 7644 §3.4.2 ListResponse, §3.5.2 PatchOp, §3.4.3 SearchRequest, §3.12 Error)
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

#: discovery (RFC 7643 §5 ServiceProviderConfig, §6 ResourceType, §7 Schema)
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

#: the core schemas: an attribute qualified by one of them is the plain attribute (RFC 7644 §3.10)
CORE_URNS = (USER_SCHEMA.lower(), GROUP_SCHEMA.lower())
_KNOWN_URNS = (ENTERPRISE_SCHEMA.lower(), *CORE_URNS)


def split_urn(text: str) -> tuple[str | None, str]:
    """An attribute path (RFC 7644 §3.10, §3.5.2 PATH) as (schema URN, the rest), the way PATCH reads it.

    The text is stripped; the URN is compared and returned lower-cased, None for a core schema
    (``urn:...:core:2.0:User:password`` is ``(None, "password")``); an extension's URN alone is
    ``(urn, "")``, a core schema's alone ``(None, "")``. The rest keeps its case and its filter
    and sub-attribute. The PATCH parser and the Sync log's redaction both read paths with this,
    so whatever a PATCH writes to, the redaction recognizes. A URN with no attribute part after
    it is a ValueError.
    """
    rest = text.strip()
    lowered = rest.lower()
    if not lowered.startswith("urn:"):
        return None, rest
    for known in _KNOWN_URNS:
        core = known in CORE_URNS
        if lowered == known:
            return (None if core else known), ""
        if lowered.startswith(known + ":"):
            return (None if core else known), rest[len(known) + 1 :]
    head = rest.split("[", 1)[0]
    if ":" not in head[4:]:
        raise ValueError(f"{text!r} names no attribute")
    urn_part, attr_part = head.rsplit(":", 1)
    return urn_part.lower(), attr_part + rest[len(head) :]
