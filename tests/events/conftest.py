"""Fixtures of the events tests: the job tests' queue storage (a real worker delivers webhooks)."""

from tests.jobs.conftest import sqlite_jobs  # noqa: F401  (a fixture, used by name)
