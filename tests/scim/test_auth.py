"""Authentication, source state, limits and the shape of every answer (RFC 7644 §2, §3.1, §3.12; seed 1.1)."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Notification, SyncSource, utcnow
from tests.factories import make_admin, make_org
from tests.scim.conftest import SCIM_JSON, Scim, add_source, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases


def _source_row(app: Any, public_id: str) -> SyncSource:
    with app.app_context():
        row = db.session.scalar(sa.select(SyncSource).where(SyncSource.public_id == public_id))
        db.session.expunge(row)
        return row


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_wrong_token_is_401_with_www_authenticate_rfc7644_2(scim: Scim, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = scim.client.get(f"{scim.source.path}/Users/x", headers=headers)
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_of_another_source_or_organization_is_401_rfc7644_2(app: Any, runner: Any, scim: Scim) -> None:
    other_org = make_org(app, name="Globex", email="owner@globex.test")
    other = add_source(runner, other_org.name, "--activate")
    same_org_other = add_source(runner, "Acme", "--activate")
    for token in (other.token, same_org_other.token):
        assert_scim_error(scim.post("/Users", user(), token=token), 401)
    # Nothing was created: the refusals are logged, folded, on the source the URL names (one row, or
    # two when a minute turned between them).
    rows = sync_logs(app)
    assert {(r.source_id, r.status_code, r.operation) for r in rows} == {
        (_source_row(app, scim.source.id).id, 401, "request")
    }
    assert sum(r.repeat_count for r in rows) == 2 and len(rows) <= 2


def test_unknown_source_id_is_404_rfc7644_3_12(scim: Scim) -> None:
    response = scim.client.get(
        "/scim/v2/00000000-0000-0000-0000-000000000000/Users/x", headers={"Authorization": f"Bearer {scim.token}"}
    )
    assert_scim_error(response, 404)


@pytest.mark.parametrize("extra", [(), ("--activate",)])
def test_source_not_activated_is_403_seed_1_1_step_6(
    app: Any, runner: Any, client: Any, org: Any, extra: tuple[str, ...]
) -> None:
    source = add_source(runner, org.name, *extra)
    if extra:
        assert runner.invoke(args=["sync-source", "deactivate", source.id]).exit_code == 0
    body = assert_scim_error(Scim(client, source).post("/Users", user()), 403)
    assert body["detail"] == "sync source is not activated"
    assert _source_row(app, source.id).last_status == 403


def test_draft_source_denies_until_save_and_activate_seed_1_1_step_6(app: Any, client: Any, org: Any) -> None:
    with app.app_context():
        source, token = sync_sources.create_source(org.id, "jumpcloud", Actor.cli())
        db.session.commit()
        public_id = source.public_id
    response = client.get(f"/scim/v2/{public_id}/Users/x", headers={"Authorization": f"Bearer {token}"})
    assert assert_scim_error(response, 403)["detail"] == "sync source is not activated"


def test_expired_token_is_401_and_notifies_sync_admins_once_a_day_seed_1_1_step_5(
    app: Any, scim: Scim, org: Any
) -> None:
    sync_admin = make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    make_admin(app, org, "logs@acme.test", {"admin_log"})
    with app.app_context():
        db.session.execute(sa.update(SyncSource).values(token_expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    for _ in range(3):
        response = scim.get("/Users/x")
        assert_scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with app.app_context():
        notes = db.session.scalars(sa.select(Notification)).all()
        assert {n.admin_id for n in notes} == {org.admin_id, sync_admin}
        assert all(n.kind == "token_expired" and n.count == 1 for n in notes)
        # A day later the admins hear about it again.
        db.session.execute(sa.update(SyncSource).values(expired_notice_at=utcnow() - timedelta(days=1, minutes=1)))
        db.session.commit()
    scim.get("/Users/x")
    with app.app_context():
        assert db.session.scalar(sa.select(SyncSource.expired_notice_at)) > utcnow() - timedelta(minutes=5)


def test_wrong_token_notifies_every_sync_admin_whatever_the_setting_folded_per_hour_seed_1_1_step_5(
    app: Any, scim: Scim, org: Any
) -> None:
    sync_admin = make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    chosen_without_permission = make_admin(app, org, "logs@acme.test", {"admin_log"})
    with app.app_context():
        # The Administrator notification setting names only the admin who may not configure the sync_sources.
        db.session.execute(sa.update(SyncSource).values(notified_admin_ids=[chosen_without_permission]))
        db.session.commit()
    for header in ("Bearer wrong-token", "", "Bearer another-wrong-one"):
        assert_scim_error(scim.get("/Users", headers={"Authorization": header}), 401)
    with app.app_context():
        notes = db.session.scalars(sa.select(Notification)).all()
        assert {n.admin_id for n in notes} == {org.admin_id, sync_admin}
        assert all(n.kind == "token_invalid" and n.count == 3 for n in notes)
        assert "wrong-token" not in repr([(n.title, n.body) for n in notes])


def test_each_request_records_last_request_and_status_on_the_source(app: Any, scim: Scim) -> None:
    """Issue 3, Authentication: each request records the last request time and status (Connected / Failing badge)."""
    scim.create_user()
    row = _source_row(app, scim.source.id)
    assert row.last_status == 201 and row.last_request_at is not None and row.last_success_at is not None
    scim.post("/Users", user())  # 409
    row = _source_row(app, scim.source.id)
    assert row.last_status == 409 and "userName" in row.last_error
    assert_scim_error(scim.get("/Users/x", token="wrong"), 401)
    assert _source_row(app, scim.source.id).last_status == 401


def test_rate_limit_per_token_is_429_with_retry_after_and_scim_error(app: Any, scim: Scim) -> None:
    """Issue 3: rate limited per token (flask-limiter); RFC 7644 §3.12 error with Retry-After (RFC 6585 §4)."""
    from portal.extensions import limiter

    app.config.update(RATELIMIT_ENABLED=True, SCIM_RATE_LIMIT="2 per minute")
    limiter.init_app(app)
    assert [scim.get("/Users/x").status_code for _ in range(2)] == [404, 404]
    response = scim.get("/Users/x")
    assert_scim_error(response, 429, "tooMany")
    assert int(response.headers["Retry-After"]) >= 1
    # The limit is per token: another source's token has its own budget.
    assert scim.get("/Users/x", token="another token").status_code == 401


def test_refused_tokens_are_limited_per_client_address_whatever_the_token(app: Any, scim: Scim) -> None:
    """Random wrong tokens each have a fresh per-token budget; refusals count per address (RFC 6585 §4)."""
    from portal.extensions import limiter

    app.config.update(RATELIMIT_ENABLED=True, SCIM_AUTH_FAILURE_LIMIT="3 per minute")
    limiter.init_app(app)
    # Successful requests do not count against the refusals' budget.
    assert [scim.get("/Users/x").status_code for _ in range(5)] == [404] * 5
    assert [scim.get("/Users", token=f"wrong-{n}").status_code for n in range(3)] == [401] * 3
    response = scim.get("/Users", token="wrong-again")
    assert_scim_error(response, 429, "tooMany")
    assert int(response.headers["Retry-After"]) >= 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Notification.count))) == 3


def test_ratelimit_enabled_false_turns_the_limit_off(app: Any, scim: Scim) -> None:
    """Issue 3: RATELIMIT_ENABLED=false turns every limit off."""
    app.config["SCIM_RATE_LIMIT"] = "1 per minute"
    assert [scim.get("/Users/x").status_code for _ in range(3)] == [404, 404, 404]


def test_body_over_one_mebibyte_is_413_rfc7644_3_12(app: Any, scim: Scim) -> None:
    big = user(nickName="x" * (1024 * 1024))
    assert_scim_error(scim.post("/Users", big), 413)
    assert [r.status_code for r in sync_logs(app)] == [413]


@pytest.mark.parametrize("raw", ["{", "not json", "[1, 2]", '{"userName": NaN}', "", "[" * 5000 + "]" * 5000])
def test_malformed_json_is_400_invalid_syntax_rfc7644_3_12(app: Any, scim: Scim, raw: str) -> None:
    assert_scim_error(scim.post("/Users", raw=raw), 400, "invalidSyntax")
    rows = sync_logs(app)
    assert len(rows) == 1 and rows[0].result == "failure" and rows[0].scim_type == "invalidSyntax"


@pytest.mark.parametrize(
    "content_type", ["application/scim+json", "application/json", "application/scim+json; charset=utf-8"]
)
def test_scim_and_plain_json_content_types_are_accepted_rfc7644_3_1(scim: Scim, content_type: str) -> None:
    response = scim.post("/Users", user(), content_type=content_type)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == SCIM_JSON


def test_every_response_is_scim_json_errors_included_rfc7644_3_1(scim: Scim) -> None:
    created = scim.create_user()
    for response in (
        scim.get(f"/Users/{created['id']}"),
        scim.get("/Users/nope"),
        scim.post("/Users", raw="{"),
        scim.get("/Nope"),
        scim.request("POST", f"/Users/{created['id']}", {}),
        scim.delete(f"/Users/{created['id']}"),
    ):
        assert response.mimetype == SCIM_JSON, response.status_code
        if response.status_code >= 400:
            assert response.get_json(force=True)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_trailing_and_doubled_slashes_are_tolerated(scim: Scim) -> None:
    """Issue 3, Endpoints: a trailing slash or a doubled slash before the resource is tolerated.

    RFC 7644 §3.2 base URI joins.
    """
    created = scim.create_user()
    headers = {"Authorization": f"Bearer {scim.token}"}
    for path in (f"{scim.source.path}/Users/{created['id']}/", f"{scim.source.path}//Users/{created['id']}"):
        assert scim.client.get(path, headers=headers).status_code == 200, path
    response = scim.client.post(
        f"{scim.source.path}//Users/", data=json.dumps(user("bob@acme.test")), headers=headers, content_type=SCIM_JSON
    )
    assert response.status_code == 201


def test_token_never_reaches_the_database_or_the_logs(app: Any, scim: Scim, caplog: Any) -> None:
    """Issue 3, Sync log: a token never reaches the database or a log (DESIGN.md: stored as a hash)."""
    caplog.set_level(logging.DEBUG)
    scim.create_user()
    scim.post("/Users", user())
    scim.get("/Users/x")
    with app.app_context():
        dump = json.dumps(
            [
                [str(v) for v in row]
                for table in db.metadata.sorted_tables
                for row in db.session.execute(sa.select(table)).all()
            ]
        )
    assert scim.token not in dump
    assert scim.token not in caplog.text


def test_unexpected_error_is_a_scim_500_without_html(app: Any, scim: Scim, monkeypatch: Any) -> None:
    """RFC 7644 §3.12: even an unexpected failure answers a SCIM error document; the request changes nothing."""
    from portal.core import provisioning

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(provisioning, "provision_member", boom)
    body = assert_scim_error(scim.post("/Users", user()), 500)
    assert "boom" not in body["detail"]
    assert [r.status_code for r in sync_logs(app)] == [500]


def test_refused_write_notifies_the_chosen_administrators_seed_1_1_step_5(app: Any, scim: Scim, org: Any) -> None:
    chosen = make_admin(app, org, "ops@acme.test", {"org_data_sync"})
    with app.app_context():
        source = db.session.scalar(sa.select(SyncSource))
        sync_sources.configure_source(org.id, source.id, Actor.cli(), notified_admin_ids=[chosen])
        db.session.commit()
    scim.create_user()
    scim.post("/Users", user())
    scim.post("/Users", user())
    scim.get("/Users/unknown")
    with app.app_context():
        notes = db.session.scalars(sa.select(Notification)).all()
        assert [(n.admin_id, n.kind, n.count) for n in notes] == [(chosen, "sync_failure", 2)]


def test_other_content_types_are_415_scim_error_rfc7644_3_1(app: Any, scim: Scim) -> None:
    """RFC 7644 §3.1: requests are application/scim+json (application/json tolerated); a form is refused."""
    assert_scim_error(scim.post("/Users", raw="userName=x", content_type="application/x-www-form-urlencoded"), 415)
    assert [r.status_code for r in sync_logs(app)] == [415]


def test_an_accepted_token_is_trusted_for_scim_auth_cache_seconds_then_checked_again(
    app: Any, runner: Any, scim: Scim
) -> None:
    """SCIM_AUTH_CACHE_SECONDS: an initial sync's requests skip the source lookup; a change lands within the TTL."""
    app.config["SCIM_AUTH_CACHE_SECONDS"] = 0.5
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    lookup = '/Users?filter=userName eq "nobody@acme.test"'
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert scim.get(lookup).status_code == 200
        first = len(statements)
        assert any("FROM sync_sources" in s for s in statements)
        statements.clear()
        assert scim.get(lookup).status_code == 200
        assert len(statements) == first - 1 and not any("FROM sync_sources" in s for s in statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # A wrong token is never answered from the cache.
    assert_scim_error(scim.get("/Users", token="dsp_wrong"), 401)
    # A refreshed token: the old one is refused once its accepted check is older than the TTL.
    result = runner.invoke(args=["sync-source", "refresh-token", scim.source.id, "--base-url", "http://localhost"])
    assert result.exit_code == 0, result.output
    time.sleep(0.6)
    assert_scim_error(scim.get(lookup), 401)
