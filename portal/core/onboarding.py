"""Getting started: the home page's checklist, ticked from the organization's real state (reads only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Admin, SyncSource


@dataclass(frozen=True)
class Step:
    """One step of the checklist: what to do, whether it is done, and the source it is about (if any)."""

    key: str
    label: str
    done: bool
    source_id: int | None = None


def checklist(org_id: int) -> list[Step]:
    """The four first steps of a new organization, in order: add a sync source (its wizard saved), activate
    it, its first request received, another administrator invited. Two queries, whatever the size."""
    sources = list(
        db.session.execute(
            select(SyncSource.id, SyncSource.status, SyncSource.last_success_at)
            .where(SyncSource.org_id == org_id, SyncSource.deleted_at.is_(None))
            .order_by(SyncSource.created_at.desc(), SyncSource.id.desc())
        )
    )
    admins = db.session.scalar(select(func.count(Admin.id)).where(Admin.org_id == org_id)) or 0
    drafts = [s.id for s in sources if s.status == "draft"]
    saved = [s.id for s in sources if s.status != "draft"]
    active = [s.id for s in sources if s.status == "active"]
    inactive = [s.id for s in sources if s.status == "inactive"]
    received = [s.id for s in sources if s.last_success_at is not None]
    return [
        Step("add_source", "Add a sync source", bool(saved), drafts[0] if drafts and not saved else None),
        Step("activate", "Activate it", bool(active), inactive[0] if inactive and not active else None),
        Step("first_request", "First request received", bool(received), (active or saved or [None])[0]),
        Step("invite_admins", "Invite administrators", admins > 1),
    ]
