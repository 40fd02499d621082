"""Bare one-process baseline for bench/pipeline_small.py (not a benchmark itself).

Does in one Python process the work the kit's four stages do for a CSV file, the way a short
hand-written script would: load the CSV with pandas, split it (same fractions and seed, stratified
for classification), fill missing values and one-hot encode the categories, fit the same model
(ml.models.build_model, same params, seed, batch size and epochs), score the test split with
scikit-learn, save the Keras model, export it to ONNX with Keras' exporter and check onnxruntime
against Keras on the whole test split. No validation of the table, no DVC, no MLflow, no
checkpoints, no metadata in the ONNX file. Writes a small JSON report for the benchmark to read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split

from ml.config import load_params
from ml.models import build_model


def encode(frame: pd.DataFrame, train: pd.DataFrame, numeric: list, categorical: list):
    filled = frame[numeric].fillna(train[numeric].median())
    parts = [filled.to_numpy(np.float32)]
    for name in categorical:
        categories = sorted(train[name].dropna().astype(str).unique())
        values = frame[name].astype(str).to_numpy()
        parts.append((values[:, None] == np.array(categories)[None, :]).astype(np.float32))
    return np.concatenate(parts, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="Directory for the outputs.")
    args = parser.parse_args()

    params = load_params(args.params)
    source, settings = params.prepare, params.train
    if source.source.path is None:
        raise SystemExit("params.yaml: prepare.source.path must name the CSV file")
    frame = pd.read_csv(source.source.path)
    classification = source.task == "classification"
    held_out = source.split.validation + source.split.test
    stratify = frame[source.target] if classification else None
    train, rest = train_test_split(
        frame, test_size=held_out, random_state=source.seed, stratify=stratify
    )
    validation, test = train_test_split(
        rest,
        test_size=source.split.test / held_out,
        random_state=source.seed,
        stratify=rest[source.target] if classification else None,
    )
    features = (source.numeric_features, source.categorical_features)
    x_train, x_val, x_test = (encode(part, train, *features) for part in (train, validation, test))
    if classification:
        labels = sorted(frame[source.target].astype(str).unique())
        codes = {label: code for code, label in enumerate(labels)}
        y_train, y_val, y_test = (
            part[source.target].astype(str).map(codes).to_numpy(np.int64)
            for part in (train, validation, test)
        )
    else:
        labels = []
        y_train, y_val, y_test = (
            part[source.target].to_numpy(np.float32) for part in (train, validation, test)
        )
    dataset = {
        "task": source.task,
        "input_kind": "tabular",
        "input_shape": [x_train.shape[1]],
        "class_labels": labels,
    }

    keras.utils.set_random_seed(settings.seed)
    model = build_model(settings, dataset, x_train, y_train)
    stopping = keras.callbacks.EarlyStopping(
        monitor=settings.early_stopping.monitor,
        patience=settings.early_stopping.patience,
        restore_best_weights=True,
    )
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        callbacks=[stopping],
        verbose=0,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.keras")

    expected = model.predict(x_test, verbose=0)
    if classification:
        predicted = expected.argmax(axis=1)
        scores = {
            "accuracy": accuracy_score(y_test, predicted),
            "f1_macro": f1_score(y_test, predicted, average="macro"),
        }
    else:
        scores = {
            "rmse": root_mean_squared_error(y_test, expected[:, 0]),
            "r2": r2_score(y_test, expected[:, 0]),
        }

    onnx_path = args.out / "model.onnx"
    model.export(str(onnx_path), format="onnx", verbose=False)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: x_test})[0]
    max_abs_diff = float(np.max(np.abs(actual - expected)))
    if not max_abs_diff <= 1e-4 * max(1.0, float(np.max(np.abs(expected)))):
        raise SystemExit(f"ONNX differs from Keras by {max_abs_diff}")
    report = {
        "epochs_run": len(history.history["loss"]),
        "test_rows": len(x_test),
        "max_abs_diff": max_abs_diff,
        **{name: float(value) for name, value in scores.items()},
    }
    (args.out / "report.json").write_text(json.dumps(report) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
