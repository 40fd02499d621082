"""The InferenceService manifest: rendered from params and the registered version, and validated
against the KServe CRD schema kept in the repository, unknown fields refused as strict kubectl
does. (The kserve target writing and applying it is in test_kserve.py.)"""

from __future__ import annotations

import pytest
import yaml

from ml.config import parse_params
from ml.deploy.kserve_manifest import RUNTIME_NAME, ManifestError, render, validate


def params(**kserve):
    return parse_params({"serve": {"model_name": "digits"}, "deploy": {"kserve": kserve}})


def test_renders_an_onnx_inference_service_on_protocol_v2(registered):
    (service,) = render("digits", registered, params(canary_traffic_percent=10, cpu="500m"))
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["kind"] == "InferenceService"
    assert service["metadata"]["name"] == "digits"
    assert service["metadata"]["annotations"]["runwright/model-version"] == "3"
    predictor = service["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "onnx"}
    assert model["protocolVersion"] == "v2"
    assert model["storageUri"] == "s3://models/1/abc/artifacts"  # the registered version's
    assert model["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert "runtime" not in model


def test_the_kits_image_comes_as_a_serving_runtime(registered):
    settings = params(image="registry.example/runwright-serve:abc", storage_uri="gs://b/m")
    runtime, service = render("digits", registered, settings)
    assert runtime["kind"] == "ServingRuntime"
    container = runtime["spec"]["containers"][0]
    assert container["image"] == "registry.example/runwright-serve:abc"
    assert "/mnt/models/model.onnx" in container["args"]
    assert runtime["spec"]["protocolVersions"] == ["v2", "v1"]
    assert service["spec"]["predictor"]["model"]["runtime"] == runtime["metadata"]["name"]
    assert service["spec"]["predictor"]["model"]["storageUri"] == "gs://b/m"


def test_a_manifest_from_the_kserve_documentation_is_valid():
    validate(
        yaml.safe_load(
            """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    canaryTrafficPercent: 10
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model-2
"""
        )
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("canaryTrafficPercent",), "ten", "spec.predictor.canaryTrafficPercent: 'ten' is not"),
        (("model", "storageURI"), "s3://x", "Additional properties are not allowed ('storageURI'"),
        (("model", "resources", "limits", "memory"), "1 GB", "does not match"),
        (("model", "modelFormat"), {"version": "1"}, "'name' is a required property"),
    ],
)
def test_schema_violations_name_the_field(registered, path, value, message):
    (service,) = render("digits", registered, params())
    node = service["spec"]["predictor"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ManifestError, match="InferenceService manifest is invalid") as caught:
        validate(service)
    assert message in str(caught.value)


def test_a_named_runtime_is_used_without_rendering_one(registered):
    (service,) = render("digits", registered, params(runtime="kserve-onnxruntime"))
    assert service["spec"]["predictor"]["model"]["runtime"] == "kserve-onnxruntime"
    assert "canaryTrafficPercent" not in service["spec"]["predictor"]
    assert "serving.kserve.io/enable-tag-routing" not in service["metadata"]["annotations"]


def test_a_canary_gets_a_url_of_its_own_for_the_smoke_test(registered):
    (service,) = render("digits", registered, params(canary_traffic_percent=0))
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 0
    annotations = service["metadata"]["annotations"]
    assert annotations["serving.kserve.io/enable-tag-routing"] == "true"
    assert annotations["runwright/sha256"] == registered.sha256


def test_runtime_and_service_share_the_namespace(registered):
    settings = params(image="registry.example/serve:1", namespace="models")
    runtime, service = render("digits", registered, settings)
    assert runtime["metadata"] == {"name": RUNTIME_NAME, "namespace": "models"}
    assert service["metadata"]["namespace"] == "models"
