"""Sync sources and their tokens, activation, and authentication of SCIM requests.

Tokens are random (256 bits), shown once, and stored as SHA-256 with a short
prefix for display: a fast hash is right for a high-entropy secret and lets
every SCIM request check it cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from portal.core import admin_log, events, notifications, sync_log
from portal.core.actors import Actor
from portal.core.errors import Forbidden, Invalid, NotFound
from portal.core.text import clean_text, text_problem
from portal.extensions import db
from portal.models import (
    DELETION_RULES,
    MATCH_ATTRIBUTE_LABELS,
    MATCH_ATTRIBUTES,
    MAX_WORKFORCE_RULES,
    PROVIDER_LABELS,
    PROVIDERS,
    Admin,
    Department,
    Member,
    SyncSource,
    UserGroup,
    WorkforceType,
    norm,
    utcnow,
)

TOKEN_PREFIX_LEN = 8

DELETION_RULE_LABELS = {"suspend": "Suspend member", "delete": "Delete member"}


#: the identity rule's label, as the console and the Admin log name it
USERNAME_IS_EMAIL_LABEL = "userName must equal the work email"
#: the providers whose sources have that rule unless the administrator turns it off: JumpCloud, as the
#: seed says ("userName and Emails(type=work).Value should use the same value"); Okta, Entra ID and
#: generic clients send a login, a UPN or a username that need not be the email
USERNAME_IS_EMAIL_BY_DEFAULT = frozenset({"jumpcloud"})


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What a SCIM request needs of its authenticated source, read in one SQL statement.

    Loading the ORM object on every request cost more than the lookup itself;
    the SCIM door and ``portal.core.provisioning`` read only these values, and
    anything that changes the source loads it with ``load_source``.
    """

    id: int
    org_id: int
    public_id: str
    name: str
    provider: str
    status: str
    deletion_rule: str
    match_attributes: list[str]
    workforce_rules: list[dict[str, Any]]
    is_deleted: bool = False
    #: the identity rule "userName must equal the work email"
    username_is_email: bool = False


#: what the SCIM domain operations accept: the ORM source or its request-time snapshot
Source: TypeAlias = SyncSource | SourceRef

_sources = SyncSource.__table__
_AUTH_SELECT = select(
    _sources.c.id,
    _sources.c.org_id,
    _sources.c.public_id,
    _sources.c.name,
    _sources.c.provider,
    _sources.c.status,
    _sources.c.deletion_rule,
    _sources.c.match_attributes,
    _sources.c.workforce_rules,
    _sources.c.username_is_email,
    _sources.c.deleted_at,
    _sources.c.token_hash,
    _sources.c.token_expires_at,
).where(_sources.c.public_id == bindparam("public_id"))


def load_source(source: Source) -> SyncSource:
    """The ORM object of a source (for the rare paths that change it or notify about it)."""
    if isinstance(source, SyncSource):
        return source
    loaded = db.session.get(SyncSource, source.id)
    if loaded is None:  # deleted for good between the request's start and now
        raise NotFound("No such sync source")
    return loaded


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
    # The name is the subject of the source's failure notifications: no control character (CR/LF) may
    # reach a mail header, from the console or the CLI.
    name = clean_text(name, SyncSource.name, label="Sync source name", field="name") or PROVIDER_LABELS[provider]
    source = SyncSource(
        org_id=org_id,
        provider=provider,
        name=name,
        status="draft",
        workforce_rules=[],
        deletion_rule="suspend",
        # The administrator who sets a source up hears of its failures unless they untick it (issue 13).
        notified_admin_ids=[actor.admin.id] if actor.admin is not None else [],
        match_attributes=["email"],
        username_is_email=provider in USERNAME_IS_EMAIL_BY_DEFAULT,
        created_by_id=actor.admin.id if actor.admin is not None else None,
    )
    token = _new_token(source)
    db.session.add(source)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Add sync source",
        target_type="sync_source",
        target_id=source.public_id,
        target_name=source.name,
        changes={"provider": [None, source.provider_label], "status": [None, "draft"]},
    )
    return source, token


