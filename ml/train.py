"""train: fit the Keras model on data/prepared/, resumably, tracked in MLflow."""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.config import Params, load_params, section_hash
from ml.io import atomic_path, load_split, read_json, write_json

log = logging.getLogger(__name__)


def fingerprint(params: Params, data_dir: Path) -> str:
    """Checkpoints are valid only for the same train params and the same prepared data."""
    digest = hashlib.sha256()
    for name in ("train.npz", "validation.npz", "dataset.json"):
        digest.update((data_dir / name).read_bytes())
    return section_hash(params.train, digest.hexdigest())


def train(
    params: Params,
    data_dir: Path,
    model_path: Path,
    metrics_path: Path,
    history_path: Path,
    checkpoint_dir: Path,
) -> dict:
    from ml import models, provenance, tracking
    from ml.checkpoint import ResumableTraining
    from ml.gpu import devices

    settings = params.train
    dataset = read_json(data_dir / "dataset.json")
    x_train, y_train = load_split(data_dir, "train")
    x_val, y_val = load_split(data_dir, "validation")
    resumable = ResumableTraining(
        checkpoint_dir,
        fingerprint(params, data_dir),
        monitor=settings.early_stopping.monitor,
        patience=settings.early_stopping.patience,
        min_delta=settings.early_stopping.min_delta,
        total_epochs=settings.epochs,
    )
    resumed_from = resumable.completed_epochs if resumable.load() else None
    plan = devices.plan_training(settings.gpu, settings.batch_size)
    with plan.strategy.scope():  # variables are created once per replica, in sync
        model = start_model(settings, dataset, x_train, y_train, resumable, resumed_from)
    batch = plan.global_batch_size
    # Shuffled by the start epoch's seed, like the weights: a resumed run is deterministic too.
    seed = settings.seed + (resumed_from or 0)
    train_data = devices.make_dataset(x_train, y_train, batch, settings.gpu, shuffle_seed=seed)
    validation_data = devices.make_dataset(x_val, y_val, batch, settings.gpu)
    device = devices.device_report(plan)
    info = provenance.provenance()
    tags = tracking.provenance_tags(info) | tracking.device_tags(device)
    if resumed_from is not None:
        tags["resumed_from_epoch"] = str(resumed_from)
    resumable.directory.mkdir(parents=True, exist_ok=True)
    run = tracking.BackgroundRun(
        resumable.run_id if resumed_from is not None else None,
        run_name=f"train-{settings.model}",
        params=tracking.flatten(params.model_dump(mode="json")),
        tags=tags,
        on_open=resumable.remember_run,
    )

    def record_epoch(epoch: int, row: dict) -> None:
        run.log_epoch(epoch, {k: v for k, v in row.items() if k != "epoch"})
        write_history(history_path, resumable.history)

    resumable.on_epoch = record_epoch
    started = time.perf_counter()
    try:
        if resumable.state["wait"] < settings.early_stopping.patience:
            model.fit(
                train_data,
                validation_data=validation_data,
                epochs=settings.epochs,
                initial_epoch=resumable.completed_epochs,
                callbacks=[resumable],
                shuffle=False,  # train_data reshuffles itself every epoch
                verbose=0,
            )
    except BaseException:
        run.abandon()
        raise
    resumable.restore_best(model)
    model = models.float32_copy(model)  # what is saved and served computes in float32
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    run_id = run.finish()
    metrics = summarize(resumable, resumed_from, time.perf_counter() - started, run_id)
    metrics["gpu"] = device
    log_model(run_id, model, metrics, x_val, info)
    write_history(history_path, resumable.history)
    write_json(metrics_path, metrics)
    resumable.clear()
    return metrics


def start_model(settings, dataset: dict, x_train, y_train, resumable, resumed_from):
    """A freshly built model, holding the last checkpoint's state when resuming."""
    import keras

    from ml import models

    # Seeding by the start epoch keeps a resumed run deterministic too.
    keras.utils.set_random_seed(settings.seed + (resumed_from or 0))
    model = models.build_model(settings, dataset, x_train, y_train)
    if resumed_from is not None:
        log.info(
            "Resuming training from epoch %d (checkpoint %s)",
            resumed_from,
            resumable.directory / resumable.state["model_file"],
        )
        resumable.restore_last(model)
    return model


def log_model(run_id: str, model, metrics: dict, x_val, info: dict) -> None:
    """Best-epoch metrics and the Keras model (with its signature) on the finished run."""
    import mlflow

    from ml import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"best_{k}": v for k, v in metrics["best"].items()})
        signature = mlflow.models.infer_signature(x_val[:5], model.predict(x_val[:5], verbose=0))
        mlflow.keras.log_model(
            model, name="model", signature=signature, pip_requirements=pip_requirements(info)
        )


def summarize(resumable, resumed_from: int | None, seconds: float, run_id: str) -> dict:
    history = resumable.history
    best_epoch = resumable.state["best_epoch"]
    best_row = next(row for row in history if row["epoch"] == best_epoch)
    return {
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "stopped_early": resumable.stopped_early or resumable.state["wait"] >= resumable.patience,
        "resumed_from_epoch": resumed_from,
        "best": {k: v for k, v in best_row.items() if k != "epoch"},
        "train_seconds": round(seconds, 2),
        "mlflow_run_id": run_id,
    }


def write_history(path: Path, history: list[dict]) -> None:
    """Per-epoch metrics as CSV, where `dvc plots` reads the learning curves."""
    if not history:
        return
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def pip_requirements(info: dict) -> list[str]:
    versions = info["versions"]
    return [
        f"{name}=={versions[name]}"
        for name in ("keras", "tensorflow-cpu", "tensorflow")
        if name in versions
    ]


def main(
    params_path: options.ParamsFile = options.PARAMS,
    data: options.PreparedData = options.PREPARED,
    model: Annotated[Path, options.model_file("Where to save the Keras model.")] = Path(
        "models/model.keras"
    ),
    metrics: Annotated[Path, options.metrics_file("Training metrics JSON.")] = (
        options.TRAIN_METRICS
    ),
    history: Annotated[Path, typer.Option(help="Per-epoch metrics CSV for dvc plots.")] = Path(
        "plots/train/history.csv"
    ),
    checkpoints: Annotated[
        Path, typer.Option(help="Resume state; kept until training completes.")
    ] = Path("checkpoints/train"),
) -> None:
    """Train the model from params.yaml; resumes from the last completed epoch after a crash."""
    params = load_params(params_path)
    result = train(params, data, model, metrics, history, checkpoints)
    shown = ", ".join(f"{k}={v:.4f}" for k, v in result["best"].items())
    log.info(
        "Trained %d epochs (best epoch %d: %s) -> %s",
        result["epochs_run"],
        result["best_epoch"],
        shown,
        model,
    )
