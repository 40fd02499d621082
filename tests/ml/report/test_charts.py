"""PNG charts: each drawn only when the run has the data for it, into a folder replaced whole.
(`ml report` writing them for a classification PR is in test_command.py.)"""

from __future__ import annotations

from pathlib import Path

from ml.report.charts import write_charts
from ml.results.compare import compare
from ml.results.run import RunResults
from tests.ml.report import cases

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def names(files: list[Path]) -> list[str]:
    return [path.name for path in files]


def test_regression_gets_a_scatter_of_predictions_instead_of_a_confusion_matrix(
    tmp_path: Path,
) -> None:
    head, base = cases.regression_run(53.4, [64]), cases.regression_run(58.1, [32])
    files = write_charts(tmp_path / "charts", head, compare(head, base), "regression")
    assert names(files) == ["comparison.png", "learning_curves.png", "predictions.png"]
    assert all(path.read_bytes()[:8] == PNG_MAGIC for path in files)


def test_a_first_run_has_nothing_to_compare_with(tmp_path: Path) -> None:
    head = cases.classification_run(0.9, [32])
    files = write_charts(tmp_path / "charts", head, compare(head, None), "classification")
    assert names(files) == ["confusion_matrix.png", "learning_curves.png"]


def test_the_folder_is_replaced_and_stale_charts_go(tmp_path: Path) -> None:
    out = tmp_path / "charts"
    out.mkdir()
    (out / "comparison.png").write_bytes(b"from an earlier report")
    (out / "notes.txt").write_text("not ours either")
    head = cases.classification_run(0.9, [32])
    files = write_charts(out, head, compare(head, None), "classification")
    assert sorted(path.name for path in out.iterdir()) == names(files)
    assert [path.name for path in tmp_path.iterdir()] == ["charts"]  # no temporary folder left
    assert "comparison.png" not in names(files)


def test_nothing_to_draw_leaves_an_empty_folder(tmp_path: Path) -> None:
    empty = RunResults(evaluate={"task": "regression"}, predictions=[("nan", "1.0")])
    files = write_charts(tmp_path / "charts", empty, compare(empty, None), "regression")
    assert files == [] and (tmp_path / "charts").is_dir()
