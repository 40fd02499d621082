"""The Optuna study behind `ml tune`: stored in sqlite (resumable), TPE sampling, median
pruning, fixed candidates enqueued first."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from pathlib import Path

from ml import tracking
from ml.config import Params
from ml.io import split_file
from ml.tune import search_space, trials_table

log = logging.getLogger(__name__)

# A killed process leaves its trial RUNNING; a trial without a heartbeat for GRACE seconds is
# marked failed by the next run, which retries its configuration once.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30


def load_prepared(data_dir: Path):
    """(PreparedData, fingerprint): the train and validation splits, and a hash of the data
    they came from. An image folder's splits are its manifests, which hold each file's digest:
    the images are decoded a batch at a time while a trial trains, never all at once."""
    from ml.train import load_prepared as load_splits

    data = load_splits(data_dir)
    digest = hashlib.sha256()
    for path in (split_file(data_dir, "train"), split_file(data_dir, "validation")):
        digest.update(path.read_bytes())
    digest.update((data_dir / "dataset.json").read_bytes())
    return data, digest.hexdigest()


def open_study(params: Params, fingerprint: str, study_dir: Path, maximize: bool):
    import optuna

    study_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Heartbeats are marked experimental since Optuna 2.8; they are what makes resuming work.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{study_dir / 'optuna.db'}",
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=1
            ),
        )
    settings = params.tune
    study = optuna.create_study(
        study_name=search_space.study_name(params, fingerprint),
        storage=storage,
        direction="maximize" if maximize else "minimize",
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=settings.prune_startup_trials,
            n_warmup_steps=settings.prune_warmup_epochs,
        ),
        load_if_exists=True,
    )
    # Seeded, but offset by the trials already run: a resumed study must not replay the very
    # configurations its first session sampled.
    study.sampler = optuna.samplers.TPESampler(seed=settings.seed + len(study.trials))
    return study


def enqueue_candidates(study, candidates: list[dict]) -> None:
    """Queue each fixed candidate once over the study's life (a resumed study keeps its own)."""
    queued = {trial.user_attrs.get("candidate") for trial in study.get_trials(deepcopy=False)}
    for index in range(len(candidates)):
        if index not in queued:
            study.enqueue_trial({}, user_attrs={"candidate": index})


def trials_left(study, params: Params) -> int:
    from optuna.trial import TrialState

    finished = study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    left = max(0, params.tune.trials - len(finished))
    if not params.tune.space:  # candidates only: nothing else to sample
        left = min(left, len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))))
    return left


def search(params: Params, data_dir: Path, study_dir: Path) -> dict:
    """Run the trials still within budget; return the ranked table of every finished trial."""
    import mlflow
    import optuna

    from ml.tune.trial import DivergedError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data, fingerprint = load_prepared(data_dir)
    metric = params.tune.resolved_metric(data.dataset["task"])
    maximize = metric == "val_accuracy"
    study = open_study(params, fingerprint, study_dir, maximize)
    enqueue_candidates(study, params.tune.candidates)
    left = trials_left(study, params)
    budget_seconds = params.tune.timeout_minutes * 60
    parent_id = study.user_attrs.get("mlflow_run_id")
    log.info("Study %s: %d trials to run, %.0f s budget", study.study_name, left, budget_seconds)
    with tracking.start_run(parent_id, run_name="tune") as parent:
        if parent_id is None:
            study.set_user_attr("mlflow_run_id", parent.info.run_id)
            mlflow.log_params({"tune.metric": metric, "tune.study": study.study_name})
        deadline = time.monotonic() + budget_seconds
        objective = make_objective(params, data, metric, maximize, deadline)
        if left:
            study.optimize(
                objective, n_trials=left, timeout=budget_seconds, catch=(DivergedError,)
            )
        table = trials_table.ranked(study, metric, maximize)
        mlflow.log_metric(f"best_{metric}", table["best"]["value"])
    table |= {"study": study.study_name, "storage": str(study_dir / "optuna.db")}
    table["mlflow_run_id"] = study.user_attrs["mlflow_run_id"]
    return table


def make_objective(params: Params, data, metric: str, maximize: bool, deadline: float):
    import keras
    import mlflow
    import optuna

    from ml.tune.trial import run_trial

    def objective(trial) -> float:
        candidate = trial.user_attrs.get("candidate")
        if candidate is not None:
            overrides = params.tune.candidates[candidate]
        else:
            overrides = search_space.suggest(trial, params.tune.space)
        trial.set_user_attr("overrides", overrides)
        settings = search_space.train_params(params.train, overrides)
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.log_params(tracking.flatten(settings.model_dump(mode="json")))
            mlflow.set_tag("tune.overrides", json.dumps(overrides))
            try:
                outcome = run_trial(trial, settings, data, metric, maximize, deadline)
            finally:
                keras.backend.clear_session()  # free the trial's graph before the next one
            state = "pruned" if outcome["pruned_at"] else "complete"
            mlflow.set_tag("tune.state", state)
            mlflow.log_metric(f"best_{metric}", outcome["value"])
        trial.set_user_attr("epochs", outcome["epochs"])
        trial.set_user_attr("seconds", outcome["seconds"])
        log.info(
            "Trial %d %s: %s %.4f after %d epochs (%s)",
            trial.number,
            f"pruned at epoch {outcome['pruned_at']}" if outcome["pruned_at"] else state,
            metric,
            outcome["value"],
            outcome["epochs"],
            json.dumps(overrides),
        )
        if outcome["pruned_at"]:
            raise optuna.TrialPruned(f"pruned at epoch {outcome['pruned_at']}")
        return float(outcome["value"])

    return objective
