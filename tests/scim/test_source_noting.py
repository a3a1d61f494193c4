"""A source's last request is written once per outcome and SCIM_NOTE_INTERVAL, not on every request.

Bench: one hot row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import SyncSource
from tests.scim.conftest import Scim

pytestmark = pytest.mark.both_databases

LONG_AGO = datetime(2020, 1, 1)


def _backdate(app: Any) -> None:
    with app.app_context():
        db.session.execute(sa.update(SyncSource).values(last_request_at=LONG_AGO))
        db.session.commit()


def _last(app: Any) -> tuple[datetime | None, int | None]:
    with app.app_context():
        row = db.session.execute(sa.select(SyncSource.last_request_at, SyncSource.last_status)).one()
        return row.last_request_at, row.last_status


def test_a_repeated_outcome_within_the_interval_is_not_written_again(app: Any, scim: Scim) -> None:
    app.config["SCIM_NOTE_INTERVAL"] = 3600.0
    member = scim.create_user()
    assert scim.get(f"/Users/{member['id']}").status_code == 200
    _backdate(app)
    assert scim.get(f"/Users/{member['id']}").status_code == 200
    assert _last(app) == (LONG_AGO, 201)  # the create's note stands: the GETs repeat its success


def test_a_new_status_is_written_at_once_even_within_the_interval(app: Any, scim: Scim) -> None:
    app.config["SCIM_NOTE_INTERVAL"] = 3600.0
    member = scim.create_user()
    assert scim.get(f"/Users/{member['id']}").status_code == 200
    _backdate(app)
    assert scim.get("/Users/no-such-id").status_code == 404
    last_request_at, last_status = _last(app)
    assert last_status == 404 and last_request_at > LONG_AGO


def test_every_request_is_written_when_the_interval_is_zero_the_testing_default(app: Any, scim: Scim) -> None:
    assert app.config["SCIM_NOTE_INTERVAL"] is None and app.testing  # 0 s under TESTING
    member = scim.create_user()
    assert scim.get(f"/Users/{member['id']}").status_code == 200
    _backdate(app)
    assert scim.get(f"/Users/{member['id']}").status_code == 200
    last_request_at, last_status = _last(app)
    assert last_status == 200 and last_request_at > LONG_AGO


def test_lookups_and_creates_are_one_success_outcome_within_the_interval(app: Any, scim: Scim) -> None:
    # An initial sync alternates 200 (lookup) and 201 (create): neither is written again within the interval.
    app.config["SCIM_NOTE_INTERVAL"] = 3600.0
    assert scim.get("/Users", query_string={"filter": 'userName eq "nobody@example.com"'}).status_code == 200
    _backdate(app)
    scim.create_user()
    assert _last(app) == (LONG_AGO, 200)
