"""`ml repro`'s reading of DVC's output and its handling of a missing DVC remote. The runs with a
remote, and the reuse of a pull request's results after a merge, are in
tests/actions/test_harness.py (train and export-reuses-training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.pipeline import repro
from tests.conftest import tool_env
from tests.helpers import run

DVC_OUTPUT = """\
Stage 'prepare' is cached - skipping run, checking out outputs
Running stage 'train':
> python -m ml train --params params.yaml
Stage 'evaluate' didn't change, skipping
Updating lock file 'dvc.lock'
"""


def test_stage_lines_are_sorted_into_ran_restored_and_unchanged() -> None:
    outcome = repro.Outcome()
    for line in DVC_OUTPUT.splitlines(keepends=True):
        outcome.record(line)
    assert (outcome.ran, outcome.restored, outcome.unchanged) == (
        ["train"],
        ["prepare"],
        ["evaluate"],
    )
    text = repro.summary(outcome, {"accuracy": 0.97}, None)
    assert "| ran | train |" in text and "| accuracy | 0.9700 |" in text
    assert "none configured (nothing pulled or pushed)" in text


def test_stages_pulled_because_dvc_lock_matches_are_restored_unless_the_pull_fails() -> None:
    """`dvc repro --pull` where dvc.lock matches and the outputs are missing (DVC's own lines)."""
    outcome = repro.Outcome()
    lines = [
        "Pulling data for stage: 'prepare'",
        "Pulling data for stage: 'train'",
        "Unable to pull data for stage: 'train'",
        "Running stage 'train':",
        "Stage 'evaluate' didn't change, skipping",
    ]
    for line in lines:
        outcome.record(line + "\n")
    assert (outcome.ran, outcome.restored, outcome.unchanged) == (
        ["train"],
        ["prepare"],
        ["evaluate"],
    )


@pytest.fixture
def bare_dvc_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    env = tool_env(tmp_path)
    run(["git", "init", "-q"], tmp_path, env)
    run(["dvc", "init", "-q"], tmp_path, env)
    stage = ["dvc", "stage", "add", "-q", "-n", "echo", "-o", "out.txt", "echo hi > out.txt"]
    run(stage, tmp_path, env)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", env["PATH"])  # `ml repro` runs the venv's dvc
    return tmp_path


def test_without_a_remote_it_runs_and_says_nothing_was_pushed(cli, bare_dvc_repo, monkeypatch):
    from ml.cli import app

    summary = bare_dvc_repo / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = cli.invoke(app, ["repro"])
    assert result.exit_code == 0, result.output
    assert (bare_dvc_repo / "out.txt").read_text() == "hi\n"
    assert "| ran | echo |" in summary.read_text()
    assert "none configured" in summary.read_text()


def test_require_remote_fails_before_running_anything(cli, bare_dvc_repo):
    from ml.cli import app

    result = cli.invoke(app, ["repro", "--require-remote"])
    assert result.exit_code == 1
    assert "no default DVC remote" in result.output
    assert not (bare_dvc_repo / "out.txt").exists()


def test_a_failing_stage_fails_the_command_naming_it(cli, bare_dvc_repo):
    from ml.cli import app

    result = cli.invoke(app, ["repro", "--stages", "nosuchstage"])
    assert result.exit_code == 1
    assert "`dvc repro nosuchstage` failed" in result.output
