"""Prometheus metrics: what the requests count as they go, and the scrape-time figures ``/metrics`` adds.

Counted by every process as requests end (``init_app``'s hooks):

- ``portal_scim_requests_total{source, resource, operation, status}``: SCIM requests, by sync
  source id (``none`` when the URL names no source that exists), resource (Users, Groups, ...),
  operation (create, get, list, search, replace, update, delete) and HTTP status;
- ``portal_scim_request_duration_seconds{resource, operation}``: their latency;
- ``portal_console_requests_total{group, status}``: the other requests, by blueprint;
- ``portal_mail_delivery_failures_total``: tries the mail server did not accept (``record_mail_failure``).

Each label takes a bounded set of values: a source id is written only for a source the SCIM
door found, never from the URL, so random URLs cannot grow the series without end.

Under gunicorn every worker counts on its own; with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py
sets it) prometheus_client keeps the counts in files there and any worker's ``/metrics`` adds them
all up. Without it (``flask run``, tests) the process's own registry answers.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, g, request
from flask.wrappers import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from portal.infra.config import ConfigError

#: the Prometheus text format's content type
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

SCIM_REQUESTS = Counter(
    "portal_scim_requests",
    "SCIM requests answered, by sync source id, resource, operation and HTTP status",
    ["source", "resource", "operation", "status"],
    registry=None,
)
SCIM_LATENCY = Histogram(
    "portal_scim_request_duration_seconds",
    "Time to answer a SCIM request, by resource and operation",
    ["resource", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
CONSOLE_REQUESTS = Counter(
    "portal_console_requests",
    "Requests other than SCIM, by endpoint group (the console area's blueprint) and HTTP status",
    ["group", "status"],
    registry=None,
)
MAIL_FAILURES = Counter(
    "portal_mail_delivery_failures",
    "Email deliveries the mail server did not accept (every try counts; the message may be retried)",
    registry=None,
)
#: what the requests and jobs count, in the order /metrics lists them
COUNTED = (SCIM_REQUESTS, SCIM_LATENCY, CONSOLE_REQUESTS, MAIL_FAILURES)

#: the SCIM resources counted by name; any other path is ``other``
SCIM_RESOURCES = frozenset({"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me"})


def record_mail_failure() -> None:
    """Count one email the mail server did not accept (the worker calls it on each failed try)."""
    MAIL_FAILURES.inc()


def multiprocess_mode() -> bool:
    """Whether the counts live in PROMETHEUS_MULTIPROC_DIR's files, summed over every process."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


# ---------------------------------------------------------------- requests


def scim_labels(method: str, path: str) -> tuple[str, str]:
    """The resource and operation of a SCIM request: ``/scim/v2/<source>/Users/<id>`` GET is (Users, get)."""
    parts = [part for part in path.split("/")[4:] if part]  # after "", "scim", "v2", the source
    head, rest = (parts[0], parts[1:]) if parts else ("", [])
    if head in SCIM_RESOURCES:
        resource = head
    else:
        # POST /.search searches every resource (RFC 7644 §3.4.3); GET of the base URL itself.
        resource = "root" if head in ("", ".search") else "other"
    if method == "POST":
        operation = "search" if ".search" in (head, *rest[:1]) else "create"
    elif method in ("GET", "HEAD"):
        operation = "list" if resource in ("Users", "Groups") and not rest else "get"
    else:
        operation = {"PUT": "replace", "PATCH": "update", "DELETE": "delete"}.get(method, "other")
    return resource, operation


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    status = str(response.status_code)
    if request.path.startswith("/scim/"):
        resource, operation = scim_labels(request.method, request.path)
        ids = g.get("source_ids")
        source = str(ids[0]) if ids else str(g.get("refused_source_id") or "none")
        SCIM_REQUESTS.labels(source, resource, operation, status).inc()
        started = g.get("metrics_started")
        if started is not None:
            SCIM_LATENCY.labels(resource, operation).observe(time.perf_counter() - started)
    else:
        group = request.blueprint or ("static" if request.endpoint == "static" else "none")
        CONSOLE_REQUESTS.labels(group, status).inc()
    return response


# ---------------------------------------------------------------- access


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(value: str) -> tuple[Network, ...]:
    """``METRICS_ALLOW``: a comma list of addresses and networks (``10.0.0.0/8``); a bad entry is a ConfigError."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"METRICS_ALLOW: {entry!r} is neither an IP address nor a network") from None
    return tuple(networks)


def allowed(config: Any, networks: Iterable[Network], remote_addr: str | None, authorization: str | None) -> bool:
    """Whether a scrape may read /metrics: the bearer token METRICS_TOKEN, or an address in METRICS_ALLOW."""
    token = config.get("METRICS_TOKEN") or ""
    scheme, _, given = (authorization or "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return any(address in network or (mapped is not None and mapped in network) for network in networks)


# ---------------------------------------------------------------- scrape


@dataclass
class Snapshot:
    """The figures read when /metrics is scraped (None: could not be read)."""

    queue: dict[str, Any] | None = None
    token_expiry: dict[int, float] | None = None
    now: datetime | None = None


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        queue = self.snapshot.queue
        if queue is not None:
            yield GaugeMetricFamily("portal_queue_depth", "Jobs and due outbox messages waiting", value=queue["depth"])
            oldest = queue.get("oldest_age_seconds")
            yield GaugeMetricFamily(
                "portal_queue_oldest_job_age_seconds",
                "How long the oldest waiting job has waited (0 when none waits)",
                value=oldest or 0.0,
            )
            beat = queue.get("heartbeat_at")
            if beat is not None and self.snapshot.now is not None:
                yield GaugeMetricFamily(
                    "portal_worker_heartbeat_age_seconds",
                    "Seconds since a worker last beat (absent when no worker ever ran)",
                    value=(self.snapshot.now - beat.replace(tzinfo=None)).total_seconds(),
                )
        if self.snapshot.token_expiry is not None:
            expiry = GaugeMetricFamily(
                "portal_sync_source_token_expiry_seconds",
                "Seconds until an active sync source's token expires (negative once expired)",
                labels=["source"],
            )
            for source_id, seconds in sorted(self.snapshot.token_expiry.items()):
                expiry.add_metric([str(source_id)], seconds)
            yield expiry


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text of every metric: the counts (of all processes in multiprocess mode) and ``snapshot``."""
    registry = CollectorRegistry(auto_describe=True)
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in COUNTED:
            registry.register(metric)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


def init_app(app: Flask) -> None:
    """Count every request as it ends; check METRICS_ALLOW now, so a bad value stops the start."""
    app.extensions["metrics_allow"] = parse_allow(app.config.get("METRICS_ALLOW", "127.0.0.1,::1"))
    # First of the before-request hooks: a request another hook ends early (a rate limit) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_record)
