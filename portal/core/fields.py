"""Field Management: the seed's standard member fields and the organization's custom ones."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from portal.core import admin_log
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.scim_urns import ENTERPRISE_PREFIX
from portal.core.sync_sources import USERNAME_IS_EMAIL_LABEL
from portal.core.text import clean_text, text_problem
from portal.core.unique import unique_flush
from portal.extensions import db
from portal.models import (
    Field,
    SyncSource,
)

STANDARD_FIELDS: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("external_id", "ExternalID", "userName", True, True),
    ("email", "Email", 'emails[type eq "work"].value', True, True),
    ("departments", "Department", f"{ENTERPRISE_PREFIX}department", False, False),
    ("name", "Name", "displayName", True, False),
    ("employee_id", "Employee ID", f"{ENTERPRISE_PREFIX}employeeNumber", False, True),
    ("employee_type", "Workforce type", "userType", False, False),
    ("first_name", "First name", "name.givenName", False, False),
    ("job_title", "Job title", "title", False, False),
    ("last_name", "Last name", "name.familyName", False, False),
    ("work_country", "Work country or region", 'addresses[type eq "work"].country', False, False),
    ("another_name", "Another name", "nickName", False, False),
    ("mobile", "Mobile", 'phoneNumbers[type eq "work"].value', False, False),
)

#: standard field key -> its label, as the console's forms and messages name it
FIELD_LABELS = {key: label for key, label, *_rest in STANDARD_FIELDS}
#: the standard fields each sync source's identity rule (``USERNAME_IS_EMAIL_LABEL``) binds
USERNAME_RULE_FIELDS = frozenset({"external_id", "email"})
#: where a required field is required only under a condition, the condition Field Management names: the work
#: email is required by the sync sources whose rule says userName must equal it (and by the console's Add member)
REQUIRED_WHERE = {"email": "where a source's rule says so"}
#: the standard fields derived from a multi-valued attribute a sync source sends, which the member keeps whole
#: (every entry as sent, shown on the member's details): how Field Management says the field is chosen
DERIVED_FROM = {
    key: f"Derived from the {attribute} entries kept as sent: the work one, else the primary one, else the first"
    f" (its {sub})"
    for key, attribute, sub in (
        ("email", "emails", "value"),
        ("mobile", "phoneNumbers", "value"),
        ("work_country", "addresses", "country"),
    )
}

#: database column fragment -> the member field a violated unique constraint names


# ---------------------------------------------------------------- Field Management

FIELD_TYPES = {"text": "Text", "number": "Number", "date": "Date", "option": "Option"}


def list_fields(org_id: int) -> list[Field]:
    """The organization's member fields: the 12 standard ones in the seed's order, then custom ones."""
    return list(
        db.session.scalars(
            select(Field).where(Field.org_id == org_id).order_by(Field.standard.desc(), Field.position, Field.id)
        )
    )


def get_field(org_id: int, field_id: int) -> Field:
    """A member field of the organization, or NotFound."""
    found = db.session.get(Field, field_id)
    if found is None or found.org_id != org_id:
        raise NotFound("No such field")
    return found


def create_field(org_id: int, name: str, field_type: str, actor: Actor, options: list[str] | None = None) -> Field:
    """Add a custom member field (text, number, date or option); a refusal names every field at fault."""
    errors: dict[str, str] = {}
    try:
        name = clean_text(name, Field.name, label="Field name", field="name") or ""
        if not name:
            errors["name"] = "Enter the field's name"
    except Invalid as exc:
        errors["name"] = exc.message
    if field_type not in FIELD_TYPES:
        errors["field_type"] = "Choose a field type: text, number, date or option"
    try:
        choices = [c for c in (clean_text(o, label="An option", field="options") for o in options or []) if c]
    except Invalid as exc:
        errors["options"], choices = exc.message, []
    if "options" not in errors and field_type == "option" and not choices:
        errors["options"] = "An option field needs at least one option"
    if "options" not in errors and len(set(c.lower() for c in choices)) != len(choices):
        errors["options"] = "Each option may appear once"
    if errors:
        raise Invalid.of(errors)
    position = (db.session.scalar(select(func.max(Field.position)).where(Field.org_id == org_id)) or 0) + 1
    created = Field(
        org_id=org_id,
        key=f"custom_{uuid.uuid4().hex[:12]}",
        name=name,
        field_type=field_type,
        options=choices if field_type == "option" else [],
        standard=False,
        scim_attribute=None,
        required=False,
        unique=False,
        position=position,
    )
    try:
        with unique_flush():
            db.session.add(created)
    except Conflict as exc:
        raise Conflict(f"A field named {name!r} already exists", field="name") from exc
    admin_log.record(
        actor,
        org_id,
        "Add field",
        target_type="field",
        target_id=created.id,
        target_name=name,
        changes={"name": [None, name], "type": [None, field_type], "options": [None, created.options or None]},
    )
    return created


def delete_field(org_id: int, field_id: int, actor: Actor) -> None:
    """Delete a custom field; the standard fields of the attribute table stay."""
    found = get_field(org_id, field_id)
    if found.standard:
        raise Invalid("Standard fields cannot be deleted", field="field")
    name = found.name
    db.session.delete(found)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Delete field",
        target_type="field",
        target_id=field_id,
        target_name=name,
        changes={"name": [name, None]},
    )


@dataclass(frozen=True)
class FieldSource:
    """Where a field's values come from: a sync source and its SCIM attribute, or the Admin Console."""

    label: str
    attribute: str | None = None
    #: for the fields the identity rule binds: whether this source requires userName == work email
    rule: str | None = None

    @property
    def text(self) -> str:
        return f"{self.label}: {self.attribute}" if self.attribute else self.label


