"""The OpenAPI document of the service: the inference routes, which parse their own bodies and
which FastAPI therefore cannot describe, are written in by hand beside the routes FastAPI
documents itself. (Fuzzing the running service from this document is test_fuzz.py.)"""

from __future__ import annotations

import pytest

from ml.config import ServeParams
from ml.serve.app import fastapi_app
from ml.serve.command import settings_for
from ml.serve.openapi import V1_REQUEST, V2_REQUEST
from ml.serve.service import Service

INFERENCE = {
    "/v2/models/{name}/infer": ("name",),
    "/v2/models/{name}/versions/{version}/infer": ("name", "version"),
    "/v1/models/{name}:predict": ("name",),
}


@pytest.fixture(scope="module")
def schema(digits_onnx) -> dict:
    service = Service(settings_for(ServeParams(model_name="digits"), digits_onnx, None))
    app = fastapi_app(service)
    document = app.openapi()
    assert app.openapi() is document  # built once
    return document


def test_the_inference_routes_are_documented_as_json_posts(schema):
    for path, parameters in INFERENCE.items():
        operation = schema["paths"][path]["post"]
        assert [p["name"] for p in operation["parameters"]] == list(parameters)
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == (V1_REQUEST if path.startswith("/v1") else V2_REQUEST)
        assert set(operation["responses"]) == {"200", "400", "404", "413", "415"}


def test_fastapis_own_routes_stay_and_every_operation_has_its_own_id(schema):
    assert {"/v2/health/ready", "/v2/models/{name}", "/v1/models"} <= set(schema["paths"])
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
