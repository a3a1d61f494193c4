"""Concurrent SCIM requests through a real gunicorn (2 workers): nothing duplicated, no update lost.

An identity provider retries and runs requests in parallel; two workers racing on
one userName or one version must leave one row and one winner (RFC 7644 §3.3
uniqueness, §3.14 versioning).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Member, SyncLog
from tests.proof.support import HttpScim, Reply
from tests.scim.conftest import ERROR_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, add_source, user
from tests.servers import Server

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]

RACERS = 16


def _all_at_once(count: int, send: Callable[[int], Reply]) -> list[Reply]:
    """Run ``send(i)`` for i in range(count) in threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Reply:
        barrier.wait()
        return send(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _case_variant(text: str, index: int) -> str:
    """``text`` with its first four letters upper-cased by the bits of ``index`` (16 distinct spellings)."""
    chars = list(text)
    letters = [i for i, c in enumerate(text) if c.isalpha()][:4]
    for bit, position in enumerate(letters):
        if index >> bit & 1:
            chars[position] = chars[position].upper()
    return "".join(chars)


def _is_scim_error(reply: Reply, status: int) -> bool:
    body = reply.json
    return (
        reply.headers.get("content-type", "").startswith("application/scim+json")
        and body["schemas"] == [ERROR_SCHEMA]
        and body["status"] == str(status)
    )


@pytest.fixture
def served(app: Any, runner: Any, org: Any, server: Server) -> HttpScim:
    """An active source of ``org``, spoken to through the module's gunicorn (2 workers)."""
    source = add_source(runner, org.name, "--activate")
    return HttpScim(f"{server.url}/scim/v2/{source.id}", source.token)


def test_concurrent_creates_of_one_username_make_one_member_rfc7644_3_3(app: Any, served: HttpScim) -> None:
    spellings = [_case_variant("race.user@acme.test", i) for i in range(RACERS)]
    assert len(set(spellings)) == RACERS

    replies = _all_at_once(RACERS, lambda i: served.request("POST", "/Users", user(spellings[i])))

    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * (RACERS - 1), [(r.status, r.text[:200]) for r in replies]
    for reply in replies:
        if reply.status == 409:
            assert _is_scim_error(reply, 409) and reply.json["scimType"] == "uniqueness", reply.text
    winner = next(r.json for r in replies if r.status == 201)
    with app.app_context():
        members = db.session.scalars(select(Member).where(Member.external_id_norm == "race.user@acme.test")).all()
        assert [m.public_id for m in members] == [winner["id"]]
        created = db.session.scalar(
            select(func.count()).select_from(SyncLog).where(SyncLog.operation == "create", SyncLog.result == "success")
        )
        refused = db.session.scalar(
            select(func.count()).select_from(SyncLog).where(SyncLog.result == "failure", SyncLog.status_code == 409)
        )
    assert (created, refused) == (1, RACERS - 1)


def test_concurrent_patches_with_one_if_match_have_one_winner_rfc7644_3_14(app: Any, served: HttpScim) -> None:
    created = served.request("POST", "/Users", user("patch.race@acme.test"))
    assert created.status == 201, created.text
    member_id, etag = created.json["id"], created.headers["etag"]

    def patch(index: int) -> Reply:
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "displayName", "value": f"Writer {index}"}],
        }
        return served.request("PATCH", f"/Users/{member_id}", body, headers={"If-Match": etag})

    replies = _all_at_once(RACERS, patch)

    assert {r.status for r in replies} <= {200, 412}, [(r.status, r.text[:200]) for r in replies]
    winners = [i for i, r in enumerate(replies) if r.status == 200]
    assert len(winners) == 1, "two writers both succeeded on one version: an update was lost"
    for reply in replies:
        if reply.status == 412:
            assert _is_scim_error(reply, 412), reply.text
    won = replies[winners[0]]
    assert won.json["displayName"] == f"Writer {winners[0]}"
    assert won.headers["etag"] != etag

    final = served.request("GET", f"/Users/{member_id}")
    assert final.status == 200
    assert final.json["displayName"] == f"Writer {winners[0]}"
    assert final.headers["etag"] == won.headers["etag"] == final.json["meta"]["version"]
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.public_id == member_id))
        assert member.name == f"Writer {winners[0]}"
        updates = db.session.scalars(select(SyncLog).where(SyncLog.operation == "update")).all()
    assert sorted(row.status_code for row in updates) == [200] + [412] * (RACERS - 1)


def test_concurrent_member_adds_to_one_group_without_if_match_all_apply_rfc7644_3_5_2(
    app: Any, served: HttpScim
) -> None:
    """Okta and Entra push membership changes in parallel and send no If-Match: every add must land."""
    members = [served.request("POST", "/Users", user(f"member{i}@acme.test")) for i in range(RACERS)]
    assert all(m.status == 201 for m in members)
    group = served.request("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Racers"})
    assert group.status == 201, group.text
    group_id = group.json["id"]

    def add(index: int) -> Reply:
        return served.request(
            "PATCH",
            f"/Groups/{group_id}",
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": members[index].json["id"]}]}],
            },
        )

    replies = _all_at_once(RACERS, add)

    assert [r.status for r in replies] == [200] * RACERS, [(r.status, r.text[:200]) for r in replies]
    final = served.request("GET", f"/Groups/{group_id}")
    assert sorted(m["value"] for m in final.json["members"]) == sorted(m.json["id"] for m in members)
    assert final.headers["etag"] == f'W/"{1 + RACERS}"'


def test_concurrent_patches_without_if_match_all_apply_and_none_is_lost_rfc7644_3_14(
    app: Any, served: HttpScim
) -> None:
    """No If-Match, no precondition: every PATCH lands (no 412), each on the state the one before left."""
    created = served.request("POST", "/Users", user("no.if.match@acme.test"))
    assert created.status == 201, created.text
    member_id = created.json["id"]

    def patch(index: int) -> Reply:
        attribute = "nickName" if index % 2 else "title"
        return served.request(
            "PATCH",
            f"/Users/{member_id}",
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "path": attribute, "value": f"{attribute} {index}"}],
            },
        )

    replies = _all_at_once(RACERS, patch)

    assert [r.status for r in replies] == [200] * RACERS, [(r.status, r.text[:200]) for r in replies]
    final = served.request("GET", f"/Users/{member_id}").json
    # A PATCH applied to a stale copy would have put back the other attribute's old (empty) value.
    assert final["title"] in {f"title {i}" for i in range(0, RACERS, 2)}
    assert final["nickName"] in {f"nickName {i}" for i in range(1, RACERS, 2)}
    assert final["meta"]["version"] == f'W/"{int(created.json["meta"]["version"][3:-1]) + RACERS}"'
