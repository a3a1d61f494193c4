"""The console's landing page: a getting-started checklist while the organization is new, else the first area
the admin may open."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from portal.core import onboarding
from portal.views.web import render

from .nav import visible_nav

bp = Blueprint("home", __name__)


def _step_link(step: onboarding.Step) -> tuple[str, str] | None:
    """Where a step is done, as (URL, link text), for an administrator allowed there; None otherwise."""
    if step.key == "invite_admins":
        return (url_for("administrators.add"), "Add administrator") if current_user.is_primary else None
    if not current_user.can("org_data_sync"):
        return None
    if step.key == "add_source":
        if step.source_id is not None:
            return url_for("directory_sync.setup", source_id=step.source_id, step=1), "Continue setup"
        return url_for("directory_sync.new"), "Add sync source"
    if step.key == "activate":
        if step.source_id is not None:
            return url_for("directory_sync.detail", source_id=step.source_id), "Open the sync source"
        return url_for("directory_sync.index"), "Open Directory Sync"
    if step.source_id is not None:
        return url_for("directory_sync.detail", source_id=step.source_id), "SCIM URL and token"
    return url_for("directory_sync.index"), "Open Directory Sync"


@bp.route("/")
@login_required
def index() -> Any:
    """The getting-started checklist until its steps are done, for an admin who can do them; else the first area
    in the navigation, or an explanation that there is none."""
    steps = onboarding.checklist(current_user.org_id)
    if (current_user.can("org_data_sync") or current_user.is_primary) and not all(s.done for s in steps):
        return render(
            "home/index.html",
            title="Getting started",
            steps=[(step, _step_link(step)) for step in steps],
            done=sum(s.done for s in steps),
        )
    sections = visible_nav()
    if sections:
        return redirect(url_for(sections[0][1][0].endpoint))
    return render("home/no_access.html")
