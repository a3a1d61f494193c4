"""SCIM filters (RFC 7644 §3.4.2.2) translated into SQLAlchemy expressions: the database filters.

scim2-filter-parser's lexer and parser build the tree; the translator here walks it
and maps each attribute path onto the stored columns of ``Member`` (Users) or
``UserGroup`` (Groups). Multi-valued attributes stored in other tables (groups,
members, department, title) become EXISTS subqueries, so a filter never loads
rows into Python. Case-insensitive attributes compare lower-cased values; userName,
emails.value and group displayName use their ``*_norm`` columns so ``eq`` is
served by the unique indexes.

Three quirks of the library are handled around it rather than patched:
- its lexer knows neither escaped quotes in strings nor negative or decimal
  numbers (and lexes one digit per token): JSON string and number values are
  lifted out of the text before lexing and put back, typed, as ``Literal``s;
- its comparison value keeps no JSON type (``true`` and ``"true"`` look the same):
  token values are wrapped in ``Literal`` before the parser sees them;
- it gives ``and`` and ``or`` the same precedence: unparenthesized chains are
  regrouped so ``and`` binds tighter, as §3.4.2.2 requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError
from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.orm import aliased

from portal.core.members import looked_up
from portal.core.scim_urns import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from portal.models import Department, JobTitle, Member, UserGroup, group_members, member_departments, norm

from .errors import storable

Condition = ColumnElement[bool]
Scope = Callable[[Condition], Condition]


class InvalidFilter(ValueError):
    """A filter the service provider declines: bad syntax, unknown attribute or operator (400 invalidFilter)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- bounds on a filter's cost
# An identity provider's filters are one or two comparisons; these bounds are far above that and
# keep every filter's SQL small enough for each database's parser and cheap enough to plan and run.

#: the longest filter, in characters (also keeps a co/sw/ew operand far below SQLite's 50,000-byte LIKE limit)
MAX_FILTER_LENGTH = 4096
#: the most comparisons (``attr op value``, ``attr pr``) in one filter
MAX_FILTER_TERMS = 50
#: the deepest nesting of parentheses (``not (`` included) and value-path brackets
MAX_FILTER_DEPTH = 10
#: the most conditions on groups or members in one filter: each is an EXISTS over the membership table
MAX_FILTER_VALUE_PATHS = 10


# ---------------------------------------------------------------- attribute catalogue for filtering


@dataclass(frozen=True)
class Leaf:
    """A filterable single value: a SQL expression, its SCIM type and its case rule.

    ``norm`` is the ``models.norm`` copy of ``column`` (indexed) used for case-insensitive
    comparisons; ``scope`` wraps a condition on a value held in another table
    into an EXISTS over the resource row; ``sort`` is the expression sortBy orders by.
    """

    column: Any
    type: str = "string"
    case_exact: bool = False
    norm: Any = None
    scope: Scope | None = None
    sort: Any = None


@dataclass(frozen=True)
class Complex:
    """A complex (possibly multi-valued) attribute: sub-attributes evaluated on the same value."""

    subs: dict[str, Leaf]
    #: the sub-attribute meant when a filter names the attribute alone (``emails eq ...``)
    default: str | None = "value"
    #: wraps a condition on one value: an EXISTS over the table holding the values,
    #: or the row-level presence of a single stored value
    scope: Scope | None = None
    #: False when the values live in another table (then sortBy cannot use them)
    row_level: bool = True


@dataclass(frozen=True)
class AnyOf:
    """A multi-valued attribute whose values are the same for every resource of a type (``schemas``)."""

    leaves: tuple[Leaf, ...]


def _schemas(*urns: str) -> AnyOf:
    return AnyOf(tuple(Leaf(literal(urn)) for urn in urns))


FilterAttribute = Leaf | Complex | AnyOf


def _identity(condition: Condition) -> Condition:
    return condition


def _present_and(column: Any) -> Scope:
    """A single stored value (a work phone, a work address) exists only when its column is set."""
    return lambda condition: and_(column.is_not(None), condition)


def _user_groups_exist(condition: Condition) -> Condition:
    return exists(
        select(group_members.c.group_id)
        .join(UserGroup, UserGroup.id == group_members.c.group_id)
        .where(group_members.c.member_id == Member.id, condition)
    )


