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


def _secret_key(instance_path: Path, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
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
        # A source's last request/status is rewritten at most this often for a repeated outcome
        # (None: 1 s, 0 under TESTING).
        "SCIM_NOTE_INTERVAL": float(os.environ["SCIM_NOTE_INTERVAL"]) if os.environ.get("SCIM_NOTE_INTERVAL") else None,
        # A SCIM token accepted once is trusted this long per process (None: 1 s, 0 under TESTING).
        "SCIM_AUTH_CACHE_SECONDS": (
            float(os.environ["SCIM_AUTH_CACHE_SECONDS"]) if os.environ.get("SCIM_AUTH_CACHE_SECONDS") else None
        ),
        # SQLite writers of all workers queue on a file lock instead of sleeping in SQLite's busy handler.
        "SQLITE_WRITE_QUEUE": os.environ.get("SQLITE_WRITE_QUEUE", "true").lower() not in ("0", "false", "no"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        "SMTP_URL": os.environ.get("SMTP_URL", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Directory Sync Portal <no-reply@localhost>"),
        "TOKEN_LIFETIME_DAYS": int(os.environ.get("TOKEN_LIFETIME_DAYS", "365")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(os.environ.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag(os.environ.get("SESSION_COOKIE_SECURE"), production),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # A server can drop idle connections (restart, failover); a SQLite file cannot, so it is not pinged.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database_url.startswith("sqlite")},
    }
