"""One Group PATCH with many member removals, timed: the figure issue 12 item 2 is about.

    python bench/group_patch.py [--members 10000] [--operations 10000] [--database-url URL]

Builds a fresh database (SQLite in a temporary folder unless ``--database-url``
names a PostgreSQL server, on which a temporary database is made and dropped),
an organization and an active JumpCloud source through the CLI, bulk-inserts
``--members`` members (``app_target.bulk_seed_members``), puts them all in one
group with one SCIM POST, then sends ONE PATCH holding ``--operations``
``remove members[value eq "<id>"]`` operations and prints how long it took, in
process (the test client: no sockets, no gunicorn), wall clock and CPU time (what a
busy shared machine blurs less). A membership change runs
as set operations, so this stays well under a second on SQLite; before, each
operation cost its own queries and 11,000 of them took 13.7 s.

Not a test: tests/scim/test_patch_cost.py checks the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import (  # noqa: E402
    app_environment,
    bulk_seed_members,
    fresh_database,
    prepare_app_database,
)

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def run(members: int, operations: int, server_url: str | None) -> dict[str, float | int]:
    """Seed, build the group, send the PATCH; return the timings and what is left."""
    with fresh_database(server_url, "group-patch-") as url, tempfile.TemporaryDirectory() as workdir:
        source = prepare_app_database(url, "http://localhost")  # the test client's address
        ids_path = Path(workdir) / "ids.txt"
        bulk_seed_members(url, source["id"], members, ids_path)
        ids = [line.split("\t")[0] for line in ids_path.read_text().splitlines()]
        os.environ.update(app_environment(url))
        from portal import create_app

        client = create_app().test_client()
        headers = {"Authorization": f"Bearer {source['token']}", "Content-Type": "application/scim+json"}
        base = f"/scim/v2/{source['id']}/Groups"
        started = time.perf_counter()
        group = {"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": [{"value": i} for i in ids]}
        response = client.post(
            base, data=json.dumps(group), headers=headers, query_string={"excludedAttributes": "members"}
        )
        if response.status_code != 201:
            raise SystemExit(f"POST /Groups answered {response.status_code}: {response.get_data()[:300]!r}")
        created = time.perf_counter() - started
        group_id = response.get_json()["id"]
        removed = ids[:operations]
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in removed],
        }
        data = json.dumps(body)
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.patch(
            f"{base}/{group_id}", data=data, headers=headers, query_string={"excludedAttributes": "members"}
        )
        patched, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if response.status_code not in (200, 204):
            raise SystemExit(f"PATCH answered {response.status_code}: {response.get_data()[:300]!r}")
        left = client.get(f"{base}/{group_id}", headers=headers).get_json()
        return {
            "members": members,
            "operations": len(removed),
            "body_bytes": len(data),
            "post_seconds": round(created, 3),
            "patch_seconds": round(patched, 3),
            "patch_cpu_seconds": round(cpu, 3),
            "members_left": len(left.get("members", [])),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--operations", type=int, default=10_000, help="remove operations in the one PATCH")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+psycopg://...); default SQLite")
    args = parser.parse_args()
    result = run(args.members, min(args.operations, args.members), args.database_url)
    print(json.dumps(result))
    print(
        f"PATCH with {result['operations']} remove operations on a {result['members']}-member group: "
        f"{result['patch_seconds']:.3f} s, {result['patch_cpu_seconds']:.3f} s of CPU "
        f"({result['members_left']} members left)"
    )


if __name__ == "__main__":
    main()
