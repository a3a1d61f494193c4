"""End to end: the reference targets under gunicorn, loaded by wrk for 1 s.

Asserts what the servers answered, never how fast. Skipped without wrk,
gunicorn or scim2-server.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("scim2_server")
pytest.importorskip("flask")
pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

from bench.loadgen import LoadSettings, run_wrk  # noqa: E402
from bench.reference.targets import PEER_SCIM_BASE, bare_flask_target, peer_target  # noqa: E402
from bench.runner import ServerContext, Target, free_port, gunicorn_command, run_target, serving  # noqa: E402
from bench.seeding import seed_users_http  # noqa: E402

SETTINGS = LoadSettings(connections=2, threads=2, duration=1, timeout=5)


def _by_operation(rows):
    for row in rows:
        assert "error" not in row, row
    return {row["operation"]: row for row in rows}


def test_bare_flask_target_answers_every_operation(tmp_path):
    rows = run_target(bare_flask_target(), SETTINGS, workers=1, options={"seed_rows": 300}, log=lambda _m: None)
    ops = _by_operation(rows)
    assert ops.keys() == {"echo", "select", "insert"}
    assert ops["echo"]["status"].keys() == {"200"}
    assert ops["select"]["status"].keys() == {"200"}
    assert ops["insert"]["status"].keys() == {"201"}


def test_peer_target_answers_every_scim_operation():
    rows = run_target(
        peer_target(), SETTINGS, workers=1, options={"peer_seed_users": 3000}, log=lambda _m: None, warmup=0
    )
    ops = _by_operation(rows)
    assert list(ops) == ["filter", "create", "patch", "get", "put", "delete"]
    assert ops["filter"]["status"].keys() == {"200"}
    assert ops["filter"]["counters"].get("lookup_miss", 0) == 0
    assert ops["create"]["status"].keys() == {"201"}
    assert ops["patch"]["status"].keys() == {"204"}
    assert ops["get"]["status"].keys() == {"200"}
    assert ops["put"]["status"].keys() == {"200"}
    delete = ops["delete"]
    if delete["counters"].get("ids_exhausted"):
        assert delete["status"].keys() <= {"204", "404"}
    else:
        assert delete["status"].keys() == {"204"}


def test_http_seeding_feeds_the_filter_and_patch_scripts(tmp_path):
    # One worker: the peer's storage is per process, so HTTP seeding is only
    # visible to later requests when a single process serves them all.
    target = Target(
        name="peer-http-seeded",
        command=lambda ctx: gunicorn_command("bench.reference.peer_scim2_server:app", ctx),
        operations=[],
        ready_path=f"{PEER_SCIM_BASE}/ServiceProviderConfig",
        setup=lambda ctx: {"PEER_BEARER_TOKEN": ctx.token, "PEER_SEED_USERS": "0"},
    )
    ctx = ServerContext("peer-http-seeded", "127.0.0.1", free_port(), 1, tmp_path, 1, "seed-token")
    ids = tmp_path / "ids.txt"
    with serving(target, ctx):
        assert seed_users_http(ctx.base_url, PEER_SCIM_BASE, 40, ids, token=ctx.token, parallel=3) == 40
        lines = ids.read_text().splitlines()
        assert [line.split("\t")[1] for line in lines] == [f"user{n}@acme.com" for n in range(1, 41)]
        env = {"SCIM_BASE": PEER_SCIM_BASE, "SCIM_TOKEN": ctx.token, "SEED_COUNT": "40", "IDS_FILE": str(ids)}
        lookup = run_wrk(ctx.base_url, "scim_filter.lua", env, SETTINGS)
        assert lookup.status.keys() == {"200"} and lookup.counters.get("lookup_miss", 0) == 0
        patch = run_wrk(ctx.base_url, "scim_patch.lua", env, SETTINGS)
        assert patch.status.keys() == {"204"}
