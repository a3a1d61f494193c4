"""The read API's documents as marshmallow schemas: flask-smorest dumps the responses and writes the
OpenAPI document from them, and checks the query parameters with the ``*Query`` schemas.

Ids are the public ones (``public_id``, the SCIM ``id`` of members and groups): stable, unguessable,
the same a consumer sees over SCIM, and they say nothing about how many rows exist. Workforce types
have no public id; theirs is the row id. Timestamps are UTC, ISO 8601 with ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: a member's status as the API says it: the console's "Inactive" is a suspended member
API_STATUSES = {"active": "active", "inactive": "suspended"}
#: the ``status`` filter's values -> the stored status ("inactive", the console's word, is accepted too)
STATUS_FILTER = {"active": "active", "suspended": "inactive", "inactive": "inactive"}


class UtcDateTime(fields.DateTime):
    """A naive UTC timestamp (as both databases keep them) written as ISO 8601 with ``Z``."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:  # the databases' naive UTC
            return f"{value.isoformat()}Z"
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class MemberStatus(fields.String):
    """``active`` or ``suspended``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(sorted(set(API_STATUSES.values()))), **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return API_STATUSES.get(value, value)


class Shaped(fields.Nested):
    """A nested object the query already shaped (``{"id", "name"}``), or null: written as it is.

    Declared as the Nested schema it is, so the OpenAPI document describes it; dumping it again
    through that schema would only copy the dict, for every member of a page.
    """

    # marshmallow's Nested names the value nested_obj where Field names it value: neither name satisfies both.
    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return nested_obj


class ShapedList(fields.List):
    """A list of objects the query already shaped (a member's departments): written as it is."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class Ordered(Schema):
    class Meta:
        ordered = True

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # The queries shape most documents as dicts: a plain lookup, where marshmallow's own accessor
        # tries dotted paths, items and attributes in turn (a third of the time of a page of 200 members).
        if type(obj) is dict:
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)


class ManyDump:
    """Dump many shaped dicts through a schema's own field conversions, without marshmallow's dispatch.

    ``Schema.dump`` calls, for every field of every object, a ``serialize`` wrapper that looks the
    value up through the schema's accessor and checks for a missing value, then the field's own
    ``_serialize``: half the time of a page of 200 members. Here each field's ``_serialize`` is called
    directly on the dict's value, so a document comes out as ``dump`` makes it; a dict lacking a key
    (which ``dump`` would leave out or fill with a default) goes through ``dump`` itself.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.plan = [
            (field.data_key or name, field.attribute or name, field._serialize)
            for name, field in schema.dump_fields.items()
        ]

    def dump(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``schema.dump(documents, many=True)``, the same documents."""
        out = []
        for document in documents:
            try:
                out.append({key: convert(document[attr], attr, document) for key, attr, convert in self.plan})
            except KeyError:
                out.append(self.schema.dump(document))
        return out


class DepartmentRefSchema(Ordered):
    id = fields.String(metadata={"description": "The department's id"})
    name = fields.String()


class SourceSchema(Ordered):
    """A sync source; null in its place means the Admin Console (made by hand)."""

    id = fields.String(metadata={"description": "The sync source's id"})
    name = fields.String()


class ManagerSchema(Ordered):
    id = fields.String(metadata={"description": "The manager's member id"})
    user_name = fields.String()
    ref = fields.String(metadata={"description": "The value received, when it names no member"})


class WorkforceTypeSchema(Ordered):
    id = fields.Integer(metadata={"description": "The workforce type's id (no public id exists for them)"})
    name = fields.String()


class MemberSchema(Ordered):
    """A member of the organization, with the attribute names of its change events."""

    id = fields.String(attribute="public_id", metadata={"description": "The member's id: its SCIM id"})
    user_name = fields.String(attribute="external_id", metadata={"description": "The SCIM userName"})
    email = fields.String(allow_none=True)
    name = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    another_name = fields.String(allow_none=True, metadata={"description": "The SCIM nickName"})
    employee_id = fields.String(allow_none=True)
    employee_type = fields.String(allow_none=True, metadata={"description": "The workforce type's name"})
    employee_type_id = fields.Integer(allow_none=True, metadata={"description": "The workforce type's id"})
    job_title = fields.String(allow_none=True)
    departments = ShapedList(fields.Nested(DepartmentRefSchema))
    work_country = fields.String(allow_none=True)
    mobile = fields.String(allow_none=True)
    status = MemberStatus()
    user_type = fields.String(allow_none=True, metadata={"description": "The SCIM userType as received"})
    manager = Shaped(
        ManagerSchema, allow_none=True, metadata={"description": "{id, user_name}; {ref} when it names no member"}
    )
    external_id = fields.String(
        attribute="scim_external_id", allow_none=True, metadata={"description": "The identity provider's own id"}
    )
    emails = fields.List(fields.Dict(), allow_none=True, metadata={"description": "As the identity provider sent them"})
    phone_numbers = fields.List(fields.Dict(), allow_none=True)
    addresses = fields.List(fields.Dict(), allow_none=True)
    source = Shaped(SourceSchema, allow_none=True, metadata={"description": "null: the Admin Console"})
    custom_fields = fields.Dict(keys=fields.String())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer(metadata={"description": "Raised by every change of the member"})


