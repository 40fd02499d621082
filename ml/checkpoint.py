"""Fault-tolerant training: after every epoch the full training state is on disk, so a process
killed at any moment (kill -9, a lost runner) resumes from its last completed epoch.

Keras' own BackupAndRestore restores weights and the epoch counter but not the history or the
early-stopping state, which the metrics and the stopping decision depend on; hence this class.

On-disk layout (never a DVC output, so `dvc repro` does not delete it before the stage runs):
    checkpoints/state.json          the last completed epoch; written last, atomically
    checkpoints/epoch-NNNN.keras    model + optimizer state after that epoch
    checkpoints/best-NNNN.weights.h5  weights of the best epoch so far
A crash between writing a model file and state.json leaves an orphan file, never a state that
points at a half-written one.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path

import keras

from ml.errors import UserError
from ml.io import read_json, write_json

log = logging.getLogger(__name__)


class ResumableTraining(keras.callbacks.Callback):
    """Checkpoints every epoch, tracks early stopping, and keeps the per-epoch history."""

    def __init__(
        self,
        directory: Path,
        fingerprint: str,
        monitor: str,
        patience: int,
        min_delta: float,
        total_epochs: int,
        on_epoch=None,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.total_epochs = total_epochs
        self.on_epoch = on_epoch  # called with (epoch, logs) after the state is safe on disk
        self.sign = 1.0 if monitor.endswith("loss") else -1.0  # minimise loss, maximise accuracy
        self.state = {
            "fingerprint": fingerprint,
            "epoch": 0,
            "best": None,
            "best_epoch": None,
            "wait": 0,
            "history": [],
            "model_file": None,
            "best_file": None,
            "run_id": None,
        }
        self.stopped_early = False
        self.epoch_started = 0.0

    def load(self) -> str | None:
        """Return the model file to resume from, or None to start fresh."""
        state_file = self.directory / "state.json"
        if not state_file.exists():
            return None
        state = read_json(state_file)
        if state.get("fingerprint") != self.fingerprint:
            log.warning("Discarding checkpoints in %s: params or data changed", self.directory)
            self.clear()
            return None
        self.state = state
        return str(self.directory / state["model_file"])

    @property
    def completed_epochs(self) -> int:
        return self.state["epoch"]

    @property
    def history(self) -> list[dict]:
        return self.state["history"]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        completed = epoch + 1
        row = {"epoch": completed, **{k: float(v) for k, v in (logs or {}).items()}}
        self.state["history"].append(row)
        value = row.get(self.monitor)
        if value is None or math.isnan(value):
            raise UserError(
                f"{self.monitor} is {value} at epoch {completed}: training diverged; "
                "try a lower train.learning_rate"
            )
        best = self.state["best"]
        if best is None or self.sign * (best - value) > self.min_delta:
            self.state.update(best=value, best_epoch=completed, wait=0)
            self.state["best_file"] = self.save(f"best-{completed:04d}.weights.h5", weights=True)
        else:
            self.state["wait"] += 1
        self.state["model_file"] = self.save(f"epoch-{completed:04d}.keras", weights=False)
        self.state["epoch"] = completed
        write_json(self.directory / "state.json", self.state)
        self.prune()
        seconds = time.perf_counter() - self.epoch_started
        shown = " ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "epoch")
        log.info("epoch %d/%d %s (%.1f s)", completed, self.total_epochs, shown, seconds)
        if self.on_epoch:
            self.on_epoch(completed, row)
        if self.state["wait"] >= self.patience:
            log.info(
                "Early stopping: %s has not improved for %d epochs (best %.4f at epoch %d)",
                self.monitor,
                self.patience,
                self.state["best"],
                self.state["best_epoch"],
            )
            self.stopped_early = True
            self.model.stop_training = True

    def save(self, name: str, weights: bool) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        if weights:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        return name

    def prune(self) -> None:
        """Delete model files the state no longer points at."""
        keep = {self.state["model_file"], self.state["best_file"], "state.json"}
        for path in self.directory.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def restore_best(self) -> None:
        if self.state["best_file"]:
            self.model.load_weights(self.directory / self.state["best_file"])

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
