"""Console area: administrators."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import require
from ..web import render

bp = Blueprint("administrators", __name__, url_prefix="/settings/administrators")


@bp.route("/")
@require(primary=True)
def index() -> Any:
    """Administrators."""
    return render("area_empty.html", title="Administrators")
