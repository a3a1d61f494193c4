"""The read API's endpoints (``/api/v1/``): members, departments, user groups, workforce types, events.

Lists are pages in id order with an opaque ``next_cursor`` (``limit`` 1 to 200, 50 by default); single
resources carry an ETag and answer ``If-None-Match`` with 304. Scopes: ``members:read`` for members,
departments and workforce types; ``groups:read`` for groups (and ``members:read`` too for a group's
members, which are member documents); ``events:read`` for the change events.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask_smorest import Blueprint
from flask_smorest.globals import current_api
from marshmallow import RAISE

from portal.core import events

from . import cursors, queries
from .auth import scoped
from .schemas import (
    DepartmentPageSchema,
    DepartmentSchema,
    DepartmentsQuery,
    DepartmentTreePageSchema,
    EventPageSchema,
    EventsQuery,
    GroupPageSchema,
    GroupSchema,
    ManyDump,
    MemberPageSchema,
    MemberSchema,
    MembersQuery,
    PageQuery,
    WorkforceTypeListSchema,
    as_utc_naive,
)

blp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="The organization's directory, read with an API key (Authorization: Bearer dsp_...).",
)


#: how every view reads its query parameters: a bad one, or one it does not know (a misspelt filter left
#: out would answer more than asked), is a 400 ``invalid_parameter`` (errors.render_api_error)
QUERY: dict[str, Any] = {"location": "query", "as_kwargs": True, "error_status_code": 400, "unknown": RAISE}


def _page(items: list[Any], next_key: int | None) -> dict[str, Any]:
    return {"data": items, "next_cursor": cursors.encode(next_key) if next_key is not None else None}


#: a page of members is dumped here, and the view answers the response: flask-smorest passes a
#: response through, and documents ``MemberPageSchema`` as what it holds (see ``ManyDump``)
_MEMBERS = ManyDump(MemberSchema())


def _member_page(members: list[dict[str, Any]], next_key: int | None) -> Response:
    return jsonify(_page(_MEMBERS.dump(members), next_key))


def single(document: dict[str, Any]) -> Response:
    """One resource with its ETag, or 304 when the client's ``If-None-Match`` already names it.

    The ETag is a digest of the document, which holds the resource's ``version`` where it has one: it
    changes with every change of the resource, and also when what the document shows of another row
    (a member's department names) changes without one.
    """
    body = json.dumps(document, sort_keys=True, separators=(",", ":"))
    tag = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
    if request.if_none_match.contains_weak(tag):
        response = current_app.response_class(status=304)
    else:
        response = jsonify(document)
    response.set_etag(tag, weak=True)
    return response


# ---------------------------------------------------------------- members


@blp.route("/members")
@scoped("members:read")
@blp.arguments(MembersQuery, **QUERY)
@blp.response(200, MemberPageSchema)
def list_members(
    limit: int,
    cursor: str | None = None,
    department: str | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
    source: str | None = None,
    q: str = "",
) -> Response:
    """List members

    Members in id order. Filters: ``department`` (its sub-departments included, as in the console),
    ``status``, ``updated_since``, ``source`` and ``q`` (the console's search). Scope ``members:read``.
    """
    query = queries.MemberQuery(
        department=department,
        status=status,
        updated_since=as_utc_naive(updated_since) if updated_since is not None else None,
        source=source,
        q=q,
    )
    members, next_key = queries.members_page(g.api_org_id, query, after=cursors.decode(cursor), limit=limit)
    return _member_page(members, next_key)


@blp.route("/members/<member_id>")
@scoped("members:read")
@blp.response(200, MemberSchema)
@blp.alt_response(304, description="Not modified: the member is as the If-None-Match ETag names it")
def get_member(member_id: str) -> Response:
    """Get a member

    With an ETag; ``If-None-Match`` with it answers 304 while the member is unchanged. Scope ``members:read``.
    """
    return single(MemberSchema().dump(queries.get_member(g.api_org_id, member_id)))


# ---------------------------------------------------------------- departments


@blp.route("/departments")
@scoped("members:read")
@blp.arguments(DepartmentsQuery, **QUERY)
@blp.response(200, DepartmentPageSchema)
@blp.alt_response(200, schema=DepartmentTreePageSchema, description="With tree=1", success=True)
def list_departments(limit: int, tree: bool, cursor: str | None = None) -> Any:
    """List departments

    Departments in id order, each with its parent's id and its path from the root. ``tree=1`` answers
    the whole tree in one page instead: the root with ``children`` nested, each level by name. Scope
    ``members:read``.
    """
    if tree:
        tree_page = {"data": queries.department_tree(g.api_org_id), "next_cursor": None}
        return jsonify(DepartmentTreePageSchema().dump(tree_page))  # a response: dumped once
    docs, next_key = queries.departments_page(g.api_org_id, after=cursors.decode(cursor), limit=limit)
    return _page(docs, next_key)


@blp.route("/departments/<department_id>")
@scoped("members:read")
@blp.response(200, DepartmentSchema)
@blp.alt_response(304, description="Not modified")
def get_department(department_id: str) -> Response:
    """Get a department

    With its parent's id, its path and an ETag. Scope ``members:read``.
    """
    return single(DepartmentSchema().dump(queries.get_department(g.api_org_id, department_id)))


# ---------------------------------------------------------------- groups


@blp.route("/groups")
@scoped("groups:read")
@blp.arguments(PageQuery, **QUERY)
@blp.response(200, GroupPageSchema)
def list_groups(limit: int, cursor: str | None = None) -> dict[str, Any]:
    """List user groups

    Groups in id order, with their member counts. Scope ``groups:read``.
    """
    groups, next_key = queries.groups_page(g.api_org_id, after=cursors.decode(cursor), limit=limit)
    return _page(groups, next_key)


@blp.route("/groups/<group_id>")
@scoped("groups:read")
@blp.response(200, GroupSchema)
@blp.alt_response(304, description="Not modified")
def get_group(group_id: str) -> Response:
    """Get a user group

    With an ETag. Scope ``groups:read``.
    """
    return single(GroupSchema().dump(queries.get_group(g.api_org_id, group_id)))


@blp.route("/groups/<group_id>/members")
@scoped("groups:read", "members:read")
@blp.arguments(PageQuery, **QUERY)
@blp.response(200, MemberPageSchema)
def list_group_members(group_id: str, limit: int, cursor: str | None = None) -> Response:
    """List a group's members

    Member documents in id order. Scopes ``groups:read`` and ``members:read``.
    """
    members, next_key = queries.group_members_page(g.api_org_id, group_id, after=cursors.decode(cursor), limit=limit)
    return _member_page(members, next_key)


# ---------------------------------------------------------------- workforce types


@blp.route("/workforce-types")
@scoped("members:read")
@blp.response(200, WorkforceTypeListSchema)
def list_workforce_types() -> dict[str, Any]:
    """List workforce types

    Every workforce type of the organization, by name, in one page. Scope ``members:read``.
    """
    return {"data": queries.workforce_types(g.api_org_id), "next_cursor": None}


# ---------------------------------------------------------------- change events


@blp.route("/events")
@scoped("events:read")
@blp.arguments(EventsQuery, **QUERY)
@blp.response(200, EventPageSchema)
def list_events(limit: int, after: str | None = None) -> dict[str, Any]:
    """List change events

    The organization's change events in order, after the cursor ``after`` (from the start without it).
    Keep the ``next_cursor`` of each page and pass it as ``after`` next time: it is the same cursor
    when nothing new happened. Events older than the retention period are gone. Scope ``events:read``.
    """
    seq = cursors.decode(after, "after")
    rows = events.after(g.api_org_id, seq, limit=limit)
    last = rows[-1].seq if rows else seq
    return {"data": [events.document(row) for row in rows], "next_cursor": cursors.encode(last)}


# ---------------------------------------------------------------- the document of it all


@blp.route("/openapi.json")
@blp.doc(security=[])
@blp.response(200)
def openapi_json() -> Response:
    """The OpenAPI document

    This API's OpenAPI 3 document. No key needed.
    """
    return jsonify(current_api.spec.to_dict())
