"""The whole domain model. Every row carries ``org_id``: organizations are tenants.

Case-insensitive uniqueness (userName, email, names) is enforced by the database
through ``*_norm`` columns holding the lower-cased value under a plain unique
constraint: portable between SQLite and PostgreSQL, index-backed for lookups,
and visible to Alembic's autogenerate.
"""

from __future__ import annotations

import secrets
import time
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any, overload

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import Model, db

PERMISSIONS = ("org_data_sync", "admin_log", "directory")
PERMISSION_LABELS = {
    "org_data_sync": "Organization data synchronization",
    "admin_log": "Administrator log",
    "directory": "Members and departments",
}
PROVIDERS = ("jumpcloud", "okta", "entra", "generic")
PROVIDER_LABELS = {
    "jumpcloud": "JumpCloud",
    "okta": "Okta",
    "entra": "Microsoft Entra ID",
    "generic": "Generic SCIM 2.0",
}
DELETION_RULES = ("suspend", "delete")
MATCH_ATTRIBUTES = ("email", "employee_id", "mobile", "scim_external_id")
#: the label of each match attribute in the console and the Admin log
MATCH_ATTRIBUTE_LABELS = {
    "email": "Email",
    "employee_id": "Employee ID",
    "mobile": "Mobile",
    "scim_external_id": "externalId",
}
MEMBER_STATUSES = ("active", "inactive")
DEFAULT_WORKFORCE_TYPES = ("regular employee", "intern", "consultant", "contractor")
MAX_WORKFORCE_RULES = 15


def utcnow() -> datetime:
    """Naive UTC now: SQLite keeps no zone, so every timestamp is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_public_id() -> str:
    """A SCIM resource id: opaque, unguessable (74 random bits), stable; a UUID version 7 (RFC 9562).

    Its first 48 bits are the creation time in milliseconds, so ids made one after
    the other sort together: an identity provider's initial sync appends to the
    unique index instead of writing a random page of it per create. The time is
    no secret: ``meta.created`` tells it.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


@overload
def norm(value: str) -> str: ...
@overload
def norm(value: None) -> None: ...
@overload
def norm(value: str | None) -> str | None: ...
def norm(value: str | None) -> str | None:
    """The form in which names and identifiers compare: what the unique constraints hold.

    Zero-width characters removed, then Unicode NFKC, case folding and NFKC again (the
    NFKC_Casefold of Unicode's identifier rules): composed "Ä" and "A" + U+0308, fullwidth
    letters, "ß" and "ss", "Ada" and "ADA" are one name.
    """
    if value is None:
        return None
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value.translate(_ZERO_WIDTH)).casefold()).strip()


#: characters that print as nothing: an identifier that differs only by them is the same identifier
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"))


def normalizes(column: str, norm_column: str) -> Any:
    """A validator that keeps ``norm_column`` the case-folded copy of ``column`` whenever it is set."""

    @validates(column)
    def _set_norm(self: Any, key: str, value: str) -> str:
        setattr(self, norm_column, norm(value))
        return value

    return _set_norm


