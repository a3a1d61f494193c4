"""SCIM documents the bench sends from Python, shaped like JumpCloud's.

They match what bench/lua/lib.lua builds (``M.scim_user``), so seeded users
and users created under load look alike to the server.
"""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEFAULT_USERNAME_FORMAT = "user{n}@acme.com"
"""Python spelling of the seeded names; the Lua scripts use ``user%d@acme.com``."""
LUA_USERNAME_FORMAT = "user%d@acme.com"


def jumpcloud_user(n: int, username_format: str = DEFAULT_USERNAME_FORMAT) -> dict[str, Any]:
    """Return JumpCloud-shaped user number ``n``: work email = userName, enterprise extension."""
    user_name = username_format.format(n=n)
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": user_name,
        "displayName": f"Bench User{n}",
        "name": {"givenName": "Bench", "familyName": f"User{n}"},
        "title": "Engineer",
        "active": True,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        ENTERPRISE_SCHEMA: {"department": "Engineering", "employeeNumber": str(n)},
    }
