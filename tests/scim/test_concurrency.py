"""Uniqueness is held by the database under concurrency (issue 3: two creates of one userName, one row)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member, SyncLog
from tests.scim.conftest import SCIM_JSON, SourceData, user

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("round_", range(3))
def test_two_concurrent_creates_of_one_username_give_201_and_409_rfc7644_3_3(
    app: Any, live_server: Any, source: SourceData, round_: int
) -> None:
    url = f"{live_server.url}{source.path}/Users"
    barrier = threading.Barrier(2)
    results: list[tuple[int, dict[str, Any]]] = []

    def create(user_name: str) -> None:
        barrier.wait()
        results.append(_post(url, source.token, user(user_name)))

    threads = [threading.Thread(target=create, args=(name,)) for name in ("ann@acme.test", "ANN@acme.test")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(status for status, _ in results) == [201, 409], results
    conflict = next(body for status, body in results if status == 409)
    assert conflict["scimType"] == "uniqueness"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 1
        rows = db.session.scalars(sa.select(SyncLog.result)).all()
        assert sorted(rows) == ["failure", "success"]


def _patch(url: str, token: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_parallel_adds_of_one_member_to_a_group_both_succeed_rfc7644_3_5_2(
    app: Any, live_server: Any, source: SourceData
) -> None:
    """Identity providers push memberships in parallel: the same add twice at once is no error."""
    status, created = _post(f"{live_server.url}{source.path}/Users", source.token, user())
    status, group = _post(f"{live_server.url}{source.path}/Groups", source.token, {"displayName": "Team"})
    url = f"{live_server.url}{source.path}/Groups/{group['id']}?excludedAttributes=members"
    body = {"Operations": [{"op": "add", "path": "members", "value": [{"value": created["id"]}]}]}
    barrier = threading.Barrier(2)
    results: list[int] = []

    def add() -> None:
        barrier.wait()
        results.append(_patch(url, source.token, body))

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [204, 204]
    with app.app_context():
        from portal.models import group_members

        assert db.session.scalar(sa.select(sa.func.count()).select_from(group_members)) == 1
