"""SCIM write endpoints and single-resource reads: /Users and /Groups (RFC 7644 §3.3, §3.4.1, §3.5, §3.6).

Each view parses and maps the request, calls one ``portal.core.provisioning``
operation (which writes the sync log row), renders the resource, then commits
once. Lists, searches and discovery live in ``query.py`` and ``discovery.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, g, request
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from portal.core import provisioning
from portal.core.groups import GroupChange
from portal.core.members import MemberRecord
from portal.extensions import db
from portal.models import Member, UserGroup

from . import mapping, patch, references, resources, schemas
from .auth import request_info
from .blueprint import bp
from .errors import SCIM_MEDIA_TYPE, ScimError, storable

#: how deep a request body may nest (a SCIM User nests three levels)
MAX_DEPTH = 32
_JSON_TYPES = ("application/scim+json", "application/json")
#: how often a write without If-Match is run again after another request changed the resource first
VERSION_RACE_RETRIES = 3


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _needs_check(raw: bytes) -> bool:
    """Whether a body parsed from ``raw`` could nest past ``MAX_DEPTH`` or hold a NUL or a lone surrogate.

    Strict JSON writes neither character raw (a control character in a string is refused, and a lone
    surrogate is no UTF-8), only as a ``\\u`` escape; and nesting needs an opening bracket per level.
    The walk costs a create a few per cent of its time, for bodies that cannot hold what it looks for.
    """
    return b"\\u" in raw or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH


def _check_values(body: Any) -> None:
    """Refuse what no column can hold: deep nesting, NUL characters, unpaired surrogates."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScimError(400, f"The body nests deeper than {MAX_DEPTH} levels", "invalidSyntax")
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and not storable(value):
            raise ScimError(400, "Strings may not contain NUL characters nor unpaired surrogates", "invalidSyntax")


def read_body() -> dict[str, Any]:
    """The request's JSON object (RFC 7644 §3.1: application/scim+json or application/json), or 400/415."""
    mimetype = request.mimetype
    if mimetype and mimetype not in _JSON_TYPES and not mimetype.endswith("+json"):
        raise ScimError(415, f"Send the body as {SCIM_MEDIA_TYPE} or application/json, not {mimetype}")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ScimError(400, "The request body is not valid JSON", "invalidSyntax") from None
    if _needs_check(raw):
        _check_values(body)
    g.scim_body = body
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object", "invalidSyntax")
    return body


def respond(
    document: dict[str, Any] | None,
    status: int = 200,
    obj: MemberRecord | UserGroup | None = None,
    location: str | None = None,
) -> Response:
    """A SCIM response with the resource's ETag (RFC 7644 §3.14) and, on create, its Location."""
    response = Response(json.dumps(document) if document is not None else None, status=status, mimetype=SCIM_MEDIA_TYPE)
    if obj is not None:
        response.headers["ETag"] = resources.etag(obj)
    if location:
        response.headers["Location"] = location
    return response


def _about(kind: str, public_id: str | None, name: Any, operation: str) -> None:
    """What a failure row in the sync log names, should this request be refused."""
    g.scim_operation = operation
    # An id or name no column can hold (NUL, a lone surrogate) would make that row's write fail.
    g.scim_object = (
        kind,
        public_id if public_id is not None and storable(public_id) else None,
        name if isinstance(name, str) and storable(name) else None,
    )


def _not_modified(obj: MemberRecord | UserGroup) -> bool:
    wanted = request.headers.get("If-None-Match")
    if not wanted:
        return False
    return resources.etag(obj).removeprefix("W/") in {tag.strip().removeprefix("W/") for tag in wanted.split(",")}


def _last_writer_wins(write: Callable[[], Response], model: type[Member] | type[UserGroup], public_id: str) -> Response:
    """Run a write; a version race without If-Match is run again on the fresh resource, with it 412.

    The client asked for no precondition, so answering 412 (RFC 7644 §3.14) would be
    wrong; and the write is computed from the resource as read, so it must not land
    on a newer version (that would lose the other request's change silently). The
    run again first takes the row's lock (the write lock on SQLite) with a no-op
    UPDATE, so no other writer can slip in between its read and its write.
    """
    if_match = (request.headers.get("If-Match") or "").strip()
    for attempt in range(VERSION_RACE_RETRIES):
        try:
            if attempt:
                db.session.execute(
                    update(model)
                    .where(model.public_id == public_id)
                    .values(version=model.version, updated_at=model.updated_at)
                    .execution_options(synchronize_session=False)
                )
            return write()
        except StaleDataError:
            if (if_match and if_match != "*") or attempt == VERSION_RACE_RETRIES - 1:
                raise
            db.session.rollback()
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- Users


