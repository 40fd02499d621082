"""`ml monitor`: one pass (or `--iterations` passes, `--every` seconds apart) over the deployment
that `ml deploy` recorded in <state-dir>/deployment.json:

1. probe the service; when it fails, restart it or redeploy the champion (monitor.restore);
2. compare the inputs it sampled with the reference statistics inside the served model;
3. write <state-dir>/monitor/report.{json,md} and the job summary; on drift, open or update one
   GitHub issue and, with monitor.retrain_workflow set, dispatch the retraining workflow.

Exit status 1 when the service is down and could not be brought back; drift is reported, not an
error. With nothing recorded in the default state directory (a fresh runner, such as a scheduled
job on a GitHub-hosted machine) there is nothing to check: that is reported, and is no error.
Where a deployment was named (--state-dir or --url), a missing record is an error."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.config import load_params
from ml.errors import UserError
from ml.io import read_json

log = logging.getLogger("ml.monitor")


def main(
    params_path: options.ParamsFile = options.PARAMS,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help=f"Deployment state; default {options.STATE_DIR} (in a workflow job "
            "RUNNER_TOOL_CACHE/runwright/<owner>/<repo>/deploy), where finding none is no error.",
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Service address; default: the recorded deployment's.")
    ] = None,
    samples: Annotated[
        Path | None, options.samples_dir("Sampled inputs; default: the deployment's samples.")
    ] = None,
    iterations: Annotated[int, typer.Option(min=1, help="Passes to make.")] = 1,
    every: Annotated[float, typer.Option(min=0, help="Seconds between passes.")] = 60.0,
    retrain_workflow: Annotated[
        str | None,
        typer.Option(help="Workflow dispatched on drift; default: monitor.retrain_workflow."),
    ] = None,
) -> None:
    """Probe the deployed service, restore it if it fails, and report input drift."""
    from ml.deploy.state import default_state_dir
    from ml.monitor.check import monitor_once, report_nothing_deployed

    named = state_dir is not None or url is not None
    state_dir = state_dir or default_state_dir()
    deployment = recorded_deployment(state_dir)
    if deployment is None:
        if named:
            raise UserError(f"{state_dir}/deployment.json: nothing deployed yet; run `ml deploy`")
        report_nothing_deployed(state_dir)
        return
    params = load_params(params_path)
    if retrain_workflow:
        settings = params.monitor.model_copy(update={"retrain_workflow": retrain_workflow})
        params = params.model_copy(update={"monitor": settings})
    healthy = True
    for number in range(iterations):
        if number:
            time.sleep(every)
        report = monitor_once(params, params_path, state_dir, deployment, url, samples)
        healthy = report["healthy"]
    if not healthy:
        raise UserError("the service is down and could not be restored; see the monitor report")


def recorded_deployment(state_dir: Path) -> dict | None:
    """What `ml deploy` recorded in `state_dir`, or None when it recorded nothing there."""
    record = state_dir / "deployment.json"
    if not record.exists():
        return None
    try:
        deployment = read_json(record)
    except (OSError, ValueError) as exc:
        raise UserError(f"{record}: cannot read the deployment record: {exc}") from None
    if "target" not in deployment:
        raise UserError(f"{record}: not a deployment record (no target)")
    return deployment
