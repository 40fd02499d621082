"""MLflow tracking: embedded sqlite by default, a server when MLFLOW_TRACKING_URI is set."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path

from ml.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def start_run(run_id: str | None, run_name: str, uri: str | None = None):
    """Start a new run, or continue `run_id` (a resumed training keeps one run, not two), in the
    store at `uri` (default: tracking_uri())."""
    import mlflow  # here, not at the top: `ml --help` and `ml prepare` need no MLflow

    mlflow.set_tracking_uri(uri or tracking_uri())
    mlflow.set_experiment(experiment_name())
    if run_id:
        log.info("Continuing MLflow run %s", run_id)
        return mlflow.start_run(run_id=run_id)
    return mlflow.start_run(run_name=run_name)


def log_metrics(run_id: str, metrics: dict[str, float]) -> bool:
    """Log `metrics` (step 0) to the existing run `run_id`; False when the store has no such
    active run.
    The embedded sqlite store is written directly (ml.mlflow_sqlite: no `import mlflow`, which
    costs seconds); any other store, or a sqlite schema not known there, through MLflow."""
    from ml import mlflow_sqlite

    uri = tracking_uri()
    path = mlflow_sqlite.store_file(uri)
    if path is not None:
        try:
            return mlflow_sqlite.log_metrics(path, run_id, metrics, int(time.time() * 1000))
        except mlflow_sqlite.UnknownSchemaError as exc:
            log.debug("Logging through MLflow: %s", exc)
    import mlflow

    client = mlflow.MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    if run.info.lifecycle_stage != "active":  # deleted: MLflow refuses metrics for it
        return False
    for name, value in metrics.items():
        client.log_metric(run_id, name, value)
    return True


def experiment_name() -> str:
    # The project directory's name groups runs unless MLFLOW_EXPERIMENT_NAME picks another.
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or Path.cwd().name


class BackgroundRun:
    """An MLflow run fed from a worker thread, so training never waits on the tracking store.

    Opening an sqlite store costs ~1 s of schema checks and every write ~20 ms; on a small model
    that is a large share of the training time. The worker opens the run and writes per-epoch
    metrics while fit() runs (TensorFlow's kernels release the GIL); `finish` waits for it.
    """

    def __init__(
        self, run_id: str | None, run_name: str, params: dict, tags: dict[str, str], on_open=None
    ):
        self.run_id = run_id
        self.on_open = on_open  # called on the worker with the run id once the run exists
        self.error: Exception | None = None
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(
            target=self._work, args=(run_name, params, tags), name="mlflow-logger", daemon=True
        )
        self._thread.start()

    def log_epoch(self, step: int, metrics: dict[str, float]) -> None:
        self._queue.put((step, dict(metrics)))

    def finish(self) -> str:
        """Wait until every queued metric is written; return the run id."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise UserError(f"MLflow tracking at {tracking_uri()} failed: {self.error}")
        if self.run_id is None:  # the worker sets it, or an error, before it reads the queue
            raise UserError(f"MLflow tracking at {tracking_uri()} opened no run")
        return self.run_id

    def abandon(self) -> None:
        """Training died: flush what was logged and mark the run KILLED (a resume reopens it)."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self.run_id and self.error is None:
            from mlflow import MlflowClient

            try:
                MlflowClient(tracking_uri()).set_terminated(self.run_id, status="KILLED")
            except Exception as exc:  # the original failure matters more than this one
                log.warning("Could not mark MLflow run %s as killed: %s", self.run_id, exc)

    def _work(self, run_name: str, params: dict, tags: dict[str, str]) -> None:
        client = None
        try:
            client = self._open(run_name, params, tags)
        except Exception as exc:  # reported by finish(); training goes on meanwhile
            self.error = exc
        while (item := self._queue.get()) is not None:
            if client is None or self.error is not None:
                continue
            step, metrics = item
            try:
                self._log(client, step, metrics)
            except Exception as exc:
                self.error = exc

    def _open(self, run_name: str, params: dict, tags: dict[str, str]):
        from mlflow import MlflowClient
        from mlflow.entities import Param

        ensure_sqlite_store(tracking_uri())
        client = MlflowClient(tracking_uri())
        name = experiment_name()
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        if self.run_id:
            log.info("Continuing MLflow run %s", self.run_id)
            client.update_run(self.run_id, status="RUNNING")
            return client
        run = client.create_run(experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        if self.on_open:
            self.on_open(self.run_id)
        client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])
        return client

    def _log(self, client, step: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, value, now, step) for key, value in metrics.items()]
        client.log_batch(self.run_id, metrics=batch)


def ensure_sqlite_store(uri: str) -> None:
    """Create a new sqlite store whole or not at all.

    MLflow builds its tables in place, over ~1-8 s; a process killed meanwhile (kill -9 in the
    first epochs of the first run) would leave a half-built file that every later run refuses.
    Built under a temporary name and linked into place, a kill leaves only the temporary file.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return
    path = Path(uri.removeprefix(prefix))
    if path.exists() or str(path) == ":memory:":
        return
    from mlflow import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    try:
        MlflowClient(f"{prefix}{building}").search_experiments(max_results=1)
        os.link(building, path)  # fails if another process won the race: its store is as good
    except FileExistsError:
        pass
    finally:
        building.unlink(missing_ok=True)


def flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """{'cnn': {'filters': [32]}} -> {'cnn.filters': '[32]'}: MLflow params are flat strings."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def provenance_tags(info: dict) -> dict[str, str]:
    tags = {
        "git_commit": info["git_commit"] or "unknown",
        "dvc_lock_sha256": info["dvc_lock_sha256"] or "none",
        "host": info["host"],
    }
    tags |= {f"version.{name}": version for name, version in info["versions"].items()}
    return tags


def device_tags(device: dict) -> dict[str, str]:
    """Where the run trained, as `gpu.*` tags: searchable in the MLflow UI."""
    shown = ("used", "count", "names", "strategy", "replicas", "mixed_precision", "driver_version")
    return {f"gpu.{key}": str(device.get(key)) for key in shown}
