"""The local target's supervisor: a service killed with SIGKILL is started again, on the same
port, serving the same model."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from ml.deploy.supervisor import is_alive
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
