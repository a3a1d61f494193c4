"""Administrators of an organization: add, sign in, permissions, status, passwords, the primary role.

The one module for administrators, whichever door asks (console, CLI, ``create_organization``).
Every change writes its admin log entry here, so neither the console nor the CLI can skip it.
Passwords never reach the log: entries say what happened, not the secret. The password policy
and the password hash live here too, the same for every door.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from portal.core import admin_log, notifications
from portal.core.actors import Actor
from portal.core.contact import email_problem
from portal.core.errors import Conflict, Forbidden, Invalid, NotFound
from portal.core.text import clean_text
from portal.extensions import db
from portal.models import PERMISSION_LABELS, PERMISSIONS, Admin, Organization, PasswordResetToken, norm, utcnow

#: how long a set-password link works
SET_PASSWORD_LINK_LIFETIME = timedelta(hours=48)
#: how a new or reset administrator gets a password
DELIVERIES = ("password", "link")

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the password policy and hash

PASSWORD_MIN_LENGTH = 12
#: bcrypt-style limits do not apply to scrypt, but an unbounded input lets anyone burn CPU
PASSWORD_MAX_LENGTH = 256

TOO_SHORT = f"Use at least {PASSWORD_MIN_LENGTH} characters."
TOO_LONG = f"Use at most {PASSWORD_MAX_LENGTH} characters."
TOO_COMMON = "This password is on a list of commonly used passwords. Choose one that is harder to guess."

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn (Dropbox's estimator, Python port) ships the 30,000 most common passwords of
    # the Xato 10-million-password corpus; loaded on first use, not at import time.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_common(password: str) -> bool:
    folded = _SPACES.sub("", password).lower()
    common = _common_passwords()
    if folded in common:
        return True
    # "qwertyqwerty", "passwordpassword": a common password repeated is no better.
    for size in range(1, len(folded) // 2 + 1):
        if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
            return folded[:size] in common or size <= 2
    return False


def check_password_policy(password: str, field: str = "password") -> None:
    """Raise Invalid (naming ``field``) unless the password is long enough and not a common one."""
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise Invalid(TOO_SHORT, field=field)
    if len(password) > PASSWORD_MAX_LENGTH:
        raise Invalid(TOO_LONG, field=field)
    if _is_common(password):
        raise Invalid(TOO_COMMON, field=field)


def hash_password(password: str) -> str:
    """A slow salted hash (werkzeug's scrypt) of a password that passed the policy."""
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash."""
    return check_password_hash(password_hash, password)


def generate_password() -> str:
    """A random initial password that passes the policy (about 96 bits)."""
    return secrets.token_urlsafe(12)


# Checked against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = hash_password("not-a-password-of-anyone")


def check_credentials(email: str, password: str) -> Admin | None:
    """The active admin with this email and password, or None; records the sign-in time."""
    admin = db.session.scalar(select(Admin).where(Admin.email_norm == norm(email))) if email else None
    if admin is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(admin.password_hash, password) or not admin.active:
        return None
    admin.last_login_at = utcnow()
    return admin


# ---------------------------------------------------------------- administrators


@dataclass(frozen=True)
class Credentials:
    """What to hand to the administrator once: an initial password or a set-password token."""

    admin: Admin
    password: str | None = None
    token: str | None = None


def permission_labels(admin: Admin) -> list[str]:
    """The labels of the permissions held, in the order of PERMISSIONS."""
    return [PERMISSION_LABELS[p] for p in PERMISSIONS if p in admin.permissions]


def status_label(admin: Admin) -> str:
    """ "Active" or "Inactive"."""
    return "Active" if admin.active else "Inactive"


def list_admins(org_id: int, *, page: int = 1, per_page: int = 50) -> tuple[list[Admin], int]:
    """One page of the organization's administrators (primary first, then by name) and the total."""
    total = db.session.scalar(select(func.count()).select_from(Admin).where(Admin.org_id == org_id)) or 0
    rows = db.session.scalars(
        select(Admin)
        .where(Admin.org_id == org_id)
        .order_by(case((Admin.role == "primary", 0), else_=1), func.lower(Admin.name), Admin.email_norm)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    return list(rows), total


def get_admin(org_id: int, admin_id: int, *, lock: bool = False) -> Admin:
    """An administrator of the organization, or NotFound; ``lock`` reads it fresh and locks it until commit."""
    if lock:
        # A change decides on the row as it is now (role, status), not as an earlier read saw it.
        admin = db.session.scalar(
            select(Admin).where(Admin.id == admin_id).with_for_update().execution_options(populate_existing=True)
        )
    else:
        admin = db.session.get(Admin, admin_id)
    if admin is None or admin.org_id != org_id:
        raise NotFound("No such administrator")
    return admin


def _clean_permissions(permissions: Iterable[str]) -> set[str]:
    chosen = set(permissions)
    unknown = chosen - set(PERMISSIONS)
    if unknown:
        raise Invalid(f"Unknown permission {sorted(unknown)[0]!r}", field="permissions")
    return chosen


def _check_delivery(delivery: str) -> None:
    if delivery not in DELIVERIES:
        raise Invalid("Choose how the administrator gets a password", field="delivery")


def _editable(org_id: int, admin_id: int, actor: Actor, what: str) -> Admin:
    """The administrator another administrator may change: never the primary, never oneself."""
    admin = get_admin(org_id, admin_id, lock=True)
    if admin.is_primary:
        raise Invalid(f"The primary administrator's {what} cannot be changed. Transfer the primary role first.")
    if actor.admin is not None and actor.admin.id == admin.id:
        raise Invalid(f"You cannot change your own {what} here.")
    return admin


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoke_tokens(admin: Admin) -> None:
    """End every unused set-password link of the admin."""
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.admin_id == admin.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _issue_token(admin: Admin) -> str:
    """A new set-password token; earlier unused links of the admin stop working."""
    _revoke_tokens(admin)
    now = utcnow()
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordResetToken(
            admin_id=admin.id,
            token_hash=_token_hash(token),
            expires_at=now + SET_PASSWORD_LINK_LIFETIME,
            created_at=now,
        )
    )
    db.session.flush()
    return token


#: an address of this organization's administrators: the primary sees them listed, so saying so tells nothing new
EMAIL_TAKEN = "An administrator with this email already exists"
#: an address an administrator of another organization holds. Sign-in is by email alone, so the address is
#: unique across organizations; the refusal must still not tell one tenant who administers another.
EMAIL_UNAVAILABLE = "This email address cannot be used for an administrator. Use another address."


def check_email_address(email: str) -> str:
    """The address stripped, or Invalid: an address ``contact.email_problem`` accepts (the members' check too).

    The address becomes a mail's recipient, so a CR/LF, a NUL or any other character outside an address
    is refused before a row exists.
    """
    email = (email or "").strip()
    problem = email_problem(email)
    if problem is not None:
        raise Invalid(problem, field="email")
    return email


def _email_taken(*, same_org: bool) -> Conflict:
    return Conflict(EMAIL_TAKEN if same_org else EMAIL_UNAVAILABLE, field="email")


def create_admin(
    org: Organization,
    email: str,
    password: str,
    actor: Actor,
    *,
    name: str = "",
    role: str = "admin",
    permissions: Iterable[str] = (),
    summary: str | None = None,
    must_change_password: bool = False,
) -> Admin:
    """Create an administrator of ``org`` with a hashed password that passes the policy; log "Add administrator".

    Every administrator comes to be here: the console's ``add_administrator``, the CLI's ``admin create``
    and the primary of ``create_organization``. So each leaves the same entry, whoever the actor.
    ``must_change_password``: the password is an initial one someone else saw; the administrator must
    choose their own at their first sign-in.
    """
    email = check_email_address(email)
    name = clean_text(name, Admin.name, label="Name", field="name") or ""
    chosen = _clean_permissions(permissions)
    check_password_policy(password)
    holder = db.session.scalar(select(Admin.org_id).where(Admin.email_norm == norm(email)))
    if holder is not None:
        raise _email_taken(same_org=holder == org.id)
    admin = Admin(
        org_id=org.id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        **{f"perm_{permission}": permission in chosen for permission in PERMISSIONS},
    )
    db.session.add(admin)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another request took the email between the look and the insert; the door rolls back.
        if "email_norm" in str(exc.orig):
            raise _email_taken(same_org=False) from exc
        raise
    admin_log.record(
        actor,
        org.id,
        "Add administrator",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        changes=admin_log.diff({}, {"name": admin.name or None, "permissions": permission_labels(admin)}),
        summary=summary,
    )
    return admin


def add_administrator(
    org_id: int, actor: Actor, *, name: str, email: str, permissions: Iterable[str], delivery: str
) -> Credentials:
    """Add an administrator with ``permissions``; they get an initial password or a set-password link.

    A refusal names every field at fault at once (name, email, permissions, delivery).
    """
    errors: dict[str, str] = {}
    for check in (
        lambda: _required_name(name),
        lambda: check_email_address(email),
        lambda: _clean_permissions(permissions),
        lambda: _check_delivery(delivery),
    ):
        try:
            check()
        except Invalid as exc:
            errors.setdefault(exc.field or "form", exc.message)
    if errors:
        raise Invalid.of(errors)
    name = _required_name(name)
    chosen = _clean_permissions(permissions)
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization")
    # With a link the random password is never shown: nobody knows it until the link sets one.
    initial = generate_password()
    admin = create_admin(
        org,
        email,
        initial,
        actor,
        name=name,
        permissions=chosen,
        summary="Initial password shown once" if delivery == "password" else "Set-password link sent",
        must_change_password=delivery == "password",
    )
    if delivery == "password":
        return Credentials(admin, password=initial)
    return Credentials(admin, token=_issue_token(admin))


def _required_name(name: str) -> str:
    """An administrator's name as stored: required, one line, as long as the column holds."""
    cleaned = clean_text(name, Admin.name, label="Name", field="name") or ""
    if not cleaned:
        raise Invalid("Enter a name", field="name")
    return cleaned


def edit_permissions(org_id: int, admin_id: int, permissions: Iterable[str], actor: Actor) -> Admin:
    """Replace an administrator's permissions; they apply from the admin's next request."""
    admin = _editable(org_id, admin_id, actor, "permissions")
    chosen = _clean_permissions(permissions)
    before = permission_labels(admin)
    for permission in PERMISSIONS:
        setattr(admin, f"perm_{permission}", permission in chosen)
    db.session.flush()
    after = permission_labels(admin)
    if before != after:
        admin_log.record(
            actor,
            org_id,
            "Edit administrator permissions",
            target_type="admin",
            target_id=admin.id,
            target_name=admin.email,
            changes={"permissions": [before, after]},
        )
    return admin


def set_active(org_id: int, admin_id: int, active: bool, actor: Actor) -> Admin:
    """Deactivate (ending their open sessions) or reactivate an administrator."""
    admin = _editable(org_id, admin_id, actor, "status")
    if admin.active == active:
        return admin
    before = status_label(admin)
    admin.active = active
    if not active:
        # The session id carries the version: every open session of the admin ends at its next request.
        admin.session_version += 1
        _revoke_tokens(admin)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Reactivate administrator" if active else "Deactivate administrator",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        changes={"status": [before, status_label(admin)]},
    )
    return admin


