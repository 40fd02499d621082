"""OpenAPI documentation of the inference request bodies. The handlers parse bodies themselves
(orjson + numpy), so FastAPI cannot infer these; they are written out for clients and for
schema-driven fuzzing (schemathesis)."""

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


def operation(summary: str, request_schema: dict) -> dict:
    """Keyword arguments for a FastAPI route: a JSON request body and the error answers."""
    errors = {
        str(status): {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for status, text in (
            (400, "Malformed request: invalid JSON, wrong shape, type or value."),
            (404, "No such model or version."),
            (413, "Body or batch larger than the configured limits."),
            (415, "Body is not application/json."),
        )
    }
    return {
        "summary": summary,
        "responses": errors,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema}},
            }
        },
    }


V2_INFER = operation("Open Inference Protocol v2 inference", V2_REQUEST)
V1_PREDICT = operation("KServe v1 predict", V1_REQUEST)
