"""Test data for the organization pages: sync sources, members a source synced, sync log rows.

Members and departments are written the way a sync source leaves them (data
source set, one sync log row per write), so the console can be tested on its own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from portal.core import departments, sync_sources, workforce
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Member, SyncLog, SyncSource, utcnow


def make_source_with_token(
    app: Any,
    org_id: int,
    name: str = "JumpCloud",
    provider: str = "jumpcloud",
    notified_admin_ids: list[int] | None = None,
) -> tuple[int, str, str]:
    """An active sync source of the organization; returns its id, its SCIM id (public_id) and its token."""
    with app.app_context():
        source, token = sync_sources.create_source(org_id, provider, Actor.cli(), name=name)
        source.notified_admin_ids = list(notified_admin_ids or [])
        sync_sources.set_active(org_id, source.id, True, Actor.cli())
        db.session.commit()
        return source.id, source.public_id, token


def make_source(
    app: Any,
    org_id: int,
    name: str = "JumpCloud",
    provider: str = "jumpcloud",
    notified_admin_ids: list[int] | None = None,
) -> int:
    """An active sync source of the organization; returns its id."""
    return make_source_with_token(app, org_id, name, provider, notified_admin_ids)[0]


def log_sync(
    source: SyncSource,
    operation: str,
    *,
    object_type: str = "member",
    object_id: str | None = None,
    object_name: str | None = None,
    status_code: int = 200,
    at: datetime | None = None,
    associated: list[dict[str, Any]] | None = None,
) -> SyncLog:
    """One sync log row of ``source`` (inside the caller's app context)."""
    entry = SyncLog(
        org_id=source.org_id,
        source_id=source.id,
        operation=operation,
        object_type=object_type,
        object_id=object_id,
        object_name=object_name,
        result="success" if status_code < 400 else "failure",
        status_code=status_code,
        associated=associated or [],
        changes={},
        notes=[],
        created_at=at or utcnow(),
        method="POST",
        path="/Users",
        request_body={},
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def sync_member(
    app: Any,
    org_id: int,
    source_id: int,
    user_name: str,
    name: str,
    *,
    department: str | None = None,
    job_title: str | None = None,
    **fields: Any,
) -> str:
    """Create a member as a sync source does; returns its public id.

    Data source set, departments found or created, sync log row.
    """
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        actor = Actor.for_source(source)
        member = Member(
            org_id=org_id,
            external_id=user_name,
            email=user_name,
            name=name,
            status="active",
            source_id=source_id,
            custom_fields={},
            **fields,
        )
        associated = []
        if department:
            dept, created = departments.find_or_create_department(org_id, department, actor.source_id)
            member.departments = [dept]
            associated.append({"type": "department", "name": dept.name, "created": created})
        if job_title:
            title, created = workforce.find_or_create_job_title(org_id, job_title, actor)
            member.job_title = title
            associated.append({"type": "job_title", "name": title.name, "created": created})
        db.session.add(member)
        db.session.flush()
        log_sync(
            source, "create", object_id=member.public_id, object_name=user_name, status_code=201, associated=associated
        )
        db.session.commit()
        return member.public_id


def scim_call(
    base_url: str, public_id: str, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One SCIM request over HTTP, as an identity provider sends it; returns the status and the JSON answer."""
    request = urllib.request.Request(
        f"{base_url}/scim/v2/{public_id}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"null")
