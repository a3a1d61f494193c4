"""Listing and searching Users and Groups (RFC 7644 §3.4.2 query parameters, §3.4.3 POST /.search).

Everything happens in SQL: the filter becomes a WHERE clause (filters.py), the
count and the page are two statements, the order always ends on the primary key
so pages are stable, and the page is loaded with the loader options of
resources.py so rendering it costs a fixed number of statements whatever its size.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import ColumnElement, func, select, text, true
from sqlalchemy.exc import OperationalError

from portal.core import members
from portal.core.members import MemberRecord
from portal.extensions import db
from portal.models import Member, UserGroup

from . import filters, resources
from .blueprint import bp
from .errors import ScimError, storable
from .views import read_body, respond

#: the most resources one page returns, advertised in /ServiceProviderConfig (filter.maxResults)
MAX_RESULTS = 1000
#: startIndex beyond this reads as this: past any directory, and an OFFSET every database takes
MAX_START_INDEX = 2**31


#: how long a list or search's statements may run when SCIM_QUERY_TIMEOUT_MS is not set
DEFAULT_QUERY_TIMEOUT_MS = 2000
#: SQLite looks at the clock every this many virtual machine instructions (a fraction of a millisecond)
_SQLITE_CHECK_EVERY = 10_000
#: PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (query_canceled)
_QUERY_CANCELED = "57014"


def _invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Query:
    """The query parameters of a list or search request, validated."""

    filter: str | None = None
    start_index: int = 1
    count: int = MAX_RESULTS
    sort_by: str | None = None
    descending: bool = False
    attributes: str | None = None
    excluded_attributes: str | None = None


def _integer(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _invalid(f"{name} must be an integer")
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise _invalid(f"{name} must be an integer, not {value!r}") from exc


def _names(name: str, value: Any) -> str | None:
    """``attributes`` as a comma-separated string (query string) or a list of strings (search body)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise _invalid(f"{name} must be a list of attribute names")


def parse_query(params: dict[str, Any]) -> Query:
    """Validate list/search parameters (names case-insensitive); startIndex below 1 reads as 1 (§3.4.2.4)."""
    lowered = {str(key).lower(): value for key, value in params.items()}
    text = lowered.get("filter")
    if text is not None and not isinstance(text, str):
        raise _invalid("filter must be a string", "invalidFilter")
    start = _integer("startIndex", lowered.get("startindex"))
    count = _integer("count", lowered.get("count"))
    sort_by = lowered.get("sortby")
    if sort_by is not None and not isinstance(sort_by, str):
        raise _invalid("sortBy must be an attribute name")
    order = lowered.get("sortorder")
    if order not in (None, "") and (not isinstance(order, str) or order.lower() not in ("ascending", "descending")):
        raise _invalid('sortOrder must be "ascending" or "descending"')
    return Query(
        filter=text if text and text.strip() else None,
        start_index=min(max(start or 1, 1), MAX_START_INDEX),
        # A negative count reads as 0; above maxResults the page is cut to maxResults (§3.4.2.4).
        count=MAX_RESULTS if count is None else min(max(count, 0), MAX_RESULTS),
        sort_by=sort_by.strip() if sort_by and sort_by.strip() else None,
        descending=isinstance(order, str) and order.lower() == "descending",
        attributes=_names("attributes", lowered.get("attributes")),
        excluded_attributes=_names("excludedAttributes", lowered.get("excludedattributes")),
    )


def _attribute_names(text: str | None) -> set[str]:
    """Top-level names in an attributes list, lower-cased, with the core schema URN taken off."""
    names = set()
    for raw in (text or "").split(","):
        name = raw.strip().lower()
        for urn in (resources.USER_SCHEMA, resources.GROUP_SCHEMA):
            if name.startswith(urn.lower() + ":"):
                name = name[len(urn) + 1 :]
        if name:
            names.add(name.split(".")[0])
    return names


def returns_attribute(name: str, attributes: str | None, excluded_attributes: str | None) -> bool:
    """Whether a projection keeps the top-level attribute ``name`` (used to skip loading group members)."""
    name = name.lower()
    if attributes:
        return name in _attribute_names(attributes)
    return name not in _attribute_names(excluded_attributes)


# ---------------------------------------------------------------- the time budget of a list


