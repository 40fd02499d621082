"""Training overhead: the kit's `python -m ml train` against a bare Keras script.

Measured: wall time of two whole processes (interpreter start-up and imports included), run
alternately in one temporary clone of the repository, each training the same model
(ml.models.build_model, shipped params.yaml, same seed, batch size and prepared digits data):

  kit   python -m ml train: a checkpoint every epoch, MLflow tracking to a temporary sqlite
        store (the model logged to MLflow), history CSV, metrics JSON
  bare  bench/baselines/bare_keras_train.py: model.fit with Keras EarlyStopping, model.save

Both run the same fixed number of epochs: the temporary params file sets the early-stopping
patience to the epoch count, so neither stops early. The epochs each side actually ran are read
back and printed, with each side's own in-process figure (kit: train_seconds from its metrics,
from the MLflow run's start to the logged model; bare: fit + save) to show how much of the
difference is start-up and imports. The MLflow store is created before timing: its one-off
schema migration is not what a training run costs once a project has a store. CPU seconds
(user + system, children included) are printed too: on a busy machine they move far less than
wall time.

Goal: median(kit) / median(bare) <= 1.10.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

import _common as common

NAME = "train_overhead"
GOAL_RATIO = 1.10
# Close to the 23 epochs the shipped params run before early stopping, and short enough for
# three timed pairs within the three-minute budget on two cores.
DEFAULT_EPOCHS = 20


def parse_args():
    parser = common.base_parser(__doc__, repeats=3)
    parser.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help="Epochs both sides run, early stopping off (default: %(default)s).",
    )
    return parser.parse_args()


def prepare_workspace(root: Path, repo: Path, epochs: int, env: dict) -> Path:
    clone = common.clone_repo(repo, root / "repo", env)
    common.run([common.PYTHON, "-m", "ml", "prepare", "--out", "data/prepared"], clone, env)
    common.write_params(clone / "params.yaml", clone / "bench-params.yaml", epochs, epochs)
    # Opening the store runs its schema migrations (seconds), and the kit's first run would also
    # create the experiment (named after the working directory): both once, outside the timing.
    create_store = "import mlflow, pathlib; mlflow.set_experiment(pathlib.Path.cwd().name)"
    common.run([common.PYTHON, "-c", create_store], clone, env)
    return clone


def kit_case(clone: Path, out: Path, env: dict):
    def case() -> dict:
        # Leftover checkpoints (from a run killed earlier) would make the kit resume, not train.
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        timing = common.timed(
            [
                *(common.PYTHON, "-m", "ml", "train", "--params", "bench-params.yaml"),
                *("--data", "data/prepared", "--model", str(out / "model.keras")),
                *("--metrics", str(out / "train.json"), "--history", str(out / "history.csv")),
                *("--checkpoints", str(out / "checkpoints")),
            ],
            clone,
            env,
        )
        metrics = json.loads((out / "train.json").read_text(encoding="utf-8"))
        return figures(timing, metrics["epochs_run"], metrics["train_seconds"])

    return case


def bare_case(clone: Path, out: Path, env: dict):
    script = common.BASELINES_DIR / "bare_keras_train.py"

    def case() -> dict:
        timing = common.timed(
            [
                *(common.PYTHON, str(script), "--params", "bench-params.yaml"),
                *("--data", "data/prepared", "--model", str(out / "model.keras")),
                *("--report", str(out / "report.json")),
            ],
            clone,
            env,
        )
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        return figures(timing, report["epochs_run"], report["fit_and_save_seconds"])

    return case


def figures(timing: common.Timing, epochs_run: int, in_process: float) -> dict:
    return {"wall": timing.wall, "cpu": timing.cpu, "in_process": in_process, "epochs": epochs_run}


def main() -> int:
    args = parse_args()
    epochs = 3 if args.quick else args.epochs
    repeats = 1 if args.quick else args.repeats
    with common.workspace(NAME, args.keep) as root:
        # The baseline imports ml.models from the clone too, so both sides build the same code.
        env = common.tool_env(
            MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
            PYTHONPATH=str(root / "repo"),
        )
        print(f"Preparing a clone of {args.repo} in {root} ...", flush=True)
        clone = prepare_workspace(root, args.repo, epochs, env)
        cases = {
            "kit": kit_case(clone, root / "kit", env),
            "bare": bare_case(clone, root / "bare", env),
        }
        print(f"Timing {repeats} alternating pairs of {epochs}-epoch trainings ...", flush=True)
        runs = common.interleave(cases, repeats)
    return report(runs, epochs, args.quick)


def column(runs: dict[str, list[dict]], key: str) -> dict[str, list]:
    """{'kit': [run, ...]} -> {'kit': [run[key], ...]}"""
    return {side: [run[key] for run in side_runs] for side, side_runs in runs.items()}


def report(runs: dict[str, list[dict]], epochs: int, quick: bool) -> int:
    wall = {side: common.summary(values) for side, values in column(runs, "wall").items()}
    median = {
        key: {side: statistics.median(values) for side, values in column(runs, key).items()}
        for key in ("cpu", "in_process")
    }
    epochs_run = column(runs, "epochs")
    common.print_table(
        ["side", "median s", "min s", "max s", "in-process s", "CPU s", "epochs run"],
        [
            [
                side,
                *(f"{stats[k]:.2f}" for k in ("median", "min", "max")),
                f"{median['in_process'][side]:.2f}",
                f"{median['cpu'][side]:.1f}",
                " ".join(map(str, epochs_run[side])),
            ]
            for side, stats in wall.items()
        ],
    )
    ratio = wall["kit"]["median"] / wall["bare"]["median"]
    overhead = wall["kit"]["median"] - wall["bare"]["median"]
    inner = median["in_process"]["kit"] - median["in_process"]["bare"]
    cpu_ratio = median["cpu"]["kit"] / median["cpu"]["bare"]
    print(f"kit overhead per run: {overhead:+.2f} s ({inner:+.2f} s of it in-process)")
    print(f"CPU time ratio kit / bare: {cpu_ratio:.2f}")
    result = common.print_goal("ratio kit / bare (median wall time)", ratio, GOAL_RATIO)
    fair = {*epochs_run["kit"], *epochs_run["bare"]} == {epochs}
    if not fair:
        print(f"ERROR: a side did not run the {epochs} requested epochs; the ratio is not fair")
    common.write_results(
        NAME,
        {
            "goal": {"ratio_max": GOAL_RATIO},
            "epochs_requested": epochs,
            "runs": runs,
            "wall_seconds": wall,
            "median_seconds": median,
            "ratio": ratio,
            "cpu_ratio": cpu_ratio,
            "overhead_seconds": overhead,
            "result": result,
            "quick": quick,
        },
    )
    return 0 if fair else 1


if __name__ == "__main__":
    sys.exit(main())
