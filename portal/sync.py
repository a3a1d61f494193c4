"""Sync sources and their tokens, activation, and authentication of SCIM requests.

Tokens are random (256 bits), shown once, and stored as SHA-256 with a short
prefix for display: a fast hash is right for a high-entropy secret and lets
every SCIM request check it cheaply.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from . import audit
from .actors import Actor
from .errors import Forbidden, Invalid, NotFound
from .extensions import db
from .models import PROVIDER_LABELS, PROVIDERS, SyncSource, utcnow

TOKEN_PREFIX_LEN = 8


class AuthFailure(Exception):
    """A SCIM request's credentials are refused; ``reason`` is missing, invalid, expired or inactive."""

    def __init__(self, reason: str, source: SyncSource | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token(source: SyncSource) -> str:
    token = "dsp_" + secrets.token_urlsafe(32)
    now = utcnow()
    source.token_hash = hash_token(token)
    source.token_prefix = token[:TOKEN_PREFIX_LEN]
    source.token_created_at = now
    source.token_expires_at = now + timedelta(days=current_app.config.get("TOKEN_LIFETIME_DAYS", 365))
    source.expired_notice_at = None
    return token


def get_source(org_id: int, source_id: int, *, include_deleted: bool = False) -> SyncSource:
    """A sync source of the organization, or NotFound (deleted ones are gone for the console)."""
    source = db.session.get(SyncSource, source_id)
    if source is None or source.org_id != org_id or (source.is_deleted and not include_deleted):
        raise NotFound("No such sync source")
    return source


def list_sources(org_id: int) -> list[SyncSource]:
    """The organization's sync sources that are not deleted, oldest first."""
    return list(
        db.session.scalars(
            select(SyncSource)
            .where(SyncSource.org_id == org_id, SyncSource.deleted_at.is_(None))
            .order_by(SyncSource.created_at, SyncSource.id)
        )
    )


def create_source(org_id: int, provider: str, actor: Actor, *, name: str | None = None) -> tuple[SyncSource, str]:
    """Create a draft sync source with a fresh token; returns the source and the token (shown once)."""
    if provider not in PROVIDERS:
        raise Invalid(f"Choose one of: {', '.join(PROVIDER_LABELS.values())}", field="provider")
    name = (name or "").strip() or PROVIDER_LABELS[provider]
    source = SyncSource(
        org_id=org_id, provider=provider, name=name, status="draft", workforce_rules=[],
        deletion_rule="suspend", notified_admin_ids=[], match_attributes=["email"],
        created_by_id=actor.admin.id if actor.admin is not None else None,
    )
    token = _new_token(source)
    db.session.add(source)
    db.session.flush()
    audit.record(actor, org_id, "Add sync source", target_type="sync_source", target_id=source.public_id,
                 target_name=source.name, changes={"provider": [None, source.provider_label], "status": [None, "draft"]})
    return source, token


def refresh_token(org_id: int, source_id: int, actor: Actor) -> str:
    """Issue a new token; the old one stops working at once. Returns the new token."""
    source = get_source(org_id, source_id)
    old_prefix = source.token_prefix
    token = _new_token(source)
    db.session.flush()
    audit.record(actor, org_id, "Refresh token", target_type="sync_source", target_id=source.public_id,
                 target_name=source.name, changes={"token": [f"{old_prefix}…", f"{source.token_prefix}…"]})
    return token


def set_active(org_id: int, source_id: int, active: bool, actor: Actor) -> SyncSource:
    """Activate or deactivate a sync source (the seed's Activate / Deactivate)."""
    source = get_source(org_id, source_id)
    before = source.status
    source.status = "active" if active else "inactive"
    db.session.flush()
    if before != source.status:
        audit.record(actor, org_id, "Activate/Deactivate or Stop Sync Settings", target_type="sync_source",
                     target_id=source.public_id, target_name=source.name, changes={"status": [before, source.status]})
    return source


def authenticate(public_id: str, authorization: str | None, now: datetime | None = None) -> SyncSource:
    """The sync source a SCIM request may act as, or AuthFailure.

    The token is compared by hash in constant time against the source named in
    the URL, so a token of another source or organization never matches.
    """
    source = db.session.scalar(select(SyncSource).where(SyncSource.public_id == public_id))
    if source is None or source.is_deleted:
        raise NotFound("No such sync source")
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthFailure("missing", source)
    if source.token_hash is None or not hmac.compare_digest(hash_token(token), source.token_hash):
        raise AuthFailure("invalid", source)
    if source.token_expires_at is not None and source.token_expires_at <= (now or utcnow()):
        raise AuthFailure("expired", source)
    if source.status != "active":
        raise Forbidden("sync source is not activated")
    return source
