"""Shared helpers for the bench scripts: throwaway workspaces, interleaved timing, reporting.

The machines this runs on (2 shared cores) drift by tens of percent within a minute, so every
script times its subject and its baseline alternately in one run and reports medians and ratios;
an absolute figure from one run means little on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BASELINES_DIR = BENCH_DIR / "baselines"
# Not resolved: the venv's python is a symlink to the base interpreter, and only the unresolved
# path leads to the venv's bin (dvc, ruff, the venv python itself).
VENV_BIN = Path(sys.executable).parent
VENV_DIR = VENV_BIN.parent
DVC = str(VENV_BIN / "dvc")
PYTHON = sys.executable
# Load before this benchmark started anything, to tell a busy machine from a slow kit.
START_LOAD = os.getloadavg()[0]
# What clone_repo checked out, recorded with the figures: the repository moves between runs.
CLONED_COMMITS: list[str] = []
# Every goal line print_goal printed, saved with the figures for `make bench`'s summary.
GOAL_LINES: list[dict] = []


class BenchError(RuntimeError):
    """A command the benchmark depends on failed; the message carries its output's tail."""


def base_parser(doc: str, repeats: int) -> argparse.ArgumentParser:
    """Options every script shares; `doc` (the module docstring) becomes the --help text."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repo",
        type=Path,
        default=REPO_ROOT,
        help="Git repository to clone into the temporary workspace (default: %(default)s).",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=repeats,
        help="Timed repetitions (rounds) of every case (default: %(default)s).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A smoke test: fewer repetitions and a shorter training; not a measurement.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary workspace and print its path."
    )
    return parser


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for every subprocess: the venv's tools first on PATH, quiet TensorFlow,
    no DVC analytics, a Git identity for commits in throwaway repositories."""
    env = dict(os.environ)
    # A nested `make` must behave like a top-level one even when this runs under `make bench`.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV_DIR)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # Lines from Python children arrive when written, for scripts that time them as they come.
    env["PYTHONUNBUFFERED"] = "1"
    env["DVC_NO_ANALYTICS"] = "1"
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = "bench"
        env[f"GIT_{role}_EMAIL"] = "bench@localhost"
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `cmd` with its output captured (a terminal would add its own cost to the timing)."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise BenchError(f"`{' '.join(cmd)}` exited {result.returncode} in {cwd}:\n{tail}")
    return result


@dataclasses.dataclass(frozen=True)
class Timing:
    wall: float  # seconds, the figure the goals are about
    # User + system seconds of the process and the children it waited for. Other load on the
    # machine stretches wall time much more than CPU time: a second view when the machine is busy.
    cpu: float
    output: str


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Timing:
    """Time one whole process (start-up and imports included)."""
    before = children_cpu()
    started = time.perf_counter()
    result = run(cmd, cwd, env)
    wall = time.perf_counter() - started
    return Timing(wall, children_cpu() - before, result.stdout + result.stderr)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def workspace(name: str, keep: bool) -> Iterator[Path]:
    """A temporary directory for one benchmark, removed afterwards unless `keep`."""
    root = Path(tempfile.mkdtemp(prefix=f"runwright-bench-{name}-"))
    try:
        yield root
    finally:
        if keep:
            print(f"workspace kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def clone_repo(repo: Path, dest: Path, env: dict[str, str]) -> Path:
    """A fresh clone of `repo`'s HEAD: no pipeline outputs, an empty DVC cache and run-cache.
    Committed code only: uncommitted changes in `repo` are not what gets measured."""
    run(["git", "clone", "--quiet", str(repo.resolve()), str(dest)], dest.parent, env)
    isolate_dvc_state(dest, env)
    commit = head_commit(dest)
    CLONED_COMMITS.append(commit)
    print(f"measuring commit {commit} of {repo}", flush=True)
    return dest


def head_commit(repo: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], repo, os.environ.copy()).stdout.strip()


