"""The report's tables, for the cases the golden reports (test_markdown.py) do not reach: many
classes, long searches, a CNN, invalid params, missing pieces."""

from __future__ import annotations

from ml.report.tables import (
    FULL_MATRIX_CLASSES,
    TUNE_ROWS,
    confusion_section,
    describe_model,
    footer,
    onnx_section,
    remediation_section,
    tune_section,
)
from ml.results.run import RunResults
from tests.ml.report import cases


def test_describe_model_reads_the_architecture_from_params() -> None:
    run = cases.classification_run(0.9, [64, 32])
    text = describe_model(run)
    assert text.startswith("**mlp** (units [64, 32], dropout 0.1; learning rate 0.002)")
    assert text.endswith(" · MLflow run `4b1d00000000`")  # the id cut to 12 characters
    cnn = RunResults(params={"train": {"model": "cnn", "cnn": {"filters": [8, 16]}}})
    assert "**cnn** (filters [8, 16], kernel 3, dense" in describe_model(cnn)


def test_describe_model_names_the_winning_trial_of_a_search() -> None:
    run = cases.classification_run(0.9667, [64, 32])
    run.tune = cases.tune_table()
    assert describe_model(run).endswith(" · best of 4 search trials (trial 3)")


def test_describe_model_survives_invalid_params() -> None:
    run = RunResults(params={"train": {"epochs": "many"}})
    assert describe_model(run) == "unknown (params.yaml is not valid)"


def many_classes(count: int) -> RunResults:
    """Every class right 5 times; class i also taken for class i+1 on i % 4 rows."""
    labels = [f"c{i:02d}" for i in range(count)]
    predictions = [(label, label) for label in labels for _ in range(5)]
    for i, label in enumerate(labels[:-1]):
        predictions += [(label, labels[i + 1])] * (i % 4)
    return RunResults(evaluate={"task": "classification"}, predictions=predictions)


def test_a_wide_matrix_becomes_a_list_of_the_most_frequent_mistakes() -> None:
    lines = confusion_section(many_classes(30))
    assert "30 classes; the most frequent mistakes:" in lines
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == 15  # the limit, out of 21 different mistakes
    assert rows[0] == "| `c27` | `c28` | 3 |"  # the largest count first
    assert all(" 0 |" not in row for row in rows)
    assert not any("**5**" in line for line in lines)  # no diagonal: only mistakes


def test_a_matrix_up_to_the_limit_is_drawn_in_full() -> None:
    lines = confusion_section(many_classes(FULL_MATRIX_CLASSES))
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == FULL_MATRIX_CLASSES
    assert rows[1].startswith("| `c01` | · | **5** | 1 | ·")  # dots for zero, bold diagonal


def test_no_confusion_matrix_for_regression_or_without_predictions() -> None:
    assert confusion_section(cases.regression_run(50.0, [8])) == []
    assert confusion_section(RunResults(evaluate={"task": "classification"})) == []


def test_onnx_section_without_an_export_or_a_base() -> None:
    assert "Not exported (no `metrics/export.json`)." in onnx_section(None, None)
    lines = onnx_section(cases.export_report(size_kib=40.0), None)
    assert "| size | 40.0 KiB | — |" in lines
    assert "| latency, batch of 256 | 0.480 ms | — |" in lines
    failed = cases.export_report(size_kib=1.0) | {"verified": False, "label_flips": 2}
    assert "| matches Keras | ❌ 30 test rows, max abs diff 2.4e-07, 2 flips | — |" in (
        onnx_section(failed, None)
    )


def test_tune_section_shows_the_top_trials_and_counts_the_rest() -> None:
    table = cases.tune_table()
    row = table["trials"][0]
    table["trials"] = [row | {"rank": rank} for rank in range(1, TUNE_ROWS + 4)]
    lines = tune_section(table)
    title = f"### Architecture search: {TUNE_ROWS + 3} trials, best by val_accuracy (maximize)"
    assert lines[0] == title
    assert sum(line.startswith("| ") and "complete" in line for line in lines) == TUNE_ROWS
    assert "\n3 more trials in `metrics/tune.json`." in lines
    assert tune_section(None) == [] and tune_section({"trials": []}) == []


def test_tune_rows_show_failed_trials_and_unchanged_settings() -> None:
    table = cases.tune_table()
    table["trials"][3]["overrides"] = {}
    failed = tune_section(table)[7]
    assert failed == "| 4 | 2 | fail | — | 12 | 3.1 | (as is) |"


