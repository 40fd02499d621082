"""Response bodies of the Open Inference Protocol v2 and KServe v1, built from model outputs.

Classifiers answer with their probabilities and, as a second v2 output, the class labels;
regressors with their predicted value.
"""

from __future__ import annotations

import numpy as np

from ml.serve.model import LoadedModel
from ml.serve.validation import RequestError, parameters

LABEL_OUTPUT = "label"  # the extra v2 output that carries class labels


def output_names(model: LoadedModel) -> list[str]:
    names = [model.output_name]
    if model.class_labels:
        names.append(LABEL_OUTPUT)
    return names


def model_metadata(model: LoadedModel, name: str) -> dict:
    """GET /v2/models/{name}: the OIP metadata plus what a client needs to build requests."""
    width = model.metadata["output_shape"][-1]
    outputs = [{"name": model.output_name, "datatype": "FP32", "shape": [-1, width]}]
    if model.class_labels:
        outputs.append({"name": LABEL_OUTPUT, "datatype": "BYTES", "shape": [-1]})
    metadata = model.metadata
    return {
        "name": name,
        "versions": [model.version],
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": model.input_name, "datatype": "FP32", "shape": [-1, *model.row_shape]}
        ],
        "outputs": outputs,
        "parameters": {
            "task": model.task,
            "target": metadata.get("target"),
            "class_labels": model.class_labels,
            "feature_names": metadata.get("feature_names"),
            "named_features": named_feature_names(model),
            # Image models also take encoded PNG/JPEG files (v1 {"b64": ...}, v2 BYTES),
            # decoded by this rule.
            "preprocessing": metadata.get("preprocessing"),
            "sha256": model.sha256,
            "params_hash": metadata.get("params_hash"),
            "git_commit": metadata.get("git_commit"),
        },
    }


def named_feature_names(model: LoadedModel) -> list[str] | None:
    encoding = model.encoding
    if not encoding:
        return None
    return [spec["name"] for spec in encoding["numeric"] + encoding["categorical"]]


def requested_outputs(payload: dict, model: LoadedModel) -> list[str]:
    """The names in the request's optional 'outputs' list; all outputs when it is absent."""
    available = output_names(model)
    wanted = payload.get("outputs")
    if wanted is None:
        return available
    if not isinstance(wanted, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in wanted
    ):
        raise RequestError(400, "'outputs' must be a list of objects with a 'name'")
    for index, item in enumerate(wanted):
        parameters(item, f"outputs[{index}].parameters")
    names = [item["name"] for item in wanted]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise RequestError(
            400, f"unknown outputs {unknown}; this model has {', '.join(available)}"
        )
    return names


def v2_response(
    model: LoadedModel, name: str, result: np.ndarray, request_id: object, wanted: list[str]
) -> dict:
    outputs: list[dict[str, object]] = []
    for output in wanted:
        if output == LABEL_OUTPUT:
            labels = labels_of(model, result)
            outputs.append(
                {"name": output, "datatype": "BYTES", "shape": [len(labels)], "data": labels}
            )
        else:
            outputs.append(
                {"name": output, "datatype": "FP32", "shape": list(result.shape), "data": result}
            )
    response: dict[str, object] = {
        "model_name": name,
        "model_version": model.version,
        "outputs": outputs,
    }
    if isinstance(request_id, str):
        response["id"] = request_id
    return response


def v1_response(model: LoadedModel, result: np.ndarray) -> dict:
    """{"predictions": [...]}: per row a label and its probabilities, or the predicted value."""
    if not model.class_labels:
        return {"predictions": np.ascontiguousarray(result[:, 0])}
    labels = model.class_labels
    predictions = [
        {"label": label, "probabilities": dict(zip(labels, row, strict=True))}
        for label, row in zip(labels_of(model, result), result.tolist(), strict=True)
    ]
    return {"predictions": predictions}


def labels_of(model: LoadedModel, result: np.ndarray) -> list[str]:
    labels = model.class_labels
    if labels is None:
        raise RequestError(
            400, f"output {LABEL_OUTPUT!r} is for classifiers; this model has no labels"
        )
    return [labels[index] for index in result.argmax(axis=1).tolist()]
