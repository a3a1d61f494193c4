"""The signed-in administrator's profile (change own password, sign out everywhere) and the set-password link page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.core import administrators
from portal.core.errors import DomainError
from portal.views.web import current_actor, is_console, refusal, render, wants_fragment

from ..extensions import htmx, limiter

bp = Blueprint("account", __name__)


def _password_limit() -> str:
    # Checking the current password is a sign-in in disguise: same limit as /login.
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(_password_limit, methods=["POST"])
def index() -> Any:
    """Profile: who I am, what I may do, and Change password (current password required)."""
    admin = current_user._get_current_object()
    errors: dict[str, str] = {}
    changed = False
    if request.method == "POST":
        form = request.form
        try:
            administrators.change_own_password(
                admin,
                form.get("current_password", ""),
                form.get("new_password", ""),
                form.get("confirm_password", ""),
                current_actor(),
            )
        except DomainError as exc:
            errors = refusal(exc)
        else:
            # The bumped session version ended every session of this admin; keep this one.
            login_user(admin)
            changed = True
    return render(
        "account/index.html",
        "account/_password_form.html",
        status=422 if errors else 200,
        admin=admin,
        permission_labels=administrators.permission_labels(admin),
        errors=errors,
        name_errors={},
        name_value=admin.name,
        changed=changed,
    )


@bp.route("/account/name", methods=["POST"])
@login_required
def edit_name() -> Any:
    """The profile's Name: an administrator changes their own name (the Admin log records it)."""
    admin = current_user._get_current_object()
    try:
        administrators.edit_own_name(admin, request.form.get("name", ""), current_actor())
    except DomainError as exc:
        errors = refusal(exc)
        return render(
            "account/index.html",
            status=422,
            admin=admin,
            permission_labels=administrators.permission_labels(admin),
            errors={},
            name_errors=errors,
            name_value=request.form.get("name", ""),
            changed=False,
        )
    flash("Your name was saved.")
    return redirect(url_for("account.index"))


#: what an administrator who must choose a password may still open: the change form, signing out, the
#: set-password link page and the static files it needs
_WHILE_CHANGING = {
    "account.change_password",
    "auth.logout",
    "auth.login",
    "auth.forgot_password",
    "account.set_password",
    "static",
}


def _require_own_password() -> Any:
    """Send an administrator holding an initial password to the change form, from every console page."""
    if request.endpoint in _WHILE_CHANGING or request.endpoint is None or not is_console(current_app, request.path):
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    target = url_for("account.change_password")
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


bp.before_app_request(_require_own_password)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_password_limit, methods=["POST"])
def change_password() -> Any:
    """Choose your own password: required after an initial one (added or reset with it), before anything else."""
    admin = current_user._get_current_object()
    if not admin.must_change_password and request.method == "GET":
        return redirect(url_for("account.index") + "#change-password")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            administrators.change_own_password(
                admin,
                request.form.get("current_password", ""),
                request.form.get("new_password", ""),
                request.form.get("confirm_password", ""),
                current_actor(),
            )
        except DomainError as exc:
            errors = refusal(exc)
        else:
            login_user(admin)  # the bumped session version ended every session; keep this one
            return redirect(url_for("home.index"))
    return render("account/change_password.html", status=422 if errors else 200, admin=admin, errors=errors)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere() -> Any:
    """End every session of the signed-in administrator, on every device and this one; log it."""
    administrators.sign_out_everywhere(current_user._get_current_object(), current_actor())
    logout_user()
    target = url_for("auth.login")
    if wants_fragment():
        # A whole page, the sign-in page, replaces the console: no fragment of it is left to update.
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Any:
    """The page a set-password link opens: choose a password, once, before the link expires."""
    errors: dict[str, str] = {}
    done = False
    valid = administrators.valid_token(token) is not None
    if request.method == "POST" and valid:
        try:
            administrators.set_password_with_token(
                token,
                request.form.get("new_password", ""),
                request.form.get("confirm_password", ""),
                request.remote_addr,
            )
        except DomainError as exc:
            errors = refusal(exc)
            valid = exc.field != "token"
        else:
            done = True
    status = 422 if errors else (200 if valid or done else 410)
    return render("account/set_password.html", status=status, token=token, valid=valid, done=done, errors=errors)
