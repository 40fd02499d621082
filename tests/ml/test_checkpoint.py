"""Checkpointed training state, epoch by epoch, on a two-weight model whose weights the tests set
by hand: what is on disk after each epoch, early stopping, resuming into a fresh model, and the
refusals. (A real training run killed and resumed is in test_train.py.)"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from ml.checkpoint import RUN_ID_FILE, ResumableTraining, assign
from ml.errors import UserError


def tiny_model(inputs: int = 2) -> keras.Model:
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def training(directory: Path, model: keras.Model, **options: Any) -> ResumableTraining:
    settings: dict[str, Any] = {
        "monitor": "val_loss",
        "patience": 2,
        "min_delta": 0.0,
        "total_epochs": 10,
    }
    callback = ResumableTraining(directory, "params-and-data-1", **(settings | options))
    callback.set_model(model)
    return callback


def epoch(callback: ResumableTraining, number: int, kernel: float, **logs: float) -> None:
    """One finished epoch: the weights as training left them, then Keras' callback."""
    callback.model.layers[0].set_weights([np.full((2, 1), kernel), np.zeros(1)])
    callback.on_epoch_begin(number - 1)
    callback.on_epoch_end(number - 1, {"loss": 1.0, **logs})


def kernel_of(model: keras.Model) -> float:
    return float(model.layers[0].get_weights()[0][0, 0])


def test_each_epoch_leaves_the_state_the_latest_snapshot_and_the_best(tmp_path):
    callback = training(tmp_path, tiny_model())
    epoch(callback, 1, 1.0, val_loss=0.5)
    epoch(callback, 2, 2.0, val_loss=0.7)
    epoch(callback, 3, 3.0, val_loss=0.6)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 3 and callback.completed_epochs == 3
    assert (state["best"], state["best_epoch"], state["wait"]) == (0.5, 1, 2)
    assert [row["val_loss"] for row in state["history"]] == [0.5, 0.7, 0.6]
    # Older snapshots are deleted once the state no longer points at them.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-0001.npz",
        "epoch-0003.npz",
        "state.json",
    ]


def test_patience_runs_out_only_after_improvements_smaller_than_min_delta(tmp_path):
    model = tiny_model()
    callback = training(tmp_path, model, min_delta=0.1)
    for number, value in enumerate((1.0, 0.95, 0.5, 0.45), start=1):
        epoch(callback, number, float(number), val_loss=value)
        assert not callback.stopped_early
    assert callback.state["best_epoch"] == 3  # 0.95 was not better by more than 0.1
    epoch(callback, 5, 5.0, val_loss=0.41)
    assert callback.stopped_early and model.stop_training


def test_an_accuracy_is_maximised(tmp_path):
    callback = training(tmp_path, tiny_model(), monitor="val_accuracy")
    epoch(callback, 1, 1.0, val_accuracy=0.5)
    epoch(callback, 2, 2.0, val_accuracy=0.8)
    epoch(callback, 3, 3.0, val_accuracy=0.7)
    assert (callback.state["best"], callback.state["best_epoch"]) == (0.8, 2)


@pytest.mark.parametrize("logs", [{"val_loss": math.nan}, {}])
def test_a_diverged_or_missing_metric_stops_with_advice(tmp_path, logs):
    callback = training(tmp_path, tiny_model())
    with pytest.raises(UserError, match=r"val_loss is (nan|None) at epoch 1: training diverged"):
        epoch(callback, 1, 1.0, **logs)
    assert not (tmp_path / "state.json").exists()  # nothing recorded for a failed epoch


def test_each_epoch_is_reported_after_it_is_safe_on_disk(tmp_path):
    seen = []

    def report(number, row):
        state = json.loads((tmp_path / "state.json").read_text())
        seen.append((number, row["val_loss"], state["epoch"]))

    callback = training(tmp_path, tiny_model(), on_epoch=report)
    epoch(callback, 1, 1.0, val_loss=0.5)
    epoch(callback, 2, 2.0, val_loss=0.4)
    assert seen == [(1, 0.5, 1), (2, 0.4, 2)]


def test_a_fresh_model_resumes_the_last_epoch_and_can_take_the_best(tmp_path):
    callback = training(tmp_path, tiny_model())
    epoch(callback, 1, 1.0, val_loss=0.5)
    callback.model.optimizer.iterations.assign(7)
    epoch(callback, 2, 2.0, val_loss=0.9)
    callback.remember_run("run-abc")

    fresh = tiny_model()
    resumed = training(tmp_path, fresh)
    assert resumed.load() and resumed.completed_epochs == 2
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    assert resumed.run_id == "run-abc"
    resumed.restore_last(fresh)
    assert kernel_of(fresh) == 2.0 and int(fresh.optimizer.iterations) == 7
    resumed.restore_best(fresh)
    assert kernel_of(fresh) == 1.0
    epoch(resumed, 3, 3.0, val_loss=0.8)
    assert (tmp_path / RUN_ID_FILE).is_file()  # pruning keeps the run to continue


def test_no_checkpoint_and_a_checkpoint_of_other_params(tmp_path, caplog):
    directory = tmp_path / "checkpoints"
    assert not training(directory, tiny_model()).load()
    callback = training(directory, tiny_model())
    epoch(callback, 1, 1.0, val_loss=0.5)
    callback.remember_run("run-abc")
    other = ResumableTraining(directory, "params-and-data-2", "val_loss", 2, 0.0, 10)
    assert not other.load()
    assert "Discarding checkpoints" in caplog.text
    assert not directory.exists()
    assert other.run_id is None  # a new run, not the one of the other params


def test_a_snapshot_of_another_architecture_is_refused(tmp_path):
    callback = training(tmp_path, tiny_model())
    epoch(callback, 1, 1.0, val_loss=0.5)
    deeper = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    with (
        np.load(tmp_path / "best-0001.npz") as snapshot,
        pytest.raises(ValueError, match="holds 2 'w' arrays, the model has 4 variables"),
    ):
        assign(deeper.weights, snapshot, "w")
