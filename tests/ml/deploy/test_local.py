"""The local target's supervisor: a service killed with SIGKILL is started again, on the same
port, serving the same model."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from ml.config import ServeParams
from ml.deploy.local import LocalTarget
from ml.deploy.supervisor import is_alive, read_state
from tests.deployment import sha12

pytestmark = pytest.mark.e2e


def supervisor_state(deployment) -> dict:
    return json.loads((deployment.state / "local" / "supervisor.json").read_text())


def test_supervisor_restarts_a_killed_service(deployment):
    before = supervisor_state(deployment)
    assert before["state"] == "running" and is_alive(before["child_pid"], "ml.serve")
    os.kill(before["child_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = supervisor_state(deployment)
        if after["child_pid"] != before["child_pid"] and after["state"] == "running":
            try:
                metadata = httpx.get(f"{deployment.url}/v2/models/digits", timeout=2).json()
                break
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    else:
        raise AssertionError(f"the service did not come back: {supervisor_state(deployment)}")
    assert after["restarts"] == before["restarts"] + 1
    assert after["pid"] == before["pid"]  # the same supervisor
    assert metadata["versions"] == [sha12(deployment.good)]
    assert not is_alive(before["child_pid"], "ml.serve")


def test_the_supervised_service_does_not_carry_the_runners_tracking_id(tmp_path, monkeypatch):
    """A GitHub runner ends, after each job, the processes whose environment holds the job's
    RUNNER_TRACKING_ID; a deployment made in a job has to outlive it."""
    monkeypatch.setenv("RUNNER_TRACKING_ID", "github_0123")
    target = LocalTarget(tmp_path, ServeParams(), tmp_path / "params.yaml")
    service = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(target, "command", lambda: service)
    target.dir.mkdir(parents=True)  # as `deploy` does, installing the model
    target.start()
    try:
        deadline = time.monotonic() + 10
        while not (read_state(target.dir) or {}).get("child_pid") and time.monotonic() < deadline:
            time.sleep(0.05)
        state = read_state(target.dir) or {}
        for pid in (state["pid"], state["child_pid"]):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"RUNNER_TRACKING_ID=github_0123" not in environ, pid
            assert f"PATH={os.environ['PATH']}".encode() in environ  # the rest is kept
    finally:
        target.stop()
    assert not is_alive(state["pid"], "ml.deploy.supervisor")
