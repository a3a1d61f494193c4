"""Prepared statements (portal.infra.prepared): compiled once, run as the driver's SQL, with the same result.

A member write's statements run this way (issue 15: SQLAlchemy's per-call work was a quarter of a
create's CPU). What must not change is everything else about them: the row stored, the column
defaults, the errors, the engine's events (the SQLite write queue's lock, statement recorders).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.infra.prepared import NotPreparable, Prepared
from portal.models import JobTitle, Member, utcnow
from tests.scim.rows import statements

_members = Member.__table__


def _member_values(org_id: int, name: str) -> dict[str, Any]:
    return {
        "public_id": f"id-{name}",
        "org_id": org_id,
        "external_id": f"{name}@acme.com",
        "external_id_norm": f"{name}@acme.com",
        "email": f"{name}@acme.com",
        "email_norm": f"{name}@acme.com",
        "name": name.title(),
        "name_norm": name,
        "status": "active",
        "custom_fields": {"shoe size": "44", "nested": {"ok": [1, 2]}},
        "emails": [{"value": f"{name}@acme.com", "type": "work", "primary": True}],
        "phone_numbers": [],
        "addresses": None,
        "created_at": utcnow(),
        "updated_at": utcnow(),
        "version": 1,
    }


def _stored(member_id: int) -> dict[str, Any]:
    row = db.session.execute(sa.select(_members).where(_members.c.id == member_id)).mappings().one()
    return {key: value for key, value in row.items() if key not in ("id", "public_id")}


def test_a_prepared_insert_stores_the_row_sqlalchemy_stores(app: Any, org: Any) -> None:
    """JSON, dates, NULLs: the same stored values as ``Connection.execute`` (its bind processing, applied once)."""
    prepared = Prepared(sa.insert(_members))
    with app.app_context():
        connection = db.session.connection()
        mine = prepared.insert(connection, _member_values(org.id, "ada"))
        theirs_values = {**_member_values(org.id, "ada"), "public_id": "id-ada-2"}
        theirs_values.update(external_id_norm="other", email_norm="other")
        result = connection.execute(sa.insert(_members), theirs_values)
        theirs = result.inserted_primary_key[0]
        mine_row, theirs_row = _stored(mine), _stored(theirs)
        for key in ("external_id_norm", "email_norm", "created_at", "updated_at"):
            mine_row.pop(key), theirs_row.pop(key)
        assert mine_row == theirs_row
        assert mine_row["custom_fields"] == {"shoe size": "44", "nested": {"ok": [1, 2]}}
        assert mine != theirs and {mine, theirs} == set(db.session.scalars(sa.select(_members.c.id)))


def test_a_column_left_out_takes_its_python_side_default(app: Any, org: Any) -> None:
    """``default=`` values and functions are filled in per row, as SQLAlchemy's execution fills them."""
    prepared = Prepared(sa.insert(_members))
    left_out = ("custom_fields", "status", "version", "created_at", "updated_at")
    with app.app_context():
        connection = db.session.connection()
        for name in ("ada", "grace"):
            values = _member_values(org.id, name)
            prepared.insert(connection, {key: value for key, value in values.items() if key not in left_out})
        rows = db.session.execute(
            sa.select(_members.c.custom_fields, _members.c.status, _members.c.version, _members.c.created_at)
        ).all()
        assert [tuple(row)[:3] for row in rows] == [({}, "active", 1), ({}, "active", 1)]
        assert all(row.created_at is not None for row in rows)


def test_an_update_left_without_updated_at_takes_its_onupdate(app: Any, org: Any) -> None:
    with app.app_context():
        connection = db.session.connection()
        member_id = Prepared(sa.insert(_members)).insert(connection, _member_values(org.id, "grace"))
        before = db.session.scalar(sa.select(_members.c.updated_at).where(_members.c.id == member_id))
        rename = Prepared(
            sa.update(_members).where(_members.c.id == sa.bindparam("_id")).values(name=sa.bindparam("new"))
        )
        result = rename.execute(connection, {"_id": member_id, "new": "Grace H."})
        assert result.rowcount == 1
        name, after = db.session.execute(
            sa.select(_members.c.name, _members.c.updated_at).where(_members.c.id == member_id)
        ).one()
        assert name == "Grace H." and after > before


def test_a_unique_violation_raises_sqlalchemys_integrity_error_and_writes_nothing(app: Any, org: Any) -> None:
    """The conflict path of every member write (``members.unique``) relies on the wrapped error."""
    prepared = Prepared(sa.insert(_members))
    with app.app_context():
        connection = db.session.connection()
        prepared.insert(connection, _member_values(org.id, "linus"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            prepared.insert(db.session.connection(), {**_member_values(org.id, "linus"), "public_id": "other"})
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(_members)) == 1


def test_a_missing_parameter_is_refused_before_the_database_is_asked(app: Any, org: Any) -> None:
    prepared = Prepared(sa.update(_members).where(_members.c.id == sa.bindparam("_id")).values(name=sa.bindparam("n")))
    with app.app_context(), statements(app) as seen:
        with pytest.raises(KeyError, match="'n'"):
            prepared.execute(db.session.connection(), {"_id": 1})
        assert seen == []


def test_returning_rows_and_new_keys_on_both_databases(app: Any, org: Any) -> None:
    """PostgreSQL gives the new key by RETURNING, SQLite by the row id; RETURNING rows come back as stored."""
    titles = JobTitle.__table__
    insert = Prepared(sa.insert(titles))
    rename = Prepared(
        sa.update(titles)
        .where(titles.c.id == sa.bindparam("_id"))
        .values(name=sa.bindparam("n"))
        .returning(titles.c.name)
    )
    with app.app_context():
        connection = db.session.connection()
        first = insert.insert(connection, {"org_id": org.id, "name": "Engineer", "name_norm": "engineer"})
        second = insert.insert(connection, {"org_id": org.id, "name": "Designer", "name_norm": "designer"})
        assert sorted(db.session.scalars(sa.select(titles.c.id))) == sorted([first, second]) and first != second
        assert rename.execute(connection, {"_id": second, "n": "UX Designer"}).scalars().all() == ["UX Designer"]


class _Marked(sa.types.TypeDecorator[str]):
    impl = sa.String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else f"<{value}>"


def test_result_columns_that_need_type_processing_are_refused(app: Any, org: Any) -> None:
    """The driver's raw value would be wrong for them: refused, not silently returned."""
    select_marked = Prepared(sa.select(sa.cast(_members.c.name, _Marked)).where(_members.c.id == sa.bindparam("id")))
    with app.app_context(), pytest.raises(NotPreparable, match="type processing"):
        select_marked.execute(db.session.connection(), {"id": 1})


def test_in_lists_need_sqlalchemys_own_execution(app: Any, org: Any) -> None:
    expanding = Prepared(sa.select(_members.c.id).where(_members.c.id.in_(sa.bindparam("ids", expanding=True))))
    with app.app_context(), pytest.raises(NotPreparable, match="IN lists"):
        expanding.execute(db.session.connection(), {"ids": [1, 2]})


def test_a_prepared_write_takes_the_sqlite_write_lock_until_commit(app: Any, org: Any) -> None:
    """It runs through the engine's events: the write queue sees its INSERT as any other (sqlite_writes)."""
    from tests.test_sqlite_writes import _held

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the write queue is for SQLite files")
        lock_path = f"{db.engine.url.database}.write-lock"
        Prepared(sa.insert(_members)).insert(db.session.connection(), _member_values(org.id, "ada"))
        assert _held(lock_path)
        db.session.commit()
        assert not _held(lock_path)
