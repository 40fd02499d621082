"""examples/tabular, run as its README says: write the CSV, `dvc repro` with the team's own model
(models/net.py, a registered custom layer), kill -9 in the middle of training and resume,
export verified against Keras, serve it and predict over loopback; editing the model file makes
`train` stale."""

from __future__ import annotations

import json

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import yaml

from ml.io import load_split, read_json
from tests.e2e.examples import assert_resumed, example_repo, killed_and_resumed
from tests.helpers import run
from tests.serving import running_service

pytestmark = pytest.mark.e2e

EPOCHS = 8
KILL_AFTER_EPOCH = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return example_repo("tabular", tmp_path_factory.mktemp("tabular"), "make_data.py", EPOCHS)


@pytest.fixture(scope="module")
def reproduced(project):
    """`dvc repro` killed with SIGKILL after a few epochs, then run again: it resumes."""
    repo, env = project
    killed_at, output = killed_and_resumed(repo, env, KILL_AFTER_EPOCH)
    return repo, env, killed_at, output


def test_repro_resumes_the_own_model_after_kill_9(reproduced):
    repo, _, killed_at, output = reproduced
    assert_resumed(repo, killed_at, output, EPOCHS)


def test_the_own_model_is_evaluated_and_exported_with_parity(reproduced):
    repo, _, _, _ = reproduced
    evaluate = read_json(repo / "metrics/evaluate.json")
    assert evaluate["task"] == "classification" and evaluate["accuracy"] > 0.6
    assert (repo / "plots/evaluate/confusion.csv").is_file()  # the task's plot, by default
    export = read_json(repo / "metrics/export.json")
    assert export["verified"] is True and export["label_flips"] == 0
    assert export["max_scaled_diff"] <= 1e-5


def test_serve_and_predict_over_loopback(reproduced, tmp_path):
    repo, _, _, _ = reproduced
    model = repo / "models/model.onnx"
    x_test, _ = load_split(repo / "data/prepared", "test")
    # The served name comes from the data file (cars.csv), as params.yaml sets none. The
    # service runs from the kit's checkout, where models/net.py is not: it gets the sections
    # it reads (train.model names a file relative to the project, checked on load).
    params = yaml.safe_load((repo / "params.yaml").read_text())
    serve_params = tmp_path / "serve.yaml"
    serve_params.write_text(yaml.safe_dump({"prepare": params["prepare"]}))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x_test[:5]})[0]
    with running_service(model, serve_params, tmp_path / "serve.log") as url:
        response = httpx.post(
            f"{url}/v1/models/cars:predict", json={"instances": x_test[:5].tolist()}, timeout=10
        )
    assert response.status_code == 200, response.text
    labels = read_json(repo / "data/prepared/dataset.json")["class_labels"]
    served = [
        [row["probabilities"][label] for label in labels] for row in response.json()["predictions"]
    ]
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert [row["label"] for row in response.json()["predictions"]] == [
        labels[i] for i in expected.argmax(axis=1)
    ]


def test_editing_the_model_file_makes_train_stale(reproduced):
    repo, env, _, _ = reproduced
    assert "up to date" in run(["dvc", "status"], repo, env).stdout
    net = repo / "models/net.py"
    net.write_text(net.read_text().replace("[64, 32]", "[32, 16]"))
    status = run(["dvc", "status", "--json"], repo, env).stdout
    stale = json.loads(status)
    # evaluate scores the exported model: it goes stale once export has written a new one.
    assert {"train", "export"} <= set(stale)
    assert not {"prepare"} & set(stale)
    assert any("models/net.py" in json.dumps(entry) for entry in stale["train"])
