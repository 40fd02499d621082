"""A small project's pipeline: the kit's `dvc repro` of a 400-row CSV against one bare script.

Measured: wall time of two whole processes, run alternately, for a classification and for a
regression CSV of 400 rows (4 numeric columns with a few missing values, 1 categorical column),
written by this script into a temporary clone of the repository, with params.yaml pointing
`prepare` at it and training the `mlp` model:

  kit   `dvc repro --force`: prepare (validation, split, encoding), train (checkpoints every
        epoch, MLflow tracking to a sqlite store in the workspace, model logged), evaluate,
        export (ONNX with metadata, checked against Keras on the whole test split), DVC caching
        the outputs and writing dvc.lock
  bare  bench/baselines/bare_pipeline.py: one Python process doing the same work (load, split,
        encode, fit the same model with the same params and seed, score, save, export to ONNX,
        check onnxruntime against Keras on the test split)

Both train the same number of epochs: early-stopping patience is set to the epoch count, and
the epochs each side ran are read back and compared. `--force` makes DVC run every stage rather
than restore it from its run-cache. The MLflow store is created before timing (its one-off schema
migration is not what a run costs once a project has a store). CPU seconds (user + system,
children included) are printed too: on a busy machine they move far less than wall time.

Goal: median(kit) / median(bare) <= 1.5, for each task.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import _common as common
import numpy as np
import yaml

NAME = "pipeline_small"
GOAL_RATIO = 1.5
ROWS = 400
DEFAULT_EPOCHS = 60  # the shipped params' epoch count
TASKS = ("classification", "regression")
NUMERIC = ["x1", "x2", "x3", "x4"]
CATEGORICAL = ["city"]
BARE = common.BASELINES_DIR / "bare_pipeline.py"


def write_csv(path: Path, task: str) -> None:
    """400 rows whose target depends on the features, so the model has something to learn."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(ROWS, len(NUMERIC))) * [1.0, 3.0, 10.0, 0.5] + [0.0, 5.0, 50.0, -1.0]
    city = rng.choice(["lisbon", "oslo", "quito"], size=ROWS)
    signal = x[:, 0] + 0.3 * x[:, 1] - 0.05 * x[:, 2] + (city == "oslo") * 1.5
    if task == "classification":
        target = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
        values = [["low", "mid", "high"][code] for code in target]
    else:
        values = [f"{v:.4f}" for v in 10 * signal + rng.normal(size=ROWS)]
    missing = rng.random(size=x.shape) < 0.02
    lines = [",".join([*NUMERIC, *CATEGORICAL, "target"])]
    for row, is_missing, town, value in zip(x, missing, city, values, strict=True):
        cells = ["" if gone else f"{v:.5f}" for v, gone in zip(row, is_missing, strict=True)]
        lines.append(",".join([*cells, town, value]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def project(root: Path, repo: Path, task: str, epochs: int, env: dict) -> Path:
    """A clone whose params.yaml runs the pipeline on the task's CSV."""
    clone = common.clone_repo(repo, root / task, env)
    write_csv(clone / "data/raw/small.csv", task)
    params_path = clone / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["prepare"] |= {
        "source": {"path": "data/raw/small.csv"},
        "task": task,
        "target": "target",
        "numeric_features": NUMERIC,
        "categorical_features": CATEGORICAL,
    }
    params["train"]["model"] = "mlp"
    params["train"]["epochs"] = epochs
    params["train"]["early_stopping"]["patience"] = epochs
    params["evaluate"]["plot"] = "confusion" if task == "classification" else "scatter"
    params.pop("gate", None)  # its example thresholds are for classification
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    create_store = "import mlflow, pathlib; mlflow.set_experiment(pathlib.Path.cwd().name)"
    common.run([common.PYTHON, "-c", create_store], clone, env)
    return clone


def kit_case(clone: Path, env: dict):
    def case() -> tuple[common.Timing, int]:
        timing = common.timed([common.DVC, "repro", "--force"], clone, env)
        ran = timing.output.count("Running stage")
        if ran != 4:
            message = f"`dvc repro --force` ran {ran} stages, not 4:\n{timing.output}"
            raise common.BenchError(message)
        metrics = json.loads((clone / "metrics/train.json").read_text(encoding="utf-8"))
        return timing, metrics["epochs_run"]

    return case


def bare_case(clone: Path, env: dict):
    out = clone.parent / f"{clone.name}-bare"

    def case() -> tuple[common.Timing, int]:
        command = [common.PYTHON, str(BARE), "--params", "params.yaml", "--out", str(out)]
        timing = common.timed(command, clone, env)
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        return timing, report["epochs_run"]

    return case


def main() -> int:
    parser = common.base_parser(__doc__, repeats=3)
    parser.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help="Epochs both sides train, early stopping off (default: %(default)s).",
    )
    args = parser.parse_args()
    repeats, epochs = (1, 3) if args.quick else (args.repeats, args.epochs)
    timings: dict[str, dict[str, list[tuple[common.Timing, int]]]] = {}
    with common.workspace(NAME, args.keep) as root:
        for task in TASKS:
            # The baseline imports ml.models from the clone too, so both sides build the same
            # code; each task's clone has its own MLflow store.
            env = common.tool_env(
                MLFLOW_TRACKING_URI=f"sqlite:///{root / task / 'mlflow.db'}",
                PYTHONPATH=str(root / task),
            )
            clone = project(root, args.repo, task, epochs, env)
            print(f"{task}: {repeats} alternating runs of kit and bare ...", flush=True)
            cases = {"kit": kit_case(clone, env), "bare": bare_case(clone, env)}
            timings[task] = common.interleave(cases, repeats)
    return report(timings, args.quick)


def report(timings: dict, quick: bool) -> int:
    rows: list[list[object]] = []
    figures: dict[str, dict] = {}
    results: list[str] = []
    for task, sides in timings.items():
        epochs = {side: {run[1] for run in runs} for side, runs in sides.items()}
        if len(epochs["kit"] | epochs["bare"]) != 1:
            raise common.BenchError(f"{task}: the two sides trained different epochs: {epochs}")
        wall = {side: [run[0].wall for run in runs] for side, runs in sides.items()}
        cpu = {side: statistics.median(run[0].cpu for run in runs) for side, runs in sides.items()}
        stats = {side: common.summary(values) for side, values in wall.items()}
        ratio = stats["kit"]["median"] / stats["bare"]["median"]
        for side in sides:
            s = stats[side]
            rows.append(
                [
                    f"{task} {side}",
                    *(f"{s[k]:.1f}" for k in ("median", "min", "max")),
                    f"{cpu[side]:.1f}",
                    s["n"],
                ]
            )
        figures[task] = {
            "wall_seconds": wall,
            "summary": stats,
            "cpu_seconds_median": cpu,
            "epochs": epochs["kit"].pop(),
            "ratio": ratio,
            "cpu_ratio": cpu["kit"] / cpu["bare"],
        }
    common.print_table(["case", "median s", "min s", "max s", "CPU s", "runs"], rows)
    for task, task_figures in figures.items():
        print(f"{task}: CPU time ratio kit / bare {task_figures['cpu_ratio']:.2f}")
        label = f"{task}: 400-row CSV pipeline kit / bare script (median)"
        task_figures["result"] = common.print_goal(label, task_figures["ratio"], GOAL_RATIO)
        results.append(task_figures["result"])
    common.write_results(
        NAME,
        {
            "goal": {"ratio_max": GOAL_RATIO},
            **figures,
            "result": "PASS" if set(results) == {"PASS"} else "MISS",
            "quick": quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
