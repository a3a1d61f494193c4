"""Settings > Webhooks: endpoints that receive the organization's change events, signed (issue 16).

For the primary administrator and administrators with the ``api_keys`` permission (the same
people who hand out API keys). A secret is shown once, when the endpoint is added and when it is
rotated; every action leaves an Admin log entry (``portal.core.webhooks``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

from portal.core import webhooks
from portal.core.errors import DomainError, NotFound
from portal.models import WebhookEndpoint, utcnow
from portal.views.access import require
from portal.views.paging import page_number
from portal.views.web import current_actor, refusal, render

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")

#: delivery log rows per page
PER_PAGE = 50


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "event_type_groups": webhooks.EVENT_TYPE_GROUPS,
        "https_only": current_app.config.get("PORTAL_ENV") == "production",
        "now": utcnow(),
        **extra,
    }


def _form_values() -> dict[str, Any]:
    return {
        "url": request.form.get("url", ""),
        "description": request.form.get("description", ""),
        "event_types": request.form.getlist("event_types"),
    }


@bp.route("/")
@require("api_keys")
def index() -> Any:
    """The organization's endpoints: URL, event types, state, last success and events waiting."""
    endpoints = webhooks.list_endpoints(current_user.org_id)
    return render(
        "webhooks/index.html",
        **_context(rows=[(e, webhooks.backlog(e)) for e in endpoints]),
    )


@bp.route("/new", methods=["GET", "POST"])
@require("api_keys")
def create() -> Any:
    """Add endpoint: URL, description and event types; the signing secret is shown once on the next page."""
    values: dict[str, Any] = {"url": "", "description": "", "event_types": list(webhooks.EVENT_TYPE_GROUPS["Members"])}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values()
        try:
            made = webhooks.create_endpoint(
                current_user.org_id,
                values["url"],
                values["event_types"],
                current_actor(),
                description=values["description"],
            )
        except DomainError as exc:
            errors = refusal(exc)
        else:
            return _secret(made, created=True)
    return render(
        "webhooks/new.html",
        "webhooks/_form.html",
        status=422 if errors else 200,
        **_context(values=values, errors=errors),
    )


def _secret(made: webhooks.NewSecret, *, created: bool) -> Any:
    """The one page that ever shows a signing secret."""
    return render(
        "webhooks/secret.html",
        "webhooks/_secret.html",
        **_context(endpoint=made.endpoint, secret=made.secret, created=created),
    )


def _detail(
    endpoint: WebhookEndpoint,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    values: dict[str, Any] | None = None,
) -> Any:
    number = page_number()
    rows, total = webhooks.deliveries(endpoint, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return render(
        "webhooks/detail.html",
        "webhooks/_detail.html",
        status=status,
        **_context(
            endpoint=endpoint,
            values=values
            or {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types},
            errors=errors or {},
            notice=notice,
            backlog=webhooks.backlog(endpoint),
            deliveries=rows,
            total=total,
            page_number=number,
            pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
            page_url=lambda n: url_for("webhooks.detail", endpoint_id=endpoint.id, page=n),
        ),
    )


@bp.route("/<int:endpoint_id>")
@require("api_keys")
def detail(endpoint_id: int) -> Any:
    """One endpoint: its settings, secret rotation, state, and its delivery log with Resend."""
    return _detail(webhooks.get_endpoint(current_user.org_id, endpoint_id))


def _act(endpoint_id: int, action: Any, notice: str, *, field: str = "form") -> Any:
    """Run an action on the endpoint; a refusal shows the page again with the message (422)."""
    org_id = current_user.org_id
    try:
        action(org_id)
    except NotFound:
        raise  # another organization's endpoint, or none: the 404 page
    except DomainError as exc:
        errors = refusal(exc, field=field)
        return _detail(webhooks.get_endpoint(org_id, endpoint_id), status=422, errors=errors)
    return _detail(webhooks.get_endpoint(org_id, endpoint_id), notice=notice)


@bp.route("/<int:endpoint_id>/edit", methods=["POST"])
@require("api_keys")
def edit(endpoint_id: int) -> Any:
    """Save the endpoint's URL, description and event types."""
    values = _form_values()
    org_id = current_user.org_id
    try:
        webhooks.update_endpoint(org_id, endpoint_id, current_actor(), **values)
    except NotFound:
        raise
    except DomainError as exc:
        errors = refusal(exc)
        return _detail(webhooks.get_endpoint(org_id, endpoint_id), status=422, errors=errors, values=values)
    return _detail(webhooks.get_endpoint(org_id, endpoint_id), notice="Saved.")


@bp.route("/<int:endpoint_id>/rotate", methods=["POST"])
@require("api_keys")
def rotate(endpoint_id: int) -> Any:
    """Rotate the signing secret: the new one is shown once; the old one also signs for 24 hours."""
    made = webhooks.rotate_secret(current_user.org_id, endpoint_id, current_actor())
    return _secret(made, created=False)


@bp.route("/<int:endpoint_id>/disable", methods=["POST"])
@require("api_keys")
def disable(endpoint_id: int) -> Any:
    """Disable: nothing is sent; new events wait behind the endpoint's cursor."""
    return _act(
        endpoint_id,
        lambda org_id: webhooks.set_enabled(org_id, endpoint_id, False, current_actor()),
        "Disabled. Events made meanwhile are delivered in order once it is enabled again.",
    )


@bp.route("/<int:endpoint_id>/enable", methods=["POST"])
@require("api_keys")
def enable(endpoint_id: int) -> Any:
    """Enable: the next try is now, and the events it missed follow in order."""
    return _act(
        endpoint_id,
        lambda org_id: webhooks.set_enabled(org_id, endpoint_id, True, current_actor()),
        "Enabled. The events it missed are on their way, in order.",
    )


@bp.route("/<int:endpoint_id>/delete", methods=["POST"])
@require("api_keys")
def delete(endpoint_id: int) -> Any:
    """Delete the endpoint and its delivery log."""
    webhooks.delete_endpoint(current_user.org_id, endpoint_id, current_actor())
    return redirect(url_for("webhooks.index"))


@bp.route("/<int:endpoint_id>/resend", methods=["POST"])
@require("api_keys")
def resend(endpoint_id: int) -> Any:
    """Resend: the worker sends the event again (same webhook-id) before the endpoint's next events."""
    raw = request.form.get("seq", "")
    seq = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    return _act(
        endpoint_id,
        lambda org_id: webhooks.resend(org_id, endpoint_id, seq, current_actor()),
        f"Event {seq} is queued to be sent again.",
    )
