"""evaluate: test-set metrics to metrics/evaluate.json and plot data for `dvc plots`.

The exported ONNX model is what gets scored, with onnxruntime: what ships is what is measured
(export has already checked it against Keras on the same rows), and the stage needs no
TensorFlow, whose import alone costs several times the scoring of a small test set.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Annotated

import numpy as np

from ml import options
from ml.config import load_params
from ml.errors import UserError
from ml.io import atomic_dir, atomic_path, load_split, read_json, write_json

log = logging.getLogger(__name__)

PLOTS = ("confusion", "scatter")  # the test-set plots of dvc.yaml, one per task


# Plain NumPy, as scikit-learn defines them (zero_division=0): importing sklearn.metrics would
# cost this stage more than the scoring of a small test set. tests/ml/test_evaluate.py holds
# these to scikit-learn's figures.
def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    codes = np.arange(len(labels))
    true = np.asarray(y_true)[:, None] == codes
    predicted = np.asarray(y_pred)[:, None] == codes
    hits = (true & predicted).sum(axis=0)
    support = true.sum(axis=0)
    precision = share(hits, predicted.sum(axis=0))
    recall = share(hits, support)
    f1 = share(2 * hits, predicted.sum(axis=0) + support)
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "f1_macro": float(np.mean(f1)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
    }


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, and 0 where whole is 0 (scikit-learn's zero_division=0)."""
    result: np.ndarray = np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)
    return result


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    actual = np.asarray(y_true, dtype=np.float64)
    error = np.asarray(y_pred, dtype=np.float64) - actual
    residual = float(np.sum(error**2))
    total = float(np.sum((actual - actual.mean()) ** 2))
    # A constant target has no variance to explain: 1 for a perfect fit, else 0 (scikit-learn's).
    perfect = 1.0 if residual == 0 else 0.0
    r2 = 1 - residual / total if total > 0 else perfect
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
    }


def evaluate(model_path: Path, data_dir: Path, batch_size: int) -> tuple[dict, list[dict]]:
    """Return (metrics, per-row plot records) for the test split."""
    dataset = read_json(data_dir / "dataset.json")
    x_test, y_test = load_split(data_dir, "test")
    outputs = predict(model_path, x_test, batch_size)
    if dataset["task"] == "classification":
        labels = dataset["class_labels"]
        predicted = outputs.argmax(axis=1)
        metrics = classification_metrics(y_test, predicted, labels)
        rows = [
            {"actual": labels[a], "predicted": labels[p]}
            for a, p in zip(y_test, predicted, strict=True)
        ]
    else:
        predicted = outputs.reshape(-1)
        metrics = regression_metrics(y_test, predicted)
        rows = [
            {"actual": float(a), "predicted": float(p)}
            for a, p in zip(y_test, predicted, strict=True)
        ]
    metrics = {"task": dataset["task"], "test_rows": len(y_test), **metrics}
    return metrics, rows


def predict(model_path: Path, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The ONNX model's output for every row of `x`, `batch_size` rows per run."""
    import onnxruntime as ort

    if model_path.suffix == ".keras":  # a dvc.yaml written before evaluate scored the ONNX model
        raise UserError(
            f"ml evaluate scores the exported ONNX model, not the Keras model {model_path}: "
            "pass --model models/model.onnx, and run the export stage before evaluate "
            "(the kit's dvc.yaml shows both)"
        )
    if not model_path.is_file():
        raise UserError(f"ONNX model {model_path} not found: run `dvc repro` (the export stage)")
    try:
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid files
        raise UserError(f"{model_path} is not a model onnxruntime can load: {exc}") from exc
    input_name = session.get_inputs()[0].name
    chunks = [
        session.run(None, {input_name: x[start : start + batch_size]})[0]
        for start in range(0, len(x), batch_size)
    ]
    return np.concatenate(chunks)


def write_rows(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["actual", "predicted"])
        writer.writeheader()
        writer.writerows(rows)


def log_to_run(train_metrics_path: Path, metrics: dict) -> None:
    """Attach the test metrics to the training run, so MLflow shows them side by side."""
    from ml import tracking

    if not train_metrics_path.exists():
        return
    run_id = read_json(train_metrics_path).get("mlflow_run_id")
    if not run_id:
        return
    scores = {f"test_{k}": v for k, v in metrics.items() if isinstance(v, float)}
    if not tracking.log_metrics(run_id, scores):
        # The model came from DVC's run-cache, trained where another tracking store was used.
        log.warning(
            "MLflow run %s is not in %s: test metrics not logged to it",
            run_id,
            tracking.tracking_uri(),
        )


def main(
    params_path: options.ParamsFile = options.PARAMS,
    model: Annotated[Path, options.model_file("Exported ONNX model to evaluate.")] = Path(
        "models/model.onnx"
    ),
    data: options.PreparedData = options.PREPARED,
    metrics: Annotated[Path, options.metrics_file("Test metrics JSON.")] = Path(
        "metrics/evaluate.json"
    ),
    plots: Annotated[
        Path,
        options.plots_dir("Directory for test_predictions.csv (actual vs predicted, dvc plots)."),
    ] = Path("plots/evaluate"),
    train_metrics: Annotated[
        Path, options.train_metrics_file("Training metrics JSON, to find the MLflow run.")
    ] = options.TRAIN_METRICS,
) -> None:
    """Score the exported ONNX model on the held-out test split."""
    params = load_params(params_path)
    result, rows = evaluate(model, data, params.evaluate.batch_size)
    with atomic_dir(plots) as tmp:
        write_rows(tmp / "test_predictions.csv", rows)
        # dvc.yaml draws both plots; the task's gets the rows, the other only the header (DVC
        # reports a missing file as a failure, an empty one as an empty chart).
        for plot in PLOTS:
            write_rows(tmp / f"{plot}.csv", rows if plot == params.evaluate.plot else [])
    write_json(metrics, result)
    log_to_run(train_metrics, result)
    headline = {k: v for k, v in result.items() if isinstance(v, float)}
    log.info("Test metrics: %s", ", ".join(f"{k}={v:.4f}" for k, v in headline.items()))
