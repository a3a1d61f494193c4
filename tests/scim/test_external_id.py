"""externalId (RFC 7643 §3.1): the provider's own identifier, unique among one source's members, and a match attribute.

Issue 18: a second create with a source's taken externalId is a 409 ``uniqueness`` naming
externalId and writes nothing; another source may use the same value; with the match
attribute ``scim_external_id`` a create links the unmanaged member holding it.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import JobTitle, Member, SyncSource
from tests.scim.conftest import Scim, SourceData, add_source, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases


def _members(app: Any) -> list[Member]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Member).order_by(Member.id)))
        db.session.expunge_all()
        return rows


def _source_id(app: Any, source: SourceData) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == source.id))
        assert found is not None
        return found


def test_a_second_create_with_the_same_external_id_from_the_same_source_is_409_and_writes_nothing(
    app: Any, scim: Scim
) -> None:
    first = scim.create_user("ann@acme.test", externalId="hr-1")
    refused = scim.post("/Users", user("bob@acme.test", externalId="hr-1", title="Astronaut"))
    body = assert_scim_error(refused, 409, "uniqueness")
    assert "externalId" in body["detail"]
    assert [(m.public_id, m.scim_external_id) for m in _members(app)] == [(first["id"], "hr-1")]
    with app.app_context():
        # The job title the refused create would have made was rolled back with it.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTitle)) == 0
    row = sync_logs(app)[-1]
    assert (row.operation, row.result, row.status_code, row.scim_type) == ("create", "failure", 409, "uniqueness")


def test_the_external_id_is_case_exact_rfc7643_3_1(app: Any, scim: Scim) -> None:
    scim.create_user("ann@acme.test", externalId="hr-1")
    scim.create_user("bob@acme.test", externalId="HR-1")
    assert sorted(m.scim_external_id for m in _members(app)) == ["HR-1", "hr-1"]


def test_a_replace_taking_another_members_external_id_is_409_rfc7644_3_5_1(app: Any, scim: Scim) -> None:
    scim.create_user("ann@acme.test", externalId="hr-1")
    bob = scim.create_user("bob@acme.test", externalId="hr-2")
    refused = scim.put(f"/Users/{bob['id']}", user("bob@acme.test", externalId="hr-1"))
    assert "externalId" in assert_scim_error(refused, 409, "uniqueness")["detail"]
    assert sorted(m.scim_external_id for m in _members(app)) == ["hr-1", "hr-2"]


def test_another_source_may_use_the_same_external_id(app: Any, runner: Any, client: Any, org: Any) -> None:
    first = Scim(client, add_source(runner, org.name, "--activate"))
    second = Scim(client, add_source(runner, org.name, "--activate"))
    first.create_user("ann@acme.test", externalId="hr-1")
    second.create_user("bob@acme.test", externalId="hr-1")
    members = _members(app)
    assert [m.scim_external_id for m in members] == ["hr-1", "hr-1"]
    assert len({m.source_id for m in members}) == 2


def test_match_attribute_external_id_links_an_unmanaged_member_seed_1_1_step_5(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    old = add_source(runner, org.name, "--activate")
    ann = Scim(client, old).create_user("ann@acme.test", externalId="hr-1")
    # Its source deleted, the member keeps its data (externalId too) and is unmanaged.
    assert runner.invoke(args=["sync-source", "delete", old.id]).exit_code == 0
    new = add_source(runner, org.name, "--activate", "--match-attribute", "scim_external_id")
    response = Scim(client, new).post("/Users", user("ann.new@acme.test", externalId="hr-1"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == ann["id"]
    (member,) = _members(app)
    assert (member.external_id, member.email, member.scim_external_id) == (
        "ann.new@acme.test",
        "ann.new@acme.test",
        "hr-1",
    )
    assert member.source_id == _source_id(app, new)
    row = sync_logs(app)[-1]
    assert (row.operation, row.result, row.status_code) == ("link", "success", 201)
    assert row.source_id == _source_id(app, new) and "scim_external_id" in row.notes[0]


def test_match_attribute_external_id_of_a_member_the_source_manages_is_409_seed_1_1_step_5(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    scim = Scim(client, add_source(runner, org.name, "--activate", "--match-attribute", "scim_external_id"))
    scim.create_user("ann@acme.test", externalId="hr-1")
    refused = scim.post("/Users", user("bob@acme.test", externalId="hr-1"))
    assert "externalId" in assert_scim_error(refused, 409, "uniqueness")["detail"]
    assert [m.external_id for m in _members(app)] == ["ann@acme.test"]
    assert sync_logs(app)[-1].operation == "create" and sync_logs(app)[-1].status_code == 409


def test_match_attribute_external_id_of_a_member_another_source_manages_is_409_seed_1_1_step_5(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    Scim(client, add_source(runner, org.name, "--activate")).create_user("ann@acme.test", externalId="hr-1")
    other = Scim(client, add_source(runner, org.name, "--activate", "--match-attribute", "scim_external_id"))
    refused = other.post("/Users", user("bob@acme.test", externalId="hr-1"))
    assert "managed by another active sync source" in assert_scim_error(refused, 409, "uniqueness")["detail"]
    assert [m.external_id for m in _members(app)] == ["ann@acme.test"]
