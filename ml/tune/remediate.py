"""remediate: when a pull request's gate failed and the repository opted in, search better
`train` settings within params.yaml `tune` (`ml tune`'s search, trials and timeout as set
there), re-train the pipeline with the winner, and judge it by the same gate. When nothing beats
the pull request's own settings, nothing is re-trained and the gate's verdict stands.

It writes the winner into params.yaml, `metrics/tune.json` (every trial) and
`metrics/remediation.json` (gate before and after, the winner's settings against the old
ones), which the report shows. It holds no write token: this job runs the pull request's code.
Pushing the winner is `ml push-params`, in a job of its own that runs none of that code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ml import dotted, options
from ml.config import Params, load_params, section_hash
from ml.errors import UserError
from ml.gate import GateResult, base_metrics, check_gate
from ml.github import env as github_env
from ml.github.pull_request import git
from ml.io import write_json
from ml.pipeline import repro
from ml.results.run import ResultPaths, load_results, working_tree_reader
from ml.tune import remediation, search_space
from ml.tune.command import search_and_write

log = logging.getLogger(__name__)


def test_metrics(paths: ResultPaths) -> dict:
    evaluate = load_results(working_tree_reader, paths, "the working tree").evaluate
    if evaluate is None:
        raise UserError(f"{paths.metric_file('evaluate')} not found: run `dvc repro` first")
    return evaluate


def changes(before: Params, best_overrides: dict) -> list[dict]:
    """The winner's `train` settings that differ from what the pull request had."""
    old = before.train.model_dump(mode="json")
    found = []
    for key, value in best_overrides.items():
        previous = dotted.get(old, key)
        if previous != value:
            found.append({"key": f"train.{key}", "before": previous, "after": value})
    return found


def verdict(gate: GateResult) -> dict:
    return {"passed": gate.passed, "reason": gate.reason}


def summary(record: dict) -> str:
    after = record["gate_after"]
    lines = [f"## Remediation: best of {record['trials']} trials", ""]
    if not record["changes"]:
        lines.append(
            "Nothing beat this pull request's settings: nothing re-trained, nothing to push; "
            f"the gate still fails ({after['reason']})."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        f"Gate with the winner: {'passed' if after['passed'] else 'still failing'} "
        f"({after['reason']})."
    )
    lines += [f"- `{c['key']}`: `{c['before']}` -> `{c['after']}`" for c in record["changes"]]
    return "\n".join(lines) + "\n"


def main(
    params_path: options.ParamsFile = options.PARAMS,
    metrics_dir: options.MetricsDir = options.METRICS_DIR,
    data: options.PreparedData = options.PREPARED,
    base_ref: options.BaseRef = None,
    opt_in: Annotated[
        bool, typer.Option(help="The repository opted in for every pull request.")
    ] = False,
    label: Annotated[
        str, typer.Option(help="The label that opts one pull request in.")
    ] = remediation.LABEL,
    study_dir: Annotated[
        Path, typer.Option("--study-dir", help="Where the Optuna study (sqlite) lives.")
    ] = Path(".cache/tune"),
    out: Annotated[Path, options.out("What was tried and what won (JSON).")] = Path(
        "metrics/remediation.json"
    ),
) -> None:
    """After a failed gate on an opted-in pull request: tune, re-train, re-judge."""
    context = remediation.pull_request_context(github_env.event_payload())
    params = load_params(params_path)
    paths = ResultPaths(params=str(params_path), metrics=str(metrics_dir))
    base = base_metrics(base_ref, paths)
    before = check_gate(params.gate, test_metrics(paths), base)
    refusal = remediation.remediation_refusal(
        context,
        gate_passed=before.passed,
        opted_in=opt_in,
        label=remediation.check_label(label),
        head_subject=git("log", "-1", "--format=%s", "HEAD"),
    )
    if refusal:
        log.info("No remediation: %s", refusal)
        github_env.append_step_summary(f"## Remediation: not run\n\n{refusal}.\n")
        github_env.write_outputs({"remediated": "false", "reason": refusal, "changed": "false"})
        return
    search_space.check_searchable(params.tune, params.train)  # before any work
    log.info("The gate failed (%s): searching better settings", before.reason)
    remote = repro.default_remote()
    pull = ["--pull"] if remote else []
    repro.stream(["dvc", "repro", "prepare", *pull])
    table = search_and_write(params_path, data, study_dir, metrics_dir / "tune.json")
    tuned = load_params(params_path)
    found = changes(params, table["best"]["overrides"])
    if found:
        # The winner trained the way a pull request trains it: the whole pipeline, test metrics.
        repro.stream(["dvc", "repro"])
        if remote:  # the next run of this pull request restores this training, not redoes it
            repro.push(remote, [])
        after = check_gate(tuned.gate, test_metrics(paths), base)
    else:
        # Nothing beat the pull request's own settings: its own training is the winner's, so the
        # gate's verdict stands; training it again would only spend the budget.
        log.info("Nothing beat the pull request's settings: nothing re-trained")
        after = before
    record = {
        "branch": context.head_ref,
        "head_sha": context.head_sha,
        "gate_before": verdict(before),
        "gate_after": verdict(after),
        "metric": table["metric"],
        "best": table["best"],
        "trials": len(table["trials"]),
        "candidates_only": not params.tune.space,
        "budget": {"trials": params.tune.trials, "timeout_minutes": params.tune.timeout_minutes},
        "changes": found,
        "retrained": bool(found),
        "train_hash": section_hash(tuned.train),
    }
    write_json(out, record)
    log.info(
        "Winner: trial %d%s; gate %s (%s)",
        table["best"]["number"],
        "" if found else " (the pull request's own settings)",
        "passes" if after.passed else "still fails",
        after.reason,
    )
    github_env.append_step_summary(summary(record))
    github_env.write_outputs(
        {
            "remediated": "true",
            "reason": after.reason,
            "passed": str(after.passed).lower(),
            "changed": str(bool(record["changes"])).lower(),
        }
    )
