"""repro: `dvc repro` for a workflow job, with the DVC remote in the loop.

Before running, outputs and run-cache entries that another job already pushed are pulled, so a
stage whose inputs are unchanged is restored instead of run again (a merge reuses the pull
request's training). Afterwards the outputs and the run-cache are pushed for the next job.
Without a default DVC remote both steps are skipped and said so. Training resumes from
`checkpoints/` by itself (`ml train`), so a retried job continues where the last one stopped.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.errors import UserError
from ml.github import env as github_env
from ml.io import read_json

log = logging.getLogger(__name__)

STAGE_LINE = re.compile(r"^(Running stage|Stage) '(?P<stage>[^']+)'(?P<rest>.*)$")
# dvc.lock matches but the outputs are missing: `dvc repro --pull` fetches them from the remote.
PULLED_LINE = re.compile(r"^Pulling data for stage: '(?P<stage>[^']+)'$")
HEADLINE = ("accuracy", "f1_macro", "rmse", "mae", "r2")


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # from the remote's run-cache or outputs
    unchanged: list[str] = field(default_factory=list)

    def record(self, line: str) -> None:
        pulled = PULLED_LINE.match(line.strip())
        if pulled:
            self.restored.append(pulled["stage"])
            return
        match = STAGE_LINE.match(line.strip())
        if not match:
            return
        stage, rest = match["stage"], match["rest"]
        if match[1] == "Running stage":
            if stage in self.restored:  # the pull failed ("Unable to pull data"): it runs
                self.restored.remove(stage)
            self.ran.append(stage)
        elif "is cached" in rest:
            self.restored.append(stage)
        elif "didn't change" in rest:
            self.unchanged.append(stage)


def default_remote() -> str | None:
    result = subprocess.run(["dvc", "remote", "default"], capture_output=True, text=True)
    name = result.stdout.strip()
    return name if result.returncode == 0 and name else None


def stream(args: list[str], outcome: Outcome | None = None) -> None:
    """Run a DVC command, echoing its output as it comes (CI logs), recording stage lines."""
    log.info("$ %s", " ".join(args))
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        for line in process.stdout or ():  # a pipe, as asked for above
            sys.stdout.write(line)
            if outcome is not None:
                outcome.record(line)
    if process.returncode != 0:
        raise UserError(f"`{' '.join(args)}` failed with exit status {process.returncode}")


def push_run_cache_outputs(remote: str) -> int:
    """Push the files of `cache: false` outputs (metrics, plots) that run-cache entries name.

    `dvc push --run-cache` (DVC 3.67) uploads the entries but not these files, and a stage is
    restored from the run-cache only when all its outputs are, so without this step another
    machine retrains every stage that writes a metrics file.
    """
    from dvc.repo import Repo

    with Repo() as repo:
        runs = Path(repo.stage_cache.cache_dir)
        entries = [(path.parent.name, path.name) for path in runs.glob("*/*/*")]
        pushed = 0
        for odb, objects in repo.stage_cache.get_used_objs(entries).items():
            pushed += len(repo.cloud.push(objects, remote=remote, odb=odb).transferred)
    log.info("Pushed %d run-cache output files to %s", pushed, remote)
    return pushed


def push(remote: str, targets: list[str]) -> None:
    stream(["dvc", "push", "--run-cache", *targets])
    push_run_cache_outputs(remote)


def summary(outcome: Outcome, metrics: dict, remote: str | None) -> str:
    rows = [("ran", outcome.ran), ("restored from the DVC remote", outcome.restored)]
    rows.append(("unchanged", outcome.unchanged))
    lines = ["### Pipeline", "", "| stages | which |", "|---|---|"]
    lines += [f"| {label} | {', '.join(names) or '-'} |" for label, names in rows]
    if metrics:
        lines += ["", "| test metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4f} |" for name, value in metrics.items()]
    lines += ["", f"DVC remote: {remote or 'none configured (nothing pulled or pushed)'}"]
    return "\n".join(lines) + "\n"


def headline_metrics(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    scores = read_json(path)
    return {name: float(scores[name]) for name in HEADLINE if name in scores}


def main(
    stages: Annotated[
        str, typer.Option(help="Stages to reproduce, separated by spaces (empty: all).")
    ] = "",
    pull: options.Pull = True,
    push_results: options.Push = True,
    require_remote: Annotated[
        bool, typer.Option(help="Fail when no default DVC remote is configured.")
    ] = False,
    metrics: Annotated[Path, options.metrics_file("Test metrics file for the outputs.")] = Path(
        "metrics/evaluate.json"
    ),
    export_metrics: Annotated[
        Path, typer.Option(help="ONNX export report for the outputs.")
    ] = Path("metrics/export.json"),
) -> None:
    """Reproduce the pipeline, reusing what the DVC remote already holds; push the results."""
    remote = default_remote()
    if remote is None:
        if require_remote:
            raise UserError("no default DVC remote: add one with `dvc remote add -d NAME URL`")
        log.info("No default DVC remote: nothing is pulled or pushed")
    targets = stages.split()
    outcome = Outcome()
    stream(["dvc", "repro", *targets, *(["--pull"] if pull and remote else [])], outcome)
    if push_results and remote:
        push(remote, targets)
    scores = headline_metrics(metrics)
    github_env.append_step_summary(summary(outcome, scores, remote))
    github_env.write_outputs(
        {
            "ran": " ".join(outcome.ran),
            "restored": " ".join(outcome.restored),
            "unchanged": " ".join(outcome.unchanged),
            "metrics": json.dumps(scores, sort_keys=True),
            "remote": remote or "",
            **export_outputs(export_metrics),
        }
    )


def export_outputs(path: Path) -> dict[str, str]:
    """What the release needs to know about the ONNX model, when the export stage has run."""
    if not path.is_file():
        return {}
    report = read_json(path)
    return {
        "onnx-verified": str(bool(report.get("verified"))).lower(),
        "onnx-size-bytes": str(report.get("size_bytes", "")),
        "onnx-max-abs-diff": str(report.get("max_abs_diff", "")),
    }
