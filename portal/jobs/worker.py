"""``flask --app wsgi worker``: the Huey consumer that runs the jobs, logging JSON like the web processes."""

from __future__ import annotations

import logging
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.infra import logs
from portal.infra.sentry import init_sentry
from portal.jobs import queue

log = logging.getLogger(__name__)

#: seconds a graceful stop (SIGINT) waits for running jobs
SHUTDOWN_SECONDS = 10


def lower_priority(steps: int) -> int:
    """Lower this process's CPU priority by ``steps`` (``JOBS_NICE``; 0 leaves it); returns the niceness now.

    On a host that also runs the web processes, the jobs (webhook deliveries above all, an event per
    member written) then take the CPU the SCIM and console requests leave, rather than share it
    equally: an initial sync is not slowed by its own webhooks, which catch up as it ends.
    """
    return os.nice(max(steps, 0))  # os.nice(0) only reads it; raising priority is not the worker's to do


@click.command("worker")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Threads running jobs (default: JOBS_WORKERS, 2).",
)
@with_appcontext
def worker_command(workers: int | None) -> None:
    """Run the background jobs (email delivery, token-expiry warnings, retention) until stopped.

    Ctrl-C (SIGINT) lets the running jobs finish (10 s at most); SIGTERM stops at once. Run one or more on
    every host that shares the queue (JOBS_URL): each queued job runs once, and what the periodic
    jobs of several workers do (deliver the outbox, the daily jobs) is claimed in the database.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # The same JSON lines as the web processes, with the job id and task name while a job runs.
    logs.configure(app.config["LOG_LEVEL"])
    # Error reports (with SENTRY_DSN) tagged as the worker's, with Huey's task names.
    init_sentry(app.config, component="worker")
    niceness = lower_priority(int(app.config.get("JOBS_NICE") or 0))
    jobs = queue.jobs_for(app)
    count = workers or int(app.config.get("JOBS_WORKERS") or 2)
    consumer = jobs.huey.create_consumer(
        workers=count,
        worker_type="thread",
        periodic=True,
        # The scheduler looks for due retries every second, and an idle worker polls a SQLite queue
        # at least every second (Redis wakes it at once).
        scheduler_interval=1,
        max_delay=1.0,
        check_worker_health=True,
        # Ctrl-C waits this long for running jobs (a mail server that never answers would hold it 10 s a mail);
        # a message cut short is sent again once its lease runs out.
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    # Catch up at once: mail left behind by a process that died, and a heartbeat for /readyz.
    jobs.tasks.drain()
    jobs.tasks.heartbeat()
    jobs.tasks.deliver_webhooks(poll=True)
    log.info("worker started: %d threads, queue %s, niceness %d", count, type(jobs.huey).__name__, niceness)
    consumer.run()
