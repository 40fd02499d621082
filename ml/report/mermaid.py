"""Charts as Mermaid `xychart-beta` blocks: GitHub draws them inside the comment itself, so they
need no image host and work in private repositories.

xychart-beta has no legend; each chart pins its series' colours with an init directive and names
them in the title ("loss (blue), val_loss (orange)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ml.results.compare import MetricChange

PALETTE = (("blue", "#1f6feb"), ("orange", "#e8730c"), ("green", "#2da44e"))
MAX_POINTS = 40  # more x labels than this crowd a comment-wide chart; longer curves are thinned


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    kind: str = "line"  # line | bar


def xychart(title: str, x_labels: Sequence[str], series: Sequence[Series], y_title: str) -> str:
    """A fenced ```mermaid block. Raises ValueError on series that do not fit the labels or hold
    non-finite numbers, which Mermaid would refuse to draw."""
    if not series or len(series) > len(PALETTE):
        raise ValueError(f"need 1 to {len(PALETTE)} series, got {len(series)}")
    for one in series:
        if len(one.values) != len(x_labels):
            raise ValueError(f"{one.name}: {len(one.values)} values for {len(x_labels)} labels")
        if not all(math.isfinite(value) for value in one.values):
            raise ValueError(f"{one.name}: not every value is a finite number")
    if len(series) > 1:
        title += ": " + ", ".join(
            f"{one.name} ({colour})" for one, (colour, _) in zip(series, PALETTE, strict=False)
        )
    palette = ", ".join(code for _, code in PALETTE[: len(series)])
    low, high = value_range([value for one in series for value in one.values])
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f"    title {quoted(title)}",
        f"    x-axis [{', '.join(quoted(label) for label in x_labels)}]",
        f"    y-axis {quoted(y_title)} {number(low)} --> {number(high)}",
        *(f"    {one.kind} [{', '.join(number(v) for v in one.values)}]" for one in series),
        "```",
    ]
    return "\n".join(lines)


def quoted(text: str) -> str:
    # Mermaid strings have no escape for a double quote or a line break: drop them.
    cleaned = " ".join(str(text).replace('"', "'").split())
    return f'"{cleaned}"'


def number(value: float) -> str:
    """Plain decimal notation: the grammar has no exponents (1e-05)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def value_range(values: Sequence[float]) -> tuple[float, float]:
    """A y range with a little headroom, not below 0 for positive data nor above 1 for
    fractions, so nearby values stay apart without inventing impossible ones."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or max(abs(high), 1.0) * 0.05
    start, end = low - pad, high + pad
    if low >= 0:
        start = max(start, 0.0)
    if low >= 0 and high <= 1:
        end = min(end, 1.0)
    return float(f"{start:.4g}"), float(f"{end:.4g}")


def thinned(count: int, limit: int = MAX_POINTS) -> list[int]:
    """At most `limit` evenly spread indices of `count`, always keeping the first and last."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def learning_curves(history: list[dict[str, float]], task: str) -> list[str]:
    """Loss, and accuracy (or RMSE), per epoch for training and validation data."""
    if not history:
        return []
    keep = thinned(len(history))
    epochs = [str(int(history[i]["epoch"])) for i in keep]
    charts = []
    metric = "accuracy" if task == "classification" else "rmse"
    for name in ("loss", metric):
        if name not in history[0] or f"val_{name}" not in history[0]:
            continue
        series = [Series(key, [history[i][key] for i in keep]) for key in (name, f"val_{name}")]
        if all(math.isfinite(v) for one in series for v in one.values):
            charts.append(xychart(f"{name} per epoch", epochs, series, name))
    return charts


def comparison(changes: list[MetricChange], task: str) -> str | None:
    """Bars for base and this PR, side by side per test metric (one unit per chart)."""
    wanted = ("accuracy", "f1_macro") if task == "classification" else ("rmse", "mae")
    pairs = [
        (c.name, c.base, c.head)
        for c in changes
        if c.name in wanted and c.verdict not in ("n/a", "new")
        if c.base is not None and c.head is not None  # implied by the verdict; said for mypy
    ]
    if not pairs:
        return None
    labels = [f"{name} {side}" for name, _, _ in pairs for side in ("base", "PR")]
    values = [value for _, base, head in pairs for value in (base, head)]
    title = "Test metrics, base commit vs this PR"
    unit = "score" if task == "classification" else "error, target units"
    return xychart(title, labels, [Series("test set", values, kind="bar")], unit)
