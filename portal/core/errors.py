"""Domain errors. They carry no HTTP: each door translates them into its own language."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """A value breaks a rule (missing, wrong type, too many rules ...)."""


class Conflict(DomainError):
    """A value is already taken: a uniqueness rule of the organization."""


class NotFound(DomainError):
    """The object does not exist in this organization."""

    def __init__(self, message: str = "not found", field: str | None = None) -> None:
        super().__init__(message, field)


class PreconditionFailed(DomainError):
    """The object changed since the caller read it (ETag / If-Match)."""


class Forbidden(DomainError):
    """The actor may not do this."""