def _group_members_exist(condition: Condition) -> Condition:
    return exists(
        select(group_members.c.member_id)
        .join(Member, Member.id == group_members.c.member_id)
        .where(group_members.c.group_id == UserGroup.id, condition)
    )


def _department_exists(condition: Condition) -> Condition:
    return exists(
        select(member_departments.c.department_id)
        .join(Department, Department.id == member_departments.c.department_id)
        .where(member_departments.c.member_id == Member.id, condition)
    )


def _title_exists(condition: Condition) -> Condition:
    return exists(select(JobTitle.id).where(JobTitle.id == Member.job_title_id, condition))


_Manager = aliased(Member, name="manager")
#: the manager value as user_to_scim returns it: the reference as received, else the manager's id
_manager_value = func.coalesce(Member.manager_ref, looked_up(_Manager.public_id, _Manager.id == Member.manager_id))
_manager_name = looked_up(_Manager.name, _Manager.id == Member.manager_id)
_title_name = looked_up(JobTitle.name, JobTitle.id == Member.job_title_id)
_first_department = (
    select(func.min(Department.name))
    .join(member_departments, member_departments.c.department_id == Department.id)
    .where(member_departments.c.member_id == Member.id)
    .correlate(Member)
    .scalar_subquery()
)


def _meta(resource_type: str, model: Any) -> Complex:
    return Complex(
        {
            "created": Leaf(model.created_at, type="dateTime"),
            "lastmodified": Leaf(model.updated_at, type="dateTime"),
            "resourcetype": Leaf(literal(resource_type), case_exact=True),
        },
        default=None,
    )


_WORK = literal("work")

#: User attributes by lower-cased name, per schema URN (RFC 7643 §4.1, §4.3)
USER_FILTER_ATTRIBUTES: dict[str, dict[str, FilterAttribute]] = {
    USER_SCHEMA.lower(): {
        "id": Leaf(Member.public_id, case_exact=True),
        "externalid": Leaf(Member.scim_external_id, case_exact=True),
        "username": Leaf(Member.external_id, norm=Member.external_id_norm),
        "displayname": Leaf(Member.name, norm=Member.name_norm),
        "nickname": Leaf(Member.another_name),
        "usertype": Leaf(Member.user_type),
        "title": Leaf(JobTitle.name, scope=_title_exists, sort=_title_name),
        "active": Leaf(Member.status == "active", type="boolean"),
        "name": Complex({"givenname": Leaf(Member.first_name), "familyname": Leaf(Member.last_name)}, default=None),
        "emails": Complex(
            {
                "value": Leaf(Member.email, norm=Member.email_norm),
                "type": Leaf(_WORK),
                "primary": Leaf(true(), type="boolean"),
            }
        ),
        "phonenumbers": Complex({"value": Leaf(Member.mobile), "type": Leaf(_WORK)}, scope=_present_and(Member.mobile)),
        "addresses": Complex(
            {"country": Leaf(Member.work_country), "type": Leaf(_WORK)},
            default="country",
            scope=_present_and(Member.work_country),
        ),
        "groups": Complex(
            {
                "value": Leaf(UserGroup.public_id, case_exact=True),
                "display": Leaf(UserGroup.display_name, norm=UserGroup.display_name_norm),
            },
            scope=_user_groups_exist,
            row_level=False,
        ),
        "meta": _meta("User", Member),
        # Every User is rendered with both schemas (resources.user_to_scim).
        "schemas": _schemas(USER_SCHEMA, ENTERPRISE_SCHEMA),
    },
    ENTERPRISE_SCHEMA.lower(): {
        "employeenumber": Leaf(Member.employee_id, norm=Member.employee_id_norm),
        "department": Leaf(
            Department.name, norm=Department.name_norm, scope=_department_exists, sort=_first_department
        ),
        "manager": Complex({"value": Leaf(_manager_value, case_exact=True), "displayname": Leaf(_manager_name)}),
    },
}

#: Group attributes by lower-cased name (RFC 7643 §4.2)
GROUP_FILTER_ATTRIBUTES: dict[str, dict[str, FilterAttribute]] = {
    GROUP_SCHEMA.lower(): {
        "id": Leaf(UserGroup.public_id, case_exact=True),
        "externalid": Leaf(UserGroup.scim_external_id, case_exact=True),
        "displayname": Leaf(UserGroup.display_name, norm=UserGroup.display_name_norm),
        "members": Complex(
            {
                "value": Leaf(Member.public_id, case_exact=True),
                "display": Leaf(Member.name),
                "type": Leaf(literal("User"), case_exact=True),
            },
            scope=_group_members_exist,
            row_level=False,
        ),
        "meta": _meta("Group", UserGroup),
        "schemas": _schemas(GROUP_SCHEMA),
    },
}