class Deadline:
    """A time budget for the statements of one list or search; past it the database stops the statement.

    The filter's bounds (filters.py) keep the SQL small; this bounds what a small SQL can
    still cost (a large directory, a slow plan). PostgreSQL: ``SET LOCAL statement_timeout``
    to the time left, before each statement (``before_statement``), so the budget covers the
    page and the count together; it is reset when the block ends and lasts only for this
    transaction. SQLite: a progress handler on the connection, installed for the block only,
    aborts a statement once the budget is spent.

    A statement stopped by the deadline answers 503 with Retry-After (RFC 9110 §15.6.4), not
    400: the deadline cannot tell a costly filter from a busy database, and a plain lookup
    during a load spike must be retried by the identity provider rather than recorded as a
    permanent failure for that user. Filters that are costly by their shape are refused
    with 400 invalidFilter before they run. The error handler rolls the transaction back.
    A budget of 0 or less turns the deadline off.
    """

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._ends = time.monotonic() + timeout_ms / 1000
        self._dialect = ""
        self._sqlite: Any = None
        self._limited = False
        self._interrupted = False

    def _remaining_ms(self) -> int:
        return max(1, math.ceil((self._ends - time.monotonic()) * 1000))

    def _expired(self) -> int:
        # Called by SQLite between instructions: non-zero aborts the statement ("interrupted").
        if time.monotonic() < self._ends:
            return 0
        self._interrupted = True
        return 1

    def __enter__(self) -> Deadline:
        if self.timeout_ms <= 0:
            return self
        connection = db.session.connection()
        self._dialect = connection.dialect.name
        if self._dialect == "sqlite":
            self._sqlite = connection.connection.dbapi_connection
            self._sqlite.set_progress_handler(self._expired, _SQLITE_CHECK_EVERY)
        return self

    def before_statement(self) -> None:
        """On PostgreSQL, give the next statements the time left as their statement_timeout."""
        if self._dialect == "postgresql":
            db.session.execute(text(f"SET LOCAL statement_timeout = {self._remaining_ms()}"))
            self._limited = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._sqlite is not None:
            self._sqlite.set_progress_handler(None, 0)
        if exc is None:
            if self._limited:
                # Later statements of the transaction (the request's bookkeeping) run without the budget.
                db.session.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
            return
        if isinstance(exc, OperationalError) and self._stopped(exc):
            raise ScimError(
                503,
                f"The query ran past its {self.timeout_ms} ms budget and was stopped; "
                "retry later, or send a narrower filter",
                headers={"Retry-After": str(max(1, math.ceil(self.timeout_ms / 1000)))},
            ) from exc

    def _stopped(self, exc: OperationalError) -> bool:
        """Whether the deadline, not some other failure, stopped the statement."""
        if self._dialect == "sqlite":
            return self._interrupted
        return getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED


def deadline() -> Deadline:
    """The time budget of this request's list or search (SCIM_QUERY_TIMEOUT_MS)."""
    return Deadline(int(current_app.config.get("SCIM_QUERY_TIMEOUT_MS", DEFAULT_QUERY_TIMEOUT_MS)))


# ---------------------------------------------------------------- resource types


@dataclass(frozen=True)
class ResourceKind:
    """How one resource type is scoped, ordered, loaded and rendered."""

    name: str
    model: Any
    scope: Callable[[Any], tuple[ColumnElement[bool], ...]]
    #: the page: (conditions, order, offset, limit, query) -> rows
    load: Callable[[tuple[ColumnElement[bool], ...], list[Any], int, int, Query], list[Any]]
    render: Callable[[Any, str, Query], dict[str, Any]]


def _load_groups(
    conditions: tuple[ColumnElement[bool], ...], order: list[Any], offset: int, limit: int, query: Query
) -> list[UserGroup]:
    # excludedAttributes=members (Entra) must not load the members at all.
    wanted = returns_attribute("members", query.attributes, query.excluded_attributes)
    statement = (
        select(UserGroup)
        .where(*conditions)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
        .options(*(resources.GROUP_LOAD_OPTIONS if wanted else ()))
    )
    return list(db.session.scalars(statement))


def _load_users(
    conditions: tuple[ColumnElement[bool], ...], order: list[Any], offset: int, limit: int, query: Query
) -> list[MemberRecord]:
    return members.fetch(members.select_records(*conditions).order_by(*order).offset(offset).limit(limit))


def _render_group(group: UserGroup, base_url: str, query: Query) -> dict[str, Any]:
    include = returns_attribute("members", query.attributes, query.excluded_attributes)
    return resources.group_to_scim(group, base_url, include_members=include)


USERS = ResourceKind(
    "User",
    Member,
    resources.user_scope,
    _load_users,
    lambda member, base_url, query: resources.user_to_scim(member, base_url),
)
GROUPS = ResourceKind("Group", UserGroup, resources.group_scope, _load_groups, _render_group)


def _condition(kind: ResourceKind, query: Query) -> ColumnElement[bool]:
    return filters.to_sql(kind.name, query.filter) if query.filter else true()


def _order(kind: ResourceKind, query: Query) -> list[Any]:
    order: list[Any] = []
    if query.sort_by:
        try:
            expression, fold_case = filters.sort_expression(kind.name, query.sort_by)
        except filters.InvalidFilter as exc:
            raise _invalid(f"Cannot sort by {query.sort_by!r}: {exc.message}") from exc
        if fold_case:
            expression = func.lower(expression)
        # Resources without a value come last ascending and first descending (§3.4.2.3).
        order.append(expression.desc().nulls_first() if query.descending else expression.asc().nulls_last())
    # The primary key last: equal sort values keep one order across pages.
    order.append(kind.model.id)
    return order


def _count(kind: ResourceKind, condition: ColumnElement[bool]) -> int:
    statement = select(func.count()).select_from(kind.model).where(*kind.scope(g.source), condition)
    return int(db.session.scalar(statement) or 0)


