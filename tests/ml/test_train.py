"""Training in-process on the bundled digits: the pure fit, outputs, MLflow records, resume after
a crash."""

from __future__ import annotations

import csv
import json

import keras
import mlflow
import numpy as np
import onnx
import pytest
import tensorflow as tf
from onnx import TensorProto

from ml import conversion
from ml.checkpoint import TrainingProgress
from ml.config import ExportParams, parse_params
from ml.export import export
from ml.gpu import devices
from ml.io import load_split
from ml.onnx_model import read_metadata
from ml.train import early_stopping, fit, load_prepared, train
from tests.conftest import tiny_params


class Crash(Exception):
    """Stands in for a process killed between two epochs."""


class CrashAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise Crash


def run_train(tmp_path, prepared, **train_overrides):
    params = parse_params(tiny_params(**train_overrides))
    paths = {
        "model_path": tmp_path / "models/model.keras",
        "metrics_path": tmp_path / "metrics/train.json",
        "history_path": tmp_path / "plots/train/history.csv",
        "checkpoint_dir": tmp_path / "checkpoints/train",
        "conversion_path": tmp_path / "models/conversion.npz",
    }
    return train(params, prepared, **paths), paths


def read_history(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_fit_trains_in_memory_and_writes_nothing(tmp_path, prepared_digits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    # An absurd min_delta means no epoch after the first counts as an improvement.
    settings = parse_params(
        tiny_params(
            epochs=10, early_stopping={"monitor": "val_loss", "patience": 2, "min_delta": 100.0}
        )
    ).train
    data = load_prepared(prepared_digits)
    progress = TrainingProgress(**early_stopping(settings))
    fitted = fit(settings, data, progress)
    assert list(tmp_path.rglob("*")) == []
    assert [row["epoch"] for row in fitted.history] == [1, 2, 3]
    assert fitted.best_epoch == 1 and fitted.stopped_early and fitted.resumed_from is None
    # The model returned is the best epoch's, not the last one's.
    assert progress.best_weights is not None
    for variable, best in zip(fitted.model.weights, progress.best_weights, strict=True):
        np.testing.assert_array_equal(variable.numpy(), best)
    assert fitted.model.predict(data.x_val[:2], verbose=0).shape == (2, 10)
    with pytest.raises(ValueError, match="in-memory TrainingProgress keeps no weights"):
        fit(settings, data, progress)


def test_train_writes_model_metrics_history_and_an_mlflow_run(
    tmp_path, prepared_digits, mlflow_store
):
    metrics, paths = run_train(tmp_path, prepared_digits)
    assert paths["model_path"].is_file()
    assert not paths["checkpoint_dir"].exists()
    on_disk = json.loads(paths["metrics_path"].read_text())
    assert on_disk == metrics
    assert metrics["resumed_from_epoch"] is None
    assert metrics["epochs_run"] == 3
    assert 1 <= metrics["best_epoch"] <= 3
    assert set(metrics["best"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    history = read_history(paths["history_path"])
    assert [int(row["epoch"]) for row in history] == [1, 2, 3]
    # The saved model converted to ONNX, with its Keras outputs on the test split (ml.conversion).
    converted = conversion.read(paths["conversion_path"], paths["model_path"], prepared_digits)
    assert converted is not None and converted.onnx
    assert converted.keras_outputs.shape == (len(load_split(prepared_digits, "test")[1]), 10)

    run = mlflow.MlflowClient(mlflow_store).get_run(metrics["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "3"
    assert run.data.params["prepare.source.bundled"] == "digits"
    assert {"git_commit", "dvc_lock_sha256", "version.keras", "version.mlflow"} <= set(
        run.data.tags
    )
    steps = mlflow.MlflowClient(mlflow_store).get_metric_history(run.info.run_id, "val_loss")
    assert [metric.step for metric in steps] == [1, 2, 3]
    logged_model = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert logged_model and logged_model[0].source_run_id == run.info.run_id
    # Its signature: digits in, ten probabilities out (the shapes MLflow recorded).
    signature = mlflow.models.get_model_info(logged_model[0].model_uri).signature
    assert list(signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 8, 8, 1]
    output = signature.outputs.to_dict()[0]["tensor-spec"]
    assert (output["dtype"], list(output["shape"])) == ("float32", [-1, 10])


def test_early_stopping_stops_and_restores_the_best_epoch(tmp_path, prepared_digits, mlflow_store):
    # An absurd min_delta means no epoch after the first counts as an improvement.
    metrics, _ = run_train(
        tmp_path,
        prepared_digits,
        epochs=10,
        early_stopping={"monitor": "val_loss", "patience": 2, "min_delta": 100.0},
    )
    assert metrics["stopped_early"] is True
    assert metrics["epochs_run"] == 3
    assert metrics["best_epoch"] == 1


ORIGINAL_FIT = keras.Model.fit


@pytest.fixture
def crash_after_epoch(monkeypatch):
    """Make fit() die right after the given epoch has been checkpointed."""

    def arm(epoch: int) -> None:
        def crashing_fit(self, *args, **kwargs):
            kwargs["callbacks"] = [*kwargs["callbacks"], CrashAfterEpoch(epoch)]
            return ORIGINAL_FIT(self, *args, **kwargs)

        monkeypatch.setattr(keras.Model, "fit", crashing_fit)

    return arm


def test_crash_then_rerun_resumes_from_the_last_completed_epoch(
    tmp_path, prepared_digits, mlflow_store, crash_after_epoch, monkeypatch, caplog
):
    crash_after_epoch(2)
    with pytest.raises(Crash):
        run_train(tmp_path, prepared_digits, epochs=5)
    state = json.loads((tmp_path / "checkpoints/train/state.json").read_text())
    assert state["epoch"] == 2
    first_run_id = (tmp_path / "checkpoints/train/mlflow_run_id").read_text()
    client = mlflow.MlflowClient(mlflow_store)
    assert client.get_run(first_run_id).info.status == "KILLED"

    monkeypatch.setattr(keras.Model, "fit", ORIGINAL_FIT)
    with caplog.at_level("INFO"):
        metrics, paths = run_train(tmp_path, prepared_digits, epochs=5)
    assert "Resuming training from epoch 2" in caplog.text
    assert metrics["resumed_from_epoch"] == 2
    assert metrics["epochs_run"] == 5
    assert metrics["mlflow_run_id"] == first_run_id  # one run, continued
    assert client.get_run(first_run_id).info.status == "FINISHED"
    assert [int(row["epoch"]) for row in read_history(paths["history_path"])] == [1, 2, 3, 4, 5]
    steps = mlflow.MlflowClient(mlflow_store).get_metric_history(first_run_id, "loss")
    assert sorted(metric.step for metric in steps) == [1, 2, 3, 4, 5]


def test_checkpoint_from_other_params_is_discarded(
    tmp_path, prepared_digits, mlflow_store, crash_after_epoch, monkeypatch, caplog
):
    crash_after_epoch(1)
    with pytest.raises(Crash):
        run_train(tmp_path, prepared_digits, epochs=4)
    monkeypatch.setattr(keras.Model, "fit", ORIGINAL_FIT)
    with caplog.at_level("WARNING"):
        metrics, _ = run_train(tmp_path, prepared_digits, epochs=2, learning_rate=0.01)
    assert "Discarding checkpoints" in caplog.text
    assert metrics["resumed_from_epoch"] is None
    assert metrics["epochs_run"] == 2


MIXED = {"mixed_precision": True, "jit_compile": True, "distribute": "mirrored"}


def float16_in_graph(graph: onnx.GraphProto) -> list[str]:
    """Names of float16 initializers and of casts to float16 anywhere in the ONNX graph."""
    found = [init.name for init in graph.initializer if init.data_type == TensorProto.FLOAT16]
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == 10:
                found.append(node.name)
    return found


def test_gpu_options_on_cpu_train_mixed_and_export_float32(
    tmp_path, prepared_digits, mlflow_store, monkeypatch
):
    pipelines = []
    original = devices.make_dataset

    def recording(x, y, batch_size, settings, shuffle_seed=None):
        pipelines.append((batch_size, shuffle_seed is not None))
        return original(x, y, batch_size, settings, shuffle_seed)

    monkeypatch.setattr(devices, "make_dataset", recording)
    metrics, paths = run_train(tmp_path, prepared_digits, epochs=2, gpu=MIXED)
    # Training and validation data both went through the tf.data pipeline; only the first is
    # shuffled, and a step takes batch_size rows per replica.
    (train_batch, shuffled), (_, validation_shuffled) = pipelines
    assert shuffled and not validation_shuffled
    assert train_batch == 64 * metrics["gpu"]["replicas"] == metrics["gpu"]["global_batch_size"]
    device = metrics["gpu"]
    assert device["mixed_precision"] is True and device["jit_compile"] is True
    assert device["strategy"] == "mirrored" and device["replicas"] >= 1
    run = mlflow.MlflowClient(mlflow_store).get_run(metrics["mlflow_run_id"])
    assert run.data.tags["gpu.mixed_precision"] == "True"
    assert run.data.params["train.gpu.mixed_precision"] == "True"
    # What is saved is float32, so evaluate scores the same numerics that ONNX serves.
    saved = keras.models.load_model(paths["model_path"])
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}

    onnx_path = tmp_path / "models/model.onnx"
    # train's conversion of the mixed-precision model is what export verifies.
    assert conversion.read(paths["conversion_path"], paths["model_path"], prepared_digits)
    report = export(
        paths["model_path"],
        prepared_digits,
        onnx_path,
        ExportParams(),
        "h",
        paths["metrics_path"],
        conversion_path=paths["conversion_path"],
    )
    assert report["verified"] and report["max_abs_diff"] <= 1e-5 and report["label_flips"] == 0
    graph = onnx.load(str(onnx_path)).graph
    for tensor in (*graph.input, *graph.output):
        assert tensor.type.tensor_type.elem_type == TensorProto.FLOAT, tensor.name
    assert float16_in_graph(graph) == []
    assert read_metadata(onnx_path)["gpu"] == device


def test_mixed_precision_training_resumes_after_a_crash(
    tmp_path, prepared_digits, mlflow_store, crash_after_epoch, monkeypatch
):
    crash_after_epoch(1)
    with pytest.raises(Crash):
        run_train(tmp_path, prepared_digits, epochs=3, gpu={"mixed_precision": True})
    monkeypatch.setattr(keras.Model, "fit", ORIGINAL_FIT)
    metrics, _ = run_train(tmp_path, prepared_digits, epochs=3, gpu={"mixed_precision": True})
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_run"] == 3
    assert metrics["gpu"]["mixed_precision"] is True


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU on this machine")
def test_trains_on_the_gpu_when_there_is_one(tmp_path, prepared_digits, mlflow_store):
    metrics, _ = run_train(tmp_path, prepared_digits, epochs=2, gpu={"mixed_precision": True})
    device = metrics["gpu"]
    assert device["used"] is True and device["count"] >= 1 and device["names"]
    assert device["problems"] == [] and device["driver_version"]
