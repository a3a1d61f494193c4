"""Domain operations of a sync source: state change and its one log row.

portal.core.provisioning, portal.core.sync_log.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import provisioning, sync_log
from portal.core.errors import Conflict, Invalid
from portal.extensions import db
from portal.models import JobTitle, Member, SyncLog, SyncSource
from tests.scim.rows import statements

pytestmark = pytest.mark.both_databases

INFO = sync_log.RequestInfo(
    request_id="r1",
    method="POST",
    path="/scim/v2/x/Users",
    body={
        "userName": "a@acme.test",
        "password": "pw",
        "Operations": [{"op": "replace", "path": "password", "value": "pw2"}],
    },
    started=time.perf_counter(),
)


def _values(**changes: Any) -> dict[str, Any]:
    values = {"external_id": "a@acme.test", "email": "A@acme.test", "name": "A"}
    values.update(changes)
    return values


def test_create_member_flushes_the_member_and_one_log_row_seed_faq(app: Any, source: Any) -> None:
    """Seed FAQ mapping through the domain: the change and its sync log row, not committed (the door commits)."""
    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        member, operation = provisioning.provision_member(src, _values(job_title="Engineer"), INFO)
        assert operation == "create" and member.id is not None and member.source_id == src.id
        row = db.session.scalar(sa.select(SyncLog))
        assert (row.operation, row.result, row.status_code, row.object_name) == (
            "create",
            "success",
            201,
            "a@acme.test",
        )
        assert row.request_body == {
            "userName": "a@acme.test",
            "Operations": [{"op": "replace", "path": "password", "value": "[redacted]"}],
        }
        assert row.associated == [{"type": "job_title", "name": "Engineer", "created": True}]
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 0


@pytest.mark.parametrize(
    "values, error",
    [
        (_values(external_id=None), Invalid),
        (_values(name=""), Invalid),
        (_values(email=None), Invalid),
        (_values(email="b@acme.test"), Invalid),
        (_values(email="no-at-sign", external_id="no-at-sign"), Invalid),
    ],
)
def test_rules_on_the_final_state_raise_domain_errors_seed_faq(
    app: Any, source: Any, values: dict, error: type
) -> None:
    """Seed FAQ (JumpCloud's rule): userName, displayName and a work email are required; userName equals the email."""
    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        src.username_is_email = True
        with pytest.raises(error):
            provisioning.provision_member(src, values, INFO)


@pytest.mark.parametrize(
    "values, name",
    [
        (_values(name=""), "a@acme.test"),
        (_values(name="", formatted_name="Ann B. Lee", first_name="Ann", last_name="Lee"), "Ann B. Lee"),
        (_values(name="", first_name="Ann", last_name="Lee"), "Ann Lee"),
        (_values(email=None), "A"),
        (_values(email="b@acme.test"), "A"),
    ],
)
def test_without_the_rule_only_username_is_required_rfc7643_4_1(app: Any, source: Any, values: dict, name: str) -> None:
    """RFC 7643 §4.1: userName is the one required attribute; a missing displayName is derived."""
    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        assert src.username_is_email is False
        record, operation = provisioning.provision_member(src, values, INFO)
        assert operation == "create"
        assert record.name == name
        assert record.email == values.get("email")
        with pytest.raises(Invalid):
            provisioning.provision_member(src, _values(external_id=None), INFO)
        with pytest.raises(Invalid):
            provisioning.provision_member(src, _values(external_id="z", email="no-at-sign"), INFO)


def test_uniqueness_is_a_conflict_from_the_database_seed_faq(app: Any, source: Any) -> None:
    """Seed FAQ: EmployeeNumber unique within the organization, held by the database (unique_flush)."""
    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        provisioning.provision_member(src, _values(employee_id="E1"), INFO)
        with pytest.raises(Conflict) as caught:
            provisioning.provision_member(
                src, _values(external_id="b@acme.test", email="b@acme.test", employee_id="E1"), INFO
            )
        assert caught.value.field == "employeeNumber"


def test_a_job_title_made_by_a_parallel_request_is_found_not_made_twice(app: Any, source: Any) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: the second maker (any case) gets the first one's title, created False."""
    from portal.core import workforce
    from portal.models import JobTitle

    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        first, made = workforce.make_job_title(src.org_id, " Staff Engineer ", src.id)
        assert made and first[1] == "Staff Engineer"
        again, made_again = workforce.make_job_title(src.org_id, "staff engineer", src.id)
        assert (again, made_again) == (first, False)
        rows = db.session.execute(sa.select(JobTitle.name, JobTitle.source_id)).all()
        assert rows == [("Staff Engineer", src.id)]
        db.session.rollback()


def _writes_only_once_writing(statements: list[str]) -> list[str]:
    """The statements from the first write on: a write holds SQLite's write lock (every other writer waits)
    from its first write to COMMIT, so only writes belong there, every read before."""
    first = next(i for i, s in enumerate(statements) if s.startswith(("INSERT", "UPDATE", "DELETE")))
    return statements[first:]


@pytest.mark.parametrize("operation", ["create", "replace"])
def test_a_write_naming_a_new_title_reads_all_it_needs_before_it_writes_rfc7644_3_3(
    app: Any, source: Any, monkeypatch: Any, operation: str
) -> None:
    """RFC 7644 §3.3 (POST) and §3.5.1 (PUT) naming a job title nobody has yet and a manager: the title's
    INSERT, the first write, comes just before the member's own, after every lookup (the manager's too)."""
    from portal.core import events

    # The commit's check for webhook endpoints is a read, cached per process: warmed below, kept here.
    monkeypatch.setattr(events, "SUBSCRIBED_CACHE_SECONDS", 3600.0)
    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        provisioning.provision_member(src, _values(external_id="boss@acme.test", email="boss@acme.test"), INFO)
        target, _ = provisioning.provision_member(src, _values(job_title="Engineer"), INFO)
        db.session.commit()
        values = _values(job_title="Chief Gardener", manager="boss@acme.test")
        member = provisioning.managed_member(src, target.public_id)
        if operation == "create":
            values.update(external_id="b@acme.test", email="b@acme.test")
        with statements(app) as seen:
            if operation == "create":
                provisioning.provision_member(src, values, INFO)
            else:
                provisioning.replace_member(src, member, values, INFO)
            db.session.commit()
        seen = [" ".join(statement.split()[:3]).upper() for statement in seen]
        written = _writes_only_once_writing(seen)
        assert written[:2] == [
            "INSERT INTO JOB_TITLES",
            "INSERT INTO MEMBERS" if operation == "create" else "UPDATE MEMBERS SET",
        ]
        assert all(s.startswith(("INSERT", "UPDATE", "DELETE")) for s in written), seen
        stored = db.session.execute(
            sa.select(Member.external_id, JobTitle.name, Member.manager_id.is_not(None))
            .join(JobTitle, JobTitle.id == Member.job_title_id)
            .where(Member.external_id == values["external_id"])
        ).one()
        assert stored == (values["external_id"], "Chief Gardener", True)
        log = db.session.scalars(sa.select(SyncLog).order_by(SyncLog.id.desc())).first()
        assert log is not None and log.associated == [{"type": "job_title", "name": "Chief Gardener", "created": True}]


def test_a_title_a_parallel_request_made_first_is_given_in_its_spelling(app: Any, source: Any) -> None:
    """The title left to make right before the member's write (``defer_new_title``) was made meanwhile by
    another request, in another case: the member, its event and its Sync log entry name it as stored."""
    from portal.core import members, workforce
    from portal.core.actors import Actor
    from portal.models import ChangeEvent

    with app.app_context():
        src = db.session.scalar(sa.select(SyncSource))
        target, _ = provisioning.provision_member(src, _values(job_title="Engineer"), INFO)
        db.session.commit()
        before = provisioning.managed_member(src, target.public_id)
        refs = members.resolve_refs(
            src.org_id, src.id, {"job_title": "Night Nurse"}, member=before, defer_new_title=True
        )
        assert refs.new_title == ("Night Nurse", src.id) and refs.job_title is None
        after = members.assign(before, {"job_title": "Night Nurse"}, refs, replace_all=False)
        workforce.make_job_title(src.org_id, "NIGHT nurse", src.id)  # the parallel request
        stored = members.update_record(before, after, before.updated_at, Actor.for_source(src), refs)
        db.session.commit()
        assert (stored.job_title, stored.job_title_id) == ("NIGHT nurse", refs.job_title[0])
        assert refs.associated == [{"type": "job_title", "name": "NIGHT nurse", "created": False}]
        assert provisioning.managed_member(src, target.public_id).job_title == "NIGHT nurse"
        event = db.session.scalars(sa.select(ChangeEvent).order_by(ChangeEvent.seq.desc())).first()
        assert event is not None and event.type == "member.updated" and event.data["job_title"] == "NIGHT nurse"


def test_a_scim_create_runs_its_writes_as_prepared_sql_rfc7644_3_3(app: Any, scim: Any) -> None:
    """Every INSERT and UPDATE of a create (RFC 7644 §3.3) reaches the engine as driver SQL, not a Core
    statement SQLAlchemy would look up and process again: the member, its department, its Sync log row,
    the organization's event number and the member.created event."""
    writes: list[str] = []

    def _seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(("core " if context.compiled is not None else "driver ") + " ".join(statement.split()[:3]))

    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@acme.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@acme.com", "type": "work", "primary": True}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"},
    }
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", _seen)
        try:
            response = scim.post("/Users", user)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", _seen)
    assert response.status_code == 201, response.get_data(as_text=True)
    # The department is new (made by departments' own writer) and the source's last request is noted
    # after the answer: neither is the member write's.
    member_write = [w for w in writes if "INTO departments" not in w and "sync_sources" not in w]
    assert sorted(member_write) == [
        "driver INSERT INTO change_events",
        "driver INSERT INTO member_departments",
        "driver INSERT INTO members",
        "driver INSERT INTO sync_logs",
        "driver UPDATE organizations SET",
    ], writes
