"""Administrator notifications and page banners.

Notifications are written in the caller's transaction and folded by group key:
one broken identity provider raises a count instead of flooding anyone. When
``SMTP_URL`` is configured, each new notification is also emailed: its email is an
outbox row in the same transaction (``portal.core.outbox``), which the worker
delivers after the commit, so a rolled-back request never sends mail and a slow or
broken mail server never slows or fails the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.core import outbox
from portal.extensions import db
from portal.models import Admin, BannerDismissal, Department, Notification, SyncLog, SyncSource, utcnow

#: failure kinds that every admin with the sync permission hears about, whatever the source's setting
TOKEN_KINDS = {"token_expired": "the token has expired", "token_invalid": "the token is invalid"}

#: SCIM error types (RFC 7644 §3.12) and other failure kinds, as an administrator reads them
FAILURE_LABELS = {
    "uniqueness": "a value is already used by another member",
    "invalidValue": "a value was refused",
    "invalidSyntax": "the request could not be read",
    "invalidFilter": "a filter could not be read",
    "invalidPath": "a PATCH path could not be read",
    "mutability": "a read-only attribute was changed",
    "noTarget": "a PATCH path matched nothing",
    "tooMany": "the request asked for too many results",
    "invalidVers": "the resource changed in the meantime",
    "sensitive": "the request carried sensitive data in the URL",
}


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


def chosen_admins(source: SyncSource) -> list[Admin]:
    """The active administrators picked in the source's Administrator notification setting."""
    ids = [int(i) for i in source.notified_admin_ids or []]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Admin).where(Admin.org_id == source.org_id, Admin.active.is_(True), Admin.id.in_(ids))
        )
    )


def sync_log_path(source: SyncSource | int) -> str:
    """The console address of a source's sync log (the source or its id): the one place it is spelled."""
    source_id = source if isinstance(source, int) else source.id
    return f"/settings/directory-sync/{source_id}/sync-log"


#: a folded notification lists at most this many distinct causes; the rest are counted on one more line
MAX_CAUSES = 10
#: the longest cause kept: the start of a long error says what it is
MAX_CAUSE_CHARS = 300
#: the line that counts the causes past MAX_CAUSES, and the cause of a failure that came without a detail
OTHER_CAUSES = "Other causes"
NO_DETAIL = "No detail given"
_CAUSE_LINE = re.compile(r"(\d+)× (.+)")


def causes(body: str | None) -> list[tuple[str, int]] | None:
    """The causes a folded notification lists, with their counts, most frequent first; None when the body
    is not such a list (a notification that was never folded keeps its one cause as its body)."""
    if not body:
        return None
    listed = []
    for line in body.split("\n"):
        match = _CAUSE_LINE.fullmatch(line)
        if match is None:
            return None
        listed.append((match.group(2), int(match.group(1))))
    return listed


def _cause(text: str | None) -> str:
    # One line each: a line break inside a cause would end its line in the body.
    return " ".join((text or "").split())[:MAX_CAUSE_CHARS] or NO_DETAIL


def _with_cause(body: str | None, earlier: int, cause: str | None) -> str | None:
    """The body once one more notification with ``cause`` is folded in: one ``<count>× <cause>`` line per
    distinct cause, most frequent first. ``earlier`` is how many were folded before this one."""
    if body is None and cause is None:
        return None
    listed = causes(body)
    # Never folded yet: the body is the cause of the ``earlier`` notifications (one, unless the row is older
    # than this listing, when the first cause was all that was kept).
    counts = dict(listed) if listed is not None else {_cause(body): earlier}
    key = _cause(cause)
    if key not in counts and len([c for c in counts if c != OTHER_CAUSES]) >= MAX_CAUSES:
        key = OTHER_CAUSES
    counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (item[0] == OTHER_CAUSES, -item[1]))
    return "\n".join(f"{count}× {text}" for text, count in ordered)


