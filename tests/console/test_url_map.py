"""Walk the URL map so no console view can forget CSRF or its permission check."""

from __future__ import annotations

from werkzeug.routing.converters import NumberConverter

from tests.conftest import Console
from tests.factories import make_admin

#: endpoints anyone (or any signed-in admin) may reach
#: (the probes and /metrics, which has an access rule of its own: tests/ops/test_metrics.py)
OPEN_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.logout",
    "auth.forgot_password",
    "home.index",
    "health.livez",
    "health.readyz",
    "health.metrics_view",
}
#: blueprints that are not console areas: SCIM and the read API (tests/api) have their own auth; account
#: pages and notifications are each admin's own, open to every signed-in admin
NOT_CONSOLE = {"scim", "api", "account", "password", "notifications"}


def _console_rules(app, method: str):
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0] if "." in rule.endpoint else ""
        if method in rule.methods and rule.endpoint not in OPEN_ENDPOINTS and blueprint not in NOT_CONSOLE:
            yield rule


def _url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        # the console's ids are werkzeug's IntegerConverter bounded to what a row can have (web.IdConverter)
        values[arg] = 1 if isinstance(rule._converters[arg], NumberConverter) else "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_console_post_without_csrf_token_is_refused(app, console):
    rules = list(_console_rules(app, "POST")) + [r for r in app.url_map.iter_rules() if r.endpoint == "auth.logout"]
    assert rules
    for rule in rules:
        response = console.client.post(_url(rule), data={})
        assert response.status_code == 400, rule.rule
        assert b"CSRF" in response.data, rule.rule


def test_every_console_view_refuses_an_admin_without_permissions(app, client, org):
    make_admin(app, org, "nobody@acme.test", set())
    nobody = Console(client)
    assert nobody.login("nobody@acme.test", "another long password").status_code == 302
    rules = list(_console_rules(app, "GET"))
    assert rules
    for rule in rules:
        assert nobody.get(_url(rule)).status_code == 403, rule.rule
    for rule in _console_rules(app, "POST"):
        assert nobody.post(_url(rule), {}).status_code == 403, rule.rule
