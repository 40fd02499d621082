"""The ASGI app: Open Inference Protocol v2, KServe v1, the web page at / and /metrics.

`create_app` is the factory uvicorn calls in each worker (settings come from the environment,
set by `ml serve`). The inference endpoints are answered in front of FastAPI
(ml/serve/inference.py); the others are FastAPI routes. Handlers answer with orjson bytes.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from ml import __version__
from ml.serve import openapi, protocol
from ml.serve.inference import InferenceRoutes
from ml.serve.metrics import MetricsMiddleware
from ml.serve.service import Service
from ml.serve.settings import Settings
from ml.serve.validation import RequestError

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

JSON_TYPE = "application/json"


def json_response(content: object, status: int = 200) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON_TYPE)


async def request_error(_: Request, exc: RequestError) -> Response:
    return json_response({"error": exc.message}, exc.status)


async def http_error(_: Request, exc: HTTPException) -> Response:
    response = json_response({"error": exc.detail}, exc.status_code)
    response.headers.update(exc.headers or {})  # the Allow header of a 405 (RFC 9110)
    return response


def base_app(**settings) -> FastAPI:
    """The server stack every endpoint runs on, also the floor in bench/serve.py: FastAPI
    without the docs page (its scripts come from a CDN) and without OpenTelemetry hooks, whose
    per-request provider checks cost more than the model (/metrics is the service's telemetry)."""
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    return FastAPI(telemetry=telemetry, docs_url=None, redoc_url=None, **settings)


def create_app(settings: Settings | None = None) -> InferenceRoutes:
    """The service's ASGI app. In front of FastAPI, not one of its middlewares: inference
    requests skip its middleware stack and routing (InferenceRoutes records their metrics)."""
    service = Service(settings or Settings.from_environment())
    return InferenceRoutes(fastapi_app(service), service)


def fastapi_app(service: Service) -> FastAPI:
    """Every endpoint but inference: health, metadata, the page, /metrics, /openapi.json."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        service.start()
        yield
        service.stop()

    app = base_app(
        title="runwright inference service",
        version=__version__,
        lifespan=lifespan,
        exception_handlers={RequestError: request_error, HTTPException: http_error},
    )
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    openapi.document(app, openapi.INFERENCE_OPERATIONS)
    add_health_routes(app, service)
    add_page_routes(app, service)
    return app


def add_health_routes(app: FastAPI, service: Service) -> None:
    @app.get("/v2/health/live")
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        return json_response({"ready": True})  # workers accept requests only once loaded

    @app.get("/v2")
    async def server_metadata() -> Response:
        return json_response({"name": "runwright", "version": __version__, "extensions": []})

    @app.get("/v2/models/{name}", responses=openapi.NOT_FOUND)
    async def model_metadata(name: str) -> Response:
        return json_response(protocol.model_metadata(service.served(name).model, name))

    @app.get("/v2/models/{name}/ready", responses=openapi.NOT_FOUND)
    async def model_ready(name: str) -> Response:
        service.served(name)  # 404 for any other name
        return json_response({"name": name, "ready": True})

    @app.get("/v1/models")
    async def v1_models() -> Response:
        return json_response({"models": [service.name]})

    @app.get("/v1/models/{name}", responses=openapi.NOT_FOUND)
    async def v1_model_ready(name: str) -> Response:
        service.served(name)
        return json_response({"name": name, "ready": True})


def add_page_routes(app: FastAPI, service: Service) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(service.served(service.name).page)

    @app.get("/metrics", response_class=PlainTextResponse, responses=openapi.METRICS)
    async def metrics() -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)
