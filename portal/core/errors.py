"""Domain errors. They carry no HTTP: each door translates them into its own language."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """A value breaks a rule (missing, wrong type, too many rules ...).

    A form refused for several fields at once carries each in ``errors`` (field -> message, in the
    form's order); ``field`` and ``message`` are the first, for a door that shows one.
    """

    def __init__(self, message: str, field: str | None = None, errors: dict[str, str] | None = None) -> None:
        super().__init__(message, field)
        self.errors: dict[str, str] = dict(errors) if errors else ({field: message} if field else {})

    @classmethod
    def of(cls, errors: dict[str, str]) -> Invalid:
        """One refusal naming every field at fault (``errors`` must not be empty)."""
        field, message = next(iter(errors.items()))
        return cls(message, field=field, errors=errors)


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
