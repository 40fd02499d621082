"""summary: what `make run` produced and what to do next, read from the metric files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ml.io import read_json
from ml.options import METRICS_DIR, MetricsDir
from ml.tracking import DEFAULT_TRACKING_URI

HEADLINE = ("accuracy", "f1_macro", "rmse", "mae", "r2")


def render(metrics_dir: Path, models_dir: Path, console: Console) -> None:
    evaluate = read_json(metrics_dir / "evaluate.json")
    train = read_json(metrics_dir / "train.json")
    export = read_json(metrics_dir / "export.json")
    console.print(f"Test metrics ({evaluate['task']}, {evaluate['test_rows']} held-out rows)")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in HEADLINE:
        if name in evaluate:
            table.add_row(name, f"{evaluate[name]:.4f}")
    console.print(table)
    resumed = train["resumed_from_epoch"]
    lines = [
        f"Training  {train['epochs_run']} epochs, best at epoch {train['best_epoch']}, "
        f"{train['train_seconds']} s"
        + (f", resumed from epoch {resumed}" if resumed is not None else ""),
        f"Device    {describe_device(train.get('gpu'))}",
        f"Keras     {models_dir / 'model.keras'}",
        f"ONNX      {models_dir / 'model.onnx'} ({export['size_bytes'] / 1024:.0f} KiB), "
        f"verified on {export['test_rows']} test rows",
        f"          max |diff| {export['max_abs_diff']:.1e}, label flips {export['label_flips']}, "
        f"{export['latency']['single_row_p50_ms']:.3f} ms/row",
        f"MLflow    run {train['mlflow_run_id'][:12]} in {DEFAULT_TRACKING_URI}",
        "          browse it: make mlflow-ui, then http://127.0.0.1:5000",
        "",
        "Next (after `source .venv/bin/activate`):",
        "  dvc exp run -S train.epochs=3    try a change as an experiment",
        "  dvc exp show                     compare experiments",
        "  dvc metrics show                 the metrics above, from the files",
        "  dvc plots show                   learning curves and confusion matrix",
        "  your own CSV: README.md, 'Bringing your own CSV'",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def describe_device(gpu: dict | None) -> str:
    """One line on where training ran, from the `gpu` record of metrics/train.json."""
    if not gpu:
        return "not recorded"
    options = [name for name in ("mixed_precision",) if gpu.get(name)]
    options += [f"{gpu['strategy']} strategy"] if gpu.get("strategy") == "mirrored" else []
    where = f"{gpu['count']} GPU(s): {', '.join(gpu['names'])}" if gpu.get("used") else "CPU"
    problems = f"; GPU problems: {'; '.join(gpu['problems'])}" if gpu.get("problems") else ""
    return where + (f" ({', '.join(options)})" if options else "") + problems


def main(
    metrics_dir: MetricsDir = METRICS_DIR,
    models: Annotated[Path, typer.Option(help="Directory holding the models.")] = Path("models"),
) -> None:
    """Print the pipeline's results and where to go next."""
    missing = [
        name
        for name in ("train", "evaluate", "export")
        if not (metrics_dir / f"{name}.json").exists()
    ]
    if missing:
        from ml.errors import UserError

        raise UserError(f"no results yet ({', '.join(missing)} missing): run `dvc repro` first")
    render(metrics_dir, models, Console())
