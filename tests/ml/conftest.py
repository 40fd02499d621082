"""Shared fixtures for the data-side tests: small tables written to tmp_path, params for them,
and a real HTTP server on the loopback interface for URL sources."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


@pytest.fixture(scope="session")
def deployment(prepared_digits, tmp_path_factory):
    """The digits model deployed locally with `ml deploy` (tests/deployment.py)."""
    from tests.deployment import local_deployment

    yield from local_deployment(prepared_digits, tmp_path_factory)
