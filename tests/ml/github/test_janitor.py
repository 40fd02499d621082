"""The runner janitor against the fake GitHub API (tests/fake_github.py): it lists runners page
by page, removes only offline idle runners with the labels asked for, and explains refusals from
GitHub in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ml.github import janitor as runner_janitor
from tests.fake_github import APP_ID, FakeGitHub, app_private_key, runner
from tests.helpers import run_ml
from tests.paths import REPO_ROOT


@pytest.fixture(scope="module")
def private_key() -> str:
    return app_private_key()


@pytest.fixture
def github(fake_github: FakeGitHub, private_key, monkeypatch) -> FakeGitHub:
    """The fake GitHub with the App installed and runners registered; the janitor's
    environment holds the App's credentials."""
    fake_github.install_app(private_key)
    # 101 healthy runners push the stale ones onto the second page of 100.
    fake_github.runners = [runner(n, "online") for n in range(1, 102)]
    fake_github.runners += [
        runner(500, "offline"),  # the one stale runner
        runner(501, "offline", busy=True),  # busy: GitHub still owes it a job result
        runner(502, "offline", labels=("self-hosted", "linux")),  # not a GPU runner
    ]
    monkeypatch.setenv("GITHUB_APP_ID", APP_ID)
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", private_key)
    monkeypatch.delenv("RUNNER_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("JANITOR_DRY_RUN", raising=False)
    return fake_github


def janitor(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_ml(
        "--grace-seconds",
        "0",
        *args,
        env=os.environ | env,
        timeout=120,
        module="ml.github.janitor",
    )


def test_removes_only_offline_idle_runners_with_the_label(github):
    result = janitor("--label", "gpu")
    assert result.returncode == 0, result.stderr
    assert "removed 1 stale runner(s): gpu-box-500" in result.stdout
    runners = f"/repos/{github.repository}/actions/runners"
    assert github.paths("DELETE") == [f"{runners}/500"]
    assert {r["id"] for r in github.runners} >= {501, 502}
    # Listed twice (before and after the grace period), two pages each.
    assert github.paths("GET").count(runners) == 4
    token_call = next(call for call in github.requests if call.path.endswith("/access_tokens"))
    assert token_call.auth.startswith("Bearer ")  # the App's signed JWT, checked by the fake


def test_dry_run_removes_nothing(github, tmp_path):
    summary = tmp_path / "summary.md"
    result = janitor(JANITOR_DRY_RUN="true", GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stderr
    assert "would remove 1 stale runner(s): gpu-box-500" in result.stdout
    assert github.paths("DELETE") == []
    assert "would remove 1" in summary.read_text()


def test_a_short_lived_admin_token_works_instead_of_an_app(github, monkeypatch):
    monkeypatch.delenv("GITHUB_APP_ID")
    github.add_token("ghs_minted_elsewhere", "admin")
    result = janitor(RUNNER_ADMIN_TOKEN="ghs_minted_elsewhere")
    assert result.returncode == 0, result.stderr
    assert "removed 1" in result.stdout


def test_runner_that_connects_during_the_grace_period_is_kept(github):
    def runner_connects(seconds: float) -> None:
        assert seconds == 30
        next(r for r in github.runners if r["id"] == 500)["status"] = "online"

    kept = runner_janitor.remove_stale(
        runner_janitor.connect(), {"gpu"}, 30, dry_run=False, sleep=runner_connects
    )
    assert kept == []
    assert github.paths("DELETE") == []


def test_refusal_from_github_is_one_clear_line(github):
    github.fail_next("DELETE", 403, "Resource not accessible by integration")
    result = janitor()
    assert result.returncode == 1
    assert "answered 403 (Resource not accessible by integration)" in result.stderr
    assert "needs permission to administer the repository's runners" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_jobs_own_token_cannot_administer_runners(github, monkeypatch):
    monkeypatch.delenv("GITHUB_APP_ID")
    result = janitor(RUNNER_ADMIN_TOKEN=github.token)
    assert result.returncode == 1
    assert "answered 403 (Resource not accessible by integration)" in result.stderr
    assert github.paths("DELETE") == []


def test_wrong_app_key_is_refused(github):
    result = janitor(GITHUB_APP_PRIVATE_KEY=app_private_key())
    assert result.returncode == 1
    assert "answered 401" in result.stderr and "Traceback" not in result.stderr
    assert github.paths("DELETE") == []


def test_no_credentials_and_bad_repository(github, monkeypatch):
    monkeypatch.delenv("GITHUB_APP_PRIVATE_KEY")
    result = janitor()
    assert result.returncode == 1
    assert "no credentials" in result.stderr and "GITHUB_TOKEN cannot" in result.stderr
    bad = janitor(RUNNER_ADMIN_TOKEN=github.token, GITHUB_REPOSITORY="no-slash")
    assert bad.returncode == 1
    assert "GITHUB_REPOSITORY must be 'owner/name', got 'no-slash'" in bad.stderr


def test_janitor_needs_nothing_beyond_its_own_lock_file():
    # The workflow installs only requirements/janitor.txt: no pipeline library may be imported.
    heavy = {"numpy", "pandas", "tensorflow", "keras", "mlflow", "dvc", "sklearn", "onnx"}
    probe = (
        "import sys, ml.github.janitor, github; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    locked = (REPO_ROOT / "requirements/janitor.txt").read_text().lower()
    assert "pygithub==" in locked and "typer==" in locked and "--hash=sha256:" in locked
