"""Webhook endpoints and the delivery of change events to them, signed per Standard Webhooks.

**Endpoints.** An organization's administrators (the primary, or the ``api_keys`` permission) add a
URL (HTTPS when ``PORTAL_ENV=production``) and the event types it takes. Its signing secret,
``whsec_`` + base64 of 32 random bytes, is shown once; it is stored as it is, because signing needs
it, and never written to a log. **Rotation** makes a new secret and keeps the old one for
``ROTATION_OVERLAP`` (24 hours): deliveries carry both signatures meanwhile (Standard Webhooks
allows several, space-separated), so a receiver can switch secrets without losing a message.

**Delivery** (the job worker calls ``deliver_due``): at least once, in order per endpoint. A
worker claims one endpoint at a time (a lease: ``lease_until``/``lease_owner``, taken by one
UPDATE that picks the row ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), then sends the endpoint's
pending resends and the events after its cursor ``last_seq``, one at a time, each in its own
short transaction: the cursor moves only after a 2xx. A worker that dies mid-delivery leaves the
lease to run out (``WEBHOOK_LEASE_SECONDS``); the next worker sends the same event again. A
failed try waits ``WEBHOOK_RETRY_BASE_SECONDS`` doubled per try (at most
``WEBHOOK_RETRY_MAX_SECONDS``); an endpoint failing for ``WEBHOOK_DISABLE_AFTER_HOURS`` (72)
is disabled and its administrators are notified. Redirects are not followed (a 3xx is a
failure), each request has a timeout (``WEBHOOK_TIMEOUT_SECONDS``, 10).
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import CursorResult, Select, and_, delete, exists, func, insert, or_, select, update
from standardwebhooks import Webhook

from portal.core import admin_log, events, notifications
from portal.core.actors import Actor
from portal.core.errors import Invalid, NotFound
from portal.core.text import clean_text, text_problem
from portal.extensions import db
from portal.models import (
    EVENT_TYPES,
    Admin,
    ChangeEvent,
    Organization,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
#: how long a rotated-out secret still signs deliveries beside the new one
ROTATION_OVERLAP = timedelta(hours=24)
#: the longest error message kept on a delivery
ERROR_LENGTH = 500
#: the most of a response body read (and thrown away): a receiver cannot make the worker read for ever
RESPONSE_READ_LIMIT = 64 * 1024
#: events one claim sends at most before it lets the endpoint go (other endpoints get their turn)
EVENTS_PER_CLAIM = 500
#: seconds one claim keeps sending at most (well within the lease)
CLAIM_BUDGET_SECONDS = 20.0
#: the notification kind when an endpoint is disabled after failing for days
DISABLED_KIND = "webhook_disabled"

#: the event types as the console lists them, grouped by object
EVENT_TYPE_GROUPS = {
    "Members": [t for t in EVENT_TYPES if t.startswith("member.")],
    "Departments": [t for t in EVENT_TYPES if t.startswith("department.")],
    "User groups": [t for t in EVENT_TYPES if t.startswith("group.")],
}


def _config(name: str, default: float) -> float:
    value = current_app.config.get(name)
    return default if value is None or value == "" else float(value)


def lease_duration() -> timedelta:
    """How long a worker owns a claimed endpoint (``WEBHOOK_LEASE_SECONDS``, 60)."""
    return timedelta(seconds=_config("WEBHOOK_LEASE_SECONDS", 60))


def retry_delay(failures: int) -> timedelta:
    """The wait after the ``failures``-th failed try in a row: the base doubled each time, capped."""
    base = _config("WEBHOOK_RETRY_BASE_SECONDS", 10)
    cap = _config("WEBHOOK_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, min(failures - 1, 30))))


def disable_after() -> timedelta:
    """How long an endpoint may fail before it is disabled (``WEBHOOK_DISABLE_AFTER_HOURS``, 72)."""
    return timedelta(hours=_config("WEBHOOK_DISABLE_AFTER_HOURS", 72))


def new_secret() -> str:
    """A signing secret: ``whsec_`` and base64 of 32 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


# ---------------------------------------------------------------- endpoints (the console)


@dataclass(frozen=True)
class NewSecret:
    """An endpoint and its secret, shown once when it is made or rotated."""

    endpoint: WebhookEndpoint
    secret: str