def _fold(org_id: int, admin: Admin, values: dict[str, Any], now: datetime) -> tuple[Notification, bool]:
    """Add the admin's notification for ``group_key`` or count one more, with its cause; returns it and
    whether it is new.

    A repeat first raises the count in SQL (``UPDATE ... RETURNING``), which locks the row until the
    transaction ends: the row lock on PostgreSQL, the database's write lock on SQLite. Only then is the
    body read (from what that UPDATE returned) and its list of causes rewritten, so two repeats folding
    at once take turns and neither loses the other's cause or count.
    """
    table = Notification.__table__
    mine = (table.c.admin_id == admin.id) & (table.c.group_key == values["group_key"])

    def bump() -> Any:
        return db.session.execute(
            update(table)
            .where(mine)
            .values(count=table.c.count + 1, updated_at=now, read_at=None)
            .returning(table.c.id, table.c.count, table.c.body)
        ).first()

    row = bump()
    if row is None:
        try:
            # Two requests failing at once may both find nothing: the unique key decides.
            with db.session.begin_nested():
                note = Notification(org_id=org_id, admin_id=admin.id, count=1, created_at=now, updated_at=now, **values)
                db.session.add(note)
                db.session.flush()
            return note, True
        except IntegrityError:
            row = bump()
            if row is None:
                raise
    body = _with_cause(row.body, row.count - 1, values["body"])
    if body != row.body:
        db.session.execute(update(table).where(table.c.id == row.id).values(body=body, updated_at=now))
    folded = db.session.get(Notification, row.id, populate_existing=True)
    assert folded is not None  # the row is locked by this transaction's UPDATE
    return folded, False


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
    values = {"kind": kind, "group_key": group_key, "title": title, "body": body, "link": link, "source_id": source_id}
    smtp_url = current_app.config.get("SMTP_URL") or ""
    for admin in {a.id: a for a in admins}.values():
        note, new = _fold(org_id, admin, values, now)
        if new and smtp_url:
            outbox.add_email(admin.email, title, _email_text(title, body, link), org_id=org_id, notification=note)
        sent.append(note)
    db.session.flush()
    return sent


def sync_failure(source: SyncSource, kind: str, detail: str | None = None) -> list[Notification]:
    """Tell administrators that the source's SCIM request was rejected, folded per source, kind and hour.

    ``kind`` is ``token_expired``, ``token_invalid`` or the failure's kind (a SCIM
    error type such as ``uniqueness`` or ``invalidValue``). Token failures go to
    every administrator who may configure the sync, whatever the source's
    Administrator notification setting says (seed 1.1 step 5); the rest go to
    the administrators chosen there.
    """
    token_failure = kind in TOKEN_KINDS
    admins = sync_admins(source.org_id) if token_failure else chosen_admins(source)
    reason = TOKEN_KINDS.get(kind) or FAILURE_LABELS.get(kind) or kind
    hour = utcnow().strftime("%Y-%m-%dT%H")
    return send(
        source.org_id,
        admins,
        kind=kind if token_failure else "sync_failure",
        group_key=f"sync:{source.id}:{kind}:{hour}"[:128],
        title=f"{source.name} sync failed: {reason}",
        body=detail,
        link=sync_log_path(source),
        source_id=source.id,
    )


