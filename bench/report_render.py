"""`ml report` for a typical run: the digits CNN's committed results, compared with a base commit.

Measured, alternating, in a temporary clone whose HEAD~1 is a base commit with slightly worse
metrics and one changed param:

  render    report_markdown.render() alone, inputs already loaded (in this process)
  report    everything `ml report` does but post: read both commits' results through Git, gate,
            three PNG charts, render, write (in this process, imports already paid)
  process   `python -m ml report --base-ref HEAD~1` as a whole process, imports included
  dvc-diff  baseline: `dvc metrics diff --md HEAD~1`, DVC's own Markdown table of the same
            comparison, which CML-style reports were built on

`ml report` makes no DVC call, so every figure above counts against the goal.

Goal: median(process) < 3 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import _common as common
import yaml

NAME = "report_render"
GOAL_SECONDS = 3.0


def make_base_commit(clone: Path, env: dict) -> None:
    """HEAD~1: the same run 1.1 accuracy points worse and with a narrower dense layer."""
    evaluate = clone / "metrics/evaluate.json"
    params = clone / "params.yaml"
    head_metrics, head_params = evaluate.read_text(), params.read_text()
    worse = json.loads(head_metrics)
    worse["accuracy"] -= 0.011
    evaluate.write_text(json.dumps(worse, indent=2) + "\n")
    base_params = yaml.safe_load(head_params)
    base_params["train"]["cnn"]["dense_units"] = 64
    params.write_text(yaml.safe_dump(base_params, sort_keys=False))
    common.run(["git", "commit", "--quiet", "-am", "bench: base"], clone, env)
    evaluate.write_text(head_metrics)
    params.write_text(head_params)
    common.run(["git", "commit", "--quiet", "-am", "bench: head"], clone, env)


@contextlib.contextmanager
def inside(clone: Path):
    """Import `ml` from the clone and work in it, as `ml report` run there would."""
    previous = Path.cwd()
    sys.path.insert(0, str(clone))
    os.chdir(clone)
    try:
        yield
    finally:
        os.chdir(previous)
        sys.path.remove(str(clone))


def cases(clone: Path, env: dict) -> dict:
    from ml.io import write_text
    from ml.report import charts
    from ml.report import command as report
    from ml.report.markdown import render
    from ml.results.compare import compare
    from ml.results.run import ResultPaths

    paths = ResultPaths()
    loaded = report.build_inputs(paths, "HEAD~1")

    def seconds(work) -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started

    def whole_report() -> None:
        inputs = report.build_inputs(paths, "HEAD~1")
        changes = compare(inputs.head, inputs.base)
        charts.write_charts(clone / "reports/charts", inputs.head, changes, "classification")
        write_text(clone / "reports/report.md", render(inputs))

    process = [common.PYTHON, "-m", "ml", "report", "--base-ref", "HEAD~1"]
    return {
        "render": lambda: seconds(lambda: render(loaded)),
        "report": lambda: seconds(whole_report),
        "process": lambda: common.timed(process, clone, env).wall,
        "dvc-diff": lambda: (
            common.timed([common.DVC, "metrics", "diff", "--md", "HEAD~1"], clone, env).wall
        ),
    }


def main() -> int:
    args = common.base_parser(__doc__, repeats=9).parse_args()
    repeats = 2 if args.quick else args.repeats
    with common.workspace(NAME, args.keep) as root:
        env = common.tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
        clone = common.clone_repo(args.repo, root / "repo", env)
        make_base_commit(clone, env)
        with inside(clone):
            timings = common.interleave(cases(clone, env), repeats, warmup=1)
            report_text = (clone / "reports/report.md").read_text()
    stats = {name: common.summary(values) for name, values in timings.items()}
    common.print_table(
        ["case", "median s", "min s", "max s", "runs"],
        [
            [name, *(f"{s[k]:.4f}" for k in ("median", "min", "max")), s["n"]]
            for name, s in stats.items()
        ],
    )
    ratio = stats["process"]["median"] / stats["dvc-diff"]["median"]
    print(f"report size: {len(report_text)} characters")
    print(f"ratio process / dvc-diff (median): {ratio:.2f}")
    result = common.print_goal(
        "ml report, whole process (median s)", stats["process"]["median"], GOAL_SECONDS
    )
    common.write_results(
        NAME,
        {
            "goal": {"process_seconds_max": GOAL_SECONDS},
            "seconds": timings,
            "summary": stats,
            "ratio_process_to_dvc_diff": ratio,
            "result": result,
            "quick": args.quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
