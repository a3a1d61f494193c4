"""Organizations (the tenants): creation with their root department, workforce types and fields."""

from __future__ import annotations

from sqlalchemy import select

from portal.core import admin_log, administrators, events
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.fields import STANDARD_FIELDS
from portal.core.text import clean_text
from portal.extensions import db
from portal.models import (
    DEFAULT_WORKFORCE_TYPES,
    Department,
    Field,
    Organization,
    WorkforceType,
    norm,
)


def create_organization(name: str, admin_email: str, admin_password: str, actor: Actor) -> Organization:
    """Create an organization with its root department, workforce types, field catalogue and primary admin."""
    name = clean_text(name, Organization.name, label="The organization's name", field="name") or ""
    if not name:
        raise Invalid("The organization needs a name", field="name")
    if db.session.scalar(select(Organization.id).where(Organization.name_norm == norm(name))) is not None:
        raise Conflict(f"An organization named {name!r} already exists", field="name")
    org = Organization(name=name)
    db.session.add(org)
    db.session.flush()
    root = Department(org_id=org.id, parent_id=None, name=name)
    db.session.add(root)
    db.session.flush()
    root_created = events.Change("department.created", "department", root.public_id, events.department_attributes(root))
    events.record(org.id, actor, root_created)
    for wt in DEFAULT_WORKFORCE_TYPES:
        db.session.add(WorkforceType(org_id=org.id, name=wt))
    for position, (key, label, attribute, required, unique) in enumerate(STANDARD_FIELDS):
        db.session.add(
            Field(
                org_id=org.id,
                key=key,
                name=label,
                standard=True,
                scim_attribute=attribute,
                required=required,
                unique=unique,
                position=position,
            )
        )
    admin = administrators.create_admin(
        org, admin_email, admin_password, actor, role="primary", summary="Primary administrator of the new organization"
    )
    admin_log.record(
        actor,
        org.id,
        "Create organization",
        target_type="organization",
        target_id=org.id,
        target_name=name,
        summary=f"Organization created with primary administrator {admin.email}",
    )
    return org


def find_organization(name: str) -> Organization:
    """The organization with this name (case-insensitive)."""
    org = db.session.scalar(select(Organization).where(Organization.name_norm == norm(name)))
    if org is None:
        raise NotFound(f"No organization named {name!r}", field="org")
    return org
