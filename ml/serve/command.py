"""`ml serve`: the inference service under uvicorn, with several workers and a graceful shutdown.

The model is loaded and verified here first, so a bad file fails with one clear message before
any worker starts. Workers are fresh interpreters (uvicorn spawns them); they find their
settings in the environment and each loads the model itself.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from ml.config import ServeParams, load_params
from ml.serve.settings import Settings

log = logging.getLogger("ml.serve")

APP = "ml.serve.app:create_app"
DEFAULT_PARAMS = Path("params.yaml")


def main(
    model: Annotated[Path, typer.Option(help="ONNX model to serve (exported by `ml export`).")] = (
        Path("models/model.onnx")
    ),
    params_path: Annotated[
        Path, typer.Option("--params", help="Params file; its `serve` section sets the defaults.")
    ] = DEFAULT_PARAMS,
    name: Annotated[
        str | None, typer.Option(help="Model name in the URLs; default: serve.model_name.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    samples: Annotated[
        Path | None,
        typer.Option(help="Directory for sampled inputs, read by `ml monitor`; unset: none."),
    ] = None,
) -> None:
    """Serve the ONNX model over HTTP (Open Inference Protocol v2, KServe v1, a web page)."""
    params = serve_params(params_path)
    overrides = {"model_name": name, "host": host, "port": port, "workers": workers}
    params = ServeParams.model_validate(
        params.model_dump() | {key: value for key, value in overrides.items() if value}
    )
    settings = settings_for(params, model, samples)
    from ml.serve.model import load

    loaded = load(settings.model_path, settings.threads_per_worker)
    log.info(
        "Serving %s version %s (%s) on http://%s:%d/ with %d worker(s)",
        params.model_name,
        loaded.version,
        loaded.task,
        params.host,
        params.port,
        params.workers,
    )
    run(settings, params)


def serve_params(path: Path) -> ServeParams:
    """The `serve` section; its defaults when the default params file does not exist (the
    serving image has none)."""
    if path == DEFAULT_PARAMS and not path.exists():
        return ServeParams()
    return load_params(path).serve


def settings_for(params: ServeParams, model: Path, samples: Path | None) -> Settings:
    return Settings(
        model_path=str(model.resolve()),
        model_name=params.model_name,
        threads_per_worker=params.threads_per_worker,
        max_batch_rows=params.max_batch_rows,
        max_body_bytes=params.max_body_bytes,
        reload_interval_seconds=params.reload_interval_seconds,
        sample_dir=str(samples.resolve()) if samples else None,
        sample_every=params.sample_every,
        sample_max_bytes=params.sample_max_bytes,
    )


def run(settings: Settings, params: ServeParams) -> None:
    import uvicorn

    with metrics_directory():
        settings.to_environment()
        uvicorn.run(
            APP,
            factory=True,
            host=params.host,
            port=params.port,
            workers=params.workers,
            access_log=False,  # one log line per request would cost more than the model
            timeout_graceful_shutdown=params.graceful_timeout_seconds,
            log_config=log_config(),
        )


@contextlib.contextmanager
def metrics_directory() -> Iterator[None]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this run (workers add up their counters there),
    unless the environment names one already."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="runwright-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def log_config() -> dict:
    """uvicorn's logging, extended to the service's own logger (model reloads) in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ml"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def cli() -> None:
    """`python -m ml.serve`: the same command without the rest of the `ml` CLI."""
    from ml.errors import UserError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(main)
    try:
        app(prog_name="python -m ml.serve", standalone_mode=False)
    except UserError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
