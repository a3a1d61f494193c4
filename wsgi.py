"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import gc

from portal import create_app

app = create_app()
# Everything the app holds from here on lives as long as the worker: leave it out of the
# collector's full passes, which otherwise walked it all (30-40 ms, a p99 outlier under load).
gc.freeze()
