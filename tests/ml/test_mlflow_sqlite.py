"""Metrics written straight into a real MLflow sqlite store read back through MLflow itself, as
MlflowClient.log_metric would have left them; other schemas are refused, not guessed at."""

from __future__ import annotations

import math
import sqlite3

import mlflow
import pytest

from ml import mlflow_sqlite, tracking


@pytest.fixture
def store(tmp_path):
    """A fresh store made by the installed MLflow, with one active run."""
    path = tmp_path / "mlflow.db"
    client = mlflow.MlflowClient(f"sqlite:///{path}")
    experiment_id = client.create_experiment("project")
    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id)
    return path, client, run.info.run_id


def test_the_installed_mlflow_creates_a_schema_revision_this_module_writes(store):
    path, _, _ = store
    with sqlite3.connect(path) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision in mlflow_sqlite.KNOWN_REVISIONS, (
        f"MLflow's schema is now {revision}: check that its metrics and latest_metrics tables "
        "are still written as ml/mlflow_sqlite.py writes them, then add it to KNOWN_REVISIONS"
    )


def test_metrics_read_back_through_mlflow_latest_value_first(store):
    path, client, run_id = store
    assert mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 0.5, "test_r2": 0.1}, 1000)
    assert mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 0.75}, 2000)
    # An older value is in the history but not the run's current value.
    assert mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 0.25}, 1500)
    assert client.get_run(run_id).data.metrics == {"test_accuracy": 0.75, "test_r2": 0.1}
    history = client.get_metric_history(run_id, "test_accuracy")
    assert sorted((m.timestamp, m.value, m.step) for m in history) == [
        (1000, 0.5, 0),
        (1500, 0.25, 0),
        (2000, 0.75, 0),
    ]
    # Logging the same row again is a no-op, as it is for MLflow.
    assert mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 0.75}, 2000)
    assert len(client.get_metric_history(run_id, "test_accuracy")) == 3


def test_nan_and_infinity_are_stored_as_mlflow_stores_them(store):
    path, client, run_id = store
    nan_inf = {"a": math.nan, "b": math.inf, "c": -math.inf}
    assert mlflow_sqlite.log_metrics(path, run_id, nan_inf, 1000)
    ours = client.get_run(run_id).data.metrics
    client.log_batch(
        run_id,
        metrics=[mlflow.entities.Metric(f"mlflow_{k}", v, 1000, 0) for k, v in nan_inf.items()],
    )
    theirs = client.get_run(run_id).data.metrics
    assert math.isnan(ours["a"]) and math.isnan(theirs["mlflow_a"])
    assert (ours["b"], ours["c"]) == (theirs["mlflow_b"], theirs["mlflow_c"])


def test_no_run_no_store_or_a_deleted_run_writes_nothing(store, tmp_path):
    path, client, run_id = store
    assert not mlflow_sqlite.log_metrics(path, "0" * 32, {"test_accuracy": 1.0}, 1000)
    missing = tmp_path / "elsewhere.db"
    assert not mlflow_sqlite.log_metrics(missing, run_id, {"test_accuracy": 1.0}, 1000)
    assert not missing.exists()
    client.delete_run(run_id)
    assert not mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 1.0}, 1000)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM metrics").fetchone() == (0,)


def test_another_schema_is_refused_and_tracking_logs_through_mlflow(store, monkeypatch):
    path, client, run_id = store
    with sqlite3.connect(path) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    with pytest.raises(mlflow_sqlite.UnknownSchemaError, match="revision f00dfeed"):
        mlflow_sqlite.log_metrics(path, run_id, {"test_accuracy": 1.0}, 1000)
    not_a_store = path.with_name("notes.db")
    sqlite3.connect(not_a_store).close()
    with pytest.raises(mlflow_sqlite.UnknownSchemaError, match="no MLflow schema revision"):
        mlflow_sqlite.log_metrics(not_a_store, run_id, {"test_accuracy": 1.0}, 1000)
    monkeypatch.setattr(mlflow_sqlite, "KNOWN_REVISIONS", frozenset())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    assert tracking.log_metrics(run_id, {"test_accuracy": 0.9})
    assert client.get_run(run_id).data.metrics == {"test_accuracy": 0.9}
    # Through MLflow too, a run that is not there, or deleted, gets nothing.
    assert not tracking.log_metrics("0" * 32, {"test_accuracy": 1.0})
    client.delete_run(run_id)
    assert not tracking.log_metrics(run_id, {"test_accuracy": 1.0})
