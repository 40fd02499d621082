"""`ml tune`: a real Optuna study on the digits data with nested MLflow runs, pruning, resuming,
and the best settings written back into params.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml import dotted
from ml.config import parse_params
from ml.errors import UserError
from ml.tune import command as tune
from tests.image_folders import decoded_batches

WEAK_START = """\
# A deliberately weak start: a 4-unit network trained for one epoch.
train:
  model: mlp               # cnn (images) | mlp (tabular or images)
  epochs: 1
  batch_size: 64
  learning_rate: 0.001
  mlp:
    units: [4]             # far too narrow
    dropout_rate: 0.2
gate:
  min_accuracy: 0.80
tune:
  trials: 4
  prune_startup_trials: 2
  prune_warmup_epochs: 1
  candidates:
    - {mlp.units: [32], epochs: 5, learning_rate: 0.01}
    - {mlp.units: [32], epochs: 5, learning_rate: 0.005}
    - {mlp.units: [2], epochs: 5, learning_rate: 0.0001}   # hopeless: must be pruned
  space:
    mlp.units: {choices: [[32], [64]]}
    epochs: {choices: [5]}
    learning_rate: {low: 0.003, high: 0.01, log: true}
"""


# --- a real search on the digits data ----------------------------------------------------------


@pytest.fixture(scope="module")
def searched(prepared_digits: Path, tmp_path_factory, request):
    """`ml tune --no-repro` once, then again with a budget one trial larger (a resume)."""
    root = tmp_path_factory.mktemp("tune")
    monkeypatch = pytest.MonkeyPatch()
    request.addfinalizer(monkeypatch.undo)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    (root / "params.yaml").write_text(WEAK_START)

    def run_tune() -> dict:
        tune.main(
            params_path=Path("params.yaml"),
            data=prepared_digits,
            study_dir=Path(".cache/tune"),
            out=Path("metrics/tune.json"),
            repro=False,
        )
        return json.loads((root / "metrics/tune.json").read_text())

    first = run_tune()
    params_after_first = (root / "params.yaml").read_text()
    text = params_after_first.replace("trials: 4", "trials: 5")
    (root / "params.yaml").write_text(text)
    second = run_tune()
    return root, first, params_after_first, second


def test_search_finds_a_configuration_above_the_gate(searched) -> None:
    _, first, _, _ = searched
    assert len(first["trials"]) == 4
    best = first["best"]
    assert best["value"] >= 0.9  # validation accuracy; the weak start reaches ~0.2
    assert first["trials"][0]["number"] == best["number"]
    assert [row["rank"] for row in first["trials"]] == [1, 2, 3, 4]


def test_the_hopeless_candidate_is_pruned(searched) -> None:
    _, first, _, _ = searched
    hopeless = next(row for row in first["trials"] if row["number"] == 2)
    assert hopeless["overrides"] == {"mlp.units": [2], "epochs": 5, "learning_rate": 0.0001}
    assert hopeless["state"] == "pruned"
    assert hopeless["epochs"] < 5


def test_best_settings_are_written_into_params(searched) -> None:
    _, first, params_text, _ = searched
    train = parse_params(yaml.safe_load(params_text)).train.model_dump()
    for key, value in first["best"]["overrides"].items():
        assert dotted.get(train, key) == value
    assert "# cnn (images) | mlp (tabular or images)" in params_text


def test_trials_are_nested_mlflow_runs(searched) -> None:
    import mlflow

    root, first, _, second = searched
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    parent = client.get_run(first["mlflow_run_id"])
    assert parent.info.run_name == "tune"
    assert second["mlflow_run_id"] == first["mlflow_run_id"]  # the resume continued it
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(children) == 5
    best = client.get_run(first["best"]["mlflow_run_id"])
    assert best.data.params["mlp.units"] == str(first["best"]["overrides"]["mlp.units"])
    assert len(client.get_metric_history(best.info.run_id, "val_accuracy")) == 5


def test_resume_runs_only_the_missing_trial(searched) -> None:
    _, first, _, second = searched
    assert second["study"] == first["study"]
    assert len(second["trials"]) == 5
    new = {row["number"] for row in second["trials"]} - {row["number"] for row in first["trials"]}
    assert new == {4}
    assert second["best"]["value"] >= first["best"]["value"]


def test_tune_without_prepared_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(WEAK_START)
    with pytest.raises(UserError, match=r"dataset\.json not found: run `dvc repro prepare` first"):
        tune.main(params_path=Path("params.yaml"), data=tmp_path / "nope", repro=False)


# --- an image folder: trials stream its files through `ml train`'s input pipeline --------------

NET = """
import keras
from keras import layers


def build(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(input_shape)
    hidden = layers.Conv2D(hyperparameters["filters"], 3, activation="relu")(inputs)
    hidden = layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(hidden))
"""


@pytest.fixture
def image_project(tmp_path: Path, monkeypatch) -> Path:
    """A project whose data/prepared is a 3-class folder of 12 images each, decoded at 12x12,
        with its own model code in models/shapes_net.py (a name of its own: a process imports a
    model file once), as the working directory, MLflow in it."""
    from ml.config import PrepareParams
    from ml.prepare import prepare
    from tests.image_folders import write_image_folder

    root = write_image_folder(tmp_path / "shapes", per_class=12)
    prepare(
        PrepareParams.model_validate(
            {"source": {"images": str(root)}, "image": {"size": [12, 12], "color_mode": "rgb"}}
        ),
        tmp_path / "prepared",
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models/shapes_net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return tmp_path


IMAGE_TRAIN = {"epochs": 1, "batch_size": 8, "learning_rate": 0.01}


@pytest.mark.parametrize(
    ("train", "space"),
    [
        (
            {"model": "cnn", "cnn": {"filters": [4], "dense_units": 8, "dropout_rate": 0.1}},
            {"cnn.dense_units": {"choices": [8, 16]}},
        ),
        (
            {"model": "models/shapes_net.py:build", "hyperparameters": {"filters": 4}},
            {"hyperparameters.filters": {"choices": [2, 4]}},
        ),
    ],
    ids=["cnn", "own-model"],
)
def test_tune_searches_over_an_image_folder(image_project: Path, monkeypatch, train, space):
    params = {"train": IMAGE_TRAIN | train, "tune": {"trials": 2, "space": space}}
    (image_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sizes = decoded_batches(monkeypatch)
    tune.main(
        params_path=Path("params.yaml"),
        data=Path("prepared"),
        study_dir=Path(".cache/tune"),
        out=Path("metrics/tune.json"),
        repro=False,
    )
    table = json.loads((image_project / "metrics/tune.json").read_text())
    assert [row["state"] for row in table["trials"]] == ["complete", "complete"]
    assert all(row["epochs"] == 1 for row in table["trials"])
    assert 0.0 <= table["best"]["value"] <= 1.0  # validation accuracy
    (key,) = space
    written = parse_params(yaml.safe_load((image_project / "params.yaml").read_text()))
    assert dotted.get(written.train.model_dump(), key) == table["best"]["overrides"][key]
    # Streamed: each trial decoded the training and validation files a batch at a time.
    dataset = json.loads((image_project / "prepared/dataset.json").read_text())
    rows = dataset["rows"]
    assert max(sizes) <= IMAGE_TRAIN["batch_size"]
    assert sum(sizes) == 2 * (rows["train"] + rows["validation"])