def check_url(raw: str | None) -> str:
    """A URL deliveries can go to: http or https (https only in production), a host, no credentials."""
    url = clean_text(raw, WebhookEndpoint.url, label="The URL", field="url") or ""
    if not url:
        raise Invalid("Enter the endpoint's URL", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("Enter a URL such as https://example.com/webhooks", field="url") from None
    production = current_app.config.get("PORTAL_ENV") == "production"
    if parts.scheme not in ("https",) + (() if production else ("http",)) or not parts.hostname:
        wanted = "an https:// URL" if production else "an http:// or https:// URL"
        raise Invalid(f"Enter {wanted} with a host name", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("Leave credentials out of the URL: receivers check the signature instead", field="url")
    if port == 0:
        raise Invalid("Enter a URL with a valid port", field="url")
    # An HTTP request line is ASCII without spaces: a path or query typed with "ö" or a space is kept
    # percent-encoded (UTF-8), as a browser sends it; the escapes already there stay as they are.
    path, query = quote(parts.path, safe=_URL_SAFE), quote(parts.query, safe=_URL_SAFE + "?")
    encoded = urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))
    problem = text_problem(encoded, WebhookEndpoint.url, label="The URL, percent-encoded,")
    if problem is not None:
        raise Invalid(problem, field="url")
    return encoded


#: what ``check_url`` leaves as typed in a path or query: RFC 3986's reserved and unreserved characters, and "%"
_URL_SAFE = "/%:@!$&'()*+,;=-._~"


def check_event_types(chosen: list[str]) -> list[str]:
    """The chosen event types in their listed order; at least one, each known."""
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"Unknown event type {unknown[0]!r}", field="event_types")
    if not chosen:
        raise Invalid("Choose at least one event type", field="event_types")
    return [t for t in EVENT_TYPES if t in chosen]


def _description(raw: str | None) -> str:
    return clean_text(raw, WebhookEndpoint.description, label="The description", field="description") or ""


def list_endpoints(org_id: int) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first."""
    return list(
        db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id).order_by(WebhookEndpoint.id))
    )


def get_endpoint(org_id: int, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint of the organization, or NotFound."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.org_id != org_id:
        raise NotFound("No such webhook endpoint")
    return endpoint


def _log(actor: Actor, endpoint: WebhookEndpoint, event_type: str, **details: Any) -> None:
    admin_log.record(
        actor,
        endpoint.org_id,
        event_type,
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        target_name=endpoint.url,
        **details,
    )


def create_endpoint(org_id: int, url: str, event_types: list[str], actor: Actor, *, description: str = "") -> NewSecret:
    """Add an endpoint; it receives the events made from now on. The secret is returned once."""
    now = utcnow()
    endpoint = WebhookEndpoint(
        org_id=org_id,
        url=check_url(url),
        description=_description(description),
        event_types=check_event_types(event_types),
        secret=new_secret(),
        enabled=True,
        failures=0,
        last_seq=events.last_seq(org_id),
        created_by_admin_id=actor.admin.id if actor.admin is not None else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(endpoint)
    db.session.flush()
    events.forget_subscriptions(org_id)
    changes = {"url": [None, endpoint.url], "event_types": [None, endpoint.event_types]}
    _log(actor, endpoint, "Add webhook endpoint", changes=changes)
    return NewSecret(endpoint, endpoint.secret)


def update_endpoint(
    org_id: int, endpoint_id: int, actor: Actor, *, url: str, event_types: list[str], description: str
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types and description."""
    endpoint = get_endpoint(org_id, endpoint_id)
    before = {"url": endpoint.url, "event_types": endpoint.event_types, "description": endpoint.description}
    new_url, new_types, new_description = check_url(url), check_event_types(event_types), _description(description)
    changes = admin_log.diff(before, {"url": new_url, "event_types": new_types, "description": new_description})
    if changes:
        endpoint.url, endpoint.event_types, endpoint.description = new_url, new_types, new_description
        db.session.flush()
        _log(actor, endpoint, "Edit webhook endpoint", changes=changes)
    return endpoint


