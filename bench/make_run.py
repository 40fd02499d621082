"""`make run` in a warm environment: seconds for a first and for an up-to-date run.

Measured: wall time of the whole `make run` (make, `dvc repro`, `python -m ml summary`) in a
temporary clone of the repository whose .venv is a symlink to the running interpreter's
virtualenv, so the environment is warm and only the pipeline is timed:

  first   the full pipeline in the fresh clone: no outputs, and an empty DVC cache and run-cache
          (both live in the clone's .dvc/cache), a new MLflow store in the clone
  second  `make run` again right after: every stage up to date (median of --repeats runs)

The Makefile installs the environment when .venv/.synced is older than the lock file,
pyproject.toml or scripts/bootstrap.sh. A fresh clone's files are newer than the shared venv's
stamp, and touching the stamp through the symlink would change the shared venv; instead the
clone's three files are dated back before the stamp, and `make -q .venv/.synced` must confirm
that make will skip the install before anything runs (the install would re-point the shared
venv's editable install at the clone).

Goal: first `make run` <= 40 s on 2 cores. An absolute goal on a noisy machine: the load
average is recorded with the figures.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from subprocess import PIPE, STDOUT

import _common as common

NAME = "make_run"
GOAL_FIRST_SECONDS = 40.0
STAMP = Path(".venv/.synced")
# The prerequisites of the stamp rule in the Makefile ($(STAMP): $(LOCK) pyproject.toml ...).
STAMP_INPUTS = ("requirements/dev.txt", "pyproject.toml", "scripts/bootstrap.sh")
STAGES = 4
STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def warm_clone(root: Path, repo: Path, quick: bool, env: dict) -> Path:
    clone = common.clone_repo(repo, root / "repo", env)
    (clone / ".venv").symlink_to(common.VENV_DIR, target_is_directory=True)
    stamp = common.VENV_DIR / STAMP.name
    if not stamp.exists():
        raise common.BenchError(f"{stamp} is missing: run `make setup` for {common.VENV_DIR}")
    before = stamp.stat().st_mtime - 60
    for name in STAMP_INPUTS:
        os.utime(clone / name, (before, before))
    # Exit 0: the stamp is up to date, so `make run` will not run scripts/bootstrap.sh.
    check = subprocess.run(["make", "-q", str(STAMP)], cwd=clone, env=env, check=False)
    if check.returncode != 0:
        raise common.BenchError("make would reinstall the shared venv; refusing to run make")
    if quick:
        params = clone / "params.yaml"
        common.write_params(params, params, epochs=2, patience=None)
    return clone


def make_run(clone: Path, env: dict, expected_stages: int) -> dict:
    """Time `make run`, and each phase of it from the moment its first output line arrives."""
    marks: list[tuple[str, float]] = [("make", 0.0)]
    lines: list[str] = []
    before = common.children_cpu()
    started = time.perf_counter()
    with subprocess.Popen(
        ["make", "run"], cwd=clone, env=env, stdout=PIPE, stderr=STDOUT, text=True
    ) as process:
        for line in process.stdout or ():  # a pipe, as asked for above
            lines.append(line)
            phase = phase_of(line)
            if phase:
                marks.append((phase, time.perf_counter() - started))
    wall = time.perf_counter() - started
    output = "".join(lines)
    if process.returncode != 0:
        raise common.BenchError(f"`make run` exited {process.returncode}:\n{output[-3000:]}")
    ran = output.count("Running stage")
    if ran != expected_stages:
        raise common.BenchError(f"`make run` ran {ran} stages, not {expected_stages}:\n{output}")
    ends = [at for _, at in marks[1:]] + [wall]
    phases = {name: end - at for (name, at), end in zip(marks, ends, strict=True)}
    return {"wall": wall, "cpu": common.children_cpu() - before, "phases": phases}


def phase_of(line: str) -> str | None:
    """The phase an output line starts: make echoes its commands, DVC announces each stage."""
    if stage := STAGE_LINE.search(line):
        return f"stage {stage.group(1)}"
    if line.startswith(".venv/bin/dvc repro"):
        return "dvc start-up"
    if line.startswith(".venv/bin/python -m ml summary"):
        return "summary"
    return None


def main() -> int:
    args = common.base_parser(__doc__, repeats=3).parse_args()
    repeats = 1 if args.quick else args.repeats
    with common.workspace(NAME, args.keep) as root:
        # The default store location for `make run`, set explicitly so no outer setting leaks in.
        env = common.tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'repo' / 'mlflow.db'}")
        clone = warm_clone(root, args.repo, args.quick, env)
        print(f"First `make run` in {clone} ...", flush=True)
        first = make_run(clone, env, expected_stages=STAGES)
        print(f"{repeats} more `make run` with everything up to date ...", flush=True)
        again = [make_run(clone, env, expected_stages=0) for _ in range(repeats)]
    return report(first, again, args.quick)


def report(first: dict, again: list[dict], quick: bool) -> int:
    again_median = statistics.median(run["wall"] for run in again)
    common.print_table(
        ["make run", "wall s", "CPU s", "runs"],
        [
            ["first (full pipeline)", f"{first['wall']:.1f}", f"{first['cpu']:.1f}", 1],
            [
                "second (up to date), median",
                f"{again_median:.2f}",
                f"{statistics.median(run['cpu'] for run in again):.2f}",
                len(again),
            ],
        ],
    )
    print()
    common.print_table(
        ["first run, phase", "wall s"],
        [[name, f"{seconds:.1f}"] for name, seconds in first["phases"].items()],
    )
    print("(a stage's time includes DVC caching its outputs and updating dvc.lock)")
    result = common.print_goal("first `make run` seconds", first["wall"], GOAL_FIRST_SECONDS)
    common.write_results(
        NAME,
        {
            "goal": {"first_run_seconds_max": GOAL_FIRST_SECONDS},
            "first": first,
            "up_to_date": again,
            "up_to_date_median_seconds": again_median,
            "result": result,
            "quick": quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