def reusable_draft(org_id: int, provider: str, admin_id: int | None) -> SyncSource | None:
    """The draft of ``provider`` this administrator began and left, which choosing the provider again goes on
    with (the newest), rather than a second identical draft; None when there is none."""
    if admin_id is None:
        return None
    return db.session.scalar(
        select(SyncSource)
        .where(
            SyncSource.org_id == org_id,
            SyncSource.provider == provider,
            SyncSource.status == "draft",
            SyncSource.deleted_at.is_(None),
            SyncSource.created_by_id == admin_id,
        )
        .order_by(SyncSource.created_at.desc(), SyncSource.id.desc())
        .limit(1)
    )


def keep_wizard_state(source: SyncSource, state: dict[str, Any] | None) -> None:
    """Keep the wizard's entries not yet saved on the source (None: forget them); SCIM never reads them.

    On the source rather than in a session cookie, so the setup continues in another browser. Not an
    Admin log entry: nothing of the source's configuration changed until Save.
    """
    # A Core UPDATE that names updated_at: the ORM's onupdate would move "Last changed" for nothing saved.
    db.session.execute(
        update(SyncSource)
        .where(SyncSource.id == source.id)
        .values(wizard_state=dict(state) if state is not None else None, updated_at=SyncSource.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(source, ["wizard_state"])


def refresh_token(org_id: int, source_id: int, actor: Actor) -> str:
    """Issue a new token; the old one stops working at once. Returns the new token."""
    source = get_source(org_id, source_id)
    old_prefix = source.token_prefix
    token = _new_token(source)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Refresh token",
        target_type="sync_source",
        target_id=source.public_id,
        target_name=source.name,
        changes={"token": [f"{old_prefix}…", f"{source.token_prefix}…"]},
    )
    return token


def set_active(org_id: int, source_id: int, active: bool, actor: Actor) -> SyncSource:
    """Activate or deactivate a sync source (the seed's Activate / Deactivate)."""
    source = get_source(org_id, source_id)
    before = source.status
    source.status = "active" if active else "inactive"
    if active and before != "active":
        _clear_failure(source)
    db.session.flush()
    if before != source.status:
        admin_log.record(
            actor,
            org_id,
            "Activate/Deactivate or Stop Sync Settings",
            target_type="sync_source",
            target_id=source.public_id,
            target_name=source.name,
            changes={"status": [before, source.status]},
        )
    return source


def _clear_failure(source: SyncSource) -> None:
    """Forget the outcome of the last request, so the card waits for the next one instead of "Failing".

    Before activation every request was refused ("sync source is not activated"): that outcome
    says nothing of the source as it is now. The Sync log keeps the failure, and the card still
    shows it as the last failure. This process's memory of the outcome goes too, so the next
    request is written even when it fails the same way (``_noted_recently``).
    """
    if source.last_status is not None and source.last_status >= 400:
        source.last_status = None
        source.last_error = None
    current_app.extensions.get("sync_noted", {}).pop(source.id, None)


def _workforce_types_by_id(org_id: int) -> dict[int, WorkforceType]:
    return {wt.id: wt for wt in db.session.scalars(select(WorkforceType).where(WorkforceType.org_id == org_id))}


def _check_rules(org_id: int, rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The valid rules and every problem, keyed ``workforce_rules[.<row>.<value|workforce_type_id>]``.

    Rules: 15 at most, a value and a workforce type each, values unique (any case).
    A rule names its workforce type by ``workforce_type_id`` or by ``workforce_type``
    (its name); a row left entirely empty is no rule.
    """
    types = _workforce_types_by_id(org_id)
    by_name = {norm(wt.name): wt for wt in types.values()}
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    filled = 0
    for row, rule in enumerate(rules):
        value = str(rule.get("value") or "").strip()
        type_id, type_name = rule.get("workforce_type_id"), str(rule.get("workforce_type") or "").strip()
        if not value and not type_id and not type_name:
            continue
        filled += 1
        type_text = str(type_id or "")
        wt = types.get(int(type_text)) if type_text.isdigit() else by_name.get(norm(type_name))
        if not value:
            errors[f"workforce_rules.{row}.value"] = "Enter the employee type value of each rule"
        elif (problem := text_problem(value, label="The employee type value")) is not None:
            errors[f"workforce_rules.{row}.value"] = problem
        elif norm(value) in seen:
            errors[f"workforce_rules.{row}.value"] = f"The value {value!r} has two rules"
        seen.add(norm(value))
        if wt is None:
            errors[f"workforce_rules.{row}.workforce_type_id"] = (
                f"Choose a workforce type of this organization for {value!r}"
                if value
                else "Choose a workforce type of this organization"
            )
        elif not errors:
            cleaned.append({"value": value, "workforce_type_id": wt.id})
    if filled > MAX_WORKFORCE_RULES:
        errors = {"workforce_rules": f"You can configure {MAX_WORKFORCE_RULES} sync rules at most", **errors}
    return cleaned, errors


def workforce_rule_errors(org_id: int, rules: list[dict[str, Any]]) -> dict[str, str]:
    """Every problem of a workforce rule list, by field, for a form to show beside each row ({} when valid)."""
    return _check_rules(org_id, rules)[1]


def _clean_rules(org_id: int, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated workforce rules, or Invalid naming the first problem."""
    cleaned, errors = _check_rules(org_id, rules)
    if errors:
        raise Invalid(next(iter(errors.values())), field="workforce_rules")
    return cleaned


def _source_settings(source: SyncSource) -> dict[str, Any]:
    """The configurable settings in the words the admin log shows."""
    types = _workforce_types_by_id(source.org_id)
    return {
        "name": source.name,
        "workforce_rules": [
            f"{r['value']} = {types[r['workforce_type_id']].name if r['workforce_type_id'] in types else '?'}"
            for r in source.workforce_rules or []
        ],
        "deletion_rule": DELETION_RULE_LABELS.get(source.deletion_rule, source.deletion_rule),
        # Emails, not ids: the admin log is read by people, and stays readable after an admin leaves.
        "notified_admins": list(
            db.session.scalars(
                select(Admin.email).where(Admin.id.in_(source.notified_admin_ids or [])).order_by(Admin.email_norm)
            )
        )
        if source.notified_admin_ids
        else [],
        "match_attributes": [MATCH_ATTRIBUTE_LABELS[a] for a in source.match_attributes or []],
        USERNAME_IS_EMAIL_LABEL: "On" if source.username_is_email else "Off",
    }


def configure_source(
    org_id: int,
    source_id: int,
    actor: Actor,
    *,
    name: str | None = None,
    workforce_rules: list[dict[str, Any]] | None = None,
    deletion_rule: str | None = None,
    notified_admin_ids: list[int] | None = None,
    match_attributes: list[str] | None = None,
    username_is_email: bool | None = None,
) -> SyncSource:
    """Change a source's settings (None leaves one unchanged); one "Edit sync configurations" entry with the diff."""
    source = get_source(org_id, source_id)
    before = _source_settings(source)
    if name is not None:
        # The name is the subject of every failure notification: no line break may reach a mail header.
        name = clean_text(name, SyncSource.name, label="Sync source name", field="name") or ""
        if not name:
            raise Invalid("Enter a name for the sync source", field="name")
        source.name = name
    if workforce_rules is not None:
        source.workforce_rules = _clean_rules(org_id, workforce_rules)
    if deletion_rule is not None:
        if deletion_rule not in DELETION_RULES:
            raise Invalid("Choose Suspend member or Delete member", field="deletion_rule")
        source.deletion_rule = deletion_rule
    if notified_admin_ids is not None:
        ids = sorted({int(i) for i in notified_admin_ids})
        found = (
            set(db.session.scalars(select(Admin.id).where(Admin.org_id == org_id, Admin.id.in_(ids)))) if ids else set()
        )
        if found != set(ids):
            raise Invalid("Choose administrators of this organization", field="notified_admin_ids")
        source.notified_admin_ids = ids
    if match_attributes is not None:
        unknown = [a for a in match_attributes if a not in MATCH_ATTRIBUTES]
        if unknown:
            raise Invalid(f"Unknown attribute for identifying users: {unknown[0]}", field="match_attributes")
        source.match_attributes = [a for a in MATCH_ATTRIBUTES if a in match_attributes]
    if username_is_email is not None:
        source.username_is_email = username_is_email
    db.session.flush()
    changes = admin_log.diff(before, _source_settings(source))
    if changes:
        admin_log.record(
            actor,
            org_id,
            "Edit sync configurations",
            target_type="sync_source",
            target_id=source.public_id,
            target_name=source.name,
            changes=changes,
        )
    return source


def workforce_type_for(source: Source, user_type: str | None) -> WorkforceType | None:
    """The workforce type the source's rules map a SCIM ``userType`` to (value matched in any case)."""
    if not user_type:
        return None
    wanted = norm(user_type)
    for rule in source.workforce_rules or []:
        if norm(rule.get("value")) == wanted:
            wt = db.session.get(WorkforceType, rule.get("workforce_type_id"))
            if wt is not None and wt.org_id == source.org_id:
                return wt
    return None


def delete_source(org_id: int, source_id: int, actor: Actor) -> SyncSource:
    """Delete a sync source for good: its token dies, its logs keep naming it, and what it managed stays.

    Its members, user groups and departments become Admin Console ones (data source NULL), as a
    member the Suspend deletion rule unlinks does: no source is left to change them, so the console
    must be able to edit, suspend and delete them. The Admin log entry counts them.
    """
    source = get_source(org_id, source_id)
    before = source.status
    now = utcnow()
    source.deleted_at = now
    source.status = "inactive"
    source.token_hash = None
    db.session.flush()
    released = _release_managed(org_id, source.id, now, actor)
    admin_log.record(
        actor,
        org_id,
        "Delete sync source",
        target_type="sync_source",
        target_id=source.public_id,
        target_name=source.name,
        changes={"status": [before, "deleted"]},
        summary=_released_summary(released),
    )
    return source


#: what a deleted source hands to the Admin Console, in the words of the Admin log: (singular, plural)
_RELEASED_KINDS = {
    "members": ("member", "members"),
    "user_groups": ("user group", "user groups"),
    "departments": ("department", "departments"),
}


def _release_managed(org_id: int, source_id: int, now: datetime, actor: Actor) -> dict[str, int]:
    """Give the source's members, user groups and departments the Admin Console as data source; counts by table.

    One UPDATE per table: a source may have managed 100,000 members. Each object changed gets an
    ``<object>.updated`` event whose changed field is ``source``, all in one INSERT. A member's and a group's version
    (their SCIM ETag) and modification time move, as any change of theirs does. These stay Core
    statements here rather than calls to ``members``/``groups``: those import ``fields``, which imports
    this module.
    """
    released: dict[str, int] = {}
    changes: list[events.Change] = []
    for model, kind in ((Member, "member"), (UserGroup, "group"), (Department, "department")):
        table = model.__table__
        values: dict[str, Any] = {"source_id": None, "updated_at": now}
        if "version" in table.c:
            values["version"] = table.c.version + 1
        # RETURNING has no order on PostgreSQL: sorted, the events come in one order on every database.
        public_ids = sorted(
            db.session.execute(
                update(table)
                .where(table.c.org_id == org_id, table.c.source_id == source_id)
                .values(**values)
                .returning(table.c.public_id)
            ).scalars()
        )
        released[table.name] = len(public_ids)
        changes.extend(events.Change(f"{kind}.updated", kind, p, {"source": None}, ["source"]) for p in public_ids)
    events.record_many(org_id, actor, changes)
    # Rows of these tables already loaded in this session would still name the source.
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, (Member, UserGroup, Department)):
            db.session.expire(loaded)
    return released


def _released_summary(released: dict[str, int]) -> str | None:
    """ "3 members and 1 user group now have the Admin Console as data source", or None when there were none."""
    parts = [f"{count} {_RELEASED_KINDS[table][0 if count == 1 else 1]}" for table, count in released.items() if count]
    if not parts:
        return None
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    verb = "now has" if len(parts) == 1 and parts[0].startswith("1 ") else "now have"
    return f"{listed} {verb} the Admin Console as data source"


def members_synced(org_id: int, source_ids: list[int]) -> dict[int, int]:
    """Members per sync source, in one grouped query."""
    if not source_ids:
        return {}
    rows = db.session.execute(
        select(Member.source_id, func.count())
        .where(Member.org_id == org_id, Member.source_id.in_(source_ids))
        .group_by(Member.source_id)
    ).all()
    return {source_id: count for source_id, count in rows if source_id is not None}


def connection_state(source: SyncSource) -> str:
    """``waiting`` before the first request (and after an activation cleared a failure), then
    ``connected`` or ``failing`` by the last one.

    Only refused credentials, a denied source and server errors count as failing: a
    409 on one user is a problem of that user, the connection itself works.
    """
    if source.last_request_at is None or source.last_status is None:
        return "waiting"
    status = source.last_status or 0
    if status in (401, 403) or status >= 500:
        return "failing"
    return "connected"


#: where the SCIM door serves a source: ``{root}{SCIM_PATH}/{public id}``
SCIM_PATH = "/scim/v2"

NO_BASE_URL = "PUBLIC_BASE_URL is not set and no base URL was given, so the SCIM URL is unknown"


def check_base_url(text: str) -> str:
    """An external root URL given by an operator, checked: http(s), a host, no query or fragment; no trailing slash."""
    text = (text or "").strip()
    try:
        url = urlsplit(text)
        # ``url.port`` raises ValueError on a port that is no number or out of range.
        ok = url.scheme in ("http", "https") and bool(url.hostname) and (url.port or 0) >= 0
    except ValueError:  # a bracket left open, a bad port
        ok = False
    if not ok or "?" in text or "#" in text or any(c.isspace() for c in text):
        raise Invalid(f"The base URL must be an http:// or https:// URL without ? or #, not {text!r}", field="base_url")
    return text.rstrip("/")


def public_root(root: str | None = None, *, fallback: str | None = None) -> str:
    """The external root URL, without trailing slash: ``root`` given by the caller, else ``PUBLIC_BASE_URL``,
    else ``fallback`` (the root of the request a door is serving). Invalid when none is known: an address
    made up here would send identity providers to the wrong place."""
    chosen = root or current_app.config.get("PUBLIC_BASE_URL") or fallback
    if not chosen:
        raise Invalid(NO_BASE_URL, field="base_url")
    return chosen.rstrip("/")


def scim_base_url(source: Source | str, root: str | None = None, *, fallback: str | None = None) -> str:
    """The SCIM base URL an identity provider is given: ``{public root}/scim/v2/{public id}``.

    ``source`` is a source or its public id; ``root`` and ``fallback`` are as in ``public_root``. This is the
    only place the URL is built: the console, the SCIM door (``meta.location``) and the CLI all call it.
    """
    public_id = source if isinstance(source, str) else source.public_id
    return f"{public_root(root, fallback=fallback)}{SCIM_PATH}/{public_id}"


def source_for_url(public_id: str) -> SyncSource | None:
    """The source a SCIM URL names (deleted ones included), or None."""
    return db.session.scalar(select(SyncSource).where(SyncSource.public_id == public_id))


#: cached successful authentications per process, at most this many (a full cache starts again empty)
AUTH_CACHE_SIZE = 1024


def _auth_cache_seconds() -> float:
    configured = current_app.config.get("SCIM_AUTH_CACHE_SECONDS")
    if configured is None:
        return 0.0 if current_app.testing else 1.0
    return float(configured)


def authenticate(public_id: str, authorization: str | None, now: datetime | None = None) -> SourceRef:
    """The sync source a SCIM request may act as, or AuthFailure (which carries the ORM source).

    The token is compared by hash in constant time against the source named in
    the URL, so a token of another source or organization never matches. One
    Core SELECT, and a success is remembered per process for SCIM_AUTH_CACHE_SECONDS
    (default 1 s, 0 under TESTING) under the source and the token's hash: an
    identity provider's initial sync sends hundreds of requests a second with one
    token. A refreshed token, a deactivated or deleted source, or a changed
    configuration therefore takes effect within that second; refusals are never cached.
    """
    ttl = _auth_cache_seconds() if now is None else 0.0
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    bearer = scheme.lower() == "bearer" and bool(token)
    key = (public_id, hash_token(token)) if bearer else None
    cache: dict[tuple[str, str], tuple[float, SourceRef, datetime | None]] = current_app.extensions.setdefault(
        "scim_auth_cache", {}
    )
    if ttl > 0 and key is not None:
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl and (hit[2] is None or hit[2] > utcnow()):
            return hit[1]
    row = db.session.connection().execute(_AUTH_SELECT, {"public_id": public_id}).first()
    if row is None or row.deleted_at is not None:
        raise NotFound("No such sync source")
    if key is None:
        raise AuthFailure("missing", db.session.get(SyncSource, row.id))
    if row.token_hash is None or not hmac.compare_digest(key[1], row.token_hash):
        raise AuthFailure("invalid", db.session.get(SyncSource, row.id))
    if row.token_expires_at is not None and row.token_expires_at <= (now or utcnow()):
        raise AuthFailure("expired", db.session.get(SyncSource, row.id))
    if row.status != "active":
        raise Forbidden("sync source is not activated")
    source = SourceRef(
        id=row.id,
        org_id=row.org_id,
        public_id=row.public_id,
        name=row.name,
        provider=row.provider,
        status=row.status,
        deletion_rule=row.deletion_rule,
        match_attributes=list(row.match_attributes or []),
        workforce_rules=list(row.workforce_rules or []),
        username_is_email=bool(row.username_is_email),
    )
    if ttl > 0:
        if len(cache) >= AUTH_CACHE_SIZE:
            cache.clear()
        cache[key] = (time.monotonic(), source, row.token_expires_at)
    return source


def _noted_recently(source_id: int, status: int, error: str | None, interval: float) -> bool:
    """Whether this process wrote the same outcome for the source less than ``interval`` seconds ago; remember this one.

    Every SCIM request notes itself on its source: one UPDATE of the same row per
    request made every read a write transaction and queued concurrent requests on
    that row's lock (PostgreSQL) or the write lock (SQLite). The badge needs the
    outcome and a recent time, so a repeated outcome is written at most once per
    interval per process; a failure's status or error is always written when it is
    new. Every success is one outcome: an initial sync alternates lookups (200) and
    creates (201), and telling those apart made every request write again.
    Kept per app.
    """
    noted: dict[int, tuple[float, int, str | None]] = current_app.extensions.setdefault("sync_noted", {})
    clock = time.monotonic()
    outcome = (status if status >= 400 else 200, error)
    last = noted.get(source_id)
    if last is not None and last[1:] == outcome and clock - last[0] < interval:
        return True
    noted[source_id] = (clock, *outcome)
    return False


def note_request(source_id: int, status: int, error: str | None = None, now: datetime | None = None) -> None:
    """Record a SCIM request's time and outcome on its source (the console's Connected / Failing badge).

    A repeat of the outcome this process wrote less than SCIM_NOTE_INTERVAL seconds ago
    is not written again (default 1 s; 0 under TESTING, so statement counts never depend on time).
    """
    interval = current_app.config.get("SCIM_NOTE_INTERVAL")
    if interval is None:
        interval = 0.0 if current_app.testing else 1.0
    if now is None and interval > 0 and _noted_recently(source_id, status, error, float(interval)):
        return
    now = now or utcnow()
    values: dict[str, Any] = {
        "last_request_at": now,
        "last_status": status,
        "last_error": (error or "")[:2000] or None if status >= 400 else None,
    }
    if status < 400:
        values["last_success_at"] = now
    # One Core UPDATE without loading the row or bumping updated_at: this runs on every request.
    table = SyncSource.__table__
    db.session.execute(update(table).where(table.c.id == source_id).values(**values))


#: the refusals that are about the bearer token (401), which the sync administrators hear about
TOKEN_REFUSALS = ("missing", "invalid", "expired")


def refuse(
    source: SyncSource, reason: str, detail: str, info: sync_log.RequestInfo | None, scim_type: str | None = None
) -> None:
    """A SCIM request at the source's URL is refused; ``reason`` is one of ``sync_log.REFUSALS``.

    Everything a refusal leaves, in the caller's transaction (the door commits): a
    bad token notifies the sync administrators (``notify_auth_failure``), a 401 or
    403 is the source's last request (its Failing badge; a 429 leaves the badge to
    the requests that got through), and the sync log row, folded per source,
    reason and minute by ``sync_log.refused``.
    """
    status = sync_log.REFUSALS[reason]
    if reason in TOKEN_REFUSALS:
        notify_auth_failure(source, reason, detail)
    if status != 429:
        note_request(source.id, status, detail)
    sync_log.refused(source.id, source.org_id, info, reason=reason, error_detail=detail, scim_type=scim_type)


def notify_auth_failure(source: SyncSource, reason: str, detail: str) -> None:
    """Tell the sync administrators that a request came with a bad token (seed 1.1 step 5).

    An expired token is told at most once a day; a missing or wrong one is folded
    per hour by ``notifications.sync_failure``, so a misconfigured identity provider retrying
    all day raises a count instead of flooding anyone.
    """
    if reason == "expired":
        notify_token_expired(source)
    else:
        notifications.sync_failure(source, "token_invalid", detail)


def notify_token_expired(source: SyncSource, now: datetime | None = None) -> bool:
    """Tell the sync administrators that the source's token expired, at most once a day; True when sent."""
    now = now or utcnow()
    if source.expired_notice_at is not None and source.expired_notice_at > now - timedelta(days=1):
        return False
    notifications.sync_failure(
        source,
        "token_expired",
        "Synchronization requests are refused: refresh the token and enter the new one in the identity provider.",
    )
    source.expired_notice_at = now
    db.session.flush()
    return True
