"""The kserve target: InferenceService manifests rendered from params and the registered
version, validated against the KServe CRD schema kept in the repository, applied with kubectl."""

from __future__ import annotations

import shutil

import pytest
import yaml

from ml.config import parse_params
from ml.deploy.kserve import KServeTarget
from ml.deploy.kserve_manifest import ManifestError, render, validate
from ml.deploy.registry import RegisteredModel
from ml.errors import UserError


@pytest.fixture
def registered(tmp_path):
    return RegisteredModel(
        name="digits",
        version="3",
        sha256="ab" * 32,
        file=tmp_path / "model.onnx",
        artifact_uri="s3://models/1/abc/artifacts",
    )


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


def test_without_apply_the_manifest_is_written_and_nothing_applied(registered, tmp_path):
    target = KServeTarget(tmp_path, params())
    assert target.deploy(registered, timeout=5) is None
    documents = list(yaml.safe_load_all(target.manifest.read_text()))
    assert [d["kind"] for d in documents] == ["InferenceService"]
    assert "not applied" in target.describe()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_apply_reports_kubectls_error_when_no_cluster_answers(registered, tmp_path, monkeypatch):
    # An empty kubeconfig: kubectl has no cluster to reach and must say so, not hang.
    (tmp_path / "kubeconfig").write_text("")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    target = KServeTarget(tmp_path, params(apply=True))
    with pytest.raises(UserError, match="`kubectl apply` failed: "):
        target.deploy(registered, timeout=5)
    assert target.manifest.is_file()  # what would have been applied stays for inspection


def test_replica_bounds_are_checked():
    with pytest.raises(UserError, match="max_replicas \\(1\\) is below min_replicas \\(2\\)"):
        params(min_replicas=2)
