"""PNG versions of the report's charts, drawn offline with matplotlib, for upload as a workflow
artifact (the Mermaid charts in the comment need no files; these are for slides and archives)."""

from __future__ import annotations

import math
from pathlib import Path

from ml.io import atomic_dir
from ml.results.compare import MetricChange
from ml.results.run import RunResults, confusion_matrix

DPI = 110  # ~700 px wide at the sizes below: sharp on screen, a few tens of KiB each


def write_charts(
    out_dir: Path, head: RunResults, changes: list[MetricChange], task: str
) -> list[Path]:
    """Draw every chart the data allows into `out_dir` (replaced as a whole); return the files."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend state

    def figure(width: float, height: float):  # inches
        # Laid out once while drawing; savefig's bbox_inches="tight" would draw twice.
        return Figure(figsize=(width, height), layout="constrained")

    drawings = {
        "learning_curves.png": lambda: learning_curves(figure(9, 3.6), head, task),
        "comparison.png": lambda: comparison(figure(6, 3.6), changes, task),
        "confusion_matrix.png": lambda: confusion(figure(6, 5.4), head),
        "predictions.png": lambda: predictions(figure(5, 5), head),
    }
    with atomic_dir(out_dir) as tmp:
        for name, draw in drawings.items():
            drawn = draw()
            if drawn is not None:
                drawn.savefig(tmp / name, dpi=DPI)
    return sorted(out_dir.glob("*.png"))


def learning_curves(figure, head: RunResults, task: str):
    history = head.history
    metric = "accuracy" if task == "classification" else "rmse"
    names = [
        n for n in ("loss", metric) if history and n in history[0] and f"val_{n}" in history[0]
    ]
    if not names:
        return None
    epochs = [row["epoch"] for row in history]
    for position, name in enumerate(names, start=1):
        axes = figure.add_subplot(1, len(names), position)
        for key in (name, f"val_{name}"):
            axes.plot(epochs, [row[key] for row in history], label=key)
        axes.set(xlabel="epoch", title=f"{name} per epoch")
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def comparison(figure, changes: list[MetricChange], task: str):
    wanted = ("accuracy", "f1_macro") if task == "classification" else ("rmse", "mae", "r2")
    pairs = [c for c in changes if c.name in wanted and c.verdict not in ("n/a", "new")]
    if not pairs:
        return None
    axes = figure.add_subplot()
    positions = range(len(pairs))
    for offset, label, values in (
        (-0.2, "base", [c.base for c in pairs]),
        (0.2, "this PR", [c.head for c in pairs]),
    ):
        bars = axes.bar([p + offset for p in positions], values, width=0.4, label=label)
        # Bars start at zero; the printed values carry differences too small to see.
        axes.bar_label(bars, fmt="%.4f", fontsize=8)
    axes.set_xticks(list(positions), [c.name for c in pairs])
    axes.set(title="Test metrics: base commit vs this PR")
    axes.margins(y=0.12)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)
    return figure


def confusion(figure, head: RunResults):
    if head.task != "classification" or not head.predictions:
        return None
    labels, counts = confusion_matrix(head)
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = list(range(len(labels)))
    axes.set_xticks(ticks, labels, rotation=90 if len(labels) > 12 else 0)
    axes.set_yticks(ticks, labels)
    axes.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test set)")
    if len(labels) <= 20:  # numbers in the cells stay legible up to about this size
        peak = max(max(row) for row in counts) or 1
        for row, line in enumerate(counts):
            for column, count in enumerate(line):
                colour = "white" if count > peak / 2 else "black"
                axes.text(column, row, count, ha="center", va="center", color=colour)
    return figure


def predictions(figure, head: RunResults):
    if head.task != "regression" or not head.predictions:
        return None
    pairs = [(float(a), float(p)) for a, p in head.predictions]
    pairs = [(a, p) for a, p in pairs if math.isfinite(a) and math.isfinite(p)]
    if not pairs:
        return None
    actual, predicted = zip(*pairs, strict=True)
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=12, alpha=0.7)
    low, high = min(actual + predicted), max(actual + predicted)
    axes.plot([low, high], [low, high], color="grey", linewidth=1, label="perfect")
    axes.set(xlabel="actual", ylabel="predicted", title="Test set: predicted vs actual")
    axes.legend()
    return figure
