"""Who acts on the domain: an administrator, the CLI, or a sync source over SCIM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.core.sync_sources import SourceRef
    from portal.models import Admin, SyncSource


@dataclass(frozen=True)
class Actor:
    """The author of a change, recorded in the admin log or the sync log."""

    kind: str  # "admin", "cli" or "source"
    admin: Admin | None = None
    #: the ORM source, or the request-time snapshot the SCIM door holds (``sync_sources.SourceRef``)
    source: SyncSource | SourceRef | None = None
    ip: str | None = None

    @classmethod
    def for_admin(cls, admin: Admin, ip: str | None = None) -> Actor:
        return cls("admin", admin=admin, ip=ip)

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli")

    @classmethod
    def for_source(cls, source: SyncSource | SourceRef) -> Actor:
        return cls("source", source=source)

    @property
    def label(self) -> str:
        """How the actor is shown in logs."""
        if self.admin is not None:
            return self.admin.email
        if self.source is not None:
            return f"{self.source.name} (SCIM)"
        return "CLI"

    @property
    def source_id(self) -> int | None:
        """The data source a new object gets: the sync source, or None for the Admin Console."""
        return self.source.id if self.source is not None else None
