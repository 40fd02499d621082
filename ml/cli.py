"""`ml <command>`: one command per module, each imported only when it runs.

`ml train` must not pay for pandas and pandera (prepare's libraries) any more than `ml --help`
pays for TensorFlow: every import here costs each pipeline stage its time again.
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand, TyperGroup

from ml import options
from ml.deferred_imports import defer_keras_extras
from ml.errors import UserError

if TYPE_CHECKING:
    # Typer carries its own copy of click: a group's methods take and return its classes, not
    # those of the click package.
    from typer._click import Command, Context

# command name -> module whose `main` implements it
COMMANDS = {
    "prepare": "ml.prepare",
    "train": "ml.train",
    "evaluate": "ml.evaluate",
    "export": "ml.export",
    "summary": "ml.summary",
    "serve": "ml.serve.command",
    "deploy": "ml.deploy.command",
    "monitor": "ml.monitor.command",
    "gate": "ml.gate",
    "report": "ml.report.command",
    "tune": "ml.tune.command",
    "remediate": "ml.tune.remediate",
    "push-params": "ml.tune.push",
    "gpu-check": "ml.gpu.check",
    "route": "ml.route",
    "overrides": "ml.pipeline.overrides",
    "repro": "ml.pipeline.repro",
    "experiment": "ml.pipeline.experiment",
    "pull-request": "ml.github.pull_request",
    "dvc-remote": "ml.pipeline.remote",
}


class LazyCommands(TyperGroup):
    """Commands are built from their module on first use (help output lists them all)."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, name: str) -> Command | None:
        if name not in COMMANDS:
            return None
        defer_keras_extras()  # before the command's module, which may import Keras
        module = importlib.import_module(COMMANDS[name])
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name, cls=RefusingOldSpellings)(reporting_user_errors(module.main))
        return typer.main.get_command(single)


class RefusingOldSpellings(TyperCommand):
    """An old spelling (options.RENAMED, options.POSITIONAL_MOVED), on the command line or as a
    renamed action input passed in the environment, is a usage error (exit 2) that names the new
    one. Checked before parsing, with the option values set aside, so that `--set --model` (a
    value) is not taken for the old option."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        problem = options.renamed_input_message(self.name or "", os.environ)
        problem = problem or self.old_spelling(args)
        if problem and not ctx.resilient_parsing:
            ctx.fail(problem)
        return super().parse_args(ctx, args)

    def old_spelling(self, args: list[str]) -> str | None:
        name = self.name or ""
        takes_value = {
            spelling
            for param in self.params
            if param.param_type_name == "option" and not getattr(param, "is_flag", False)
            for spelling in param.opts
        }
        positional = []
        words = iter(args)
        for word in words:
            if word == "--":
                break
            flag, has_value, _ = word.partition("=")
            if message := options.renamed_message(name, flag):
                return message
            if flag in takes_value and not has_value:
                next(words, None)
            elif not word.startswith("-"):
                positional.append(word)
        if positional and name in options.POSITIONAL_MOVED:
            return f"{' '.join(positional)}: {options.POSITIONAL_MOVED[name]}"
        return None


def reporting_user_errors(function):
    """User errors (bad params, bad data, failed verification) become one message and exit 1."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UserError as exc:
            logging.getLogger("ml").error("%s", exc)
            raise typer.Exit(code=1) from None

    return run


app = typer.Typer(
    cls=LazyCommands,
    help="Reproducible ML pipeline: prepare -> train -> export (ONNX) -> evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug messages."),
) -> None:
    """Configure logging once for every command."""
    # TensorFlow's C++ start-up chatter drowns the pipeline's own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
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
    # Printed lines reach a pipe (dvc repro, CI) as they are written; a stream put in place of
    # stdout by the caller is left as it is.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
