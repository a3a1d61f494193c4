"""gunicorn settings of the bench's servers.

runner.gunicorn_command() always passes a config file, this one by default,
because gunicorn otherwise loads ./gunicorn.conf.py from its working
directory: the app's, with JSON access logging, would silently apply to the
reference servers too. The command-line flags the runner adds (workers,
bind, error log, log level) take precedence over these values.
"""

worker_class = "sync"
# No access log: formatting and writing one line per request would be
# measured as part of every server's throughput.
accesslog = None
errorlog = "-"
loglevel = "warning"
timeout = 30
