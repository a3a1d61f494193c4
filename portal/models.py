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
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import Model, db

PERMISSIONS = ("org_data_sync", "admin_log", "directory", "api_keys")
PERMISSION_LABELS = {
    "org_data_sync": "Organization data synchronization",
    "admin_log": "Administrator log",
    "directory": "Members and departments",
    "api_keys": "API keys",
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
    if value.isascii():  # the same answer, a tenth of the work: every step but lower-casing leaves ASCII as is
        return value.lower().strip()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value.translate(_ZERO_WIDTH)).casefold()).strip()


#: characters that print as nothing: an identifier that differs only by them is the same identifier
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"))

#: letters that carry their mark inside them (NFKD leaves them whole), as a person types them without it
_UNMARKED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe"})


def _diacritic(char: str) -> bool:
    """A combining diacritical mark of the Latin, Greek and Cyrillic scripts (the blocks of U+0300, U+1AB0,
    U+1DC0, U+20D0, U+FE20). Other scripts' combining marks (a Japanese dakuten, an Indic virama) make
    another letter, not an accented one: they stay."""
    code = ord(char)
    return (
        0x300 <= code <= 0x36F
        or 0x1AB0 <= code <= 0x1AFF
        or 0x1DC0 <= code <= 0x1DFF
        or 0x20D0 <= code <= 0x20FF
        or 0xFE20 <= code <= 0xFE2F
    )


def fold(value: str) -> str:
    """``norm`` without accents: the form in which the Members search compares ("Müller" and "muller",
    "Łukasz" and "lukasz", "Straße" and "strasse" are one)."""
    normed = norm(value)
    if normed.isascii():  # no letter to take a mark from: nothing more to do
        return normed
    decomposed = unicodedata.normalize("NFKD", normed.translate(_UNMARKED))
    # NFC again: NFKD also split what is no accent (a Hangul syllable into its letters).
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not _diacritic(char)))


def member_search_text(
    name: str | None, email: str | None, employee_id: str | None, user_name: str | None, job_title: str | None
) -> str:
    """What the Members search looks in (``members.search_text``): the values folded, one a line, the job
    title last (a title renamed for all its members is the same suffix replaced)."""
    own = [folded for folded in dict.fromkeys(fold(v) for v in (name, email, employee_id, user_name) if v) if folded]
    title = fold(job_title) if job_title else ""
    return "\n".join([*own, title] if title else own)


#: what migrations 0008, 0011 and 0012 build for the Members search besides the ``search_text`` column,
#: declared there and not here (none can be said in a model): SQLite's FTS5 table (FTS5 keeps its index in
#: tables named after it), the numbered changes its batches follow and that numbering's counter and epoch
#: (``portal.infra.search_index``, which also makes the search file's record of the change it is indexed
#: through, "progress"), and PostgreSQL's trigram index
SEARCH_STRUCTURES = {
    "table": "member_search",
    "changes": "member_search_changes",
    "numbering": "member_search_numbering",
    "progress": "member_search_progress",
    "index": "ix_members_search_text_trgm",
}