def rotate_secret(org_id: int, endpoint_id: int, actor: Actor, *, now: datetime | None = None) -> NewSecret:
    """A new signing secret, returned once; the old one still signs beside it for ``ROTATION_OVERLAP``."""
    endpoint = get_endpoint(org_id, endpoint_id)
    now = now or utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    db.session.flush()
    until = endpoint.previous_secret_until.strftime("%Y-%m-%d %H:%M UTC")
    _log(actor, endpoint, "Rotate webhook secret", summary=f"The previous secret also signs deliveries until {until}")
    return NewSecret(endpoint, endpoint.secret)


def set_enabled(org_id: int, endpoint_id: int, enabled: bool, actor: Actor) -> WebhookEndpoint:
    """Disable an endpoint (nothing is sent; events wait behind its cursor), or enable it again.

    Enabling clears the failures: the next try is now, and the events it missed follow in order.
    """
    endpoint = get_endpoint(org_id, endpoint_id)
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = None
        endpoint.failing_since = None
        endpoint.failures = 0
        endpoint.next_attempt_at = None
    else:
        endpoint.disabled_reason = f"Disabled by {actor.label}"
    db.session.flush()
    events.forget_subscriptions(org_id)
    _log(
        actor,
        endpoint,
        "Enable webhook endpoint" if enabled else "Disable webhook endpoint",
        changes={"enabled": [not enabled, enabled]},
    )
    return endpoint


def delete_endpoint(org_id: int, endpoint_id: int, actor: Actor) -> None:
    """Delete an endpoint and its delivery log."""
    endpoint = get_endpoint(org_id, endpoint_id)
    _log(actor, endpoint, "Delete webhook endpoint", changes={"url": [endpoint.url, None]})
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.flush()


def resend(org_id: int, endpoint_id: int, seq: int, actor: Actor) -> WebhookDelivery:
    """Queue the event ``seq`` to be sent again to the endpoint (the worker sends it before the next events)."""
    endpoint = get_endpoint(org_id, endpoint_id)
    if not endpoint.enabled:
        raise Invalid("Enable the endpoint before resending to it", field="form")
    found = db.session.scalar(select(ChangeEvent.type).where(ChangeEvent.org_id == org_id, ChangeEvent.seq == seq))
    if found is None:
        raise Invalid(f"Event {seq} is no longer kept (retention)", field="form")
    delivery = WebhookDelivery(
        org_id=org_id,
        endpoint_id=endpoint.id,
        seq=seq,
        event_type=found,
        attempt=_attempts(endpoint.id, seq) + 1,
        status="pending",
        resend=True,
        created_at=utcnow(),
    )
    db.session.add(delivery)
    db.session.flush()
    db.session.info[events.WEBHOOKS_DUE_KEY] = True
    _log(actor, endpoint, "Resend webhook event", summary=f"Event {seq} ({found}) queued to be sent again")
    return delivery


def _attempts(endpoint_id: int, seq: int) -> int:
    return int(
        db.session.scalar(
            select(func.count()).where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.seq == seq,
                WebhookDelivery.status != "pending",
            )
        )
        or 0
    )


def deliveries(endpoint: WebhookEndpoint, *, limit: int, offset: int = 0) -> tuple[list[WebhookDelivery], int]:
    """A page of the endpoint's delivery log, newest first, and how many tries it holds."""
    total = db.session.scalar(select(func.count()).where(WebhookDelivery.endpoint_id == endpoint.id)) or 0
    rows = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def backlog(endpoint: WebhookEndpoint) -> int:
    """How many events of the organization wait behind the endpoint's cursor (any type)."""
    return max(0, events.last_seq(endpoint.org_id) - endpoint.last_seq)


# ---------------------------------------------------------------- signing and sending


#: ``json.dumps(..., separators=(",", ":"))`` without making an encoder for each body
_encode_compact = json.JSONEncoder(separators=(",", ":")).encode


def body_of(event_row: events.EventRow) -> bytes:
    """A delivery's body: ``{"type", "timestamp", "data"}`` (Standard Webhooks), ``data`` the event."""
    document = events.document(event_row)
    return _encode_compact({"type": event_row.type, "timestamp": document["created_at"], "data": document}).encode(
        "utf-8"
    )


@functools.lru_cache(maxsize=64)
def _signer(secret: str) -> Webhook:
    # One per secret: decoding the secret for each event cost as much as the signature.
    return Webhook(secret)


