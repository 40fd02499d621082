"""One trial of the architecture search: build the model with ml.models on data/prepared, train
it in this process (no DVC per trial), report every epoch to Optuna for pruning and to a nested
MLflow run, and return the best validation value.

It shares the data (PreparedData) and the model (ml.models) with `ml.train.fit`, not the loop:
a trial keeps no checkpoints and restores no best weights (its value is the best epoch's), feeds
Keras arrays in memory as they are, without fit's distribution strategy, and a diverged trial
fails alone (DivergedError) where a diverged fit stops `ml train` with a UserError. An image
folder's files go through `ml train`'s streaming pipeline (ml.train.input_data: decoded a batch
at a time, augmented as `train.augment` says), as they would not fit in memory.
"""

from __future__ import annotations

import math
import time

import keras

from ml.config import TrainParams
from ml.train import PreparedData


class DivergedError(RuntimeError):
    """The searched metric became NaN or infinite: the trial fails, the search goes on."""


class TrialMonitor(keras.callbacks.Callback):
    """Per epoch: log to MLflow, report to Optuna, stop when pruned or out of time."""

    def __init__(self, trial, metric: str, deadline: float):
        super().__init__()
        self.trial = trial
        self.metric = metric
        self.deadline = deadline  # time.monotonic() seconds
        self.history: list[dict] = []
        self.pruned_at: int | None = None
        self.out_of_time = False

    def on_epoch_end(self, epoch: int, logs=None):
        import mlflow

        logs = {name: float(value) for name, value in (logs or {}).items()}
        step = epoch + 1
        self.history.append({"epoch": step, **logs})
        mlflow.log_metrics(logs, step=step)
        value = logs.get(self.metric, math.nan)
        if not math.isfinite(value):
            self.model.stop_training = True
            return
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.pruned_at = step
            self.model.stop_training = True
        elif time.monotonic() > self.deadline:
            self.out_of_time = True
            self.model.stop_training = True


def best_value(history: list[dict[str, float]], metric: str, maximize: bool) -> float:
    values = [row.get(metric, math.nan) for row in history]
    if not values or not all(math.isfinite(v) for v in values):
        raise DivergedError(f"{metric} is not finite in every epoch: {values[-3:]}")
    return max(values) if maximize else min(values)


def run_trial(
    trial, settings: TrainParams, data: PreparedData, metric: str, maximize: bool, deadline: float
) -> dict:
    """Train one configuration; return {value, epochs, seconds, pruned_at, out_of_time}."""
    from ml.models import build_model

    keras.utils.set_random_seed(settings.seed)
    model = build_model(settings, data.dataset, data.x_train, data.y_train)
    monitor = TrialMonitor(trial, metric, deadline)
    stopping = settings.early_stopping
    early = keras.callbacks.EarlyStopping(
        monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta
    )
    started = time.perf_counter()
    model.fit(
        **fit_inputs(settings, data),
        epochs=settings.epochs,
        callbacks=[monitor, early],
        verbose=0,
    )
    return {
        "value": best_value(monitor.history, metric, maximize),
        "epochs": len(monitor.history),
        "seconds": round(time.perf_counter() - started, 2),
        "pruned_at": monitor.pruned_at,
        "out_of_time": monitor.out_of_time,
    }


def fit_inputs(settings: TrainParams, data: PreparedData) -> dict:
    """model.fit's training and validation data: the arrays, or an image folder's batches."""
    from ml.data.images import ImageFiles
    from ml.train import input_data

    if isinstance(data.x_train, ImageFiles):
        batch, seed = settings.batch_size, settings.seed
        return {
            "x": input_data(
                data.x_train, data.y_train, batch, settings, shuffle_seed=seed, augment=True
            ),
            "validation_data": input_data(data.x_val, data.y_val, batch, settings),
            "shuffle": False,  # the batches reshuffle themselves every epoch
        }
    return {
        "x": data.x_train,
        "y": data.y_train,
        "validation_data": (data.x_val, data.y_val),
        "batch_size": settings.batch_size,
    }