def declared_in_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: every database object except the ``SEARCH_STRUCTURES``, so comparing the
    database with the models (autogenerate, tests/test_migrations.py) does not take them for leftovers."""
    if type_ == "table" and name is not None:
        return name != SEARCH_STRUCTURES["table"] and not name.startswith(SEARCH_STRUCTURES["table"] + "_")
    return not (type_ == "index" and name == SEARCH_STRUCTURES["index"])


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
    #: the last change event's number (``ChangeEvent.seq``): portal.core.events moves it on in the
    #: transaction that writes the events, so numbers are gap-free per organization
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

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
    perm_api_keys: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: bumped to end every open session (deactivation, password reset)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    #: holds an initial password someone else saw (added or reset with one): every console page sends the
    #: administrator to the change form until they choose their own
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
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
    #: the wizard's entries not yet saved (name, rules, settings), kept here rather than in a session cookie
    #: so the setup continues in another browser; SCIM never reads them
    wizard_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
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
        # The Members page sorted by department (``department_sort``).
        Index("ix_members_org_department_sort", "org_id", "department_sort", "name_norm", "id"),
        Index("ix_members_org_source_name_norm", "org_id", "source_id", "name_norm", "id"),
        _present("ix_members_org_mobile", "org_id", "mobile"),
        Index("ix_members_org_created", "org_id", "created_at", "id"),
        Index("ix_members_org_modified", "org_id", "updated_at", "id"),
        # The organization's members in id order: the read API's keyset pages (id > cursor) walk it
        # without a sort on PostgreSQL too (SQLite appends the rowid, the id, to every index anyway).
        Index("ix_members_org_id", "org_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the SCIM ``id``
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
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
    #: ``member_search_text`` of the member: what the Members search finds it by, indexed by SQLite's FTS5
    #: table ``member_search`` and PostgreSQL's trigram index (migration 0008, see ``SEARCH_STRUCTURES``)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    #: the ``name_norm`` of the member's first department by name, "" for none: the Members page's order by
    #: department, from an index (a member's departments are rows of another table). Written with the
    #: departments by portal.core.members, and for all its members when a department is renamed.
    department_sort: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))

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


#: the values ``Member.search_text`` is made of (``job_title`` is the relationship, ``job_title_id`` its key)
_SEARCHED = ("name", "email", "employee_id", "external_id", "job_title_id", "job_title")


@event.listens_for(Member, "before_insert")
@event.listens_for(Member, "before_update")
def _keep_search_columns(mapper: Any, connection: Any, member: Member) -> None:
    """Members the ORM writes (tests' and benchmarks' data) get their search text and department order as
    portal.core.members' SQL Core writes do (``MemberRecord.columns``): one definition, ``member_search_text``."""
    state = inspect(member)
    if "departments" in state.dict and (not state.has_identity or state.attrs.departments.history.has_changes()):
        member.department_sort = min((d.name_norm or norm(d.name) for d in member.departments), default="")
    if state.has_identity and not any(state.attrs[key].history.has_changes() for key in _SEARCHED):
        return
    title = state.dict.get("job_title")
    title_name = title.name if title is not None and title.id == member.job_title_id else None
    if title_name is None and member.job_title_id is not None:
        title_name = connection.scalar(select(JobTitle.name).where(JobTitle.id == member.job_title_id))
    member.search_text = member_search_text(
        member.name, member.email, member.employee_id, member.external_id, title_name
    )


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
    #: when the mail server accepted the notification's email (NULL until then)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: the email's delivery: NULL (no email), queued, sent or failed
    email_status: Mapped[str | None] = mapped_column(String(16))
    #: how many times the worker tried to hand the email to the mail server
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    @property
    def email_label(self) -> str | None:
        """The email's delivery as the console says it; None when the notification was not emailed."""
        tries = self.email_attempts or 0
        plural = "try" if tries == 1 else "tries"
        if self.email_status == "sent":
            return "Emailed"
        if self.email_status == "failed":
            return f"Email failed after {tries} {plural}"
        if self.email_status == "queued":
            return f"Email queued ({tries} {plural} so far)" if tries else "Email queued"
        return None


OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")


class OutboxMessage(Model):
    """A side effect (an email) recorded in the transaction that caused it, delivered by the worker.

    ``next_attempt_at`` is when a queued row is due, and for a row being sent the end of the
    worker's lease: a worker that dies mid-send leaves a row that is due again at that time.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status"),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the organization the message belongs to, when it is known (a set-password link names no organization)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    #: email (the only kind so far)
    kind: Mapped[str] = mapped_column(String(16), default="email")
    #: {"to": ..., "subject": ..., "text": ...}
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the notification whose delivery state this message updates
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class JobMark(Model):
    """A moment every host must see: the worker's last heartbeat, a daily job's last run (one row per name)."""

    __tablename__ = "job_marks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)


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


#: what an API key may read: the read API's scopes, in the order the console lists them
API_KEY_SCOPES = ("members:read", "groups:read", "events:read")
API_KEY_SCOPE_LABELS = {
    "members:read": "Read members",
    "groups:read": "Read groups",
    "events:read": "Read events",
}


class ApiKey(Model):
    """A key of one organization for the read API (``/api/v1/``); the secret itself is never stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    #: the key's public first part (``dsp_<prefix>_...``), listed so an admin can recognise a key
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole key. The key holds 256 random bits, so a fast hash is right: nothing
    #: can guess or precompute it, and a slow password hash would tax every API request
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: a subset of API_KEY_SCOPES
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: NULL: never expires
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    created_by: Mapped[Admin | None] = relationship()

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


