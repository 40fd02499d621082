"""OpenAPI documentation of the inference endpoints. They are answered in front of FastAPI and
parse their bodies themselves (orjson + numpy), so FastAPI cannot describe them; they are
written out here for clients and for schema-driven fuzzing (schemathesis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"]
DATATYPES += ["FP16", "FP32", "FP64", "BYTES"]

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What is wrong with the request."}},
}

# For FastAPI's `responses=`: the answers its routes give beside their 200.
NOT_FOUND: dict[int | str, dict] = {
    404: {"description": "No such model.", "content": {"application/json": {"schema": ERROR}}}
}
# Prometheus' text exposition format (the version parameter follows prometheus_client).
METRICS: dict[int | str, dict] = {
    200: {
        "description": "Prometheus metrics, every worker's added up.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}

V2_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string", "enum": DATATYPES},
                    "parameters": {"type": "object"},
                    "data": {"type": "array", "description": "Row-major values, flat or nested."},
                },
            },
        },
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
            },
        },
    },
}

V1_REQUEST = {
    "type": "object",
    "required": ["instances"],
    "properties": {
        "instances": {
            "type": "array",
            "minItems": 1,
            "description": "Rows shaped like the model input (or flat), or, for tabular models, "
            "objects of named features.",
            "items": {"anyOf": [{"type": "array"}, {"type": "object"}]},
        }
    },
}


def operation(summary: str, request_schema: dict, path_parameters: tuple[str, ...]) -> dict:
    """An OpenAPI operation: path parameters, a JSON request body and the answers."""
    answers = {
        str(status): {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for status, text in (
            (400, "Malformed request: invalid JSON, wrong shape, type or value."),
            (404, "No such model or version."),
            (413, "Body or batch larger than the configured limits."),
            (415, "Body is not application/json."),
        )
    }
    answers["200"] = {
        "description": "Predictions.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    return {
        "summary": summary,
        "operationId": summary.lower().replace(" ", "_"),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path_parameters
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema}},
        },
        "responses": answers,
    }


V2_INFER = operation("Open Inference Protocol v2 inference", V2_REQUEST, ("name",))
V2_INFER_VERSION = operation(
    "Open Inference Protocol v2 inference on a version", V2_REQUEST, ("name", "version")
)
V1_PREDICT = operation("KServe v1 predict", V1_REQUEST, ("name",))
INFERENCE_OPERATIONS = {
    "/v2/models/{name}/infer": V2_INFER,
    "/v1/models/{name}:predict": V1_PREDICT,
    "/v2/models/{name}/versions/{version}/infer": V2_INFER_VERSION,
}


def document(app: FastAPI, operations: dict[str, dict]) -> None:
    """Make app.openapi() include `operations` ({path: operation}), POST endpoints answered
    in front of FastAPI (ml/serve/inference.py), which it cannot document itself."""
    from fastapi.openapi.utils import get_openapi

    def schema() -> dict:
        if app.openapi_schema is None:
            generated = get_openapi(title=app.title, version=app.version, routes=app.routes)
            generated["paths"] = {path: {"post": op} for path, op in operations.items()} | (
                generated.get("paths") or {}
            )
            app.openapi_schema = generated
        return app.openapi_schema

    # Replacing app.openapi is FastAPI's documented way to extend the schema; mypy forbids
    # assigning to a method.
    app.openapi = schema  # type: ignore[method-assign]
