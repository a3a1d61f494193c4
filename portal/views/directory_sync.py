"""Console area: directory sync."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import require
from ..web import render

bp = Blueprint("directory_sync", __name__, url_prefix="/settings/directory-sync")


@bp.route("/")
@require("org_data_sync")
def index() -> Any:
    """Directory Sync."""
    return render("area_empty.html", title="Directory Sync")
