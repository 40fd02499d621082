"""The service's OpenAPI document, written out for clients and for schema-driven fuzzing
(schemathesis): the endpoints parse their own bodies (orjson + numpy) and run on Starlette,
which documents nothing itself. Every status and content type an endpoint answers is here."""

from __future__ import annotations

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"]
DATATYPES += ["FP16", "FP32", "FP64", "BYTES"]

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What is wrong with the request."}},
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
                    "data": {
                        "type": "array",
                        "description": "Row-major values, flat or nested. With datatype BYTES "
                        "(models trained on image files): shape [N] and N PNG or JPEG files, "
                        "each base64 text, decoded and resized as in training.",
                    },
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

IMAGE_INSTANCE = {
    "type": "object",
    "description": "An encoded image (image models): a PNG or JPEG file, base64.",
    "required": ["b64"],
    "properties": {"b64": {"type": "string", "contentEncoding": "base64"}},
    "additionalProperties": False,
}

V1_REQUEST = {
    "type": "object",
    "required": ["instances"],
    "properties": {
        "instances": {
            "type": "array",
            "minItems": 1,
            "description": "Rows shaped like the model input (or flat); for tabular models, "
            "objects of named features; for models trained on image files, PNG or JPEG files "
            'as {"b64": "<base64>"}, decoded and resized as in training.',
            "items": {"anyOf": [{"type": "array"}, IMAGE_INSTANCE, {"type": "object"}]},
        }
    },
}


def operation(summary: str, request_schema: dict, path_parameters: tuple[str, ...]) -> dict:
    """An OpenAPI operation: path parameters, a JSON request body and the answers."""
    answers = {
        str(status): {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for status, text in (
            (
                400,
                "Malformed request: invalid JSON, wrong shape, type or value; an encoded image "
                "that is not base64, not a PNG or JPEG, or cannot be decoded; an image sent to "
                "a model not trained on image files.",
            ),
            (404, "No such model or version."),
            (
                413,
                "Body or batch larger than the configured limits, or an encoded image with "
                "more pixels than the model's limit (at least 4096 x 4096, or 8 times its "
                "input size per side).",
            ),
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


JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
NOT_FOUND = {
    "description": "No such model.",
    "content": {"application/json": {"schema": ERROR}},
}


def read(summary: str, path_parameters: tuple[str, ...] = (), content: dict | None = None) -> dict:
    """A GET operation answering 200 with `content` (JSON by default), and 404 for any model
    name but the one served when it takes a name."""
    responses: dict[str, dict] = {
        "200": {"description": summary, "content": content or JSON_OBJECT}
    }
    if path_parameters:
        responses["404"] = NOT_FOUND
    return {
        "summary": summary,
        "operationId": summary.lower().replace(" ", "_").replace("'", ""),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path_parameters
        ],
        "responses": responses,
    }


READ_OPERATIONS = {
    "/v2/health/live": read("Server liveness"),
    "/v2/health/ready": read("Server readiness"),
    "/v2": read("Server metadata"),
    "/v2/models/{name}": read("Model metadata", ("name",)),
    "/v2/models/{name}/ready": read("Model readiness", ("name",)),
    "/v1/models": read("Served models"),
    "/v1/models/{name}": read("KServe v1 model readiness", ("name",)),
    "/": read("The web page", content={"text/html": {"schema": {"type": "string"}}}),
    # Prometheus' text exposition format; its version parameter follows prometheus_client.
    "/metrics": read("Prometheus metrics", content={"text/plain": {"schema": {"type": "string"}}}),
}


def document(title: str, version: str) -> dict:
    """The service's OpenAPI document: every path it answers, with its statuses and types."""
    paths = {path: {"post": op} for path, op in INFERENCE_OPERATIONS.items()}
    paths |= {path: {"get": op} for path, op in READ_OPERATIONS.items()}
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths}
