"""The options several `ml` commands share, each declared once, so one spelling means one thing
in every command:

  --params       the params file                 --data         the prepared data directory
  --model        a model file (.keras or .onnx)  --model-kind   the kind of model to build
  --metrics      one metrics file (JSON)         --metrics-dir  the directory of metrics files
  --set          params overrides, key=value     --base-ref     the commit to compare with

An option whose help is the same everywhere is a type (`params_path: ParamsFile = PARAMS`); one
whose help names the command's own file is built with that help (`options.model_file(...)`).
Spellings that used to mean something else, as options or as the actions' inputs, are refused
with their new name (RENAMED); this module imports only typer, so the serving image and
`ml --help` stay light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

PARAMS = Path("params.yaml")
PREPARED = Path("data/prepared")
METRICS_DIR = Path("metrics")
TRAIN_METRICS = Path("metrics/train.json")
STATE_DIR = Path(".deploy")
# The kinds `train.model` accepts (ml.config.TrainParams; a test keeps the two in step).
MODEL_KINDS = ("cnn", "mlp")

ParamsFile = Annotated[Path, typer.Option("--params", help="Params file to read.")]
PreparedData = Annotated[
    Path, typer.Option("--data", help="Prepared data directory (written by `ml prepare`).")
]
ConversionFile = Annotated[
    Path | None,
    typer.Option(
        "--conversion",
        help="The model's ONNX conversion and its Keras outputs on the test split (.npz): "
        "`ml train` writes it, `ml export` verifies it without TensorFlow (dvc.yaml: "
        "models/conversion.npz). Default: none.",
    ),
]
MetricsDir = Annotated[
    Path, typer.Option("--metrics-dir", help="Directory of the metrics files (evaluate.json...).")
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Deployment state: deployment.json, served files, logs; default: .deploy, or in a "
        "workflow job RUNNER_TOOL_CACHE/runwright/<owner>/<repo>/deploy.",
    ),
]
BaseRef = Annotated[
    str | None,
    typer.Option(
        "--base-ref", help="Compare with this commit (default: the PR base from the event)."
    ),
]

# Params overrides: the free-form pairs and the typed fields of the retrain form.
Overrides = Annotated[
    str,
    typer.Option(
        "--set",
        help="Params overrides: key=value pairs (YAML values) separated by spaces or new lines.",
    ),
]
Epochs = Annotated[str, typer.Option("--epochs", help="Sets train.epochs (empty: unchanged).")]
LearningRate = Annotated[
    str, typer.Option("--learning-rate", help="Sets train.learning_rate (empty: unchanged).")
]
ModelKind = Annotated[
    str,
    typer.Option(
        "--model-kind",
        help=f"Sets train.model: {', '.join(MODEL_KINDS)} or a build function such as "
        "models/net.py:build (empty: unchanged).",
    ),
]

# DVC remote traffic around a run.
Pull = Annotated[
    bool, typer.Option("--pull/--no-pull", help="Pull data, outputs and run-cache first.")
]
Push = Annotated[
    bool, typer.Option("--push/--no-push", help="Push outputs and run-cache afterwards.")
]


def _with_help(flag: str, meaning: str) -> Callable[[str], Any]:
    """An option whose spelling and meaning are fixed here and whose help each command writes
    (it names that command's own file)."""

    def option(help: str) -> Any:
        return typer.Option(flag, help=help)

    option.__doc__ = f"`{flag}`: {meaning}"
    return option


model_file = _with_help("--model", "a model file, Keras or ONNX")
metrics_file = _with_help("--metrics", "one metrics JSON file")
train_metrics_file = _with_help("--train-metrics", "metrics/train.json")
plots_dir = _with_help("--plots", "a directory of plot data for `dvc plots`")
out = _with_help("--out", "where the command writes its main result")
samples_dir = _with_help("--samples", "the directory of inputs sampled by the service")


# Old spellings, refused before any work with the new one (ml.cli): command -> {old: (new, what
# the new one means)}. The actions' inputs mirror these options without the dashes, and a renamed
# input stays declared in action.yml only to be refused: its step passes the value as
# renamed_input_variable(name), and setting it fails `ml <command>` as the old option would.
MODEL_KIND_MOVED = ("--model-kind", f"a model kind: {', '.join(MODEL_KINDS)}")
METRICS_DIR_MOVED = ("--metrics-dir", "the directory of metrics files")
RENAMED: dict[str, dict[str, tuple[str, str]]] = {
    "route": {"--model": MODEL_KIND_MOVED},
    "overrides": {"--model": MODEL_KIND_MOVED},
    "experiment": {"--model": MODEL_KIND_MOVED},
    "summary": {"--metrics": METRICS_DIR_MOVED},
    "gate": {"--metrics": METRICS_DIR_MOVED},
    "report": {"--metrics": METRICS_DIR_MOVED},
}
# Commands that once took key=value pairs as arguments: what to write instead.
POSITIONAL_MOVED = {
    "overrides": "key=value pairs are now given with --set, as one quoted value: "
    "--set 'train.epochs=3 train.model=mlp'",
}


def renamed_message(command: str, option: str) -> str | None:
    """'--model is now --model-kind (...)' when `option` is an old spelling of `command`."""
    moved = RENAMED.get(command, {}).get(option)
    return f"{option} is now {moved[0]} ({moved[1]})" if moved else None


def renamed_input_variable(name: str) -> str:
    """The variable through which an action passes its renamed input `name` (a form value, so
    UNTRUSTED_ as docs/security.md asks): model -> UNTRUSTED_RENAMED_INPUT_MODEL."""
    return "UNTRUSTED_RENAMED_INPUT_" + name.upper().replace("-", "_")


def renamed_input_message(command: str, environ: Mapping[str, str]) -> str | None:
    """The refusal of a renamed input given to the action that runs `command` ("the action input
    'model' is now 'model-kind' (...)"). An input left out arrives empty: only a value counts."""
    for old, (new, what) in RENAMED.get(command, {}).items():
        name = old.removeprefix("--")
        if environ.get(renamed_input_variable(name)):
            return f"the action input '{name}' is now '{new.removeprefix('--')}' ({what})"
    return None
