"""Test data made through the domain, committed, returned as plain ids."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.extensions import db


class OrgData:
    """Ids and credentials of an organization made for a test."""

    def __init__(self, org_id: int, name: str, admin_id: int, email: str, password: str) -> None:
        self.id = org_id
        self.name = name
        self.admin_id = admin_id
        self.email = email
        self.password = password


def make_org(
    app: Any, name: str = "Acme", email: str = "owner@acme.test", password: str = "correct horse battery staple"
) -> OrgData:
    """Create an organization with its primary administrator and commit."""
    from portal.core import organizations
    from portal.core.actors import Actor

    with app.app_context():
        org = organizations.create_organization(name, email, password, Actor.cli())
        db.session.commit()
        from portal.models import Admin

        admin = db.session.scalar(sa.select(Admin).where(Admin.org_id == org.id))
        return OrgData(org.id, name, admin.id, email, password)


def make_admin(
    app: Any, org: OrgData, email: str, permissions: set[str], password: str = "another long password"
) -> int:
    """Create a non-primary administrator with ``permissions`` and commit; return its id."""
    from portal.core import administrators
    from portal.core.actors import Actor
    from portal.models import Organization

    with app.app_context():
        admin = administrators.create_admin(
            db.session.get(Organization, org.id), email, password, Actor.cli(), permissions=permissions
        )
        db.session.commit()
        return admin.id
