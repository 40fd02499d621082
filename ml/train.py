"""train: fit the Keras model on data/prepared/, resumably, tracked in MLflow.

`fit` is the work (arrays and params in, model and history out, no files); `train` does the I/O
around it: data in, checkpoints, the MLflow run, and the model, metrics and history out.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from ml import options
from ml.config import Params, TrainParams, load_params, section_hash
from ml.io import atomic_path, load_split, read_json, split_file, write_json

if TYPE_CHECKING:  # ml.checkpoint imports Keras, which `ml train --help` must not load
    from ml.checkpoint import ResumableTraining, TrainingProgress
    from ml.gpu.devices import TrainingPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    """The prepared splits training reads (data/prepared/: dataset.json and the .npz files, or
    an image folder's manifests, whose x decode their files a batch at a time)."""

    dataset: dict
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class Fitted:
    """What a fit produced: the float32 model at its best epoch and what the metrics report."""

    model: Any  # a keras.Model
    history: list[dict]  # one row per epoch from the first, a resumed run's earlier ones too
    best_epoch: int
    stopped_early: bool
    resumed_from: int | None
    seconds: float  # in model.fit, restoring the best epoch and the float32 copy


def load_prepared(data_dir: Path) -> PreparedData:
    x_train, y_train = load_split(data_dir, "train")
    x_val, y_val = load_split(data_dir, "validation")
    return PreparedData(read_json(data_dir / "dataset.json"), x_train, y_train, x_val, y_val)


def fingerprint(params: Params, data_dir: Path) -> str:
    """Checkpoints are valid only for the same train params and the same prepared data."""
    digest = hashlib.sha256()
    for path in (split_file(data_dir, "train"), split_file(data_dir, "validation")):
        digest.update(path.read_bytes())  # a manifest holds each image's digest
    digest.update((data_dir / "dataset.json").read_bytes())
    reference = params.train.reference
    if reference is not None and reference.path is not None:
        digest.update(Path(reference.path).read_bytes())  # an edited model starts afresh
    return section_hash(params.train, digest.hexdigest())


def early_stopping(settings: TrainParams) -> dict:
    stopping = settings.early_stopping
    return {
        "monitor": stopping.monitor,
        "patience": stopping.patience,
        "min_delta": stopping.min_delta,
        "total_epochs": settings.epochs,
    }


def fit(
    settings: TrainParams,
    data: PreparedData,
    progress: TrainingProgress | None = None,
    plan: TrainingPlan | None = None,
) -> Fitted:
    """Train on `data` as `settings` say; no files, no tracking. `progress` keeps the history
    and early-stopping state (in memory by default; a ResumableTraining that loaded a checkpoint
    continues from it); `plan` is where to train (planned from `settings.gpu` by default)."""
    from ml import models
    from ml.checkpoint import TrainingProgress
    from ml.gpu import devices

    if progress is None:
        progress = TrainingProgress(**early_stopping(settings))
    if plan is None:
        plan = devices.plan_training(settings.gpu, settings.batch_size)
    resumed_from = progress.completed_epochs or None
    # Weights and shuffle seeded by the start epoch: a resumed run is deterministic too.
    seed = settings.seed + (resumed_from or 0)
    with plan.strategy.scope():  # variables are created once per replica, in sync
        model = start_model(settings, data, progress, seed)
    batch = plan.global_batch_size
    train_data = input_data(
        data.x_train, data.y_train, batch, settings, shuffle_seed=seed, augment=True
    )
    validation_data = input_data(data.x_val, data.y_val, batch, settings)
    started = time.perf_counter()
    if not progress.exhausted:
        model.fit(
            train_data,
            validation_data=validation_data,
            epochs=settings.epochs,
            initial_epoch=progress.completed_epochs,
            callbacks=[progress],
            shuffle=False,  # train_data reshuffles itself every epoch
            verbose=0,
        )
    progress.restore_best(model)
    model = models.float32_copy(model)  # what is saved and served computes in float32
    return Fitted(
        model=model,
        history=list(progress.history),
        best_epoch=progress.state["best_epoch"],
        stopped_early=progress.stopped_early or progress.exhausted,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - started,
    )


def input_data(
    x, y: np.ndarray, batch: int, settings: TrainParams, shuffle_seed=None, augment=False
):
    """Batches from arrays in memory, or streamed from an image folder's files."""
    from ml.data.images import ImageFiles
    from ml.gpu import devices

    if isinstance(x, ImageFiles):
        from ml.data import image_pipeline

        return image_pipeline.make_dataset(
            x, y, batch, settings.gpu, shuffle_seed, settings.augment if augment else None
        )
    return devices.make_dataset(x, y, batch, settings.gpu, shuffle_seed=shuffle_seed)


def start_model(settings: TrainParams, data: PreparedData, progress: TrainingProgress, seed: int):
    """A freshly built model, holding the last checkpoint's state when resuming."""
    import keras

    from ml import models

    keras.utils.set_random_seed(seed)
    model = models.build_model(settings, data.dataset, data.x_train, data.y_train)
    if progress.completed_epochs:
        progress.restore_last(model)
    return model


def train(
    params: Params,
    data_dir: Path,
    model_path: Path,
    metrics_path: Path,
    history_path: Path,
    checkpoint_dir: Path,
    conversion_path: Path | None = None,
) -> dict:
    """`fit` with the I/O around it: the prepared data in; checkpoints every epoch, an MLflow
    run, the model, metrics and history out, and with `conversion_path` the model's ONNX
    conversion and its outputs on the test split (ml.conversion: export verifies them)."""
    from ml import conversion, models, provenance
    from ml.checkpoint import ResumableTraining
    from ml.gpu import devices

    settings = params.train
    data = load_prepared(data_dir)
    # Params that cannot train on this data fail before a run or a checkpoint is made for them;
    # so does a team's own model that does not build, or does not fit the data.
    models.check_compatible(settings, data.dataset)
    if settings.reference is not None:
        models.build_model(settings, data.dataset, data.x_train, data.y_train)
    resumable = ResumableTraining(
        checkpoint_dir, fingerprint(params, data_dir), **early_stopping(settings)
    )
    resumable.load()
    plan = devices.plan_training(settings.gpu, settings.batch_size)
    device = devices.device_report(plan)
    info = provenance.provenance()
    run = open_run(params, resumable, device, info, history_path)
    try:
        fitted = fit(settings, data, resumable, plan)
    except BaseException:
        run.abandon()
        raise
    saving = time.perf_counter()
    with atomic_path(model_path) as tmp:
        fitted.model.save(tmp)
    run_id = run.finish()
    metrics = summarize(fitted, fitted.seconds + time.perf_counter() - saving, run_id)
    metrics["gpu"] = device
    log_model(run_id, fitted.model, metrics, data.x_val, info)
    write_history(history_path, fitted.history)
    if conversion_path is not None:  # the model is in memory: converting costs no TF start-up
        conversion.write(fitted.model, model_path, data_dir, conversion_path)
    write_json(metrics_path, metrics)
    resumable.clear()
    return metrics


def open_run(
    params: Params, resumable: ResumableTraining, device: dict, info: dict, history_path: Path
):
    """The MLflow run (a new one, or the checkpoint's when resuming), fed every epoch; the
    history CSV is rewritten every epoch too, so a killed run leaves its curves so far."""
    from ml import tracking

    resumed_from = resumable.completed_epochs or None
    tags = tracking.provenance_tags(info) | tracking.device_tags(device)
    if resumed_from is not None:
        tags["resumed_from_epoch"] = str(resumed_from)
    resumable.directory.mkdir(parents=True, exist_ok=True)
    run = tracking.BackgroundRun(
        resumable.run_id if resumed_from is not None else None,
        run_name=f"train-{params.train.model}",
        params=tracking.flatten(params.model_dump(mode="json")),
        tags=tags,
        on_open=resumable.remember_run,
    )

    def record_epoch(epoch: int, row: dict) -> None:
        run.log_epoch(epoch, {k: v for k, v in row.items() if k != "epoch"})
        write_history(history_path, resumable.history)

    resumable.on_epoch = record_epoch
    return run


def log_model(run_id: str, model, metrics: dict, x_val, info: dict) -> None:
    """Best-epoch metrics and the Keras model (with its signature) on the finished run."""
    import keras
    import mlflow

    from ml import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"best_{k}": v for k, v in metrics["best"].items()})
        sample = x_val[:5]  # an image folder's files decode here
        # A direct call: predict() first traces a tf.function (~0.1 s) to score five rows.
        outputs = keras.ops.convert_to_numpy(model(sample, training=False))
        signature = mlflow.models.infer_signature(sample, outputs)
        mlflow.keras.log_model(
            model, name="model", signature=signature, pip_requirements=pip_requirements(info)
        )


def summarize(fitted: Fitted, seconds: float, run_id: str) -> dict:
    best_row = next(row for row in fitted.history if row["epoch"] == fitted.best_epoch)
    return {
        "epochs_run": len(fitted.history),
        "best_epoch": fitted.best_epoch,
        "stopped_early": fitted.stopped_early,
        "resumed_from_epoch": fitted.resumed_from,
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
    conversion_path: options.ConversionFile = None,
) -> None:
    """Train the model from params.yaml; resumes from the last completed epoch after a crash."""
    params = load_params(params_path)
    result = train(params, data, model, metrics, history, checkpoints, conversion_path)
    shown = ", ".join(f"{k}={v:.4f}" for k, v in result["best"].items())
    log.info(
        "Trained %d epochs (best epoch %d: %s) -> %s",
        result["epochs_run"],
        result["best_epoch"],
        shown,
        model,
    )
