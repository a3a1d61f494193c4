"""The wrk Lua scripts, run by real wrk against a recording stdlib server.

Checks what the scripts send (paths, headers, bodies, unique names) and
that done() reports what the server answered. Skipped without wrk.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.loadgen import LoadSettings, run_wrk

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

SETTINGS = LoadSettings(connections=2, threads=2, duration=1, timeout=2)
TOKEN = "test-token"


class Recorder(BaseHTTPRequestHandler):
    """Answers like a SCIM server would and records every request."""

    requests: list[dict] = []
    lock = threading.Lock()

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
        status, payload = 200, b'{"totalResults": 1, "Resources": []}'
        if self.command == "POST":
            status, payload = 201, body
        elif self.command in ("PATCH", "DELETE"):
            status, payload = 204, b""
        self.send_response(status)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    """wrk drops its connections mid-request when its duration ends; that is expected."""

    def handle_error(self, request, client_address):
        pass


@pytest.fixture
def server():
    Recorder.requests = []
    httpd = QuietServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Recorder.requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ids_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"id{n}\tuser{n}@acme.com\n" for n in range(1, 11)))
    return path


def _env(**extra):
    return {"SCIM_BASE": "/scim/v2/src-1/", "SCIM_TOKEN": TOKEN, **extra}


def _assert_scim_headers(request):
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/scim+json"


def test_filter_asks_seeded_names_with_an_encoded_filter(server):
    url, seen = server
    result = run_wrk(url, "scim_filter.lua", _env(SEED_COUNT="5"), SETTINGS)
    assert result.requests > 0 and result.errors == 0
    assert result.counters.get("lookup_miss", 0) == 0
    names = set()
    for request in seen:
        parts = urlsplit(request["path"])
        assert request["method"] == "GET" and parts.path == "/scim/v2/src-1/Users"
        (query,) = parse_qs(parts.query)["filter"]
        assert query.startswith('userName eq "user') and query.endswith('@acme.com"')
        names.add(query)
        _assert_scim_headers(request)
    assert names <= {f'userName eq "user{n}@acme.com"' for n in range(1, 6)}


def test_create_sends_jumpcloud_users_with_unique_names(server):
    url, seen = server
    result = run_wrk(url, "scim_create.lua", _env(), SETTINGS)
    assert result.status.keys() == {"201"}
    users = [json.loads(request["body"]) for request in seen]
    assert {request["path"] for request in seen} == {"/scim/v2/src-1/Users"}
    names = [user["userName"] for user in users]
    assert len(names) == len(set(names))
    # Names carry the thread tag of the wrk thread that built them.
    assert {name.split("-t")[1].split("-")[0] for name in names} <= {"0", "1"}
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    for user in users:
        assert user["emails"] == [{"value": user["userName"], "type": "work", "primary": True}]
        assert user["name"]["givenName"] and user["name"]["familyName"] and user["displayName"]
        assert user["title"] and user["active"] is True
        assert set(user[enterprise]) == {"department", "employeeNumber"}
        assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise]


def test_create_without_enterprise_extension(server):
    url, seen = server
    run_wrk(url, "scim_create.lua", _env(SCIM_ENTERPRISE="0"), SETTINGS)
    user = json.loads(seen[0]["body"])
    assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    assert not any(key.startswith("urn:") for key in user)


def test_patch_deactivates_ids_from_the_file_split_between_threads(server, ids_file):
    url, seen = server
    result = run_wrk(url, "scim_patch.lua", _env(IDS_FILE=str(ids_file)), SETTINGS)
    assert result.status.keys() == {"204"}
    assert seen and {request["path"] for request in seen} <= {f"/scim/v2/src-1/Users/id{n}" for n in range(1, 11)}
    for request in seen:
        assert request["method"] == "PATCH"
        assert json.loads(request["body"]) == {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }


def test_put_keeps_the_username_of_each_id(server, ids_file):
    url, seen = server
    run_wrk(url, "scim_put.lua", _env(IDS_FILE=str(ids_file)), SETTINGS)
    for request in seen:
        assert request["method"] == "PUT"
        number = request["path"].rsplit("/id", 1)[1]
        assert json.loads(request["body"])["userName"] == f"user{number}@acme.com"


def test_get_reads_ids_from_the_file(server, ids_file):
    url, seen = server
    run_wrk(url, "scim_get.lua", _env(IDS_FILE=str(ids_file)), SETTINGS)
    expected = {("GET", f"/scim/v2/src-1/Users/id{n}") for n in range(1, 11)}
    assert seen and {(r["method"], r["path"]) for r in seen} <= expected


def test_delete_sends_each_id_once_before_counting_repeats(server, ids_file):
    url, seen = server
    result = run_wrk(url, "scim_delete.lua", _env(IDS_FILE=str(ids_file)), SETTINGS)
    numbers = [int(request["path"].rsplit("/id", 1)[1]) for request in seen]
    assert all(request["method"] == "DELETE" for request in seen)
    # Thread 0 owns the odd lines of the file, thread 1 the even ones; each
    # sends its five ids once before any repeat.
    for parity in (1, 0):
        own = [n for n in numbers if n % 2 == parity]
        assert sorted(own[:5]) == [n for n in range(1, 11) if n % 2 == parity][: len(own[:5])]
    if result.requests > 10:
        # The recorder answers 204 to repeats too; the script must flag them.
        assert result.counters["ids_exhausted"] >= 1
        assert result.counters["repeat_delete"] >= result.requests - 10


def test_bare_scripts_hit_their_paths(server):
    url, seen = server
    run_wrk(url, "bare_echo.lua", {}, SETTINGS)
    run_wrk(url, "bare_select.lua", {"SEED_COUNT": "3"}, SETTINGS)
    run_wrk(url, "bare_insert.lua", {}, SETTINGS)
    methods_paths = {(r["method"], urlsplit(r["path"]).path) for r in seen}
    assert methods_paths == {("POST", "/echo"), ("GET", "/select"), ("POST", "/insert")}
    inserted = [json.loads(r["body"])["u"] for r in seen if r["path"] == "/insert"]
    assert len(inserted) == len(set(inserted))
