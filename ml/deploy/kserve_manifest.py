"""The InferenceService manifest for the `kserve` target: the ONNX model over the Open
Inference Protocol v2, the registered version's storage URI, resources and an optional canary
share, validated against the KServe CRD schema kept in ml/deploy/schemas/ before it is written.

With deploy.kserve.image set, a ServingRuntime running the kit's own serving image is rendered
too and the model uses it, so the cluster serves exactly what the other targets serve (the web
page, /metrics, the version checks of the smoke test)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from ml.config import Params
from ml.deploy.registry import RegisteredModel
from ml.errors import UserError

SCHEMA = Path(__file__).with_name("schemas") / "inferenceservices.serving.kserve.io.yaml"
RUNTIME_NAME = "runwright-onnx"


class ManifestError(UserError):
    """A rendered manifest does not match the InferenceService schema."""


def render(name: str, model: RegisteredModel, params: Params) -> list[dict]:
    settings = params.deploy.kserve
    quantities = {"cpu": settings.cpu, "memory": settings.memory}
    model_spec = {
        "modelFormat": {"name": "onnx"},
        "protocolVersion": "v2",
        "storageUri": settings.storage_uri or model.artifact_uri,
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
    }
    runtime = settings.runtime or (RUNTIME_NAME if settings.image else None)
    if runtime:
        model_spec["runtime"] = runtime
    predictor = {
        "minReplicas": settings.min_replicas,
        "maxReplicas": settings.max_replicas,
        "model": model_spec,
    }
    annotations = {"runwright/model-version": model.version, "runwright/sha256": model.sha256}
    if settings.canary_traffic_percent is not None:
        predictor["canaryTrafficPercent"] = settings.canary_traffic_percent
        # A URL for the new revision alone, for the smoke test (deploy.kserve.url).
        annotations["serving.kserve.io/enable-tag-routing"] = "true"
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": {"app.kubernetes.io/managed-by": "runwright"},
            "annotations": annotations,
        },
        "spec": {"predictor": predictor},
    }
    validate(service)
    runtimes = [serving_runtime(settings.image, params)] if settings.image else []
    return [*runtimes, service]


def serving_runtime(image: str, params: Params) -> dict:
    """The kit's serving image as a KServe runtime for ONNX models (KServe downloads the model
    directory from storageUri to /mnt/models)."""
    serve = params.serve
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": RUNTIME_NAME, "namespace": params.deploy.kserve.namespace},
        "spec": {
            "supportedModelFormats": [{"name": "onnx", "autoSelect": True}],
            "protocolVersions": ["v2", "v1"],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": image,
                    # KServe fills in {{.Name}}: the InferenceService's name.
                    "args": [
                        "--model",
                        "/mnt/models/model.onnx",
                        "--name",
                        "{{.Name}}",
                        "--host",
                        "0.0.0.0",
                        "--port",
                        "8080",
                        "--workers",
                        str(serve.workers),
                    ],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                }
            ],
        },
    }


@functools.cache
def strict_schema() -> dict:
    loaded = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))["openAPIV3Schema"]
    schema: dict = copy.deepcopy(loaded)
    forbid_unknown_fields(schema)
    return schema


def forbid_unknown_fields(schema: object) -> None:
    """additionalProperties: false wherever properties are listed, as strict kubectl does."""
    if isinstance(schema, dict):
        preserves = schema.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in schema and "additionalProperties" not in schema and not preserves:
            schema["additionalProperties"] = False
        for value in schema.values():
            forbid_unknown_fields(value)
    elif isinstance(schema, list):
        for item in schema:
            forbid_unknown_fields(item)


def validate(manifest: dict) -> None:
    import jsonschema

    validator = jsonschema.Draft7Validator(strict_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]
        raise ManifestError("InferenceService manifest is invalid:\n  " + "\n  ".join(lines))
