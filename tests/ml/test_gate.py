"""The quality gate: thresholds from params.yaml `gate`, regression against the PR's base commit
(read through Git), the one-line reason, exit status and step outputs."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from ml.config import GateParams
from ml.gate import check_gate
from tests.helpers import read_outputs, run_ml
from tests.ml.conftest import GitRepo


def classification(accuracy: float, f1: float = 0.9) -> dict:
    return {"task": "classification", "accuracy": accuracy, "f1_macro": f1}


def regression(rmse: float) -> dict:
    return {"task": "regression", "rmse": rmse, "mae": rmse * 0.8, "r2": 0.4}


# --- check_gate ------------------------------------------------------------------------------


def test_accuracy_above_the_minimum_passes() -> None:
    result = check_gate(GateParams(min_accuracy=0.8), classification(0.9123), None)
    assert result.passed
    assert result.reason == "accuracy 0.9123 >= gate.min_accuracy 0.8"


def test_accuracy_below_the_minimum_fails_naming_metric_value_and_threshold() -> None:
    result = check_gate(GateParams(min_accuracy=0.8), classification(0.7213), None)
    assert not result.passed
    assert result.reason == "accuracy 0.7213 < gate.min_accuracy 0.8"


def test_every_failing_threshold_is_named() -> None:
    gate = GateParams(min_accuracy=0.8, min_f1_macro=0.95)
    result = check_gate(gate, classification(0.7, f1=0.5), None)
    assert (
        result.reason
        == "accuracy 0.7000 < gate.min_accuracy 0.8; f1_macro 0.5000 < gate.min_f1_macro 0.95"
    )


def test_regression_task_max_rmse() -> None:
    assert check_gate(GateParams(max_rmse=60), regression(55.5), None).passed
    failed = check_gate(GateParams(max_rmse=60), regression(61.25), None)
    assert failed.reason == "rmse 61.2500 > gate.max_rmse 60"


def test_nan_metric_fails() -> None:
    result = check_gate(GateParams(min_accuracy=0.8), classification(math.nan), None)
    assert not result.passed
    assert "accuracy is nan, not a number" in result.reason


def test_no_thresholds_pass_and_say_so() -> None:
    result = check_gate(GateParams(), classification(0.1), None)
    assert result.passed
    assert result.reason == "no thresholds set in params.yaml `gate`"


@pytest.mark.parametrize(
    ("head", "base", "passed"),
    [(0.95, 0.96, True), (0.94, 0.96, True), (0.9399, 0.96, False), (0.99, 0.96, True)],
)
def test_max_regression_against_the_base(head: float, base: float, passed: bool) -> None:
    gate = GateParams(max_regression=0.02)
    result = check_gate(gate, classification(head), classification(base))
    assert result.passed is passed
    if not passed:
        assert result.reason == (
            "accuracy 0.9399 is 0.0201 below the base commit's 0.9600 (gate.max_regression 0.02)"
        )


def test_max_regression_for_rmse_counts_a_rise_as_worse() -> None:
    gate = GateParams(max_regression=1.0)
    assert check_gate(gate, regression(50.9), regression(50.0)).passed
    result = check_gate(gate, regression(51.5), regression(50.0))
    assert (
        result.reason
        == "rmse 51.5000 is 1.5000 above the base commit's 50.0000 (gate.max_regression 1)"
    )


def test_max_regression_without_base_metrics_is_skipped() -> None:
    result = check_gate(GateParams(max_regression=0.0), classification(0.5), None)
    assert result.passed
    assert "no base accuracy" in result.reason


# --- `ml gate` as a process: exit status, message, step outputs --------------------------------


def ml_gate(repo: GitRepo, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run_ml("gate", *args, cwd=repo.path, env=os.environ | env, timeout=120)


PARAMS = "gate:\n  min_accuracy: 0.80\n  max_regression: 0.02\n"


def test_gate_fails_with_exit_1_one_line_and_outputs(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit(
        {"params.yaml": PARAMS, "metrics/evaluate.json": json.dumps(classification(0.72))}
    )
    outputs = tmp_path / "outputs.txt"
    result = ml_gate(git_repo, GITHUB_OUTPUT=str(outputs), GITHUB_ACTIONS="true")
    assert result.returncode == 1
    assert "Quality gate failed: accuracy 0.7200 < gate.min_accuracy 0.8" in result.stderr
    assert "Traceback" not in result.stderr
    assert "::error title=Quality gate failed::accuracy 0.7200 < gate.min_accuracy 0.8" in (
        result.stdout
    )
    # The reason lists the failed checks only.
    assert read_outputs(outputs) == {
        "passed": "false",
        "reason": "accuracy 0.7200 < gate.min_accuracy 0.8",
    }


def test_gate_compares_with_the_pr_base_from_the_event(git_repo: GitRepo, tmp_path: Path) -> None:
    base = git_repo.commit(
        {"params.yaml": PARAMS, "metrics/evaluate.json": json.dumps(classification(0.97))}
    )
    git_repo.commit({"metrics/evaluate.json": json.dumps(classification(0.93))})
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(base)))
    outputs = tmp_path / "outputs.txt"
    result = ml_gate(git_repo, GITHUB_EVENT_PATH=str(event), GITHUB_OUTPUT=str(outputs))
    assert result.returncode == 1
    assert "accuracy 0.9300 is 0.0400 below the base commit's 0.9700" in result.stderr
    assert read_outputs(outputs)["passed"] == "false"
    # --base-ref overrides the event: against itself there is no regression.
    result = ml_gate(git_repo, "--base-ref", "HEAD", GITHUB_EVENT_PATH=str(event))
    assert result.returncode == 0, result.stderr
    assert "Quality gate passed" in result.stderr


def test_gate_passes_and_writes_outputs(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit(
        {"params.yaml": PARAMS, "metrics/evaluate.json": json.dumps(classification(0.91))}
    )
    outputs = tmp_path / "outputs.txt"
    result = ml_gate(git_repo, GITHUB_OUTPUT=str(outputs))
    assert result.returncode == 0, result.stderr
    assert read_outputs(outputs)["passed"] == "true"


def test_gate_without_metrics_says_run_dvc_repro(git_repo: GitRepo) -> None:
    git_repo.commit({"params.yaml": PARAMS})
    result = ml_gate(git_repo)
    assert result.returncode == 1
    assert "metrics/evaluate.json not found: run `dvc repro` first" in result.stderr


def test_base_commit_missing_from_a_shallow_checkout(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit(
        {"params.yaml": PARAMS, "metrics/evaluate.json": json.dumps(classification(0.91))}
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event("0" * 40)))
    result = ml_gate(git_repo, GITHUB_EVENT_PATH=str(event))
    assert result.returncode == 1
    assert "is not in this checkout" in result.stderr
    assert "fetch-depth: 0" in result.stderr


def test_unknown_base_ref(git_repo: GitRepo) -> None:
    git_repo.commit(
        {"params.yaml": PARAMS, "metrics/evaluate.json": json.dumps(classification(0.91))}
    )
    result = ml_gate(git_repo, "--base-ref", "no-such-branch")
    assert result.returncode == 1
    assert "--base-ref 'no-such-branch' is not a commit in this repository" in result.stderr


def pull_request_event(base_sha: str) -> dict:
    return {
        "action": "synchronize",
        "pull_request": {
            "number": 12,
            "base": {"sha": base_sha, "ref": "main"},
            "head": {"sha": "f" * 40, "ref": "feature"},
        },
    }


def test_min_score_holds_the_task_score_and_names_itself() -> None:
    gate = GateParams(min_score=0.8)
    regression = check_gate(gate, {"task": "regression", "r2": 0.7, "rmse": 3.0}, None)
    assert not regression.passed
    assert regression.reason == "r2 0.7000 < gate.min_score 0.8"
    classification = check_gate(gate, {"task": "classification", "accuracy": 0.9}, None)
    assert (
        classification.passed and classification.reason == "accuracy 0.9000 >= gate.min_score 0.8"
    )
