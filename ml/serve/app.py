"""The ASGI app: Open Inference Protocol v2, KServe v1, the web page at / and /metrics.

`create_app` is the factory uvicorn calls in each worker (settings come from the environment,
set by `ml serve`). Handlers take the raw request and answer with orjson bytes: request bodies
are documented in the OpenAPI schema for clients and fuzzers, but parsed without pydantic.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from ml import __version__
from ml.serve import openapi, protocol
from ml.serve.metrics import MetricsMiddleware
from ml.serve.service import Service
from ml.serve.settings import Settings
from ml.serve.validation import RequestError, v1_rows, v2_object, v2_rows

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

JSON_TYPE = "application/json"


def json_response(content: object, status: int = 200) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON_TYPE)


async def request_error(_: Request, exc: RequestError) -> Response:
    return json_response({"error": exc.message}, exc.status)


async def http_error(_: Request, exc: HTTPException) -> Response:
    return json_response({"error": exc.detail}, exc.status_code)


def base_app(**settings) -> FastAPI:
    """The server stack every endpoint runs on, also the floor in bench/serve.py: FastAPI
    without the docs page (its scripts come from a CDN) and without OpenTelemetry hooks, whose
    per-request provider checks cost more than the model (/metrics is the service's telemetry)."""
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    return FastAPI(telemetry=telemetry, docs_url=None, redoc_url=None, **settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    service = Service(settings or Settings.from_environment())

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
    add_inference_routes(app, service)  # first: routes are matched in order
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

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str) -> Response:
        return json_response(protocol.model_metadata(service.served(name).model, name))

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> Response:
        service.served(name)  # 404 for any other name
        return json_response({"name": name, "ready": True})

    @app.get("/v1/models")
    async def v1_models() -> Response:
        return json_response({"models": [service.name]})

    @app.get("/v1/models/{name}")
    async def v1_model_ready(name: str) -> Response:
        service.served(name)
        return json_response({"name": name, "ready": True})


def add_inference_routes(app: FastAPI, service: Service) -> None:
    """The hot path as plain Starlette routes: FastAPI's per-request parameter handling would
    cost about as much as the whole rest of a request. The routes are documented by hand."""

    async def infer(name: str, version: str | None, request: Request) -> Response:
        model = service.served(name, version).model
        payload = v2_object(await service.read_json(request))
        rows = v2_rows(payload, model, service.settings.max_batch_rows)
        wanted = protocol.requested_outputs(payload, model)
        result = service.predict(model, rows)
        request_id = payload.get("id")
        return json_response(protocol.v2_response(model, name, result, request_id, wanted))

    async def infer_v2(request: Request) -> Response:
        return await infer(request.path_params["name"], None, request)

    async def infer_v2_version(request: Request) -> Response:
        parameters = request.path_params
        return await infer(parameters["name"], parameters["version"], request)

    async def predict_v1(request: Request) -> Response:
        name = request.path_params["name"]
        served = service.served(name)
        payload = await service.read_json(request)
        rows = v1_rows(payload, served.model, service.settings.max_batch_rows, served.named)
        result = service.predict(served.model, rows)
        return json_response(protocol.v1_response(served.model, result))

    routes = {
        "/v2/models/{name}/infer": (infer_v2, openapi.V2_INFER),
        "/v1/models/{name}:predict": (predict_v1, openapi.V1_PREDICT),
        "/v2/models/{name}/versions/{version}/infer": (infer_v2_version, openapi.V2_INFER_VERSION),
    }
    for path, (endpoint, _) in routes.items():
        app.router.add_route(path, endpoint, methods=["POST"], include_in_schema=False)
    openapi.document(app, {path: operation for path, (_, operation) in routes.items()})


def add_page_routes(app: FastAPI, service: Service) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(service.served(service.name).page)

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)
