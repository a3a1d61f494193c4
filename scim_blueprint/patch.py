"""PATCH (RFC 7644 §3.5.2): operations parsed, paths parsed, applied to a User document or turned into a group change.

A User PATCH is applied to the user's SCIM document and the result goes through
the same validation and mapping as a PUT, so rules such as "userName equals the
work email" hold on the final state (Entra changes both in one request). A Group
PATCH becomes a ``GroupChange`` the domain runs in SQL, so adding one member to
a large group never loads the others.

Multi-valued attributes (emails, phoneNumbers, addresses) are kept entry by entry as
sent, so a value filter (``phoneNumbers[type eq "mobile"].value``) changes or removes
exactly the entries it matches (RFC 7644 §3.5.2.1-3); ``add`` without a filter
appends; an entry made primary makes the others' ``primary`` false (§3.5.2).

Tolerated, as identity providers send them: ``op`` in any case, ``Operations`` or
``operations``, no ``schemas``; path-less values whose keys are plain, dotted or
URN-qualified paths (an ``id`` among them is ignored: Okta); a filtered path that
matches nothing creates the entry on add/replace; Entra's legacy member removal
``{"op":"Remove","path":"members","value":[{"value":"<id>"}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from marshmallow import ValidationError

from portal.core.groups import GroupChange
from portal.core.scim_urns import split_urn

from . import references
from .errors import ScimError
from .resources import ENTERPRISE_SCHEMA
from .schemas import Text

OPS = ("add", "remove", "replace")
#: multi-valued attributes (RFC 7643 §4.1.2, §4.2): add appends, replace swaps the whole list
MULTI_VALUED = frozenset(
    {
        "emails",
        "phonenumbers",
        "addresses",
        "members",
        "groups",
        "roles",
        "entitlements",
        "ims",
        "photos",
        "x509certificates",
    }
)
#: attributes a request may not change; every other read-only one is ignored like in a POST body
IMMUTABLE = frozenset({"id"})
IGNORED = frozenset({"schemas", "meta", "groups"})
#: why an IGNORED path is ignored, as the Sync log row's note says (RFC 7643 §3.1 meta, §4.1.2 groups: readOnly)
_IGNORED_WHY = {"schemas": "set by the service provider", "meta": "read-only", "groups": "read-only"}


#: operations one PATCH request may hold, unless SCIM_MAX_PATCH_OPERATIONS says otherwise: membership
#: changes run as set operations, so 10,000 on a 10,000-member group take well under a second
MAX_PATCH_OPERATIONS = 10_000


def max_operations() -> int:
    """How many operations one PATCH request may hold (config ``SCIM_MAX_PATCH_OPERATIONS``)."""
    return int(current_app.config.get("SCIM_MAX_PATCH_OPERATIONS") or MAX_PATCH_OPERATIONS)


@dataclass(frozen=True)
class Operation:
    """One PATCH operation, ``op`` lower-cased."""

    op: str
    path: str | None
    value: Any


def parse_operations(body: Any) -> list[Operation]:
    """The operations of a PatchOp body, or 400 (RFC 7644 §3.5.2, §3.12)."""
    if not isinstance(body, dict):
        raise ScimError(400, "The PATCH body must be a JSON object", "invalidSyntax")
    raw = next((v for k, v in body.items() if isinstance(k, str) and k.lower() == "operations"), None)
    if not isinstance(raw, list) or not raw:
        raise ScimError(400, "A PATCH request needs a non-empty Operations list", "invalidSyntax")
    limit = max_operations()
    if len(raw) > limit:
        # RFC 7644 §3.12 tooMany: more than the service provider is willing to process in one request.
        raise ScimError(
            400,
            f"A PATCH request may hold at most {limit:,} operations, this one holds {len(raw):,}: "
            "send the rest in another request (see maxOperations under patch in /ServiceProviderConfig)",
            "tooMany",
        )
    ops: list[Operation] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ScimError(400, f"Operations[{index}] must be an object", "invalidSyntax")
        item = {k.lower(): v for k, v in item.items() if isinstance(k, str)}
        op = item.get("op")
        if not isinstance(op, str) or op.lower() not in OPS:
            raise ScimError(400, f"Operations[{index}].op must be add, remove or replace, not {op!r}", "invalidSyntax")
        path = item.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, f"Operations[{index}].path must be a string", "invalidPath")
        path = path.strip() if path else None
        op = op.lower()
        if op == "remove" and not path:
            raise ScimError(400, f"Operations[{index}]: remove needs a path", "noTarget")
        if op != "remove" and item.get("value") is None:
            raise ScimError(400, f"Operations[{index}]: {op} needs a value", "invalidValue")
        ops.append(Operation(op, path, item.get("value")))
    return ops


# ---------------------------------------------------------------- value filters (RFC 7644 §3.4.2.2, in a path)

_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<str>"(?:[^"\\]|\\.)*")|(?P<word>[A-Za-z0-9_$:.\-+]+))')
_COMPARE = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ScimError(400, f"Cannot read the filter {text!r}", "invalidPath")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


Predicate = Callable[[dict[str, Any]], bool]


class _FilterParser:
    """filter := or; or := and ("or" and)*; and := unary ("and" unary)*; unary := "not"? ("(" filter ")" | cmp)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        #: attribute -> value of the ``eq`` comparisons joined by ``and`` (what a created entry gets)
        self.equalities: dict[str, Any] = {}
        self.only_and = True

    def fail(self) -> ScimError:
        return ScimError(400, f"Cannot read the filter {self.text!r}", "invalidPath")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise self.fail()
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.keyword("or"):
            self.only_and = False
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.keyword("and"):
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def parse_unary(self) -> Predicate:
        if self.keyword("not"):
            self.only_and = False
            inner = self.parse_unary()
            return lambda e: not inner(e)
        token = self.peek()
        if token and token[0] == "lp":
            self.pos += 1
            inner = self.parse_or()
            if self.take()[0] != "rp":
                raise self.fail()
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        kind, attr = self.take()
        if kind != "word":
            raise self.fail()
        kind, op = self.take()
        op = op.lower()
        if kind != "word" or op not in _COMPARE + ("pr",):
            raise self.fail()
        key = attr.rsplit(".", 1)[-1].lower()
        if op == "pr":
            return lambda e: _get(e, key) not in (None, "", [], {})
        value = self.literal()
        if op == "eq":
            self.equalities[attr.rsplit(".", 1)[-1]] = value
        return lambda e: _compare(_get(e, key), op, value)

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return json.loads(text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        try:
            return float(text) if "." in text or "e" in lowered else int(text)
        except ValueError:
            raise self.fail() from None


def _get(entry: Any, key: str) -> Any:
    if not isinstance(entry, dict):
        return entry if key == "value" else None
    return next((v for k, v in entry.items() if isinstance(k, str) and k.lower() == key), None)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()  # our attributes are caseExact false
    if isinstance(expected, bool) and isinstance(actual, str) and actual.lower() in ("true", "false"):
        actual = actual.lower() == "true"
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        if op == "co":
            return str(expected) in str(actual)
        if op == "sw":
            return str(actual).startswith(str(expected))
        if op == "ew":
            return str(actual).endswith(str(expected))
        ordered: dict[str, bool] = {
            "gt": actual > expected,
            "ge": actual >= expected,
            "lt": actual < expected,
            "le": actual <= expected,
        }
        return ordered[op]
    except TypeError:
        return False


# ---------------------------------------------------------------- paths (RFC 7644 §3.5.2 PATH)

_ATTR = r"[A-Za-z$][\w$\-]*"
_PATH = re.compile(rf"^(?P<attr>{_ATTR})(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>{_ATTR}))?$", re.S)


@dataclass
class Path:
    """A parsed path: extension URN (lower-cased; None for the core schema), attribute, filter, sub-attribute."""

    urn: str | None
    attr: str
    filter_text: str | None
    sub: str | None

    @property
    def key(self) -> str:
        return self.attr.lower()

    def predicate(self) -> tuple[Predicate, dict[str, Any], bool]:
        """The filter as a test on an entry, its ``eq`` values, and whether they describe every match."""
        parser = _FilterParser(self.filter_text or "")
        predicate = parser.parse()
        return predicate, parser.equalities, parser.only_and


def parse_path(text: str) -> Path:
    """``[urn:...:]attr[filter].sub`` or ``[urn:...:]attr.sub``, or 400 invalidPath."""
    try:
        urn, rest = split_urn(text)  # shared with the Sync log's redaction (portal.core.sync_log)
    except ValueError:
        raise ScimError(400, f"Invalid path {text!r}", "invalidPath") from None
    if not rest and text.strip():  # a schema URN alone: its value is a map of that schema's attributes
        return Path(urn, "", None, None)
    match = _PATH.match(rest)
    if not match:
        raise ScimError(400, f"Invalid path {text!r}", "invalidPath")
    attr, filter_text, sub = match.group("attr"), match.group("filter"), match.group("sub")
    if filter_text is not None and not filter_text.strip():
        raise ScimError(400, f"Invalid path {text!r}: empty filter", "invalidPath")
    return Path(urn, attr, filter_text, sub)


# ---------------------------------------------------------------- applying to a User document


def _find_key(container: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    return next((k for k in container if k.lower() == lowered), None)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _same(a: Any, b: Any, key: str) -> bool:
    va, vb = _get(a, key), _get(b, key)
    return va is not None and vb is not None and str(va).lower() == str(vb).lower()


def _same_entry(a: Any, b: Any) -> bool:
    """The same value (what a remove with a value list names)."""
    return _same(a, b, "value")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _comparable(entry: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): str(v).lower() for k, v in entry.items() if isinstance(k, str) and k.lower() != "primary"}


def _duplicate(old: Any, new: Any) -> bool:
    """The same entry: the same value and type (emails, phone numbers: a number sent as work and as
    mobile is two entries), or for entries without a value (addresses) the same sub-attributes, ``primary`` aside."""
    if _get(old, "value") is not None or _get(new, "value") is not None:
        return _same(old, new, "value") and str(_get(old, "type") or "").lower() == str(_get(new, "type") or "").lower()
    return isinstance(old, dict) and isinstance(new, dict) and _comparable(old) == _comparable(new)


def _demote_others(entries: list[Any], chosen: list[Any]) -> None:
    """RFC 7644 §3.5.2: setting a value's ``primary`` to true sets it to false on the others
    (only where they have one: ``primary`` is never added to an entry that was sent without it)."""
    for entry in entries:
        if isinstance(entry, dict) and not any(entry is c for c in chosen):
            key = _find_key(entry, "primary")
            if key is not None and _is_true(entry[key]):
                entry[key] = False


def _merge_multi(current: list[Any], added: list[Any]) -> list[Any]:
    """Add entries (RFC 7644 §3.5.2.1): each is appended, or merged into the entry it repeats (same
    value: "no changes SHOULD be made" beyond what it sends); every other entry is kept, whatever its type."""
    result = list(current)
    primaries: list[Any] = []
    for new in added:
        index = next((i for i, old in enumerate(result) if _duplicate(old, new)), None)
        if index is None:
            result.append(new)
            index = len(result) - 1
        elif isinstance(new, dict) and isinstance(result[index], dict):
            merged = dict(result[index])
            for sub_key, sub_value in new.items():
                merged[_find_key(merged, sub_key) or sub_key] = sub_value
            result[index] = merged
        else:
            result[index] = new
        if _is_true(_get(new, "primary")):
            primaries.append(result[index])
    if primaries:
        _demote_others(result, primaries)
    return result


#: sub-attributes that describe an entry rather than hold its data: an entry left with only these is gone
_LABELS = frozenset({"type", "primary", "display"})


def _holds_data(entry: Any) -> bool:
    return not isinstance(entry, dict) or any(isinstance(k, str) and k.lower() not in _LABELS for k in entry)


def note_ignored(notes: list[str], path: Path) -> None:
    """Record an IGNORED path in ``notes`` (the Sync log row's notes), once: "Ignored PATCH path meta: read-only"."""
    text = (
        path.attr
        + (f"[{path.filter_text}]" if path.filter_text is not None else "")
        + (f".{path.sub}" if path.sub else "")
    )
    note = f"Ignored PATCH path {text}: {_IGNORED_WHY.get(path.key, 'read-only')}"
    if note not in notes:
        notes.append(note)


class UserPatcher:
    """Applies operations to a User document (a dict shaped like ``resources.user_to_scim``).

    ``notes`` collects what was ignored (``note_ignored``), for the Sync log row.
    """

    def __init__(self, document: dict[str, Any], notes: list[str] | None = None) -> None:
        self.doc = document
        self.notes = notes if notes is not None else []

    def apply(self, ops: list[Operation]) -> dict[str, Any]:
        """Apply every operation in order; returns the document."""
        for op in ops:
            if op.path is None:
                self.apply_pathless(op)
            else:
                self.apply_path(op.op, parse_path(op.path), op.value)
        return self.doc

    def apply_pathless(self, op: Operation) -> None:
        if not isinstance(op.value, dict):
            raise ScimError(400, f"{op.op} without a path needs an object value", "invalidValue")
        for key, value in op.value.items():
            if not isinstance(key, str):
                continue
            if key.lower() == ENTERPRISE_SCHEMA.lower() and isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    self.apply_path(op.op, Path(ENTERPRISE_SCHEMA.lower(), sub_key, None, None), sub_value)
                continue
            path = parse_path(key)
            if path.key in IMMUTABLE and path.urn is None:
                continue  # Okta sends the id back in a path-less replace
            self.apply_path(op.op, path, value)

    def container(self, path: Path, create: bool) -> dict[str, Any] | None:
        if path.urn is None:
            return self.doc
        if path.urn != ENTERPRISE_SCHEMA.lower():
            return None  # an extension we do not store: ignored
        key = _find_key(self.doc, ENTERPRISE_SCHEMA) or ENTERPRISE_SCHEMA
        found = self.doc.get(key)
        if isinstance(found, dict):
            return found
        if not create:
            return None
        created: dict[str, Any] = {}
        self.doc[key] = created
        return created

    def apply_path(self, op: str, path: Path, value: Any) -> None:
        if path.urn is None and path.key in IMMUTABLE:
            raise ScimError(400, f"{path.attr} is immutable", "mutability")
        if path.urn is None and path.key in IGNORED:
            note_ignored(self.notes, path)
            return
        if not path.attr:  # the extension URN itself: its value is a map of the extension's attributes
            if op == "remove":
                self.doc.pop(_find_key(self.doc, ENTERPRISE_SCHEMA) or ENTERPRISE_SCHEMA, None)
            elif path.urn is not None and isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    self.apply_path(op, Path(path.urn, sub_key, None, None), sub_value)
            return
        container = self.container(path, create=op != "remove")
        if container is None:
            return
        key = _find_key(container, path.attr) or path.attr
        if path.filter_text is not None:
            self.apply_filtered(op, container, key, path, value)
        elif path.sub is not None:
            self.apply_sub(op, container, key, path.sub, value)
        else:
            self.apply_whole(op, container, key, value)

    def apply_whole(self, op: str, container: dict[str, Any], key: str, value: Any) -> None:
        current = container.get(key)
        if op == "remove":
            if key.lower() in MULTI_VALUED and value is not None and isinstance(current, list):
                container[key] = [e for e in current if not any(_same_entry(e, v) for v in _as_list(value))]
                if not container[key]:  # RFC 7644 §3.5.2.2: no value left, the attribute is unassigned
                    container.pop(key)
            else:
                container.pop(key, None)
        elif key.lower() in MULTI_VALUED:
            added = [v for v in _as_list(value) if v is not None]
            container[key] = added if op == "replace" else _merge_multi(_as_list(current or []), added)
        elif isinstance(value, dict) and isinstance(current, dict):
            merged = dict(current)
            for sub_key, sub_value in value.items():
                merged[_find_key(merged, sub_key) or sub_key] = sub_value
            container[key] = merged
        else:
            container[key] = value

    def apply_sub(self, op: str, container: dict[str, Any], key: str, sub: str, value: Any) -> None:
        current = container.get(key)
        targets = current if isinstance(current, list) else [current] if isinstance(current, dict) else []
        if not targets:
            if op == "remove":
                return
            entry: dict[str, Any] = {}
            container[key] = [entry] if key.lower() in MULTI_VALUED else entry
            targets = [entry]
        for target in targets:
            if isinstance(target, dict):
                self.set_sub(op, target, sub, value)
        if op == "remove" and isinstance(current, list):  # entries left with no data go (RFC 7644 §3.5.2.2)
            remaining = [e for e in current if _holds_data(e)]
            if remaining:
                container[key] = remaining
            else:
                container.pop(key, None)

    @staticmethod
    def set_sub(op: str, target: dict[str, Any], sub: str, value: Any) -> None:
        sub_key = _find_key(target, sub) or sub
        if op == "remove":
            target.pop(sub_key, None)
        else:
            target[sub_key] = value

    def apply_filtered(self, op: str, container: dict[str, Any], key: str, path: Path, value: Any) -> None:
        predicate, equalities, only_and = path.predicate()
        entries = _as_list(container.get(key) or [])
        matches = [e for e in entries if isinstance(e, dict) and predicate(e)]
        if op == "remove":
            # RFC 7644 §3.5.2.2: the matched entries (or their sub-attribute) go, the others stay; an entry
            # left with no data goes too, and an attribute left with no entries is unassigned. No match: no-op.
            if path.sub is not None:
                for entry in matches:
                    self.set_sub(op, entry, path.sub, None)
            removed = matches if path.sub is None else [e for e in matches if not _holds_data(e)]
            if removed:
                remaining = [e for e in entries if not any(e is r for r in removed)]
                if remaining:
                    container[key] = remaining
                else:
                    container.pop(key, None)
            return
        if not matches:
            # RFC 7644 §3.5.2.1: add to a target that does not exist adds it. §3.5.2.3 asks a replace that
            # matches nothing for 400 noTarget; Microsoft Entra ID sends "Replace" for a value the target
            # does not have yet, so a replace adds the entry too, when the filter says what it is.
            if not only_and or not equalities:
                raise ScimError(400, f"No {path.attr} entry matches {path.filter_text!r}", "noTarget")
            entry = dict(equalities)
            entries.append(entry)
            container[key] = entries
            matches = [entry]
        for entry in matches:
            if path.sub is not None:
                self.set_sub(op, entry, path.sub, value)
            elif isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    entry[_find_key(entry, sub_key) or sub_key] = sub_value
            else:
                raise ScimError(400, f"The value for {path.attr}[{path.filter_text}] must be an object", "invalidValue")
        sent = {path.sub: value} if path.sub is not None else value if isinstance(value, dict) else {}
        if _is_true(_get(sent, "primary")) or _is_true(_get(equalities, "primary")):
            _demote_others(entries, [e for e in matches if _is_true(_get(e, "primary"))])


def apply_to_user(document: dict[str, Any], ops: list[Operation], notes: list[str] | None = None) -> dict[str, Any]:
    """The User document after the operations (RFC 7644 §3.5.2.1-3); ignored paths noted in ``notes``."""
    return UserPatcher(document, notes).apply(ops)


# ---------------------------------------------------------------- Group PATCH as a GroupChange


def _member_values(value: Any) -> list[str]:
    ids: list[str] = []
    for item in _as_list(value):
        raw = references.member_value(item) if isinstance(item, dict) else item
        text = _text(raw, "members.value") if raw is not None else None
        if not text:
            raise ScimError(400, "Each member needs a value (the member's id)", "invalidValue")
        ids.append(text)
    return ids


def _filter_member_ids(path: Path) -> list[str]:
    """The ids a ``members[value eq "..."]`` filter names (``or`` allowed)."""
    found: list[str] = []
    for part in re.split(r"\s+or\s+", path.filter_text or "", flags=re.I):
        match = re.fullmatch(r'\s*\(?\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\)?\s*', part, flags=re.I)
        if not match:
            raise ScimError(
                400, f'Unsupported members filter {path.filter_text!r}: use value eq "<id>"', "invalidFilter"
            )
        found.append(match.group(1))
    return found


def _group_op(change: GroupChange, op: str, path: Path, value: Any, notes: list[str]) -> None:
    if path.urn is not None:
        return  # no group extension is stored
    key = path.key
    if key in IMMUTABLE:
        raise ScimError(400, f"{path.attr} is immutable", "mutability")
    if key in IGNORED:
        note_ignored(notes, path)
    elif key == "displayname" and path.filter_text is None and path.sub is None:
        change.set_display_name = True
        change.display_name = None if op == "remove" else _text(value, "displayName")
    elif key == "externalid" and path.filter_text is None and path.sub is None:
        change.set_external_id = True
        change.scim_external_id = None if op == "remove" else _text(value, "externalId")
    elif key == "members":
        if path.filter_text is not None:
            ids = _filter_member_ids(path)
            if op == "remove":
                change.member_steps.append(("remove", ids))
            elif path.sub is None:
                change.member_steps.append(("add", ids))
        elif op == "remove":
            change.member_steps.append(("remove", _member_values(value)) if value is not None else ("replace", []))
        else:
            change.member_steps.append((op if op == "replace" else "add", _member_values(value)))


def _text(value: Any, name: str) -> str | None:
    try:
        return Text()._deserialize(value, name, None)
    except ValidationError:
        raise ScimError(400, f"{name} must be a string", "invalidValue") from None


def group_change(ops: list[Operation], notes: list[str] | None = None) -> GroupChange:
    """The change a Group PATCH makes (RFC 7644 §3.5.2), to be run by the domain in SQL; ignored paths in ``notes``."""
    change = GroupChange()
    notes = notes if notes is not None else []
    for op in ops:
        if op.path is None:
            if not isinstance(op.value, dict):
                raise ScimError(400, f"{op.op} without a path needs an object value", "invalidValue")
            for key, value in op.value.items():
                if isinstance(key, str) and key.lower() != "id":  # Okta's rename sends the id back
                    _group_op(change, op.op, parse_path(key), value, notes)
        else:
            _group_op(change, op.op, parse_path(op.path), op.value, notes)
    return change
