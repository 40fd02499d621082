"""MLflow tracking helpers: the sqlite store is created whole, the background run logs."""

from __future__ import annotations

import sqlite3

import mlflow

from ml import tracking


def test_new_sqlite_store_appears_complete_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "nested" / "mlflow.db"
    tracking.ensure_sqlite_store(f"sqlite:///{path}")
    tables = {
        row[0]
        for row in sqlite3.connect(path).execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"experiments", "runs", "metrics", "alembic_version"} <= tables
    assert [p.name for p in path.parent.iterdir()] == ["mlflow.db"]


def test_existing_store_is_left_alone(tmp_path):
    path = tmp_path / "mlflow.db"
    path.write_bytes(b"")  # whatever is there is the user's: never rebuilt or replaced
    tracking.ensure_sqlite_store(f"sqlite:///{path}")
    assert path.read_bytes() == b""


def test_background_run_logs_params_tags_and_epochs(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "tracking-test")
    opened: list[str] = []
    run = tracking.BackgroundRun(
        None, "train-x", {"train.epochs": 2}, {"git_commit": "abc"}, on_open=opened.append
    )
    run.log_epoch(1, {"loss": 0.5})
    run.log_epoch(2, {"loss": 0.25})
    run_id = run.finish()
    assert opened == [run_id]
    client = mlflow.MlflowClient(uri)
    data = client.get_run(run_id).data
    assert data.params == {"train.epochs": "2"} and data.tags["git_commit"] == "abc"
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")] == [
        (1, 0.5),
        (2, 0.25),
    ]
