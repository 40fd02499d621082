"""One trial's epochs: each reported to Optuna and MLflow, the trial stopped when pruned, out of
time or diverged, and its best value taken in the search's direction. (Trials that really train,
in a real search, run through the command in test_command.py.)"""

from __future__ import annotations

import math
import time

import keras
import mlflow
import optuna
import pytest

from ml import tracking
from ml.tune.trial import DivergedError, TrialMonitor, best_value


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """An MLflow run (on one sqlite store for the module) for the epochs to be logged in."""
    root = tmp_path_factory.mktemp("trial")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        patch.chdir(root)
        with tracking.start_run(None, run_name="trials") as active:
            yield active


def monitored(trial, deadline: float = math.inf) -> TrialMonitor:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # as fit() sets it when it starts
    monitor = TrialMonitor(trial, "val_accuracy", deadline)
    monitor.set_model(model)
    return monitor


def epochs(monitor: TrialMonitor, *values: float) -> None:
    """The next epochs of the trial, ending with these validation accuracies."""
    for value in values:
        monitor.on_epoch_end(len(monitor.history), {"loss": 1.0, "val_accuracy": value})


def test_each_epoch_is_reported_and_logged(run):
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    monitor = monitored(trial)
    epochs(monitor, 0.5, 0.7)
    assert study.trials[0].intermediate_values == {1: 0.5, 2: 0.7}
    assert [row["epoch"] for row in monitor.history] == [1, 2]
    assert not monitor.model.stop_training and monitor.pruned_at is None
    logged = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in logged][-2:] == [(1, 0.5), (2, 0.7)]


def test_a_trial_behind_the_median_is_pruned_at_that_epoch(run):
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=2)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    leader = study.ask()
    epochs(monitored(leader), 0.8, 0.9, 0.95)
    study.tell(leader, 0.95)
    laggard = monitored(study.ask())
    epochs(laggard, 0.3)  # epoch 1 is warm-up: never pruned there
    assert (laggard.pruned_at, laggard.model.stop_training) == (None, False)
    epochs(laggard, 0.4)
    assert (laggard.pruned_at, laggard.model.stop_training) == (2, True)


def test_a_trial_past_the_deadline_stops(run):
    monitor = monitored(optuna.create_study().ask(), deadline=time.monotonic() - 1)
    epochs(monitor, 0.5)
    assert monitor.out_of_time and monitor.model.stop_training and monitor.pruned_at is None


def test_a_diverged_epoch_stops_the_trial_without_reporting_it(run):
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    monitor = monitored(trial)
    epochs(monitor, 0.5, math.nan)
    assert monitor.model.stop_training
    assert study.trials[0].intermediate_values == {1: 0.5}
    with pytest.raises(DivergedError, match=r"val_accuracy is not finite in every epoch"):
        best_value(monitor.history, "val_accuracy", maximize=True)


def test_the_best_value_follows_the_direction():
    history = [{"val_loss": 0.5}, {"val_loss": 0.3}, {"val_loss": 0.4}]
    assert best_value(history, "val_loss", maximize=False) == 0.3
    assert best_value(history, "val_loss", maximize=True) == 0.5
    with pytest.raises(DivergedError):
        best_value([], "val_loss", maximize=False)
    with pytest.raises(DivergedError):
        best_value(history, "val_accuracy", maximize=True)  # never measured
