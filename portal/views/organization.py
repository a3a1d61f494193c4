"""Console area: organization."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import require
from ..web import render

bp = Blueprint("organization", __name__, url_prefix="/organization")


@bp.route("/members")
@require("directory")
def members() -> Any:
    """Member and Department."""
    return render("area_empty.html", title="Member and Department")


@bp.route("/groups")
@require("directory")
def groups() -> Any:
    """User Group."""
    return render("area_empty.html", title="User Group")


@bp.route("/fields")
@require("directory")
def fields() -> Any:
    """Field Management."""
    return render("area_empty.html", title="Field Management")
