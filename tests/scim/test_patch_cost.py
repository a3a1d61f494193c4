"""The cost of one Group PATCH is bounded (issue 12 item 2; RFC 7644 §3.5.2, §3.12; RFC 7643 §5).

Member changes run as set operations (a fixed number of statements, whatever the number of
operations), a request holds at most ``SCIM_MAX_PATCH_OPERATIONS`` operations (400 tooMany
beyond, published in /ServiceProviderConfig), and the Sync log row of a huge request stays small.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member, SyncLog, SyncSource, UserGroup, group_members, norm, utcnow
from tests.scim.conftest import PATCH_SCHEMA, Scim, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases

BIG = 10_000


def _seed_group(app: Any, scim: Scim, count: int) -> tuple[str, list[str]]:
    """A group of the source with ``count`` members, inserted in bulk (SQL Core): its id and the members' ids."""
    now = utcnow()
    with app.app_context():
        source = db.session.scalar(sa.select(SyncSource).where(SyncSource.public_id == scim.source.id))
        rows = []
        for n in range(count):
            name = f"user{n:05d}@acme.test"
            rows.append(
                {
                    "public_id": str(uuid.uuid4()),
                    "org_id": source.org_id,
                    "source_id": source.id,
                    "external_id": name,
                    "external_id_norm": norm(name),
                    "email": name,
                    "email_norm": norm(name),
                    "name": f"User {n}",
                    "name_norm": norm(f"User {n}"),
                    "status": "active",
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
        db.session.execute(sa.insert(Member.__table__), rows)
        group = UserGroup(org_id=source.org_id, source_id=source.id, display_name="Everyone")
        db.session.add(group)
        db.session.flush()
        ids = db.session.execute(sa.select(Member.id, Member.public_id).order_by(Member.external_id)).all()
        db.session.execute(sa.insert(group_members), [{"group_id": group.id, "member_id": i} for i, _ in ids])
        db.session.commit()
        return group.public_id, [public_id for _, public_id in ids]


def _member_count(app: Any, group_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(group_members)
            .join(UserGroup, UserGroup.id == group_members.c.group_id)
            .where(UserGroup.public_id == group_id)
        )


def _removals(member_ids: list[str]) -> dict[str, Any]:
    return {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in member_ids],
    }


def test_ten_thousand_member_removals_in_one_patch_apply_as_set_operations_rfc7644_3_5_2_2(
    app: Any, scim: Scim
) -> None:
    group_id, member_ids = _seed_group(app, scim, BIG + 5)
    kept, removed_ids = member_ids[:5], member_ids[5:]
    assert len(removed_ids) == BIG
    started = time.perf_counter()
    response = scim.patch(f"/Groups/{group_id}?excludedAttributes=members", _removals(removed_ids))
    elapsed = time.perf_counter() - started
    # RFC 7644 §3.5.2: 204 when the client excludes the members from the answer.
    assert response.status_code == 204, response.get_data(as_text=True)
    # Not quadratic: 11,000 operations used to take 13.7 s (a generous bound, not a benchmark:
    # bench/group_patch.py prints the time).
    assert elapsed < 10
    assert _member_count(app, group_id) == 5
    members = scim.get(f"/Groups/{group_id}").get_json()["members"]
    assert {m["value"] for m in members} == set(kept)
    # One Sync log row for the request, small although the body was about 900 KB.
    (row,) = [r for r in sync_logs(app) if r.object_type == "group"]
    assert (row.operation, row.status_code, row.result) == ("update", 200, "success")
    assert len(json.dumps(row.request_body)) < 70_000
    assert row.request_body["_note"].startswith("Shortened: the request body was")
    assert len(row.request_body["Operations"]) == 21 and row.request_body["Operations"][-1] == "... 9,980 more"
    removed = row.changes["members removed"][0]
    assert len(removed) == 101 and removed[-1] == "... and 9,900 more"


def test_a_patch_of_mixed_member_operations_applies_them_in_order_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    """Set operations keep the order's meaning: the last operation naming a member wins (RFC 7644 §3.5.2)."""
    group_id, member_ids = _seed_group(app, scim, 6)
    a, b, c, d, e, f = member_ids
    response = scim.ops(
        f"/Groups/{group_id}",
        {"op": "remove", "path": f'members[value eq "{a}"]'},  # removed, then added back: stays
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "remove", "path": f'members[value eq "{b}" or value eq "{c}"]'},
        {"op": "remove", "path": "members", "value": [{"value": d}]},
        {"op": "add", "path": "members", "value": [{"value": d}]},
        {"op": "remove", "path": f'members[value eq "{d}"]'},  # the last word on d: removed
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {m["value"] for m in response.get_json()["members"]} == {a, e, f}
    # A replace in the middle starts from its list; what follows still applies.
    response = scim.ops(
        f"/Groups/{group_id}",
        {"op": "remove", "path": f'members[value eq "{e}"]'},
        {"op": "replace", "path": "members", "value": [{"value": b}, {"value": c}]},
        {"op": "add", "path": "members", "value": [{"value": d}]},
        {"op": "remove", "path": f'members[value eq "{c}"]'},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {m["value"] for m in response.get_json()["members"]} == {b, d}
    update = [r for r in sync_logs(app) if r.object_type == "group"][-1]
    assert update.changes["members added"][1] == ["user00001@acme.test", "user00003@acme.test"]
    assert update.changes["members removed"][0] == ["user00000@acme.test", "user00004@acme.test", "user00005@acme.test"]


def test_an_unknown_member_among_many_refuses_the_whole_patch_rfc7644_3_12(app: Any, scim: Scim) -> None:
    group_id, member_ids = _seed_group(app, scim, 50)
    body = _removals(member_ids[:40] + ["no-such-member"])
    body["Operations"].append({"op": "add", "path": "members", "value": [{"value": "no-such-either"}]})
    body_text = assert_scim_error(scim.patch(f"/Groups/{group_id}", body), 400, "invalidValue")["detail"]
    assert "no-such-member" in body_text and "no-such-either" in body_text
    assert _member_count(app, group_id) == 50


def test_more_operations_than_the_cap_is_400_too_many_and_changes_nothing_rfc7644_3_12(app: Any, scim: Scim) -> None:
    group_id, member_ids = _seed_group(app, scim, BIG)
    operations = _removals(member_ids)["Operations"] + [{"op": "replace", "path": "displayName", "value": "Renamed"}]
    assert len(operations) == BIG + 1
    response = scim.patch(f"/Groups/{group_id}", {"schemas": [PATCH_SCHEMA], "Operations": operations})
    body = assert_scim_error(response, 400, "tooMany")
    assert body["detail"].startswith("A PATCH request may hold at most 10,000 operations, this one holds 10,001")
    assert _member_count(app, group_id) == BIG
    with app.app_context():
        assert db.session.scalar(sa.select(UserGroup.display_name)) == "Everyone"
        (row,) = db.session.scalars(sa.select(SyncLog)).all()
        assert (row.status_code, row.scim_type, row.result) == (400, "tooMany", "failure")
    # The cap is published where the client reads the service provider's limits (RFC 7643 §5).
    assert scim.get("/ServiceProviderConfig").get_json()["patch"]["maxOperations"] == BIG


def test_the_cap_follows_scim_max_patch_operations(app: Any, scim: Scim) -> None:
    group_id, member_ids = _seed_group(app, scim, 3)
    app.config["SCIM_MAX_PATCH_OPERATIONS"] = 2
    assert scim.get("/ServiceProviderConfig").get_json()["patch"]["maxOperations"] == 2
    assert_scim_error(scim.patch(f"/Groups/{group_id}", _removals(member_ids)), 400, "tooMany")
    assert scim.patch(f"/Groups/{group_id}", _removals(member_ids[:2])).status_code == 200
    assert _member_count(app, group_id) == 1
