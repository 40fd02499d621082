"""End to end with the real tools: `dvc repro` in a temporary Git repository, then what a DVC
user does next (no-op repro, a param change, an experiment, metrics and plots)."""

from __future__ import annotations

import json

import httpx
import mlflow
import numpy as np
import onnxruntime as ort
import pytest
import yaml

from ml.onnx_model import read_metadata
from tests.conftest import make_pipeline_repo, tiny_params
from tests.helpers import run
from tests.serving import running_service, write_serve_params

pytestmark = pytest.mark.e2e

STAGES = ("prepare", "train", "export", "evaluate")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """One full `dvc repro` shared by the read-only checks below."""
    repo, env = make_pipeline_repo(tmp_path_factory.mktemp("e2e") / "repo", tiny_params())
    result = run(["dvc", "repro"], repo, env)
    return repo, env, result


def ran_stages(output: str) -> set[str]:
    return {stage for stage in STAGES if f"Running stage '{stage}'" in output}


def test_repro_runs_every_stage_and_writes_the_contract_files(reproduced):
    repo, _, result = reproduced
    assert ran_stages(result.stdout) == set(STAGES)
    for name in (
        "models/model.keras",
        "models/conversion.npz",
        "models/model.onnx",
        "dvc.lock",
        "data/prepared/train.npz",
        "data/prepared/dataset.json",
        "plots/train/history.csv",
        "plots/evaluate/test_predictions.csv",
    ):
        assert (repo / name).is_file(), name
    train = json.loads((repo / "metrics/train.json").read_text())
    assert train["resumed_from_epoch"] is None
    assert train["epochs_run"] == 3
    evaluate = json.loads((repo / "metrics/evaluate.json").read_text())
    assert set(evaluate) >= {"accuracy", "f1_macro", "per_class"}
    assert set(evaluate["per_class"]) == {str(digit) for digit in range(10)}
    export = json.loads((repo / "metrics/export.json").read_text())
    assert export["verified"] is True
    assert export["max_abs_diff"] <= 1e-5
    assert export["label_flips"] == 0
    assert export["batch_sizes_checked"] == [1, 7, 1024]
    history = (repo / "plots/train/history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and len(history) == 1 + 3
    # export verified the conversion train made, rather than starting TensorFlow again.
    output = result.stdout + result.stderr
    assert "Verifying the ONNX conversion train made of models/model.keras" in output
    # The run landed in the embedded MLflow store, not in a server, with the test metrics.
    assert (repo / "mlflow.db").is_file()
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    logged = client.get_run(train["mlflow_run_id"]).data.metrics
    assert logged["test_accuracy"] == evaluate["accuracy"]
    assert logged["test_f1_macro"] == evaluate["f1_macro"]
    # Checkpoints are removed once training completes.
    assert not (repo / "checkpoints/train").exists()


def test_onnx_metadata_describes_the_model(reproduced):
    repo, _, _ = reproduced
    metadata = read_metadata(repo / "models/model.onnx")
    assert metadata["input_name"] == "image"
    assert metadata["input_shape"] == ["batch", 8, 8, 1]
    assert metadata["output_name"] == "probabilities"
    assert metadata["output_shape"] == ["batch", 10]
    assert metadata["class_labels"] == [str(digit) for digit in range(10)]
    assert len(metadata["feature_names"]) == 64
    assert len(metadata["params_hash"]) == 16
    assert len(metadata["git_commit"]) >= 40
    assert {"keras", "onnx", "onnxruntime", "python"} <= set(metadata["versions"])
    # Where the model was trained, as ml train recorded it.
    trained_on = json.loads((repo / "metrics/train.json").read_text())["gpu"]
    assert metadata["gpu"] == trained_on and trained_on["replicas"] >= 1


def test_the_exported_model_is_served_with_its_reference_and_examples(reproduced, tmp_path):
    repo, _, _ = reproduced
    model = repo / "models/model.onnx"
    metadata = read_metadata(model)
    assert len(metadata["reference"]["columns"]) == 64
    examples = metadata["examples"]
    assert len(examples["inputs"]) == len(examples["targets"]) == 32
    rows = np.asarray(examples["inputs"], dtype=np.float32)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": rows})[0]
    params = write_serve_params(tmp_path / "params.yaml")
    with running_service(model, params, tmp_path / "service.log") as url:
        response = httpx.post(
            f"{url}/v1/models/digits:predict", json={"instances": examples["inputs"]}
        )
    assert response.status_code == 200, response.text
    served = [prediction["label"] for prediction in response.json()["predictions"]]
    assert served == [str(label) for label in expected.argmax(axis=1)]


def test_second_repro_runs_nothing(reproduced):
    repo, env, _ = reproduced
    result = run(["dvc", "repro"], repo, env)
    assert ran_stages(result.stdout) == set()
    status = run(["dvc", "status"], repo, env)
    assert "up to date" in status.stdout


def test_dvc_metrics_and_plots_show(reproduced):
    repo, env, _ = reproduced
    metrics = run(["dvc", "metrics", "show", "--json"], repo, env)
    shown = json.loads(metrics.stdout)
    workspace = shown[""]["data"] if "" in shown else shown["workspace"]["data"]
    assert "accuracy" in workspace["metrics/evaluate.json"]["data"]
    plots = run(["dvc", "plots", "show", "-o", "dvc_plots"], repo, env)
    assert "failed" not in (plots.stdout + plots.stderr).lower()
    page = (repo / "dvc_plots/index.html").read_text()
    assert "Learning curves" in page and "Test set: confusion matrix (classification)" in page


def test_changing_a_train_param_reruns_train_and_later_stages_only(tmp_path):
    repo, env = make_pipeline_repo(tmp_path / "repo", tiny_params(epochs=2))
    run(["dvc", "repro"], repo, env)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["epochs"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro"], repo, env)
    assert ran_stages(result.stdout) == {"train", "evaluate", "export"}
    assert "Stage 'prepare' didn't change" in result.stdout
    # The same change as an experiment: dvc exp run -S works on the shipped dvc.yaml.
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "three epochs"], repo, env)
    experiment = run(["dvc", "exp", "run", "-S", "train.epochs=4"], repo, env)
    assert "Running stage 'train'" in experiment.stdout
    # Back to a configuration that already ran: DVC's run-cache restores it, no training.
    cached = run(["dvc", "exp", "run", "-S", "train.epochs=2"], repo, env)
    assert "Stage 'train' is cached - skipping run" in cached.stdout
    shown = run(["dvc", "exp", "show", "--csv"], repo, env).stdout
    assert "train.epochs" in shown.splitlines()[0]


def test_bad_params_stop_repro_before_any_work(pipeline_repo):
    repo, env = pipeline_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["epoch"] = 5  # typo for 'epochs'
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro"], repo, env, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "train.epoch: unknown key" in output
    assert "Did you mean 'epochs'?" in output
    assert "Traceback" not in output
    assert not (repo / "data/prepared").exists()