class MemberPageSchema(Ordered):
    data = fields.List(fields.Nested(MemberSchema))
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as ``cursor`` for the next page; null on the last page"}
    )


class DepartmentSchema(Ordered):
    """A department, with its parent and its path from the root (the organization)."""

    id = fields.String()
    name = fields.String()
    parent_id = fields.String(allow_none=True, metadata={"description": "null for the root department"})
    path = fields.List(fields.String(), metadata={"description": "Names from the root to this department"})
    source = Shaped(SourceSchema, allow_none=True, metadata={"description": "null: the Admin Console"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class DepartmentTreeSchema(DepartmentSchema):
    children = fields.List(fields.Nested(lambda: DepartmentTreeSchema()))


class DepartmentPageSchema(Ordered):
    data = fields.List(fields.Nested(DepartmentSchema))
    next_cursor = fields.String(allow_none=True)


class DepartmentTreePageSchema(Ordered):
    data = fields.List(fields.Nested(DepartmentTreeSchema), metadata={"description": "The root, its tree inside"})
    next_cursor = fields.String(allow_none=True)


class GroupSchema(Ordered):
    """A user group."""

    id = fields.String(attribute="public_id", metadata={"description": "The group's id: its SCIM id"})
    display_name = fields.String()
    description = fields.String(allow_none=True)
    external_id = fields.String(attribute="scim_external_id", allow_none=True)
    source = Shaped(SourceSchema, allow_none=True, metadata={"description": "null: the Admin Console"})
    member_count = fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer()


class GroupPageSchema(Ordered):
    data = fields.List(fields.Nested(GroupSchema))
    next_cursor = fields.String(allow_none=True)


class WorkforceTypeListSchema(Ordered):
    data = fields.List(fields.Nested(WorkforceTypeSchema))
    next_cursor = fields.String(allow_none=True)


class ActorSchema(Ordered):
    type = fields.String(metadata={"description": "source, admin or system"})
    id = fields.String(allow_none=True, metadata={"description": "A sync source's id, an administrator's id"})
    name = fields.String(allow_none=True)


class ObjectRefSchema(Ordered):
    type = fields.String(metadata={"description": "member, department or group"})
    id = fields.String()


class EventSchema(Ordered):
    """One change of the directory, in the organization's order (the ``data`` of a webhook delivery too)."""

    id = fields.String(metadata={"description": "The event's id (the webhook-id of its deliveries)"})
    seq = fields.Integer(metadata={"description": "Gap-free sequence number within the organization"})
    type = fields.String(metadata={"example": "member.updated"})
    created_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    object = fields.Nested(ObjectRefSchema)
    actor = fields.Nested(ActorSchema)
    changed_fields = fields.List(fields.String())
    attributes = fields.Dict(
        metadata={"description": "The object as created or deleted; for an update the changed fields' new values"}
    )


class EventPageSchema(Ordered):
    data = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(
        metadata={"description": "Pass as ``after`` for what follows; the same cursor when nothing followed yet"}
    )


class ErrorBodySchema(Ordered):
    code = fields.String(
        validate=validate.OneOf(
            ["not_found", "unauthorized", "forbidden", "invalid_parameter", "rate_limited", "internal_error"]
        )
    )
    message = fields.String()


class ErrorSchema(Ordered):
    """Every failure: ``{"error": {"code": ..., "message": ...}}``."""

    error = fields.Nested(ErrorBodySchema)


# ---------------------------------------------------------------- query parameters


class PageQuery(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}"},
    )
    cursor = fields.String(metadata={"description": "The ``next_cursor`` of the previous page"})


class MembersQuery(PageQuery):
    department = fields.String(metadata={"description": "A department's id: its members and its sub-departments'"})
    status = fields.String(
        validate=validate.OneOf(list(STATUS_FILTER)), metadata={"description": "active or suspended"}
    )
    updated_since = fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "ISO 8601; members changed at or after it"}
    )
    source = fields.String(metadata={"description": '"console" or a sync source\'s id'})
    q = fields.String(
        validate=validate.Length(max=255),
        metadata={"description": "The console's Members search: the same members match"},
    )


class DepartmentsQuery(PageQuery):
    tree = fields.Boolean(load_default=False, metadata={"description": "1: the whole tree, nested, in one page"})


class EventsQuery(Schema):
    after = fields.String(metadata={"description": "An event's id (or a page's ``next_cursor``): what follows it"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))


def as_utc_naive(moment: datetime) -> datetime:
    """An aware time as the naive UTC the databases keep."""
    return moment.astimezone(UTC).replace(tzinfo=None)
