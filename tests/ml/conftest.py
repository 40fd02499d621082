"""Shared fixtures for the unit tests: small tables written to tmp_path, params for them, a file
server and a chat webhook on the loopback interface (tests/loopback_http.py), and a scratch Git
repository."""

from __future__ import annotations

import functools
import logging
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ml.config import PrepareParams
from tests.loopback_http import LoopbackServer, QuietFileHandler, read_json, reply


@pytest.fixture
def people() -> pd.DataFrame:
    """60 complete rows: a unique row_id (to trace rows through the split), an age, a city and a
    balanced yes/no label."""
    rng = np.random.default_rng(0)
    rows = 60
    return pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype=float),
            "age": rng.integers(18, 80, rows).astype(float),
            "city": rng.choice(["Paris", "Lyon", "Nice"], rows),
            "label": np.tile(["yes", "no"], rows // 2),
        }
    )


@pytest.fixture
def write_table(tmp_path: Path) -> Callable[..., Path]:
    """Write a frame as CSV (or Parquet, by the name's suffix) under tmp_path; return its path."""

    def write(frame: pd.DataFrame, name: str = "data.csv") -> Path:
        path = tmp_path / name
        if name.endswith(".parquet"):
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False)
        return path

    return write


@pytest.fixture
def params_for() -> Callable[..., PrepareParams]:
    """PrepareParams for a file shaped like `people`; keyword arguments override any field."""

    def build(path: Path, **overrides: object) -> PrepareParams:
        fields: dict[str, object] = {
            "source": {"path": str(path)},
            "task": "classification",
            "target": "label",
            "numeric_features": ["row_id", "age"],
            "categorical_features": ["city"],
        }
        return PrepareParams.model_validate(fields | overrides)

    return build


class FileServer(LoopbackServer):
    """Serves the files under `root` (GET and HEAD, 404 for a missing file)."""

    def __init__(self, root: Path) -> None:
        super().__init__(functools.partial(QuietFileHandler, directory=str(root)))
        self.root = root


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """Serve tmp_path/served over HTTP on 127.0.0.1 (loopback only); `stop()` makes it refuse."""
    root = tmp_path / "served"
    root.mkdir()
    with FileServer(root) as served:
        yield served


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class GitRepo:
    """A scratch Git repository (the test's working directory) that commits files on demand."""

    path: Path

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, check=True
        ).stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write `files` (relative path -> text), commit everything, return the new SHA."""
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """An empty Git repository in tmp_path/repo, made the working directory; the GitHub Actions
    variables of the surrounding environment are cleared so each test sets its own."""
    path = tmp_path / "repo"
    path.mkdir()
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "RUNNER_")) or name == "ML_NOTIFY_WEBHOOK_URL":
            monkeypatch.delenv(name)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@localhost")
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return repo


class Hook(LoopbackServer):
    """A chat webhook: records each POSTed JSON body; answers the scripted statuses first, then
    200."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.url = f"{self.url}/services/T000/B000/secret"

    def handle(self, request, method: str) -> None:
        with self.lock:
            self.bodies.append(read_json(request))
            status = self.statuses.pop(0) if self.statuses else 200
        reply(request, status, "ok")


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as served:
        yield served


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CliRunner for `ml` commands that undoes the CLI's logging set-up afterwards."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield CliRunner()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def deployment(prepared_digits, tmp_path_factory):
    """The digits model deployed locally with `ml deploy` (tests/deployment.py)."""
    from tests.deployment import local_deployment

    yield from local_deployment(prepared_digits, tmp_path_factory)
