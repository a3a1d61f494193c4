"""The table of bench/service_times.py from the lines its hooks write (no servers needed)."""

from __future__ import annotations

from pathlib import Path

from bench.service_times import _operation, summarize


def test_each_request_is_named_after_the_operation_that_sent_it() -> None:
    assert _operation("GET", 'filter=userName eq "a"') == "filter"
    assert _operation("GET", "") == "get"
    assert [_operation(method, "") for method in ("POST", "PUT", "PATCH", "DELETE")] == [
        "create",
        "put",
        "patch",
        "delete",
    ]


def test_the_table_gives_each_operation_its_quantiles_in_the_run_order(tmp_path: Path) -> None:
    # operation, service, lock wait, lock hold, CPU, end time: two workers' files
    (tmp_path / "101.txt").write_text("".join(f"create {i} 0.0 0.5 {i / 2} 1.0\n" for i in range(1, 101)))
    (tmp_path / "102.txt").write_text("put 3.0 2.0 1.0 2.5 1.0\nput 5.0 4.0 1.5 3.0 1.0\n")
    (tmp_path / "checkpoints-101.txt").write_text("1.0 40.0 1048576\n2.0 60.0 73400320\n")

    table = summarize(tmp_path, ["put", "create", "delete"])

    lines = table.splitlines()
    assert [line.split()[0] for line in lines[2:4]] == ["put", "create"], "in the order given; none for delete"
    assert lines[3].split() == ["create", "100", "51.00", "91.00", "100.00", "100.00", "0.00", "0.50", "25.50", "50.00"]
    assert lines[2].split()[1:3] == ["2", "5.00"]
    assert "checkpoints: 2, median 60.0 ms, longest 60.0 ms; the largest log before one: 70 MiB" in table