def reset_password(org_id: int, admin_id: int, actor: Actor, *, delivery: str) -> Credentials:
    """Give an administrator a new initial password or a set-password link; either ends their sessions and links.

    In the console the primary administrator resets the others. The CLI (``flask admin reset-password``, run
    by whoever runs the server) resets anyone, the primary too: the way back in when the primary forgot.
    An initial password must be changed at the next sign-in.
    """
    if actor.kind == "cli":
        admin = get_admin(org_id, admin_id, lock=True)
    else:
        admin = _editable(org_id, admin_id, actor, "password")
    _check_delivery(delivery)
    if not admin.active:
        raise Invalid("Reactivate the administrator before resetting their password.")
    # Either way every open session ends and every earlier link stops working: a reset is asked for
    # when the password, a session or a link may be in the wrong hands.
    admin.session_version += 1
    if delivery == "password":
        initial = generate_password()
        admin.password_hash = hash_password(initial)
        admin.must_change_password = True
        _revoke_tokens(admin)
        result = Credentials(admin, password=initial)
    else:
        result = Credentials(admin, token=_issue_token(admin))
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Reset password",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        summary="New initial password shown once" if delivery == "password" else "Set-password link sent",
    )
    return result


def find_admin(org_id: int, email: str) -> Admin:
    """The administrator of the organization with this email (any case), or NotFound."""
    admin = db.session.scalar(select(Admin).where(Admin.org_id == org_id, Admin.email_norm == norm(email or "")))
    if admin is None:
        raise NotFound("No administrator of this organization has this email")
    return admin


