"""The local target's supervisor: a service killed with SIGKILL is started again, on the same
port, serving the same model."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from ml.config import ServeParams
from ml.deploy.local import LocalTarget
from ml.deploy.supervisor import is_alive, read_state
from tests.conftest import tool_env
from tests.deployment import deploy_params, sha12
from tests.helpers import run_ml
from tests.paths import REPO_ROOT
from tests.serving import free_port, linear_model

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
    target = LocalTarget(tmp_path, ServeParams())
    service = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(target, "command", lambda python: service)
    target.dir.mkdir(parents=True)  # as `deploy` does, installing the model
    target.start(Path(sys.executable))
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


def job_workspace(root: Path, port: int) -> Path:
    """A workflow job's workspace as the setup action leaves it: the kit's code, its own .venv
    (an interpreter whose packages come from this environment) and params.yaml."""
    workspace = root / "workspace"
    shutil.copytree(
        REPO_ROOT / "ml", workspace / "ml", ignore=shutil.ignore_patterns("__pycache__")
    )
    (workspace / "requirements").mkdir()
    shutil.copy(REPO_ROOT / "requirements" / "serve.in", workspace / "requirements")
    venv = workspace / ".venv"
    base = sys._base_executable  # type: ignore[attr-defined]  # what .venv was made from
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    # The workspace first (its `ml`, as the editable install finds it), then the packages.
    paths = [str(workspace), sysconfig.get_paths()["purelib"]]
    (site_packages / "workspace.pth").write_text("\n".join(paths) + "\n")
    deploy_params(workspace / "params.yaml", port)
    return workspace


def wait_for_restart(state_dir: Path, url: str, old_child: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = read_state(state_dir) or {}
        if state.get("child_pid") not in (None, old_child) and state.get("state") == "running":
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    return state
        time.sleep(0.2)
    log = (state_dir / "service.log").read_text()[-3000:]
    raise AssertionError(f"the service did not come back: {read_state(state_dir)}\n{log}")


def test_a_deployment_outlives_the_workspace_it_was_deployed_from(prepared_digits, tmp_path):
    """The next job's checkout (`git clean -ffdx`), or the end of an act job, removes the
    workspace's .venv and params.yaml, and may change or remove its code: the deployment keeps
    serving, and restarts after a crash, from what `ml deploy` put in its state folder."""
    port = free_port()
    workspace = job_workspace(tmp_path, port)
    model = linear_model(prepared_digits, tmp_path / "model.onnx")
    state, url = tmp_path / "state", f"http://127.0.0.1:{port}"
    env = {k: v for k, v in tool_env(tmp_path).items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    deploy = [str(workspace / ".venv/bin/python"), "-m", "ml", "deploy", "--model", str(model)]
    deploy += ["--params", "params.yaml", "--state-dir", str(state)]
    done = subprocess.run(deploy, cwd=workspace, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    local = state / "local"
    try:
        shutil.rmtree(workspace)
        # Crashed: the supervisor starts the service again.
        before = read_state(local) or {}
        os.kill(before["child_pid"], signal.SIGKILL)
        after = wait_for_restart(local, url, before["child_pid"])
        assert after["pid"] == before["pid"] and after["restarts"] == before["restarts"] + 1
        answer = httpx.post(
            f"{url}/v1/models/digits:predict", json={"instances": [[[[0.5]] * 8] * 8]}
        )
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{url}/v2/models/digits").json()["versions"] == [sha12(model)]
        # Hung: `ml monitor`, from a later job's checkout, restarts it through the supervisor.
        later = tmp_path / "later"
        later.mkdir()
        params = deploy_params(later / "params.yaml", port)
        os.killpg(after["child_pid"], signal.SIGSTOP)
        try:
            monitored = run_ml(
                "monitor", "--params", str(params), "--state-dir", str(state), cwd=later, env=env
            )
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(after["child_pid"], signal.SIGCONT)
        assert monitored.returncode == 0, monitored.stderr
        report = json.loads((state / "monitor" / "report.json").read_text())
        assert report["actions"] == ["restarted the local service; it answers again"], report
        assert (read_state(local) or {})["pid"] == before["pid"]
    finally:
        LocalTarget(state, ServeParams()).stop()
    assert not is_alive(before["pid"], "ml.deploy.supervisor")
