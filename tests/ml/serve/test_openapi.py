"""The OpenAPI document of the service, written out by hand: every route the app answers is in
it, the inference endpoints as JSON POSTs, every other one as a GET with its content type and,
where it takes a model name, its 404. (Fuzzing the running service against this document under
every schemathesis check is test_fuzz.py.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ml import __version__
from ml.config import ServeParams
from ml.serve import openapi
from ml.serve.app import create_app
from ml.serve.command import settings_for
from ml.serve.openapi import V1_REQUEST, V2_REQUEST

INFERENCE = {
    "/v2/models/{name}/infer": ("name",),
    "/v2/models/{name}/versions/{version}/infer": ("name", "version"),
    "/v1/models/{name}:predict": ("name",),
}


@pytest.fixture(scope="module")
def app(digits_onnx):
    return create_app(settings_for(ServeParams(model_name="digits"), digits_onnx, None))


@pytest.fixture(scope="module")
def schema(app) -> dict:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/openapi.json")

    response = asyncio.run(get())
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_the_app_serves_the_document(schema):
    assert schema == openapi.document("runwright inference service", __version__)
    assert schema["openapi"] == "3.1.0"


def test_the_inference_routes_are_documented_as_json_posts(schema):
    for path, parameters in INFERENCE.items():
        operation = schema["paths"][path]["post"]
        assert [p["name"] for p in operation["parameters"]] == list(parameters)
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == (V1_REQUEST if path.startswith("/v1") else V2_REQUEST)
        assert set(operation["responses"]) == {"200", "400", "404", "413", "415"}


def test_every_other_route_is_a_documented_get(app, schema):
    routed = {route.path for route in app.app.routes} - {"/openapi.json"}
    assert routed == set(schema["paths"]) - set(INFERENCE)
    for path in routed:
        operation = schema["paths"][path]["get"]
        statuses = {"200", "404"} if "{name}" in path else {"200"}
        assert set(operation["responses"]) == statuses, path


def test_each_answer_has_its_content_type(schema):
    def types(path: str) -> set[str]:
        return set(schema["paths"][path]["get"]["responses"]["200"]["content"])

    assert types("/metrics") == {"text/plain"}
    assert types("/") == {"text/html"}
    assert types("/v2/models/{name}") == {"application/json"}


def test_every_operation_has_its_own_id(schema):
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
