"""Opaque page cursors: the last sort key of a page (a row id, an event's sequence number), base64url.

Opaque to the consumer, who passes ``next_cursor`` back unchanged: the encoding can change without
breaking them. A cursor that does not decode is a 400 ``invalid_parameter``, never a 500.
"""

from __future__ import annotations

import base64
import binascii

from .errors import ApiError

#: the largest id or sequence number a row can have (PostgreSQL's INTEGER)
MAX_ID = 2**31 - 1


def encode(key: int) -> str:
    """The cursor after the row whose sort key is ``key``."""
    return base64.urlsafe_b64encode(str(key).encode("ascii")).decode("ascii").rstrip("=")


def decode(cursor: str | None, name: str = "cursor") -> int:
    """The sort key a cursor holds; 0 (before everything) when there is none."""
    if cursor is None or cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    if not text.isdigit() or len(text) > len(str(MAX_ID)) or int(text) > MAX_ID:
        raise ApiError(400, "invalid_parameter", f"{name}: not a cursor this API gave")
    return int(text)
