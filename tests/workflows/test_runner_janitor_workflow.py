"""The runner-janitor workflow: valid for GitHub, clean under zizmor, and following the kit's
security rules (no permissions by default, SHA-pinned actions, a timeout, one run at a time)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github/workflows/runner-janitor.yml"
VENV_BIN = Path(sys.executable).parent


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    path = VENV_BIN / name
    if not path.exists() and shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")
    command = str(path) if path.exists() else name
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=120)


def test_matches_the_github_workflow_schema():
    result = run_tool(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = run_tool("zizmor", "--offline", "--persona", "pedantic", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def test_least_privilege_pinned_and_bounded():
    text = WORKFLOW.read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["group"]
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert re.search(r"contents: read # Needed to ", text)
    assert 0 < job["timeout-minutes"] <= 15
    uses = re.findall(r"uses: (\S+)@(\S+)(.*)", text)
    assert uses
    for action, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), action
        assert re.search(r"# v\d+\.\d+\.\d+", comment), action
    for step in job["steps"]:
        assert "${{" not in step.get("run", ""), step  # values reach shell through env only
    assert "python -m ml.github.janitor" in text
    # Runner administration needs the App; the job's own token could not do it anyway.
    assert "secrets.RUNNER_ADMIN_APP_PRIVATE_KEY" in text
    assert "secrets.GITHUB_TOKEN" not in text and "github.token" not in text
