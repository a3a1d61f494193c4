"""The SCIM blueprint and its middleware; the modules with hooks and routes import ``bp`` from here.

Apart from the package's ``__init__``, so that the route modules the package imports do not
import the package back (an import cycle).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState

bp = Blueprint("scim", "scim_blueprint", url_prefix="/scim/v2/<source_id>")

_SCIM_PATH = re.compile(r"^/scim/v2/")


class TolerantSlashes:
    """WSGI middleware: under /scim/v2/, doubled slashes collapse and a trailing slash is dropped.

    Identity providers join a base URL that ends in "/" with "/Users", or add a
    trailing slash; Werkzeug would answer a redirect or 404 that no client follows.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if "/scim/" in path:
            cleaned = re.sub(r"/{2,}", "/", path)
            if _SCIM_PATH.match(cleaned) and len(cleaned) > 1:
                environ["PATH_INFO"] = cleaned.rstrip("/") or "/"
        return self.app(environ, start_response)


@bp.record_once
def _install_middleware(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)  # BlueprintSetupState types it as the sans-IO App, which has no WSGI entry
    # Flask's documented way to add WSGI middleware; its types declare wsgi_app a method, not an attribute.
    app.wsgi_app = TolerantSlashes(app.wsgi_app)  # type: ignore[method-assign]
