"""The inference endpoints, answered in front of the web framework: the hot path.

An ASGI app in front of the router recognises the three inference paths by their shape and answers
requests to them itself: read the body within its limits, decode and check it
(ml.serve.v2_request, ml.serve.validation), predict, answer with orjson bytes, record the
request's metrics. A middleware stack and router (exception handling, metrics, route matching)
would cost about as much as the model and the JSON together. Every other path (health,
metadata, the page, /metrics, /openapi.json) goes through the Starlette app in ml/serve/app.py.
ml/serve/openapi.py documents them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp

from ml.serve import protocol, v2_request
from ml.serve.sampling import is_check
from ml.serve.service import Served, Service
from ml.serve.validation import RequestError, parse_json, v1_rows

log = logging.getLogger("ml.serve")

JSON_HEADERS = [(b"content-type", b"application/json")]
ALLOW_HEADERS = [*JSON_HEADERS, (b"allow", b"POST")]
ROUTES_KEPT = 256
Headers = list[tuple[bytes, bytes]]  # raw ASGI headers: lower-case names
INTERNAL_ERROR = orjson.dumps({"error": "internal server error; see the service's log"})

# Answers a request for (service, the model served, its name, raw ASGI headers, body) with a
# JSON-serialisable object. Plain functions: the model is resolved and the body read before
# (Service.served, Service.read_body), so the hot path awaits one coroutine, not three.
Handler = Callable[[Service, Served, str, Headers, bytes], object]


def infer_v2(service: Service, served: Served, name: str, headers: Headers, body: bytes) -> object:
    model = served.model
    rows, request_id, wanted = v2_request.read(body, model, service.settings.max_batch_rows)
    result = service.predict(model, rows, not is_check(headers))
    return protocol.v2_response(model, name, result, request_id, wanted)


def predict_v1(
    service: Service, served: Served, name: str, headers: Headers, body: bytes
) -> object:
    payload = parse_json(body)
    rows = v1_rows(payload, served.model, service.settings.max_batch_rows, served.named)
    result = service.predict(served.model, rows, not is_check(headers))
    return protocol.v1_response(served.model, result)


def route(path: str) -> tuple[Handler, str, tuple[str, ...]] | None:
    """(handler, metrics endpoint label, path parameters) for an inference path, else None.
    Parameters match like the router's `{name}`: one non-empty path segment each."""
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        parts = path[len("/v2/models/") : -len("/infer")].split("/")
        if len(parts) == 1 and parts[0]:
            return infer_v2, "v2_infer", (parts[0],)
        if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
            return infer_v2, "v2_infer", (parts[0], parts[2])
        return None
    if path.startswith("/v1/models/") and path.endswith(":predict"):
        name = path[len("/v1/models/") : -len(":predict")]
        if name and "/" not in name:
            return predict_v1, "v1_predict", (name,)
    return None


class InferenceRoutes:
    """ASGI app: inference requests answered here, everything else (lifespan included) passed
    to `app`."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        # route() per path, remembered: clients send the same few paths again and again. Only
        # the first ROUTES_KEPT paths are kept, so arbitrary paths cannot grow it without end.
        self.routes: dict[str, tuple[Handler, str, tuple[str, ...]] | None] = {}

    def route(self, path: str) -> tuple[Handler, str, tuple[str, ...]] | None:
        found = route(path)
        if len(self.routes) < ROUTES_KEPT:
            self.routes[path] = found
        return found

    async def __call__(self, scope, receive, send) -> None:
        found = None
        if scope["type"] == "http":
            path = scope["path"]
            found = self.routes[path] if path in self.routes else self.route(path)
        if found is None:
            await self.app(scope, receive, send)
            return
        handler, endpoint, names = found
        started = time.perf_counter()
        status, headers = 200, JSON_HEADERS
        try:
            if scope["method"] != "POST":
                status, headers = 405, ALLOW_HEADERS
                body = orjson.dumps({"error": f"{scope['method']} is not allowed; use POST"})
            else:
                # 404 for another model or version, before its body is read.
                served = self.service.served(*names)
                asked = scope["headers"]
                body = await self.service.read_body(asked, receive)
                answer = handler(self.service, served, names[0], asked, body)
                body = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
        except RequestError as exc:
            status, body = exc.status, orjson.dumps({"error": exc.message})
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            status, body = 500, INTERNAL_ERROR
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*headers, (b"content-length", b"%d" % len(body))],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self.service.metrics.observe(endpoint, status, time.perf_counter() - started)
