"""`ml <command>`: one command per module. Heavy libraries load inside each command, so
`ml --help` and `ml prepare` never pay TensorFlow's import time."""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings

import typer

from ml import evaluate, export, prepare, summary, train
from ml.deploy import command as deploy
from ml.errors import UserError
from ml.monitor import command as monitor
from ml.serve import command as serve

app = typer.Typer(
    help="Reproducible ML pipeline: prepare -> train -> evaluate -> export (ONNX).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def command(name: str, function) -> None:
    """Register `function` as `ml <name>`, printing user errors as one message and exit 1."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UserError as exc:
            logging.getLogger("ml").error("%s", exc)
            raise typer.Exit(code=1) from None

    app.command(name)(run)


@app.callback()
def configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug messages."),
) -> None:
    """Configure logging once for every command."""
    # TensorFlow's C++ start-up chatter drowns the pipeline's own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = logging.DEBUG if verbose else logging.INFO
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, markup=False, log_time_format="[%X]")
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        # CI logs and `dvc repro` output: one plain line per message, never wrapped.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%X"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("absl", "tensorflow", "tf2onnx", "h5py", "alembic", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Advice that does not apply here: uv environments have no pip to pin for MLflow.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module="keras")
    sys.stdout.reconfigure(line_buffering=True)


command("prepare", prepare.main)
command("train", train.main)
command("evaluate", evaluate.main)
command("export", export.main)
command("summary", summary.main)
command("serve", serve.main)
command("deploy", deploy.main)
command("monitor", monitor.main)