def signed_headers(
    message_id: str, body: bytes, secret: str, previous: str | None, sent_at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
    (one ``v1,`` signature per secret that signs: the current one, and the previous during a rotation)."""
    at = sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)  # naive times are UTC here
    signatures = [_signer(key).sign(message_id, at, body) for key in (secret, previous) if key]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class Outcome:
    """What one try got: a status code (None when no answer came), the time taken, an error."""

    status_code: int | None
    response_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Head(http.client.HTTPConnection):
    """http.client's own start of a request, kept instead of sent: the request line, ``Host`` (IDNA,
    IPv6 brackets, the port unless the scheme's) and ``Accept-Encoding``, its checks of the path included."""

    written = b""

    def send(self, data: Any) -> None:
        self.written += data


def _request_head(connection: http.client.HTTPConnection, path: str) -> bytes:
    """The start of every POST to ``path`` on ``connection``, as ``connection.request`` writes it."""
    probe = _Head(connection.host, connection.port)
    probe.default_port = connection.default_port  # 443 for HTTPS: no ":443" in Host
    probe.putrequest("POST", path)
    probe.endheaders()
    return probe.written[:-2]  # without the empty line that ends the headers


class Sender:
    """POSTs to one endpoint over one kept-alive connection; never follows a redirect.

    A timeout bounds each request; at most ``RESPONSE_READ_LIMIT`` of an answer is read. A connection
    the receiver closed is opened again for the next request.

    A request goes out in one write, its bytes those ``http.client``'s ``request`` writes (the request
    line, Host, Accept-Encoding, Content-Length, the headers given, Content-Type, User-Agent, the body):
    made from a start built once per endpoint, not header by header for each event, which cost the
    worker more CPU than the rest of a delivery. ``http.client`` still connects and reads the answer.
    """

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port
        self.https = parts.scheme == "https"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.head: bytes | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.connection = kind(self.host, self.port, timeout=self.timeout)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _request(self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> bytes:
        if self.head is None:
            self.head = _request_head(connection, self.path)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return b"%sContent-Length: %d\r\n%s%s%s" % (self.head, len(body), lines.encode("latin-1"), _FIXED, body)

    def post(self, body: bytes, headers: dict[str, str]) -> Outcome:
        """One POST of ``body``; a transport error is an outcome, never an exception."""
        started = time.monotonic()
        try:
            connection = self._connection()
            request = self._request(connection, body, headers)
            if connection.sock is None:
                connection.connect()
            connection.sock.sendall(request)
            response = http.client.HTTPResponse(connection.sock, method="POST")
            response.begin()
            response.read(RESPONSE_READ_LIMIT)
            status = response.status
            if response.will_close or not response.isclosed():
                self.close()  # closed by the receiver, or an answer longer than we read: start afresh
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            elapsed = int((time.monotonic() - started) * 1000)
            return Outcome(None, elapsed, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH])
        elapsed = int((time.monotonic() - started) * 1000)
        error = None
        if 300 <= status < 400:
            error = f"Answered {status}: redirects are not followed"
        elif not 200 <= status < 300:
            error = f"Answered {status}"
        return Outcome(status, elapsed, error)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST once to ``url`` (a connection of its own)."""
    sender = Sender(url, timeout)
    try:
        return sender.post(body, headers)
    finally:
        sender.close()


#: the User-Agent of every delivery
USER_AGENT = "DirectorySyncPortal-Webhooks/1"
#: the last headers of every delivery, and the empty line before the body
_FIXED = f"Content-Type: application/json\r\nUser-Agent: {USER_AGENT}\r\n\r\n".encode("ascii")


# ---------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class Claim:
    """An endpoint a worker owns until it lets go or its lease runs out."""

    id: int
    org_id: int
    owner: str


def _due(now: datetime) -> Any:
    """Endpoints with work now: enabled, not leased, not waiting for a retry, with events or resends waiting."""
    waiting = or_(
        WebhookEndpoint.last_seq
        < select(Organization.event_seq).where(Organization.id == WebhookEndpoint.org_id).scalar_subquery(),
        exists().where(WebhookDelivery.endpoint_id == WebhookEndpoint.id, WebhookDelivery.status == "pending"),
    )
    return and_(
        WebhookEndpoint.enabled.is_(True),
        or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
        or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
        waiting,
    )


def claim(now: datetime | None = None) -> Claim | None:
    """Take one endpoint with work for this worker (the caller commits), or None.

    A read first: a worker woken for nothing writes nothing (on SQLite a write would queue behind the
    SCIM writers). Then one UPDATE: on PostgreSQL the row is picked ``FOR UPDATE SKIP LOCKED``, so
    workers on several hosts take different endpoints; the UPDATE checks again that it is still free.
    """
    now = now or utcnow()
    if db.session.scalar(select(WebhookEndpoint.id).where(_due(now)).limit(1)) is None:
        return None
    owner = secrets.token_hex(8)
    picked = (
        select(WebhookEndpoint.id)
        .where(_due(now))
        .order_by(WebhookEndpoint.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == picked.scalar_subquery(), _due(now))
        .values(lease_until=now + lease_duration(), lease_owner=owner)
        .returning(WebhookEndpoint.id, WebhookEndpoint.org_id)
        .execution_options(synchronize_session=False)
    ).first()
    return Claim(row[0], row[1], owner) if row is not None else None


def _mine(claim_: Claim) -> Any:
    return and_(
        WebhookEndpoint.id == claim_.id, WebhookEndpoint.lease_owner == claim_.owner, WebhookEndpoint.enabled.is_(True)
    )


@dataclass(frozen=True)
class _Target:
    """What a claim needs of its endpoint, read once when it starts (changes apply from the next claim)."""

    url: str
    event_types: frozenset[str]
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    last_seq: int
    failures: int
    failing_since: datetime | None

    def signing(self, now: datetime) -> tuple[str, str | None]:
        """The secrets that sign at ``now``: the current one, and the previous during a rotation."""
        previous = self.previous_secret
        if previous and (self.previous_secret_until is None or self.previous_secret_until <= now):
            previous = None
        return self.secret, previous


def _target(claim_: Claim) -> _Target | None:
    endpoint = db.session.scalar(select(WebhookEndpoint).where(_mine(claim_)))
    if endpoint is None:
        return None
    return _Target(
        url=endpoint.url,
        event_types=frozenset(endpoint.event_types or []),
        secret=endpoint.secret,
        previous_secret=endpoint.previous_secret,
        previous_secret_until=endpoint.previous_secret_until,
        last_seq=endpoint.last_seq,
        failures=endpoint.failures,
        failing_since=endpoint.failing_since,
    )


def release(claim_: Claim) -> None:
    """Let the endpoint go (the caller commits)."""
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == claim_.id, WebhookEndpoint.lease_owner == claim_.owner)
        .values(lease_until=None, lease_owner=None, updated_at=WebhookEndpoint.updated_at)
        .execution_options(synchronize_session=False)
    )


def _send(sender: Sender, target: _Target, event_row: events.EventRow, now: datetime) -> Outcome:
    body = body_of(event_row)
    secret, previous = target.signing(now)
    return sender.post(body, signed_headers(events.webhook_id(event_row), body, secret, previous, now))


def _try_row(
    claim_: Claim, event_row: events.EventRow, attempt: int, outcome: Outcome, now: datetime
) -> dict[str, Any]:
    return {
        "org_id": claim_.org_id,
        "endpoint_id": claim_.id,
        "seq": event_row.seq,
        "event_type": event_row.type,
        "attempt": attempt,
        "status": "succeeded" if outcome.ok else "failed",
        "status_code": outcome.status_code,
        "response_ms": outcome.response_ms,
        "error": outcome.error,
        "resend": False,
        "created_at": now,
    }


_INSERT_TRIES = insert(WebhookDelivery.__table__)


def _save(claim_: Claim, tries: list[dict[str, Any]], cursor: int, now: datetime, *, succeeded: bool) -> bool:
    """Write the tries and move the cursor (and the lease on), in the caller's transaction; False when
    the endpoint is no longer this worker's (disabled, deleted, or taken over after the lease ran out)."""
    values: dict[str, Any] = {"last_seq": cursor, "lease_until": now + lease_duration()}
    if succeeded:
        values.update(failures=0, failing_since=None, next_attempt_at=None, last_success_at=now)
    result = db.session.execute(
        update(WebhookEndpoint)
        .where(_mine(claim_))
        .values(updated_at=WebhookEndpoint.updated_at, **values)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], result).rowcount:
        return False
    if tries:
        db.session.execute(_INSERT_TRIES, tries)
        tries.clear()
    return True