#: what a change event is about, and the events of each (portal.core.events)
EVENT_TYPES = (
    "member.created",
    "member.updated",
    "member.suspended",
    "member.reactivated",
    "member.deleted",
    "department.created",
    "department.updated",
    "department.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
)
#: who made a change: a sync source, an administrator, or the system (the CLI, a job)
EVENT_ACTOR_TYPES = ("source", "admin", "system")


class ChangeEvent(Model):
    """One change to a member, department or group, numbered without gaps per organization (``seq``).

    Written in the transaction of the change it describes (portal.core.events), so an event exists
    exactly when its change does; the read API replays them by ``seq`` and webhooks deliver them.
    """

    __tablename__ = "change_events"
    __table_args__ = (
        UniqueConstraint("org_id", "seq"),
        CheckConstraint("actor_type IN ('source', 'admin', 'system')", name="actor_type"),
        # Retention deletes by age, across organizations.
        Index("ix_change_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    #: 1, 2, 3 ... per organization, in commit order
    seq: Mapped[int] = mapped_column(Integer)
    #: one of EVENT_TYPES
    type: Mapped[str] = mapped_column(String(32))
    #: member, department or group
    object_type: Mapped[str] = mapped_column(String(16))
    #: the object's SCIM / public id (a department's too)
    object_id: Mapped[str] = mapped_column(String(64))
    actor_type: Mapped[str] = mapped_column(String(16))
    #: an administrator's id, a sync source's public id; NULL for the system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    #: an administrator's email, a sync source's name, "CLI"
    actor_name: Mapped[str | None] = mapped_column(String(320))
    #: the object as it is after the change (created), was (deleted), or the changed fields' new values
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookEndpoint(Model):
    """A URL of one organization that receives its change events, signed per Standard Webhooks.

    The worker delivers the events after ``last_seq`` one at a time, in order, and moves the cursor
    on a 2xx only; a failure waits until ``next_attempt_at`` (exponential backoff). A worker owns the
    endpoint while ``lease_until`` is in the future, so two workers never deliver to it at once.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(255), default="")
    #: the event types delivered (a subset of EVENT_TYPES)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the signing secret, ``whsec_`` + base64 (Standard Webhooks); shown once, never logged
    secret: Mapped[str] = mapped_column(String(100))
    #: the secret before the last rotation: deliveries carry both signatures until ``previous_secret_until``
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: why it was disabled: by an administrator, or after failing for days
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    #: the first failure of the current run of failures (NULL while deliveries succeed)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)
    #: failed tries in a row of the event at the head of the queue
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: when the next try is due after a failure (NULL: now)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: the cursor: every event up to this ``seq`` was delivered (or is not one the endpoint takes)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: a worker's claim: it owns the endpoint until then
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Model):
    """One try to deliver an event to an endpoint, or a resend an administrator asked for (``pending``)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_created_at", "created_at"),
        # The resends waiting, which every claim of the endpoint looks for first: among the endpoint's
        # whole delivery log (a try per event), ``ix_webhook_deliveries_endpoint`` walked all of it.
        Index(
            "ix_webhook_deliveries_pending",
            "endpoint_id",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    #: the event's number in its organization, and its type (the event itself may be pruned later)
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(32))
    #: the try of this event at this endpoint: 1, 2, 3 ...
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: pending (a resend not yet sent), succeeded or failed
    status: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    #: asked for with the console's Resend button
    resend: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
