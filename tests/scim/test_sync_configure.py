"""portal.core.sync_sources.configure_source: the seed's Set attributes and General settings pages.

Seed 1.1 steps 4-5.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.core.errors import Invalid
from portal.extensions import db
from portal.models import AdminLog, SyncSource, WorkforceType

pytestmark = pytest.mark.both_databases


def _source(app: Any, org_id: int) -> int:
    with app.app_context():
        source, _ = sync_sources.create_source(org_id, "jumpcloud", Actor.cli())
        db.session.commit()
        return source.id


def test_configure_source_saves_settings_and_logs_the_diff_seed_1_1_steps_4_5(app: Any, org: Any) -> None:
    source_id = _source(app, org.id)
    with app.app_context():
        regular = db.session.scalar(select(WorkforceType).where(WorkforceType.name == "regular employee"))
        sync_sources.configure_source(
            org.id,
            source_id,
            Actor.cli(),
            name="JC prod",
            workforce_rules=[
                {"value": "Regular", "workforce_type_id": regular.id},
                {"value": "Consultant", "workforce_type": "Consultant"},
                {"value": ""},
            ],
            deletion_rule="delete",
            notified_admin_ids=[org.admin_id],
            match_attributes=["mobile", "email"],
        )
        db.session.commit()
        source = db.session.get(SyncSource, source_id)
        assert source.name == "JC prod" and source.deletion_rule == "delete"
        assert [r["value"] for r in source.workforce_rules] == ["Regular", "Consultant"]
        assert source.match_attributes == ["email", "mobile"]
        assert source.notified_admin_ids == [org.admin_id]
        entry = db.session.scalar(select(AdminLog).where(AdminLog.event_type == "Edit sync configurations"))
        assert entry.actor == "CLI"
        assert entry.changes["deletion_rule"] == ["Suspend member", "Delete member"]
        assert entry.changes["notified_admins"] == [[], [org.email]]
        assert entry.changes["match_attributes"] == [["Email"], ["Email", "Mobile"]]
        assert entry.changes["workforce_rules"] == [[], ["Regular = regular employee", "Consultant = consultant"]]
        assert sync_sources.workforce_type_for(source, "REGULAR").name == "regular employee"
        assert sync_sources.workforce_type_for(source, "Intern") is None


@pytest.mark.parametrize(
    "rules, message",
    [
        ([{"value": f"v{i}", "workforce_type": "intern"} for i in range(16)], "15 sync rules at most"),
        (
            [{"value": "Regular", "workforce_type": "intern"}, {"value": "regular", "workforce_type": "intern"}],
            "two rules",
        ),
        ([{"value": "Regular", "workforce_type": "astronaut"}], "Choose a workforce type"),
    ],
)
def test_workforce_rules_are_validated_seed_1_1_step_4(app: Any, org: Any, rules: list, message: str) -> None:
    source_id = _source(app, org.id)
    with app.app_context():
        with pytest.raises(Invalid, match=message):
            sync_sources.configure_source(org.id, source_id, Actor.cli(), workforce_rules=rules)


def test_unknown_match_attribute_and_deletion_rule_are_refused_seed_1_1_step_5(app: Any, org: Any) -> None:
    source_id = _source(app, org.id)
    with app.app_context():
        with pytest.raises(Invalid):
            sync_sources.configure_source(org.id, source_id, Actor.cli(), match_attributes=["phone"])
        with pytest.raises(Invalid):
            sync_sources.configure_source(org.id, source_id, Actor.cli(), deletion_rule="archive")
        with pytest.raises(Invalid):
            sync_sources.configure_source(org.id, source_id, Actor.cli(), notified_admin_ids=[999])