def scim_attribute_label(attribute: str | None) -> str | None:
    """A SCIM attribute as the seed's table writes it: the enterprise URN shortened to ``EnterpriseExtension.``."""
    if attribute and attribute.startswith(ENTERPRISE_PREFIX):
        return "EnterpriseExtension." + attribute[len(ENTERPRISE_PREFIX) :]
    return attribute


def field_sources(org_id: int, found: Field) -> list[FieldSource]:
    """Each sync source of the organization that writes the field, with the SCIM attribute it reads."""
    if not found.standard or not found.scim_attribute:
        return []
    sources = db.session.scalars(
        select(SyncSource)
        .where(SyncSource.org_id == org_id, SyncSource.deleted_at.is_(None))
        .order_by(SyncSource.name, SyncSource.id)
    )
    return [
        FieldSource(
            f"{s.name} (SCIM)",
            scim_attribute_label(found.scim_attribute),
            _rule_text(s.username_is_email) if found.key in USERNAME_RULE_FIELDS else None,
        )
        for s in sources
    ]


def _rule_text(username_is_email: bool) -> str:
    if username_is_email:
        return f"{USERNAME_IS_EMAIL_LABEL}: On (the work email is required and equal to userName)"
    return f"{USERNAME_IS_EMAIL_LABEL}: Off (the work email is optional and may differ from userName)"


def custom_field_values(org_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Check custom field values against their field types; empty values are dropped.

    Refused with every field at fault at once (``Invalid.of``), so a form shows each error beside its field.
    """
    # A key no field can have (a control character, too long) is not looked up: PostgreSQL refuses a NUL.
    keys = [key for key in raw if text_problem(key, Field.key) is None]
    fields = {
        f.key: f
        for f in db.session.scalars(
            select(Field).where(Field.org_id == org_id, Field.standard.is_(False), Field.key.in_(keys))
        )
    }
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        custom = fields.get(key)
        try:
            if custom is None:
                raise Invalid("No such custom field", field=f"custom.{key}")
            text = clean_text(value, label=custom.name, field=f"custom.{key}")
            if text is not None:
                clean[key] = _typed_value(custom, text)
        except Invalid as exc:
            errors[exc.field or f"custom.{key}"] = exc.message
    if errors:
        raise Invalid.of(errors)
    return clean


def _typed_value(custom: Field, text: str) -> Any:
    where = f"custom.{custom.key}"
    if custom.field_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise Invalid(f"{custom.name} must be a number", field=where) from None
        if not math.isfinite(number):  # "inf", "nan", "1e999": no JSON number (PostgreSQL refuses them)
            raise Invalid(f"{custom.name} must be a number", field=where)
        return int(number) if number.is_integer() else number
    if custom.field_type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise Invalid(f"{custom.name} must be a date (YYYY-MM-DD)", field=where) from None
    if custom.field_type == "option" and text not in custom.options:
        raise Invalid(f"Choose one of the options of {custom.name}", field=where)
    return text
