"""Text a person types into the console, checked once for every form: the shared cleaner ``clean_text``.

Its own module, not part of ``fields``, so that every writer of text can use it without an import
cycle: ``sync_sources`` too, which ``fields`` imports.
"""

from __future__ import annotations

import re
from typing import Any

from portal.core.errors import Invalid
from portal.models import norm

#: what no one-line text may hold: the C0 and C1 control characters and DEL (PostgreSQL refuses NUL, which
#: SQLite would store; CR and LF would split a mail header), and lone surrogates (not UTF-8 at all)
_NOT_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: what no multi-line text (a description) may hold: NUL and lone surrogates, which no database stores alike
_NOT_IN_TEXT = re.compile("[\x00\ud800-\udfff]")
#: each column's length, by ``id`` of the model attribute, which the entry keeps alive (so no other object
#: gets its id): reading it through the attribute's comparator cost more than the rest of the check, and
#: every SCIM write checks ten (a model attribute cannot be a dict key: its ``==`` builds SQL)
_LIMITS: dict[int, tuple[Any, int | None]] = {}


def _limit(column: Any) -> int | None:
    """The length ``column`` stores (None: no limit, or no column)."""
    found = _LIMITS.get(id(column))
    if found is None or found[0] is not column:
        found = _LIMITS[id(column)] = (column, getattr(getattr(column, "type", None), "length", None))
    return found[1]


def text_problem(text: str, column: Any = None, *, label: str = "The value", multiline: bool = False) -> str | None:
    """Why ``text`` cannot be stored in ``column`` (a model attribute such as ``Member.name``), or None.

    The same answer on both databases: SQLite would store a NUL or a value past the column's length
    silently, where PostgreSQL refuses the statement. The length counts the compared form (``norm``)
    too, which the uniqueness columns of the same length hold and which may be longer ("ß" is "ss").
    """
    if (_NOT_IN_TEXT if multiline else _NOT_IN_LINE).search(text):
        return f"{label} contains a character that is not allowed"
    limit = _limit(column)
    if limit is not None and max(len(text), len(norm(text))) > limit:
        return f"{label} must be at most {limit} characters"
    return None


def clean_text(
    value: Any, column: Any = None, *, label: str = "The value", field: str | None = None, multiline: bool = False
) -> str | None:
    """A form or SCIM value as stored text: stripped, and None when nothing is left.

    Refused (``Invalid`` on ``field``) when it holds a character no text may hold, or more characters than
    ``column`` stores: see ``text_problem``. Every console form that writes text goes through here.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    problem = text_problem(text, column, label=label, multiline=multiline)
    if problem is not None:
        raise Invalid(problem, field=field)
    return text
