"""tune: a bounded architecture search when the model misses the gate. Optuna samples `train`
settings from params.yaml `tune` (fixed `candidates` first), prunes trials that fall behind the
median, and stops at `tune.trials` or `tune.timeout_minutes`. The study lives in sqlite, so an
interrupted search resumes. Each trial is a nested MLflow run under one "tune" run.

The best settings are written into params.yaml (comments kept) and `dvc repro` rebuilds the
pipeline with them. Nothing is committed, merged or pushed: the workflow decides what to do."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.config import load_params, section_hash
from ml.errors import UserError
from ml.io import write_json
from ml.tune import params_file, search_space
from ml.tune import study as tune_study

log = logging.getLogger(__name__)


def reproduce() -> None:
    dvc = shutil.which("dvc")
    if dvc is None:
        raise UserError("`dvc` is not on PATH: run `dvc repro` yourself, or pass --no-repro")
    log.info("Reproducing the pipeline with the best settings: dvc repro")
    result = subprocess.run([dvc, "repro"], check=False)
    if result.returncode != 0:
        raise UserError(
            f"dvc repro exited {result.returncode}; params.yaml already holds the best settings"
        )


def main(
    params_path: options.ParamsFile = options.PARAMS,
    data: options.PreparedData = options.PREPARED,
    study_dir: Annotated[
        Path, typer.Option("--study-dir", help="Where the Optuna study (sqlite) lives.")
    ] = Path(".cache/tune"),
    out: Annotated[Path, options.out("Ranked table of the trials (JSON).")] = Path(
        "metrics/tune.json"
    ),
    repro: Annotated[
        bool, typer.Option(help="Run `dvc repro` after writing the best settings.")
    ] = True,
) -> None:
    """Search `train` settings within params.yaml `tune`; write the best into params.yaml."""
    search_and_write(params_path, data, study_dir, out)
    if repro:
        reproduce()


def search_and_write(params_path: Path, data: Path, study_dir: Path, out: Path) -> dict:
    """Run the search, write the best settings into params.yaml and the ranked table to `out`;
    return the table."""
    params = load_params(params_path)
    search_space.check_searchable(params.tune, params.train)
    if not (data / "dataset.json").is_file():
        raise UserError(f"{data}/dataset.json not found: run `dvc repro prepare` first")
    started = time.monotonic()
    table = tune_study.search(params, data, study_dir)
    best = table["best"]
    tuned = params_file.write_overrides(params_path, "train", best["overrides"])
    # The report shows this table only while `train` still holds what the search wrote.
    table |= {"written_to": str(params_path), "train_hash": section_hash(tuned.train)}
    write_json(out, table)
    log.info(
        "Best of %d trials: trial %d, %s %.4f, settings %s -> %s (%.0f s)",
        len(table["trials"]),
        best["number"],
        table["metric"],
        best["value"],
        json.dumps(best["overrides"]) if best["overrides"] else "(as before)",
        params_path,
        time.monotonic() - started,
    )
    return table
