"""A few metrics written straight into MLflow's embedded sqlite store, as MLflow writes them.

evaluate logs a handful of test metrics to the training run; `import mlflow` and opening its
sqlite store cost that stage ~2-3 s, several times its own work on a small test set, while
sqlite3 does the same writes in milliseconds. The rows are those MLflow's SqlAlchemyStore writes
for `MlflowClient.log_metric` (a `metrics` row, `latest_metrics` kept at the most recent value),
in one transaction. Only a store whose schema revision is in KNOWN_REVISIONS is written: one
that is not raises UnknownSchema, and the caller logs through MLflow's client instead
(tests/ml/test_mlflow_sqlite.py fails when the installed MLflow creates a revision not listed,
so a new schema is checked before it is added).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

# Alembic revisions of MLflow's tracking schema whose metrics tables are written as below.
KNOWN_REVISIONS = frozenset({"dc11669786a5"})  # MLflow 3.17
SQLITE_PREFIX = "sqlite:///"
FLOAT64_MAX = 1.7976931348623157e308  # MLflow stores +/-inf as this: SQL has no infinities


class UnknownSchemaError(Exception):
    """The store is not one of the schema revisions this module writes."""


def store_file(uri: str) -> Path | None:
    """The file of a `sqlite:///path` tracking URI; None for any other store."""
    if not uri.startswith(SQLITE_PREFIX) or uri == f"{SQLITE_PREFIX}:memory:":
        return None
    return Path(uri.removeprefix(SQLITE_PREFIX))


def stored_value(value: float) -> tuple[float, bool]:
    """(value, is_nan) as MLflow stores a metric: NaN as 0 flagged, infinities clamped."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (FLOAT64_MAX if value > 0 else -FLOAT64_MAX), False
    return value, False


def log_metrics(path: Path, run_id: str, metrics: dict[str, float], timestamp_ms: int) -> bool:
    """Log `metrics` at step 0 to run `run_id`; False, writing nothing, when the store has no
    active run of that id (or no store is there). Raises UnknownSchemaError for another schema."""
    if not path.is_file():
        return False
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        try:
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except (sqlite3.DatabaseError, TypeError) as exc:  # not an MLflow store, or empty
            raise UnknownSchemaError(f"{path}: no MLflow schema revision ({exc})") from exc
        if revision not in KNOWN_REVISIONS:
            raise UnknownSchemaError(f"{path}: MLflow schema revision {revision}")
        connection.execute("BEGIN IMMEDIATE")  # the write lock, before reading latest values
        run = connection.execute(
            "SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        if run is None or run[0] != "active":
            connection.execute("ROLLBACK")
            return False
        for key, metric in metrics.items():
            value, is_nan = stored_value(float(metric))
            row = (key, value, timestamp_ms, run_id, 0, is_nan)
            connection.execute(
                "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            latest = connection.execute(
                "SELECT step, timestamp, value FROM latest_metrics WHERE run_uuid = ? AND key = ?",
                (run_id, key),
            ).fetchone()
            if latest is None:
                connection.execute(
                    "INSERT INTO latest_metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            elif (0, timestamp_ms, value) > tuple(latest):  # MLflow's order: step, time, value
                connection.execute(
                    "UPDATE latest_metrics SET value = ?, timestamp = ?, step = 0, is_nan = ? "
                    "WHERE run_uuid = ? AND key = ?",
                    (value, timestamp_ms, is_nan, run_id, key),
                )
        connection.execute("COMMIT")
        return True
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
