"""Contract tests of the Open Inference Protocol v2 and KServe v1 endpoints, against the real
service (`python -m ml.serve`) over loopback."""

from __future__ import annotations

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from ml.io import load_split
from tests.serving import running_service, write_serve_params


def local_probabilities(model_path, rows):
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": rows})[0]


@pytest.fixture(scope="module")
def test_rows(prepared_digits, digits_onnx):
    """Five test rows and the labels onnxruntime predicts for them locally."""
    rows = load_split(prepared_digits, "test")[0][:5]
    return rows, [str(label) for label in local_probabilities(digits_onnx, rows).argmax(1)]


def test_health_and_server_metadata(digits_service):
    assert httpx.get(f"{digits_service}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{digits_service}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{digits_service}/v2/models/digits/ready").json() == {
        "name": "digits",
        "ready": True,
    }
    assert httpx.get(f"{digits_service}/v2").json()["name"] == "runwright"
    assert httpx.get(f"{digits_service}/v1/models").json() == {"models": ["digits"]}


def test_v2_model_metadata_comes_from_the_onnx_file(digits_service, digits_onnx):
    metadata = httpx.get(f"{digits_service}/v2/models/digits").json()
    assert metadata["name"] == "digits"
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 8, 8, 1]}]
    assert metadata["outputs"][0] == {
        "name": "probabilities",
        "datatype": "FP32",
        "shape": [-1, 10],
    }
    assert metadata["parameters"]["class_labels"] == [str(d) for d in range(10)]
    import hashlib

    sha = hashlib.sha256(digits_onnx.read_bytes()).hexdigest()
    assert metadata["versions"] == [sha[:12]]
    assert metadata["parameters"]["sha256"] == sha


def test_v2_infer_returns_probabilities_and_labels(digits_service, digits_onnx, test_rows):
    rows, labels = test_rows
    request = {
        "id": "req-1",
        "inputs": [
            {"name": "image", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}
        ],
    }
    response = httpx.post(f"{digits_service}/v2/models/digits/infer", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "req-1" and body["model_name"] == "digits"
    probabilities, label = body["outputs"]
    assert probabilities["name"] == "probabilities" and probabilities["shape"] == [5, 10]
    served = np.asarray(probabilities["data"], dtype=np.float32).reshape(5, 10)
    np.testing.assert_allclose(served, local_probabilities(digits_onnx, rows), atol=1e-6)
    assert label == {"name": "label", "datatype": "BYTES", "shape": [5], "data": labels}


def test_v2_accepts_flat_data_and_selects_outputs(digits_service, test_rows):
    rows, labels = test_rows
    request = {
        "inputs": [
            {
                "name": "image",
                "shape": [2, 8, 8, 1],
                "datatype": "FP32",
                "data": rows[:2].ravel().tolist(),
            }
        ],
        "outputs": [{"name": "label"}],
    }
    body = httpx.post(f"{digits_service}/v2/models/digits/infer", json=request).json()
    assert body["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [2], "data": labels[:2]}
    ]


def test_v2_versioned_path_checks_the_version(digits_service, test_rows):
    rows, _ = test_rows
    version = httpx.get(f"{digits_service}/v2/models/digits").json()["versions"][0]
    request = {
        "inputs": [
            {"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32", "data": rows[:1].tolist()}
        ]
    }
    ok = httpx.post(f"{digits_service}/v2/models/digits/versions/{version}/infer", json=request)
    assert ok.status_code == 200
    stale = httpx.post(f"{digits_service}/v2/models/digits/versions/0000/infer", json=request)
    assert stale.status_code == 404
    assert f"serving {version}" in stale.json()["error"]


def test_v1_predict_returns_labels_and_probabilities(digits_service, test_rows):
    rows, labels = test_rows
    for instances in (rows.tolist(), rows.reshape(5, 64).tolist()):  # shaped or flat rows
        response = httpx.post(
            f"{digits_service}/v1/models/digits:predict", json={"instances": instances}
        )
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        assert [p["label"] for p in predictions] == labels
        for prediction in predictions:
            assert set(prediction["probabilities"]) == {str(d) for d in range(10)}
            assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_unknown_model_name_is_404(digits_service):
    response = httpx.get(f"{digits_service}/v2/models/other")
    assert response.status_code == 404
    assert response.json() == {"error": "model 'other' not found; this service serves 'digits'"}
    predict = httpx.post(f"{digits_service}/v1/models/other:predict", json={"instances": [[0]]})
    assert predict.status_code == 404


def test_named_tabular_features(tabular_onnx, tmp_path):
    params = write_serve_params(tmp_path / "params.yaml", model_name="people")
    with running_service(tabular_onnx, params, tmp_path / "log") as url:
        metadata = httpx.get(f"{url}/v2/models/people").json()
        assert metadata["parameters"]["named_features"] == ["age", "income", "city"]
        instances = [
            {"age": 70, "income": 40.5, "city": "Nice"},
            {"age": 22, "income": None, "city": "Atlantis"},  # null: training fill; unseen city
        ]
        response = httpx.post(f"{url}/v1/models/people:predict", json={"instances": instances})
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        assert [p["label"] for p in predictions] == ["senior", "standard"]
        assert set(predictions[0]["probabilities"]) == {"senior", "standard"}
        # The same rows already encoded (age, income, one-hot city) give the same answer.
        encoded = httpx.post(
            f"{url}/v1/models/people:predict",
            json={"instances": [[70, 40.5, 0, 1, 0]]},
        )
        assert encoded.json()["predictions"][0] == predictions[0]
        wrong = httpx.post(
            f"{url}/v1/models/people:predict",
            json={"instances": [{"age": 30, "incme": 1, "city": "Lyon"}]},
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"] == (
            "instances[0]: missing features: income; unknown features: incme "
            "(this model takes: age, income, city)"
        )


def test_regression_returns_values(regression_onnx, tmp_path):
    params = write_serve_params(tmp_path / "params.yaml", model_name="diabetes")
    with running_service(regression_onnx, params, tmp_path / "log") as url:
        metadata = httpx.get(f"{url}/v2/models/diabetes").json()
        assert [output["name"] for output in metadata["outputs"]] == ["prediction"]
        rows = [[0.0] * 10, [0.05] * 10]
        predictions = httpx.post(
            f"{url}/v1/models/diabetes:predict", json={"instances": rows}
        ).json()["predictions"]
        assert len(predictions) == 2 and all(isinstance(v, float) for v in predictions)
        assert 50 < predictions[0] < 300  # near the mean disease progression (about 150)
