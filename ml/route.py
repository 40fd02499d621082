"""route: pick the runner (and container image) that should train this pipeline.

The decision comes from the pipeline itself: the model kind, the data size and the epochs, and
the model as built (its kinds of layers, parameters, input size; ml.model_facts), matched
against `route.rules` in params.yaml, first match wins. Pull requests from forks never
get a self-hosted runner, whatever the rules say: they get `route.fork` (GitHub-hosted) or no
training at all. Printed as JSON for `runs-on: ${{ fromJSON(...) }}`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ml import options
from ml.config import Params, PrepareParams, RouteRule, Runner
from ml.datasets import BUNDLED_DATASETS
from ml.github import env as github_env
from ml.io import read_json
from ml.model_facts import ModelFacts
from ml.pipeline import overrides

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    runs_on: list[str]
    image: str
    self_hosted: bool
    train: bool  # false: a fork pull request and `route.fork` is null
    reason: str
    model: str
    rows: int | None
    epochs: int
    trusted: bool
    model_facts: dict  # what was worked out about the built model: layers, parameters

    @property
    def gpu(self) -> bool:
        """Whether the labels ask for a GPU machine: then the job checks its GPU first."""
        return any("gpu" in label.lower() for label in self.runs_on)


def count_rows(prepare: PrepareParams, data_dir: Path) -> int | None:
    """Rows of the whole data set: from data/prepared if it exists, else from the source."""
    dataset = data_dir / "dataset.json"
    if dataset.is_file():
        return int(sum(read_json(dataset)["rows"].values()))
    source = prepare.source
    if source.bundled:
        return BUNDLED_DATASETS[source.bundled].rows
    if source.images:
        from ml.data.images import SUFFIXES

        root = Path(source.images)
        return sum(1 for p in root.rglob("*") if p.suffix.lower() in SUFFIXES) or None
    path = Path(source.path) if source.path else None
    if path is None or not path.is_file():
        return None  # a URL, or a file not pulled yet: size unknown, size rules do not match
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 0)  # minus the header


def is_trusted(event: dict | None, repository: str | None) -> bool:
    """False for a pull request whose head lives in another repository (a fork)."""
    pull = (event or {}).get("pull_request")
    if not isinstance(pull, dict):
        return True  # push, schedule, dispatch: only people with write access start these
    head_repo = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    return bool(head_repo) and head_repo == repository


def decide(
    params: Params, rows: int | None, trusted: bool, model: ModelFacts | None = None
) -> Route:
    """The first rule whose conditions hold; `model` answers the conditions on the model as
    built (without it they never hold). Cheap conditions are checked first, so the model is
    built only for a rule that still might match."""
    train = params.train
    runner: Runner = params.route.default
    reason = "no rule matched: route.default"
    kind = train.model if train.reference is None else "custom"
    for index, rule in enumerate(params.route.rules):
        if (
            (rule.model is None or rule.model == kind)
            and (rule.min_rows is None or (rows is not None and rows >= rule.min_rows))
            and (rule.min_epochs is None or train.epochs >= rule.min_epochs)
            and model_matches(rule, model)
        ):
            runner, reason = rule, f"route.rules[{index}] matched"
            break
    facts: dict[str, Any] = {
        "model": train.model,
        "rows": rows,
        "epochs": train.epochs,
        "trusted": trusted,
        "model_facts": dict(model.known) if model else {},
    }
    if runner.self_hosted and not trusted:
        fork = params.route.fork
        if fork is None:
            why = "a fork pull request never runs on a self-hosted runner; route.fork is null"
            return Route(["ubuntu-latest"], "", False, False, why, **facts)
        runner, reason = fork, f"{reason}, but a fork pull request gets route.fork"
    return Route(runner.runs_on, runner.image, runner.self_hosted, True, reason, **facts)


def model_matches(rule: RouteRule, model: ModelFacts | None) -> bool:
    if rule.min_input_size is not None:
        size = model.input_size if model else None
        if size is None or size < rule.min_input_size:
            return False
    if rule.layers is not None:
        kinds = model.layers if model else None
        if kinds is None or not kinds & set(rule.layers):
            return False
    if rule.min_parameters is not None:
        count = model.parameters if model else None
        if count is None or count < rule.min_parameters:
            return False
    return True


def main(
    params_path: options.ParamsFile = options.PARAMS,
    data: options.PreparedData = options.PREPARED,
    set_: options.Overrides = "",
    epochs: options.Epochs = "",
    learning_rate: options.LearningRate = "",
    model_kind: options.ModelKind = "",
    data_ref: Annotated[
        str,
        typer.Option(help="Git ref whose DVC-tracked data the training will use; checked here."),
    ] = "",
) -> None:
    """Print the runner labels and image for training, as JSON; set them as step outputs."""
    changes = overrides.collect(set_, epochs=epochs, learning_rate=learning_rate, model=model_kind)
    params = overrides.validate(params_path, changes)
    if data_ref.strip():
        # Here, on the small runner, rather than after setting up the routed one.
        from ml.pipeline.experiment import check_data_ref

        check_data_ref(data_ref.strip())
    trusted = is_trusted(github_env.event_payload(), os.environ.get("GITHUB_REPOSITORY"))
    facts = ModelFacts(params.prepare, params.train, data)
    route = decide(params, count_rows(params.prepare, data), trusted, facts)
    log.info("Route: %s -> runs-on %s (%s)", route.model, route.runs_on, route.reason)
    decision = {key.replace("_", "-"): value for key, value in asdict(route).items()}
    print(json.dumps(decision | {"gpu": route.gpu, "overrides": changes}))
    github_env.write_outputs(
        {
            "runs-on": json.dumps(route.runs_on),
            "image": route.image,
            "self-hosted": str(route.self_hosted).lower(),
            "train": str(route.train).lower(),
            "gpu": str(route.gpu).lower(),
            "reason": route.reason,
            "overrides": json.dumps(changes),
        }
    )