#: the filter catalogue of each resource type and its core schema (unqualified names resolve there first)
CATALOGUES: dict[str, tuple[str, dict[str, dict[str, FilterAttribute]]]] = {
    "User": (USER_SCHEMA.lower(), USER_FILTER_ATTRIBUTES),
    "Group": (GROUP_SCHEMA.lower(), GROUP_FILTER_ATTRIBUTES),
}


# ---------------------------------------------------------------- parsing


class Literal:
    """A comparison value with its JSON type kept (the library keeps only the text)."""

    __slots__ = ("value",)

    def __init__(self, value: str | int | float | bool | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


_TYPED = {"TRUE": True, "FALSE": False, "NULL": None}


#: a JSON string (RFC 8259 §7, escapes included)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: a JSON number standing as a comparison value (RFC 7644 §3.4.2.2 compValue)
_JSON_NUMBER = re.compile(r"(?i)(\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=[\s)\]]|$)")
#: stands in for a lifted value inside the text the library lexes
_MARK = "\ue000"


def _lift_values(text: str) -> tuple[str, list[str | int | float]]:
    """The filter with each JSON string and number replaced by a numbered mark, and the values."""
    values: list[str | int | float] = []

    def string(match: re.Match[str]) -> str:
        try:
            value = json.loads(match.group(0))
        except ValueError as exc:
            raise InvalidFilter(f"The string {match.group(0)} is not a valid JSON string") from exc
        if not storable(value):
            # "\u0000" or a lone "\ud800": no stored value holds one, and no database takes it as a parameter.
            raise InvalidFilter(f"The string {match.group(0)} holds a NUL character or an unpaired surrogate")
        values.append(value)
        return f'"{_MARK}{len(values) - 1}"'

    def number(match: re.Match[str]) -> str:
        literal_text = match.group(2)
        is_integer = not any(c in literal_text for c in ".eE")
        values.append(int(literal_text) if is_integer else float(literal_text))
        return f'{match.group(1)}"{_MARK}{len(values) - 1}"'

    if _MARK in text:
        raise InvalidFilter("The filter contains a character it may not contain")
    return _JSON_NUMBER.sub(number, _JSON_STRING.sub(string, text)), values


#: a comparison operator standing as a token of its own (RFC 7644 §3.4.2.2 compareOp, and "pr")
_OPERATOR = re.compile(r"(?i)(?<!\S)(?:eq|ne|co|sw|ew|gt|ge|lt|le|pr)(?=[\s)\]]|$)")


def _cross_table_names() -> list[str]:
    """groups and members: the multi-valued attributes whose values live in another table (an EXISTS each)."""
    return sorted(
        {
            name
            for _core, catalogue in CATALOGUES.values()
            for attributes in catalogue.values()
            for name, attribute in attributes.items()
            if isinstance(attribute, Complex) and not attribute.row_level
        }
    )


#: one of those names as an attribute path, URN-qualified or not
_CROSS_TABLE = re.compile(r"(?i)(?<![\w$-])(?:" + "|".join(_cross_table_names()) + r")(?![\w$-])")


def _depth(lexable: str) -> int:
    """How deep parentheses and brackets nest in the filter (its string values already lifted out)."""
    depth = deepest = 0
    for char in lexable:
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


def check_length(text: str) -> None:
    """Refuse a filter longer than MAX_FILTER_LENGTH: checked first, before any other work on it."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}")


def _check_shape(lexable: str) -> None:
    """Refuse a filter past the bounds on depth, comparisons and value paths, by a scan before parsing.

    The scan reads the text with its string values lifted out, so a parenthesis or an
    operator inside a value is not counted; it never recurses, so a pathological filter
    is refused before it reaches the recursive parser and translator.
    """
    depth = _depth(lexable)
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilter(
            f"The filter nests {depth} levels deep (parentheses, not, brackets); the limit is {MAX_FILTER_DEPTH}"
        )
    terms = len(_OPERATOR.findall(lexable))
    if terms > MAX_FILTER_TERMS:
        raise InvalidFilter(f"The filter has {terms} comparisons; the limit is {MAX_FILTER_TERMS}")
    value_paths = len(_CROSS_TABLE.findall(lexable))
    if value_paths > MAX_FILTER_VALUE_PATHS:
        raise InvalidFilter(
            f"The filter has {value_paths} conditions on groups or members (attribute paths or value filters); "
            f"the limit is {MAX_FILTER_VALUE_PATHS}"
        )


def _tokens(text: str, lexable: str, values: list[str | int | float]) -> Iterator[Any]:
    """The library's tokens of the lifted filter, with the lifted JSON values put back typed."""
    for token in SCIMLexer().tokenize(lexable):
        if token.type == "COMP_VALUE" and token.value.startswith(_MARK):
            token.value = Literal(values[int(token.value[1:])])
        elif token.type == "NUMBER":
            # Every number value was lifted: a digit left over stands where no value may.
            raise InvalidFilter(f"Unexpected number in the filter {text!r}")
        elif token.type in _TYPED:
            token.value = Literal(_TYPED[token.type])
        yield token


def parse(text: str) -> ast.Filter:
    """The syntax tree of a filter, or InvalidFilter."""
    if not text or not text.strip():
        raise InvalidFilter("The filter is empty")
    check_length(text)
    if not storable(text):
        raise InvalidFilter("The filter holds a NUL character or an unpaired surrogate")
    lexable, values = _lift_values(text)
    _check_shape(lexable)
    try:
        tree = SCIMParser().parse(_tokens(text, lexable, values))
    except (SCIMParserError, ValueError, RecursionError) as exc:
        raise InvalidFilter(f"The filter {text!r} is not valid SCIM filter syntax: {exc}") from exc
    if tree is None:
        raise InvalidFilter(f"The filter {text!r} is not valid SCIM filter syntax")
    return tree


# ---------------------------------------------------------------- attribute paths


def _resolve_name(resource_type: str, uri: str | None, name: str) -> FilterAttribute:
    core, catalogue = CATALOGUES[resource_type]
    key = name.lower()
    if uri is not None:
        attrs = catalogue.get(uri.lower())
        if attrs is None or key not in attrs:
            raise InvalidFilter(f"Unknown attribute {uri}:{name} for {resource_type}s")
        return attrs[key]
    # Unqualified names: the core schema first, then the extensions (clients often omit the URN).
    for schema in [core, *(s for s in catalogue if s != core)]:
        if key in catalogue[schema]:
            return catalogue[schema][key]
    raise InvalidFilter(f"Unknown attribute {name!r} for {resource_type}s")


def _sub(attribute: Complex, name: str | None, label: str) -> Leaf:
    key = (name or attribute.default or "").lower()
    if key not in attribute.subs:
        raise InvalidFilter(f"Unknown sub-attribute {label}.{name or ''!s} in the filter".rstrip("."))
    return attribute.subs[key]


def resolve(resource_type: str, path: str) -> Leaf:
    """The leaf of a plain attribute path (``name.givenName``, ``urn:...:User:department``), e.g. for sortBy."""
    uri = None
    lowered = path.lower()
    for schema in CATALOGUES[resource_type][1]:
        if lowered.startswith(schema + ":"):
            uri, path = path[: len(schema)], path[len(schema) + 1 :]
            break
    name, _, sub = path.partition(".")
    if not name:
        raise InvalidFilter(f"Unknown attribute {path!r}")
    attribute = _resolve_name(resource_type, uri, name)
    if isinstance(attribute, Complex):
        leaf = _sub(attribute, sub or None, name)
        if not attribute.row_level:
            raise InvalidFilter(f"{path} is multi-valued and cannot be sorted on")
        return leaf
    if isinstance(attribute, AnyOf):
        raise InvalidFilter(f"{path} is multi-valued and cannot be sorted on")
    if sub:
        raise InvalidFilter(f"{name} has no sub-attribute {sub!r}")
    return attribute


def sort_expression(resource_type: str, path: str) -> tuple[Any, bool]:
    """The expression sortBy orders by and whether it is compared case-insensitively (§3.4.2.3)."""
    leaf = resolve(resource_type, path)
    if leaf.sort is not None:
        return leaf.sort, not leaf.case_exact and leaf.type == "string"
    if leaf.scope is not None:
        raise InvalidFilter(f"{path} is multi-valued and cannot be sorted on")
    if leaf.norm is not None:
        return leaf.norm, False
    return leaf.column, not leaf.case_exact and leaf.type == "string"


# ---------------------------------------------------------------- comparisons


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidFilter(f"{value!r} is not a dateTime")
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except ValueError as exc:
        raise InvalidFilter(f"{value!r} is not an RFC 3339 dateTime") from exc
    except OverflowError as exc:
        # "0001-01-01T00:00:00+01:00" is a year-0 instant in UTC: before any a datetime can hold.
        raise InvalidFilter(f"{value!r} is out of the range of dateTime values") from exc
    return parsed


def _parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidFilter(f"{value!r} is not a boolean")


def _present(leaf: Leaf) -> Condition:
    if leaf.type == "string":
        return and_(leaf.column.is_not(None), leaf.column != "")
    return leaf.column.is_not(None) if leaf.type == "dateTime" else true()


def compare(leaf: Leaf, op: str, value: Any) -> Condition:
    """``leaf op value`` as a condition on one value (NULL when the value is absent)."""
    op = op.lower()
    if op == "pr":
        return _present(leaf)
    if value is None:
        # eq null / ne null: "has no value" / "has a value" (RFC 7644 §3.4.2.2 leaves it open).
        if op in ("eq", "ne"):
            return not_(_present(leaf)) if op == "eq" else _present(leaf)
        raise InvalidFilter(f"null can only be compared with eq or ne, not {op}")
    if leaf.type == "boolean":
        if op not in ("eq", "ne"):
            raise InvalidFilter(f"The operator {op} is not supported on a boolean attribute")
        wanted = _parse_boolean(value)
        condition: ColumnElement[bool] = leaf.column if wanted == (op == "eq") else not_(leaf.column)
        return condition
    if leaf.type == "dateTime":
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"The operator {op} is not supported on a dateTime attribute")
        operand: Any = _parse_datetime(value)
        column = leaf.column
    else:
        if isinstance(value, bool):
            raise InvalidFilter(f"{str(value).lower()} is not a string")
        text = str(value)
        if leaf.case_exact:
            column, operand = leaf.column, text
        elif leaf.norm is not None:
            # The stored *_norm value is models.norm of the value: eq/ne compare norm(value) on its unique index.
            column, operand = leaf.norm, (norm(text) if op in ("eq", "ne") else text.lower())
        else:
            column, operand = func.lower(leaf.column), text.lower()
    comparisons: dict[str, Callable[[], Condition]] = {
        "eq": lambda: column == operand,
        "ne": lambda: column != operand,
        "co": lambda: column.contains(operand, autoescape=True),
        "sw": lambda: column.startswith(operand, autoescape=True),
        "ew": lambda: column.endswith(operand, autoescape=True),
        "gt": lambda: column > operand,
        "ge": lambda: column >= operand,
        "lt": lambda: column < operand,
        "le": lambda: column <= operand,
    }
    if op not in comparisons:
        raise InvalidFilter(f"The operator {op!r} is not supported")
    # A NULL column makes the comparison NULL, which WHERE reads as false; negation handles it (see _negate).
    return comparisons[op]()