def _rows(kind: ResourceKind, condition: ColumnElement[bool], query: Query, offset: int, limit: int) -> list[Any]:
    if limit <= 0:
        return []
    return kind.load((*kind.scope(g.source), condition), _order(kind, query), offset, limit, query)


def _render(kind: ResourceKind, rows: list[Any], query: Query, base_url: str) -> list[dict[str, Any]]:
    return [
        resources.project(kind.render(row, base_url, query), query.attributes, query.excluded_attributes)
        for row in rows
    ]


#: the commonest request of all: an identity provider looking a user up before it creates it
_USER_NAME_EQ = re.compile(r'\s*username\s+eq\s+("(?:[^"\\]|\\.)*")\s*', re.IGNORECASE)


def _user_name_lookup(query: Query) -> str | None:
    """The userName of a first-page ``userName eq "..."`` filter, else None (the general path takes it)."""
    if not query.filter or query.sort_by or query.start_index != 1 or query.count < 1:
        return None
    if len(query.filter) > filters.MAX_FILTER_LENGTH:
        return None  # the general path refuses it, as any other filter past the bounds
    match = _USER_NAME_EQ.fullmatch(query.filter)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    # A NUL or a lone surrogate: the general path answers invalidFilter (no database takes it).
    return value if isinstance(value, str) and storable(value) else None


def _list(total: int, query: Query, resources_found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [resources.LIST_SCHEMA],
        "totalResults": total,
        "startIndex": query.start_index,
        "itemsPerPage": len(resources_found),
        "Resources": resources_found,
    }


def list_response(kinds: tuple[ResourceKind, ...], query: Query) -> dict[str, Any]:
    """A ListResponse (§3.4.2) over one resource type, or several one after the other (root search)."""
    if kinds == (USERS,):
        user_name = _user_name_lookup(query)
        if user_name is not None:
            # The same answer as the general path (userName is unique), from one prepared statement.
            rows = members.by_user_name(g.source.org_id, g.source.id, user_name)
            return _list(len(rows), query, _render(USERS, rows, query, resources.resource_base_url()))
    conditions: list[tuple[ResourceKind, ColumnElement[bool]]] = []
    errors: list[filters.InvalidFilter] = []
    for kind in kinds:
        try:
            conditions.append((kind, _condition(kind, query)))
        except filters.InvalidFilter as exc:
            errors.append(exc)
    if not conditions:
        # Across resource types a filter naming an attribute of only one of them searches that one.
        raise errors[0]
    base_url = resources.resource_base_url()
    total = 0
    offset = query.start_index - 1
    remaining = query.count
    found: list[dict[str, Any]] = []
    with deadline() as budget:
        for kind, condition in conditions:
            budget.before_statement()
            rows = _rows(kind, condition, query, offset, remaining)
            if len(rows) < remaining and (rows or offset == 0):
                # The matches ran out inside this page, so the page tells the total: no COUNT
                # (a lookup by userName before every create is the commonest request).
                kind_total = offset + len(rows)
            else:
                budget.before_statement()
                kind_total = _count(kind, condition)
            total += kind_total
            found.extend(_render(kind, rows, query, base_url))
            remaining -= len(rows)
            offset = max(offset - kind_total, 0)
    return _list(total, query, found)


# ---------------------------------------------------------------- endpoints


def _answer(kinds: tuple[ResourceKind, ...], params: dict[str, Any]) -> Response:
    try:
        return respond(list_response(kinds, parse_query(params)))
    except filters.InvalidFilter as exc:
        raise ScimError(400, exc.message, "invalidFilter") from exc


def _search_body() -> dict[str, Any]:
    """The SearchRequest of a POST .search (§3.4.3); its ``schemas``, when sent, must name it."""
    body = read_body()
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or resources.SEARCH_SCHEMA not in schemas):
        raise ScimError(400, f"schemas must contain {resources.SEARCH_SCHEMA}", "invalidSyntax")
    return body


@bp.get("/Users", strict_slashes=False)
def list_users(source_id: str) -> Response:
    """GET /Users: filter, sort and page the source's users (§3.4.2)."""
    return _answer((USERS,), request.args.to_dict())


@bp.get("/Groups", strict_slashes=False)
def list_groups(source_id: str) -> Response:
    """GET /Groups: filter, sort and page the source's groups (§3.4.2)."""
    return _answer((GROUPS,), request.args.to_dict())


@bp.post("/Users/.search", strict_slashes=False)
def search_users(source_id: str) -> Response:
    """POST /Users/.search: the query in a SearchRequest body (§3.4.3)."""
    return _answer((USERS,), _search_body())


@bp.post("/Groups/.search", strict_slashes=False)
def search_groups(source_id: str) -> Response:
    """POST /Groups/.search (§3.4.3)."""
    return _answer((GROUPS,), _search_body())


@bp.post("/.search", strict_slashes=False)
def search_all(source_id: str) -> Response:
    """POST /.search at the root: Users, then Groups, in one ListResponse (§3.4.3)."""
    return _answer((USERS, GROUPS), _search_body())
