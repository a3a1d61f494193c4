"""Marshmallow schemas of SCIM payloads (RFC 7643 §4.1, §4.2, §4.3): types and lengths, nothing else.

Tolerance is the rule, as identity providers differ: attribute names match in
any case (RFC 7643 §2.1), unknown attributes and extension URNs are dropped,
``null`` means absent, booleans may be the strings "True"/"False", and a number
where a string is expected is read as its text. Required attributes are checked
by the domain on the final state of a request, not here.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from .errors import ScimError
from .resources import ENTERPRISE_SCHEMA

#: column sizes of the stored values (portal.models), so an over-long value is a 400, not a database error
NAME_LEN = 255
TITLE_LEN = 200
EMAIL_LEN = 320
PHONE_LEN = 64
#: a formatted address or street address (kept in JSON, several lines)
ADDRESS_LEN = 1024


class Text(fields.Field[str | None]):
    """A string attribute: str, or a number read as its text; stripped; empty means absent."""

    def __init__(self, max_length: int = NAME_LEN, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("must be a string")
        text = str(value).strip()
        if len(text) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters")
        return text or None


class Flag(fields.Field[bool]):
    """A boolean: JSON true/false or the strings "true"/"false" in any case (Entra sends "False")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        return parse_bool(value)


def parse_bool(value: Any) -> bool:
    """A SCIM boolean, tolerant of the string forms."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValidationError("must be a boolean")


class Reference(fields.Field[str | None]):
    """A reference given as a plain string or as ``{"value": ...}`` (Entra sends the manager as a string)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, dict):
            value = _canonical_keys(value, {"value": "value"}).get("value")
            if value is None:
                return None
        return Text()._deserialize(value, attr, data)


def _canonical_keys(data: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Rename keys to their canonical case and drop nulls (``null`` means absent)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None or not isinstance(key, str):
            continue
        out[names.get(key.lower(), key)] = value
    return out


class ScimSchema(Schema):
    """Base: unknown attributes excluded, names matched in any case, nulls dropped."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _normalize(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("must be an object")
        names = {(f.data_key or name).lower(): (f.data_key or name) for name, f in self.fields.items()}
        return _canonical_keys(data, names)


class MultiList(fields.List[Any]):
    """A multi-valued attribute: a list, or one object read as a list of one."""

    def __init__(self, inner: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(inner, allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, dict):
            value = [value]
        items = super()._deserialize(value, attr, data, **kwargs)
        return [item for item in items if item]


class NameSchema(ScimSchema):
    formatted = Text()
    given_name = Text(data_key="givenName")
    family_name = Text(data_key="familyName")


class EmailSchema(ScimSchema):
    """An email as kept (RFC 7643 §4.1.2): every sub-attribute of the entry."""

    value = Text(max_length=EMAIL_LEN)
    display = Text()
    type = Text()
    primary = Flag()


class PhoneSchema(ScimSchema):
    """A phone number as kept (RFC 7643 §4.1.2): every sub-attribute of the entry."""

    value = Text(max_length=PHONE_LEN)
    display = Text()
    type = Text()
    primary = Flag()


class AddressSchema(ScimSchema):
    """An address as kept (RFC 7643 §4.1.2): every sub-attribute of the entry."""

    formatted = Text(max_length=ADDRESS_LEN)
    street_address = Text(max_length=ADDRESS_LEN, data_key="streetAddress")
    locality = Text()
    region = Text()
    postal_code = Text(data_key="postalCode")
    country = Text()
    type = Text()
    primary = Flag()


class EnterpriseSchema(ScimSchema):
    employee_number = Text(data_key="employeeNumber")
    department = Text(max_length=TITLE_LEN)
    manager = Reference()


class UserSchema(ScimSchema):
    """A SCIM User as POST and PUT send it (and as PATCH leaves it)."""

    user_name = Text(data_key="userName")
    display_name = Text(data_key="displayName")
    external_id = Text(data_key="externalId")
    nick_name = Text(data_key="nickName")
    title = Text(max_length=TITLE_LEN)
    user_type = Text(data_key="userType")
    active = Flag()
    name = fields.Nested(NameSchema, allow_none=True)
    emails = MultiList(fields.Nested(EmailSchema))
    phone_numbers = MultiList(fields.Nested(PhoneSchema), data_key="phoneNumbers")
    addresses = MultiList(fields.Nested(AddressSchema))
    enterprise = fields.Nested(EnterpriseSchema, data_key=ENTERPRISE_SCHEMA, allow_none=True)


class MemberRefSchema(ScimSchema):
    value = Text()


class GroupSchema(ScimSchema):
    """A SCIM Group as POST and PUT send it."""

    display_name = Text(data_key="displayName")
    external_id = Text(data_key="externalId")
    members = MultiList(fields.Nested(MemberRefSchema))


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix and not isinstance(key, int) else (prefix or str(key))
            out.extend(_flatten(value, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {' '.join(messages)}" if prefix else " ".join(messages)]
    return [f"{prefix}: {messages}"]


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Load a payload, or a 400 ``invalidValue`` naming the attribute(s) at fault."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise ScimError(400, "; ".join(_flatten(exc.messages)), "invalidValue") from exc
    return loaded


USER_PAYLOAD = UserSchema()
GROUP_PAYLOAD = GroupSchema()
