"""No-op `dvc repro`: the kit's pipeline against a one-stage bare DVC pipeline.

Measured: wall time of the whole `dvc repro` process when every stage is up to date (DVC's
start-up, reading dvc.yaml, dvc.lock and params, hashing dependencies and outputs), alternating
between

  kit   a temporary clone of the repository after one full `dvc repro` (four stages)
  bare  a temporary `git init` + `dvc init` repository with one stage (a tiny python command
        copying one file), reproduced once

Each timed run is checked to have run no stage. Both repositories keep DVC's site cache inside
the workspace and have analytics off, so neither pays for something the other does not.

Goal: median(kit) / median(bare) <= 1.3.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import _common as common

NAME = "dvc_noop"
GOAL_RATIO = 1.3
BARE_PIPELINE = """\
stages:
  copy:
    cmd: python -c "import shutil; shutil.copy('input.txt', 'output.txt')"
    deps:
      - input.txt
    outs:
      - output.txt
"""


def kit_repo(root: Path, repo: Path, quick: bool, env: dict) -> Path:
    clone = common.clone_repo(repo, root / "kit", env)
    if quick:
        # A no-op repro reads the same files however long training took.
        params = clone / "params.yaml"
        common.write_params(params, params, epochs=2, patience=None)
    common.run([common.DVC, "repro"], clone, env)
    return clone


def bare_repo(root: Path, env: dict) -> Path:
    bare = root / "bare"
    bare.mkdir()
    common.run(["git", "init", "--quiet"], bare, env)
    common.run([common.DVC, "init", "--quiet"], bare, env)
    common.run([common.DVC, "config", "core.analytics", "false"], bare, env)
    common.isolate_dvc_state(bare, env)
    (bare / "input.txt").write_text("hello\n", encoding="utf-8")
    (bare / "dvc.yaml").write_text(BARE_PIPELINE, encoding="utf-8")
    common.run(["git", "add", "-A"], bare, env)
    common.run(["git", "commit", "--quiet", "-m", "bare pipeline"], bare, env)
    common.run([common.DVC, "repro"], bare, env)
    return bare


def noop_case(repo: Path, env: dict):
    def case() -> common.Timing:
        timing = common.timed([common.DVC, "repro"], repo, env)
        if "Running stage" in timing.output:
            raise common.BenchError(f"`dvc repro` in {repo} ran a stage:\n{timing.output[-2000:]}")
        return timing

    return case


def main() -> int:
    args = common.base_parser(__doc__, repeats=15).parse_args()
    repeats = 2 if args.quick else args.repeats
    with common.workspace(NAME, args.keep) as root:
        env = common.tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
        print(f"Running the full pipeline once in a clone of {args.repo} ...", flush=True)
        repos = {"kit": kit_repo(root, args.repo, args.quick, env), "bare": bare_repo(root, env)}
        print(f"Timing 1 warm-up + {repeats} alternating no-op repros ...", flush=True)
        cases = {side: noop_case(repo, env) for side, repo in repos.items()}
        timings = common.interleave(cases, repeats, warmup=1)
    return report(timings, args.quick)


def report(timings: dict[str, list[common.Timing]], quick: bool) -> int:
    wall = {side: [t.wall for t in side_timings] for side, side_timings in timings.items()}
    stats = {side: common.summary(values) for side, values in wall.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in timings.items()}
    common.print_table(
        ["side", "median s", "min s", "max s", "CPU s", "runs"],
        [
            [side, *(f"{s[k]:.3f}" for k in ("median", "min", "max")), f"{cpu[side]:.3f}", s["n"]]
            for side, s in stats.items()
        ],
    )
    ratio = stats["kit"]["median"] / stats["bare"]["median"]
    print(f"CPU time ratio kit / bare: {cpu['kit'] / cpu['bare']:.2f}")
    result = common.print_goal("ratio kit / bare (median no-op repro)", ratio, GOAL_RATIO)
    common.write_results(
        NAME,
        {
            "goal": {"ratio_max": GOAL_RATIO},
            "wall_seconds": wall,
            "summary": stats,
            "cpu_seconds_median": cpu,
            "ratio": ratio,
            "cpu_ratio": cpu["kit"] / cpu["bare"],
            "result": result,
            "quick": quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
