"""A Group's ``members`` entries as schema-driven clients send them: ``value``, ``$ref``, or both.

RFC 7643 §4.2: the ``value`` sub-attribute is the ``id`` of a SCIM resource and ``$ref`` "must be
the URI of a SCIM resource such as a User"; §8.7.1 declares both (and ``type``) ``immutable``. A
client that fills an entry from a User's ``meta.location`` may send ``$ref`` alone. A reference is
the absolute or relative URI of the resource (§2.3.7; relative to the service provider's base, so
``Users/<id>``), and URIs with or without an API version name the same resource (§2.4): the member is
the id in the last path segment after ``Users``, whatever the host and prefix. The member must
still be one of the organization, as with ``value`` (``portal.core.groups``). Groups do not nest
here, so a ``$ref`` to a Group is refused (400 invalidValue).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ScimError


def _get(entry: dict[str, Any], key: str) -> Any:
    """A sub-attribute in any case (RFC 7643 §2.1); an empty string is absent."""
    found = next((v for k, v in entry.items() if isinstance(k, str) and k.lower() == key), None)
    return None if isinstance(found, str) and not found.strip() else found


def user_id(ref: str) -> str | None:
    """The User id a reference names (``.../Users/<id>``), or None when it names no User."""
    segments = [segment for segment in urlsplit(ref.strip()).path.split("/") if segment]
    if len(segments) < 2 or segments[-2].lower() != "users":
        return None
    return unquote(segments[-1]) or None


def member_value(entry: dict[str, Any]) -> Any:
    """The member id a ``members`` entry names: its ``value``, else the id its ``$ref`` ends with.

    Both given must name the same member; the value's type is checked by the caller, as before.
    """
    value, ref = _get(entry, "value"), _get(entry, "$ref")
    if ref is None:
        return value
    if not isinstance(ref, str):
        raise ScimError(400, "members.$ref must be a string: the URI of a User", "invalidValue")
    found = user_id(ref)
    if value is None:
        if found is None:
            raise ScimError(
                400,
                f"members.$ref {ref!r} is not the URI of a User (.../Users/<id>; groups do not nest)",
                "invalidValue",
            )
        return found
    if found is not None and isinstance(value, (str, int)) and found != str(value).strip():
        raise ScimError(400, f"members.value {value!r} and members.$ref {ref!r} name different members", "invalidValue")
    return value


def with_member_values(body: dict[str, Any]) -> dict[str, Any]:
    """A Group body whose ``members`` entries each carry the ``value`` their ``$ref`` names (POST, PUT).

    Anything not shaped as entries is left as it is, for the payload schema to accept or refuse.
    """
    key = next((k for k in body if isinstance(k, str) and k.lower() == "members"), None)
    members = body.get(key) if key is not None else None
    entries = [members] if isinstance(members, dict) else members
    if key is None or not isinstance(entries, list):
        return body
    filled = [
        _filled(entry) if isinstance(entry, dict) and _get(entry, "$ref") is not None else entry for entry in entries
    ]
    return {**body, key: filled}


def _filled(entry: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in entry.items() if not (isinstance(k, str) and k.lower() == "value")}
    return {**kept, "value": member_value(entry)}
