"""This commit's metrics against the base commit's: each change judged by its metric's direction,
at the precision the report shows."""

from __future__ import annotations

import math

import pytest

from ml.results.compare import MetricChange, compare, overall
from ml.results.run import RunResults


@pytest.mark.parametrize(
    ("head", "base", "higher_is_better", "verdict"),
    [
        (0.95, 0.90, True, "better"),
        (0.85, 0.90, True, "worse"),
        (40.0, 50.0, False, "better"),  # a lower rmse
        (0.90004, 0.9, True, "same"),  # equal at the 4 decimals shown
        (0.9002, 0.9, True, "better"),
        (12.0, 10.0, None, "changed"),  # seconds: no better direction
        (0.9, None, True, "new"),
        (0.9, math.nan, True, "new"),
        (None, 0.9, True, "n/a"),
        (math.inf, 0.9, True, "n/a"),
    ],
)
def test_verdict_follows_the_metrics_direction(head, base, higher_is_better, verdict) -> None:
    assert MetricChange("m", head, base, higher_is_better).verdict == verdict


def test_delta_needs_both_values() -> None:
    assert MetricChange("m", 0.75, 0.5, True).delta == 0.25
    assert MetricChange("m", 0.75, None, True).delta is None


def run(evaluate: dict, train: dict | None = None) -> RunResults:
    return RunResults(evaluate=evaluate, train=train)


def test_classification_compares_its_metrics_then_loss_and_time() -> None:
    head = run(
        {"task": "classification", "accuracy": 0.95, "f1_macro": 0.94},
        {"best": {"val_loss": 0.2}, "train_seconds": 12.0},
    )
    base = run(
        {"task": "classification", "accuracy": 0.9, "f1_macro": 0.94},
        {"best": {"val_loss": 0.3}, "train_seconds": 10.0},
    )
    changes = compare(head, base)
    assert [(c.name, c.verdict) for c in changes] == [
        ("accuracy", "better"),
        ("f1_macro", "same"),
        ("val_loss (best epoch)", "better"),
        ("train seconds", "changed"),
    ]
    assert changes[-1].decimals == 1
    assert overall(changes, "classification").name == "accuracy"


def test_regression_leads_with_rmse_where_lower_is_better() -> None:
    head = run({"task": "regression", "rmse": 50.0, "mae": 41.0, "r2": 0.4})
    base = run({"task": "regression", "rmse": 55.0, "mae": 40.0, "r2": 0.4})
    changes = compare(head, base)
    assert [(c.name, c.verdict) for c in changes[:3]] == [
        ("rmse", "better"),
        ("mae", "worse"),
        ("r2", "same"),
    ]
    assert overall(changes, "regression").verdict == "better"


def test_a_base_of_another_task_or_none_gives_nothing_to_compare() -> None:
    head = run({"task": "classification", "accuracy": 0.9, "f1_macro": 0.9})
    other_task = run({"task": "regression", "accuracy": 0.5})
    for base in (other_task, None, RunResults()):
        changes = compare(head, base)
        assert overall(changes, "classification").verdict == "new"


def test_values_that_are_not_numbers_are_ignored() -> None:
    head = run({"task": "classification", "accuracy": True, "f1_macro": "0.9"})
    changes = compare(head, None)
    assert [c.head for c in changes[:2]] == [None, None]
    assert {c.verdict for c in changes} == {"n/a"}


def test_a_run_without_a_task_is_read_as_classification() -> None:
    names = [c.name for c in compare(RunResults(), None)]
    assert names[:2] == ["accuracy", "f1_macro"]
