"""Issue 12: the set-password token never reaches the access log.

The link ``/set-password/<token>`` is a one-time secret; access logs are kept long and shipped to
log stores many people read. The JSON access line shows the path with the token replaced by
``[redacted]``, for a GET and a POST, whatever the token looks like, on a real gunicorn too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from portal.infra.logs import access_record
from tests.servers import gunicorn

TOKEN = "Zq3-secret_Token-of-a-set-password-link-0123456789abc"


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (f"/set-password/{TOKEN}", "/set-password/[redacted]"),
        (f"/account/set-password/{TOKEN}", "/account/set-password/[redacted]"),
        (f"/set-password/{TOKEN}/more", "/set-password/[redacted]/more"),
        ("/set-password/", "/set-password/"),
        ("/organization/members", "/organization/members"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_access_line_redacts_the_set_password_token_issue_12(path: str, shown: str, method: str) -> None:
    environ = {"REMOTE_ADDR": "203.0.113.5", "REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_USER_AGENT": "x"}
    record = access_record("200 OK", environ, 1500, [("X-Request-ID", "req-1")])
    assert record["path"] == shown and record["method"] == method
    assert TOKEN not in json.dumps(record)


@pytest.mark.slow
def test_a_real_gunicorn_never_writes_the_token_to_its_logs_issue_12(app, database_url, tmp_path) -> None:
    with gunicorn(database_url, tmp_path) as server:
        try:
            urllib.request.urlopen(f"{server.url}/set-password/{TOKEN}", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 410  # no such link: the page says it no longer works
    records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "gunicorn.access"]
    assert [r["path"] for r in access if "set-password" in r["path"]] == ["/set-password/[redacted]"]
    assert TOKEN not in server.logs()


def test_an_error_logged_on_a_set_password_path_never_shows_the_token_issue_12() -> None:
    # Flask logs an unhandled error as "Exception on <path> [<method>]": the path carries the token.
    import logging

    from portal.infra.logs import SecretPathFilter

    record = logging.LogRecord("flask.app", logging.ERROR, __file__, 1, "Exception on %s [%s]", None, None)
    record.args = (f"/account/set-password/{TOKEN}", "POST")
    assert SecretPathFilter().filter(record)
    assert record.getMessage() == "Exception on /account/set-password/[redacted] [POST]"

    # The one line written to hand the link over when no mail server is set keeps it.
    handed = logging.LogRecord("portal", logging.WARNING, __file__, 1, "link: %s", (f"/set-password/{TOKEN}",), None)
    handed.shows_secret = True
    assert SecretPathFilter().filter(handed)
    assert TOKEN in handed.getMessage()
