"""The deploy targets by name. Each one deploys a registered model and health-checks it
(`deploy` returns the service's URL, or None when it only rendered a manifest), and can tell
whether it runs, restart the service, stop it and describe itself."""

from __future__ import annotations

from pathlib import Path

from ml.config import Params
from ml.errors import UserError


def make(name: str, state_dir: Path, params: Params):
    if name == "local":
        from ml.deploy.local import LocalTarget

        return LocalTarget(state_dir, params.serve)
    if name == "docker":
        from ml.deploy.docker import DockerTarget

        return DockerTarget(state_dir, params, context=Path.cwd())
    if name == "kserve":
        from ml.deploy.kserve import KServeTarget

        return KServeTarget(state_dir, params)
    raise UserError(f"unknown deploy target {name!r}: choose local, docker or kserve")