def _unknown_id(resource_type: str, resource_id: str) -> None:
    """404 for an id no resource can have (NUL, a lone surrogate): PostgreSQL would refuse the lookup itself."""
    if not storable(resource_id):
        raise ScimError(404, f"{resource_type} not found: no id holds such characters")


def _load_member(member_id: str, operation: str) -> MemberRecord:
    _about("member", member_id, None, operation)
    _unknown_id("User", member_id)
    member = provisioning.managed_member(g.source, member_id)
    _about("member", member.public_id, member.external_id, operation)
    return member


def _user_values(document: dict[str, Any]) -> dict[str, Any]:
    return mapping.member_values(schemas.load(schemas.USER_PAYLOAD, document))


def _user_response(member: MemberRecord, status: int, created: bool = False) -> Response:
    # The record holds all the response shows: commit first, so the write lock is held no longer than the writes.
    db.session.commit()
    document = resources.user_to_scim(member, resources.resource_base_url())
    return respond(document, status, member, document["meta"]["location"] if created else None)


@bp.route("/Users", methods=["POST"])
def create_user(source_id: str) -> Response:
    """Create a user, or link the existing member it identifies (RFC 7644 §3.3; seed 1.1 step 5)."""
    body = read_body()
    _about("member", None, body.get("userName"), "create")
    member, _operation = provisioning.provision_member(g.source, _user_values(body), request_info())
    return _user_response(member, 201, created=True)


@bp.route("/Users/<member_id>", methods=["GET"])
def get_user(source_id: str, member_id: str) -> Response:
    """One user (RFC 7644 §3.4.1), with ``attributes`` / ``excludedAttributes``."""
    member = _load_member(member_id, "request")
    if _not_modified(member):
        return respond(None, 304, member)
    document = resources.user_to_scim(member, resources.resource_base_url())
    document = resources.project(document, request.args.get("attributes"), request.args.get("excludedAttributes"))
    return respond(document, 200, member)


@bp.route("/Users/<member_id>", methods=["PUT"])
def replace_user(source_id: str, member_id: str) -> Response:
    """Replace a user: attributes left out are cleared, read-only ones ignored (RFC 7644 §3.5.1)."""
    _about("member", member_id, None, "update")
    body = read_body()

    def write() -> Response:
        member = _load_member(member_id, "update")
        member = provisioning.replace_member(
            g.source, member, _user_values(body), request_info(), if_match=request.headers.get("If-Match")
        )
        return _user_response(member, 200)

    return _last_writer_wins(write, Member, member_id)


@bp.route("/Users/<member_id>", methods=["PATCH"])
def patch_user(source_id: str, member_id: str) -> Response:
    """Modify a user with PATCH operations, checked on the final state (RFC 7644 §3.5.2)."""
    _about("member", member_id, None, "update")
    operations = patch.parse_operations(read_body())

    def write() -> Response:
        member = _load_member(member_id, "update")
        document = resources.user_to_scim(member, resources.resource_base_url())
        for read_only in ("id", "meta", "groups", "schemas"):
            document.pop(read_only, None)
        notes: list[str] = []  # the paths ignored (meta, groups, schemas), for the Sync log row
        values = _user_values(patch.apply_to_user(document, operations, notes))
        values = resources.unkept_unless_changed(member, values)
        member = provisioning.replace_member(
            g.source, member, values, request_info(), if_match=request.headers.get("If-Match"), notes=notes
        )
        return _user_response(member, 200)

    return _last_writer_wins(write, Member, member_id)


@bp.route("/Users/<member_id>", methods=["DELETE"])
def delete_user(source_id: str, member_id: str) -> Response:
    """Delete a user by the source's member deletion rule (RFC 7644 §3.6; seed 1.1 step 5)."""
    member = _load_member(member_id, "delete")
    provisioning.deprovision_member(g.source, member, request_info(), if_match=request.headers.get("If-Match"))
    db.session.commit()
    return respond(None, 204)


