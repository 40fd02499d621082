"""Bare Keras baseline for bench/train_overhead.py (not a benchmark itself).

Trains what `python -m ml train` trains -- the model from ml.models.build_model, the same
params file, seed, data, epochs, batch size and early stopping -- with nothing else: no
per-epoch checkpoints, no MLflow, no history CSV. Saves the model, as any training script
would, and writes a small JSON report (epochs actually run) for the benchmark to read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from ml.config import load_params
from ml.models import build_model


def load_split(data_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(data_dir / f"{name}.npz") as arrays:
        return arrays["x"], arrays["y"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()

    settings = load_params(args.params).train
    dataset = json.loads((args.data / "dataset.json").read_text(encoding="utf-8"))
    x_train, y_train = load_split(args.data, "train")
    x_val, y_val = load_split(args.data, "validation")
    # Seeded exactly as the kit seeds a fresh (not resumed) run, before the model is built.
    keras.utils.set_random_seed(settings.seed)
    model = build_model(settings, dataset, x_train, y_train)
    stopping = keras.callbacks.EarlyStopping(
        monitor=settings.early_stopping.monitor,
        patience=settings.early_stopping.patience,
        min_delta=settings.early_stopping.min_delta,
        restore_best_weights=True,
    )
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        callbacks=[stopping],
        verbose=0,
    )
    args.model.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.model)
    report = {
        "epochs_run": len(history.history["loss"]),
        "fit_and_save_seconds": round(time.perf_counter() - started, 2),
    }
    args.report.write_text(json.dumps(report) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