def test_candidates_only_say_several_were_trained_and_the_best_kept() -> None:
    table = cases.tune_table()
    table["trials"] = [row | {"candidate": i} for i, row in enumerate(table["trials"])]
    assert tune_section(table)[0] == (
        "### Candidates: 4 trained, the best kept, by val_accuracy (maximize)"
    )
    run = cases.classification_run(0.9, [8])
    run.tune = table
    assert describe_model(run).endswith(" · best of 4 candidates (trial 3)")
    run.tune = table | {"trials": table["trials"][3:]}
    assert describe_model(run).endswith(" · best of 1 candidate (trial 3)")
    table["trials"][2]["candidate"] = None  # one sampled trial: a search, not candidates
    assert tune_section(table)[0].startswith("### Architecture search: 4 trials")


def remediation_record(passed: bool, changes: list[dict]) -> dict:
    return {
        "gate_before": {"passed": False, "reason": "accuracy 0.7000 < gate.min_accuracy 0.9"},
        "gate_after": {
            "passed": passed,
            "reason": f"accuracy {0.95 if passed else 0.8:.4f} "
            f"{'>=' if passed else '<'} gate.min_accuracy 0.9",
        },
        "metric": "val_accuracy",
        "best": {"number": 3, "value": 0.9667, "overrides": {}},
        "trials": 4,
        "candidates_only": False,
        "budget": {"trials": 12, "timeout_minutes": 20.0},
        "changes": changes,
    }


def test_remediation_says_what_was_tried_what_won_and_the_gate_with_it() -> None:
    changes: list[dict] = [
        {"key": "train.mlp.units", "before": [8], "after": [64, 32]},
        {"key": "train.learning_rate", "before": 0.001, "after": 0.004},
    ]
    lines = remediation_section(remediation_record(True, changes))
    assert lines[0] == (
        "### Remediation: the gate failed, the kit tuned — with the winner it ✅ passes"
    )
    text = "\n".join(lines)
    assert "- **Gate before:** ❌ accuracy 0.7000 < gate.min_accuracy 0.9" in text
    assert "- **Tried:** 4 trials (budget: `tune.trials` 12, `tune.timeout_minutes` 20)" in text
    assert "- **Won:** trial 3, val_accuracy 0.9667" in text
    assert "✅ passes · accuracy 0.9500 >= gate.min_accuracy 0.9" in text
    assert "| `train.mlp.units` | `[8]` | `[64, 32]` |" in text
    assert "| `train.learning_rate` | `0.001` | `0.004` |" in text


def test_remediation_that_still_fails_says_so() -> None:
    failing = remediation_record(False, [{"key": "train.epochs", "before": 3, "after": 9}])
    assert remediation_section(failing)[0].endswith("with the winner it ❌ still fails")
    assert remediation_section(None) == []


def test_remediation_where_nothing_beat_the_pull_request_says_what_was_tried() -> None:
    record = remediation_record(False, [])
    record["gate_after"] = record["gate_before"]  # nothing re-trained: the verdict stands
    lines = remediation_section(record)
    assert lines[0] == (
        "### Remediation: the gate failed, the kit tuned — nothing beat this pull request's "
        "settings"
    )
    text = "\n".join(lines)
    assert "- **Tried:** 4 trials (budget: `tune.trials` 12, `tune.timeout_minutes` 20)" in text
    best = "- **Best:** trial 3, val_accuracy 0.9667, with this pull request's own settings"
    assert best in text
    assert "- **Gate:** ❌ still fails · accuracy 0.7000 < gate.min_accuracy 0.9" in text
    assert "Nothing was re-trained and nothing is pushed." in text
    assert "| param |" not in text and "**Won:**" not in text and "re-trained):" not in text


def test_footer_lists_what_is_known_and_how_to_reproduce() -> None:
    lines = footer("abc123", cases.classification_run(0.9, [8]), cases.ENVIRONMENT)
    text = "\n".join(lines)
    assert "| git commit | `abc123` |" in text
    assert "| keras | `3.8.0` |" in text
    assert "git checkout abc123\ndvc repro" in text
    bare = "\n".join(footer(None, RunResults(), {}))
    assert "| GPU | `none` |" in bare
    assert "git commit" not in bare and "MLflow run" not in bare
    assert "```sh\ndvc repro\n```" in bare
