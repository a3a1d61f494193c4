"""Sign-in, sessions, CSRF and the permission gate of every console area (issue: foundation)."""

from __future__ import annotations

import re

import pytest

from portal import create_app
from tests.conftest import Console
from tests.factories import make_admin

CSRF_VALUE = re.compile(rb'(value|content)="[\w.-]{40,}"')
AREAS = {
    "directory": ["/organization/members", "/organization/groups", "/organization/fields"],
    "org_data_sync": ["/settings/directory-sync/"],
    "admin_log": ["/compliance/audit-log/admin"],
}
NAV_LABELS = {"directory": "Member and Department", "org_data_sync": "Directory Sync", "admin_log": "Admin log"}


def test_login_page_renders_with_a_csrf_field(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert b'name="csrf_token"' in page.data


def test_primary_admin_signs_in_and_lands_on_the_console(client, org):
    console = Console(client)
    response = console.login(org.email, org.password)
    assert response.status_code == 302
    landing = client.get(response.headers["Location"], follow_redirects=True)
    assert landing.status_code == 200
    assert b"Member and Department" in landing.data and b"Sign out" in landing.data


def test_unknown_email_and_wrong_password_get_the_same_message(client, org):
    console = Console(client)
    wrong_password = console.login(org.email, "not the password at all")
    unknown_email = console.login("nobody@acme.test", org.password)
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert b"Incorrect email or password." in wrong_password.data

    # The pages differ only in the email typed back into the form (and the signed CSRF token).
    def page(response, email):
        return CSRF_VALUE.sub(b"", response.data.replace(email.encode(), b""))

    assert page(wrong_password, org.email) == page(unknown_email, "nobody@acme.test")


def test_a_post_without_csrf_token_is_refused(client, org):
    response = client.post("/login", data={"email": org.email, "password": org.password})
    assert response.status_code == 400
    assert b"CSRF" in response.data
    # And nobody got signed in.
    assert client.get("/organization/members").status_code == 302


def test_sign_out_ends_the_session(console):
    assert console.get("/organization/members").status_code == 200
    assert console.post("/logout").status_code == 302
    assert console.get("/organization/members").status_code == 302


def test_sign_out_by_get_is_not_possible(console):
    assert console.get("/logout").status_code == 405


def test_anonymous_console_request_redirects_to_login(client):
    response = client.get("/organization/members")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_expired_session_on_an_htmx_request_answers_hx_redirect(client):
    response = client.get("/organization/members", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_open_redirect_through_next_is_refused(client, org):
    console = Console(client)
    console._remember_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x", data={"email": org.email, "password": org.password, "csrf_token": console.token}
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


@pytest.mark.parametrize("granted", ["directory", "org_data_sync", "admin_log"])
def test_each_area_needs_its_permission_and_the_nav_hides_the_rest(app, client, org, granted):
    make_admin(app, org, "limited@acme.test", {granted})
    console = Console(client)
    assert console.login("limited@acme.test", "another long password").status_code == 302
    for permission, urls in AREAS.items():
        for url in urls:
            expected = 200 if permission == granted else 403
            assert console.get(url).status_code == expected, (url, granted)
    page = console.get(AREAS[granted][0]).get_data(as_text=True)
    for permission, label in NAV_LABELS.items():
        assert (f">{label}</a>" in page) == (permission == granted), (label, granted)
    assert ">Administrators</a>" not in page
    assert console.get("/settings/administrators/").status_code == 403


def test_primary_admin_sees_every_area(console):
    page = console.get("/organization/members").get_data(as_text=True)
    for label in [*NAV_LABELS.values(), "Administrators"]:
        assert f">{label}</a>" in page


def test_session_cookie_is_httponly_and_lax(client, org):
    console = Console(client)
    response = console.login(org.email, org.password)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_in_production(monkeypatch, database_url):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_login_attempts_are_rate_limited(app, org):
    app.config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    from portal.extensions import limiter

    limiter.init_app(app)
    console = Console(app.test_client())
    responses = [console.login(org.email, "wrong password!") for _ in range(4)]
    assert [r.status_code for r in responses[:3]] == [401, 401, 401]
    assert responses[3].status_code == 429
    assert int(responses[3].headers["Retry-After"]) > 0
    assert b"Too many attempts" in responses[3].data


def test_console_pages_vary_on_hx_request_and_carry_security_headers(console):
    response = console.get("/organization/members")
    assert "HX-Request" in response.headers["Vary"]
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


@pytest.mark.parametrize("url, status", [("/no/such/page", 404)])
def test_error_pages_are_html_pages(console, url, status):
    response = console.get(url)
    assert response.status_code == status
    assert b"Page not found" in response.data
