"""The one HTTP server plumbing of the tests: a ThreadingHTTPServer on 127.0.0.1 (port 0) in a
background thread, used as a context manager. A subclass answers every request in
`handle(request, method)` (the fake GitHub API, the webhook); or a ready handler class is passed
in (the file server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable


class LoopbackServer:
    def __init__(self, handler: Callable[..., http.server.BaseHTTPRequestHandler] | None = None):
        # Re-entrant: a fake's request handler may call its own locked set-up methods.
        self.lock = threading.RLock()
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), handler or self.handler_class()
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.stopped = False

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the server and free its port: later requests to `url` are refused."""
        if self.stopped:
            return
        self.stopped = True
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()

    def handle(self, request: http.server.BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                owner.handle(self, "GET")

            def do_POST(self) -> None:
                owner.handle(self, "POST")

            def do_PATCH(self) -> None:
                owner.handle(self, "PATCH")

            def do_PUT(self) -> None:
                owner.handle(self, "PUT")

            def do_DELETE(self) -> None:
                owner.handle(self, "DELETE")

        return Handler


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output free of access-log lines


class QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def read_json(request: http.server.BaseHTTPRequestHandler) -> dict:
    length = int(request.headers.get("Content-Length") or 0)
    return json.loads(request.rfile.read(length) or b"{}") if length else {}


def reply(request, status: int, body: object, headers: dict[str, str] | None = None) -> None:
    """A JSON answer; `None` sends an empty body (204)."""
    data = b"" if body is None else json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)
