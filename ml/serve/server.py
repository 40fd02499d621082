"""The service's processes: gunicorn's arbiter with uvicorn workers (uvicorn-worker).

The parent imports the web stack once and forks the workers, so N workers are ready about as
soon as one (uvicorn's own --workers starts a fresh interpreter per worker, each importing
everything again). onnxruntime is not imported in the parent (its import starts a thread, which
a fork would not carry over): each worker imports it and loads the model after the fork. The
arbiter restarts a worker that dies and, on SIGTERM, lets in-flight requests finish for
`serve.graceful_timeout_seconds` before it stops them.
"""

from __future__ import annotations

import logging
import os
import sys

from gunicorn.app.base import BaseApplication

from ml.config import ServeParams

log = logging.getLogger("ml.serve")

WORKER_BOOT_ERROR = 3  # gunicorn's exit status for a worker that cannot start: stops the arbiter


class ServiceApplication(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Called in each worker after the fork."""
        from ml.serve.app import create_app
        from ml.serve.model import ModelLoadError

        try:
            return create_app()
        except ModelLoadError as exc:
            log.error("%s", exc)  # one line, no traceback: the file is the user's to fix
            sys.exit(WORKER_BOOT_ERROR)


def run(params: ServeParams) -> int:
    """Serve until stopped; the arbiter's exit status (0 after a graceful stop)."""
    import ml.serve.app  # noqa: F401 - imported once here, shared by every forked worker

    options = {
        "bind": f"{params.host}:{params.port}",
        "workers": params.workers,
        "worker_class": "uvicorn_worker.UvicornWorker",
        "graceful_timeout": round(params.graceful_timeout_seconds),  # whole seconds
        "keepalive": 5,  # seconds an idle keep-alive connection stays open
        "accesslog": None,  # one log line per request would cost more than the model
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": f"runwright-serve-{params.model_name}",
        # No control socket in the user's home: several services would share one path.
        "control_socket_disable": True,
    }
    from gunicorn.errors import HaltServer

    parent = os.getpid()
    try:
        ServiceApplication(options).run()
    except HaltServer as halt:  # raised again while halting when several workers fail to boot
        return int(halt.exit_status)
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
        if os.getpid() != parent:
            # A forked worker ends by raising SystemExit through the stack it inherited from
            # the parent: leave here, before the parent's cleanup code runs in the worker.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        return status
    return 0
