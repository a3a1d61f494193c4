"""The signed-in administrator's profile (change own password, sign out everywhere) and the set-password link page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, make_response, redirect, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.core import administrators
from portal.core.errors import DomainError
from portal.views.web import current_actor, refusal, render, wants_fragment

from ..extensions import limiter

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
        changed=changed,
    )


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