def _failed(claim_: Claim, target: _Target, cursor: int, outcome: Outcome, now: datetime) -> None:
    """Schedule the next try with backoff, or disable the endpoint after failing for ``disable_after``."""
    failures = target.failures + 1
    since = target.failing_since or now
    values: dict[str, Any] = {
        "last_seq": cursor,
        "failures": failures,
        "failing_since": since,
        "next_attempt_at": now + retry_delay(failures),
        "lease_until": None,
        "lease_owner": None,
        "updated_at": WebhookEndpoint.updated_at,
    }
    give_up = now - since >= disable_after()
    if give_up:
        reason = f"Failing since {since:%Y-%m-%d %H:%M} UTC ({failures} tries); last: {outcome.error}"
        values.update(enabled=False, disabled_reason=reason[:255])
    done = db.session.execute(
        update(WebhookEndpoint).where(_mine(claim_)).values(**values).execution_options(synchronize_session=False)
    )
    if give_up and cast(CursorResult[Any], done).rowcount:
        events.forget_subscriptions(claim_.org_id)
        _notify_disabled(claim_, target.url, since, outcome)


def webhook_admins(org_id: int) -> list[Admin]:
    """Active administrators who manage webhooks: the primary and those with the ``api_keys`` permission."""
    return list(
        db.session.scalars(
            select(Admin).where(
                Admin.org_id == org_id,
                Admin.active.is_(True),
                or_(Admin.role == "primary", Admin.perm_api_keys.is_(True)),
            )
        )
    )


