"""Shared fixtures for the unit tests: small tables written to tmp_path, params for them, a real
HTTP server on the loopback interface for URL sources, and a scratch Git repository."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ml.config import PrepareParams


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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output free of access-log lines


@dataclass
class FileServer:
    root: Path
    url: str
    server: http.server.ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        """Shut the server and free its port: later requests to `url` are refused."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """Serve tmp_path/served over HTTP on 127.0.0.1 (loopback only) from a background thread."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    served = FileServer(root, f"http://127.0.0.1:{server.server_address[1]}", server, thread)
    yield served
    served.stop()


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


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's `name<<DELIMITER` entries the way the runner does."""
    lines, values = path.read_text().splitlines(), {}
    while lines:
        name, delimiter = lines.pop(0).split("<<", 1)
        end = lines.index(delimiter)
        values[name] = "\n".join(lines[:end])
        del lines[: end + 1]
    return values


class Hook:
    """Records each POSTed JSON body; answers the scripted statuses first, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret"


@pytest.fixture
def hook() -> Iterator[Hook]:
    served = Hook()
    thread = threading.Thread(target=served.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    thread.join()
    served.server.server_close()


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
