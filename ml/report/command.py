"""report: the pull-request report. Renders Markdown (metrics against the PR's base commit,
gate verdict, changed params, Mermaid charts, confusion matrix, ONNX checks, search trials),
writes PNG charts for a workflow artifact, appends the report to the job summary, and with
--post keeps it as one sticky comment on the pull request."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ml import options, provenance
from ml.config import load_params, section_hash
from ml.errors import UserError
from ml.gate import check_gate
from ml.github import env as github_env
from ml.io import write_text
from ml.report import charts, comment, notify
from ml.report.markdown import MARKER, ReportInputs, render, verdict_line
from ml.results import revisions
from ml.results.compare import compare
from ml.results.run import ResultPaths, commit_reader, load_results, working_tree_reader

log = logging.getLogger(__name__)


class Poster(StrEnum):
    api = "api"
    cml = "cml"


def build_inputs(paths: ResultPaths, base_ref: str | None) -> ReportInputs:
    """Everything the report shows, read from the working tree and the base commit."""
    params = load_params(paths.params)
    head = load_results(working_tree_reader, paths, "the working tree")
    if head.evaluate is None:
        raise UserError(f"{paths.metric_file('evaluate')} not found: run `dvc repro` first")
    for name in ("tune", "remediation"):
        found = getattr(head, name)
        if found and found.get("train_hash") != section_hash(params.train):
            log.info(
                "%s is from a search whose settings are no longer in `train`: not shown",
                paths.metric_file(name),
            )
            setattr(head, name, None)
    base_commit = revisions.resolve_base(base_ref)
    base = None
    if base_commit is not None:
        where = f"the base commit {base_commit.sha[:12]}"
        base = load_results(commit_reader(base_commit.sha), paths, where)
    gate = check_gate(params.gate, head.evaluate, base.evaluate if base else None)
    return ReportInputs(
        head=head,
        base=base,
        base_commit=base_commit,
        head_commit=revisions.head_sha(),
        gate=gate,
        environment=environment(),
    )


def environment() -> dict:
    """Where this report was made: for the reproducibility footer."""
    pull = github_env.pull_request()
    runner = os.environ.get("RUNNER_NAME")
    if runner:
        details = [os.environ.get(k) for k in ("RUNNER_OS", "RUNNER_ARCH", "RUNNER_ENVIRONMENT")]
        runner += f" ({', '.join(filter(None, details))})"
    return {
        "dvc_lock_sha256": provenance.file_hash("dvc.lock"),
        "pr_head": pull.head_sha if pull else None,
        "runner": runner or f"{platform.node()} ({platform.system()}, {platform.machine()})",
        "gpu": gpu_description(),
        "versions": provenance.library_versions(),
    }


def gpu_description() -> str | None:
    """'NVIDIA A10G, 23028 MiB' per GPU from nvidia-smi, or None without one."""
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return None
    query = [nvidia_smi, "--query-gpu=name,memory.total", "--format=csv,noheader"]
    try:
        result = subprocess.run(query, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return "; ".join(names) if result.returncode == 0 and names else None


def charts_note(files: list[Path], artifact: str) -> str | None:
    if not files:
        return None
    names = ", ".join(f"`{path.name}`" for path in files)
    url = github_env.run_url()
    if url:
        return f"PNG charts ({names}): artifact `{artifact}` of [this workflow run]({url})."
    return f"PNG charts: {names} in `{files[0].parent}`."


def publish(markdown: str, out: Path, post: bool, poster: Poster, pr: int | None, marker: str):
    """Job summary, then the sticky comment when asked; a read-only token is not an error."""
    github_env.append_step_summary(markdown)
    if not post:
        return
    if poster is Poster.cml:
        comment.post_with_cml(out, marker)
        return
    pull = github_env.pull_request()
    number = pr or (pull.number if pull else None)
    if number is None:
        log.warning("Not a pull request and no --pr: the report was not posted as a comment")
        return
    if comment.post(markdown, number, marker) == "forbidden":
        why = (
            "The report was not posted as a PR comment: the GITHUB_TOKEN may not write to this "
            "pull request (a pull request from a fork gets a read-only token). It is here instead."
        )
        log.warning("%s", why)
        github_env.append_step_summary(f"\n> [!NOTE]\n> {why}\n")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(f"::warning title=Report not posted::{why}")


def notification(inputs: ReportInputs, pr: int | None) -> str:
    from ml.report.tables import describe_model

    pull = github_env.pull_request()
    number = pr or (pull.number if pull else None)
    where = os.environ.get("GITHUB_REPOSITORY", Path.cwd().name)
    if number:
        where += f" PR #{number}"
    text = f"{where}: {verdict_line(inputs)}. Best model: {describe_model(inputs.head)}"
    if not inputs.gate.passed:
        text += f". Why: {inputs.gate.reason}"
    url = github_env.run_url()
    return f"{text}. {url}" if url else text


def main(
    params_path: options.ParamsFile = options.PARAMS,
    metrics_dir: options.MetricsDir = options.METRICS_DIR,
    plots: Annotated[Path, options.plots_dir("Directory of the plot data.")] = Path("plots"),
    out: Annotated[Path, options.out("Where to write the Markdown report.")] = Path(
        "reports/report.md"
    ),
    charts_dir: Annotated[
        Path, typer.Option("--charts", help="Directory for the PNG charts (replaced).")
    ] = Path("reports/charts"),
    base_ref: options.BaseRef = None,
    post: Annotated[bool, typer.Option(help="Post or update the sticky PR comment.")] = False,
    poster: Annotated[
        Poster, typer.Option(help="api: GitHub REST API; cml: hand the file to `cml`.")
    ] = Poster.api,
    pr: Annotated[
        int | None, typer.Option(help="PR number (default: from the event payload).")
    ] = None,
    marker: Annotated[str, typer.Option(help="Hidden marker of the sticky comment.")] = MARKER,
    artifact: Annotated[
        str, typer.Option(help="Artifact name the PNG charts are uploaded under.")
    ] = "ml-report",
) -> None:
    """Render the PR report; append it to the job summary; with --post, comment on the PR."""
    if not marker.replace("-", "").replace("_", "").isalnum():
        raise UserError(f"--marker must be letters, digits, '-' or '_', got {marker!r}")
    paths = ResultPaths(params=str(params_path), metrics=str(metrics_dir), plots=str(plots))
    inputs = build_inputs(paths, base_ref)
    task = inputs.head.task or "classification"
    files = charts.write_charts(charts_dir, inputs.head, compare(inputs.head, inputs.base), task)
    inputs.charts_note = charts_note(files, artifact)
    inputs.marker = marker
    markdown = render(inputs)
    write_text(out, markdown)
    log.info("Report written to %s (%d characters, %d PNG charts)", out, len(markdown), len(files))
    publish(markdown, out, post, poster, pr, marker)
    notify.notify(notification(inputs, pr))