def endpoint_path(endpoint_id: int) -> str:
    """The console address of an endpoint (the one place it is spelt for the core)."""
    return f"/settings/webhooks/{endpoint_id}"


def _notify_disabled(claim_: Claim, url: str, since: datetime, outcome: Outcome) -> None:
    notifications.send(
        claim_.org_id,
        webhook_admins(claim_.org_id),
        kind=DISABLED_KIND,
        group_key=f"webhook:{claim_.id}:disabled:{since:%Y%m%d%H%M}",
        title="A webhook endpoint was disabled",
        body=(
            f"{url} failed every delivery since {since:%Y-%m-%d %H:%M} UTC (last: {outcome.error}). "
            "Fix the receiver, then enable the endpoint: the events it missed follow in order."
        ),
        link=endpoint_path(claim_.id),
    )
    log.warning("webhook endpoint %s disabled after failing since %s", claim_.id, since)


def next_resend(endpoint_id: int) -> Select[WebhookDelivery]:
    """The endpoint's oldest pending resend (``ix_webhook_deliveries_pending`` holds only those)."""
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .order_by(WebhookDelivery.id)
        .limit(1)
    )


def _resend_pending(claim_: Claim, sender: Sender, target: _Target, clock: Callable[[], datetime]) -> None:
    """Send the endpoint's pending resends, oldest first, each outcome committed at once."""
    while True:
        pending = db.session.scalar(next_resend(claim_.id))
        if pending is None:
            return
        found = events.at(claim_.org_id, pending.seq)
        if found is None:
            outcome = Outcome(None, 0, "The event is no longer kept (retention)")
        else:
            outcome = _send(sender, target, found, clock())
        pending.status = "succeeded" if outcome.ok else "failed"
        pending.status_code, pending.response_ms, pending.error = (
            outcome.status_code,
            outcome.response_ms,
            outcome.error,
        )
        pending.created_at = clock()
        db.session.commit()


#: a claim commits its progress (the cursor and the tries) after this many delivered events, or this long
SAVE_EVERY_EVENTS = 50
SAVE_EVERY_SECONDS = 1.0


