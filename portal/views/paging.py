"""Numbered pagination shared by the console lists: the page number from the query string, offsets, page links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request, url_for


@dataclass(frozen=True)
class Pager:
    """One page of a list of ``total`` rows, ``per_page`` at a time."""

    number: int
    per_page: int
    total: int
    url: Callable[[int], str]

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def page_number() -> int:
    """The ``page`` query argument, 1 when absent or not a number."""
    raw = request.args.get("page", "1")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    return max(int(raw), 1) if raw.isascii() and raw.isdigit() and len(raw) < 9 else 1


def pager(endpoint: str, total: int, per_page: int, number: int, **args: Any) -> Pager:
    """A pager whose links keep the list's other query arguments (search, filters)."""
    kept = {k: v for k, v in args.items() if v not in (None, "")}
    return Pager(
        min(number, max((total + per_page - 1) // per_page, 1)),
        per_page,
        total,
        lambda p: url_for(endpoint, page=p, **kept),
    )
