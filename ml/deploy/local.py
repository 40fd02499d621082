"""The `local` target: the service on this machine under ml.deploy.supervisor (restarted when it
crashes), with everything it needs under <state-dir>/local/: the served model.onnx, the `serve`
params it runs with (params.yaml), its Python environment (ml/deploy/runtime.py),
supervisor.json, service.log and the sampled inputs. Nothing of the working directory or of the
environment that deployed it: in a workflow job the next checkout removes both, and the
supervisor must still be able to start the service again.

A new version is deployed by replacing model.onnx atomically: the running service hot-reloads
it without dropping a request. The supervisor is (re)started only when it is not running, its
`serve` params changed (another port, more workers) or its runtime did (another kit version)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ml.config import ServeParams
from ml.deploy import runtime, service_params, supervisor
from ml.deploy.registry import RegisteredModel
from ml.deploy.smoke import wait_for_version
from ml.errors import UserError

SUPERVISOR_MODULE = "ml.deploy.supervisor"


class LocalTarget:
    name = "local"

    def __init__(self, state_dir: Path, serve: ServeParams) -> None:
        self.dir = (state_dir / "local").resolve()
        self.model_file = self.dir / "model.onnx"
        self.params_file = self.dir / "params.yaml"
        self.samples = self.dir / "samples"
        self.serve = serve
        host = "127.0.0.1" if serve.host in ("0.0.0.0", "::") else serve.host
        self.url = f"http://{host}:{serve.port}"

    def command(self, python: Path) -> list[str]:
        return [
            str(python),
            "-m",
            "ml.serve",
            "--model",
            str(self.model_file),
            "--params",
            str(self.params_file),
            "--samples",
            str(self.samples),
        ]

    def deploy(self, model: RegisteredModel, timeout: float) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        python = runtime.serving_python(self.dir)
        self.install(model.file)
        params_changed = service_params.write(self.params_file, self.serve)
        state = supervisor.read_state(self.dir) or {}
        if params_changed or not self.running() or state.get("command") != self.command(python):
            self.stop()
            self.start(python)
            runtime.prune(self.dir, keep=python)
        wait_for_version(
            self.url, self.serve.model_name, model.short_sha, timeout, self.serve.workers
        )
        return self.url

    def install(self, source: Path) -> None:
        """Put the model where the service reads it, in one rename."""
        temporary = self.dir / ".model.onnx.tmp"
        shutil.copyfile(source, temporary)
        os.replace(temporary, self.model_file)

    def start(self, python: Path) -> None:
        with open(self.dir / "supervisor.log", "ab") as log:
            process = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    SUPERVISOR_MODULE,
                    "--state-dir",
                    str(self.dir),
                    "--",
                    *self.command(python),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Not the working directory: `python -m` imports from there first, and a
                # checkout removes or changes it.
                cwd=self.dir,
                start_new_session=True,  # outlives `ml deploy`, like a service manager's unit
                env=outliving_job_env(),
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = supervisor.read_state(self.dir) or {}
            if state.get("pid") == process.pid and state.get("state") == "running":
                return
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise UserError(f"the supervisor did not start; see {self.dir / 'supervisor.log'}")

    def running(self) -> bool:
        state = supervisor.read_state(self.dir) or {}
        return supervisor.is_alive(state.get("pid"), SUPERVISOR_MODULE)

    def service_pid(self) -> int | None:
        state = supervisor.read_state(self.dir) or {}
        return state.get("child_pid") if self.running() else None

    def describe(self) -> str:
        return f"supervised service at {self.url} (state in {self.dir})"

    def restart_service(self) -> None:
        """Kill the service; the supervisor starts it again."""
        pid = self.service_pid()
        if pid:
            supervisor.kill_group(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the supervisor gracefully, and anything left of the service (an orphan of a
        supervisor killed with SIGKILL would keep the port)."""
        state = supervisor.read_state(self.dir) or {}
        pid, child = state.get("pid"), state.get("child_pid")
        if supervisor.is_alive(pid, SUPERVISOR_MODULE):
            os.kill(pid, signal.SIGTERM)
            wait_until_gone(pid, SUPERVISOR_MODULE, self.serve.graceful_timeout_seconds + 10)
            supervisor.kill_group(pid, signal.SIGKILL)
        if supervisor.is_alive(child, "ml.serve"):
            supervisor.kill_group(child, signal.SIGTERM)
            wait_until_gone(child, "ml.serve", self.serve.graceful_timeout_seconds + 5)
            supervisor.kill_group(child, signal.SIGKILL)


# RUNNER_TRACKING_ID: after each job, a GitHub Actions runner ends every process whose
# environment holds that job's tracking id, which would end a deployment made in a workflow (the
# release's, the monitor's redeploy) with the job that made it. PYTHONPATH, PYTHONHOME: the
# runtime imports only what it holds, never the job's copies.
NOT_PASSED = ("RUNNER_TRACKING_ID", "PYTHONPATH", "PYTHONHOME")


def outliving_job_env() -> dict[str, str]:
    """This environment less what would tie the deployment to the job that made it."""
    return {key: value for key, value in os.environ.items() if key not in NOT_PASSED}


def wait_until_gone(pid: int, marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while supervisor.is_alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
