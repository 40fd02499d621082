"""`ml deploy`: register the ONNX model in MLflow as the `challenger`, deploy it to a target
(local, docker or kserve), smoke-test it, then promote it to `champion`, or roll back: the
`challenger` alias moves back to the previous champion, which is deployed again."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from ml import options
from ml.config import Params, load_params
from ml.deploy.report import DeployReport
from ml.errors import UserError
from ml.io import read_json

log = logging.getLogger("ml.deploy")

Target = Literal["local", "docker", "kserve"]


class DeployFailed(UserError):
    """The new version did not pass; the report says what happened and what serves now."""


def main(
    model: Annotated[Path, options.model_file("Verified ONNX model to deploy.")] = Path(
        "models/model.onnx"
    ),
    params_path: options.ParamsFile = options.PARAMS,
    target: Annotated[
        Target | None, typer.Option(help="Where to deploy; default: deploy.target in params.")
    ] = None,
    state_dir: options.StateDir = None,
    train_metrics: Annotated[
        Path, options.train_metrics_file("Links the deployed version to its training run.")
    ] = options.TRAIN_METRICS,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the deployed service instead.")] = (
        False
    ),
) -> None:
    """Deploy the model with a smoke test; promote it to champion or roll back."""
    from ml.deploy import targets
    from ml.deploy.state import default_state_dir

    state_dir = state_dir or default_state_dir()
    params = load_params(params_path)
    chosen = targets.make(target or params.deploy.target, state_dir, params)
    if stop:
        chosen.stop()
        log.info("Stopped the %s deployment", chosen.name)
        return
    if not model.is_file():
        raise UserError(f"{model}: no model to deploy; run `dvc repro` first")
    report = deploy_reported(model, params, chosen, state_dir, training_run(train_metrics))
    if report.status not in ("promoted", "rendered"):
        raise DeployFailed(
            f"version {report.version} was not promoted ({report.status}); champion: "
            f"version {report.champion or 'none'}"
        )


def deploy_reported(
    model: Path, params: Params, target, state_dir: Path, run_id: str | None
) -> DeployReport:
    """Run the deploy sequence on `target`; the report of every step it took is published to
    `state_dir` whatever the outcome, a crash included."""
    from ml.deploy.flow import deploy
    from ml.deploy.registry import Registry
    from ml.serve.model import load

    metadata = load(model).metadata  # a file the service cannot serve stops here, untouched
    report = DeployReport(params.serve.model_name, target.name)
    try:
        registry = Registry(params.serve.model_name, state_dir / "registry")
        deploy(model, metadata, params, target, registry, report, run_id)
    except BaseException:
        report.status = "failed"
        raise
    finally:
        if report.steps:
            report.publish(state_dir)
    return report


def training_run(train_metrics: Path) -> str | None:
    try:
        return read_json(train_metrics).get("mlflow_run_id")
    except (OSError, ValueError):
        return None
