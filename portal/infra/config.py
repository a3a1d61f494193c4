"""Settings read from the environment.

Every setting has a development default except SECRET_KEY in production:
a portal that signs sessions with a guessable key must not start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment does not describe a startable portal."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


#: the shortest SECRET_KEY production accepts, in bytes (UTF-8): 256 bits, as ``secrets.token_hex(32)`` gives
MIN_SECRET_KEY_BYTES = 32


def _days(name: str, default: int) -> int:
    """A retention in whole days from the environment (0 keeps for ever)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number of days (0 keeps for ever), not {raw!r}")
    return int(raw)


def _secret_key(instance_path: Path, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key and production and len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        # A short key can be guessed offline from one signed session cookie, and then any session forged.
        raise ConfigError(
            f"SECRET_KEY is {len(key.encode('utf-8'))} bytes long; PORTAL_ENV=production needs at least "
            f"{MIN_SECRET_KEY_BYTES} random bytes. Make one with: "
            "python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when PORTAL_ENV=production")
    # Development: one key per checkout, kept so sessions survive restarts.
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(instance_path: Path) -> dict:
    """Return the Flask configuration built from the environment."""
    production = os.environ.get("PORTAL_ENV", "development") == "production"
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}"
    public_base_url = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    return {
        "PORTAL_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance_path, production),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_BASE_URL": public_base_url,
        "PROXY_HOPS": int(os.environ.get("PROXY_HOPS", "0") or 0),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _flag(os.environ.get("RATELIMIT_ENABLED"), True),
        # Retry-After on every 429, so clients (and identity providers) know when to come back.
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "SCIM_RATE_LIMIT": os.environ.get("SCIM_RATE_LIMIT", "100 per second"),
        "SCIM_AUTH_FAILURE_LIMIT": os.environ.get("SCIM_AUTH_FAILURE_LIMIT", "30 per minute"),
        # Read API (/api/v1/) requests per API key.
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "20 per second"),
        # Operations one SCIM PATCH may hold; more is 400 tooMany (published in /ServiceProviderConfig).
        "SCIM_MAX_PATCH_OPERATIONS": int(os.environ.get("SCIM_MAX_PATCH_OPERATIONS", "10000") or 10000),
        # A source's last request/status is rewritten at most this often for a repeated outcome
        # (None: 1 s, 0 under TESTING).
        "SCIM_NOTE_INTERVAL": float(os.environ["SCIM_NOTE_INTERVAL"]) if os.environ.get("SCIM_NOTE_INTERVAL") else None,
        # A SCIM token accepted once is trusted this long per process (None: 1 s, 0 under TESTING).
        "SCIM_AUTH_CACHE_SECONDS": (
            float(os.environ["SCIM_AUTH_CACHE_SECONDS"]) if os.environ.get("SCIM_AUTH_CACHE_SECONDS") else None
        ),
        # The time budget of a SCIM list or search's statements, in ms (0: none); past it the answer is 503.
        "SCIM_QUERY_TIMEOUT_MS": int(os.environ.get("SCIM_QUERY_TIMEOUT_MS", "") or 2000),
        # SQLite writers of all workers queue on a file lock instead of sleeping in SQLite's busy handler.
        "SQLITE_WRITE_QUEUE": os.environ.get("SQLITE_WRITE_QUEUE", "true").lower() not in ("0", "false", "no"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        "SMTP_URL": os.environ.get("SMTP_URL", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Directory Sync Portal <no-reply@localhost>"),
        # The job queue (portal.jobs): empty is a SQLite file under instance/, redis://... serves several hosts.
        "JOBS_URL": os.environ.get("JOBS_URL", ""),
        "JOBS_NAME": os.environ.get("JOBS_NAME", "portal"),
        "JOBS_WORKERS": int(os.environ.get("JOBS_WORKERS", "2") or 2),
        # The worker yields the CPU to the web processes on a shared host: an identity provider's requests
        # wait on it, a webhook receiver or a mail a moment later does not.
        "JOBS_NICE": int(os.environ.get("JOBS_NICE", "10") or 0),
        # An email the mail server did not take is tried again after 30 s, 60 s, ... (at most an hour apart),
        # until MAIL_RETRY_HOURS after it was queued.
        "MAIL_RETRY_BASE_SECONDS": float(os.environ.get("MAIL_RETRY_BASE_SECONDS", "30") or 30),
        "MAIL_RETRY_MAX_SECONDS": float(os.environ.get("MAIL_RETRY_MAX_SECONDS", "3600") or 3600),
        "MAIL_RETRY_HOURS": float(os.environ.get("MAIL_RETRY_HOURS", "24") or 24),
        # Webhooks (portal.core.webhooks): a failed delivery is tried again after 10 s, 20 s, ... (at most an
        # hour apart); an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled. A worker owns an endpoint
        # for WEBHOOK_LEASE_SECONDS (one that dies mid-delivery hands it over after that); each request waits
        # WEBHOOK_TIMEOUT_SECONDS at most; the worker looks for events every WEBHOOK_POLL_SECONDS.
        "WEBHOOK_RETRY_BASE_SECONDS": float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "10") or 10),
        "WEBHOOK_RETRY_MAX_SECONDS": float(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "3600") or 3600),
        "WEBHOOK_DISABLE_AFTER_HOURS": float(os.environ.get("WEBHOOK_DISABLE_AFTER_HOURS", "72") or 72),
        "WEBHOOK_LEASE_SECONDS": float(os.environ.get("WEBHOOK_LEASE_SECONDS", "60") or 60),
        "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10") or 10),
        "WEBHOOK_POLL_SECONDS": int(os.environ.get("WEBHOOK_POLL_SECONDS", "5") or 5),
        # A claim that sent events looks for more this long after, before it lets the endpoint go.
        "WEBHOOK_LINGER_SECONDS": float(os.environ.get("WEBHOOK_LINGER_SECONDS", "0.2") or 0),
        "TOKEN_LIFETIME_DAYS": int(os.environ.get("TOKEN_LIFETIME_DAYS", "365")),
        # Retention (portal.core.retention, a daily job): days kept, 0 keeps for ever.
        "SYNC_LOG_RETENTION_DAYS": _days("SYNC_LOG_RETENTION_DAYS", 180),
        "NOTIFICATION_RETENTION_DAYS": _days("NOTIFICATION_RETENTION_DAYS", 90),
        "ADMIN_LOG_RETENTION_DAYS": _days("ADMIN_LOG_RETENTION_DAYS", 365),
        # /metrics (portal.infra.metrics): the addresses and networks it answers, or a bearer token.
        "METRICS_ALLOW": os.environ.get("METRICS_ALLOW", "127.0.0.1,::1"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Error reports (portal.infra.sentry); empty: sentry_sdk is not even imported.
        "SENTRY_DSN": os.environ.get("SENTRY_DSN", "").strip(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(os.environ.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag(os.environ.get("SESSION_COOKIE_SECURE"), production),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # CSV member imports wait here between preview and confirm (portal.views.bulk); empty: the instance
        # folder's member-imports/. Several hosts without sticky sessions share one folder (or re-upload).
        "MEMBER_IMPORT_FOLDER": os.environ.get("MEMBER_IMPORT_FOLDER", ""),
        # A server can drop idle connections (restart, failover); a SQLite file cannot, so it is not pinged.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database_url.startswith("sqlite")},
    }
