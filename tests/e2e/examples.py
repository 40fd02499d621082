"""What the end-to-end tests of examples/ share: an example as its own Git + DVC repository, and
its `dvc repro` killed with SIGKILL in the middle of training, then run again."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

from ml.io import read_json
from tests.conftest import tool_env
from tests.e2e.test_resume import repro_killed_after_epoch
from tests.helpers import run
from tests.paths import REPO_ROOT


def example_repo(name: str, root: Path, data_script: str, epochs: int) -> tuple[Path, dict]:
    """examples/<name> copied to `root` as its own Git + DVC repository, its data written by
    `data_script` as its README says, the kit importable as if installed; training runs
    `epochs` epochs."""
    repo = root / "project"
    shutil.copytree(
        REPO_ROOT / "examples" / name, repo, ignore=shutil.ignore_patterns("__pycache__", "data")
    )
    env = tool_env(repo) | {"PYTHONPATH": str(REPO_ROOT)}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    # Patience above the epoch count: the run must reach the end, not stop early.
    params["train"] |= {"epochs": epochs, "early_stopping": {"patience": 50}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q", "-b", "main"], repo, env)
    assert (repo / ".dvc/config").is_file()  # its own DVC project, apart from the kit's
    run([sys.executable, data_script], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "example"], repo, env)
    return repo, env


def killed_and_resumed(repo: Path, env: dict, kill_after_epoch: int) -> tuple[int, str]:
    """`dvc repro` killed after `kill_after_epoch` epochs, then run again: (the epoch it was
    killed at, the second run's output)."""
    killed_at = repro_killed_after_epoch(repo, env, kill_after_epoch)
    assert not (repo / "metrics/train.json").exists()
    result = run(["dvc", "repro"], repo, env)
    return killed_at, result.stdout + result.stderr


def assert_resumed(repo: Path, killed_at: int, output: str, epochs: int) -> None:
    """Training resumed from its checkpoint, its history whole, the checkpoint gone."""
    train = read_json(repo / "metrics/train.json")
    assert killed_at <= train["resumed_from_epoch"] < epochs
    assert f"Resuming training from epoch {train['resumed_from_epoch']}" in output
    history = (repo / "plots/train/history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in history] == list(range(1, epochs + 1))
    assert not (repo / "checkpoints/train").exists()
