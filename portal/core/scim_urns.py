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
