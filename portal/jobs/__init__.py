"""Background work on a Huey queue: email delivery from the outbox, token-expiry warnings, retention.

``queue`` builds the Huey instance from the configuration (a SQLite file under ``instance/``
by default, Redis with ``JOBS_URL=redis://...``) and wakes a worker after a commit that
recorded outbox rows; ``tasks`` holds the jobs; ``worker`` is ``flask --app wsgi worker``.
"""

from __future__ import annotations

from flask import Flask

from portal.jobs import queue, worker


def init_app(app: Flask) -> None:
    """Wake a worker after each commit that recorded outbox rows, and add the ``worker`` command."""
    queue.install_commit_hook()
    app.cli.add_command(worker.worker_command)
