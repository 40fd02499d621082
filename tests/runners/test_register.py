"""runners/register.sh, the bare-metal registration: a real bash run against the fake GitHub
API on loopback (tests/fake_github.py). The App JWT it signs with openssl is verified by the
fake; `run.sh` is a stand-in for the actions runner that records what it was started with."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.fake_github import APP_ID, INSTALLATION_TOKEN, FakeGitHub, app_private_key

REGISTER = Path(__file__).resolve().parents[2] / "runners" / "register.sh"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "curl", "openssl", "jq")),
    reason="register.sh needs bash, curl, openssl and jq",
)


@pytest.fixture(scope="module")
def private_key() -> str:
    return app_private_key()


@pytest.fixture
def github(fake_github: FakeGitHub, private_key) -> FakeGitHub:
    """The fake GitHub with the App installed."""
    fake_github.install_app(private_key)
    return fake_github


@pytest.fixture
def machine(tmp_path, private_key, github) -> dict[str, str]:
    """A runner directory with a stand-in run.sh, the App key file, and register.sh's env."""
    runner_dir = tmp_path / "actions-runner"
    (runner_dir / "_work" / "old-job").mkdir(parents=True)
    (runner_dir / "_work" / "old-job" / "leftover.bin").write_bytes(b"state from the last job")
    run_sh = runner_dir / "run.sh"
    run_sh.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/started-with"\n')
    run_sh.chmod(run_sh.stat().st_mode | stat.S_IXUSR)
    key = tmp_path / "app.pem"
    key.write_text(private_key)
    key.chmod(0o600)
    return {
        "PATH": os.environ["PATH"],
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_KEY_FILE": str(key),
        "RUNNER_DIR": str(runner_dir),
        "RUNNER_NAME": "gpu-box",
    }


def register(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REGISTER)], env=env, capture_output=True, text=True, timeout=60
    )


def started_with(env: dict[str, str]) -> list[str] | None:
    record = Path(env["RUNNER_DIR"]) / "started-with"
    return record.read_text().splitlines() if record.exists() else None


def test_registers_a_just_in_time_gpu_runner_and_starts_it(github, machine):
    result = register(machine)
    assert result.returncode == 0, result.stderr
    assert started_with(machine) == ["--jitconfig", "ZmFrZS1qaXQ="]
    request = next(call for call in github.requests if call.path.endswith("generate-jitconfig"))
    assert request.auth == f"Bearer {INSTALLATION_TOKEN}"
    assert request.body["labels"] == ["self-hosted", "linux", "x64", "gpu"]
    assert request.body["runner_group_id"] == 1
    assert request.body["name"].startswith("gpu-box-")
    assert request.body["work_folder"] == "_work"
    # The work directory of the previous job is gone before the new job starts.
    assert not (Path(machine["RUNNER_DIR"]) / "_work").exists()
    assert "registered just-in-time runner gpu-box-" in result.stdout


def test_organization_runner_with_custom_labels(github, machine):
    env = machine | {"GITHUB_ORG": github.owner, "RUNNER_LABELS": "self-hosted,linux,x64,gpu,a100"}
    del env["GITHUB_REPOSITORY"]
    assert register(env).returncode == 0
    assert github.paths("GET") == [f"/orgs/{github.owner}/installation"]
    assert github.paths("POST")[-1] == f"/orgs/{github.owner}/actions/runners/generate-jitconfig"
    assert github.requests[-1].body["labels"][-1] == "a100"


def test_refused_registration_stops_before_the_runner_starts(github, machine):
    github.fail_next("POST", 403, "Resource not accessible by integration", path="jitconfig$")
    result = register(machine)
    assert result.returncode == 1
    assert "answered HTTP 403: Resource not accessible by integration" in result.stderr
    assert started_with(machine) is None


def test_a_key_github_does_not_know_is_refused(machine, tmp_path):
    other = tmp_path / "other.pem"
    other.write_text(app_private_key())
    result = register(machine | {"GITHUB_APP_KEY_FILE": str(other)})
    assert result.returncode == 1
    assert "installation answered HTTP 401" in result.stderr
    assert started_with(machine) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"GITHUB_APP_KEY_FILE": "/nonexistent/app.pem"}, "is not a readable file"),
        ({"GITHUB_APP_ID": ""}, "GITHUB_APP_ID is not set"),
        ({"GITHUB_REPOSITORY": "acme"}, "'acme' is not owner/repo"),
        ({"RUNNER_DIR": "/nonexistent"}, "no actions runner in RUNNER_DIR"),
    ],
)
def test_bad_settings_fail_with_a_message(github, machine, change, message):
    result = register(machine | change)
    assert result.returncode == 1
    assert message in result.stderr
    assert github.requests == []
