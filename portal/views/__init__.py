"""The console door: its blueprints, registered by name, and the navigation every page shows."""

from __future__ import annotations

from flask import Flask

from .nav import NAV, NavItem, visible_nav  # noqa: F401  (the navigation, for the templates and home)


def register_views(app: Flask) -> None:
    """Register each console blueprint, named here: a new console area is added on purpose, not found."""
    from . import (
        account,
        admin_log,
        administrators,
        api_keys,
        auth,
        bulk,
        directory_sync,
        health,
        home,
        notifications,
        organization,
        sync_log,
        webhooks,
    )

    for bp in (
        auth.bp,
        account.bp,
        home.bp,
        health.bp,
        notifications.bp,
        organization.bp,
        bulk.bp,
        directory_sync.bp,
        sync_log.bp,
        administrators.bp,
        api_keys.bp,
        webhooks.bp,
        admin_log.bp,
    ):
        app.register_blueprint(bp)
    app.jinja_env.globals["visible_nav"] = visible_nav
