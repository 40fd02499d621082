"""The plumbing the fake GitHub servers share: a ThreadingHTTPServer on 127.0.0.1 (port 0) that
hands every request to the subclass's `handle(request, method)`, and a JSON reply."""

from __future__ import annotations

import http.server
import json
import threading


class LoopbackServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()

    def handle(self, request: http.server.BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest's output clean

            def do_GET(self) -> None:
                owner.handle(self, "GET")

            def do_POST(self) -> None:
                owner.handle(self, "POST")

            def do_PATCH(self) -> None:
                owner.handle(self, "PATCH")

        return Handler


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
