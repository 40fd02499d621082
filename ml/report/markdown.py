"""The pull-request report as Markdown: a pure function of loaded results, so it is tested with
golden files and timed without Git, DVC or the network.

Layout, top to bottom: verdict and best model; metrics against the base commit; quality gate;
changed params; learning curves and comparison (Mermaid); confusion matrix; ONNX; the remediation
of a failed gate; architecture search; where the PNGs are; a collapsed reproducibility footer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ml.gate import GateResult
from ml.report import mermaid
from ml.report import tables as report_tables
from ml.results.compare import MetricChange, compare, overall
from ml.results.revisions import BaseCommit
from ml.results.run import RunResults

MARKER = "runwright-report"  # hidden in the comment; finds the sticky comment again
SIGNS = {"better": "🟢", "worse": "🔴", "same": "⚪", "new": "🆕", "n/a": "—"}


@dataclass
class ReportInputs:
    head: RunResults
    base: RunResults | None  # None: no base commit to compare with
    base_commit: BaseCommit | None
    head_commit: str | None
    gate: GateResult
    environment: dict = field(default_factory=dict)  # see report_tables.footer
    charts_note: str | None = None
    marker: str = MARKER


def render(inputs: ReportInputs) -> str:
    head = inputs.head
    task = head.task or "classification"
    changes = compare(head, inputs.base)
    parts = [
        f"<!-- {inputs.marker} -->",
        *headline(inputs, changes, task),
        *metrics_table(inputs, changes),
        *gate_section(inputs.gate),
        *params_section(inputs),
        *charts_section(head, changes, task),
        *report_tables.confusion_section(head),
        *report_tables.onnx_section(head.export, (inputs.base or RunResults()).export),
        *report_tables.remediation_section(head.remediation),
        *report_tables.tune_section(head.tune),
    ]
    if inputs.charts_note:
        parts += [inputs.charts_note, ""]
    parts += report_tables.footer(inputs.head_commit, head, inputs.environment)
    return "\n".join(parts).rstrip("\n") + "\n"


def verdict_line(inputs: ReportInputs, changes: list[MetricChange] | None = None) -> str:
    """'✅ Success: quality gate passed · accuracy 0.9852 (🟢 ▲ +0.0222 vs base)'."""
    task = inputs.head.task or "classification"
    main = overall(changes or compare(inputs.head, inputs.base), task)
    shown = f"{main.name} {main.head:.4f}" if main.head is not None else f"no {main.name}"
    if main.verdict in ("better", "worse", "same"):
        shown += f" ({change_text(main)} vs base)"
    if inputs.gate.passed:
        return f"✅ Success: quality gate passed · {shown}"
    return f"❌ Failure: quality gate failed · {shown}"


def headline(inputs: ReportInputs, changes: list[MetricChange], task: str) -> list[str]:
    main = overall(changes, task)
    lines = [f"## {verdict_line(inputs, changes)}", ""]
    if not inputs.gate.passed:
        lines += [f"**Why:** {inputs.gate.reason}", ""]
    lines += [f"**Best model:** {report_tables.describe_model(inputs.head)}", ""]
    lines += [comparison_line(inputs, main), ""]
    return lines


def comparison_line(inputs: ReportInputs, main: MetricChange) -> str:
    here = f"`{inputs.head_commit[:12]}`" if inputs.head_commit else "the working tree"
    base = inputs.base_commit
    if base is None:
        return f"Commit {here}. No base commit (not a pull request, no `--base-ref`)."
    named = f"`{base.label}`"
    if base.label != base.sha[:12]:
        named += f" (`{base.sha[:12]}`)"
    if inputs.base is None or inputs.base.evaluate is None:
        return (
            f"Commit {here} vs base {named}: **first run**, the base has no metrics yet, "
            "nothing to compare."
        )
    if main.verdict == "better":
        word = "**better** than"
    elif main.verdict == "worse":
        word = "**worse** than"
    else:
        word = "**unchanged** from"
    return f"Commit {here} is {word} base {named} on {main.name}."


def change_text(change: MetricChange) -> str:
    delta = change.delta
    if change.verdict in ("new", "n/a") or delta is None:
        return "—"
    if change.verdict == "same":
        return f"{SIGNS['same']} no change"
    arrow = "▲" if delta > 0 else "▼"
    if change.verdict == "changed":  # no better direction: no colour
        return f"{arrow} {delta:+.{change.decimals}f}"
    return f"{SIGNS[change.verdict]} {arrow} {delta:+.{change.decimals}f}"


def metrics_table(inputs: ReportInputs, changes: list[MetricChange]) -> list[str]:
    base_name = f"base `{inputs.base_commit.label}`" if inputs.base_commit else "base"
    lines = [f"| metric | {base_name} | this PR | change |", "|---|--:|--:|:--|"]
    for change in changes:
        lines.append(
            f"| {change.name} | {figure(change.base, change.decimals)} | "
            f"{figure(change.head, change.decimals)} | "
            f"{change_text(change)} |"
        )
    return ["### Metrics (test set)", "", *lines, ""]


def figure(value: float | None, decimals: int) -> str:
    return "—" if value is None else f"{value:.{decimals}f}"


def gate_section(gate: GateResult) -> list[str]:
    verdict = "✅ passed" if gate.passed else "❌ failed"
    lines = [f"### Quality gate: {verdict}", ""]
    if not gate.checks:
        return [*lines, "No thresholds set in `params.yaml` → `gate`.", ""]
    lines += [f"- {'✅' if check.passed else '❌'} {check.text}" for check in gate.checks]
    return [*lines, ""]


def params_section(inputs: ReportInputs) -> list[str]:
    lines = ["### Params changed", ""]
    if inputs.base is None or inputs.base.params is None:
        return [*lines, "No base params to compare with.", ""]
    changed = params_changes(inputs.base.params, inputs.head.params or {})
    if not changed:
        return [*lines, "No params changed.", ""]
    lines += ["| param | base | this PR |", "|---|---|---|"]
    lines += [f"| `{key}` | {cell(old)} | {cell(new)} |" for key, old, new in changed]
    return [*lines, ""]


def params_changes(base: dict, head: dict) -> list[tuple[str, object, object]]:
    """(dotted key, base value, head value) for every leaf that differs; None = absent."""
    old, new = flat(base), flat(head)
    keys = sorted(old | new)
    return [(key, old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)]


def flat(data: dict, prefix: str = "") -> dict[str, object]:
    items: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            items |= flat(value, f"{prefix}{key}.")
        else:
            items[f"{prefix}{key}"] = value
    return items


def cell(value: object) -> str:
    if value is None:
        return "—"
    return "`" + json.dumps(value).replace("|", "\\|").replace("`", "'") + "`"


def charts_section(head: RunResults, changes: list[MetricChange], task: str) -> list[str]:
    lines = []
    curves = mermaid.learning_curves(head.history, task)
    if curves:
        lines += ["### Learning curves", "", *[f"{chart}\n" for chart in curves]]
    bars = mermaid.comparison(changes, task)
    if bars:
        lines += ["### Base vs this PR", "", bars, ""]
    return lines
