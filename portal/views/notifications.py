"""Notifications: the header bell and the administrator's notification list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_required

from portal.core import notifications
from portal.core.errors import NotFound
from portal.views.web import render

from ..extensions import db
from ..models import Notification
from .paging import page_number, pager

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PER_PAGE = 20


@bp.app_template_global("unread_notifications")
def unread_notifications() -> int:
    """The signed-in admin's unread count, for the bell on every page."""
    return notifications.unread_count(current_user.id) if current_user.is_authenticated else 0


@bp.route("/")
@login_required
def index() -> Any:
    """The admin's notifications, latest activity first."""
    number = page_number()
    rows, total = notifications.for_admin(current_user.id, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return render(
        "notifications/index.html",
        "notifications/_list.html",
        title="Notifications",
        notifications=rows,
        causes=notifications.causes,
        pager=pager("notifications.index", total, PER_PAGE, number),
    )


@bp.route("/bell")
@login_required
def bell() -> Any:
    """The bell alone, re-rendered when notifications change."""
    return render("notifications/_bell.html")


@bp.route("/read", methods=["POST"])
@login_required
def read_all() -> Any:
    """Mark every notification of the admin read."""
    notifications.mark_read(current_user.id)
    if request.headers.get("HX-Request"):
        response = index()
        response.headers["HX-Trigger"] = "notifications-changed"
        return response
    return redirect(url_for("notifications.index"))


@bp.route("/<int:notification_id>/open", methods=["POST"])
@login_required
def open_one(notification_id: int) -> Any:
    """Mark one notification read and go where it points (the sync log)."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.admin_id != current_user.id:
        raise NotFound("no such notification")
    notifications.mark_read(current_user.id, note.id)
    # Links are written by the domain and always local paths.
    target = note.link if note.link and note.link.startswith("/") and not note.link.startswith("//") else None
    return redirect(target or url_for("notifications.index"))
