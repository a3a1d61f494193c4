"""Who is signed in, and what they may open. Every console view goes through ``require``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from portal.extensions import db, htmx, login_manager
from portal.models import Admin

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def _load_admin(session_id: str) -> Admin | None:
    # "id:session_version": a bumped version (deactivation, password reset) ends old sessions.
    admin_id, _, version = session_id.partition(":")
    if not admin_id.isdigit() or not version.isdigit():
        return None
    admin = db.session.get(Admin, int(admin_id))
    if admin is None or not admin.active or admin.session_version != int(version):
        return None
    return admin


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if htmx:
        # Swapping the login page into a fragment target would be wrong: send the whole page there.
        resp = make_response("", 401)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target)


def require(permission: str | None = None, *, primary: bool = False) -> Callable[[F], F]:
    """Sign-in plus a permission (``org_data_sync``, ``admin_log``, ``directory``) or primary role; else 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if primary and not current_user.is_primary:
                abort(403)
            if permission is not None and not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def init_app(app: Flask) -> None:
    """Configure flask-login for the console."""
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
