"""`ml serve`: the inference service, several worker processes behind one port, with a
graceful shutdown (see ml/serve/server.py for how the processes are run).

`ml serve` hands over to `python -m ml.serve` with the same options, so the service runs in an
interpreter that has imported nothing of the pipeline (pandas, scikit-learn...): it starts
sooner and forks lighter workers. Each worker loads and verifies the model itself; a file that
cannot be served stops the service with the reason, before it answers anything.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from ml import options
from ml.config import ServeParams, load_params
from ml.errors import UserError
from ml.serve.settings import Settings

log = logging.getLogger("ml.serve")

APP = "ml.serve.app:create_app"
DEFAULT_PARAMS = options.PARAMS  # its `serve` section sets the defaults; optional in the image


def main(
    model: Annotated[
        Path, options.model_file("ONNX model to serve (exported by `ml export`).")
    ] = Path("models/model.onnx"),
    params_path: options.ParamsFile = DEFAULT_PARAMS,
    name: Annotated[
        str | None, typer.Option(help="Model name in the URLs; default: serve.model_name.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    samples: Annotated[
        Path | None,
        options.samples_dir("Directory for sampled inputs, read by `ml monitor`; unset: none."),
    ] = None,
) -> None:
    """Serve the ONNX model over HTTP (Open Inference Protocol v2, KServe v1, a web page)."""
    params = serve_params(params_path)
    overrides = {"model_name": name, "host": host, "port": port, "workers": workers}
    params = ServeParams.model_validate(
        params.model_dump() | {key: value for key, value in overrides.items() if value}
    )
    if not model.is_file():
        raise UserError(f"{model}: no model file to serve; run `dvc repro` first")
    if "ml.cli" in sys.modules and "serve" in sys.argv:  # started as `ml serve`: hand over
        arguments = sys.argv[sys.argv.index("serve") + 1 :]
        os.execv(sys.executable, [sys.executable, "-m", "ml.serve", *arguments])
    settings = settings_for(params, model, samples)
    log.info(
        "Serving %s from %s on http://%s:%d/ with %d worker(s)",
        params.model_name,
        model,
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
    with metrics_directory():
        settings.to_environment()
        try:
            from ml.serve import server
        except ImportError:  # no gunicorn (Windows): uvicorn's own, slower-starting workers
            run_uvicorn(params)
            return
        status = server.run(params)
    if status == server.WORKER_BOOT_ERROR:
        raise UserError(f"{settings.model_path}: the service could not start (see above)")
    if status:
        raise UserError(f"the service stopped with status {status}")


def run_uvicorn(params: ServeParams) -> None:
    import uvicorn

    uvicorn.run(
        APP,
        factory=True,
        host=params.host,
        port=params.port,
        workers=params.workers,
        access_log=False,
        # uvicorn annotates this as int but hands it to asyncio.wait_for, which takes any
        # number of seconds.
        timeout_graceful_shutdown=params.graceful_timeout_seconds,  # type: ignore[arg-type]
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
    owner = os.getpid()
    try:
        yield
    finally:
        if os.getpid() == owner:  # never from a forked worker
            shutil.rmtree(directory, ignore_errors=True)


def log_config() -> dict:
    """uvicorn's logging, extended to the service's own logger (model reloads) in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ml"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def cli() -> None:
    """`python -m ml.serve`: the same command without the rest of the `ml` CLI."""
    # NumPy only handles small arrays here; BLAS threads would compete with the workers.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(main)
    try:
        app(prog_name="python -m ml.serve", standalone_mode=False)
    except UserError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
