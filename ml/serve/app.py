"""The ASGI app: Open Inference Protocol v2, KServe v1, the web page at / and /metrics.

`create_app` is the factory uvicorn calls in each worker (settings come from the environment,
set by `ml serve`). The inference endpoints are answered in front of the router
(ml/serve/inference.py); the others are Starlette routes. Starlette, not FastAPI: nothing here
uses FastAPI's parameter handling, and its import alone took a third of the start-up. The
OpenAPI document is written out in ml/serve/openapi.py. Handlers answer with orjson bytes.
"""

from __future__ import annotations

import contextlib

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ml import __version__
from ml.serve import openapi, protocol
from ml.serve.inference import InferenceRoutes
from ml.serve.metrics import MetricsMiddleware
from ml.serve.service import Service
from ml.serve.settings import Settings
from ml.serve.validation import RequestError

JSON_TYPE = "application/json"
TITLE = "runwright inference service"


def json_response(content: object, status: int = 200) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON_TYPE)


async def request_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return json_response({"error": exc.message}, exc.status)


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = json_response({"error": exc.detail}, exc.status_code)
    response.headers.update(exc.headers or {})  # the Allow header of a 405 (RFC 9110)
    return response


def create_app(settings: Settings | None = None) -> InferenceRoutes:
    """The service's ASGI app. In front of the router, not one of its middlewares: inference
    requests skip the middleware stack and routing (InferenceRoutes records their metrics)."""
    service = Service(settings or Settings.from_environment())
    return InferenceRoutes(router_app(service), service)


def router_app(service: Service) -> Starlette:
    """Every endpoint but inference: health, metadata, the page, /metrics, /openapi.json."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        service.start()
        yield
        service.stop()

    app = Starlette(
        routes=routes(service),
        lifespan=lifespan,
        exception_handlers={RequestError: request_error, HTTPException: http_error},
    )
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


def routes(service: Service) -> list[Route]:
    document = orjson.dumps(openapi.document(TITLE, __version__))

    async def live(_: Request) -> Response:
        return json_response({"live": True})

    async def ready(_: Request) -> Response:
        return json_response({"ready": True})  # workers accept requests only once loaded

    async def server_metadata(_: Request) -> Response:
        return json_response({"name": "runwright", "version": __version__, "extensions": []})

    async def model_metadata(request: Request) -> Response:
        name = request.path_params["name"]
        return json_response(protocol.model_metadata(service.served(name).model, name))

    async def model_ready(request: Request) -> Response:
        name = request.path_params["name"]
        service.served(name)  # 404 for any other name
        return json_response({"name": name, "ready": True})

    async def v1_models(_: Request) -> Response:
        return json_response({"models": [service.name]})

    async def page(_: Request) -> Response:
        return HTMLResponse(service.served(service.name).page)

    async def metrics(_: Request) -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    async def openapi_json(_: Request) -> Response:
        return Response(document, media_type=JSON_TYPE)

    endpoints = {
        "/v2/health/live": live,
        "/v2/health/ready": ready,
        "/v2": server_metadata,
        "/v2/models/{name}": model_metadata,
        "/v2/models/{name}/ready": model_ready,
        "/v1/models": v1_models,
        "/v1/models/{name}": model_ready,
        "/": page,
        "/metrics": metrics,
        "/openapi.json": openapi_json,
    }
    return [Route(path, endpoint, methods=["GET"]) for path, endpoint in endpoints.items()]
