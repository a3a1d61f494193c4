"""Fixtures of the proof tests: one gunicorn per module and database, shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.scim.conftest import Scim, add_source
from tests.servers import Server, gunicorn


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn with 2 workers on the session's test database (each test's ``app`` empties the tables)."""
    with gunicorn(database_url, tmp_path_factory.mktemp("gunicorn"), workers=2) as running:
        yield running


@pytest.fixture
def scim(app: Any, runner: Any, org: Any) -> Scim:
    """A SCIM test client for an active generic source of ``org`` (made with the CLI)."""
    return Scim(app.test_client(), add_source(runner, org.name, "--activate"))