def unread_count(admin_id: int) -> int:
    """How many notifications the admin has not read."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.admin_id == admin_id, Notification.read_at.is_(None))
        )
        or 0
    )


def for_admin(admin_id: int, *, limit: int, offset: int = 0) -> tuple[list[Notification], int]:
    """A page of the admin's notifications, latest activity first, and their total."""
    where = Notification.admin_id == admin_id
    total = db.session.scalar(select(func.count()).select_from(Notification).where(where)) or 0
    rows = db.session.scalars(
        select(Notification)
        .where(where)
        .order_by(Notification.updated_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def mark_read(admin_id: int, notification_id: int | None = None) -> int:
    """Mark one of the admin's notifications (or all of them) read; returns how many changed."""
    table = Notification.__table__
    # updated_at is named, as itself: a Core UPDATE would otherwise apply the column's onupdate and
    # move every notification's time (the one the list shows and sorts by) to now.
    stmt = (
        table.update()
        .where(table.c.admin_id == admin_id, table.c.read_at.is_(None))
        .values(read_at=utcnow(), updated_at=table.c.updated_at)
    )
    if notification_id is not None:
        stmt = stmt.where(table.c.id == notification_id)
    # Session.execute is typed Result for any statement; an UPDATE's is a CursorResult, which counts rows.
    return cast(CursorResult[Any], db.session.execute(stmt)).rowcount


# ---------------------------------------------------------------- banners

#: (object type, sync log operation) -> words of the banner, in the order shown
_BANNER_PARTS: tuple[tuple[str, str, str], ...] = (
    ("member", "create", "{n} member{s} created"),
    ("member", "update", "{n} updated"),
    ("member", "deactivate", "{n} suspended"),
    ("member", "reactivate", "{n} reactivated"),
    ("member", "delete", "{n} deleted"),
    ("member", "link", "{n} linked to existing members"),
    ("group", "create", "{n} user group{s} created"),
    ("group", "update", "{n} user group{s} updated"),
    ("group", "delete", "{n} user group{s} deleted"),
)


@dataclass
class Banner:
    """What one sync source changed since the administrator last dismissed its banner."""

    source_id: int
    source_name: str
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    departments_created: int = 0

    @property
    def text(self) -> str:
        """``JumpCloud sync: 12 members created, 3 updated, 1 suspended, 2 departments created``."""
        parts = []
        for object_type, operation, words in _BANNER_PARTS:
            n = self.counts.get((object_type, operation), 0)
            if n:
                parts.append(words.format(n=n, s="" if n == 1 else "s"))
        if self.departments_created:
            n = self.departments_created
            parts.append(f"{n} department{'' if n == 1 else 's'} created")
        return f"{self.source_name} sync: {', '.join(parts)}"

    @property
    def link(self) -> str:
        return sync_log_path(self.source_id)


def banners(admin: Admin) -> list[Banner]:
    """One banner per sync source that changed something since this admin dismissed it (two grouped queries)."""
    epoch = datetime(1970, 1, 1)
    since = func.coalesce(BannerDismissal.dismissed_at, epoch)
    dismissal = (BannerDismissal.source_id == SyncSource.id) & (BannerDismissal.admin_id == admin.id)
    log_counts = db.session.execute(
        select(SyncSource.id, SyncSource.name, SyncLog.object_type, SyncLog.operation, func.count())
        .join(SyncLog, SyncLog.source_id == SyncSource.id)
        .outerjoin(BannerDismissal, dismissal)
        .where(SyncSource.org_id == admin.org_id, SyncLog.status_code < 400, SyncLog.created_at > since)
        .group_by(SyncSource.id, SyncSource.name, SyncLog.object_type, SyncLog.operation)
    ).all()
    # Departments a source made are counted where they live: the source is their data source.
    dept_counts = db.session.execute(
        select(SyncSource.id, SyncSource.name, func.count())
        .join(Department, Department.source_id == SyncSource.id)
        .outerjoin(BannerDismissal, dismissal)
        .where(SyncSource.org_id == admin.org_id, Department.created_at > since)
        .group_by(SyncSource.id, SyncSource.name)
    ).all()
    found: dict[int, Banner] = {}
    shown = {(t, op) for t, op, _ in _BANNER_PARTS}
    for source_id, name, object_type, operation, n in log_counts:
        if object_type is not None and (object_type, operation) in shown:
            found.setdefault(source_id, Banner(source_id, name)).counts[(object_type, operation)] = n
    for source_id, name, n in dept_counts:
        found.setdefault(source_id, Banner(source_id, name)).departments_created = n
    return sorted(found.values(), key=lambda b: (b.source_name.lower(), b.source_id))


def dismiss_banner(admin: Admin, source_id: int) -> None:
    """Hide the source's banner for this admin until the source changes something again."""
    source = db.session.get(SyncSource, source_id)
    if source is None or source.org_id != admin.org_id:
        return
    now = utcnow()
    row = db.session.get(BannerDismissal, (admin.id, source_id))
    if row is None:
        try:
            # A double click sends two dismissals at once: the primary key keeps one row.
            with db.session.begin_nested():
                db.session.add(BannerDismissal(admin_id=admin.id, source_id=source_id, dismissed_at=now))
                db.session.flush()
            return
        except IntegrityError:
            row = db.session.get(BannerDismissal, (admin.id, source_id), populate_existing=True)
            if row is None:
                raise
    row.dismissed_at = now
    db.session.flush()


# ---------------------------------------------------------------- email


# Who gets which email is decided here; it is recorded in the outbox (portal.core.outbox) in the caller's
# transaction, and the worker (portal.jobs) hands it to the transport (portal.infra.mail) after the commit.


def _email_text(title: str, body: str | None, link: str | None) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    lines = [title, ""]
    if body:
        lines += [body, ""]
    if link:
        lines += [f"Open: {base}{link}", ""]
    lines.append("Repeats of this failure within the hour are counted in the console's notifications.")
    return "\n".join(lines)


def queue_mail(to: str, subject: str, text: str) -> bool:
    """Email ``text`` once the transaction commits (through the outbox); False (nothing queued) without SMTP_URL."""
    if not current_app.config.get("SMTP_URL"):
        return False
    outbox.add_email(to, subject, text)
    return True
