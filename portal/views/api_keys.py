"""Settings > API keys: the keys other services read the directory with (issue 16).

For the primary administrator and administrators with the ``api_keys`` permission.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import current_user

from portal.core import api_keys
from portal.core.errors import DomainError, NotFound
from portal.views.access import require
from portal.views.web import current_actor, refusal, render

from ..models import API_KEY_SCOPE_LABELS, API_KEY_SCOPES, utcnow

bp = Blueprint("api_keys", __name__, url_prefix="/settings/api-keys")

#: what each scope lets a key read, shown under its checkbox
SCOPE_HELP = {
    "members:read": "Members, departments and workforce types.",
    "groups:read": "User groups (their members also need Read members).",
    "events:read": "The change events feed.",
}


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "scopes": [(s, API_KEY_SCOPE_LABELS[s], SCOPE_HELP[s]) for s in API_KEY_SCOPES],
        "expiries": list(api_keys.EXPIRY_LABELS.items()),
        "scope_labels": api_keys.scope_labels,
        "now": utcnow(),
        **extra,
    }


def _index(*, status: int = 200, notice: str | None = None, errors: dict[str, str] | None = None) -> Any:
    return render(
        "api_keys/index.html",
        "api_keys/_table.html",
        status=status,
        **_context(keys=api_keys.list_keys(current_user.org_id), notice=notice, errors=errors or {}),
    )


@bp.route("/")
@require("api_keys")
def index() -> Any:
    """The organization's API keys: name, prefix, scopes, expiry, last use and status."""
    return _index()


@bp.route("/new", methods=["GET", "POST"])
@require("api_keys")
def create() -> Any:
    """Create API key: a name, its scopes and an expiry; the key is shown once on the next page."""
    values: dict[str, Any] = {"name": "", "scopes": [], "expiry": "90"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {
            "name": request.form.get("name", ""),
            "scopes": request.form.getlist("scopes"),
            "expiry": request.form.get("expiry", ""),
        }
        try:
            created = api_keys.create_key(current_user.org_id, **values, actor=current_actor())
        except DomainError as exc:
            errors = refusal(exc)
        else:
            return render(
                "api_keys/created.html", "api_keys/_created.html", **_context(key=created.key, secret=created.secret)
            )
    return render(
        "api_keys/new.html",
        "api_keys/_form.html",
        status=422 if errors else 200,
        **_context(values=values, errors=errors),
    )


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@require("api_keys")
def revoke(key_id: int) -> Any:
    """Revoke API key: the read API refuses it (401) from the next request on."""
    try:
        key = api_keys.revoke_key(current_user.org_id, key_id, current_actor())
    except NotFound:
        raise  # another organization's key, or none: the 404 page
    except DomainError as exc:
        return _index(status=422, errors=refusal(exc))
    return _index(notice=f"The key {key.name} ({key.prefix}) is revoked. Requests made with it are refused.")
