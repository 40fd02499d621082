"""The report's Markdown, against golden files reviewed by eye (tests/ml/report/golden/). After an
intended change, regenerate them with `UPDATE_GOLDEN=1 pytest tests/ml/report/test_markdown.py`
and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ml.config import GateParams
from ml.report.markdown import params_changes, render, verdict_line
from ml.results.run import RunResults
from tests.ml.report import cases as report_cases

GOLDEN = Path(__file__).parent / "golden"
CASES = report_cases.cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_matches_golden_file(name: str) -> None:
    rendered = render(CASES[name])
    golden = GOLDEN / f"report-{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_first_pr_says_there_is_nothing_to_compare() -> None:
    text = render(CASES["classification-first-pr"])
    assert "**first run**, the base has no metrics yet, nothing to compare" in text
    assert "| accuracy | — | 0.9000 | — |" in text
    assert "### Base vs this PR" not in text  # no comparison chart without base values


def test_improvement_is_green_with_an_up_arrow() -> None:
    text = render(CASES["classification-improvement"])
    assert text.startswith("<!-- runwright-report -->\n## ✅ Success: quality gate passed")
    assert "| accuracy | 0.9000 | 0.9667 | 🟢 ▲ +0.0667 |" in text
    assert "is **better** than base `main`" in text
    assert "### Architecture search: 4 trials, best by val_accuracy (maximize)" in text


def test_regression_is_red_fails_the_gate_and_says_why() -> None:
    text = render(CASES["classification-regression"])
    assert text.splitlines()[1].startswith("## ❌ Failure: quality gate failed")
    assert "| accuracy | 0.9333 | 0.8667 | 🔴 ▼ -0.0666 |" in text
    assert "**Why:** accuracy 0.8667 is 0.0666 below the base commit's 0.9333" in text


def test_lower_rmse_is_better_with_a_down_arrow() -> None:
    text = render(CASES["regression-improvement"])
    assert "| rmse | 58.1000 | 53.4000 | 🟢 ▼ -4.7000 |" in text
    assert "| r2 |" in text and "accuracy" not in text
    assert "Confusion matrix" not in text


def test_no_base_commit() -> None:
    text = render(CASES["regression-no-base"])
    assert "No base commit (not a pull request, no `--base-ref`)" in text
    assert "**Why:** rmse 63.2000 > gate.max_rmse 60" in text


def test_verdict_line_names_the_outcome() -> None:
    assert verdict_line(CASES["classification-improvement"]).startswith(
        "✅ Success: quality gate passed · accuracy 0.9667 (🟢 ▲ +0.0667 vs base)"
    )


def test_params_changes_lists_changed_added_and_removed_leaves() -> None:
    base = {"train": {"epochs": 10, "mlp": {"units": [32]}, "old": 1}}
    head = {"train": {"epochs": 10, "mlp": {"units": [64, 32]}, "new": True}}
    assert params_changes(base, head) == [
        ("train.mlp.units", [32], [64, 32]),
        ("train.new", None, True),
        ("train.old", 1, None),
    ]


def test_a_pipe_in_a_param_value_does_not_break_the_table() -> None:
    case = report_cases.inputs(
        report_cases.classification_run(0.9, [32]),
        report_cases.classification_run(0.9, [32]),
        GateParams(),
    )
    case.head.params = {**(case.head.params or {}), "note": "a|b"}
    assert '| `note` | — | `"a\\|b"` |' in render(case)


def test_missing_pieces_do_not_break_the_report() -> None:
    head = RunResults(evaluate={"task": "classification", "accuracy": 0.5})
    case = report_cases.inputs(head, None, GateParams())
    text = render(case)
    assert "Not exported (no `metrics/export.json`)" in text
    assert "### Learning curves" not in text
