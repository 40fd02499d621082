"""zizmor (offline, pedantic persona) and check-jsonschema (GitHub's vendored schemas) on every
workflow and action, the kit's and the example consumer's; and proof that both tools fail on a
file with the mistakes they exist to catch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.workflows.kit_files import ACTIONS, CONSUMER, WORKFLOWS

BIN = Path(sys.executable).parent
TARGETS = [
    (REPO_ROOT / ".github/zizmor.yml", [WORKFLOWS, ACTIONS]),
    (CONSUMER / ".github/zizmor.yml", [CONSUMER / ".github/workflows"]),
]
BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def zizmor(config: Path, paths: list[Path]) -> subprocess.CompletedProcess:
    # Pedantic persona, every finding of medium severity or above fails: DESIGN.md section 5.
    args = [str(BIN / "zizmor"), "--offline", "--strict-collection", "--persona", "pedantic"]
    args += ["--min-severity", "medium", "--no-progress", "--config", str(config)]
    return subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, timeout=120)


def check_jsonschema(schema: str, paths: list[Path]) -> subprocess.CompletedProcess:
    args = [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, paths)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("config", "paths"), TARGETS, ids=["kit", "consumer"])
def test_zizmor_finds_nothing(config: Path, paths: list[Path]) -> None:
    result = zizmor(config, paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_catches_injection_and_unpinned_actions(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(BAD_WORKFLOW)
    result = zizmor(REPO_ROOT / ".github/zizmor.yml", [tmp_path / "bad.yml"])
    assert result.returncode != 0
    assert "template-injection" in result.stdout and "unpinned-uses" in result.stdout


def test_workflows_match_the_github_workflow_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(
        (CONSUMER / ".github/workflows").glob("*.yml")
    )
    result = check_jsonschema("vendor.github-workflows", files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actions_match_the_github_action_schema() -> None:
    result = check_jsonschema("vendor.github-actions", sorted(ACTIONS.glob("*/action.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_malformed_workflow(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n"
    )
    result = check_jsonschema("vendor.github-workflows", [tmp_path / "bad.yml"])
    assert result.returncode != 0
