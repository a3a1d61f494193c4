"""Administrator notifications: written in the caller's transaction, folded by group key."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from .extensions import db
from .models import Admin, Notification, utcnow


def sync_admins(org_id: int) -> list[Admin]:
    """Active administrators who may configure the sync (primary or ``org_data_sync``)."""
    return list(
        db.session.scalars(
            select(Admin).where(
                Admin.org_id == org_id,
                Admin.active.is_(True),
                or_(Admin.role == "primary", Admin.perm_org_data_sync.is_(True)),
            )
        )
    )


def send(
    org_id: int,
    admins: list[Admin],
    *,
    kind: str,
    group_key: str,
    title: str,
    body: str | None = None,
    link: str | None = None,
    source_id: int | None = None,
) -> list[Notification]:
    """Notify each admin once per ``group_key``; a repeat raises the count instead of adding a row."""
    sent: list[Notification] = []
    now = utcnow()
    for admin in {a.id: a for a in admins}.values():
        existing = db.session.scalar(
            select(Notification).where(Notification.admin_id == admin.id, Notification.group_key == group_key)
        )
        if existing is not None:
            existing.count += 1
            existing.updated_at = now
            existing.read_at = None
            sent.append(existing)
            continue
        note = Notification(
            org_id=org_id, admin_id=admin.id, source_id=source_id, kind=kind, group_key=group_key,
            title=title, body=body, link=link, count=1, created_at=now, updated_at=now,
        )
        db.session.add(note)
        sent.append(note)
    db.session.flush()
    return sent


def unread_count(admin_id: int) -> int:
    """How many notifications the admin has not read."""
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.admin_id == admin_id, Notification.read_at.is_(None))
    ) or 0
