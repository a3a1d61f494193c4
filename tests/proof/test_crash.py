"""``kill -9`` of a gunicorn worker in the middle of a create load leaves nothing half-written.

Each SCIM write is one transaction holding the member (or group), the department
and job title it created and its sync log row; a worker killed at any point must
leave either all of them or none. The master starts a new worker and the load goes on.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, JobTitle, Member, SyncLog, SyncSource, UserGroup, group_members
from tests.proof.support import HttpScim
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, add_source, user
from tests.servers import Server

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]

THREADS = 4
#: successful creates wanted before the kill and again after the new worker answers
CREATES_AROUND_KILL = 12
GROUP_SIZE = 2


class Load:
    """Threads creating users (with shared departments and titles) and groups of them until told to stop."""

    def __init__(self, scim: HttpScim) -> None:
        self.scim = scim
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.created: list[str] = []
        self.statuses: Counter[Any] = Counter()
        self.counter = 0
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(THREADS)]

    def next_index(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def send(self, index: int) -> None:
        if index % 5 == 0 and len(self.created) >= GROUP_SIZE:
            with self.lock:
                members = [{"value": v} for v in self.created[-GROUP_SIZE:]]
            body = {"schemas": [GROUP_SCHEMA], "displayName": f"Crash group {index}", "members": members}
            path = "/Groups"
        else:
            # Departments and titles shared by several users: racing creates of one name too.
            body = user(
                f"load{index}@acme.test",
                title=f"Title {index % 3}",
                **{"schemas": [ENTERPRISE], ENTERPRISE: {"department": f"Dept {index % 4}"}},
            )
            path = "/Users"
        try:
            reply = self.scim.request("POST", path, body)
        except (OSError, http.client.HTTPException) as exc:
            # The worker died under this request, before its answer or in the middle of it
            # (IncompleteRead: the headers were out, the body not): its fate is the database's to tell.
            with self.lock:
                self.statuses[type(exc).__name__] += 1
            return
        with self.lock:
            self.statuses[reply.status] += 1
            if reply.status == 201 and path == "/Users":
                self.created.append(reply.json["id"])

    def run(self) -> None:
        while not self.stop.is_set():
            self.send(self.next_index())

    def wait_for(self, creates: int, deadline: float) -> None:
        while len(self.created) < creates and time.monotonic() < deadline:
            time.sleep(0.05)


def _replaced(server: Server, killed: int, deadline: float) -> list[int]:
    """The worker pids once the master has replaced ``killed`` (or what there is at the deadline)."""
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if killed not in pids and len(pids) == 2:
            return pids
        time.sleep(0.1)
    return server.worker_pids()


def test_kill_9_of_a_worker_during_creates_leaves_no_half_written_object(
    app: Any, runner: Any, org: Any, server: Server
) -> None:
    source = add_source(runner, org.name, "--activate")
    load = Load(HttpScim(f"{server.url}/scim/v2/{source.id}", source.token, timeout=20))
    deadline = time.monotonic() + 120
    for thread in load.threads:
        thread.start()
    try:
        load.wait_for(CREATES_AROUND_KILL, deadline)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        assert victim not in _replaced(server, victim, deadline), "the master did not replace the killed worker"
        load.wait_for(len(load.created) + CREATES_AROUND_KILL, deadline)
    finally:
        load.stop.set()
        for thread in load.threads:
            thread.join(30)
    assert len(load.created) >= 2 * CREATES_AROUND_KILL, load.statuses
    assert set(load.statuses) <= {
        201,
        "RemoteDisconnected",
        "ConnectionResetError",
        "BrokenPipeError",
        "IncompleteRead",
    }, load.statuses

    with app.app_context():
        source_pk = db.session.scalar(select(SyncSource.id).where(SyncSource.public_id == source.id))
        logs = db.session.scalars(select(SyncLog).where(SyncLog.source_id == source_pk)).all()
        members = {m.public_id: m for m in db.session.scalars(select(Member).where(Member.org_id == org.id))}
        groups = {g.public_id: g for g in db.session.scalars(select(UserGroup).where(UserGroup.org_id == org.id))}
        links = Counter(group_id for (group_id,) in db.session.execute(select(group_members.c.group_id)))
        departments = db.session.scalars(select(Department).where(Department.source_id == source_pk)).all()
        titles = db.session.scalars(select(JobTitle).where(JobTitle.source_id == source_pk)).all()

        created_logs = {
            (r.object_type, r.object_id): r for r in logs if r.operation == "create" and r.result == "success"
        }
        # Every answered create is in the database, and every member and group has its create row.
        assert set(load.created) <= set(members)
        assert {("member", pid) for pid in members} | {("group", pid) for pid in groups} == set(created_logs)
        # A group is all there or not at all.
        for group in groups.values():
            assert links[group.id] == GROUP_SIZE, group.display_name
        # Every department and title the source created was created by a request that committed.
        said_created = Counter(
            (a["type"], a["name"]) for r in created_logs.values() for a in r.associated if a.get("created")
        )
        assert said_created == Counter(
            [("department", d.name) for d in departments] + [("job_title", t.name) for t in titles]
        )
        # And each one is used by a member of a committed create.
        assert {d.id for d in departments} <= {d.id for m in members.values() for d in m.departments}
        assert {t.id for t in titles} <= {m.job_title_id for m in members.values()}
