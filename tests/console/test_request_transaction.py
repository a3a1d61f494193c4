"""One transaction per console request, decided by its answer; errors answered by the door whose URL they fall under.

A console view never commits: the request's end commits an answer below 400 and rolls
back anything else (and an exception). The domain's NotFound is the console's 404 page;
under /scim/ every error, routed or not, is a SCIM error document. The doors share
nothing: no module of portal/ imports the SCIM door but the app factory that installs it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.core import fields
from portal.core.actors import Actor
from portal.core.errors import NotFound
from portal.extensions import db
from portal.models import Admin, AdminLog, Member, Organization
from portal.views import web

ROOT = Path(__file__).resolve().parents[2]
SCIM_JSON = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def _organization_named(app: Any, name: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(Organization.id).where(Organization.name == name)) is not None


@pytest.fixture
def scratch(app: Any) -> Any:
    """Test-only console routes that write a row, then answer a status or fail (added before any request)."""

    def write(status: int) -> Any:
        db.session.add(Organization(name=f"Scratch {status}"))
        db.session.flush()
        return "written", status

    def write_then_raise() -> Any:
        db.session.add(Organization(name="Scratch raised"))
        db.session.flush()
        raise RuntimeError("the view failed after writing")

    def write_then_not_found() -> Any:
        db.session.add(Organization(name="Scratch missing"))
        db.session.flush()
        raise NotFound("No such thing")

    app.add_url_rule("/_test/write/<int:status>", "scratch_write", write)
    app.add_url_rule("/_test/raise", "scratch_raise", write_then_raise)
    app.add_url_rule("/_test/not-found", "scratch_not_found", write_then_not_found)
    return app


# ---------------------------------------------------------------- one commit per request


@pytest.mark.parametrize("status", [200, 201, 204, 302, 399])
def test_a_view_answering_below_400_is_committed_without_committing_itself(scratch, client, status):
    assert client.get(f"/_test/write/{status}").status_code == status
    assert _organization_named(scratch, f"Scratch {status}")


@pytest.mark.parametrize("status", [400, 403, 409, 422, 500, 503])
def test_a_view_that_writes_then_answers_4xx_or_5xx_leaves_nothing(scratch, client, status):
    assert client.get(f"/_test/write/{status}").status_code == status
    assert not _organization_named(scratch, f"Scratch {status}")


def test_an_exception_after_a_write_is_the_500_page_and_leaves_nothing(scratch, client):
    scratch.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/_test/raise")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert not _organization_named(scratch, "Scratch raised")


def test_an_exception_that_propagates_leaves_nothing(scratch, client):
    with pytest.raises(RuntimeError):
        client.get("/_test/raise")
    assert not _organization_named(scratch, "Scratch raised")


def test_a_refused_console_form_rolls_back_what_it_wrote_before_the_refusal(app, org, console):
    # create_member writes the member and its "Add member" log row; the custom value is then refused.
    with app.app_context():
        badge = fields.create_field(org.id, "Badge number", "number", Actor.cli())
        db.session.commit()
        badge_key = badge.key
    response = console.post(
        "/organization/members/new",
        {
            "external_id": "ann@acme.test",
            "email": "ann@acme.test",
            "name": "Ann Example",
            f"custom.{badge_key}": "twelve",
        },
        htmx=True,
    )
    assert response.status_code == 422
    assert "Badge number must be a number" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member).where(Member.org_id == org.id)) == 0
        assert (
            db.session.scalar(select(func.count()).select_from(AdminLog).where(AdminLog.event_type == "Add member"))
            == 0
        )
    accepted = console.post(
        "/organization/members/new",
        {
            "external_id": "ann@acme.test",
            "email": "ann@acme.test",
            "name": "Ann Example",
            f"custom.{badge_key}": "12",
        },
        htmx=True,
    )
    assert accepted.status_code == 200
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.external_id == "ann@acme.test"))
        assert member is not None and member.custom_fields == {badge_key: 12}


def test_sign_in_still_records_the_sign_in_time(app, org, client):
    from tests.conftest import Console

    assert Console(client).login(org.email, org.password).status_code == 302
    with app.app_context():
        assert db.session.get(Admin, org.admin_id).last_login_at is not None


def test_a_wrong_password_is_401_and_records_nothing(app, org, client):
    from tests.conftest import Console

    assert Console(client).login(org.email, "not the password at all").status_code == 401
    with app.app_context():
        assert db.session.get(Admin, org.admin_id).last_login_at is None


def test_healthz_still_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    # No job worker runs beside the test app: readiness says so, and the web is still ready (issue 14).
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["status"] in {"ok", "degraded"}


def test_the_console_transaction_leaves_scim_urls_alone(app):
    assert web.is_console(app, "/organization/members")
    assert web.is_console(app, "/healthz")
    assert not web.is_console(app, "/scim/v2/abc/Users")
    assert not web.is_console(app, "/scim/anything")


# ---------------------------------------------------------------- errors, by door


def _assert_console_404(response: Any) -> None:
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Page not found" in body and "There is nothing at this address." in body


def test_a_domain_not_found_is_the_console_404_page(console):
    _assert_console_404(console.get("/settings/directory-sync/999999"))
    _assert_console_404(console.get("/settings/directory-sync/999999/sync-log"))
    _assert_console_404(console.get("/compliance/audit-log/admin/999999"))
    _assert_console_404(console.get("/organization/members/999999"))


def test_a_domain_not_found_after_a_write_is_the_404_page_and_leaves_nothing(scratch, client):
    _assert_console_404(client.get("/_test/not-found"))
    assert not _organization_named(scratch, "Scratch missing")


def test_an_unknown_console_url_is_the_html_404_page(client):
    _assert_console_404(client.get("/no/such/page"))


@pytest.mark.parametrize("path", ["/scim/v2/x/Nope/whatever", "/scim/v2/x/Users/1/2/3", "/scim/nothing"])
def test_an_unknown_url_under_scim_is_a_scim_error_document(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == SCIM_JSON
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == "404"


def test_a_wrong_method_under_scim_is_a_scim_405(client):
    response = client.delete("/scim/v2/x/ServiceProviderConfig")
    assert response.status_code == 405
    assert response.mimetype == SCIM_JSON
    assert response.get_json(force=True)["schemas"] == [ERROR_SCHEMA]


def test_a_wrong_method_in_the_console_is_the_html_405_page(client):
    response = client.put("/login")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "Method not allowed" in response.get_data(as_text=True)


# ---------------------------------------------------------------- the doors share nothing


def _imports(path: Path, package: str) -> set[str]:
    """Every module name a file imports, at any level, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    else:
        parts = parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level + 1] + [node.module or ""]) if node.level else node.module
            found.add((base or "").strip("."))
    return found


def _offences(package: str, banned: str, allowed: set[str] = frozenset()) -> list[str]:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in allowed:
            continue
        for name in _imports(path, package):
            if name == banned or name.startswith(banned + "."):
                offences.append(f"{relative} imports {name}")
    return offences


def test_no_module_of_portal_imports_the_scim_door():
    # The app factory is the one place that knows both doors: it installs them.
    assert _offences("portal", "scim_blueprint", allowed={"portal/__init__.py"}) == []
    assert "scim_blueprint" in _imports(ROOT / "portal" / "__init__.py", "portal")


def test_the_scim_door_never_imports_the_console():
    assert _offences("scim_blueprint", "portal.views") == []
