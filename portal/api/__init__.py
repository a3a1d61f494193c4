"""The read API door (``/api/v1/``): the directory for other services, read with an API key.

flask-smorest routes the views, checks their query parameters and dumps their documents with the
marshmallow schemas of ``schemas``, and writes the OpenAPI document from the same schemas. The
door reads only: its one write, a key's last use, goes through ``portal.core.api_keys``.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import default_exceptions

from portal.extensions import csrf

from . import auth, views
from .errors import render_api_error
from .schemas import ErrorSchema

#: the URLs this door answers, its views or not (an unknown path, a wrong method)
URL_PREFIX = "/api/"


class ReadApi(Api):
    """flask-smorest's Api without its app-wide error handler.

    flask-smorest registers a JSON handler for every HTTPException of the whole application, which
    would turn the console's error pages (a CSRF 400, say) into its JSON. The door answers its own
    errors, under its own URL prefix only (``errors.render_api_error``).
    """

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def _install_door() -> None:
    """The blueprint's errors, limit, authentication and headers (once: the blueprint outlives apps)."""
    views.blp.register_error_handler(Exception, render_api_error)
    # By status code too: Flask prefers the app's handlers for a code (the console's pages) over a blueprint's by class.
    for code in default_exceptions:
        views.blp.register_error_handler(code, render_api_error)
    auth.install(views.blp)


_install_door()


def init_app(app: Flask) -> None:
    """Register the door: its blueprint, the OpenAPI document, and its error renderer for ``/api/``."""
    api = ReadApi(
        app,
        spec_kwargs={
            "title": "Directory Sync Portal read API",
            "version": "1",
            "openapi_version": "3.0.3",
            "info": {
                "description": (
                    "Members, departments, user groups, workforce types and change events of one organization. "
                    "Authenticate with an API key from Settings > API keys: Authorization: Bearer dsp_... "
                    'Every error is {"error": {"code": ..., "message": ...}}.'
                )
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(views.blp)
    csrf.exempt(views.blp)
    # Flask gives the errors of URLs no view matches to the app's handlers only; the app factory routes
    # those under URL_PREFIX here, so they are error documents too. This also tells the console
    # (web.is_console) that these URLs are not its own: no session, no console transaction or headers.
    app.extensions.setdefault("error_renderers", []).append((URL_PREFIX, render_api_error))
