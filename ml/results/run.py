"""What a pipeline run left behind (metrics, history, predictions, params), read either from the
working tree or from any commit, so this PR and its base are loaded the same way."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ml.errors import UserError
from ml.results import revisions

Reader = Callable[[str], str | None]  # relative path -> text, or None when there is no file


@dataclass(frozen=True)
class ResultPaths:
    params: str = "params.yaml"
    metrics: str = "metrics"
    plots: str = "plots"

    def metric_file(self, stage: str) -> str:
        return f"{self.metrics}/{stage}.json"

    @property
    def history(self) -> str:
        return f"{self.plots}/train/history.csv"

    @property
    def predictions(self) -> str:
        return f"{self.plots}/evaluate/test_predictions.csv"


@dataclass
class RunResults:
    evaluate: dict | None = None
    train: dict | None = None
    export: dict | None = None
    tune: dict | None = None
    remediation: dict | None = None  # metrics/remediation.json of `ml remediate`
    params: dict | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    predictions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def task(self) -> str | None:
        return (self.evaluate or {}).get("task")


def working_tree_reader(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def commit_reader(sha: str) -> Reader:
    return lambda path: revisions.read_at(sha, path)


def load_results(read: Reader, paths: ResultPaths, where: str) -> RunResults:
    """Everything present; absent files stay None/empty. Unreadable ones raise UserError naming
    `where` (e.g. 'the base commit abc123') and the file."""

    def parsed(path: str, parse: Callable[[str], object]):
        text = read(path)
        if text is None:
            return None
        try:
            return parse(text)
        except (ValueError, KeyError, yaml.YAMLError, csv.Error) as exc:
            raise UserError(f"{path} in {where} cannot be read: {exc}") from None

    return RunResults(
        evaluate=parsed(paths.metric_file("evaluate"), json_object),
        train=parsed(paths.metric_file("train"), json_object),
        export=parsed(paths.metric_file("export"), json_object),
        tune=parsed(paths.metric_file("tune"), json_object),
        remediation=parsed(paths.metric_file("remediation"), json_object),
        params=parsed(paths.params, yaml_mapping),
        history=parsed(paths.history, history_rows) or [],
        predictions=parsed(paths.predictions, prediction_pairs) or [],
    )


def json_object(text: str) -> dict:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def yaml_mapping(text: str) -> dict:
    data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("expected a mapping")
    return data


def history_rows(text: str) -> list[dict[str, float]]:
    """plots/train/history.csv as rows of floats; blank cells read as NaN."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({key: float(value) if value else math.nan for key, value in row.items()})
    return rows


def prediction_pairs(text: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if not {"actual", "predicted"} <= set(reader.fieldnames or []):
        raise ValueError("expected the columns actual,predicted")
    return [(row["actual"], row["predicted"]) for row in reader]


def class_labels(results: RunResults) -> list[str]:
    """Labels in the model's class order (evaluate.json per_class), then any other seen."""
    labels = list(((results.evaluate or {}).get("per_class") or {}).keys())
    for pair in results.predictions:
        for label in pair:
            if label not in labels:  # checked one by one: a pair may name one label twice
                labels.append(label)
    return labels


def confusion_matrix(results: RunResults) -> tuple[list[str], list[list[int]]]:
    """(labels, counts[actual][predicted]) over the test predictions."""
    labels = class_labels(results)
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for actual, predicted in results.predictions:
        counts[index[actual]][index[predicted]] += 1
    return labels, counts
