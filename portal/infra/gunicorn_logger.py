"""gunicorn's logger with JSON access lines built by ``json.dumps``, so any path or agent stays valid JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

from portal.infra.logs import access_record


class JsonLogger(Logger):
    """Access lines as JSON objects carrying the request id the app sent in ``X-Request-ID``."""

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        micros = request_time.seconds * 1_000_000 + request_time.microseconds
        record = access_record(resp.status, environ, micros, resp.headers)
        record["time"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.access_log.info(json.dumps(record))
