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
