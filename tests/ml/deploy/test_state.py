"""Where a deployment's state lives without --state-dir: .deploy, or in a workflow job the
runner's tool cache, which the next checkout does not clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.deploy.state import default_state_dir


@pytest.fixture
def job(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    monkeypatch.setenv("RUNNER_TOOL_CACHE", str(tmp_path / "tool-cache"))
    return tmp_path


def test_outside_actions_it_is_dot_deploy(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("RUNNER_TOOL_CACHE", "/opt/hostedtoolcache")
    assert default_state_dir() == Path(".deploy")


def test_in_a_workflow_job_it_is_per_repository_in_the_tool_cache(job):
    assert default_state_dir() == job / "tool-cache" / "runwright" / "octo" / "models" / "deploy"


@pytest.mark.parametrize("missing", ["RUNNER_TOOL_CACHE", "GITHUB_REPOSITORY"])
def test_a_job_without_the_runners_variables_keeps_dot_deploy(job, monkeypatch, missing):
    monkeypatch.delenv(missing)
    assert default_state_dir() == Path(".deploy")
