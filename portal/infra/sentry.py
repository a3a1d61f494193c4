"""Optional error reports to Sentry: on with ``SENTRY_DSN``, and without it sentry_sdk is never imported.

The package is an extra (``pip install -e '.[sentry]'``). Reports carry no secret and no personal
data: no request body (SCIM users, passwords), no cookies or Authorization header, no local
variables of the failing frames (a token or password may sit in one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from portal.infra.config import ConfigError

MISSING_PACKAGE = (
    "SENTRY_DSN is set but the sentry-sdk package is not installed: "
    "pip install -e '.[sentry]' (or pip install 'sentry-sdk[flask]>=2'), or unset SENTRY_DSN"
)


def init_sentry(config: Mapping[str, Any], component: Literal["web", "worker"] = "web") -> bool:
    """Start reporting errors when ``config["SENTRY_DSN"]`` is set; True when it did.

    ``component`` tags every report (``web`` from the app factory, ``worker`` from the job worker).
    Raises ConfigError when the DSN is set and sentry-sdk is missing, so a portal configured to
    report errors does not start silently without.
    """
    dsn = (config.get("SENTRY_DSN") or "").strip()
    if not dsn:
        return False
    try:
        # Imported here only: without SENTRY_DSN the package is not loaded at all.
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
    except ImportError as exc:
        raise ConfigError(MISSING_PACKAGE) from exc
    integrations: list[Any] = [FlaskIntegration()]
    if component == "worker":
        from sentry_sdk.integrations.huey import HueyIntegration

        integrations.append(HueyIntegration())
    sentry_sdk.init(
        dsn=dsn,
        environment=config.get("PORTAL_ENV") or "development",
        integrations=integrations,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
    )
    sentry_sdk.set_tag("component", component)
    return True
