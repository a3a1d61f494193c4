"""Console area: admin log."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import require
from ..web import render

bp = Blueprint("admin_log", __name__, url_prefix="/compliance/audit-log")


@bp.route("/admin")
@require("admin_log")
def index() -> Any:
    """Admin log."""
    return render("area_empty.html", title="Admin log")
