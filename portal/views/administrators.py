"""Settings > Administrators: the primary administrator manages who may do what (issue 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user

from portal.core import administrators
from portal.core.errors import DomainError, Forbidden
from portal.views.access import require
from portal.views.web import current_actor, refusal, render, wants_fragment

from ..extensions import limiter
from ..models import PERMISSION_LABELS, PERMISSIONS, Admin

bp = Blueprint("administrators", __name__, url_prefix="/settings/administrators")

PER_PAGE = 50

#: what each permission opens, shown under its checkbox
PERMISSION_HELP = {
    "org_data_sync": "Directory Sync: add sync sources, tokens, attribute mapping and sync logs.",
    "admin_log": "Compliance > Admin log: read every configuration change.",
    "directory": "Organization: members, departments, user groups and fields.",
    "api_keys": "Settings > API keys: create and revoke the keys other services read the directory with.",
}


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "permissions": [(p, PERMISSION_LABELS[p], PERMISSION_HELP[p]) for p in PERMISSIONS],
        "permission_labels": administrators.permission_labels,
        **extra,
    }


def link_url(token: str) -> str:
    """The address of a set-password link, as its recipient opens it (the sign-in page's link uses it too)."""
    # Behind a proxy the configured public address is the one an email recipient can open.
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if base:
        return base + url_for("account.set_password", token=token)
    return url_for("account.set_password", token=token, _external=True)


def _credentials(creds: administrators.Credentials, action: str) -> Any:
    """The one page that ever shows an initial password, or says where the set-password link went."""
    # The email is queued and leaves after the request's commit (notifications.queue_mail).
    emailed = administrators.send_set_password_link(creds.admin, link_url(creds.token)) if creds.token else False
    return render(
        "administrators/credentials.html",
        "administrators/_credentials.html",
        **_context(admin=creds.admin, password=creds.password, emailed=emailed, action=action),
    )


@bp.route("/")
@require(primary=True)
def index() -> Any:
    """The administrators of the organization with their role, permissions, status and last sign-in."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = administrators.list_admins(current_user.org_id, page=page, per_page=PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render(
        "administrators/index.html",
        "administrators/_table.html",
        **_context(
            rows=rows,
            total=total,
            page_number=page,
            pages=pages,
            page_url=lambda n: url_for("administrators.index", page=n),
        ),
    )


def _add_limit() -> str:
    # Emails are unique across organizations, so a refused add says "this address is taken somewhere":
    # adds are limited like sign-ins, and a primary cannot sweep a list of addresses to learn whose they are.
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/new", methods=["GET", "POST"])
@require(primary=True)
@limiter.limit(_add_limit, methods=["POST"])
def add() -> Any:
    """Add administrator: name, email, permissions, and an initial password or a set-password link."""
    values: dict[str, Any] = {"name": "", "email": "", "permissions": [], "delivery": "password"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {
            "name": request.form.get("name", ""),
            "email": request.form.get("email", ""),
            "permissions": request.form.getlist("permissions"),
            "delivery": request.form.get("delivery", "password"),
        }
        try:
            creds = administrators.add_administrator(current_user.org_id, current_actor(), **values)
        except DomainError as exc:
            errors = refusal(exc)
        else:
            return _credentials(creds, "added")
    return render(
        "administrators/new.html",
        "administrators/_add_form.html",
        status=422 if errors else 200,
        **_context(values=values, errors=errors),
    )


@bp.route("/<int:admin_id>")
@require(primary=True)
def detail(admin_id: int) -> Any:
    """One administrator: details, permissions, password and status."""
    return _detail(administrators.get_admin(current_user.org_id, admin_id))


def _detail(
    admin: Admin,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    values: dict[str, str] | None = None,
) -> Any:
    return render(
        "administrators/detail.html",
        "administrators/_detail.html",
        status=status,
        **_context(admin=admin, errors=errors or {}, notice=notice, values=values or {}),
    )


@bp.route("/<int:admin_id>/details", methods=["POST"])
@require(primary=True)
def edit_details(admin_id: int) -> Any:
    """Save an administrator's name and sign-in email (every error at once; the Admin log records it)."""
    values = {"name": request.form.get("name", ""), "email": request.form.get("email", "")}
    admin = administrators.get_admin(current_user.org_id, admin_id)
    try:
        administrators.edit_admin(admin.org_id, admin.id, current_actor(), **values)
    except DomainError as exc:
        errors = refusal(exc)
        return _detail(
            administrators.get_admin(current_user.org_id, admin_id), status=422, errors=errors, values=values
        )
    return _detail(admin, notice="Details saved.")


def _change(admin_id: int, change: Callable[[Admin], Any], notice: str) -> Any:
    """Apply one change to an administrator and answer with their page: 422 and nothing written on a refusal."""
    admin = administrators.get_admin(current_user.org_id, admin_id)
    try:
        change(admin)
    except Forbidden:
        abort(403)
    except DomainError as exc:
        errors = refusal(exc)
        return _detail(administrators.get_admin(current_user.org_id, admin_id), status=422, errors=errors)
    return _detail(admin, notice=notice)


@bp.route("/<int:admin_id>/permissions", methods=["POST"])
@require(primary=True)
def edit_permissions(admin_id: int) -> Any:
    """Save permissions; they take effect at the administrator's next request."""
    return _change(
        admin_id,
        lambda a: administrators.edit_permissions(a.org_id, a.id, request.form.getlist("permissions"), current_actor()),
        "Permissions saved. They apply from the administrator's next page load.",
    )


@bp.route("/<int:admin_id>/deactivate", methods=["POST"])
@require(primary=True)
def deactivate(admin_id: int) -> Any:
    """Deactivate administrator: no more sign-in, open sessions end at their next request."""
    return _change(
        admin_id,
        lambda a: administrators.set_active(a.org_id, a.id, False, current_actor()),
        "Administrator deactivated. Their open sessions have ended.",
    )


@bp.route("/<int:admin_id>/reactivate", methods=["POST"])
@require(primary=True)
def reactivate(admin_id: int) -> Any:
    """Reactivate administrator: they can sign in again with their password."""
    return _change(
        admin_id,
        lambda a: administrators.set_active(a.org_id, a.id, True, current_actor()),
        "Administrator reactivated.",
    )


@bp.route("/<int:admin_id>/reset-password", methods=["POST"])
@require(primary=True)
def reset_password(admin_id: int) -> Any:
    """Reset password: a new initial password shown once, or a set-password link."""
    admin = administrators.get_admin(current_user.org_id, admin_id)
    try:
        creds = administrators.reset_password(
            admin.org_id, admin.id, current_actor(), delivery=request.form.get("delivery", "password")
        )
    except DomainError as exc:
        errors = refusal(exc)
        return _detail(administrators.get_admin(current_user.org_id, admin_id), status=422, errors=errors)
    return _credentials(creds, "reset")


@bp.route("/transfer", methods=["GET", "POST"])
@require(primary=True)
def transfer() -> Any:
    """Transfer primary administrator, confirmed with the primary's password."""
    errors: dict[str, str] = {}
    chosen = request.form.get("admin_id", request.args.get("admin_id", ""))
    if request.method == "POST":
        try:
            new = administrators.transfer_primary(
                current_user.org_id, chosen, current_actor(), password=request.form.get("password", "")
            )
        except Forbidden:
            abort(403)
        except DomainError as exc:
            errors = refusal(exc)
        else:
            flash(f"{new.display_name} is now the primary administrator. You keep every permission.")
            target = url_for("account.index")
            if wants_fragment():
                # The navigation changes with the role: load a whole page, not a fragment.
                response = make_response("", 204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
    return render(
        "administrators/transfer.html",
        "administrators/_transfer_form.html",
        status=422 if errors else 200,
        **_context(
            candidates=[
                (a.id, f"{a.display_name} ({a.email})") for a in administrators.transfer_candidates(current_user.org_id)
            ],
            chosen=chosen,
            errors=errors,
        ),
    )
