"""Run wrk with a bench Lua script and turn its output into numbers.

Library use::

    from bench.loadgen import LoadSettings, run_wrk
    result = run_wrk("http://127.0.0.1:8000", "scim_filter.lua",
                     env={"SCIM_BASE": "/v2", "SEED_COUNT": "1000"},
                     settings=LoadSettings(duration=10))
    result.rps, result.p50_ms, result.p99_ms, result.errors, result.as_dict()

CLI::

    python bench/loadgen.py http://127.0.0.1:8000 --script scim_filter.lua \\
        -d 10 -c 8 -t 2 --env SCIM_BASE=/v2 --env SEED_COUNT=1000 [--json]

Scripts are looked up in ``bench/lua/`` unless given as a path. The scripts'
``done()`` hook prints one ``BENCHJSON {...}`` line holding wrk's exact
latency percentiles and the status codes counted in ``response()``; for a
script without it, wrk's ``--latency`` text is parsed instead.

Targets are restricted to loopback addresses: this harness is for servers
started on this machine only.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA_DIR = Path(__file__).resolve().parent / "lua"
JSON_MARKER = "BENCHJSON "


class LoadgenError(RuntimeError):
    """wrk could not be run, or its output could not be understood."""


@dataclass
class LoadSettings:
    """Loader settings shared by every operation of a run, so figures compare."""

    connections: int = 8
    threads: int = 2
    duration: int = 10
    """Seconds per operation; wrk only takes whole seconds."""
    timeout: int = 5
    """Seconds before wrk counts a request as timed out."""
    wrk: str | None = None
    """Path to wrk; default: ``$WRK`` or ``wrk`` on PATH."""


@dataclass
class LoadResult:
    """What one wrk run measured."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    status: dict[str, int]
    non_2xx: int
    socket_errors: dict[str, int]
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Non-2xx responses plus socket errors (connect, read, write, timeout)."""
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        """Return the result as plain data, with ``errors`` included."""
        data = asdict(self)
        data["errors"] = self.errors
        return data


def find_wrk(explicit: str | None = None) -> str:
    """Return the wrk executable to use: ``explicit``, ``$WRK`` or ``wrk`` on PATH."""
    candidate = explicit or os.environ.get("WRK") or shutil.which("wrk")
    if not candidate or not (Path(candidate).exists() or shutil.which(candidate)):
        raise LoadgenError("wrk not found: apt-get install -y wrk, or set WRK=/path/to/wrk")
    return candidate


def resolve_script(script: str | os.PathLike[str]) -> Path:
    """Return the path of a Lua script, looking in ``bench/lua/`` for bare names."""
    path = Path(script)
    if not path.exists() and (LUA_DIR / path).exists():
        path = LUA_DIR / path
    if not path.exists():
        raise LoadgenError(f"Lua script not found: {script}")
    return path.resolve()


def ensure_loopback(url: str) -> None:
    """Refuse any URL whose host is not a loopback address."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise LoadgenError(f"refusing to load {host!r}: the bench only targets loopback addresses")


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _to_ms(text: str) -> float:
    """Convert a wrk time like ``1.23ms`` or ``850.00us`` to milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise LoadgenError(f"unknown wrk time: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_text_output(stdout: str) -> dict[str, Any]:
    """Parse wrk's human output (needs ``--latency``) into the BENCHJSON shape.

    Used when a script has no ``done()`` hook. Percentiles come from wrk's
    rounded text, and status codes are only known as "Non-2xx or 3xx".
    """
    data: dict[str, Any] = {"latency_us": {}, "errors": {}, "status": {}, "counters": {}}
    for pct, key in (("50", "p50"), ("90", "p90"), ("99", "p99")):
        match = re.search(rf"^\s*{pct}%\s+(\S+)\s*$", stdout, re.MULTILINE)
        if match:
            data["latency_us"][key] = _to_ms(match.group(1)) * 1000
    match = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", stdout, re.MULTILINE)
    if match:
        data["latency_us"]["mean"] = _to_ms(match.group(1)) * 1000
        data["latency_us"]["max"] = _to_ms(match.group(3)) * 1000
    match = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", stdout, re.MULTILINE)
    if not match:
        raise LoadgenError("no request count in wrk output:\n" + stdout)
    data["requests"] = int(match.group(1))
    data["duration_us"] = _to_ms(match.group(2)) * 1000
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    if match:
        data["errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, match.groups()), strict=True))
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    data["non_2xx_text"] = int(match.group(1)) if match else 0
    return data


def parse_output(stdout: str) -> dict[str, Any]:
    """Return the BENCHJSON payload of wrk's output, else the parsed text output."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(JSON_MARKER):
            return json.loads(line[len(JSON_MARKER) :])
    return parse_text_output(stdout)


