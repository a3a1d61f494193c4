"""portal.core.sync_sources for the console.

Deleting a source, members per source, connection state, rule errors (seed 1.1, 2).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.core.errors import NotFound
from portal.extensions import db
from portal.models import AdminLog, Member, SyncSource, WorkforceType, utcnow

pytestmark = pytest.mark.both_databases


def _source(org_id: int, provider: str = "jumpcloud") -> tuple[SyncSource, str]:
    source, token = sync_sources.create_source(org_id, provider, Actor.cli())
    db.session.commit()
    return source, token


def test_delete_source_kills_the_token_keeps_members_and_logs_seed_2(app: Any, org: Any) -> None:
    with app.app_context():
        source, token = _source(org.id)
        sync_sources.set_active(org.id, source.id, True, Actor.cli())
        db.session.add(
            Member(org_id=org.id, external_id="ann@acme.test", email="ann@acme.test", name="Ann", source_id=source.id)
        )
        db.session.commit()
        sync_sources.delete_source(org.id, source.id, Actor.cli())
        db.session.commit()
        row = db.session.get(SyncSource, source.id)
        assert row.deleted_at is not None and row.token_hash is None and row.status == "inactive"
        with pytest.raises(NotFound):
            sync_sources.authenticate(row.public_id, f"Bearer {token}")
        with pytest.raises(NotFound):
            sync_sources.get_source(org.id, source.id)
        assert sync_sources.list_sources(org.id) == []
        member = db.session.scalar(select(Member))
        # Kept, as an Admin Console member now (issue 12): no source is left to manage it.
        assert member.source_id is None and member.name == "Ann"
        entry = db.session.scalar(select(AdminLog).where(AdminLog.event_type == "Delete sync source"))
        assert entry.changes == {"status": ["active", "deleted"]} and entry.target_name == "JumpCloud"
        assert entry.summary == "1 member now has the Admin Console as data source"


def test_members_synced_counts_per_source_in_one_query(app: Any, org: Any) -> None:
    with app.app_context():
        first, _ = _source(org.id)
        second, _ = _source(org.id, "okta")
        third, _ = _source(org.id, "entra")
        for n, source in enumerate([first, first, second]):
            db.session.add(
                Member(
                    org_id=org.id,
                    external_id=f"u{n}@acme.test",
                    email=f"u{n}@acme.test",
                    name=f"U{n}",
                    source_id=source.id,
                )
            )
        db.session.add(Member(org_id=org.id, external_id="hand@acme.test", email="hand@acme.test", name="Hand"))
        db.session.commit()
        assert sync_sources.members_synced(org.id, [first.id, second.id, third.id]) == {first.id: 2, second.id: 1}
        assert sync_sources.members_synced(org.id, []) == {}


@pytest.mark.parametrize(
    "status, state",
    [
        (None, "waiting"),
        (200, "connected"),
        (201, "connected"),
        (409, "connected"),
        (401, "failing"),
        (403, "failing"),
        (500, "failing"),
    ],
)
def test_connection_state_follows_the_last_request(status: int | None, state: str) -> None:
    source = SyncSource(last_request_at=utcnow() if status else None, last_status=status)
    assert sync_sources.connection_state(source) == state


def test_workforce_rule_errors_name_each_row_seed_1_1_step_4(app: Any, org: Any) -> None:
    with app.app_context():
        intern = db.session.scalar(select(WorkforceType.id).where(WorkforceType.name == "intern"))
        errors = sync_sources.workforce_rule_errors(
            org.id,
            [
                {"value": "Regular", "workforce_type_id": intern},
                {"value": "", "workforce_type_id": None},
                {"value": "regular", "workforce_type_id": intern},
                {"value": "Temp", "workforce_type_id": 99999},
                {"value": "", "workforce_type_id": intern},
            ],
        )
        assert set(errors) == {
            "workforce_rules.2.value",
            "workforce_rules.3.workforce_type_id",
            "workforce_rules.4.value",
        }
        assert "two rules" in errors["workforce_rules.2.value"]
        many = [{"value": f"v{i}", "workforce_type_id": intern} for i in range(16)]
        assert list(sync_sources.workforce_rule_errors(org.id, many)) == ["workforce_rules"]
        assert sync_sources.workforce_rule_errors(org.id, many[:15]) == {}
