"""Loading what a pipeline run left behind, from the working tree or a commit: present files
parsed, absent ones empty, unreadable ones a UserError naming the file and where it was read."""

from __future__ import annotations

import json
import math

import pytest

from ml.errors import UserError
from ml.results.run import (
    ResultPaths,
    RunResults,
    class_labels,
    commit_reader,
    confusion_matrix,
    load_results,
    working_tree_reader,
)
from tests.ml.conftest import GitRepo

EVALUATE = {"task": "classification", "accuracy": 0.9, "per_class": {"b": {}, "a": {}}}
FILES = {
    "params.yaml": "train:\n  epochs: 3\n",
    "metrics/evaluate.json": json.dumps(EVALUATE),
    "metrics/train.json": json.dumps({"epochs_run": 3}),
    "plots/train/history.csv": "epoch,loss,val_loss\n1,0.5,0.6\n2,0.4,\n",
    "plots/evaluate/test_predictions.csv": "actual,predicted\na,a\nb,a\n",
}


def reader(files: dict[str, str]):
    return files.get


def test_every_file_present_is_parsed_and_absent_ones_stay_empty() -> None:
    results = load_results(reader(FILES), ResultPaths(), "this run")
    assert results.evaluate == EVALUATE and results.task == "classification"
    assert results.train == {"epochs_run": 3}
    assert results.params == {"train": {"epochs": 3}}
    assert results.export is None and results.tune is None
    assert results.history[0] == {"epoch": 1.0, "loss": 0.5, "val_loss": 0.6}
    assert math.isnan(results.history[1]["val_loss"])  # a blank cell
    assert results.predictions == [("a", "a"), ("b", "a")]

    nothing = load_results(reader({}), ResultPaths(), "this run")
    assert nothing == RunResults() and nothing.task is None


def test_paths_follow_the_configured_folders() -> None:
    paths = ResultPaths(params="conf/p.yaml", metrics="out/m", plots="out/p")
    files = {
        "conf/p.yaml": "{}\n",
        "out/m/evaluate.json": json.dumps(EVALUATE),
        "out/p/train/history.csv": "epoch,loss\n1,0.5\n",
    }
    results = load_results(reader(files), paths, "this run")
    assert results.params == {} and results.evaluate == EVALUATE
    assert results.history == [{"epoch": 1.0, "loss": 0.5}]


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("metrics/evaluate.json", "{oops", "Expecting property name"),
        ("metrics/train.json", "[1, 2]", "expected a JSON object"),
        ("params.yaml", "- a\n- b\n", "expected a mapping"),
        ("params.yaml", "train: [\n", "while parsing"),
        ("plots/train/history.csv", "epoch,loss\n1,high\n", "could not convert"),
        ("plots/evaluate/test_predictions.csv", "y,yhat\na,a\n", "the columns actual,predicted"),
    ],
)
def test_an_unreadable_file_names_itself_and_where_it_was_read(path, text, reason) -> None:
    with pytest.raises(UserError) as caught:
        load_results(reader(FILES | {path: text}), ResultPaths(), "the base commit abc123")
    message = str(caught.value)
    assert message.startswith(f"{path} in the base commit abc123 cannot be read: ")
    assert reason in message


def test_working_tree_and_commit_readers(git_repo: GitRepo) -> None:
    first = git_repo.commit({"metrics/evaluate.json": '{"accuracy": 0.5}'}, "first")
    git_repo.commit({"metrics/evaluate.json": '{"accuracy": 0.7}'}, "second")
    (git_repo.path / "metrics/evaluate.json").write_text('{"accuracy": 0.9}')
    at_first = load_results(commit_reader(first), ResultPaths(), "first")
    now = load_results(working_tree_reader, ResultPaths(), "the working tree")
    assert at_first.evaluate == {"accuracy": 0.5}
    assert now.evaluate == {"accuracy": 0.9}
    assert commit_reader(first)("metrics/train.json") is None
    assert working_tree_reader("metrics/train.json") is None


def test_labels_keep_the_models_class_order_then_any_other_seen() -> None:
    results = RunResults(evaluate=EVALUATE, predictions=[("a", "c"), ("c", "b")])
    assert class_labels(results) == ["b", "a", "c"]
    assert class_labels(RunResults(predictions=[("y", "y"), ("x", "y")])) == ["y", "x"]


def test_confusion_matrix_counts_actual_rows_by_predicted_columns() -> None:
    results = RunResults(
        evaluate=EVALUATE, predictions=[("a", "a"), ("a", "b"), ("a", "b"), ("b", "b")]
    )
    labels, counts = confusion_matrix(results)
    assert labels == ["b", "a"]
    assert counts == [[1, 0], [2, 1]]  # row b: 1 right; row a: 2 taken for b, 1 right
