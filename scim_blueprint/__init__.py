"""The SCIM 2.0 protocol adapter: parse, validate, map, respond. The domain does the rest."""
from flask import Blueprint

bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<source_id>")

from . import views  # noqa: E402,F401  (routes register on import)
