"""Parsing and safety rules of bench/loadgen.py (no wrk needed)."""

from __future__ import annotations

import pytest

from bench.loadgen import (
    LoadgenError,
    LoadSettings,
    build_result,
    ensure_loopback,
    parse_output,
    parse_text_output,
    resolve_script,
    wrk_command,
)

WRK_TEXT = """\
Running 1s test @ http://127.0.0.1:18090/nonexistent
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.36ms    3.19ms  20.49ms   80.35%
    Req/Sec   485.71    134.83   767.00     71.43%
  Latency Distribution
     50%    3.13ms
     75%    5.96ms
     90%    8.76ms
     99%   14.51ms
  1015 requests in 1.10s, 515.61KB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 1015
Requests/sec:    922.41
Transfer/sec:    468.57KB
"""

BENCHJSON = (
    'BENCHJSON {"bytes":1000,"counters":{"lookup_miss":2},"duration_us":2000000,'
    '"errors":{"connect":0,"read":1,"status":3,"timeout":0,"write":0},'
    '"latency_us":{"max":9000,"mean":2100.5,"min":300,"p50":2000,"p90":4000,"p99":8000,"p999":8900,"stdev":10},'
    '"requests":400,"status":{"200":397,"404":3}}'
)


def test_text_output_is_parsed_into_the_json_shape():
    data = parse_text_output(WRK_TEXT)
    assert data["requests"] == 1015
    assert data["duration_us"] == pytest.approx(1_100_000)
    assert data["latency_us"]["p50"] == pytest.approx(3130)
    assert data["latency_us"]["p99"] == pytest.approx(14510)
    assert data["errors"] == {"connect": 0, "read": 3, "write": 0, "timeout": 1}
    result = build_result(data)
    assert result.non_2xx == 1015
    assert result.errors == 1015 + 4
    assert result.p99_ms == pytest.approx(14.51)


def test_benchjson_line_wins_over_text():
    result = build_result(parse_output(WRK_TEXT + BENCHJSON + "\n"))
    assert result.requests == 400
    assert result.rps == pytest.approx(200.0)
    assert result.p50_ms == pytest.approx(2.0)
    assert result.p99_ms == pytest.approx(8.0)
    assert result.status == {"200": 397, "404": 3}
    assert result.non_2xx == 3
    assert result.errors == 4  # 3 non-2xx + 1 read error
    assert result.counters == {"lookup_miss": 2}
    assert result.as_dict()["errors"] == 4


def test_output_without_request_count_is_an_error():
    with pytest.raises(LoadgenError):
        parse_output("nothing useful")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:1/x", "http://[::1]:80", "http://127.5.5.5"]
)
def test_loopback_urls_are_accepted(url):
    ensure_loopback(url)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "http://192.168.1.2", "http://example.com", "http://0.0.0.0:80"]
)
def test_other_urls_are_refused(url):
    with pytest.raises(LoadgenError):
        ensure_loopback(url)


def test_bare_script_names_resolve_to_the_lua_folder():
    assert resolve_script("scim_filter.lua").name == "scim_filter.lua"
    with pytest.raises(LoadgenError):
        resolve_script("no_such_script.lua")


def test_wrk_command_never_has_more_threads_than_connections():
    command = wrk_command(
        "http://127.0.0.1:1",
        resolve_script("bare_echo.lua"),
        LoadSettings(connections=1, threads=4, duration=3, wrk="/bin/true"),
    )
    assert command[command.index("-t") + 1] == "1"
    assert command[command.index("-c") + 1] == "1"
    assert command[command.index("-d") + 1] == "3s"
    assert "--latency" in command