def request_password_reset(email: str, ip: str | None = None) -> tuple[Admin, str] | None:
    """The sign-in page's "Forgot password?": a set-password link for the active administrator with this email.

    None when no active administrator has it: the door answers the same either way, so the page never tells
    who is an administrator. Earlier unused links of the admin stop working; their sessions go on (asking for
    a link is no proof the password leaked, and anyone may ask). The Admin log records it.
    """
    cleaned = (email or "").strip()
    if not cleaned or email_problem(cleaned) is not None:
        return None
    admin = db.session.scalar(select(Admin).where(Admin.email_norm == norm(cleaned)))
    if admin is None or not admin.active:
        return None
    token = _issue_token(admin)
    admin_log.record(
        Actor.for_admin(admin, ip),
        admin.org_id,
        "Reset password",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        summary="Set-password link requested from the sign-in page",
    )
    return admin, token


def _take_email(admin: Admin, email: str) -> None:
    """Give ``admin`` the address ``email`` (checked, free in every organization) before the flush."""
    holder = db.session.scalar(select(Admin).where(Admin.email_norm == norm(email), Admin.id != admin.id))
    if holder is not None:
        raise _email_taken(same_org=holder.org_id == admin.org_id)
    admin.email = email


def edit_admin(org_id: int, admin_id: int, actor: Actor, *, name: str, email: str) -> Admin:
    """The primary administrator changes an administrator's name and sign-in email (their own too).

    Both fields are checked together (``Invalid.of``); the address stays unique across organizations, as on
    create. The Admin log's "Edit administrator" entry shows before and after.
    """
    admin = get_admin(org_id, admin_id, lock=True)
    errors: dict[str, str] = {}
    new_name, new_email = admin.name, admin.email
    try:
        new_name = _required_name(name)
    except Invalid as exc:
        errors["name"] = exc.message
    try:
        new_email = check_email_address(email)
    except Invalid as exc:
        errors["email"] = exc.message
    if errors:
        raise Invalid.of(errors)
    before = {"name": admin.name or None, "email": admin.email}
    if norm(new_email) != admin.email_norm or new_email != admin.email:
        _take_email(admin, new_email)
    admin.name = new_name
    try:
        db.session.flush()
    except IntegrityError as exc:  # another request took the address between the look and the flush
        if "email_norm" in str(exc.orig):
            raise _email_taken(same_org=False) from exc
        raise
    _log_edit(actor, admin, before)
    return admin