def isolate_dvc_state(repo: Path, env: dict[str, str]) -> None:
    """DVC 3 keeps per-repository state in a machine-wide site cache (/var/tmp/dvc); pointing it
    inside the workspace leaves nothing behind once the workspace is deleted."""
    site_cache = repo.parent / f"{repo.name}-dvc-site-cache"
    run([DVC, "config", "--local", "core.site_cache_dir", str(site_cache)], repo, env)


def write_params(source: Path, dest: Path, epochs: int | None, patience: int | None) -> dict:
    """Copy a params file, overriding train.epochs and/or the early-stopping patience."""
    params: dict = yaml.safe_load(source.read_text(encoding="utf-8"))
    train = params.setdefault("train", {})
    if epochs is not None:
        train["epochs"] = epochs
    if patience is not None:
        train.setdefault("early_stopping", {})["patience"] = patience
    dest.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return params


def interleave(
    cases: Mapping[K, Callable[[], T]], repeats: int, warmup: int = 0
) -> dict[K, list[T]]:
    """Run every case once per repetition, reversing the order on every other one (ABBA...), so
    a machine that slows down or speeds up mid-run affects all cases alike. A case measures
    itself and returns what it measured, so it can leave per-repetition setup out of the timing.
    The first `warmup` repetitions are run but not recorded."""
    names = list(cases)
    results: dict[K, list[T]] = {name: [] for name in names}
    for index in range(warmup + repeats):
        for name in names if index % 2 == 0 else names[::-1]:
            result = cases[name]()
            if index >= warmup:
                results[name].append(result)
    return results


def summary(values: list[float]) -> dict[str, float | int]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def verdict(value: float, goal: float, higher_is_better: bool = False) -> str:
    met = value >= goal if higher_is_better else value <= goal
    return "PASS" if met else "MISS"


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A plain-text table: the first column left-aligned, the figures right-aligned."""
    cells = [headers, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in cells[1:]:
        print(line(row))


def print_goal(
    label: str,
    value: float,
    goal: float,
    higher_is_better: bool = False,
    load: float | None = None,
) -> str:
    """Print `label = value (goal <= goal): PASS|MISS`, with `[load L]` (the 1-minute load
    average the figure was measured at) when given, keep the line for write_results, and return
    PASS or MISS."""
    result = verdict(value, goal, higher_is_better)
    at = f" [load {load:.1f}]" if load is not None else ""
    line = (
        f"{label} = {value:.2f} (goal {'>=' if higher_is_better else '<='} {goal:g}): {result}{at}"
    )
    print(line)
    GOAL_LINES.append({"line": line, "result": result})
    return result


def write_results(name: str, figures: dict) -> Path:
    """bench/results/<name>.json: the figures plus when, where and how they were measured."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    record = {
        "benchmark": name,
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "commit": CLONED_COMMITS[0] if CLONED_COMMITS else None,
        "goal_lines": GOAL_LINES,
        **figures,
    }
    if not CLONED_COMMITS:
        # Measured in the checkout itself (no clone): its commit, and whether the tree had
        # changes on top of it, which the commit then does not describe.
        changed = run(["git", "status", "--porcelain"], REPO_ROOT, tool_env()).stdout.strip()
        record["commit"] = head_commit(REPO_ROOT)
        record["working_tree"] = {"commit": record["commit"], "changed": bool(changed)}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    warn_if_busy(record["machine"])
    if figures.get("quick"):
        print("--quick: a smoke test of the benchmark, not a measurement")
    print(f"figures written to {path}")
    return path


def machine() -> dict:
    cpus = os.cpu_count() or 1
    return {
        "cpus": cpus,
        "load_average_1m": {"start": round(START_LOAD, 2), "end": round(os.getloadavg()[0], 2)},
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def warn_if_busy(figures: dict) -> None:
    cpus, load = figures["cpus"], max(figures["load_average_1m"].values())
    if load > cpus:
        print(
            f"WARNING: load average {load:.1f} on {cpus} CPUs: other work competed for the "
            "CPUs, so wall times are stretched and ratios noisy (CPU seconds less so)"
        )