# ---------------------------------------------------------------- the translator


@dataclass
class _Translator:
    resource_type: str
    #: the complex attribute whose sub-attributes a value filter (``emails[...]``) names
    namespace: Complex | None = None
    label: str = ""

    def filter(self, node: ast.Filter) -> Condition:
        if node.namespace is not None:
            condition = self._value_path(node.namespace, node.expr)
        else:
            condition = self.expression(node.expr)
        return _negate(condition) if node.negated else condition

    def expression(self, node: Any) -> Condition:
        if isinstance(node, ast.Filter):
            return self.filter(node)
        if isinstance(node, ast.LogExpr):
            return self._logical(node)
        if isinstance(node, ast.AttrExpr):
            return self._attribute_expression(node)
        raise InvalidFilter("The filter is not valid SCIM filter syntax")

    def _logical(self, node: ast.LogExpr) -> Condition:
        # The parser chains and/or left to right at one precedence; regroup so "and" binds tighter.
        operands, ops = _chain(node)
        groups: list[list[Condition]] = [[self.expression(operands[0])]]
        for op, operand in zip(ops, operands[1:], strict=True):
            if op == "and":
                groups[-1].append(self.expression(operand))
            else:
                groups.append([self.expression(operand)])
        return or_(*(and_(*group) for group in groups))

    def _complex(self, path: ast.AttrPath) -> tuple[Complex, str]:
        if self.namespace is not None:
            raise InvalidFilter("A value filter cannot be nested in another one")
        if not isinstance(path.attr_name, str):
            raise InvalidFilter("The filter is not valid SCIM filter syntax")
        attribute = _resolve_name(self.resource_type, path.uri, path.attr_name)
        if not isinstance(attribute, Complex):
            raise InvalidFilter(f"{path.attr_name} is not a complex attribute: it takes no [value filter]")
        return attribute, path.attr_name

    def _value_path(self, path: ast.AttrPath, inner: Any, leaf_op: tuple[str, Any] | None = None) -> Condition:
        """``emails[type eq "work" and value co "@x"]``: the inner filter holds for one and the same value."""
        attribute, label = self._complex(path)
        condition = _Translator(self.resource_type, attribute, label).expression(inner)
        if leaf_op is not None:
            sub_name = path.sub_attr.value if path.sub_attr is not None else None
            condition = and_(condition, compare(_sub(attribute, sub_name, label), *leaf_op))
        return (attribute.scope or _identity)(condition)

    def _attribute_expression(self, node: ast.AttrExpr) -> Condition:
        path: ast.AttrPath = node.attr_path
        value = node.comp_value.value.value if node.comp_value is not None else None
        op = str(node.value).lower()
        if isinstance(path.attr_name, ast.Filter):
            # emails[type eq "work"].value eq "x": the parser moved ".value" onto the namespace.
            value_filter: ast.Filter = path.attr_name
            return self._value_path(value_filter.namespace, value_filter.expr, (op, value))
        if self.namespace is not None:
            if path.uri is not None or path.sub_attr is not None:
                raise InvalidFilter(f"{path.attr_name} is not a sub-attribute of {self.label}")
            return compare(_sub(self.namespace, path.attr_name, self.label), op, value)
        attribute = _resolve_name(self.resource_type, path.uri, path.attr_name)
        if isinstance(attribute, AnyOf):
            if path.sub_attr is not None:
                raise InvalidFilter(f"{path.attr_name} has no sub-attribute {path.sub_attr.value!r}")
            # Multi-valued: the filter matches when any one value does (§3.4.2.2).
            return or_(*(compare(leaf, op, value) for leaf in attribute.leaves))
        if isinstance(attribute, Complex):
            sub_name = path.sub_attr.value if path.sub_attr is not None else None
            leaf = _sub(attribute, sub_name, path.attr_name)
            return (attribute.scope or _identity)(compare(leaf, op, value))
        if path.sub_attr is not None:
            raise InvalidFilter(f"{path.attr_name} has no sub-attribute {path.sub_attr.value!r}")
        return (attribute.scope or _identity)(compare(attribute, op, value))


def _negate(condition: Condition) -> Condition:
    """``not (...)``: an absent value makes a comparison NULL, and NOT NULL would drop the row it should keep."""
    return not_(func.coalesce(condition, false()))


def _chain(node: ast.LogExpr) -> tuple[list[Any], list[str]]:
    """Flatten an unparenthesized and/or chain into its operands and operators, left to right."""
    operands: list[Any] = []
    ops: list[str] = []
    for side, operand in (("left", node.expr1), ("right", node.expr2)):
        if side == "right":
            ops.append(str(node.op).lower())
        # A parenthesized group is a Filter wrapping a Filter; only a bare chain wraps a LogExpr directly.
        if (
            isinstance(operand, ast.Filter)
            and isinstance(operand.expr, ast.LogExpr)
            and not operand.negated
            and operand.namespace is None
        ):
            inner_operands, inner_ops = _chain(operand.expr)
            operands.extend(inner_operands)
            ops.extend(inner_ops)
        else:
            operands.append(operand)
    return operands, ops


def to_sql(resource_type: str, text: str) -> Condition:
    """The SQLAlchemy condition over Member ("User") or UserGroup ("Group") for a SCIM filter."""
    return _Translator(resource_type).expression(parse(text))
