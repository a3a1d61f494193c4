"""gunicorn settings of the bench's servers.

runner.gunicorn_command() always passes a config file, this one by default,
because gunicorn otherwise loads ./gunicorn.conf.py from its working
directory: the app's, with JSON access logging, would silently apply to the
reference servers too. The command-line flags the runner adds (workers,
bind, error log, log level) take precedence over these values.
"""

import os

worker_class = "sync"
# No access log: formatting and writing one line per request would be
# measured as part of every server's throughput.
accesslog = None
errorlog = "-"
loglevel = "warning"
timeout = 30

# `bench/run.py --service-times` gives the app's server (only it) the folder for bench/service_times.py's hooks
# (its DIRECTORY; named here, not imported, so that the other servers' config imports nothing of the bench).
if os.environ.get("SERVICE_TIMES_DIR"):
    from bench.service_times import post_fork, post_request, pre_request, worker_exit  # noqa: F401
