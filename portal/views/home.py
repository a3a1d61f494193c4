"""The console's landing page: the first area the admin may open."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for
from flask_login import login_required

from portal.views.web import render

from .nav import visible_nav

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index() -> Any:
    """Go to the first area in the navigation, or explain that there is none."""
    sections = visible_nav()
    if sections:
        return redirect(url_for(sections[0][1][0].endpoint))
    return render("home/no_access.html")
