"""API keys of the read API: create (the secret shown once), revoke, authenticate a bearer key.

A key reads ``dsp_<prefix>_<secret>``: ``dsp_`` says what it is (a secret scanner can match it), the
prefix (8 hex characters) is listed in the console so an administrator can tell the keys apart, and
the secret is 32 random bytes. Only the SHA-256 of the whole key is stored (see ``ApiKey.key_hash``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from portal.core import admin_log
from portal.core.actors import Actor
from portal.core.errors import Invalid, NotFound
from portal.core.text import clean_text
from portal.extensions import db
from portal.models import API_KEY_SCOPE_LABELS, API_KEY_SCOPES, ApiKey, utcnow

KEY_START = "dsp_"
#: the shape of every key this module makes: anything else is refused before the database is asked
KEY_PATTERN = re.compile(r"dsp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
#: expiry choice -> days (None: never expires), in the order the console offers them
EXPIRY_DAYS: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "never": None}
EXPIRY_LABELS = {"30": "30 days", "90": "90 days", "365": "1 year", "never": "Never"}
#: a key's last use is written at most once in this many seconds: reads stay reads under load
LAST_USED_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret, which exists only in this object: the database keeps its hash."""

    key: ApiKey
    secret: str


class ApiKeyRefused(Exception):
    """A bearer key the read API refuses; ``reason`` is missing, invalid, expired or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def hash_key(secret: str) -> str:
    """The stored form of a key: SHA-256 (the key is 256 random bits, so nothing slower is needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> tuple[str, str]:
    """A fresh key and its display prefix (``dsp_`` and 8 hex characters)."""
    prefix = KEY_START + secrets.token_hex(4)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _clean_scopes(scopes: list[str]) -> list[str]:
    chosen = set(scopes)
    unknown = chosen - set(API_KEY_SCOPES)
    if unknown:
        raise Invalid(f"Unknown scope {sorted(unknown)[0]!r}", field="scopes")
    if not chosen:
        raise Invalid("Choose at least one scope", field="scopes")
    return [scope for scope in API_KEY_SCOPES if scope in chosen]


def scope_labels(scopes: list[str]) -> list[str]:
    """The console's names of ``scopes``, in the order of API_KEY_SCOPES."""
    return [API_KEY_SCOPE_LABELS[s] for s in API_KEY_SCOPES if s in scopes]


def create_key(org_id: int, name: str, scopes: list[str], expiry: str, actor: Actor) -> CreatedKey:
    """Create a key of the organization; the secret is returned once and never stored."""
    clean_name = clean_text(name, ApiKey.name, label="The name", field="name")
    if not clean_name:
        raise Invalid("Enter a name for the key", field="name")
    chosen = _clean_scopes(scopes)
    if expiry not in EXPIRY_DAYS:
        raise Invalid("Choose when the key expires", field="expiry")
    days = EXPIRY_DAYS[expiry]
    now = utcnow()
    prefix, secret = _new_secret()
    key = ApiKey(
        org_id=org_id,
        name=clean_name,
        prefix=prefix,
        key_hash=hash_key(secret),
        scopes=chosen,
        created_by_admin_id=actor.admin.id if actor.admin is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )
    db.session.add(key)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Create API key",
        target_type="api_key",
        target_id=key.id,
        target_name=key.name,
        changes=admin_log.diff(
            {},
            {
                "name": key.name,
                "prefix": key.prefix,
                "scopes": scope_labels(chosen),
                "expires": key.expires_at.strftime("%Y-%m-%d %H:%M UTC") if key.expires_at else "Never",
            },
        ),
    )
    return CreatedKey(key, secret)


def get_key(org_id: int, key_id: int) -> ApiKey:
    """A key of the organization, or NotFound (another organization's key is not found either)."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.org_id != org_id:
        raise NotFound("No such API key")
    return key


def revoke_key(org_id: int, key_id: int, actor: Actor) -> ApiKey:
    """Revoke a key: from now on the read API answers it 401."""
    key = get_key(org_id, key_id)
    if key.revoked_at is not None:
        raise Invalid("This key is already revoked")
    key.revoked_at = utcnow()
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Revoke API key",
        target_type="api_key",
        target_id=key.id,
        target_name=key.name,
        changes={"status": ["Active", "Revoked"]},
        summary=f"Revoked the API key {key.prefix}",
    )
    return key


def list_keys(org_id: int) -> list[ApiKey]:
    """The organization's keys, newest first, revoked ones included (they show as revoked)."""
    return list(
        db.session.scalars(
            select(ApiKey)
            .options(joinedload(ApiKey.created_by))
            .where(ApiKey.org_id == org_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def authenticate(header: str | None, now: datetime) -> ApiKey:
    """The key an ``Authorization: Bearer dsp_...`` header carries, or ApiKeyRefused with the reason."""
    scheme, _, value = (header or "").strip().partition(" ")
    if not header or scheme.lower() != "bearer":
        raise ApiKeyRefused("missing")
    value = value.strip()
    if not KEY_PATTERN.fullmatch(value):  # not one of ours: no lookup at all
        raise ApiKeyRefused("invalid")
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(value)))
    if key is None:
        raise ApiKeyRefused("invalid")
    if key.revoked_at is not None:
        raise ApiKeyRefused("revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyRefused("expired")
    return key


def note_used(key_id: int, now: datetime) -> bool:
    """Record that a key was used, at most once per ``LAST_USED_INTERVAL``; True when a row was written."""
    result = db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_INTERVAL),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
