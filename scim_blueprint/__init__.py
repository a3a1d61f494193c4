"""The SCIM 2.0 protocol adapter: parse, validate, map, respond. The domain does the rest."""

from __future__ import annotations

from . import auth, discovery, query, views  # noqa: F401  (hooks and routes register on import)
from .blueprint import TolerantSlashes, bp

__all__ = ["TolerantSlashes", "bp"]
