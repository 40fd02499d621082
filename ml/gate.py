"""gate: pass or fail the test metrics against the thresholds in params.yaml `gate`, and against
the PR's base commit. A failure exits 1 with one line naming the metric, value and threshold."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

from ml import options
from ml.config import HIGHER_IS_BETTER, GateParams, load_params
from ml.errors import UserError
from ml.github import env as github_env
from ml.results import revisions
from ml.results.compare import primary_metric
from ml.results.run import ResultPaths, commit_reader, load_results, working_tree_reader

log = logging.getLogger(__name__)


class GateFailed(UserError):
    """The model misses a threshold; the message is the one-line reason."""


@dataclass(frozen=True)
class Check:
    passed: bool
    text: str


@dataclass(frozen=True)
class GateResult:
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def reason(self) -> str:
        failed = [check.text for check in self.checks if not check.passed]
        if failed:
            return "; ".join(failed)
        if not self.checks:
            return "no thresholds set in params.yaml `gate`"
        return "; ".join(check.text for check in self.checks)


def check_gate(gate: GateParams, head: dict, base: dict | None) -> GateResult:
    """Judge `head` (metrics/evaluate.json) by `gate`; `base` is the base commit's, if any."""
    checks = []
    task = head.get("task", "classification")
    for metric, (bound, limit) in gate.thresholds(task).items():
        value = head.get(metric)
        key = gate.key_of(metric, task)
        if not isinstance(value, int | float) or not math.isfinite(value):
            checks.append(Check(False, f"{metric} is {value!r}, not a number ({key} {limit:g})"))
            continue
        ok = value >= limit if bound == "min" else value <= limit
        sign = (">=" if ok else "<") if bound == "min" else ("<=" if ok else ">")
        checks.append(Check(ok, f"{metric} {value:.4f} {sign} {key} {limit:g}"))
    if gate.max_regression is not None:
        checks.append(regression_check(gate.max_regression, head, base))
    return GateResult(checks)


def regression_check(allowed: float, head: dict, base: dict | None) -> Check:
    metric = primary_metric(head.get("task", "classification"))
    value, before = head.get(metric), (base or {}).get(metric)
    if not isinstance(before, int | float) or (base or {}).get("task") != head.get("task"):
        return Check(True, f"no base {metric} to compare with (gate.max_regression skipped)")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return Check(False, f"{metric} is {value!r}, not a number (gate.max_regression)")
    worse_by = (before - value) if HIGHER_IS_BETTER[metric] else (value - before)
    word = "below" if HIGHER_IS_BETTER[metric] else "above"
    text = f"{metric} {value:.4f} is {abs(worse_by):.4f} {word} the base commit's {before:.4f}"
    # A hair of slack: 0.96 - 0.94 is 0.020000000000000018 in floating point.
    if worse_by > allowed + 1e-12:
        return Check(False, f"{text} (gate.max_regression {allowed:g})")
    if worse_by <= 0:
        return Check(True, f"{metric} {value:.4f}, base commit {before:.4f}: no regression")
    return Check(True, f"{text}, within gate.max_regression {allowed:g}")


def base_metrics(base_ref: str | None, paths: ResultPaths) -> dict | None:
    base = revisions.resolve_base(base_ref)
    if base is None:
        return None
    where = f"the base commit {base.sha[:12]}"
    return load_results(commit_reader(base.sha), paths, where).evaluate


def annotate_failure(reason: str) -> None:
    """An error annotation on the check run, so the reason shows without opening the log."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        escaped = reason.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=Quality gate failed::{escaped}")


def main(
    params_path: options.ParamsFile = options.PARAMS,
    metrics_dir: options.MetricsDir = options.METRICS_DIR,
    base_ref: options.BaseRef = None,
) -> None:
    """Fail (exit 1) when the test metrics miss a threshold in params.yaml `gate`."""
    params = load_params(params_path)
    paths = ResultPaths(params=str(params_path), metrics=str(metrics_dir))
    head = load_results(working_tree_reader, paths, "the working tree").evaluate
    if head is None:
        raise UserError(f"{paths.metric_file('evaluate')} not found: run `dvc repro` first")
    result = check_gate(params.gate, head, base_metrics(base_ref, paths))
    github_env.write_outputs({"passed": str(result.passed).lower(), "reason": result.reason})
    if not result.passed:
        annotate_failure(result.reason)
        raise GateFailed(f"Quality gate failed: {result.reason}")
    log.info("Quality gate passed: %s", result.reason)
