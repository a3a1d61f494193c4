"""SCIM error documents (RFC 7644 §3.12)."""

from __future__ import annotations

import json

from flask import Response

from portal.core.scim_urns import ERROR_SCHEMA

SCIM_MEDIA_TYPE = "application/scim+json"


def storable(text: str) -> bool:
    """Whether every database can store and compare ``text``: no NUL (PostgreSQL refuses one), no lone surrogate.

    A value that fails this cannot be in any column (the SCIM and console writes refuse it),
    so a lookup by it finds nothing, and sending it as a parameter fails before the query runs.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ScimError(Exception):
    """A protocol error raised anywhere in the SCIM door; the blueprint's handler renders it."""

    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}


def scim_error(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A SCIM error response: status as a string in the body, ``scimType`` when the RFC defines one."""
    body: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    response = Response(json.dumps(body), status=status, mimetype=SCIM_MEDIA_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