def edit_own_name(admin: Admin, name: str, actor: Actor) -> Admin:
    """An administrator changes their own name on the profile page (the email only the primary changes)."""
    new_name = _required_name(name)
    before = {"name": admin.name or None, "email": admin.email}
    admin.name = new_name
    db.session.flush()
    _log_edit(actor, admin, before)
    return admin


def _log_edit(actor: Actor, admin: Admin, before: dict[str, Any]) -> None:
    changes = admin_log.diff(before, {"name": admin.name or None, "email": admin.email})
    if changes:
        admin_log.record(
            actor,
            admin.org_id,
            "Edit administrator",
            target_type="admin",
            target_id=admin.id,
            target_name=admin.email,
            changes=changes,
        )


def links_by_mail() -> bool:
    """Whether set-password links leave by email (``SMTP_URL`` is set); else someone hands them over."""
    return bool(current_app.config.get("SMTP_URL"))


def send_set_password_link(admin: Admin, url: str) -> bool:
    """Email the set-password link after commit; without SMTP_URL write it to the server log. True when emailed."""
    text = (
        f"You are an administrator of {admin.org.name} in Directory Sync Portal.\n\n"
        f"Set your password here (the link works once, for {SET_PASSWORD_LINK_LIFETIME.days * 24} hours):\n"
        f"{url}\n"
    )
    if notifications.queue_mail(admin.email, "Set your Directory Sync Portal password", text):
        return True
    # No mail server: the operator hands the link over. It is a one-time secret, never a password.
    # The one log line meant to carry the link: the secret-path filter (portal.infra.logs) lets it through.
    log.warning("SMTP_URL is not set; set-password link for %s: %s", admin.email, url, extra={"shows_secret": True})
    return False


def transfer_candidates(org_id: int) -> list[Admin]:
    """Active administrators who could become the primary, by name."""
    return list(
        db.session.scalars(
            select(Admin)
            .where(Admin.org_id == org_id, Admin.role != "primary", Admin.active.is_(True))
            .order_by(func.lower(Admin.name), Admin.email_norm)
        )
    )


def valid_token(token: str) -> PasswordResetToken | None:
    """The unused, unexpired set-password token of an active administrator, or None."""
    row = db.session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token or "")))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    admin = db.session.get(Admin, row.admin_id)
    return row if admin is not None and admin.active else None


