"""/metrics in the Prometheus text format (issue 14): what it counts, who may read it, gunicorn's workers summed."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal import create_app
from portal.core import sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.infra import metrics
from portal.infra.config import ConfigError
from portal.models import SyncSource, utcnow
from tests.directory_support import make_source_with_token
from tests.servers import gunicorn

SCIM_JSON = "application/scim+json"


def _value(page: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def _scrape(client: Any, **kwargs: Any) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return response.get_data(as_text=True)


def _scim(client: Any, public_id: str, token: str, method: str, path: str, body: Any = None) -> Any:
    return client.open(
        f"/scim/v2/{public_id}{path}",
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
        data=json.dumps(body) if body is not None else None,
    )


@pytest.fixture
def source(app: Any, org: Any) -> tuple[int, str, str]:
    return make_source_with_token(app, org.id, name="Okta", provider="okta")


@pytest.fixture
def quiet_queue(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from portal.jobs import queue

    stats = {"depth": 7, "oldest_age_seconds": 42.5, "heartbeat_at": utcnow() - timedelta(seconds=30)}
    monkeypatch.setattr(queue, "stats", lambda: dict(stats))
    return stats


@pytest.mark.both_databases
def test_scim_requests_are_counted_by_source_resource_operation_and_status_rfc7644_3_4(client, source, quiet_queue):
    source_id, public_id, token = source
    labels = {"source": str(source_id), "resource": "Users"}
    before = _scrape(client)
    assert _scim(client, public_id, token, "GET", "/Users").status_code == 200  # RFC 7644 §3.4.2
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.test"}
    assert _scim(client, public_id, token, "POST", "/Users", user).status_code == 201  # RFC 7644 §3.3
    assert _scim(client, public_id, token, "POST", "/Users", user).status_code == 409  # uniqueness, §3.12
    assert _scim(client, public_id, "wrong-token", "GET", "/Users").status_code == 401  # §2
    after = _scrape(client)

    def moved(**more: str) -> float:
        name = "portal_scim_requests_total"
        return _value(after, name, **labels, **more) - _value(before, name, **labels, **more)

    assert moved(operation="list", status="200") == 1
    assert moved(operation="create", status="201") == 1
    assert moved(operation="create", status="409") == 1
    # A refused token still names the source whose URL it was sent to.
    assert moved(operation="list", status="401") == 1
    histogram = "portal_scim_request_duration_seconds_count"
    latency = _value(after, histogram, resource="Users", operation="create")
    assert latency - _value(before, histogram, resource="Users", operation="create") == 2


def test_a_url_naming_no_source_is_counted_without_its_id(client, source):
    before = _scrape(client)
    response = client.get("/scim/v2/not-a-source-id/Users", headers={"Authorization": "Bearer x"})
    assert response.status_code in (401, 404)
    after = _scrape(client)
    name = "portal_scim_requests_total"
    assert _value(after, name, source="none") - _value(before, name, source="none") == 1
    assert "not-a-source-id" not in after


def test_console_requests_are_counted_by_area_and_status(client):
    before = _scrape(client)
    assert client.get("/login").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    after = _scrape(client)
    name = "portal_console_requests_total"
    assert _value(after, name, group="auth", status="200") - _value(before, name, group="auth", status="200") == 1
    assert _value(after, name, group="none", status="404") - _value(before, name, group="none", status="404") == 1


@pytest.mark.both_databases
def test_token_expiry_of_each_active_source_and_the_queue_are_read_at_scrape_time(app, org, client, quiet_queue):
    active = make_source_with_token(app, org.id, name="Okta", provider="okta")[0]
    inactive = make_source_with_token(app, org.id, name="Entra", provider="entra")[0]
    with app.app_context():
        db.session.get(SyncSource, active).token_expires_at = utcnow() + timedelta(days=3)
        sync_sources.set_active(org.id, inactive, False, Actor.cli())
        db.session.commit()
    page = _scrape(client)
    seconds = _value(page, "portal_sync_source_token_expiry_seconds", source=str(active))
    assert 3 * 86400 - 60 < seconds <= 3 * 86400
    assert f'portal_sync_source_token_expiry_seconds{{source="{inactive}"}}' not in page
    assert _value(page, "portal_queue_depth") == 7
    assert _value(page, "portal_queue_oldest_job_age_seconds") == 42.5
    assert 29 <= _value(page, "portal_worker_heartbeat_age_seconds") < 90


def test_mail_delivery_failures_are_counted(client):
    before = _value(_scrape(client), "portal_mail_delivery_failures_total")
    metrics.record_mail_failure()
    metrics.record_mail_failure()
    assert _value(_scrape(client), "portal_mail_delivery_failures_total") - before == 2


def test_a_queue_that_cannot_be_read_leaves_the_rest_of_the_scrape(client, monkeypatch):
    from portal.jobs import queue

    def broken() -> dict[str, Any]:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(queue, "stats", broken)
    page = _scrape(client)
    assert "portal_queue_depth" not in page
    assert "# TYPE portal_scim_requests_total counter" in page
    assert "# TYPE portal_sync_source_token_expiry_seconds gauge" in page


# ---------------------------------------------------------------- access


def test_metrics_are_404_to_an_address_outside_metrics_allow(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 404
    assert b"portal_" not in response.data


@pytest.mark.parametrize("remote", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_by_default(client, remote):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": remote}).status_code == 200


def test_metrics_allow_takes_addresses_and_networks(app, client):
    app.extensions["metrics_allow"] = metrics.parse_allow("10.0.0.0/8, 192.0.2.7")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_the_bearer_token_opens_metrics_from_anywhere(app, client):
    app.config["METRICS_TOKEN"] = "scrape-secret-0123456789"
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    ok = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer scrape-secret-0123456789"})
    assert ok.status_code == 200
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer scrape-secret"})
    assert wrong.status_code == 404
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Basic x"}).status_code == 404


def test_no_token_configured_opens_nothing_by_token(client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer "}).status_code == 404


def test_a_bad_metrics_allow_refuses_to_start(database_url):
    with pytest.raises(ConfigError, match="METRICS_ALLOW: 'localhost' is neither an IP address nor a network"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "METRICS_ALLOW": "127.0.0.1,localhost"})


# ---------------------------------------------------------------- gunicorn


def _http(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _count_across_worker_restarts(app: Any, org: Any, database_url: str, tmp_path: Any, env: dict[str, str]) -> None:
    """Three SCIM requests, both workers killed and replaced, two more: every scrape must see all five."""
    source_id, public_id, token = make_source_with_token(app, org.id, name="Okta", provider="okta")
    labels = {"source": str(source_id), "resource": "Users", "operation": "list", "status": "200"}
    with gunicorn(database_url, tmp_path, workers=2, env=env) as server:
        users = f"{server.url}/scim/v2/{public_id}/Users"
        for _ in range(3):
            assert _http(users, token)[0] == 200
        first = server.worker_pids()
        assert len(first) == 2
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            pids = server.worker_pids()
            if len(pids) == 2 and not set(pids) & set(first) and _http(f"{server.url}/livez")[0] == 200:
                break
            assert time.monotonic() < deadline, "gunicorn did not replace its workers"
            time.sleep(0.2)
        for _ in range(2):
            assert _http(users, token)[0] == 200
        # Each scrape may be answered by either new worker: the five requests were counted by three processes or more.
        for _ in range(6):
            status, page = _http(f"{server.url}/metrics")
            assert status == 200
            assert _value(page, "portal_scim_requests_total", **labels) == 5


@pytest.mark.slow
@pytest.mark.both_databases
def test_gunicorn_workers_share_their_counts_through_the_multiprocess_directory(app, org, database_url, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999999.db").write_bytes(b"stale")  # a dead process of an earlier run: forgotten
    _count_across_worker_restarts(app, org, database_url, tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    names = {path.name for path in folder.iterdir()}
    assert any(name.startswith("counter_") for name in names) and "counter_999999999.db" not in names


@pytest.mark.slow
def test_gunicorn_without_the_variable_counts_in_a_directory_of_its_own(app, org, database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    _count_across_worker_restarts(app, org, database_url, tmp_path, {})