def build_result(data: dict[str, Any]) -> LoadResult:
    """Turn a BENCHJSON payload (or parsed text) into a LoadResult."""
    latency = data.get("latency_us", {})
    status = {str(code): int(n) for code, n in (data.get("status") or {}).items()}
    counters = {str(k): int(v) for k, v in (data.get("counters") or {}).items()}
    if status:
        non_2xx = sum(n for code, n in status.items() if not code.startswith("2"))
    else:
        non_2xx = int(data.get("non_2xx_text", 0))
    errors = data.get("errors") or {}
    socket_errors = {k: int(errors.get(k, 0)) for k in ("connect", "read", "write", "timeout")}
    requests = int(data["requests"])
    duration_s = float(data["duration_us"]) / 1e6
    return LoadResult(
        requests=requests,
        duration_s=duration_s,
        rps=requests / duration_s if duration_s > 0 else 0.0,
        p50_ms=float(latency.get("p50", 0)) / 1000,
        p90_ms=float(latency.get("p90", 0)) / 1000,
        p99_ms=float(latency.get("p99", 0)) / 1000,
        max_ms=float(latency.get("max", 0)) / 1000,
        mean_ms=float(latency.get("mean", 0)) / 1000,
        status=status,
        non_2xx=non_2xx,
        socket_errors=socket_errors,
        counters=counters,
    )


def wrk_command(url: str, script: Path, settings: LoadSettings) -> list[str]:
    """Return the wrk argv for one run."""
    threads = max(1, min(settings.threads, settings.connections))
    return [
        find_wrk(settings.wrk),
        "--latency",
        "-t",
        str(threads),
        "-c",
        str(max(settings.connections, threads)),
        "-d",
        f"{max(1, int(settings.duration))}s",
        "--timeout",
        f"{max(1, int(settings.timeout))}s",
        "-s",
        str(script),
        url,
    ]


def run_wrk(
    url: str,
    script: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    settings: LoadSettings | None = None,
) -> LoadResult:
    """Run wrk once against ``url`` with ``script``; return the measured LoadResult.

    ``env`` is passed to the script (SCIM_BASE, IDS_FILE, ...). BENCH_THREADS
    and a fresh BENCH_RUN_ID are always set so scripts can split ids between
    threads and build names that are unique across runs.
    """
    settings = settings or LoadSettings()
    ensure_loopback(url)
    command = wrk_command(url, resolve_script(script), settings)
    run_env = dict(os.environ)
    run_env.update(env or {})
    run_env["BENCH_THREADS"] = command[command.index("-t") + 1]
    if "BENCH_RUN_ID" not in (env or {}):
        # Fresh per run even if the caller's environment has one, so two
        # create runs never reuse names.
        run_env["BENCH_RUN_ID"] = uuid.uuid4().hex[:10]
    try:
        completed = subprocess.run(
            command,
            env=run_env,
            capture_output=True,
            text=True,
            # wrk stops by itself after -d; the margin only covers a hung wrk.
            timeout=settings.duration + settings.timeout + 30,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadgenError(f"wrk did not finish: {' '.join(command)}") from exc
    if completed.returncode != 0:
        raise LoadgenError(
            f"wrk exited with {completed.returncode}: {completed.stderr.strip() or completed.stdout.strip()}"
        )
    if "BENCHJSON" not in completed.stdout and completed.stderr.strip():
        # A Lua error in done() or init() lands on stderr; surface it.
        raise LoadgenError(f"wrk script failed: {completed.stderr.strip()}")
    return build_result(parse_output(completed.stdout))


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run one load and print a summary (or JSON with --json)."""
    parser = argparse.ArgumentParser(description="Run wrk with a bench Lua script.")
    parser.add_argument("url", help="base URL, e.g. http://127.0.0.1:8000 (loopback only)")
    parser.add_argument("--script", "-s", required=True, help="Lua script (name in bench/lua or path)")
    parser.add_argument("--duration", "-d", type=int, default=10, help="seconds (default 10)")
    parser.add_argument("--connections", "-c", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--threads", "-t", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--timeout", type=int, default=5, help="request timeout in seconds (default 5)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="script environment")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env needs KEY=VALUE, got {item!r}")
        env[key] = value
    settings = LoadSettings(
        connections=args.connections, threads=args.threads, duration=args.duration, timeout=args.timeout
    )
    try:
        result = run_wrk(args.url, args.script, env, settings)
    except LoadgenError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        print(
            f"{result.rps:.1f} req/s  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  "
            f"errors {result.errors}  status {result.status}  counters {result.counters}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
