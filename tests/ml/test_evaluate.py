"""Metric functions on hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ml.evaluate import classification_metrics, regression_metrics


def test_classification_metrics_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    metrics = classification_metrics(y_true, y_pred, ["cat", "dog", "owl"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class"]["dog"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "support": 2,
    }
    assert metrics["per_class"]["cat"]["recall"] == 0.5
    # F1 per class: cat 0.5, dog 0.8, owl 2/3 -> macro mean.
    assert metrics["f1_macro"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_class_never_predicted_or_present_scores_zero_not_nan():
    metrics = classification_metrics(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert metrics["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "support": 0}


def test_regression_metrics_by_hand():
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert metrics["rmse"] == pytest.approx(1.0)
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["r2"] == pytest.approx(1 - 4 / 5)


def test_a_run_from_another_tracking_store_is_skipped_with_a_warning(
    mlflow_store, tmp_path, caplog
):
    # A train stage restored from DVC's run-cache names a run this store has never seen.
    import json

    from ml.evaluate import log_to_run

    train = tmp_path / "train.json"
    train.write_text(json.dumps({"mlflow_run_id": "0123456789abcdef0123456789abcdef"}))
    with caplog.at_level("WARNING", logger="ml.evaluate"):
        log_to_run(train, {"accuracy": 0.9})
    assert "is not in sqlite:///" in caplog.text


def test_test_metrics_join_the_training_run_without_importing_mlflow(mlflow_store, tmp_path):
    import json
    import os
    import sys

    import mlflow

    from tests.helpers import run
    from tests.paths import REPO_ROOT

    client = mlflow.MlflowClient(mlflow_store)
    run_id = client.create_run(client.create_experiment("project")).info.run_id
    train = tmp_path / "train.json"
    train.write_text(json.dumps({"mlflow_run_id": run_id}))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ml.evaluate import log_to_run\n"
        f"log_to_run(Path({str(train)!r}), {{'task': 'classification', 'accuracy': 0.9, "
        "'f1_macro': 0.8, 'test_rows': 10})\n"
        "print('mlflow' in sys.modules)\n"
    )
    result = run([sys.executable, "-c", script], cwd=REPO_ROOT, env=dict(os.environ))
    assert result.stdout.strip() == "False"
    assert client.get_run(run_id).data.metrics == {"test_accuracy": 0.9, "test_f1_macro": 0.8}


def test_the_onnx_model_is_scored_on_every_test_row_in_batches(prepared_digits, digits_onnx):
    import onnxruntime as ort

    from ml.evaluate import evaluate
    from ml.io import load_split

    x_test, y_test = load_split(prepared_digits, "test")
    session = ort.InferenceSession(str(digits_onnx), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x_test})[0].argmax(axis=1)
    # A batch size that does not divide the row count: the last, short batch counts too.
    metrics, rows = evaluate(digits_onnx, prepared_digits, batch_size=7)
    assert metrics["test_rows"] == len(y_test) == len(rows)
    assert metrics["accuracy"] == pytest.approx(np.mean(expected == y_test))
    assert metrics["accuracy"] > 0.9  # the linear model of the digits is a good one
    assert [row["predicted"] for row in rows] == [str(code) for code in expected]


def test_a_missing_or_unreadable_model_is_a_clear_error(prepared_digits, tmp_path):
    from ml.errors import UserError
    from ml.evaluate import evaluate

    with pytest.raises(UserError, match=r"model.onnx not found: run `dvc repro`"):
        evaluate(tmp_path / "model.onnx", prepared_digits, batch_size=256)
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"a dvc.yaml from before evaluate scored the ONNX model")
    with pytest.raises(UserError, match=r"pass --model models/model\.onnx, and run the export"):
        evaluate(keras_file, prepared_digits, batch_size=256)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(UserError, match=r"broken\.onnx is not a model onnxruntime can load"):
        evaluate(broken, prepared_digits, batch_size=256)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_scikit_learn(seed):
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d", "e"]
    # Code 4 never occurs and code 3 is never predicted: the zero-division cases.
    y_true = rng.integers(0, 4, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 3, size=200))
    metrics = classification_metrics(y_true, y_pred, labels)
    codes = list(range(len(labels)))
    precision, recall, _, support = precision_recall_fscore_support(
        y_true, y_pred, labels=codes, zero_division=0
    )
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert metrics["f1_macro"] == pytest.approx(
        f1_score(y_true, y_pred, labels=codes, average="macro", zero_division=0)
    )
    for i, label in enumerate(labels):
        assert metrics["per_class"][label] == {
            "precision": pytest.approx(precision[i]),
            "recall": pytest.approx(recall[i]),
            "support": int(support[i]),
        }


@pytest.mark.parametrize("constant", [False, True])
def test_regression_metrics_match_scikit_learn(constant):
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    rng = np.random.default_rng(3)
    y_true = np.full(50, 2.5) if constant else rng.normal(100, 20, size=50)
    y_pred = (y_true + rng.normal(0, 5, size=50)).astype(np.float32)
    metrics = regression_metrics(y_true, y_pred)
    assert metrics["rmse"] == pytest.approx(root_mean_squared_error(y_true, y_pred), rel=1e-6)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), rel=1e-6)
    assert metrics["r2"] == pytest.approx(r2_score(y_true, y_pred), rel=1e-6)
    assert regression_metrics(y_true, y_true)["r2"] == 1.0
