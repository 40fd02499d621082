"""Fault tolerance: `dvc repro` killed with SIGKILL in the middle of training (a lost runner)
resumes from the last completed epoch on the next `dvc repro`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import make_pipeline_repo, tiny_params
from tests.helpers import run

pytestmark = pytest.mark.e2e

EPOCHS = 12
KILL_AFTER_EPOCH = 3


def wait_for_epoch(state_file, epoch: int, process, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"dvc repro ended (exit {process.returncode}) before epoch {epoch}"
            )
        try:
            completed = json.loads(state_file.read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            completed = 0
        if completed >= epoch:
            return completed
        time.sleep(0.02)
    raise AssertionError(f"training did not reach epoch {epoch} within {timeout} s")


def repro_killed_after_epoch(repo, env, epoch: int) -> int:
    """`dvc repro` in `repo`, SIGKILLed once training has saved `epoch`; the epoch it reached.
    Its own session, so the kill reaches dvc and the training process alike."""
    process = subprocess.Popen(
        ["dvc", "repro"],
        cwd=repo,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        killed_at = wait_for_epoch(repo / "checkpoints/train/state.json", epoch, process)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    return killed_at


def test_kill_9_during_training_then_repro_resumes(tmp_path):
    # Patience above the epoch count: the run must reach the end, not stop early.
    params = tiny_params(epochs=EPOCHS, early_stopping={"monitor": "val_loss", "patience": 50})
    repo, env = make_pipeline_repo(tmp_path / "repo", params)
    killed_at = repro_killed_after_epoch(repo, env, KILL_AFTER_EPOCH)
    assert not (repo / "metrics/train.json").exists()

    result = run(["dvc", "repro"], repo, env)
    output = result.stdout + result.stderr
    # The kill can land after a later epoch was saved; resuming from any saved epoch is right.
    resumed = json.loads((repo / "metrics/train.json").read_text())["resumed_from_epoch"]
    assert killed_at <= resumed < EPOCHS
    assert f"Resuming training from epoch {resumed}" in output
    history = (repo / "plots/train/history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in history] == list(range(1, EPOCHS + 1))
    assert json.loads((repo / "metrics/export.json").read_text())["verified"] is True
    assert not (repo / "checkpoints/train").exists()