def deliver_claimed(claim_: Claim, clock: Callable[[], datetime] = utcnow) -> int:
    """Send the claimed endpoint's resends and next events in order, until done, a failure, or the budget.

    Events go one at a time, in ``seq`` order, over one kept-alive connection; the cursor moves past an
    event only after its 2xx. While events keep coming, the claim looks again every
    ``WEBHOOK_LINGER_SECONDS`` and lets go once a look finds none. Progress is committed every
    ``SAVE_EVERY_EVENTS`` events or ``SAVE_EVERY_SECONDS``, before such a wait, and at a failure: a worker
    that dies sends again at most what it delivered since its last commit (at least once, in order).
    Returns the events delivered.
    """
    started = time.monotonic()
    target = _target(claim_)
    if target is None:
        db.session.commit()
        return 0
    sender = Sender(target.url, _config("WEBHOOK_TIMEOUT_SECONDS", 10))
    sent, cursor = 0, target.last_seq
    tries: list[dict[str, Any]] = []
    saved_at, saved_cursor = time.monotonic(), cursor

    def save_progress(now: datetime, *, succeeded: bool = True) -> bool:
        """Commit the tries and the cursor; False when the endpoint is no longer this claim's."""
        nonlocal saved_at, saved_cursor
        if not _save(claim_, tries, cursor, now, succeeded=succeeded):
            db.session.rollback()
            return False
        db.session.commit()
        saved_at, saved_cursor = time.monotonic(), cursor
        return True

    try:
        _resend_pending(claim_, sender, target, clock)
        while sent < EVENTS_PER_CLAIM and time.monotonic() - started < CLAIM_BUDGET_SECONDS:
            batch = events.after(claim_.org_id, cursor, limit=200)
            for event_row in batch:
                if event_row.type not in target.event_types:
                    cursor = event_row.seq  # not one the endpoint takes: passed over
                    continue
                outcome = _send(sender, target, event_row, clock())
                now = clock()
                tries.append(_try_row(claim_, event_row, target.failures + 1, outcome, now))
                if not outcome.ok:
                    _save(claim_, tries, cursor, now, succeeded=sent > 0)
                    _failed(claim_, target, cursor, outcome, now)
                    db.session.commit()
                    log.info(
                        "webhook endpoint %s: event %s not delivered (%s)", claim_.id, event_row.seq, outcome.error
                    )
                    return sent
                cursor, sent = event_row.seq, sent + 1
                if target.failures or target.failing_since is not None:
                    target = replace(target, failures=0, failing_since=None)
                if len(tries) >= SAVE_EVERY_EVENTS or time.monotonic() - saved_at >= SAVE_EVERY_SECONDS:
                    if not save_progress(now):
                        return sent
            if len(batch) < 200:
                # Events keep coming during a sync: wait a moment for the next ones rather than let go and
                # claim again (a write that queues behind the SCIM writers, and a new connection each time).
                linger = _config("WEBHOOK_LINGER_SECONDS", 0.2)
                if not batch or linger <= 0:
                    break
                # No transaction stays open through the wait (on SQLite a reader holds back the WAL's
                # checkpoint), and what was delivered or passed over is saved first: a worker may stop in it.
                if cursor != saved_cursor or tries:
                    if not save_progress(clock(), succeeded=sent > 0 or target.failures == 0):
                        return sent
                else:
                    db.session.commit()  # only read: nothing to save
                time.sleep(linger)
        if cursor != saved_cursor or tries:
            _save(claim_, tries, cursor, clock(), succeeded=sent > 0 or target.failures == 0)
        release(claim_)
        db.session.commit()
        return sent
    finally:
        sender.close()


def deliver_due(clock: Callable[[], datetime] = utcnow) -> int:
    """Claim endpoints with work one at a time and deliver to each; returns the events delivered."""
    delivered = 0
    while True:
        claimed = claim(clock())
        db.session.commit()
        if claimed is None:
            return delivered
        delivered += deliver_claimed(claimed, clock)


def next_due_at() -> datetime | None:
    """When the earliest retry of an enabled endpoint is due (None when none waits for one)."""
    return db.session.scalar(
        select(func.min(WebhookEndpoint.next_attempt_at)).where(
            WebhookEndpoint.enabled.is_(True), WebhookEndpoint.next_attempt_at.is_not(None)
        )
    )


def prune_deliveries(cutoff: datetime, *, batch: int = events.PRUNE_BATCH) -> int:
    """Delete the delivery log's tries made before ``cutoff`` (not pending resends), committing per batch."""
    gone = 0
    while True:
        ids = list(
            db.session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.created_at < cutoff, WebhookDelivery.status != "pending")
                .order_by(WebhookDelivery.id)
                .limit(batch)
            )
        )
        if not ids:
            return gone
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        db.session.commit()
        gone += len(ids)
        if len(ids) < batch:
            return gone
