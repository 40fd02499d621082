"""`ml monitor`: one pass (or `--iterations` passes, `--every` seconds apart) over the deployment
that `ml deploy` recorded in <state-dir>/deployment.json:

1. probe the service; when it fails, restart it or redeploy the champion (monitor.restore);
2. compare the inputs it sampled with the reference statistics inside the served model;
3. write <state-dir>/monitor/report.{json,md} and the job summary; on drift, open or update one
   GitHub issue and, with monitor.retrain_workflow set, dispatch the retraining workflow.

Exit status 1 when the service is down and could not be brought back; drift is reported, not an
error."""

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
    state_dir: options.StateDir = options.STATE_DIR,
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
    from ml.monitor.check import monitor_once

    params = load_params(params_path)
    if retrain_workflow:
        settings = params.monitor.model_copy(update={"retrain_workflow": retrain_workflow})
        params = params.model_copy(update={"monitor": settings})
    try:
        deployment = read_json(state_dir / "deployment.json")
    except (OSError, ValueError):
        raise UserError(
            f"{state_dir}/deployment.json: nothing deployed yet; run `ml deploy`"
        ) from None
    healthy = True
    for number in range(iterations):
        if number:
            time.sleep(every)
        report = monitor_once(params, params_path, state_dir, deployment, url, samples)
        healthy = report["healthy"]
    if not healthy:
        raise UserError("the service is down and could not be restored; see the monitor report")
