"""`ml monitor` against a real local deployment: it restores a service killed with SIGKILL or
hung, and reports drift of the inputs the service sampled, opening one GitHub issue and
dispatching retraining. GitHub is the only fake (tests/fake_github.py, a local HTTP server
reached through GITHUB_API_URL)."""

from __future__ import annotations

import contextlib
import json
import os
import signal

import httpx
import pytest
import yaml

from ml.io import load_split
from tests.deployment import sha12
from tests.fake_github import FakeGitHub, dispatch_inputs
from tests.helpers import read_outputs, run_ml
from tests.paths import REPO_ROOT
from tests.workflows.kit_files import actions, output_values

pytestmark = pytest.mark.e2e


def monitor(deployment, params=None, env=None, check=True, state=None):
    return run_ml(
        "monitor",
        "--params",
        str(params or deployment.params),
        "--state-dir",
        str(state or deployment.state),
        cwd=deployment.root,
        env=deployment.env | (env or {}),
        check=check,
    )


def monitor_outputs(deployment, tmp_path, params=None, env=None) -> dict[str, str]:
    """`ml monitor` in an Actions step: what it writes to GITHUB_OUTPUT."""
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    monitor(deployment, params, (env or {}) | {"GITHUB_OUTPUT": str(outputs)})
    return read_outputs(outputs)


def assert_documented(outputs: dict[str, str]) -> None:
    """The monitor action declares every output `ml monitor` writes (an undeclared one never
    reaches the workflow), and its description promises the values written."""
    assert set(outputs) <= set(actions()["monitor"].data["outputs"]), outputs
    for output in ("status", "healthy", "drift"):
        documented = output_values("monitor", output)
        assert documented and outputs[output] in documented, (output, outputs, documented)


def report(deployment) -> dict:
    return json.loads((deployment.state / "monitor" / "report.json").read_text())


def supervisor_state(deployment) -> dict:
    return json.loads((deployment.state / "local" / "supervisor.json").read_text())


def predict(deployment, rows) -> None:
    response = httpx.post(
        f"{deployment.url}/v1/models/digits:predict", json={"instances": rows.tolist()}
    )
    assert response.status_code == 200


def served_version(deployment) -> str:
    return httpx.get(f"{deployment.url}/v2/models/digits").json()["versions"][0]


def test_healthy_service_and_held_out_inputs_report_no_drift(
    deployment, prepared_digits, tmp_path
):
    x_test, _ = load_split(prepared_digits, "test")
    predict(deployment, x_test[:120])
    outputs = monitor_outputs(deployment, tmp_path)
    assert outputs["status"] == "checked"
    assert outputs["healthy"] == "true" and outputs["drift"] == "no drift"
    assert_documented(outputs)
    checked = report(deployment)
    assert checked["healthy"] and checked["actions"] == []
    assert checked["drift"]["status"] == "no drift"
    assert checked["drift"]["version"] == sha12(deployment.good)
    assert "**no drift**" in (deployment.state / "monitor" / "report.md").read_text()


def test_drift_opens_one_issue_and_dispatches_retraining_once(
    deployment, prepared_digits, tmp_path
):
    """Persistent drift, checked twice: one issue, updated; one retraining dispatched for it.
    Once the issue is closed, the next drift opens another and dispatches again."""
    params = yaml.safe_load(deployment.params.read_text())
    params["monitor"] |= {"window_rows": 100, "retrain_workflow": "retrain.yml"}
    drift_params = tmp_path / "params.yaml"
    drift_params.write_text(yaml.safe_dump(params))
    x_test, _ = load_split(prepared_digits, "test")
    predict(deployment, 1.0 - x_test[:150])  # inverted digits: far from the training inputs
    with FakeGitHub() as github:
        # The kit's own retrain.yml, with the inputs it declares: GitHub refuses any other.
        retrain = REPO_ROOT / ".github/workflows/retrain.yml"
        github.declare_workflow("retrain.yml", dispatch_inputs(retrain))
        monitor(deployment, drift_params, github.environment())
        outputs = monitor_outputs(deployment, tmp_path, drift_params, github.environment())
        checked = report(deployment)
        (issue,) = github.issues.values()  # the second pass updated it, not a second issue
        dispatches = list(github.dispatches)
        # Closed by a maintainer: the drift that persists is news again.
        issue["state"] = "closed"
        monitor(deployment, drift_params, github.environment())
    assert outputs["drift"] == "drift" and outputs["issue"] == str(min(github.issues))
    assert_documented(outputs)
    assert checked["drift"]["status"] == "drift"
    assert len(checked["drift"]["drifted_columns"]) > 20
    assert issue["title"].startswith("Input drift on digits: ")
    assert "<!-- runwright-drift digits -->" in issue["body"]
    assert issue["labels"] == [{"name": "model-drift"}]
    assert checked["alerts"]["issue_action"] == "updated"
    assert [(d["workflow"], d["ref"]) for d in dispatches] == [("retrain.yml", "main")]
    assert checked["alerts"]["dispatched"] is None
    assert checked["alerts"]["retrain"].startswith(
        "not dispatched: retrain.yml was dispatched for this issue at "
    )
    assert "Retraining: `retrain.yml` was dispatched on `main` at " in issue["body"]
    reopened = report(deployment)["alerts"]
    assert len(github.issues) == 2 and len(github.dispatches) == 2
    assert reopened["issue_action"] == "opened" and reopened["dispatched"] == "retrain.yml"


