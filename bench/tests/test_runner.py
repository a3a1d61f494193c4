"""Table and ratio helpers of bench/runner.py (no servers needed)."""

from __future__ import annotations

import pytest

from bench.runner import format_table, free_port, ratios


def _row(target, operation, kind, rps, errors=0, status=None, counters=None):
    return {
        "target": target,
        "operation": operation,
        "kind": kind,
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "errors": errors,
        "status": status or {"200": 10},
        "socket_errors": {},
        "counters": counters or {},
    }


ROWS = [
    _row("bare-flask", "select", "lookup", 1000.0),
    _row("scim2-server", "filter", "lookup", 250.0),
    _row("scim2-server", "patch", "patch", 300.0),
    _row(
        "scim2-server",
        "delete",
        "delete",
        10.0,
        errors=5,
        status={"204": 5, "404": 5},
        counters={"ids_exhausted": 2},
    ),
    {"target": "app", "operation": "create", "kind": "create", "error": "server exited with 1\ntraceback"},
]


def test_ratios_compare_rows_of_the_same_kind_with_the_baseline():
    relative = ratios(ROWS)
    assert relative[("scim2-server", "filter")] == pytest.approx(0.25)
    assert relative[("bare-flask", "select")] == pytest.approx(1.0)
    assert ("scim2-server", "patch") not in relative


def test_table_groups_by_kind_and_explains_errors():
    table = format_table(ROWS)
    assert table.index("== lookup") < table.index("== patch") < table.index("== delete")
    assert "0.25x" in table
    assert "status 404: 5" in table
    assert "ids_exhausted: 2" in table
    assert "FAILED: server exited with 1" in table
    assert "traceback" not in table


def test_free_port_is_a_loopback_port_number():
    assert 0 < free_port() < 65536
