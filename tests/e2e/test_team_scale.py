"""A team MLflow server for real: scripts/mlflow-server.sh starts PostgreSQL and `mlflow server`
on loopback, `dvc repro` trains against it, and the run, its metrics and the logged model are
read back through the MLflow client, with the rows checked in PostgreSQL itself."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_pipeline_repo, tiny_params
from tests.helpers import run
from tests.paths import REPO_ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        reason="PostgreSQL is not installed (.ci/run installs it: apt-get install postgresql)",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow-server.sh exited {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.read() == b"OK":
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"no healthy MLflow server at {url} after {seconds} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def mlflow_server():
    """(tracking URI, server directory, PostgreSQL port) of a server started by the script."""
    # Not under pytest's tmp_path: that is private to the test user, and as root PostgreSQL
    # runs as the postgres user, which must reach its data directory.
    base = Path(tempfile.mkdtemp(prefix="runwright-mlflow-"))
    base.chmod(0o755)
    port, pg_port = free_port(), free_port()
    env = os.environ | {
        "MLFLOW_PORT": str(port),
        "PG_PORT": str(pg_port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log = base / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts/mlflow-server.sh"), str(base / "server")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, server, log)
        yield url, base / "server", pg_port
    finally:
        server.send_signal(signal.SIGTERM)  # the script stops MLflow, then PostgreSQL
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        stopped = not (base / "server/pgdata/postmaster.pid").exists()
        shutil.rmtree(base, ignore_errors=True)
        assert stopped, "PostgreSQL was left running"


def test_pipeline_tracks_into_the_postgresql_backed_server(mlflow_server, tmp_path):
    import mlflow
    import psycopg

    url, server_dir, pg_port = mlflow_server
    repo, env = make_pipeline_repo(tmp_path / "repo", tiny_params())
    env |= {"MLFLOW_TRACKING_URI": url, "MLFLOW_EXPERIMENT_NAME": "team-scale"}
    run(["dvc", "repro"], repo, env)
    assert not (repo / "mlflow.db").exists()  # nothing went to the embedded store
    run_id = json.loads((repo / "metrics/train.json").read_text())["mlflow_run_id"]

    client = mlflow.MlflowClient(tracking_uri=url)
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["train.epochs"] == "3"
    assert logged.data.params["train.gpu.mixed_precision"] == "False"
    assert logged.data.tags["gpu.used"] in ("True", "False")
    assert [m.step for m in client.get_metric_history(run_id, "val_loss")] == [1, 2, 3]
    assert "best_val_accuracy" in logged.data.metrics

    experiment = client.get_experiment_by_name("team-scale")
    assert experiment is not None
    (model,) = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert model.source_run_id == run_id
    # The model's files travelled through the server into its artifact directory.
    downloaded = mlflow.artifacts.download_artifacts(
        artifact_uri=model.artifact_location, dst_path=str(tmp_path / "download"), tracking_uri=url
    )
    assert (Path(downloaded) / "MLmodel").is_file()
    assert list((server_dir / "artifacts").rglob("MLmodel"))

    # And the run is a row in PostgreSQL, not in some other store.
    with psycopg.connect(host="127.0.0.1", port=pg_port, user="mlflow", dbname="mlflow") as db:
        rows = db.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchall()
    assert rows == [("FINISHED",)]
