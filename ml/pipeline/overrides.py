"""overrides: `key=value` changes to params.yaml, checked against the params schema before any
work, and turned into `dvc exp run -S` arguments.

Values are YAML (`train.epochs=3` is an int, `train.cnn.filters=[16,32]` a list). The keys and
values come from people (a `workflow_dispatch` form), so nothing is applied until the whole
file, with every override in place, passes the same strict validation as params.yaml itself.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

import yaml

from ml import dotted, options
from ml.config import Params, ParamsError, parse_params
from ml.github import env as github_env

# The typed inputs of the retrain form and the params they set.
TYPED_KEYS = {
    "epochs": "train.epochs",
    "learning_rate": "train.learning_rate",
    "model": "train.model",
}
# Scientific notation without a dot (1e-3), which YAML 1.1 (PyYAML) leaves as a string.
EXPONENT_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
# A string DVC's -S parser (Hydra's override grammar) reads back unchanged without quotes.
BARE_STRING = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


class OverrideError(ParamsError):
    """An override that is malformed, unknown or invalid; the message names it."""


def parse_pairs(text: str) -> dict[str, object]:
    """`a.b=1 c=[1, 2]` (whitespace or newlines between pairs, shell quoting) -> {key: value}."""
    try:
        words = shlex.split(text or "", comments=False)
    except ValueError as exc:
        raise OverrideError(f"overrides: cannot split {text!r}: {exc}") from None
    pairs: dict[str, object] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        key = key.strip()
        if not sep or not dotted.is_key(key):
            raise OverrideError(
                f"override {word!r} is not key=value with a dotted params key "
                "(for example train.epochs=3)"
            )
        if key in pairs:
            raise OverrideError(f"override {key} is given twice")
        pairs[key] = yaml_value(key, raw)
    return pairs


def yaml_value(key: str, raw: str) -> object:
    if EXPONENT_FLOAT.match(raw.strip()):
        return float(raw)
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        raise OverrideError(f"override {key}: {raw!r} is not a YAML value ({problem})") from None


def collect(text: str = "", **typed: str | None) -> dict[str, object]:
    """Free-form pairs plus the typed form fields (epochs=..., model=...), empty ones ignored."""
    pairs = parse_pairs(text)
    for name, raw in typed.items():
        if raw is None or str(raw).strip() == "":
            continue
        key = TYPED_KEYS[name]
        if key in pairs:
            raise OverrideError(f"{key} is set twice: by the {name} input and in the overrides")
        pairs[key] = yaml_value(key, str(raw))
    return pairs


def apply(raw: dict, overrides: dict[str, object]) -> dict:
    """A copy of the raw params mapping with every dotted key set. Sections are created as
    needed and any key may be set: the schema validation that follows names unknown keys."""
    try:
        return dotted.updated(raw, overrides, create=True, replace_mapping=True)
    except dotted.DottedKeyError as exc:
        raise OverrideError(f"override {exc}") from None


def validate(params_path: Path, overrides: dict[str, object]) -> Params:
    """The params that result from `overrides` on `params_path`; OverrideError if invalid."""
    try:
        raw = yaml.safe_load(Path(params_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OverrideError(f"{params_path}: cannot read params: {exc}") from None
    try:
        return parse_params(apply(raw, overrides), source=f"{params_path} with the overrides")
    except OverrideError:
        raise
    except ParamsError as exc:
        raise OverrideError(str(exc)) from None


def hydra_value(value: object) -> str:
    """One value in the syntax `dvc exp run -S` parses back to the same YAML value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if BARE_STRING.match(text) and yaml_value("", text) == text:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def set_args(overrides: Mapping[str, object]) -> list[str]:
    """['-S', 'train.epochs=3', ...] for `dvc exp run`."""
    args: list[str] = []
    for key, value in overrides.items():
        args += ["-S", f"{key}={hydra_value(value)}"]
    return args


def main(
    params_path: options.ParamsFile = options.PARAMS,
    set_: options.Overrides = "",
    epochs: options.Epochs = "",
    learning_rate: options.LearningRate = "",
    model_kind: options.ModelKind = "",
) -> None:
    """Check key=value overrides against the params schema; print the `dvc exp run -S` args."""
    overrides = collect(set_, epochs=epochs, learning_rate=learning_rate, model=model_kind)
    validate(params_path, overrides)
    args = set_args(overrides)
    print(shlex.join(args))
    github_env.write_outputs({"overrides": json.dumps(overrides), "set-args": json.dumps(args)})