def test_monitor_redeploys_the_champion_after_kill_9(deployment):
    state = supervisor_state(deployment)
    os.kill(state["pid"], signal.SIGKILL)  # the supervisor, then the service's process group
    os.killpg(state["child_pid"], signal.SIGKILL)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{deployment.url}/v2/health/live", timeout=2)
    result = monitor(deployment)
    checked = report(deployment)
    assert checked["healthy"]
    assert checked["actions"] == [
        f"redeployed champion version 1 (sha256 {sha12(deployment.good)}) at {deployment.url}"
    ]
    assert "is unreachable" in checked["probe"]
    assert served_version(deployment) == sha12(deployment.good)
    assert supervisor_state(deployment)["pid"] != state["pid"]
    assert "Traceback" not in result.stderr


def test_monitor_restarts_a_hung_service(deployment):
    state = supervisor_state(deployment)
    os.killpg(state["child_pid"], signal.SIGSTOP)  # alive, holding the port, answering nothing
    try:
        monitor(deployment)
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone once the restart killed it
            os.killpg(state["child_pid"], signal.SIGCONT)
    checked = report(deployment)
    assert checked["healthy"]
    assert checked["actions"] == ["restarted the local service; it answers again"]
    assert "did not answer within" in checked["probe"]
    after = supervisor_state(deployment)
    assert after["pid"] == state["pid"] and after["child_pid"] != state["child_pid"]
    assert served_version(deployment) == sha12(deployment.good)


def actions_step(directory) -> dict[str, str]:
    """The environment of an Actions step without GitHub credentials, writing into `directory`."""
    (directory / "github_output").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return env | {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(directory / "github_output"),
        "GITHUB_STEP_SUMMARY": str(directory / "summary.md"),
    }


def test_a_fresh_runner_with_nothing_deployed_says_so_and_succeeds(tmp_path):
    """The scheduled monitor on a GitHub-hosted runner: no deployment, no params, no settings."""
    workspace, files = tmp_path / "workspace", tmp_path / "files"
    workspace.mkdir(), files.mkdir()
    result = run_ml("monitor", cwd=workspace, env=actions_step(files))
    assert result.returncode == 0, result.stderr
    outputs = read_outputs(files / "github_output")
    assert outputs == {"status": "nothing deployed", "healthy": "", "drift": ""}
    for output, value in outputs.items():
        assert value in (output_values("monitor", output) or {value}), (output, value)
    summary = (files / "summary.md").read_text()
    assert summary.startswith("## Monitor: nothing deployed")
    assert ".deploy/deployment.json" in summary
    assert list(workspace.iterdir()) == []  # nothing written where nothing was deployed


@pytest.mark.parametrize("given", ["--state-dir", "--url"])
def test_nothing_deployed_where_a_deployment_was_named_is_a_clear_error(tmp_path, given):
    value = str(tmp_path / "state") if given == "--state-dir" else "http://127.0.0.1:9"
    result = run_ml("monitor", f"{given}={value}", cwd=tmp_path, env=actions_step(tmp_path))
    assert result.returncode == 1
    assert "deployment.json: nothing deployed yet; run `ml deploy`" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_outputs(tmp_path / "github_output") == {}


def test_an_unreadable_deployment_record_is_an_error_even_by_default(tmp_path):
    (tmp_path / ".deploy").mkdir()
    (tmp_path / ".deploy/deployment.json").write_text("{not json")
    result = run_ml("monitor", cwd=tmp_path, env=actions_step(tmp_path))
    assert result.returncode == 1
    assert ".deploy/deployment.json: cannot read the deployment record" in result.stderr
