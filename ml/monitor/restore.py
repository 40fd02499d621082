"""Bring a failed deployment back: restart the service when its supervisor (or Docker, or
Kubernetes) still runs it; otherwise, or when the restart does not help, deploy the champion
again from its registered file, as the seed's job6 restarted the app from the last good model."""

from __future__ import annotations

import time
from pathlib import Path

from ml.config import Params
from ml.errors import UserError
from ml.monitor.probe import probe_once


def restore(target, params: Params, state_dir: Path, url: str) -> list[str]:
    """The actions taken, in order; raises UserError when nothing brought the service back."""
    name = params.serve.model_name
    timeout = params.deploy.smoke.timeout_seconds
    actions = []
    if target.running():
        target.restart_service()
        if wait_until_healthy(url, name, timeout, params.monitor.probe_timeout_seconds):
            return [f"restarted the {target.name} service; it answers again"]
        actions.append(
            f"restarted the {target.name} service, but it did not answer in {timeout:g} s"
        )
    from ml.deploy.registry import CHAMPION, Registry

    registry = Registry(name, state_dir / "registry")
    champion = registry.alias(CHAMPION)
    if champion is None:
        raise UserError(f"the service is down and {name} has no champion version to redeploy")
    model = registry.fetch(champion)
    url = target.deploy(model, timeout)
    actions.append(f"redeployed champion version {champion} (sha256 {model.short_sha}) at {url}")
    return actions


def wait_until_healthy(url: str, name: str, timeout: float, probe_timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe_once(url, name, probe_timeout).ok:
            return True
        time.sleep(0.2)
    return False
