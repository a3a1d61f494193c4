"""Administrator credentials: checking a sign-in."""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db
from portal.models import Admin, norm, utcnow

# Checked against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-password-of-anyone")


def check_credentials(email: str, password: str) -> Admin | None:
    """The active admin with this email and password, or None; records the sign-in time."""
    admin = db.session.scalar(select(Admin).where(Admin.email_norm == norm(email))) if email else None
    if admin is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(admin.password_hash, password) or not admin.active:
        return None
    admin.last_login_at = utcnow()
    return admin
