"""gunicorn settings from the environment: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Access and error logs are JSON lines; an access line carries the request id the
app put in ``X-Request-ID``, so it joins the app's own log lines.

Metrics: the workers count into ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess
mode), so ``/metrics`` adds up every worker's counts, whichever worker answers the scrape. Unset,
a fresh temporary directory is used and removed at exit; set it (the same for the job worker of
the host) to count the worker's mail failures too. See docs/deploy.md, "Metrics".
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.environ.get("GUNICORN_WORKERS", "2")))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 50 if max_requests else 0
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# JSON access lines (portal.infra.gunicorn_logger); the Authorization header is never part of them.
logger_class = "portal.infra.gunicorn_logger.JsonLogger"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "portal.infra.logs.json_formatter"},
        "raw": {"format": "%(message)s"},
    },
    "filters": {"request_id": {"()": "portal.infra.logs.RequestIdFilter"}},
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        },
        "access": {"class": "logging.StreamHandler", "formatter": "raw", "stream": "ext://sys.stdout"},
    },
    "root": {"handlers": ["error"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


# ---------------------------------------------------------------- Prometheus multiprocess mode

# Set before any worker imports prometheus_client: the library picks its mode at import.
_made_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _made_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-")

_PID_FILE = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: is it there? (PermissionError: there, another user's)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def on_starting(server):
    """Forget the counts of an earlier run (dead processes' files), keep those of live ones (the job worker)."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        match = _PID_FILE.search(path.name)
        if match is None or not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def child_exit(server, worker):
    """A worker is gone: its live gauges go; its counts stay in the sums (prometheus_client's rule)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
