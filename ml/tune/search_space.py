"""The architecture search space of params.yaml `tune`, as Optuna suggestions: which `train`
settings a trial uses, and the study's identity (same space + data + start = same study)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ml import dotted
from ml.config import Params, TrainParams, TuneParams, train_with
from ml.errors import UserError

MODEL_SECTIONS = ("cnn", "mlp")


def suggest(trial, space: dict) -> dict[str, Any]:
    """Sample one configuration: {dotted train key: value}."""
    overrides = {}
    for key, dimension in space.items():
        if dimension.choices is not None:
            # Optuna's categorical values must be scalars; lists such as [32, 64] go as JSON.
            encoded = [json.dumps(choice) for choice in dimension.choices]
            overrides[key] = json.loads(trial.suggest_categorical(key, encoded))
        elif isinstance(dimension.low, int) and isinstance(dimension.high, int):
            overrides[key] = trial.suggest_int(
                key, dimension.low, dimension.high, log=dimension.log
            )
        else:
            value = trial.suggest_float(key, dimension.low, dimension.high, log=dimension.log)
            # Three significant digits: params.yaml gets 0.00312, not 0.0031184790302264.
            overrides[key] = float(f"{value:.3g}")
    return overrides


def train_params(base: TrainParams, overrides: dict[str, Any]) -> TrainParams:
    """The `train` settings of one trial: `base` with its sampled dotted keys."""
    return train_with(base, overrides)


def check_searchable(tune: TuneParams, train: TrainParams) -> None:
    """Refuse a search that cannot change anything: nothing declared, or settings of a model
    kind that no trial trains (cnn.* keys while train.model is mlp)."""
    if not tune.space and not tune.candidates:
        raise UserError("params.yaml `tune` has no `space` and no `candidates`: nothing to try")
    models = {train.model}
    if "model" in tune.space:
        models |= set(tune.space["model"].edge_values())
    models |= {candidate["model"] for candidate in tune.candidates if "model" in candidate}
    keys = list(tune.space) + [key for candidate in tune.candidates for key in candidate]
    for key in keys:
        section = key.split(".", 1)[0]
        if section in MODEL_SECTIONS and section not in models:
            raise UserError(
                f"tune: '{key}' has no effect, no trial trains a '{section}' model "
                f"(train.model is '{train.model}'; add 'model' to tune.space to search it)"
            )


def study_name(params: Params, data_fingerprint: str) -> str:
    """Equal for a rerun of the same search, so an interrupted one resumes: the searched keys
    are left out of `train`, so writing the best values back does not start a new study."""
    searched = set(params.tune.space) | {key for c in params.tune.candidates for key in c}
    start = params.train.model_dump(mode="json")
    for key in searched:
        dotted.pop(start, key)
    identity = {
        "tune": params.tune.model_dump(mode="json", exclude={"trials", "timeout_minutes"}),
        "train": start,
        "data": data_fingerprint,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"tune-{digest[:12]}"
