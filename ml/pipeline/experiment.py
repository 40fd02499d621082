"""experiment: retrain as a DVC experiment, with checked overrides and, optionally, the data of
another Git ref.

The experiment's name comes from what it changes (the overrides and the data ref), so asking for
the same retraining twice lands on the same name, the same branch and the same pull request.
The results stay in the workspace for `ml pull-request` to commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.errors import UserError
from ml.github import env as github_env
from ml.io import write_text
from ml.pipeline import overrides, repro

log = logging.getLogger(__name__)

# A Git ref a person typed: branch, tag or commit, nothing that git could read as an option.
SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BRANCH_PREFIX = "runwright/"


def experiment_name(changes: dict[str, object], data_ref: str) -> str:
    canonical = json.dumps({"overrides": changes, "data_ref": data_ref}, sort_keys=True)
    return "retrain-" + hashlib.sha256(canonical.encode()).hexdigest()[:8]


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def check_data_ref(ref: str) -> tuple[str, list[str]]:
    """The commit `ref` names and its DVC pointer files (*.dvc); a UserError naming the problem
    when `ref` is no plain name, names nothing in this clone, or tracks no data there."""
    if not SAFE_REF.match(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        raise UserError(f"data-ref {ref!r} is not a branch, tag or commit name")
    found = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UserError(
            f"data-ref {ref!r}: no such branch, tag or commit in this clone "
            "(a shallow checkout needs fetch-depth: 0)"
        )
    commit = found.stdout.strip()
    listed = git("ls-tree", "-r", "--name-only", commit).stdout.splitlines()
    pointers = [path for path in listed if path.endswith(".dvc") and not path.startswith(".dvc/")]
    if not pointers:
        raise UserError(f"data-ref {ref!r}: no DVC-tracked data (*.dvc files) at {commit[:12]}")
    return commit, pointers


def restore_data(ref: str) -> list[str]:
    """Check out the DVC pointer files (*.dvc) of `ref`; DVC then pulls that version of data."""
    commit, pointers = check_data_ref(ref)
    checkout = git("checkout", commit, "--", *pointers)
    if checkout.returncode != 0:
        raise UserError(f"data-ref {ref!r}: {checkout.stderr.strip()}")
    log.info("Data from %s (%s): %s", ref, commit[:12], ", ".join(pointers))
    return pointers


def set_args(params_path: Path, changes: Mapping[str, object]) -> list[str]:
    """`dvc exp run -S` arguments for `changes` to `params_path`: DVC applies an unnamed one to
    params.yaml, so any other params file is named (`-S other.yaml:train.epochs=3`)."""
    args = overrides.set_args(changes)
    if params_path == options.PARAMS:
        return args
    return [arg if arg == "-S" else f"{params_path}:{arg}" for arg in args]


def summary(name: str, changes: dict, data_ref: str, scores: dict) -> str:
    lines = [f"### Experiment `{name}`", "", "| change | value |", "|---|---|"]
    lines += [f"| `{key}` | `{json.dumps(value)}` |" for key, value in changes.items()]
    if data_ref:
        lines.append(f"| data | `{data_ref}` |")
    if not changes and not data_ref:
        lines.append("| (none) | retrained on the current data and params |")
    if scores:
        lines += ["", "| test metric | value |", "|---|---|"]
        lines += [f"| {metric} | {value:.4f} |" for metric, value in scores.items()]
    return "\n".join(lines) + "\n"


def main(
    params_path: options.ParamsFile = options.PARAMS,
    set_: options.Overrides = "",
    epochs: options.Epochs = "",
    learning_rate: options.LearningRate = "",
    model_kind: options.ModelKind = "",
    data_ref: Annotated[
        str, typer.Option(help="Git ref whose DVC-tracked data to train on (empty: current).")
    ] = "",
    name: Annotated[str, typer.Option(help="Experiment name (empty: derived).")] = "",
    pull: options.Pull = True,
    push: options.Push = True,
    summary_file: Annotated[
        Path | None, typer.Option(help="Also write the Markdown summary here.")
    ] = None,
) -> None:
    """Run the pipeline as a DVC experiment with checked overrides; results stay in place."""
    changes = overrides.collect(set_, epochs=epochs, learning_rate=learning_rate, model=model_kind)
    overrides.validate(params_path, changes)
    data_ref = data_ref.strip()
    name = name.strip() or experiment_name(changes, data_ref)
    if not NAME.match(name):
        raise UserError(f"experiment name {name!r}: use lowercase letters, digits and '-'")
    if data_ref:
        restore_data(data_ref)
    remote = repro.default_remote()
    outcome = repro.Outcome()
    pulling = ["--pull"] if pull and remote else []
    command = ["dvc", "exp", "run", "--name", name, *set_args(params_path, changes), *pulling]
    repro.stream(command, outcome)
    if push and remote:
        repro.push(remote, [])
    scores = repro.headline_metrics(Path("metrics/evaluate.json"))
    markdown = summary(name, changes, data_ref, scores)
    github_env.append_step_summary(markdown)
    if summary_file:
        write_text(summary_file, markdown)
    github_env.write_outputs(
        {
            "name": name,
            "branch": BRANCH_PREFIX + name,
            "overrides": json.dumps(changes),
            "data-ref": data_ref,
            "metrics": json.dumps(scores, sort_keys=True),
            "ran": " ".join(outcome.ran),
            "summary-file": str(summary_file or ""),
        }
    )
