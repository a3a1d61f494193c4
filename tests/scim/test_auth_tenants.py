"""One tenant's bad tokens never lock out another (issue 12 item 3; RFC 7644 §2, §3.12; RFC 6585 §4).

The refused-token limit (``SCIM_AUTH_FAILURE_LIMIT``) counts per source URL and client address,
and only refusals: a token valid for the source gets through, whatever came from its address.
Cloud identity providers of many organizations share egress addresses.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db, limiter
from portal.models import SyncLog, SyncSource
from tests.factories import make_org
from tests.scim.conftest import Scim, add_source, assert_scim_error

pytestmark = pytest.mark.both_databases


@pytest.fixture
def limited(app: Any) -> Any:
    """The app with its rate limits on, and the refused-token budget at 30 a minute (the default)."""
    app.config.update(RATELIMIT_ENABLED=True, SCIM_AUTH_FAILURE_LIMIT="30 per minute")
    limiter.init_app(app)
    return app


def test_bad_tokens_at_one_organizations_url_leave_another_organizations_token_working(
    limited: Any, runner: Any, client: Any, scim: Scim
) -> None:
    org_b = make_org(limited, name="Globex", email="owner@globex.test")
    b = Scim(client, add_source(runner, org_b.name, "--activate"))
    a = scim  # organization A (Acme), from the same client address
    answers = [b.get("/Users", token=f"wrong-{n}").status_code for n in range(31)]
    assert answers == [401] * 30 + [429]
    # B's URL keeps refusing bad tokens with 429 (RFC 6585 §4, with Retry-After) ...
    response = b.get("/Users", token="wrong-again")
    assert_scim_error(response, 429, "tooMany")
    assert int(response.headers["Retry-After"]) >= 1
    # ... while A's valid token, from the same address, is answered (RFC 7644 §3.4.2) ...
    assert a.get("/Users").status_code == 200
    # ... A's URL still has its own budget for bad tokens: a wrong one there is a plain 401 ...
    assert_scim_error(a.get("/Users", token="wrong-at-a"), 401)
    # ... and B's own valid token is never refused by the limit on its bad ones.
    assert b.get("/Users").status_code == 200
    with limited.app_context():
        b_id = db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == b.source.id))
        refused = db.session.scalars(sa.select(SyncLog).where(SyncLog.status_code == 429)).all()
        assert {r.source_id for r in refused} == {b_id}


def test_a_second_source_of_the_same_organization_has_its_own_budget(
    limited: Any, runner: Any, client: Any, org: Any, scim: Scim
) -> None:
    limited.config["SCIM_AUTH_FAILURE_LIMIT"] = "2 per minute"
    other = Scim(client, add_source(runner, org.name, "--activate"))
    assert [other.get("/Users", token=f"wrong-{n}").status_code for n in range(3)] == [401, 401, 429]
    assert [scim.get("/Users", token=f"wrong-{n}").status_code for n in range(3)] == [401, 401, 429]
    assert scim.get("/Users").status_code == 200 and other.get("/Users").status_code == 200
