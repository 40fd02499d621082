"""Pipeline results for report tests: deterministic, shaped exactly like the files the stages
write (metrics/*.json, plots/train/history.csv, plots/evaluate/test_predictions.csv)."""

from __future__ import annotations

import math

from ml.config import GateParams
from ml.gate import check_gate
from ml.report.markdown import ReportInputs
from ml.results.revisions import BaseCommit
from ml.results.run import RunResults

HEAD_SHA = "1f0c9a7e5d3b2a19c8e7f6d5c4b3a29180706f5e"
BASE_SHA = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807"
IRIS = ["setosa", "versicolor", "virginica"]
ENVIRONMENT = {
    "dvc_lock_sha256": "5d41402abc4b2a76b9719d911017c592" * 2,
    "pr_head": "c" * 40,
    "runner": "gpu-runner-1 (Linux, X64, self-hosted)",
    "gpu": "NVIDIA L4, 23034 MiB",
    "versions": {"python": "3.11.9", "keras": "3.8.0", "tensorflow": "2.18.0", "onnx": "1.17.0"},
}


def history(epochs: int, final_accuracy: float, task: str) -> list[dict[str, float]]:
    """Smooth learning curves: loss decays, the metric rises (or RMSE falls) towards a limit."""
    rows = []
    for epoch in range(1, epochs + 1):
        progress = 1 - math.exp(-epoch / 3)
        row = {"epoch": float(epoch), "loss": round(1.2 * (1 - progress) + 0.05, 6)}
        row["val_loss"] = round(row["loss"] * 1.1 + 0.01, 6)
        if task == "classification":
            row["accuracy"] = round(0.4 + (final_accuracy - 0.38) * progress, 6)
            row["val_accuracy"] = round(row["accuracy"] - 0.02, 6)
        else:
            row["rmse"] = round(80 - (80 - final_accuracy) * progress, 6)
            row["val_rmse"] = round(row["rmse"] + 2.5, 6)
        rows.append(row)
    return rows


def classification_run(accuracy: float, units: list[int], epochs: int = 12) -> RunResults:
    per_class = {
        label: {"precision": accuracy, "recall": accuracy, "support": 10} for label in IRIS
    }
    # 30 test rows; the mistakes fall on versicolor/virginica, as they do on the real data.
    mistakes = round(30 * (1 - accuracy))
    predictions = [(label, label) for label in IRIS for _ in range(10)]
    for index in range(mistakes):
        actual = IRIS[1 + index % 2]
        predictions[10 + index] = (actual, IRIS[2 - index % 2])
    return RunResults(
        evaluate={
            "task": "classification",
            "test_rows": 30,
            "accuracy": accuracy,
            "f1_macro": accuracy - 0.004,
            "per_class": per_class,
        },
        train={
            "epochs_run": epochs,
            "best_epoch": epochs - 2,
            "stopped_early": True,
            "resumed_from_epoch": None,
            "best": {"val_loss": 0.2 - accuracy / 10},
            "train_seconds": 12.4,
            "mlflow_run_id": "4b1d" + "0" * 28,
        },
        export=export_report(size_kib=40.5 + len(units)),
        params={
            "prepare": {"source": {"bundled": "iris"}},
            "train": {
                "model": "mlp",
                "learning_rate": 0.002,
                "mlp": {"units": units, "dropout_rate": 0.1},
            },
        },
        history=history(epochs, accuracy, "classification"),
        predictions=predictions,
    )


def regression_run(rmse: float, units: list[int]) -> RunResults:
    predictions = [
        (f"{100 + 7 * i:.1f}", f"{100 + 7 * i + (i % 5 - 2) * rmse / 4:.1f}") for i in range(20)
    ]
    return RunResults(
        evaluate={
            "task": "regression",
            "test_rows": 67,
            "rmse": rmse,
            "mae": rmse * 0.8,
            "r2": 1 - (rmse / 75) ** 2,
        },
        train={
            "epochs_run": 30,
            "best_epoch": 28,
            "stopped_early": False,
            "resumed_from_epoch": None,
            "best": {"val_loss": rmse**2},
            "train_seconds": 6.2,
            "mlflow_run_id": "77aa" + "1" * 28,
        },
        export=export_report(size_kib=18.2),
        params={
            "prepare": {"source": {"bundled": "diabetes"}},
            "evaluate": {"plot": "scatter"},
            "train": {"model": "mlp", "mlp": {"units": units}},
        },
        history=history(30, rmse, "regression"),
        predictions=predictions,
    )


def export_report(size_kib: float) -> dict:
    return {
        "verified": True,
        "test_rows": 30,
        "max_abs_diff": 2.4e-7,
        "max_scaled_diff": 2.4e-7,
        "label_flips": 0,
        "batch_sizes_checked": [1, 7, 1024],
        "size_bytes": int(size_kib * 1024),
        "latency": {"single_row_p50_ms": 0.0121, "single_row_p99_ms": 0.031, "batch_256_ms": 0.48},
    }


def tune_table() -> dict:
    trials = [
        (3, "complete", 0.9667, {"mlp.units": [64, 32], "learning_rate": 0.004}),
        (1, "complete", 0.9333, {"mlp.units": [32], "learning_rate": 0.0021}),
        (0, "pruned", 0.6, {"mlp.units": [8], "learning_rate": 0.0003}),
        (2, "fail", None, {"mlp.units": [8], "learning_rate": 0.9}),
    ]
    rows = [
        {
            "rank": rank,
            "number": number,
            "state": state,
            "value": value,
            "epochs": 12,
            "seconds": 3.1,
            "overrides": overrides,
            "mlflow_run_id": f"run{number}",
        }
        for rank, (number, state, value, overrides) in enumerate(trials, start=1)
    ]
    return {
        "metric": "val_accuracy",
        "direction": "maximize",
        "trials": rows,
        "best": {"number": 3, "value": 0.9667, "overrides": trials[0][3]},
    }


def inputs(
    head: RunResults, base: RunResults | None, gate: GateParams, base_label: str = "main"
) -> ReportInputs:
    base_commit = BaseCommit(BASE_SHA, base_label) if base is not None else None
    assert head.evaluate is not None, "a report needs the head's evaluate.json"
    return ReportInputs(
        head=head,
        base=base,
        base_commit=base_commit,
        head_commit=HEAD_SHA,
        gate=check_gate(gate, head.evaluate, base.evaluate if base else None),
        environment=ENVIRONMENT,
        charts_note="PNG charts (`learning_curves.png`): artifact `ml-report` of "
        "[this workflow run](https://github.example/octo/models/actions/runs/42).",
    )


def cases() -> dict[str, ReportInputs]:
    """Every report the golden files cover: first PR, improvement, regression, both tasks."""
    improved = classification_run(0.9667, [64, 32])
    improved.tune = tune_table()
    return {
        "classification-first-pr": inputs(
            classification_run(0.9, [32]), RunResults(), GateParams(min_accuracy=0.8)
        ),
        "classification-improvement": inputs(
            improved,
            classification_run(0.9, [32]),
            GateParams(min_accuracy=0.8, max_regression=0.02),
        ),
        "classification-regression": inputs(
            classification_run(0.8667, [16]),
            classification_run(0.9333, [32]),
            GateParams(min_accuracy=0.8, max_regression=0.02),
        ),
        "regression-improvement": inputs(
            regression_run(53.4, [64, 32]), regression_run(58.1, [32]), GateParams(max_rmse=60)
        ),
        "regression-no-base": inputs(regression_run(63.2, [8]), None, GateParams(max_rmse=60)),
    }
