"""``/healthz`` for load balancers and orchestrators: the process answers and the database too."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.route("/healthz")
@limiter.exempt
def healthz() -> Any:
    """200 when a query reaches the database, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not healthy", whatever its type
        log.exception("health check: database unreachable")
        return jsonify(status="unavailable", database="unreachable"), 503  # the request's end rolls back
    return jsonify(status="ok", database="ok")