def set_password_with_token(token: str, password: str, confirm: str, ip: str | None = None) -> Admin:
    """Set an administrator's password through a set-password link; the link works once."""
    row = valid_token(token)
    if row is None:
        raise Invalid(
            "This link has expired or was already used. Ask your primary administrator for a new one.", field="token"
        )
    _check_new_password(password, confirm)
    # Mark it used only if nobody else did in the meantime: two tabs cannot both use one link.
    # Session.execute is typed Result for any statement; an UPDATE's is a CursorResult, which counts rows.
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        raise Invalid("This link was already used.", field="token")
    admin = db.session.get(Admin, row.admin_id)
    assert admin is not None
    admin.password_hash = hash_password(password)
    admin.must_change_password = False
    admin.session_version += 1
    _revoke_tokens(admin)  # any other link of the admin ends with this one
    db.session.flush()
    admin_log.record(
        Actor.for_admin(admin, ip),
        admin.org_id,
        "Reset password",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        summary="Password set with a set-password link",
    )
    return admin


def _check_new_password(password: str, confirm: str) -> None:
    check_password_policy(password, field="new_password")
    if password != confirm:
        raise Invalid("The passwords do not match.", field="confirm_password")


def change_own_password(admin: Admin, current: str, new: str, confirm: str, actor: Actor) -> Admin:
    """Change one's own password; the current one is required. Other open sessions and unused links end."""
    if not verify_password(admin.password_hash, current or ""):
        raise Invalid("The current password is incorrect.", field="current_password")
    _check_new_password(new, confirm)
    if new == current:
        raise Invalid("Choose a password different from the current one.", field="new_password")
    admin.password_hash = hash_password(new)
    admin.must_change_password = False
    admin.session_version += 1
    # A link sent before would otherwise set yet another password and end this session.
    _revoke_tokens(admin)
    db.session.flush()
    admin_log.record(
        actor,
        admin.org_id,
        "Reset password",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        summary="Changed their own password",
    )
    return admin


def sign_out(admin: Admin) -> None:
    """End every open session of the administrator, this one included.

    A session is a signed cookie the browser may have copied; the server keeps no list of them, but
    the session id carries ``session_version`` (``Admin.get_id``), so bumping it refuses every cookie
    issued before, the session cookie and a remember-me cookie alike, at their next request.
    """
    admin.session_version += 1
    db.session.flush()


def sign_out_everywhere(admin: Admin, actor: Actor) -> None:
    """The profile's "Sign out everywhere": every session of the administrator ends, and the Admin log says so."""
    sign_out(admin)
    admin_log.record(
        actor,
        admin.org_id,
        "Sign out everywhere",
        target_type="admin",
        target_id=admin.id,
        target_name=admin.email,
        summary="Every signed-in session of the administrator ended",
    )


def transfer_primary(org_id: int, to_admin_id: int | str, actor: Actor, *, password: str) -> Admin:
    """Hand the primary role to another active administrator; the old primary keeps every permission."""
    if actor.admin is None:
        raise Forbidden("Only the primary administrator can transfer the role")
    # Lock the primary row: two transfers at once queue here instead of racing (PostgreSQL).
    old = db.session.scalar(
        select(Admin)
        .where(Admin.org_id == org_id, Admin.role == "primary")
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if old is None or old.id != actor.admin.id:
        raise Forbidden("Only the primary administrator can transfer the role")
    if not verify_password(old.password_hash, password or ""):
        raise Invalid("The password is incorrect.", field="password")
    try:
        new = get_admin(org_id, int(to_admin_id), lock=True)
    except (NotFound, TypeError, ValueError):
        raise Invalid("Choose an administrator", field="admin_id") from None
    if new.id == old.id:
        raise Invalid("You are the primary administrator already.", field="admin_id")
    if not new.active:
        raise Invalid("Reactivate the administrator before making them primary.", field="admin_id")
    # Demote first and flush, then promote: the partial unique index uq_admins_one_primary
    # never sees two primaries, on SQLite or PostgreSQL, whatever the row order of the flush.
    old.role = "admin"
    for permission in PERMISSIONS:
        setattr(old, f"perm_{permission}", True)
    try:
        db.session.flush()
        new.role = "primary"
        db.session.flush()
    except IntegrityError as exc:
        raise Conflict("The primary administrator changed meanwhile. Reload the page.") from exc
    admin_log.record(
        actor,
        org_id,
        "Transfer primary administrator",
        target_type="admin",
        target_id=new.id,
        target_name=new.email,
        changes={"primary administrator": [old.email, new.email]},
    )
    return new