class Organization(Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    _name_norm = normalizes("name", "name_norm")


class Admin(UserMixin, Model):
    """An administrator of one organization; exactly one per org is ``primary``."""

    __tablename__ = "admins"
    __table_args__ = (
        CheckConstraint("role IN ('primary', 'admin')", name="role"),
        # Exactly one primary administrator per organization, held by the database.
        Index(
            "uq_admins_one_primary",
            "org_id",
            unique=True,
            sqlite_where=Column("role") == "primary",
            postgresql_where=Column("role") == "primary",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    #: lower-cased email; sign-in is by email across organizations, so it is unique globally
    email_norm: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="admin")
    perm_org_data_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    perm_admin_log: Mapped[bool] = mapped_column(Boolean, default=False)
    perm_directory: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: bumped to end every open session (deactivation, password reset)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    org: Mapped[Organization] = relationship()

    _email_norm = normalizes("email", "email_norm")

    @property
    def is_primary(self) -> bool:
        return self.role == "primary"

    @property
    def permissions(self) -> set[str]:
        """The permissions held; the primary administrator holds them all."""
        if self.is_primary:
            return set(PERMISSIONS)
        return {p for p in PERMISSIONS if getattr(self, f"perm_{p}")}

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def get_id(self) -> str:
        # The session version in the id ends old sessions when it is bumped.
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email


class WorkforceType(Model):
    __tablename__ = "workforce_types"
    __table_args__ = (UniqueConstraint("org_id", "name_norm"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    _name_norm = normalizes("name", "name_norm")


class SyncSource(Model):
    """A Sync App: one identity provider pushing into one organization."""

    __tablename__ = "sync_sources"
    __table_args__ = (
        CheckConstraint("provider IN ('jumpcloud', 'okta', 'entra', 'generic')", name="provider"),
        CheckConstraint("status IN ('draft', 'inactive', 'active')", name="status"),
        CheckConstraint("deletion_rule IN ('suspend', 'delete')", name="deletion_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the id in the SCIM base URL ``/scim/v2/<public_id>``
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: set when deleted from the console; the row stays so logs and labels can name it
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: SHA-256 of the bearer token; the token itself is never stored
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: first characters of the token, enough for an admin to recognise it
    token_prefix: Mapped[str | None] = mapped_column(String(16))
    token_created_at: Mapped[datetime | None] = mapped_column(DateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: [{"value": "Regular", "workforce_type_id": 1}, ...], 15 at most
    workforce_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    deletion_rule: Mapped[str] = mapped_column(String(16), default="suspend")
    #: the identity rule "userName must equal the work email": JumpCloud's rule for this product (the
    #: seed's note), on by default for JumpCloud sources only
    username_is_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: admin ids that receive sync failure notifications
    notified_admin_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: attributes tried after userName when identifying an existing member on create
    match_attributes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["email"])
    last_request_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: when admins were last told the token expired (at most one notice a day)
    expired_notice_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    org: Mapped[Organization] = relationship()

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Department(Model):
    """A department; each organization has one root (parent_id NULL) named after it."""

    __tablename__ = "departments"
    __table_args__ = (
        UniqueConstraint("org_id", "parent_id", "name_norm"),
        Index(
            "uq_departments_one_root",
            "org_id",
            unique=True,
            sqlite_where=Column("parent_id").is_(None),
            postgresql_where=Column("parent_id").is_(None),
        ),
        Index("ix_departments_org_name", "org_id", "name_norm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(String(200))
    #: data source: the sync source that created it, or NULL for the Admin Console
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sync_sources.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side=[id])
    source: Mapped[SyncSource | None] = relationship()

    _name_norm = normalizes("name", "name_norm")


class JobTitle(Model):
    __tablename__ = "job_titles"
    __table_args__ = (UniqueConstraint("org_id", "name_norm"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(String(200))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sync_sources.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    source: Mapped[SyncSource | None] = relationship()

    _name_norm = normalizes("name", "name_norm")


member_departments = Table(
    "member_departments",
    db.Model.metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True),
)

group_members = Table(
    "group_members",
    db.Model.metadata,
    Column("group_id", ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def _present(name: str, *columns: str) -> Index:
    """An index of the rows where the last column has a value (SQLite and PostgreSQL partial index)."""
    present = text(f"{columns[-1]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=present, postgresql_where=present)


#: a member's columns kept as the case-folded copy of another (the ORM's validators and
#: portal.core.members' SQL Core writes both read this map)
MEMBER_NORMS = {
    "external_id": "external_id_norm",
    "email": "email_norm",
    "name": "name_norm",
    "employee_id": "employee_id_norm",
}


class Member(Model):
    """A member of the organization (a SCIM User)."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id_norm"),
        UniqueConstraint("org_id", "email_norm"),
        # NULLs are distinct in both databases: unique only when present.
        UniqueConstraint("org_id", "employee_id_norm"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        # Partial where most members have no value (a JumpCloud push sends no externalId,
        # mobile, manager or userType): a create then writes no page of these indexes,
        # and ``column = value`` (which implies IS NOT NULL) still uses them.
        _present("ix_members_org_scim_external_id", "org_id", "scim_external_id"),
        # externalId is the identity provider's own id: unique among the members one source manages.
        Index(
            "uq_members_source_scim_external_id",
            "source_id",
            "scim_external_id",
            unique=True,
            sqlite_where=text("scim_external_id IS NOT NULL"),
            postgresql_where=text("scim_external_id IS NOT NULL"),
        ),
        _present("ix_members_manager_id", "manager_id"),
        _present("ix_members_employee_type_id", "employee_type_id"),
        # The Members page: sorted by name, filtered by status or data source, searched by name prefix.
        Index("ix_members_org_name_norm", "org_id", "name_norm", "id"),
        Index("ix_members_org_status_name_norm", "org_id", "status", "name_norm", "id"),
        Index("ix_members_org_source_name_norm", "org_id", "source_id", "name_norm", "id"),
        _present("ix_members_org_mobile", "org_id", "mobile"),
        Index("ix_members_org_created", "org_id", "created_at", "id"),
        Index("ix_members_org_modified", "org_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the SCIM ``id``
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: SCIM userName (the seed's ExternalID)
    external_id: Mapped[str] = mapped_column(String(255))
    external_id_norm: Mapped[str] = mapped_column(String(255))
    #: the work email (work, else primary, else first of ``emails``); optional unless the source's rule needs it
    email: Mapped[str | None] = mapped_column(String(320))
    email_norm: Mapped[str | None] = mapped_column(String(320))
    #: SCIM displayName
    name: Mapped[str] = mapped_column(String(255))
    #: lower-cased name, for the Members page's sort and case-insensitive prefix search
    name_norm: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    #: SCIM nickName
    another_name: Mapped[str | None] = mapped_column(String(255))
    #: enterprise employeeNumber
    employee_id: Mapped[str | None] = mapped_column(String(255))
    employee_id_norm: Mapped[str | None] = mapped_column(String(255))
    #: the SCIM userType as received; the workforce type is what the rules made of it
    user_type: Mapped[str | None] = mapped_column(String(255))
    employee_type_id: Mapped[int | None] = mapped_column(ForeignKey("workforce_types.id", ondelete="SET NULL"))
    job_title_id: Mapped[int | None] = mapped_column(ForeignKey("job_titles.id", ondelete="SET NULL"), index=True)
    work_country: Mapped[str | None] = mapped_column(String(255))
    mobile: Mapped[str | None] = mapped_column(String(64))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    #: the manager value as received, when it is not the SCIM id of ``manager`` (or names no member)
    manager_ref: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: SCIM externalId: the identity provider's own id for the user
    scim_external_id: Mapped[str | None] = mapped_column(String(255))
    #: values of the organization's custom fields, keyed by field key
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the multi-valued attributes as the identity provider sent them (value, type, primary, and an
    #: address's sub-attributes); None when none were sent. email, mobile and work_country derive from them.
    emails: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    phone_numbers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    addresses: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: data source: the sync source that manages it, or NULL for the Admin Console
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sync_sources.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    #: optimistic lock and SCIM ETag (``W/"<version>"``)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    source: Mapped[SyncSource | None] = relationship()
    job_title: Mapped[JobTitle | None] = relationship()
    employee_type: Mapped[WorkforceType | None] = relationship()
    manager: Mapped[Member | None] = relationship(remote_side=[id])
    departments: Mapped[list[Department]] = relationship(secondary=member_departments, order_by="Department.name")
    groups: Mapped[list[UserGroup]] = relationship(
        secondary=group_members, back_populates="members", viewonly=True, order_by="UserGroup.display_name"
    )

    # The same map as portal.core.members writes in SQL Core: one definition of a member's norms.
    _external_id_norm = normalizes("external_id", MEMBER_NORMS["external_id"])
    _email_norm = normalizes("email", MEMBER_NORMS["email"])
    _employee_id_norm = normalizes("employee_id", MEMBER_NORMS["employee_id"])
    _name_norm = normalizes("name", MEMBER_NORMS["name"])

    @property
    def active(self) -> bool:
        return self.status == "active"


class UserGroup(Model):
    """A user group (a SCIM Group)."""

    __tablename__ = "user_groups"
    __table_args__ = (
        UniqueConstraint("org_id", "display_name_norm"),
        Index("ix_user_groups_org_scim_external_id", "org_id", "scim_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(255))
    display_name_norm: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    scim_external_id: Mapped[str | None] = mapped_column(String(255))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sync_sources.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    source: Mapped[SyncSource | None] = relationship()
    members: Mapped[list[Member]] = relationship(
        secondary=group_members, back_populates="groups", lazy="select", order_by="Member.name"
    )

    _display_name_norm = normalizes("display_name", "display_name_norm")


class Field(Model):
    """A member field of Field Management: the seed's 12 standard fields and custom ones."""

    __tablename__ = "fields"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        UniqueConstraint("org_id", "name_norm"),
        CheckConstraint("field_type IN ('text', 'number', 'date', 'option')", name="field_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: the member attribute (standard) or custom_fields key (custom)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(16), default="text")
    #: choices of an ``option`` field
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the SCIM attribute a sync source writes it from (standard fields)
    scim_attribute: Mapped[str | None] = mapped_column(String(255))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    unique: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    _name_norm = normalizes("name", "name_norm")


class SyncLog(Model):
    """One SCIM write or rejected request of a sync source."""

    __tablename__ = "sync_logs"
    __table_args__ = (
        Index("ix_sync_logs_source_created", "source_id", "created_at", "id"),
        Index("ix_sync_logs_org_created", "org_id", "created_at", "id"),
        Index("ix_sync_logs_object", "org_id", "object_id"),
        # One row per source, refusal reason and minute, held by the database (see portal.core.sync_log.refused).
        Index(
            "ix_sync_logs_fold_key",
            "fold_key",
            unique=True,
            sqlite_where=text("fold_key IS NOT NULL"),
            postgresql_where=text("fold_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id"))
    #: when the request came; a folded refusal keeps its first request's time
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: how many requests this row stands for: 1, or the refusals folded into it within its minute
    repeat_count: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    #: a folded refusal's last request (NULL on other rows)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: "<source id>:<reason>:<minute>" on a refused request's row, the key repeats fold on (NULL on other rows)
    fold_key: Mapped[str | None] = mapped_column(String(64))
    #: create, update, deactivate, reactivate, delete, link, or request (rejected before an operation)
    operation: Mapped[str] = mapped_column(String(16))
    #: member or group
    object_type: Mapped[str | None] = mapped_column(String(16))
    object_id: Mapped[str | None] = mapped_column(String(36))
    #: userName or displayName, kept after the object is gone
    object_name: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int] = mapped_column(Integer)
    scim_type: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
    #: {field: [before, after]}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: [{"type": "department", "name": "Sales", "created": true}, ...]
    associated: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: what the operation did beside the change (linked by email, no workforce rule ...)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(500))
    #: the request body with secrets (password) removed
    request_body: Mapped[Any] = mapped_column(JSON)

    source: Mapped[SyncSource] = relationship()


class AdminLog(Model):
    """One configuration change made in the console or by the CLI."""

    __tablename__ = "admin_logs"
    __table_args__ = (
        Index("ix_admin_logs_org_created", "org_id", "created_at", "id"),
        Index("ix_admin_logs_org_event", "org_id", "event_type", "created_at"),
        Index("ix_admin_logs_org_admin", "org_id", "admin_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    #: NULL when the actor is not an administrator (the CLI)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="SET NULL"))
    #: who acted, as shown: the admin's email at the time, or "CLI"
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: the seed's event type label, e.g. "Add sync source"
    event_type: Mapped[str] = mapped_column(String(64))
    #: the seed's event category, e.g. "Settings > Organization Data Sync"
    category: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    target_name: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    #: {field: [before, after]}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str | None] = mapped_column(Text)

    admin: Mapped[Admin | None] = relationship()


class Notification(Model):
    """A notification for one administrator; repeats of one kind within an hour fold into ``count``."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("admin_id", "group_key"),
        Index("ix_notifications_admin_unread", "admin_id", "read_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sync_sources.id"))
    #: sync_failure, token_expired, token_invalid ...
    kind: Mapped[str] = mapped_column(String(32))
    #: source, kind and hour: notifications with one key are folded together
    group_key: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)


class BannerDismissal(Model):
    """When an administrator last dismissed a sync source's change banner."""

    __tablename__ = "banner_dismissals"

    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id", ondelete="CASCADE"), primary_key=True)
    dismissed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PasswordResetToken(Model):
    """A one-time set-password link for an administrator (stored as a hash)."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
