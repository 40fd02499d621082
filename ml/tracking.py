"""MLflow tracking: embedded sqlite by default, a server when MLFLOW_TRACKING_URI is set."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def start_run(run_id: str | None, run_name: str):
    """Start a new run, or continue `run_id` (a resumed training keeps one run, not two)."""
    import mlflow  # here, not at the top: `ml --help` and `ml prepare` need no MLflow

    mlflow.set_tracking_uri(tracking_uri())
    # The project directory's name groups runs unless MLFLOW_EXPERIMENT_NAME picks another.
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or Path.cwd().name)
    if run_id:
        log.info("Continuing MLflow run %s", run_id)
        return mlflow.start_run(run_id=run_id)
    return mlflow.start_run(run_name=run_name)


def flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """{'cnn': {'filters': [32]}} -> {'cnn.filters': '[32]'}: MLflow params are flat strings."""
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def provenance_tags(info: dict) -> dict[str, str]:
    tags = {
        "git_commit": info["git_commit"] or "unknown",
        "dvc_lock_sha256": info["dvc_lock_sha256"] or "none",
        "host": info["host"],
    }
    tags |= {f"version.{name}": version for name, version in info["versions"].items()}
    return tags
