"""A local webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread that records every POST."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def seq(self) -> int:
        return int(self.json["data"]["seq"])


class Receiver:
    """Answers the scripted statuses first (e.g. 500, or 302 with a Location), then 200.

    ``hold(n)`` makes the n-th request (1-based) wait until ``release()``: a test can kill the
    sender while that request is in flight. ``arrived`` is set when it comes.
    """

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.held: int | None = None
        self.gate = threading.Event()
        self.arrived = threading.Event()
        self.url = ""

    def hold(self, number: int) -> None:
        self.held = number

    def release(self) -> None:
        self.gate.set()

    def first_receipts(self) -> list[int]:
        """The seq of each request that brought an event for the first time, in arrival order."""
        seen: set[int] = set()
        order: list[int] = []
        with self.lock:
            for request in self.requests:
                if request.path == "/hook" and request.seq not in seen:
                    seen.add(request.seq)
                    order.append(request.seq)
        return order

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    number = len(receiver.requests)
                    status = receiver.script.pop(0) if receiver.script else 200
                if receiver.held == number:
                    receiver.arrived.set()
                    receiver.gate.wait(60)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender is gone (killed mid-delivery)

        return Handler


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on a free port of 127.0.0.1; its ``url`` is ``http://127.0.0.1:<port>/hook``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
        thread.join(5)