# ---------------------------------------------------------------- Groups


def _load_group(group_id: str, operation: str) -> UserGroup:
    _about("group", group_id, None, operation)
    _unknown_id("Group", group_id)
    group = provisioning.managed_group(g.source, group_id)
    _about("group", group.public_id, group.display_name, operation)
    return group


def _members_wanted() -> bool:
    """False when ``excludedAttributes`` drops the members or ``attributes`` leaves them out."""
    excluded = {a.strip().lower() for a in (request.args.get("excludedAttributes") or "").split(",")}
    attributes = {a.strip().lower() for a in (request.args.get("attributes") or "").split(",") if a.strip()}
    if excluded & {"members", f"{resources.GROUP_SCHEMA.lower()}:members"}:
        return False
    return not attributes or any(a.split(".")[0].endswith("members") for a in attributes)


def _group_change(body: dict[str, Any]) -> GroupChange:
    """A POST or PUT body as a change; a member given by ``$ref`` alone is the User it names (RFC 7643 §4.2)."""
    values = mapping.group_values(schemas.load(schemas.GROUP_PAYLOAD, references.with_member_values(body)))
    return GroupChange(
        display_name=values["display_name"],
        set_display_name=True,
        scim_external_id=values["scim_external_id"],
        set_external_id=True,
        member_steps=[("replace", values["member_ids"])],
    )


def _group_response(group: UserGroup, status: int, created: bool = False) -> Response:
    base = resources.resource_base_url()
    document = resources.group_to_scim(group, base, include_members=_members_wanted())
    document = resources.project(document, request.args.get("attributes"), request.args.get("excludedAttributes"))
    response = respond(
        document, status, group, document["meta"]["location"] if created and "meta" in document else None
    )
    db.session.commit()
    return response


@bp.route("/Groups", methods=["POST"])
def create_group(source_id: str) -> Response:
    """Create a user group with its members, or link the unmanaged group of that name (RFC 7644 §3.3; issue 18)."""
    body = read_body()
    _about("group", None, body.get("displayName"), "create")
    group = provisioning.provision_group(g.source, _group_change(body), request_info())
    return _group_response(group, 201, created=True)


@bp.route("/Groups/<group_id>", methods=["GET"])
def get_group(source_id: str, group_id: str) -> Response:
    """One group (RFC 7644 §3.4.1); ``excludedAttributes=members`` never loads the members."""
    group = _load_group(group_id, "request")
    if _not_modified(group):
        return respond(None, 304, group)
    return _group_response(group, 200)


@bp.route("/Groups/<group_id>", methods=["PUT"])
def replace_group(source_id: str, group_id: str) -> Response:
    """Replace a group's name, externalId and members (RFC 7644 §3.5.1)."""
    _about("group", group_id, None, "update")
    body = read_body()

    def write() -> Response:
        group = _load_group(group_id, "update")
        provisioning.change_group(
            g.source, group, _group_change(body), request_info(), if_match=request.headers.get("If-Match")
        )
        return _group_response(group, 200)

    return _last_writer_wins(write, UserGroup, group_id)


@bp.route("/Groups/<group_id>", methods=["PATCH"])
def patch_group(source_id: str, group_id: str) -> Response:
    """Modify a group (RFC 7644 §3.5.2): 200 with it, or 204 when ``excludedAttributes=members``."""
    _about("group", group_id, None, "update")
    operations = patch.parse_operations(read_body())

    def write() -> Response:
        group = _load_group(group_id, "update")
        notes: list[str] = []  # the paths ignored (meta, groups, schemas), for the Sync log row
        change = patch.group_change(operations, notes)
        provisioning.change_group(
            g.source, group, change, request_info(), if_match=request.headers.get("If-Match"), notes=notes
        )
        if not _members_wanted():
            response = respond(None, 204, group)
            db.session.commit()
            return response
        return _group_response(group, 200)

    return _last_writer_wins(write, UserGroup, group_id)


@bp.route("/Groups/<group_id>", methods=["DELETE"])
def delete_group(source_id: str, group_id: str) -> Response:
    """Delete a group; its members stay (RFC 7644 §3.6)."""
    group = _load_group(group_id, "delete")
    provisioning.deprovision_group(g.source, group, request_info(), if_match=request.headers.get("If-Match"))
    db.session.commit()
    return respond(None, 204)
